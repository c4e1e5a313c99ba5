"""The inline markup the bot's answers carry, and nothing more.

The knowledge base marks Danish official terms `*sundhedskort*` (knowledge/README.md), shown
in italics; `**text**` is bold. A mark may touch a word outside it (Arabic "و*kommune*",
Danish "*kommune*n"); an asterisk between digits ("5*3*2"), with a space inside it or without a
partner is plain text. Each channel renders it its own way
(connectors/): Telegram as HTML, WhatsApp with its own `_italic_` and `*bold*`, REST as it is
or as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_INNER = r"[^\s*](?:[^*\n]*?[^\s*])?"
_MARK = re.compile(rf"(?<![\d*])(?:\*\*(?P<b>{_INNER})\*\*|\*(?P<i>{_INNER})\*)(?![\d*])")


def _same(text: str) -> str:
    return text


def render(
    text: str,
    *,
    italic: Callable[[str], str],
    bold: Callable[[str], str],
    plain: Callable[[str], str] = _same,
    inside_words: bool = True,
) -> str:
    """`text` with each marked span passed through `italic` or `bold`; `plain` is applied to
    all text, inside the marks too (e.g. HTML escaping). `inside_words=False`: a mark that
    touches a letter outside it is shown without its asterisks, unstyled (WhatsApp styles only
    marks standing apart)."""
    out, pos = [], 0
    for m in _MARK.finditer(text):
        out.append(plain(text[pos : m.start()]))
        touching = _word(text, m.start() - 1) or _word(text, m.end())
        if touching and not inside_words:
            out.append(plain(m.group("b") or m.group("i")))
        elif m.group("b") is not None:
            out.append(bold(plain(m.group("b"))))
        else:
            out.append(italic(plain(m.group("i"))))
        pos = m.end()
    out.append(plain(text[pos:]))
    return "".join(out)


def _word(text: str, i: int) -> bool:
    return 0 <= i < len(text) and (text[i].isalnum() or text[i] == "_")


def strip(text: str) -> str:
    """The text without its marks, for clients that show text as it is."""
    return render(text, italic=_same, bold=_same)
