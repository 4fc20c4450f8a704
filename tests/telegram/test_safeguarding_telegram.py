"""Safeguarding end to end on the Telegram emulator, in French and English: the young person gets
the helplines, the staff chat gets the alert (after an outage of that chat), a staff reply reaches the
young person, and the message never becomes an answer that digests or exports read."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import App, build_app
from bot.channels.spool import Spool
from bot.channels.telegram import TelegramChannel, build_application
from bot.channels.telegram_intake import serving
from bot.staff import Staff
from storage import campaign_reports
from storage import safeguarding as alerts_repo
from storage.models import Answer, SafeguardingAlert
from tests.support.postgres import running_postgres
from tests.support.telegram import BotMessage, EmulatedBot
from tests.telegram.test_bot import FAST, Chat, onboard, until

pytestmark = pytest.mark.telegram
ROOT = Path(__file__).resolve().parents[2]
STAFF_CHAT = -1001000000001

FIRST_ANSWER = {"fr": ("À pied", "Qu'est-ce qui te gêne"), "en": ("On foot", "What gets in your way")}
CASES = {
    "fr": ("jveux disparaître", "3114", "Merci de me l'avoir dit", "self_harm",
           "Bonjour, je suis Amina de la Maison des Jeunes. Tu veux qu'on s'appelle ?"),
    "en": ("i just dont want to be here anymore", "Kids Help Phone", "Thank you for telling me",
           "self_harm", "Hi, I'm Amina, a youth worker. Would you like to talk?"),
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'bot.db'}"


@asynccontextmanager
async def youthvoice(bot: EmulatedBot, database: str, spool: Spool | None = None) -> AsyncIterator[App]:
    app = build_app(ROOT / "config.yml", database, env={})
    app.alerts.first_retry = timedelta(milliseconds=200)
    channel = TelegramChannel(app.service, app.context.catalog, FAST,
                              spool, alerts=app.alerts)
    application = build_application(channel, bot.token, base_url=bot.url)
    try:
        async with serving(application, channel, None, poll_timeout=1):
            yield app
    finally:
        app.close()


async def staff_alerts(bot: EmulatedBot, timeout: float = 10) -> list[BotMessage]:
    """The alerts in the staff chat, once there is one."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        found = [m for m in await bot.sent_messages(STAFF_CHAT) if "SG-" in (m.text or "")]
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError("no alert reached the staff chat")


def alert_attempts(app: App) -> list[int]:
    with app.sessions() as session:
        alert = session.scalars(select(SafeguardingAlert)).one_or_none()
        if alert is None:
            return []
        return [d.attempts for d in alerts_repo.deliveries(session, alert.id) if d.kind == "telegram"]


@pytest.mark.parametrize("language", ["fr", "en"])
async def test_a_disclosure_reaches_staff_and_their_reply_reaches_the_young_person(
        language: str, telegram_bot: EmulatedBot, database: str) -> None:
    disclosure, helpline, heard, category, reply = CASES[language]
    user = telegram_bot.user(language_code=language)
    chat = Chat(user)
    async with youthvoice(telegram_bot, database) as app:
        await onboard(chat, language)
        # The staff chat is unreachable when the alert is raised.
        await telegram_bot.inject_failure("drop", chat_id=STAFF_CHAT, times=None)
        await chat.press(*FIRST_ANSWER[language])
        answer = await chat.say(disclosure, heard)
        assert helpline in (answer.text or "")
        assert "delete" not in (answer.text or "").lower() and "effacer" not in (answer.text or "")
        await until(lambda: any(a >= 1 for a in alert_attempts(app)), "a failed delivery to staff")
        assert await telegram_bot.sent_messages(STAFF_CHAT) == []
        await telegram_bot.clear_failures()

        [alert_message] = await staff_alerts(telegram_bot)
        text = alert_message.text or ""
        assert category in text and disclosure in text and str(user.chat_id) not in text

        with app.sessions() as session:
            ref = session.scalars(select(SafeguardingAlert.ref)).one()
            texts = [a.text for a in session.scalars(select(Answer))]
            exported = [repr(row) for row in campaign_reports.answers_of(session, "my-city")]
        assert ref in text
        # Never an answer: not in what digests read, not in the campaign export.
        assert disclosure not in " ".join(t or "" for t in texts)
        assert exported and not any(disclosure in row for row in exported)

        after = await chat.latest()
        Staff(app.sessions, app.context.community, app.context.catalog, app.service.clock).reply(
            ref, "amina", reply)
        relayed = await chat.expect(after, reply)
        assert "Amina" in (relayed.text or "")


@pytest.mark.postgres
@pytest.mark.parametrize("language", ["fr", "en"])
async def test_a_disclosure_during_a_database_outage_gets_the_helplines_at_once(
        language: str, telegram_bot: EmulatedBot, tmp_path: Path) -> None:
    disclosure, _helpline, heard, category, _reply = CASES[language]
    user = telegram_bot.user(language_code=language)
    chat = Chat(user)
    with running_postgres() as server:
        database = server.create_database("outage")
        spool = Spool(tmp_path / "spool")
        async with youthvoice(telegram_bot, database, spool=spool) as app:
            await onboard(chat, language)
            server.stop()
            answer = await chat.say(disclosure, heard)
            # Every country's helplines: the conversation (and its city) cannot be read now.
            assert "3114" in (answer.text or "") and "Kids Help Phone" in (answer.text or "")
            assert await telegram_bot.sent_messages(STAFF_CHAT) == []
            server.start()
            [alert] = await staff_alerts(telegram_bot, timeout=30)
            assert category in (alert.text or "") and disclosure in (alert.text or "")
            await until(lambda: len(spool) == 0, "the spool to empty")
            with app.sessions() as session:
                assert session.scalars(select(SafeguardingAlert.city)).one() == (
                    "lyon" if language == "fr" else "montreal")
