"""Outside local mode the gateway refuses to start with a missing or placeholder secret: a
guessable HASH_KEY would let anyone link pseudonyms back to phone numbers, a webhook without
its secret would accept forged messages in her name. Local mode needs no setup at all."""

from __future__ import annotations

import os
import stat

import pytest

from bot import settings as settings_module
from bot.settings import PLACEHOLDERS, get_settings

GOOD_KEY = "9f2c4e0b7a1d4c8e9f2c4e0b7a1d4c8e"
DATA_KEY = "Jr8V0cRkR2mD0QG6m3HqR3YpXUSm7o6Hn0I1bY0pQ2c="  # a Fernet key
PLACEHOLDER_VALUES = sorted(PLACEHOLDERS | {"CHANGEME", "Change-Me", "SECRET", "XXX"})


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    """No setting leaks in from the machine running the tests, none leaks out, and the local
    hash key is written under tmp_path instead of the repository's var/."""
    for name in list(os.environ):
        if name in (
            "APP_ENV",
            "HASH_KEY",
            "DATABASE_URL",
            "HOST",
            "PORT",
            "DATA_KEYS",
            "RETENTION_DAYS",
            "DELIVERY_CLAIM_TIMEOUT_S",
        ) or name.startswith(("TELEGRAM_", "WHATSAPP_")):
            monkeypatch.delenv(name)
    monkeypatch.setattr(settings_module, "VAR", tmp_path / "var")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def production(monkeypatch, **env: str) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("HASH_KEY", GOOD_KEY)
    monkeypatch.setenv("DATA_KEYS", DATA_KEY)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


# -- HASH_KEY -----------------------------------------------------------------------------------
def test_production_with_real_secrets_starts(monkeypatch):
    production(monkeypatch)
    s = get_settings()
    assert (s.env, s.local, s.hash_key) == ("production", False, GOOD_KEY)


def test_production_without_a_hash_key_is_refused(monkeypatch):
    production(monkeypatch)
    monkeypatch.delenv("HASH_KEY")
    with pytest.raises(RuntimeError, match="HASH_KEY"):
        get_settings()


@pytest.mark.parametrize("value", PLACEHOLDER_VALUES)
def test_production_with_a_placeholder_hash_key_is_refused(monkeypatch, value):
    production(monkeypatch, HASH_KEY=value)
    with pytest.raises(RuntimeError, match="HASH_KEY"):
        get_settings()


@pytest.mark.parametrize("env", ["staging", "test", "prod"])
def test_every_mode_but_local_refuses_a_missing_hash_key(monkeypatch, env):
    monkeypatch.setenv("APP_ENV", env)
    with pytest.raises(RuntimeError, match="HASH_KEY"):
        get_settings()


def test_a_refused_start_writes_no_local_key(monkeypatch):
    production(monkeypatch, HASH_KEY="changeme")
    with pytest.raises(RuntimeError):
        get_settings()
    assert not (settings_module.VAR / "hash.key").exists()


def test_local_mode_makes_its_own_private_key_and_keeps_it(monkeypatch):
    s = get_settings()
    path = settings_module.VAR / "hash.key"
    assert s.local and s.hash_key == path.read_text().strip()
    assert len(s.hash_key) >= 32 and s.hash_key.lower() not in PLACEHOLDERS
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "only the service user can read it"
    get_settings.cache_clear()
    assert get_settings().hash_key == s.hash_key, "pseudonyms stay stable across restarts"


def test_local_mode_uses_a_given_hash_key(monkeypatch):
    monkeypatch.setenv("HASH_KEY", GOOD_KEY)
    assert get_settings().hash_key == GOOD_KEY
    assert not (settings_module.VAR / "hash.key").exists()


@pytest.mark.parametrize("value", ["   ", " changeme ", "secret\n"])
def test_production_refuses_a_placeholder_hash_key_with_spaces_around_it(monkeypatch, value):
    production(monkeypatch, HASH_KEY=value)
    with pytest.raises(RuntimeError, match="HASH_KEY"):
        get_settings()


# -- DATA_KEYS (encryption at rest) -------------------------------------------------------------
def test_production_without_data_keys_is_refused(monkeypatch):
    production(monkeypatch)
    monkeypatch.delenv("DATA_KEYS")
    with pytest.raises(RuntimeError, match="DATA_KEYS"):
        get_settings()
    assert not (settings_module.VAR / "data.key").exists(), "no key is made up in production"


@pytest.mark.parametrize("value", PLACEHOLDER_VALUES + [f"{DATA_KEY},changeme", " , "])
def test_production_with_a_placeholder_data_key_is_refused(monkeypatch, value):
    production(monkeypatch, DATA_KEYS=value)
    with pytest.raises(RuntimeError, match="DATA_KEYS"):
        get_settings()


@pytest.mark.parametrize("value", ["not-a-fernet-key", "c2hvcnQ=", DATA_KEY[:-2]])
def test_a_data_key_that_is_not_a_fernet_key_is_refused_even_locally(monkeypatch, value):
    monkeypatch.setenv("DATA_KEYS", value)
    with pytest.raises(RuntimeError, match="DATA_KEYS"):
        get_settings()


