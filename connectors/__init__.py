"""Channels: each turns a platform's webhook into pipeline Inbound messages and sends replies
back in the platform's format. REST (Rasa-compatible) lives here too."""
