"""GET /privacy: the privacy notice the bot gives in the chat, in every first language, as a
plain page anyone can open (no login, no script, nothing stored about who reads it)."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from common import texts
from common.vocab import LANGUAGES

router = APIRouter()
RIGHT_TO_LEFT = {"ar", "fa", "prs", "ur"}


@router.get("/privacy", response_class=HTMLResponse)
def privacy_page(request: Request) -> HTMLResponse:
    days = str(request.app.state.settings.retention_days)
    sections = "\n".join(
        f'<p lang="{lang}" dir="{"rtl" if lang in RIGHT_TO_LEFT else "ltr"}">'
        f"{escape(texts.text('utter_privacy_notice', lang, days=days))}</p>"
        for lang in LANGUAGES
    )
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Privacy</title></head><body><main><h1>Privacy</h1>\n"
        f"{sections}\n</main></body></html>"
    )
    return HTMLResponse(
        page, headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    )
