"""'Your counsellor has your message' reaches her once, also when two gateways' background
chores look at the same held case at the same moment (bot/workspace/held.py). Found by
tests/e2e/test_scale_out.py, where she got it twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from bot.referrals import claim
from bot.storage.models import Message
from bot.workspace import held
from tests.integration.test_referral_queue import _sessions, case_for, counsellor


def _notices(db, contact_id: int) -> int:
    return db.scalar(
        select(func.count()).where(
            Message.contact_id == contact_id, Message.kind == held.NOTICE_KIND
        )
    )


def test_two_gateways_chores_at_once_tell_her_once(postgres_url):
    engine, sessions = _sessions(postgres_url)
    try:
        with sessions() as db:
            amal = counsellor(db, "amal")
            case = case_for(db, at=datetime.now(UTC))
            claim(db, amal, case.id)
            db.add(Message(contact_id=case.contact_id, direction="in", text="er der nogen?"))
            db.commit()
            case_id, contact_id = case.id, case.contact_id
        later = datetime.now(UTC) + timedelta(minutes=5)  # her message has waited long enough

        with sessions() as first, sessions() as second:  # the two gateways' chores
            assert held.send_notices(first, after_s=60, now=later) == [case_id]  # uncommitted
            found: list[list[int]] = []
            other = threading.Thread(
                target=lambda: found.append(held.send_notices(second, after_s=60, now=later))
            )
            other.start()
            other.join(timeout=1.0)
            waited = other.is_alive()
            first.commit()
            other.join(timeout=30)
            second.commit()
        assert waited, "the second gateway waits for the first one's commit"
        assert found == [[]], "the second gateway found her told"
        with sessions() as db:
            assert _notices(db, contact_id) == 1
    finally:
        engine.dispose()
