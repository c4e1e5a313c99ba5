"""The gateway's database: engine and migrations (db.py), tables (models.py), message
statuses and their transitions (status.py)."""
