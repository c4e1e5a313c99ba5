"""What the gateway and the action server share (Python 3.11): the contract between them
(contracts.py), the bot's own texts from domain.yml (texts.py), the fixed vocabularies
(vocab.py) and time helpers (clock.py). Imports only langtools from the project."""
