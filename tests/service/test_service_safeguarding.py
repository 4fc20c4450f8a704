"""Safeguarding through the real service and database: alerts, staff follow-up, delivery that
survives outages, retention, erasure of everything about the person."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from bot.alerts import AlertDispatcher, Unreachable
from bot.app import App, build_app, warn_about_safeguarding
from bot.channels.collecting import CollectingChannel
from bot.channels.spool import Spool
from bot.channels.telegram import TelegramChannel
from bot.config import load_config
from bot.mail import Mailer
from bot.staff import Staff, UnknownAlertError
from storage import safeguarding as alerts_repo
from storage.models import Answer, Base, SafeguardingAlert, SafeguardingDelivery

ROOT = Path(__file__).resolve().parents[2]
ONBOARDING = ["18-20", "Yes, I agree", "Lyon", "Vaise"]
STAFF_CHAT = "-1001000000001"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 4, 18, 0, tzinfo=UTC)
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(seconds=1)
            return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(db_url: str, clock: Clock) -> Iterator[App]:
    app = build_app(ROOT / "config.yml", db_url, clock=clock, env={})
    yield app
    app.close()


class Chats:
    """Stands for Telegram: records what is sent, fails while `down`, refuses `blocked` chats."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []
        self.down = False
        self.blocked: set[str] = set()

    async def __call__(self, channel: str, address: str, text: str) -> None:
        if self.down:
            raise ConnectionError("staff channel unreachable")
        if address in self.blocked:
            raise Unreachable("blocked")
        self.sent.append((address, text))


def onboard(channel: CollectingChannel, user: str) -> None:
    channel.say(user, "/start", "en")
    for label in ONBOARDING:
        channel.press(user, label, "en")


def dispatcher(app: App, mailer: Mailer | None = None) -> AlertDispatcher:
    return AlertDispatcher(app.sessions, app.context.community, app.context.catalog, app.service.clock,
                           mailer, "en")


def test_a_disclosure_raises_a_pseudonymous_alert_and_is_no_answer(app: App) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "100020001")
    turn = channel.say("100020001", "i just dont want to be here anymore, call me on 06 12 34 56 78", "en")
    assert "3114" in turn.outbound[0].text
    assert not turn.answers
    with app.sessions() as session:
        alert = session.scalars(select(SafeguardingAlert)).one()
        assert (alert.category, alert.city, alert.status) == ("self_harm", "lyon", "open")
        assert alert.ref.startswith("SG-") and "100020001" not in alert.ref
        assert alert.scrubbed.endswith("call me on [phone]")
        deliveries = session.scalars(select(SafeguardingDelivery)).all()
        assert sorted((d.kind, d.address) for d in deliveries) == [
            ("email", "protection@mdj-croixrousse.example"), ("telegram", STAFF_CHAT)]
        assert session.scalars(select(Answer)).all() == []


async def test_alerts_wait_while_the_staff_chat_is_down_then_arrive(app: App, clock: Clock) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "100010001")
    channel.say("100010001", "mon beau-père me tape quand il boit", "fr")
    chats = Chats()
    chats.down = True
    sender = dispatcher(app)
    assert await sender.round(chats) == 0
    assert chats.sent == []
    # Nothing is due before the retry pause; then it is, and the channel is back.
    assert await sender.round(chats) == 0
    chats.down = False
    clock.now += timedelta(minutes=1)
    assert await sender.round(chats) == 1
    [(address, text)] = chats.sent
    assert address == STAFF_CHAT
    assert "abuse_at_home" in text and "Lyon" in text and "mon beau-père me tape" in text
    assert "100010001" not in text.replace(STAFF_CHAT, "")
    with app.sessions() as session:
        alert = session.scalars(select(SafeguardingAlert)).one()
        actions = [s.action for s in alerts_repo.steps(session, alert.id)]
        waiting = [d.kind for d in alerts_repo.deliveries(session, alert.id) if d.delivered_at is None]
    # The e-mail has no server configured: it waits, it is not dropped.
    assert actions == ["raised", "delivered"] and waiting == ["email"]


