"""The broadcaster: the right people, once, at the deployment's rate, through kills and 403s."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.app import App, build_app
from bot.broadcast import Broadcaster, BroadcastSettings, Planner, Send, Sent
from bot.campaigns import LiveCatalogue, publish
from bot.engine.loader import load_survey
from bot.engine.messages import Outbound
from bot.rate_budget import Limits, RateBudget
from storage.models import Invitation, Participant
from tests.support.bot_api_double import BotApiDouble
from tests.support.deployment import ROOT, campaign_text, seed_participants, write_deployment

NOON = datetime(2026, 12, 1, 11, 0, tzinfo=UTC)  # 12:00 in Lyon


class Recorder:
    """A channel that records what it was asked to send; some chats answer 403."""

    def __init__(self, blocked: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, Outbound]] = []
        self.blocked = blocked

    async def __call__(self, address: str, message: Outbound) -> Sent:
        if address in self.blocked:
            return Sent.BLOCKED
        self.sent.append((address, message))
        return Sent.SENT


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    clock = [NOON]
    built = build_app(write_deployment(tmp_path, rate=1000, seeds=False), db_url,
                      clock=lambda: clock[0])
    built.catalogue.every = 0
    yield built
    built.close()


def publish_campaign(app: App, text: str | None = None) -> None:
    text = text or campaign_text()
    with app.sessions.begin() as session:
        publish(session, app.config, load_survey(text, "c.yml", app.config.community()), text,
                "maison-des-jeunes", app.service.clock())


def broadcaster(app: App, send: Send, worker: str = "w1") -> Broadcaster:
    planner = Planner(app.sessions, app.config, app.catalogue, app.service.clock)
    budget = RateBudget(app.sessions, "test", Limits(per_second=1000))
    return Broadcaster(planner, app.service.catalog, budget, send,
                         mark_stopped=lambda address: app.service.mark_stopped("telegram", address),
                         worker=worker, settings=BroadcastSettings(batch_seconds=0.02))


async def drain(sender: Broadcaster) -> None:
    sender.planner.plan()
    while await sender.round():
        pass
    await sender.budget.aclose()


def statuses(app: App) -> Counter[str]:
    with app.sessions() as session:
        return Counter(dict(session.execute(select(Invitation.status, func.count())
                                            .group_by(Invitation.status)).all()))


async def test_only_consented_targeted_reachable_people_are_invited_once(app: App) -> None:
    chats = seed_participants(app.sessions, 30, city="lyon")
    seed_participants(app.sessions, 5, city="brussels", first_chat=900_000)
    seed_participants(app.sessions, 5, city="lyon", age_band="21-24", first_chat=910_000)
    with app.sessions.begin() as session:
        session.execute(update(Participant)
                        .where(Participant.id == f"{chats[0]:032x}").values(stopped_at=NOON))
    publish_campaign(app, campaign_text(extra='age_bands: ["15-17"]\n'))
    recorder = Recorder(blocked=frozenset({str(chats[1])}))
    await drain(broadcaster(app, recorder))
    addresses = Counter(address for address, _ in recorder.sent)
    assert set(addresses) == {str(c) for c in chats[2:]} and max(addresses.values()) == 1
    message = recorder.sent[0][1]
    assert message.text.startswith("Un nouveau questionnaire pour toi : « Ton quartier »")
    assert [c.label for c in message.choices] == ["Commencer ▶", "Pas maintenant"]
    assert [c.data for c in message.choices] == ["i:quartier:go", "i:quartier:later"]
    assert statuses(app) == Counter({"sent": 28, "blocked": 1})
    with app.sessions() as session:
        blocked = session.get(Participant, f"{chats[1]:032x}")
        assert blocked is not None and blocked.stopped_at is not None
    # Nothing more is ever sent to the same people.
    again = Recorder()
    await drain(broadcaster(app, again))
    assert again.sent == []


async def test_stop_and_close_withdraw_what_was_not_sent_yet(app: App) -> None:
    chats = seed_participants(app.sessions, 10)
    publish_campaign(app)
    sender = broadcaster(app, Recorder())
    sender.planner.plan()
    app.service.mark_stopped("telegram", str(chats[0]))
    from storage import campaign_store
    with app.sessions.begin() as session:
        campaign_store.close_run(session, "quartier", NOON)
    recorder = Recorder()
    await drain(broadcaster(app, recorder))
    assert recorder.sent == []
    assert statuses(app) == Counter({"dropped": 10})


async def test_at_night_claimed_invitations_go_back_until_the_morning(app: App, tmp_path: Path) -> None:
    seed_participants(app.sessions, 3)
    publish_campaign(app)
    sender = broadcaster(app, Recorder())
    sender.planner.plan()
    night = [datetime(2026, 12, 1, 21, 30, tzinfo=UTC)]  # 22:30 in Lyon
    sender.clock = lambda: night[0]
    recorder = Recorder()
    sender.send = recorder
    assert await sender.round() == 1
    assert recorder.sent == []
    with app.sessions() as session:
        dues = set(session.scalars(select(Invitation.due_at)).all())
    assert dues == {datetime(2026, 12, 2, 7, 0, tzinfo=UTC)}  # 08:00 in Lyon


async def test_two_broadcasters_together_never_send_the_same_invitation(app: App) -> None:
    chats = seed_participants(app.sessions, 200)
    publish_campaign(app)
    first, second = Recorder(), Recorder()
    one, two = broadcaster(app, first, "w1"), broadcaster(app, second, "w2")
    one.planner.plan()

    async def run(sender: Broadcaster) -> None:
        while await sender.round():
            pass
        await sender.budget.aclose()

    await asyncio.gather(run(one), run(two))
    everyone = Counter(address for address, _ in first.sent + second.sent)
    assert set(everyone) == {str(c) for c in chats} and max(everyone.values()) == 1


# Through the command line, over HTTP, killed with SIGKILL part way.


def send_command(config: Path, database: str, double: BotApiDouble) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TELEGRAM_API_URL": double.url, "TELEGRAM_BOT_TOKEN": double.token}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--config", str(config), "--database", database,
         "campaign", "send", "quartier", "--wait"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def prepare(tmp_path: Path, database: str, people: int, rate: float) -> Path:
    config = write_deployment(tmp_path, rate=rate, quiet=("00:00", "00:00"), seeds=False)
    app = build_app(config, database)
    try:
        seed_participants(app.sessions, people)
        publish_campaign(app)
    finally:
        app.close()
    return config


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ten_thousand_invited_exactly_once_through_a_kill_9(tmp_path: Path, db_url: str) -> None:
    people = 10_000
    config = prepare(tmp_path, db_url, people, rate=1000)
    with BotApiDouble() as double:
        sender = send_command(config, db_url, double)
        wait_for(lambda: len(double.sent()) >= 3_000, 120)
        os.kill(sender.pid, signal.SIGKILL)
        sender.communicate()
        at_kill = len(double.sent())
        assert at_kill < people
        restarted = send_command(config, db_url, double)
        output, _ = restarted.communicate(timeout=300)
        assert restarted.returncode == 0
        invited = Counter(message.chat_id for message in double.sent())
    assert b"Done: " in output
    assert len(invited) == people and max(invited.values()) == 1


@pytest.mark.postgres
def test_two_workers_share_one_rate_and_never_the_same_invitation(tmp_path: Path,
                                                                  postgres_url: str) -> None:
    from tests.support.postgres import reset_schema
    reset_schema(postgres_url)
    people, rate = 1_500, 100
    config = prepare(tmp_path, postgres_url, people, rate=rate)
    with BotApiDouble() as double:
        workers = [send_command(config, postgres_url, double) for _ in range(2)]
        for worker in workers:
            worker.communicate(timeout=300)
            assert worker.returncode == 0
        sent = double.sent()
    invited = Counter(message.chat_id for message in sent)
    assert len(invited) == people and max(invited.values()) == 1
    times = sorted(message.at for message in sent)
    # No second of the run carries more than the rate (a reserved block may straddle a boundary).
    busiest = max(sum(1 for t in times[i:i + rate + 10] if t - times[i] < 1.0)
                  for i in range(0, len(times), 25))
    assert busiest <= rate * 1.1
    assert times[-1] - times[0] >= (people / rate) * 0.9


def test_invitations_queued_elsewhere_for_a_campaign_just_published_are_sent(app: App) -> None:
    """A worker whose campaigns were loaded a moment ago, before the partner published and pressed
    Send in the console (another process), sends the invitations; it does not drop them."""
    seed_participants(app.sessions, 4, city="lyon")
    app.catalogue.every = 3600
    app.catalogue.current()
    publish_campaign(app)
    elsewhere = Planner(app.sessions, app.config, LiveCatalogue(app.sessions, app.config, every=0),
                        app.service.clock)
    assert elsewhere.plan("quartier") == 4
    send = Recorder()

    async def one_pass() -> None:
        sender = broadcaster(app, send)
        while await sender.round():
            pass
        await sender.budget.aclose()

    asyncio.run(one_pass())
    assert len(send.sent) == 4 and statuses(app) == Counter({"sent": 4})
