"""The referral queue's rules, on a migrated database (SQLite file; the claim race and the
basics also on PostgreSQL).

What a woman depends on: her case reaches someone who speaks her language, danger goes
first, nobody waits forever unseen, two counsellors never answer her at once, and erasing her
data erases her cases. What a counsellor depends on: a claim is hers alone.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.referrals import (
    EMERGENCY,
    HIGH,
    NORMAL,
    QueueError,
    claim,
    claim_next,
    create_case,
    escalate_overdue,
    expire_stale,
    flag_danger,
    holding_case,
    next_opening,
    open_now,
    opening_text,
    queue_position,
    record_reply,
    release,
    release_all_held_by,
    release_stale_claims,
    resolve,
    transfer,
)
from bot.referrals.models import Case, CaseNote, OpeningHours
from bot.storage.db import make_engine, migrate, session_factory
from bot.storage.models import Contact, Message
from bot.workspace.auth import create_user

CPH = ZoneInfo("Europe/Copenhagen")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday, 11:00 in Copenhagen


def _sessions(url):
    migrate(url)
    engine = make_engine(url)
    return engine, session_factory(engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request):
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    engine, factory = _sessions(url)
    yield factory
    engine.dispose()


@pytest.fixture
def sqlite_sessions(sqlite_url):
    engine, factory = _sessions(sqlite_url)
    yield factory
    engine.dispose()


_n = iter(range(10**6))


def contact(db, channel="telegram", language="ar") -> Contact:
    c = Contact(channel=channel, user_hash=f"h{next(_n)}", language=language)
    db.add(c)
    db.flush()
    return c


def case_for(db, language="ar", topic="violence", priority="normal", at=T0, **kw) -> Case:
    r = create_case(
        db,
        contact(db, language=language),
        topic=topic,
        language=language,
        priority=priority,
        woman_counsellor=kw.pop("woman", None),
        contact_later=kw.pop("later", False),
        now=at,
    )
    return db.get(Case, r.case_id)


def counsellor(db, name, languages="ar", topics="", woman=True, role="counsellor"):
    return create_user(
        db, name, "a long password", role=role, languages=languages, topics=topics, is_woman=woman
    )


# -- creating cases -------------------------------------------------------------------------------
def test_a_second_request_returns_her_open_case_and_raises_its_priority(sessions):
    with sessions() as db:
        c = contact(db)
        first = create_case(
            db,
            c,
            topic="health",
            language="ar",
            priority="normal",
            woman_counsellor=None,
            contact_later=False,
            now=T0,
        )
        again = create_case(
            db,
            c,
            topic="violence",
            language="ar",
            priority="high",
            woman_counsellor=True,
            contact_later=False,
            now=T0,
        )
        db.commit()
        assert first.created and not again.created
        assert again.case_id == first.case_id
        case = db.get(Case, first.case_id)
        assert (case.priority, case.woman_counsellor, case.topic) == (HIGH, True, "health")
        assert db.scalar(select(func.count()).select_from(Case)) == 1


def test_waiting_ahead_counts_only_cases_served_before_hers_in_her_language(sessions):
    with sessions() as db:
        case_for(db, at=T0)
        case_for(db, at=T0 + timedelta(minutes=1), priority="emergency")
        case_for(db, language="so", at=T0 - timedelta(hours=1))  # other language: not ahead
        r = create_case(
            db,
            contact(db),
            topic="health",
            language="ar",
            priority="normal",
            woman_counsellor=None,
            contact_later=False,
            now=T0 + timedelta(minutes=2),
        )
        assert r.waiting_ahead == 2
        late_emergency = case_for(db, priority="emergency", at=T0 + timedelta(minutes=3))
        assert queue_position(db, late_emergency) == 2  # after the older emergency only
        assert queue_position(db, db.get(Case, r.case_id)) == 4


def test_holding_case_only_while_a_counsellor_holds_it(sessions):
    with sessions() as db:
        amal = counsellor(db, "amal")
        case = case_for(db)
        assert holding_case(db, case.contact_id) is None  # waiting: the bot still talks
        assert claim(db, amal, case.id).id == case.id
        assert holding_case(db, case.contact_id).id == case.id
        resolve(db, case, amal, "resolved_here")
        assert holding_case(db, case.contact_id) is None  # resolved: the bot is back


def test_danger_makes_her_open_case_an_emergency_even_while_held(sessions):
    with sessions() as db:
        amal = counsellor(db, "amal")
        case = case_for(db, priority="normal")
        claim(db, amal, case.id)
        flag_danger(db, case.contact_id)
        db.flush()
        assert db.get(Case, case.id).priority == EMERGENCY
        flag_danger(db, contact(db).id)  # no open case: nothing happens, nothing fails


# -- routing --------------------------------------------------------------------------------------
def test_cases_go_to_counsellors_with_her_language_and_topic_emergency_first(sessions):
    with sessions() as db:
        somali = case_for(db, language="so", at=T0 - timedelta(hours=2))
        old = case_for(db, at=T0)
        newer = case_for(db, at=T0 + timedelta(minutes=5))
        urgent = case_for(db, priority="emergency", at=T0 + timedelta(minutes=9))
        health = case_for(db, topic="health", at=T0 - timedelta(hours=1))
        amal = counsellor(db, "amal", languages="ar,en", topics="violence")
        got = [claim_next(db, amal, now=T0 + timedelta(minutes=10)).id for _ in range(3)]
        assert got == [urgent.id, old.id, newer.id]
        assert claim_next(db, amal) is None, "health and Somali cases are not hers"
        assert db.get(Case, health.id).status == db.get(Case, somali.id).status == "waiting"
        assert db.get(Case, old.id).assigned_to == amal.id


def test_a_request_for_a_woman_is_never_given_to_a_man(sessions):
    with sessions() as db:
        case = case_for(db, woman=True)
        omar = counsellor(db, "omar", woman=False)
        assert claim(db, omar, case.id) is None
        escalate_overdue(db, T0 + timedelta(hours=5), after_minutes=15, hours_aware=False)
        assert claim_next(db, omar) is None, "escalation does not relax her request"
        with pytest.raises(QueueError):
            transfer(db, case, counsellor(db, "admin", role="admin", woman=False), to_user=omar)
        assert claim(db, counsellor(db, "sara"), case.id).id == case.id


def test_editors_and_inactive_counsellors_claim_nothing(sessions):
    with sessions() as db:
        case_for(db)
        editor = counsellor(db, "eddie", role="editor")
        gone = counsellor(db, "gone")
        gone.active = False
        assert claim_next(db, editor) is None and claim_next(db, gone) is None


# -- release, transfer, resolve --------------------------------------------------------------------
def test_release_keeps_her_place_in_the_queue(sessions):
    with sessions() as db:
        amal, huda = counsellor(db, "amal"), counsellor(db, "huda")
        first = case_for(db, at=T0)
        case_for(db, at=T0 + timedelta(minutes=1))
        claim(db, amal, first.id)
        with pytest.raises(QueueError):
            release(db, first, huda)  # not hers to release
        release(db, first, amal, now=T0 + timedelta(minutes=30))
        assert (first.status, first.assigned_to) == ("waiting", None)
        assert claim_next(db, huda).id == first.id


def test_transfer_to_a_colleague_or_to_another_language(sessions):
    with sessions() as db:
        amal, huda = counsellor(db, "amal"), counsellor(db, "huda")
        farsi = counsellor(db, "parisa", languages="fa")
        case = case_for(db)
        claim(db, amal, case.id)
        transfer(db, case, amal, to_user=huda)
        assert (case.status, case.assigned_to) == ("assigned", huda.id)
        transfer(db, case, huda, to_language="fa")
        # she keeps her language (the bot's notices to her); counsellors now write in Farsi
        assert (case.status, case.language, case.write_in) == ("waiting", "ar", "fa")
        assert case.assigned_to is None
        assert claim_next(db, amal) is None
        assert claim_next(db, farsi).id == case.id


def test_a_transfer_never_strands_her_with_someone_who_cannot_read_her(sessions):
    with sessions() as db:
        amal = counsellor(db, "amal")  # Arabic
        sahra = counsellor(db, "sahra", languages="so,en")
        nadia = counsellor(db, "nadia", languages="ar", topics="health")
        case = case_for(db)  # Arabic, violence
        claim(db, amal, case.id)
        with pytest.raises(QueueError, match="sahra does not write Arabic"):
            transfer(db, case, amal, to_user=sahra)
        with pytest.raises(QueueError, match="nadia does not cover violence"):
            transfer(db, case, amal, to_user=nadia)
        assert (case.status, case.assigned_to) == ("assigned", amal.id)  # still hers


def test_resolve_records_the_outcome_and_refuses_a_referral_without_a_service(sessions):
    with sessions() as db:
        amal = counsellor(db, "amal")
        a, b = case_for(db), case_for(db)
        claim(db, amal, a.id)
        claim(db, amal, b.id)
        with pytest.raises(QueueError):
            resolve(db, a, amal, "referred")
        resolve(db, a, amal, "referred", "Lev Uden Vold", now=T0 + timedelta(hours=1))
        resolve(db, b, amal, "no_contact")
        assert (a.status, a.outcome, a.referred_service) == (
            "resolved",
            "referred",
            "Lev Uden Vold",
        )
        assert b.status == "abandoned"
        assert create_case(
            db,
            a.contact,
            topic="health",
            language="ar",
            priority="normal",
            woman_counsellor=None,
            contact_later=False,
        ).created, "after resolve, a new request opens a new case"


# -- escalation and opening hours -----------------------------------------------------------------
def _weekday_hours(db, opens=time(9), closes=time(16)):
    for day in range(5):
        db.add(OpeningHours(weekday=day, opens=opens, closes=closes, timezone="Europe/Copenhagen"))
    db.flush()


def test_overdue_cases_escalate_once_and_reach_every_counsellor(sessions):
    with sessions() as db:
        late = case_for(db, language="ti", at=T0)
        fresh = case_for(db, language="ti", at=T0 + timedelta(minutes=20))
        danger = case_for(db, language="ti", priority="emergency", at=T0)
        amal = counsellor(db, "amal")  # no Tigrinya
        assert claim_next(db, amal) is None
        now = T0 + timedelta(minutes=25)
        assert sorted(escalate_overdue(db, now, after_minutes=15)) == sorted([late.id, danger.id])
        assert escalate_overdue(db, now + timedelta(minutes=1), after_minutes=15) == []
        late, danger = db.get(Case, late.id), db.get(Case, danger.id)
        assert (late.priority, danger.priority) == (HIGH, EMERGENCY)
        assert db.get(Case, fresh.id).priority == NORMAL
        assert claim_next(db, amal).id == danger.id  # escalated: offered to everyone now


def test_escalation_counts_only_time_inside_opening_hours(sessions):
    with sessions() as db:
        _weekday_hours(db)
        night = datetime(2026, 11, 23, 2, 0, tzinfo=CPH)  # Monday 02:00, closed
        case = case_for(db, at=night)
        assert escalate_overdue(db, night + timedelta(hours=3), 15) == []  # still closed
        opening = datetime(2026, 11, 23, 9, 0, tzinfo=CPH)
        assert escalate_overdue(db, opening + timedelta(minutes=5), 15) == []  # open 5 min
        assert escalate_overdue(db, opening + timedelta(minutes=16), 15) == [case.id]


def test_opening_hours_in_copenhagen_time_and_the_next_opening_in_her_language(sessions):
    with sessions() as db:
        _weekday_hours(db)
        monday_11 = datetime(2026, 11, 23, 11, 0, tzinfo=CPH)
        friday_evening = datetime(2026, 11, 27, 18, 30, tzinfo=CPH)
        assert open_now(db, monday_11)
        assert next_opening(db, monday_11) is None
        assert not open_now(db, friday_evening)
        nxt = next_opening(db, friday_evening)
        assert nxt == datetime(2026, 11, 30, 9, 0, tzinfo=CPH)
        assert opening_text(nxt, "en") == "Monday 09:00"
        assert opening_text(nxt, "ar") == "الاثنين 09:00"
        assert opening_text(nxt, "da") == "mandag 09:00"
        # summer time: 09:00 in Copenhagen is 07:00 UTC
        assert open_now(db, datetime(2026, 6, 1, 7, 30, tzinfo=UTC))
        assert not open_now(db, datetime(2026, 6, 1, 6, 30, tzinfo=UTC))
        r = create_case(
            db,
            contact(db),
            topic="health",
            language="ar",
            priority="normal",
            woman_counsellor=None,
            contact_later=False,
            now=friday_evening,
        )
        assert (r.open_now, r.opens_at) == (False, nxt)


def test_she_can_be_told_whether_someone_who_can_help_her_is_online(sessions):
    from bot.workspace.auth import start_session

    with sessions() as db:
        hodan = counsellor(db, "hodan", languages="so")
        omar = counsellor(db, "omar", woman=False)
        start_session(db, hodan)
        start_session(db, omar)
        args = dict(topic="violence", language="ar", priority="normal", contact_later=False)
        r = create_case(db, contact(db), woman_counsellor=True, **args)
        assert r.counsellors_online == 0, "nobody online speaks Arabic and is a woman"
        r = create_case(db, contact(db), woman_counsellor=None, **args)
        assert r.counsellors_online == 1
        counsellor(db, "amal")  # not logged in: not counted
        assert create_case(db, contact(db), woman_counsellor=True, **args).counsellors_online == 0


def test_no_hours_set_means_always_open(sessions):
    with sessions() as db:
        r = create_case(
            db,
            contact(db),
            topic="health",
            language="ar",
            priority="normal",
            woman_counsellor=None,
            contact_later=False,
            now=datetime(2026, 11, 29, 3, 0, tzinfo=CPH),
        )
        assert (r.open_now, r.opens_at) == (True, None)


def test_stale_cases_expire_unless_she_may_be_contacted_later(sessions):
    with sessions() as db:
        stale = case_for(db, at=T0)
        later = case_for(db, at=T0, later=True)
        assert expire_stale(db, T0 + timedelta(hours=73), after_hours=72) == [stale.id]
        assert db.get(Case, stale.id).status == "expired"
        assert db.get(Case, later.id).status == "waiting"


def test_a_claim_nobody_answers_goes_back_to_the_queue_so_she_is_not_left_in_silence(sessions):
    with sessions() as db:
        amal = counsellor(db, "amal")
        idle, answered = case_for(db, at=T0), case_for(db, at=T0)
        claim(db, amal, idle.id, now=T0)
        claim(db, amal, answered.id, now=T0)
        record_reply(db, answered, amal, now=T0 + timedelta(minutes=5))
        assert release_stale_claims(db, T0 + timedelta(minutes=20), after_minutes=30) == []
        assert release_stale_claims(db, T0 + timedelta(minutes=31), after_minutes=30) == [idle.id]
        assert db.get(Case, idle.id).status == "waiting"
        assert holding_case(db, idle.contact_id) is None, "the bot answers her again"
        assert db.get(Case, answered.id).status == "active"


def test_a_deactivated_counsellors_cases_go_back_to_the_queue(sessions):
    with sessions() as db:
        amal = counsellor(db, "amal")
        a, b = case_for(db), case_for(db)
        claim(db, amal, a.id)
        claim(db, amal, b.id)
        record_reply(db, b, amal)
        assert sorted(release_all_held_by(db, amal)) == sorted([a.id, b.id])
        assert {db.get(Case, a.id).status, db.get(Case, b.id).status} == {"waiting"}


# -- erasure --------------------------------------------------------------------------------------
def test_erasing_her_contact_removes_her_cases_and_their_notes(sessions):
    with sessions() as db:
        amal = counsellor(db, "amal")
        case = case_for(db)
        claim(db, amal, case.id)
        db.add(CaseNote(case_id=case.id, user_id=amal.id, text="she will call back"))
        db.add(Message(contact_id=case.contact_id, direction="in", text="hello"))
        db.commit()
        contact_id, case_id = case.contact_id, case.id
    with sessions() as db:
        db.delete(db.get(Contact, contact_id))  # what the pipeline's erasure does
        db.commit()
    with sessions() as db:
        assert db.get(Case, case_id) is None
        assert db.scalar(select(func.count()).select_from(CaseNote)) == 0
        assert db.scalar(select(func.count()).select_from(Message)) == 0


# -- the claim race -------------------------------------------------------------------------------
def _race(sessions, n_counsellors=20, n_cases=60):
    with sessions() as db:
        ids = [
            case_for(
                db, at=T0 + timedelta(seconds=i), priority=("emergency", "high", "normal")[i % 3]
            ).id
            for i in range(n_cases)
        ]
        users = [counsellor(db, f"c{i}") for i in range(n_counsellors)]
        db.commit()
        user_ids = [u.id for u in users]
    claimed: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(n_counsellors)

    def work(uid):
        try:
            start.wait()
            while True:
                with sessions() as db:  # own session, own connection
                    case = claim_next(db, db.get(type(users[0]), uid))
                    db.commit()
                    if case is None:
                        return
                    with lock:
                        claimed.append((case.id, uid))
        except BaseException as exc:  # surfaced below, not swallowed by the thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(u,)) for u in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    got = [c for c, _ in claimed]
    assert len(got) == len(set(got)), "a case was claimed twice"
    assert sorted(got) == sorted(ids), "a case was never claimed"
    with sessions() as db:
        rows = db.execute(select(Case.id, Case.assigned_to, Case.status)).all()
    assert {(r.id, r.assigned_to) for r in rows} == set(claimed), (
        "the database disagrees with what the counsellors were told"
    )
    assert {r.status for r in rows} == {"assigned"}
    assert len({u for _, u in claimed}) > 1, "only one counsellor ever got a case"


def test_twenty_counsellors_claiming_at_once_never_get_the_same_case(sessions):
    _race(sessions)


def test_two_claims_for_one_case_only_one_wins(sessions):
    with sessions() as db:
        case = case_for(db)
        a, b = counsellor(db, "amal"), counsellor(db, "huda")
        db.commit()
        case_id, uids = case.id, (a.id, b.id)
    results = {}
    start = threading.Barrier(2)

    def work(uid):
        with sessions() as db:
            start.wait()
            got = claim(db, db.get(type(a), uid), case_id)
            db.commit()
            results[uid] = got is not None

    threads = [threading.Thread(target=work, args=(u,)) for u in uids]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    assert sorted(results.values()) == [False, True]
