"""The workspace's interface language, chosen per user (`users.ui_language`): English, the
templates' own text, or Danish, from the gettext catalogue
bot/workspace/locale/da/LC_MESSAGES/messages.po (read with Babel when the gateway starts; no
compile step). Counsellors work in Denmark; the catalogue is how a further language is added.

- Templates: Jinja2's i18n extension, `{% trans %}...{% endtrans %}` and `_("...")`; one
  template environment per language (bot/workspace/web.py `page`).
- Words for codes (bot/workspace/labels.py) and the notices after a form (web.py NOTICES)
  are English msgids, translated where a template shows them: `_(labels.TOPICS[c.topic])`.
- The script's words (static/workspace.js, `JS_STRINGS`) reach it translated in the page's
  `data-l10n`.

tests/unit/test_workspace_i18n.py checks that every string a template, the labels, the
notices and the script can show has a Danish translation.
"""

from __future__ import annotations

import gettext
import io
import json
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parent / "locale"
UI_LANGUAGES = {"en": "English", "da": "Dansk"}
DEFAULT = "en"
COOKIE = "ws_ui"  # the login page's language, before anyone is logged in

# what static/workspace.js writes into the page itself
JS_STRINGS = (
    "Emergency",
    "High",
    "Normal",
    "Waiting",
    "Claimed",
    "In conversation",
    "Resolved",
    "No contact",
    "Expired",
    "waiting to be sent",
    "sending",
    "sent",
    "delivered",
    "read",
    "NOT DELIVERED",
    "HELD: her 24-hour window is closed; sent when she writes again",
    "stored",
    "waiting for the bot",
    "waited long",
    "a woman counsellor",
    "may be contacted later",
    "you",
    "Claim",
    "Open",
    "min",
    "she waits for an answer:",
    "write in",
    "No cases here right now.",
    "New case",
    "new cases",
    "waiting · updates every few seconds",
    "Queue · Counsellor workspace",
    "She wrote",
    "Counsellor",
    "Bot",
    "Bot · emergency numbers",
    "Bot · “your counsellor has your message”",
    "while held",
    "while held · not answered",
    "EMERGENCY: new case",
    "Case",
    "Priority",
    "Language",
    "Topic",
    "Her wishes",
    "Status",
    "Action",
)


def choose(code: str | None) -> str:
    return code if code in UI_LANGUAGES else DEFAULT


@cache
def translations(code: str) -> gettext.NullTranslations:
    """The catalogue of one interface language (English: the msgids themselves)."""
    code = choose(code)
    po = LOCALE / code / "LC_MESSAGES" / "messages.po"
    if code == DEFAULT or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=code)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def js_strings(code: str) -> str:
    """The script's words in one language, as JSON for the page's data-l10n."""
    t = translations(code)
    return json.dumps({s: t.gettext(s) for s in JS_STRINGS}, ensure_ascii=False)