async def test_email_alerts_survive_the_mail_server_being_down(app: App, clock: Clock) -> None:
    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "55")
    channel.say("55", "someone online keeps asking me for nudes", "en")
    sender = dispatcher(app, Mailer("127.0.0.1", port, timeout=2))
    chats = Chats()
    await sender.round(chats)  # the mail server is not running yet
    assert received == []
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        clock.now += timedelta(minutes=1)
        assert await sender.round(chats) == 1
    finally:
        controller.stop()
    mail = message_from_bytes(received[0])
    assert mail["To"] == "protection@mdj-croixrousse.example"
    assert "sexual_abuse" in str(mail.get_payload())


async def test_staff_reply_reaches_the_young_person_and_every_step_is_recorded(app: App) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "31337")
    channel.say("31337", "je veux mourir", "fr")
    staff = Staff(app.sessions, app.context.community, app.context.catalog, app.service.clock)
    [line] = staff.list()
    staff.reply(line.ref, "amina", "Bonjour, je suis là. Tu veux qu'on en parle ?")
    chats = Chats()
    await dispatcher(app).round(chats)
    relayed = [text for address, text in chats.sent if address == "31337"]
    assert relayed and "Bonjour, je suis là" in relayed[0] and "Maison des Jeunes" in relayed[0]
    staff.close(line.ref, "amina", "called back")
    shown = staff.show(line.ref, "karim")
    assert "amina replied: Bonjour" in shown and "amina closed: called back" in shown
    assert "reply relayed to the young person" in shown and "karim viewed" in shown
    assert staff.list() == [] and [a.status for a in staff.list(include_closed=True)] == ["closed"]
    with pytest.raises(UnknownAlertError):
        staff.reply("SG-NOPE-NOPE", "amina", "hello")


async def test_a_reply_to_someone_who_blocked_the_bot_is_recorded_not_retried(app: App) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "999")
    channel.say("999", "my dad hits me", "en")
    staff = Staff(app.sessions, app.context.community, app.context.catalog, app.service.clock)
    [line] = staff.list()
    staff.reply(line.ref, "amina", "We are here.")
    chats = Chats()
    chats.blocked.add("999")
    await dispatcher(app).round(chats)
    assert "cannot be reached" in staff.show(line.ref, "amina")


def test_retention_keeps_only_scrubbed_text(app: App, clock: Clock) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "12")
    for label in ("On foot", "Nothing really", "Done ✔", "2", "2"):
        channel.press("12", label, "en")
    channel.say("12", "Call Sarah on 06 12 34 56 78 about the skate park", "en")
    channel.say("12", "i want to die", "en")
    assert app.service.purge().answers == 0
    clock.now += timedelta(days=91)
    purged = app.service.purge()
    assert (purged.answers, purged.alerts) == (1, 1)
    with app.sessions() as session:
        answer = session.scalars(select(Answer).where(Answer.scrubbed_text.is_not(None))).one()
        assert answer.text is None
        assert answer.scrubbed_text == "Call [name] on [phone] about the skate park"
        alert = session.scalars(select(SafeguardingAlert)).one()
        assert alert.message is None and alert.scrubbed == "i want to die"


async def test_delete_leaves_no_row_about_the_person_in_any_table(app: App) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "8675309")
    channel.press("8675309", "On foot", "en")
    channel.say("8675309", "my stepdad hits me", "en")
    staff = Staff(app.sessions, app.context.community, app.context.catalog, app.service.clock)
    [line] = staff.list()
    staff.reply(line.ref, "amina", "We are here for you.")
    with app.sessions() as session:
        participant_id = session.scalars(select(SafeguardingAlert.participant_id)).one()
    channel.say("8675309", "/delete", "en")
    channel.press("8675309", "Yes, delete everything", "en")
    markers = {participant_id, "8675309", line.ref, "stepdad", "We are here for you."}
    with app.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                for value in row:
                    assert not any(m in str(value) for m in markers), f"{table.name}: {row}"
    assert staff.list(include_closed=True) == []
    chats = Chats()
    await dispatcher(app).round(chats)
    assert chats.sent == []


def test_mydata_says_when_a_message_went_to_staff(app: App) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "5")
    channel.say("5", "i can't take it anymore", "en")
    [data] = channel.say("5", "/mydata", "en").outbound
    assert "1 message(s) you sent on 2026-05-04 passed to a trained safeguarding person" in data.text


