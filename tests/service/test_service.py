"""The service on SQLite and PostgreSQL: one transaction per turn, dedupe, concurrency, erasure."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from bot.app import App, build_app
from bot.campaigns import read_campaigns, seed_campaigns
from bot.channels.collecting import CollectingChannel
from bot.config import load_config
from bot.engine.messages import EventType, Inbound
from storage.db import make_engine, make_sessionmaker, upgrade
from storage.errors import StorageUnavailableError
from storage.models import (
    Answer,
    ChannelIdentity,
    ConsentRecord,
    HandledMessage,
    Participant,
    PendingReply,
)
from storage.records import QueuedReply

ROOT = Path(__file__).resolve().parents[2]
ONBOARDING = ["18-20", "Yes, I agree", "Lyon", "Vaise"]


class StepClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 4, 18, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(seconds=1)
            return self.now


@pytest.fixture
def app(db_url: str) -> Iterator[App]:
    app = build_app(ROOT / "config.yml", db_url, clock=StepClock())
    yield app
    app.close()


def onboard(channel: CollectingChannel, user: str) -> None:
    channel.say(user, "/start", "en")
    for label in ONBOARDING:
        channel.press(user, label, "en")


def count(app: App, model: type) -> int:
    with app.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_turn_stores_consent_profile_and_answer(app: App) -> None:
    channel = CollectingChannel(app.service)
    onboard(channel, "ana")
    turn = channel.press("ana", "On foot", "en")
    assert turn.acknowledgement == "On foot"
    with app.sessions() as session:
        participant = session.scalars(select(Participant)).one()
        assert (participant.age_band, participant.city, participant.neighbourhood, participant.language) == (
            "18-20", "lyon", "vaise", "en")
        answer = session.scalars(select(Answer)).one()
        assert (answer.question_id, answer.option_ids, answer.language) == ("getting_around", ["walk"], "en")
        assert answer.participant_id == participant.id
        consent = session.scalars(select(ConsentRecord)).one()
        assert (consent.kind, consent.granted, consent.age_band) == ("participation", True, "18-20")
        identity = session.scalars(select(ChannelIdentity)).one()
        assert identity.external_id == "ana" and identity.participant_id == participant.id


def test_a_message_delivered_twice_is_handled_once(app: App) -> None:
    channel = CollectingChannel(app.service)
    onboard(channel, "ben")
    press = Inbound.button(channel.choice("ben", "On foot").data, app.service.clock())
    first = app.service.handle("test", "ben", press, message_key="update-41")
    again = app.service.handle("test", "ben", press, message_key="update-41")
    assert first.answers and not first.duplicate
    assert again.duplicate and again.outbound == ()
    assert count(app, Answer) == 1


def test_going_back_replaces_the_stored_answer(app: App) -> None:
    channel = CollectingChannel(app.service)
    onboard(channel, "cleo")
    channel.press("cleo", "On foot", "en")
    channel.press("cleo", "⬅ Back", "en")
    channel.press("cleo", "Bike or scooter", "en")
    with app.sessions() as session:
        assert [answer.option_ids for answer in session.scalars(select(Answer))] == [["bike"]]


def test_two_workers_on_one_conversation_never_lose_an_update(app: App, db_url: str) -> None:
    """Two service instances (as two processes would) race on the same participant."""
    other = build_app(ROOT / "config.yml", db_url, clock=StepClock())
    try:
        channel = CollectingChannel(app.service)
        onboard(channel, "dan")
        channel.press("dan", "On foot", "en")
        toggles = [c.data for c in channel.sent["dan"][-1].choices if "~" not in c.data]
        services = [app.service, other.service]

        def toggle(index: int) -> None:
            inbound = Inbound.button(toggles[index], services[0].clock())
            services[index % 2].handle("test", "dan", inbound, message_key=f"t{index}")

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(toggle, range(len(toggles))))
        # Each option toggled once, by either worker: all of them end up selected.
        done = channel.press("dan", "Done ✔", "en")
        stored = done.answers[0].option_ids
        assert stored is not None and sorted(stored) == sorted(d.split(":")[-1] for d in toggles)
    finally:
        other.close()


def test_erasure_removes_everything_about_one_participant_only(app: App) -> None:
    channel = CollectingChannel(app.service)
    onboard(channel, "eve")
    channel.press("eve", "On foot", "en")
    onboard(channel, "fay")
    channel.press("fay", "Other", "en")
    channel.say("eve", "/delete", "en")
    confirm = Inbound.button(channel.choice("eve", "Yes, delete everything").data, app.service.clock())
    turn = app.service.handle("test", "eve", confirm, message_key="erase-1")
    assert any(e.type is EventType.ERASURE_CONFIRMED for e in turn.events)
    assert app.service.handle("test", "eve", confirm, message_key="erase-1").duplicate
    with app.sessions() as session:
        assert session.scalars(select(ChannelIdentity.external_id)).all() == ["fay"]
        assert len(session.scalars(select(Answer)).all()) == 1
        assert len(session.scalars(select(ConsentRecord)).all()) == 1


def test_refusing_consent_keeps_nothing(app: App) -> None:
    channel = CollectingChannel(app.service)
    channel.say("gil", "/start", "en")
    channel.press("gil", "15-17", "en")
    channel.press("gil", "No thanks", "en")
    assert count(app, Participant) == 0
    assert count(app, ChannelIdentity) == 0


def test_mydata_privacy_and_help_store_nothing_for_someone_without_a_record(app: App) -> None:
    channel = CollectingChannel(app.service)
    for command in ("/mydata", "/privacy", "/help"):
        turn = channel.say("hal", command, "en")
        assert turn.outbound
    assert "We keep nothing about you" in channel.say("hal", "/mydata", "en").outbound[-1].text
    assert count(app, Participant) == 0
    assert count(app, ChannelIdentity) == 0
    onboard(channel, "hal")
    channel.say("hal", "/delete", "en")
    channel.press("hal", "Yes, delete everything", "en")
    channel.say("hal", "/mydata", "en")
    assert count(app, Participant) == 0


def test_mydata_shows_the_answers_themselves_a_page_at_a_time(app: App) -> None:
    channel = CollectingChannel(app.service)
    onboard(channel, "ivy")
    channel.press("ivy", "On foot", "en")
    channel.say("ivy", "the buses are always late at night", "en")
    shown = channel.say("ivy", "/mydata", "en").outbound[-1]
    assert "How do you usually get around town?\n   → On foot" in shown.text
    assert "“the buses are always late at night”" in shown.text
    assert not shown.choices


def test_a_failed_save_changes_nothing_and_the_retry_goes_through(app: App) -> None:
    channel = CollectingChannel(app.service)
    onboard(channel, "hal")
    data = channel.choice("hal", "On foot").data
    with app.engine.begin() as connection:
        connection.execute(text("ALTER TABLE answers RENAME TO answers_away"))
    with pytest.raises(Exception, match="answers"):
        app.service.handle("test", "hal", Inbound.button(data, app.service.clock()), message_key="m1")
    with app.engine.begin() as connection:
        connection.execute(text("ALTER TABLE answers_away RENAME TO answers"))
    retried = app.service.handle("test", "hal", Inbound.button(data, app.service.clock()), message_key="m1")
    assert not retried.duplicate and retried.answers
    assert count(app, Answer) == 1


def test_marks_of_handled_messages_are_forgotten_after_a_week(app: App) -> None:
    clock = app.service.clock
    assert isinstance(clock, StepClock)
    hello = Inbound.text_message("/start", clock())
    app.service.handle("test", "fay", hello, message_key="update-1")
    clock.now += timedelta(days=6)
    app.service.handle("test", "fay", hello, message_key="update-2")
    assert app.service.tidy() == 0
    clock.now += timedelta(days=2)
    assert app.service.tidy() == 1
    with app.sessions() as session:
        assert session.scalars(select(HandledMessage.message_key)).all() == ["update-2"]


def test_an_unreachable_database_is_reported_as_unavailable_not_as_a_bug(app: App, tmp_path: Path) -> None:
    app.service.sessions = make_sessionmaker(make_engine(f"sqlite:///{tmp_path}/missing/dir/youthvoice.db"))
    with pytest.raises(StorageUnavailableError, match="test:gil"):
        app.service.handle("test", "gil", Inbound.text_message("/start", app.service.clock()),
                           message_key="update-1")


def pending_replies(app: App) -> list[str]:
    with app.sessions() as session:
        return list(session.scalars(select(PendingReply.address).order_by(PendingReply.id)).all())


def test_delivered_replies_go_with_the_next_turns_own_statement(app: App) -> None:
    keep = {"pressed": None, "pressed_text": None}
    first = app.service.handle("telegram", "1", Inbound.text_message("/start", app.service.clock()),
                               message_key="a", keep_reply=keep)
    assert first.reply is not None
    app.service.outbox.delivered(first.reply.id)
    # Another chat's turn removes it: no commit of its own, no wait for the next round.
    app.service.handle("telegram", "2", Inbound.text_message("/start", app.service.clock()),
                       message_key="b", keep_reply=keep)
    assert pending_replies(app) == ["2"]
    assert app.service.outbox.flush() == 0


def test_delivered_replies_wait_for_the_flush_when_a_turn_queues_nothing(app: App) -> None:
    keep = {"pressed": None, "pressed_text": None}
    first = app.service.handle("telegram", "1", Inbound.text_message("/start", app.service.clock()),
                               message_key="a", keep_reply=keep)
    assert first.reply is not None
    app.service.outbox.delivered(first.reply.id)
    # The same message again: handled once, nothing queued, so nothing removed by it.
    again = app.service.handle("telegram", "1", Inbound.text_message("/start", app.service.clock()),
                               message_key="a", keep_reply=keep)
    assert again.duplicate
    assert pending_replies(app) == ["1"]
    assert app.service.outbox.flush() == 1
    assert pending_replies(app) == []


def test_two_workers_starting_together_on_a_new_database_both_start(db_url: str) -> None:
    # One worker is seeding config.yml's campaigns (not committed yet) when the other starts: the
    # other finds nothing, tries the same rows, and must not die of the duplicate.
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = make_sessionmaker(engine)
    config = load_config(ROOT / "config.yml")
    seeds = read_campaigns(config.campaigns, ROOT, config.community())
    with ThreadPoolExecutor(max_workers=1) as pool:
        with sessions.begin() as session:
            seed_campaigns(session, seeds, datetime.now(UTC))
            starting = pool.submit(build_app, ROOT / "config.yml", db_url)
            time.sleep(1.0)
        other = starting.result(timeout=30)
    try:
        assert other.service.refresh_campaigns().campaigns
    finally:
        other.close()
        engine.dispose()


def test_a_turn_the_database_rolls_back_for_a_deadlock_is_tried_again(
        app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two workers' turns can deadlock on PostgreSQL (each removing a delivered reply the other's
    # chat still has): the database is fine, so the turn goes again instead of waiting on disk.
    import psycopg.errors
    from sqlalchemy.exc import DBAPIError

    from storage import repositories

    queue = repositories.queue_reply
    failures = [DBAPIError.instance("DELETE", {}, psycopg.errors.DeadlockDetected("deadlock detected"),
                                    psycopg.errors.Error)]

    def deadlocking(*args: object, **kwargs: object) -> int:
        if failures:
            raise failures.pop()
        return queue(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repositories, "queue_reply", deadlocking)
    turn = app.service.handle("telegram", "1", Inbound.text_message("/start", app.service.clock()),
                              message_key="a", keep_reply={"pressed": None, "pressed_text": None})
    assert turn.reply is not None and not failures
    assert pending_replies(app) == ["1"]


def test_the_channel_prepares_a_reply_in_the_turns_own_transaction(app: App) -> None:
    keep = {"pressed": None, "pressed_text": None}
    seen: list[int] = []

    def prepare(session: Session, reply: QueuedReply) -> str:
        # The reply is queued in this very transaction (another would wait for its commit).
        seen.append(session.scalars(select(PendingReply.id).where(PendingReply.id == reply.id)).one())
        return "slots"

    turn = app.service.handle("telegram", "1", Inbound.text_message("/start", app.service.clock()),
                              message_key="a", keep_reply=keep, prepare=prepare)
    assert turn.reply is not None and turn.prepared == "slots"
    assert seen == [turn.reply.id]

    def failing(_session: Session, _reply: QueuedReply) -> None:
        raise RuntimeError("the budget's statement failed")

    # One transaction: if the reservation fails, the turn is not stored either (and is told so).
    with pytest.raises(RuntimeError, match="budget"):
        app.service.handle("telegram", "1", Inbound.text_message("/help", app.service.clock()),
                           message_key="b", keep_reply=keep, prepare=failing)
    assert pending_replies(app) == ["1"]
    again = app.service.handle("telegram", "1", Inbound.text_message("/help", app.service.clock()),
                               message_key="b", keep_reply=keep)
    assert not again.duplicate and again.prepared is None
