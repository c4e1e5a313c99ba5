"""The API's schema and docs pages (`/openapi.json`, `/docs`, `/redoc`), not public.

In local mode they are served to a browser on this machine (a loopback peer, no proxy
between); `/openapi.json` also to an admin's API token, in any mode, for an NGO's own tools.
Everyone else gets 404. `app.openapi()` stays callable in-process (tests/fuzz uses it).
"""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from bot.workspace import auth
from bot.workspace.deps import client_address, db_session

router = APIRouter(include_in_schema=False)
FORWARDING = ("x-forwarded-for", "forwarded", "x-real-ip")
TITLE = "Orientation bot gateway"


def on_this_machine(request: Request) -> bool:
    settings = getattr(request.app.state, "settings", None)
    if settings is None or not settings.local:
        return False
    if any(name in request.headers for name in FORWARDING):
        return False  # came through a proxy: from anywhere
    try:
        return ipaddress.ip_address(client_address(request)).is_loopback
    except ValueError:
        return False


def _admin_token(request: Request, db: Session) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    user = auth.user_for_token(db, token.strip()) if scheme.lower() == "bearer" else None
    db.commit()
    return user is not None and user.role == "admin"


@router.get("/openapi.json")
def openapi(request: Request, db: Session = Depends(db_session)):
    if not (on_this_machine(request) or _admin_token(request, db)):
        return Response(status_code=404)
    return JSONResponse(request.app.openapi())


@router.get("/docs")
def docs(request: Request):
    if not on_this_machine(request):
        return Response(status_code=404)
    return get_swagger_ui_html(openapi_url="/openapi.json", title=TITLE)


@router.get("/redoc")
def redoc(request: Request):
    if not on_this_machine(request):
        return Response(status_code=404)
    return get_redoc_html(openapi_url="/openapi.json", title=TITLE)
