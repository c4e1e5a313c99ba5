"""The gateway: the one public HTTP entry point.

Hosts the channel webhooks and /health, runs database migrations on start, and hands every
message to bot.core.pipeline. Run with `python -m gateway.app` (the stack runner does this).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from functools import lru_cache

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bot import workspace
from bot.core import danger_model, health, metrics
from bot.core.channel import Channel
from bot.core.delivery import Delivery
from bot.core.pipeline import Pipeline
from bot.core.rasa_client import RasaClient
from bot.settings import Settings, get_settings
from bot.storage import crypto, retention
from bot.storage.db import engine_for, migrate, session_factory
from connectors import rest, telegram, whatsapp
from gateway import privacy
from gateway.limits import BodyLimit
from langtools import langid

log = logging.getLogger(__name__)


async def _retry_loop(pipeline: Pipeline, every_s: float = 5.0) -> None:
    """Messages kept while Rasa was down are answered once it is back."""
    while True:
        await asyncio.sleep(every_s)
        try:
            if await pipeline.retry_pending():
                log.info("answered messages kept during an outage")
        except Exception:  # keep retrying; the next round logs again if it still fails
            log.exception("retrying pending messages failed")


def _channels(settings: Settings) -> dict[str, Channel]:
    """The push channels switched on by the settings, by name."""
    channels: dict[str, Channel] = {}
    if settings.telegram_enabled:
        channels["telegram"] = telegram.TelegramChannel.from_settings(settings)
    if settings.whatsapp_enabled:
        channels["whatsapp"] = whatsapp.WhatsAppChannel.from_settings(settings)
    return channels


def _may_scrape(request: Request, token: str) -> bool:
    if token:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        return hmac.compare_digest(given.encode(), token.encode())
    host = request.client.host if request.client else ""
    return host in ("127.0.0.1", "::1", "localhost")


def _sync_content(engine) -> None:
    """The repository's YAML into the published content (knowledge/content.py `sync`): all
    of it into a fresh database, later what changed in the repository. Never stops the
    gateway: with broken YAML the published content goes on being served."""
    from knowledge import content
    from knowledge.store import LoadError

    try:
        kb, problems = _repository_content(_yaml_signature())
        if problems:
            raise content.Invalid(problems)
        done = content.sync(engine, kb, checked=True)
    except (LoadError, content.Invalid) as exc:
        log.error("the knowledge YAML has errors; the published content is kept: %s", exc)
        return
    if done:
        log.info("published from the repository's YAML: %d items", len(done))


def _yaml_signature() -> tuple:
    from knowledge.store import ROOT

    files = sorted(ROOT.glob("entries/*/*.yml")) + sorted(ROOT.glob("services/*.yml"))
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


@lru_cache(maxsize=1)
def _repository_content(signature: tuple):
    """The YAML knowledge base and its validator errors, read again only when a file
    changed (tests start many apps)."""
    from knowledge.store import load
    from knowledge.validate import check

    kb = load()
    return kb, check(kb).problems


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        crypto.use_keys(settings.data_keys or None)  # before migrating: 0004 encrypts with them
        migrate(settings.database_url)
        engine = engine_for(settings.database_url)
        await asyncio.to_thread(_sync_content, engine)
        # the danger screen's model (and the encoder every message needs) and the language
        # detector's tables before the first woman writes: loading takes seconds, and her
        # first message must not wait for it
        await asyncio.to_thread(danger_model.model)
        await asyncio.to_thread(langid.warm)
        metrics.use_engine(engine)
        rasa = RasaClient(settings.rasa_url, settings.rasa_timeout_s)
        app.state.settings, app.state.engine, app.state.rasa = settings, engine, rasa
        app.state.workspace_chores = asyncio.create_task(workspace.background(app))
        sessions = session_factory(engine)
        channels = _channels(settings)
        # the webhook routes find their channel here (None: that webhook answers 404)
        app.state.telegram, app.state.whatsapp = channels.get("telegram"), channels.get("whatsapp")
        app.state.delivery = delivery = Delivery(settings, sessions, channels)
        app.state.pipeline = Pipeline(
            settings,
            sessions,
            rasa,
            on_queued=delivery.wake,
            send_now=delivery.deliver_now,
            send_claimed=delivery.send_claimed,
        )
        tasks = [
            asyncio.create_task(_retry_loop(app.state.pipeline)),
            asyncio.create_task(delivery.run()),
        ]
        # her data is deleted RETENTION_DAYS after her last message (bot/storage/retention.py)
        tasks.append(asyncio.create_task(retention.run_every(engine, settings.retention_days)))
        for channel in channels.values():
            await channel.start(app.state.pipeline, delivery.wake)
        yield
        app.state.workspace_chores.cancel()
        for task in tasks:
            task.cancel()
        await delivery.close()  # stops every channel
        await rasa.close()

    # the schema and docs pages are served by bot/workspace/apidocs.py, not to the public
    app = FastAPI(
        title="Orientation bot gateway",
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )

    @app.get("/metrics", include_in_schema=False)
    async def get_metrics(request: Request):
        """Prometheus metrics (bot/core/metrics.py). With METRICS_TOKEN set, only with
        `Authorization: Bearer <token>`; without it, only from this machine (loopback)."""
        if not _may_scrape(request, settings.metrics_token):
            return JSONResponse({"error": "not allowed"}, status_code=403)
        body = await asyncio.to_thread(metrics.exposition)
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @app.get("/health", responses={503: {"description": "a component is not ready"}})
    async def get_health():
        body = await health.check(app.state.engine, app.state.rasa, settings.action_server_url)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    app.include_router(rest.router)
    app.include_router(privacy.router)  # the privacy notice, in every first language
    workspace.install(app)  # counsellor pages under /workspace, JSON API under /api/v1
    app.include_router(telegram.router)
    app.include_router(whatsapp.router)
    # outermost: no route reads more than its limit (413); the workspace and API: the default
    app.add_middleware(
        BodyLimit,
        limits={
            "/webhooks/rest/": rest.MAX_BODY_BYTES,
            "/webhooks/telegram": telegram.MAX_BODY_BYTES,
            "/webhooks/whatsapp": whatsapp.MAX_BODY_BYTES,
        },
    )
    # X-Forwarded-For / -Proto count only from TRUSTED_PROXIES (uvicorn's own proxy handling
    # is off in main()): a client cannot pick its address, say to dodge the login lock
    if settings.trusted_proxies:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    return app


def main() -> None:
    import uvicorn

    settings = get_settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request's URL at INFO, and Telegram's URLs carry the bot's token
    logging.getLogger("httpx").setLevel(logging.WARNING)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,  # trusted only from TRUSTED_PROXIES, in create_app
    )


if __name__ == "__main__":
    main()
