"""The gateway process (Python 3.11): the one public HTTP entry point. `python -m gateway`."""