def test_production_with_two_data_keys_keeps_both_in_order(monkeypatch):
    other = "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    production(monkeypatch, DATA_KEYS=f" {other} , {DATA_KEY} ")
    assert get_settings().data_keys == f"{other},{DATA_KEY}"


def test_local_mode_makes_its_own_private_data_key_and_keeps_it(monkeypatch):
    s = get_settings()
    path = settings_module.VAR / "data.key"
    assert s.data_keys == path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "only the service user can read it"
    get_settings.cache_clear()
    assert get_settings().data_keys == s.data_keys, "her messages stay readable after a restart"


def test_retention_defaults_to_30_days_and_can_be_set(monkeypatch):
    assert get_settings().retention_days == 30
    get_settings.cache_clear()
    monkeypatch.setenv("RETENTION_DAYS", "90")
    assert get_settings().retention_days == 90


# -- TELEGRAM_SECRET ----------------------------------------------------------------------------
def telegram_webhook(monkeypatch, **env: str) -> None:
    production(monkeypatch, TELEGRAM_MODE="webhook", TELEGRAM_TOKEN="123456:real-token", **env)


def test_telegram_webhook_with_a_secret_starts(monkeypatch):
    telegram_webhook(monkeypatch, TELEGRAM_SECRET="k3Qf9-telegram-webhook-secret")
    s = get_settings()
    assert s.telegram_enabled and s.telegram_secret == "k3Qf9-telegram-webhook-secret"


def test_telegram_webhook_without_a_secret_is_refused(monkeypatch):
    telegram_webhook(monkeypatch)
    with pytest.raises(RuntimeError, match="TELEGRAM_SECRET"):
        get_settings()


@pytest.mark.parametrize("value", PLACEHOLDER_VALUES)
def test_telegram_webhook_with_a_placeholder_secret_is_refused(monkeypatch, value):
    telegram_webhook(monkeypatch, TELEGRAM_SECRET=value)
    with pytest.raises(RuntimeError, match="TELEGRAM_SECRET"):
        get_settings()


def test_telegram_webhook_without_a_secret_is_refused_even_locally(monkeypatch):
    monkeypatch.setenv("TELEGRAM_MODE", "webhook")
    monkeypatch.setenv("TELEGRAM_SECRET", "changeme")
    with pytest.raises(RuntimeError, match="TELEGRAM_SECRET"):
        get_settings()


@pytest.mark.parametrize("mode", ["polling", "off"])
def test_telegram_without_a_webhook_needs_no_secret(monkeypatch, mode):
    production(monkeypatch, TELEGRAM_MODE=mode, TELEGRAM_TOKEN="123456:real-token")
    assert get_settings().telegram_mode == mode


# -- WHATSAPP_APP_SECRET ------------------------------------------------------------------------
def whatsapp(monkeypatch, **env: str) -> None:
    production(
        monkeypatch, WHATSAPP_TOKEN="EAAG-real-token", WHATSAPP_PHONE_NUMBER_ID="106540", **env
    )


def test_whatsapp_with_an_app_secret_starts(monkeypatch):
    whatsapp(monkeypatch, WHATSAPP_APP_SECRET="0c1d2e3f-meta-app-secret")
    s = get_settings()
    assert s.whatsapp_enabled and s.whatsapp_app_secret == "0c1d2e3f-meta-app-secret"


def test_whatsapp_without_an_app_secret_is_refused(monkeypatch):
    whatsapp(monkeypatch)
    with pytest.raises(RuntimeError, match="WHATSAPP_APP_SECRET"):
        get_settings()


@pytest.mark.parametrize("value", PLACEHOLDER_VALUES)
def test_whatsapp_with_a_placeholder_app_secret_is_refused(monkeypatch, value):
    whatsapp(monkeypatch, WHATSAPP_APP_SECRET=value)
    with pytest.raises(RuntimeError, match="WHATSAPP_APP_SECRET"):
        get_settings()


def test_whatsapp_off_needs_no_app_secret(monkeypatch):
    production(monkeypatch)
    s = get_settings()
    assert not s.whatsapp_enabled and s.whatsapp_app_secret == ""


def test_a_refused_secret_is_not_cached_as_settings(monkeypatch):
    whatsapp(monkeypatch, WHATSAPP_APP_SECRET="secret")
    with pytest.raises(RuntimeError):
        get_settings()
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "0c1d2e3f-meta-app-secret")
    assert get_settings().whatsapp_app_secret == "0c1d2e3f-meta-app-secret"


def test_the_delivery_claim_timeout_is_read_from_the_environment(monkeypatch):
    """Several gateways: a send left by one that died is retried after this (default 5 min)."""
    assert get_settings().delivery_claim_timeout_s == 300
    get_settings.cache_clear()
    monkeypatch.setenv("DELIVERY_CLAIM_TIMEOUT_S", "20")
    assert get_settings().delivery_claim_timeout_s == 20
