"""Every word the workspace can show has its Danish translation (bot/workspace/i18n.py):
the templates' strings (as Babel extracts them), the words for codes (labels), the notices
after a form and the script's words. A string added in English without its Danish fails
here, naming it."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.workspace import i18n, labels
from bot.workspace.web import NOTICES

TEMPLATES = Path(i18n.__file__).resolve().parent / "templates"
PO = i18n.LOCALE / "da" / "LC_MESSAGES" / "messages.po"


def catalogue():
    with PO.open("rb") as f:
        return read_po(f, locale="da")


def template_strings() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        str(TEMPLATES), method_map=[("**.html", "jinja2")], options_map={"**.html": {}}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def shown_strings() -> set[str]:
    words = set(template_strings())
    for table in (labels.TOPICS, labels.PRIORITIES, labels.STATUSES, labels.OUTCOMES, labels.ROLES):
        words |= set(table.values())
    words |= set(labels.LANGUAGES.values()) | set(labels.DELIVERY.values()) - {""}
    words |= set(NOTICES.values()) | set(i18n.JS_STRINGS)
    return words


def test_the_templates_are_written_for_translation():
    assert len(template_strings()) > 343  # every page, not a sample


def test_every_string_shown_has_a_danish_translation():
    cat = catalogue()
    missing = sorted(s for s in shown_strings() if not (cat.get(s) and cat.get(s).string))
    assert not missing, f"{len(missing)} strings without Danish: {missing[:20]}"
    fuzzy = sorted(m.id for m in cat if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy (unchecked) translations: {fuzzy[:20]}"


def test_a_page_in_danish_says_what_it_says_in_danish():
    t = i18n.translations("da")
    assert t.gettext("Queue") == "Kø"
    assert t.gettext(labels.STATUSES["waiting"]) == "Venter"
    assert i18n.translations("en").gettext("Queue") == "Queue"


def refusals() -> set[str]:
    """The fixed messages and titles the workspace's Python shows on an error page or the
    login form: `Refused(status, "...", "...")` and `_login_form(request, "...", ...)`."""
    import ast

    found = set()
    for path in (TEMPLATES.parent).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("Refused", "_login_form"):
                found |= {
                    a.value
                    for a in node.args[1:3]
                    if isinstance(a, ast.Constant) and isinstance(a.value, str) and a.value
                }
    return found


def test_every_fixed_refusal_has_a_danish_translation():
    cat = catalogue()
    found = refusals()
    assert "Your account does not have access to this page." in found and len(found) > 30
    missing = sorted(s for s in found if not (cat.get(s) and cat.get(s).string))
    assert not missing, missing