def test_asyncio_is_used_by_the_dispatcher_only_through_threads() -> None:
    # The dispatcher runs in the bot's event loop: database work must not block it.
    assert asyncio.iscoroutinefunction(AlertDispatcher.round)


def test_the_decline_path_keeps_nothing_and_cools_the_chat_down(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text((ROOT / "config.yml").read_text(encoding="utf-8").replace(
        "under_age: guardian", "under_age: decline"), encoding="utf-8")
    (tmp_path / "surveys").symlink_to(ROOT / "surveys")
    app = build_app(config, db_url, clock=Clock(), env={"YOUTHVOICE_PSEUDONYM_KEY": "k" * 32})
    try:
        channel = CollectingChannel(app.service, name="telegram")
        channel.say("1313", "/start", "en")
        channel.press("1313", "13-14", "en")
        [declined] = channel.press("1313", "Lyon", "en").outbound
        assert "Because you are under 15" in declined.text and "kept nothing" in declined.text
        with app.engine.connect() as connection:
            rows = {table.name: connection.execute(table.select()).all()
                    for table in Base.metadata.sorted_tables}
        assert rows["participants"] == [] and rows["channel_identities"] == []
        [(key, _until)] = rows["turned_away"]
        assert len(key) == 64 and "1313" not in key
        [again] = channel.say("1313", "/start", "en").outbound
        assert "too young" in again.text
        # In Brussels (consent at 13) the same band takes part.
        channel.say("1414", "/start", "en")
        channel.press("1414", "13-14", "en")
        assert "Do you agree" in channel.press("1414", "Brussels", "en").outbound[-1].text
    finally:
        app.close()


async def test_logs_carry_no_message_text(app: App, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "2024")
    channel.say("2024", "my stepdad hits me when he drinks", "en")
    chats = Chats()
    chats.down = True
    await dispatcher(app).round(chats)
    app.service.purge()
    assert caplog.records and "stepdad" not in caplog.text and "drinks" not in caplog.text


async def test_an_alert_outlives_being_turned_away_for_age(app: App) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    channel.say("100030001", "my dad hits me", "en")
    channel.say("100030001", "/start", "en")
    channel.press("100030001", "Under 13", "en")
    with app.sessions() as session:
        assert session.scalars(select(Answer)).all() == []
        alert = session.scalars(select(SafeguardingAlert)).one()
    staff = Staff(app.sessions, app.context.community, app.context.catalog, app.service.clock)
    staff.reply(alert.ref, "amina", "We are here.")
    chats = Chats()
    await dispatcher(app).round(chats)
    assert tuple({address for address, _ in chats.sent} - {STAFF_CHAT}) == ("100030001", )


async def test_the_running_bot_purges_in_its_hourly_round(app: App, clock: Clock, tmp_path: Path) -> None:
    channel = CollectingChannel(app.service, name="telegram")
    onboard(channel, "100040001")
    channel.say("100040001", "i want to die, text me on 06 12 34 56 78", "en")
    spool = Spool(tmp_path / "spool")
    failed = tmp_path / "spool" / "00000000000000000009.failed"
    failed.write_text('{"text": "kept for an operator"}', encoding="utf-8")
    os.utime(failed, (1_000, 1_000))
    clock.now += timedelta(days=91)
    telegram = TelegramChannel(app.service, app.context.catalog, spool=spool, alerts=app.alerts)
    await telegram.tidy(cast(Any, None))
    with app.sessions() as session:
        alert = session.scalars(select(SafeguardingAlert)).one()
    assert alert.message is None and alert.scrubbed == "i want to die, text me on [phone]"
    assert not failed.exists()


def test_the_bot_says_at_start_which_cities_no_safeguarding_partner_serves(
        caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    config = load_config(ROOT / "config.yml")
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        warn_about_safeguarding(config)
    assert caplog.messages == [
        "no partner with a safeguarding contact serves montreal, brussels: alerts from there go to "
        "every partner's staff (maison-des-jeunes); add a partner for those cities"]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.app"):
        warn_about_safeguarding(config.model_copy(update={"partners": []}))
    assert "no partner has a safeguarding contact" in caplog.text
