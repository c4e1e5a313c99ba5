"""The gateway and action server of the orientation bot (Python 3.11)."""
