"""Profiles and the shared gateway of the fuzzing suites.

FUZZ_PROFILE=bounded (the default, part of `make test`): a few hundred cases, the same ones on
every run (derandomised), so CI is repeatable. FUZZ_PROFILE=long (`make fuzz`): many times
more, random, with hypothesis's example database in var/hypothesis so that a failure found
once is tried first next time. Counts (cases per route and status, 5xx found) are written to
var/reports/fuzz-<profile>.json after each run.
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from bot.settings import VAR
from gateway.app import create_app
from tests.fuzz import world as fuzz_world
from tests.support.fake_rasa import FakeActions, FakeRasa
from tests.support.fake_telegram import FakeTelegram
from tests.support.fake_whatsapp import FakeWhatsApp
from tests.support.postgres import fresh_schema
from tests.support.servers import serve

PROFILE = os.environ.get("FUZZ_PROFILE", "bounded")
# examples per test: the schema suite runs each route with this many, the pipeline suite each
# of its properties
EXAMPLES = {"bounded": 12, "long": 400}
_quiet = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]
settings.register_profile(
    "bounded",
    max_examples=EXAMPLES["bounded"],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=_quiet,
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=EXAMPLES["long"],
    deadline=None,
    database=DirectoryBasedExampleDatabase(str(VAR / "hypothesis")),
    suppress_health_check=_quiet,
    print_blob=True,
)
if PROFILE not in EXAMPLES:
    raise pytest.UsageError(f"FUZZ_PROFILE must be one of {sorted(EXAMPLES)}, not {PROFILE!r}")
settings.load_profile(PROFILE)


@pytest.fixture(scope="session")
def fuzz_database(tmp_path_factory, request):
    """SQLite in a temporary folder, or with FUZZ_DATABASE=postgres a schema of its own on
    the test server, dropped afterwards."""
    if os.environ.get("FUZZ_DATABASE") != "postgres":
        yield f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'bot.db'}"
        return
    with fresh_schema(request.getfixturevalue("postgres_server_url"), "fuzz") as url:
        yield url


@pytest.fixture(scope="session")
def world(fuzz_database):
    yield from _world(fuzz_database, report=True)


@pytest.fixture
def pg_world(postgres_url):
    """A gateway of its own on PostgreSQL, for what only PostgreSQL refuses."""
    yield from _world(postgres_url)


def _world(database_url: str, report: bool = False):
    rasa, actions = FakeRasa(), FakeActions()
    tg = FakeTelegram(fuzz_world.TELEGRAM_TOKEN)
    wa = FakeWhatsApp(fuzz_world.WHATSAPP_TOKEN, fuzz_world.WHATSAPP_SECRET)
    with (
        serve(rasa.app) as rasa_url,
        serve(actions.app) as action_url,
        serve(tg.app) as tg_url,
        serve(wa.app) as wa_url,
    ):
        app = create_app(fuzz_world.settings(database_url, rasa_url, action_url, tg_url, wa_url))
        with serve(app) as url:
            w = fuzz_world.World(url, app, database_url, rasa, tg, wa)
            w.seed_workspace()
            yield w
            if report:
                _report(w)
            w.http.close()


def _report(w: fuzz_world.World) -> None:
    reports = VAR / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    body = {
        "profile": PROFILE,
        "requests": sum(w.statuses.values()),
        "server_errors": len(w.server_errors),
        "messages_stored": w.messages_in(),
        "by_route_and_status": dict(sorted(w.statuses.items())),
    }
    (reports / f"fuzz-{PROFILE}.json").write_text(json.dumps(body, indent=1) + "\n")
