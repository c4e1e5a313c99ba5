"""The languages the bot serves, with each one's name in itself (for the language menu).

The one definition: the gateway, the action server, the Rasa components, the knowledge base
and the workspace all read it from here (common/vocab.py re-exports it for the project).
"""

from __future__ import annotations

SUPPORTED = ("en", "da", "ar", "so", "uk", "fa", "prs", "ur", "tr", "ti")
NAMES = {
    "en": "English",
    "da": "Dansk",
    "ar": "العربية",
    "so": "Soomaali",
    "uk": "Українська",
    "fa": "فارسی",
    "prs": "دری",
    "ur": "اردو",
    "tr": "Türkçe",
    "ti": "ትግርኛ",
}
# each one's name in English, for staff (the workspace, its plots, reasons it gives)
ENGLISH = {
    "en": "English",
    "da": "Danish",
    "ar": "Arabic",
    "so": "Somali",
    "uk": "Ukrainian",
    "fa": "Farsi",
    "prs": "Dari",
    "ur": "Urdu",
    "tr": "Turkish",
    "ti": "Tigrinya",
}
