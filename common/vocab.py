"""The project's fixed vocabularies, defined once: languages served and referral topics.

Imported by every process (gateway, action server, tools); imports nothing from the project.
The knowledge base's own folders (knowledge/schema.py TOPICS) are a finer split of these
referral topics; actions/handoff.py maps one onto the other.
"""

from __future__ import annotations

from langtools.languages import SUPPORTED

LANGUAGES: tuple[str, ...] = SUPPORTED
SOURCE_LANGUAGES = ("en", "da")  # editors write these
TRANSLATED_LANGUAGES = tuple(x for x in LANGUAGES if x not in SOURCE_LANGUAGES)

# What a referral case is about: the handoff form's buttons, the counsellors' skills.
HANDOFF_TOPICS = (
    "violence",
    "health",
    "residence",
    "citizenship",
    "danish",
    "rights",
    "everyday",
    "other",
)
