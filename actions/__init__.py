"""Custom actions for the Rasa server, served by rasa-sdk (Python 3.11):

    python -m actions.server --port 5055   (rasa-sdk, see actions/server.py)

rasa-sdk imports every module of this package and registers the Action classes in them.
The knowledge base and its index load when this package is imported, so the action server
is not up before it can answer.
"""
