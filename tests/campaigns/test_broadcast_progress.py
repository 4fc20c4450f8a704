"""What a partner reads while a broadcast runs into Telegram's flood limit: "invited" counts the
people Telegram accepted an invitation for and never goes down; what is not sent yet is told apart
(being sent, waiting for Telegram's limit, to try again); what a stopped sender left on its way is
told as such, never as being sent."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot.app import App, build_app
from bot.broadcast import BroadcastSettings, Flooded, Progress, Sent, progress_of
from bot.cli import main
from bot.engine.messages import Outbound
from storage import campaign_reports as reports
from storage import invitations as queue
from storage.models import Invitation, Participant, Participation, SurveyCompletion
from tests.campaigns.test_broadcast import (
    NOON,
    broadcaster,
    prepare,
    publish_campaign,
    send_command,
    statuses,
)
from tests.campaigns.test_broadcast import app as app  # the deployment, on SQLite and PostgreSQL
from tests.support.bot_api_double import BotApiDouble
from tests.support.deployment import seed_participants


def figures(app: App) -> tuple[int, Progress]:
    """The status page's figures, counted as the page counts them."""
    with app.sessions() as session:
        groups = reports.progress_by_group(session, "quartier", [], "telegram")
        progress = Progress(queue.counts(session, "quartier", app.service.clock()),
                            queue.next_due(session, "quartier"))
    return sum(counts["invited"] for counts in groups.values()), progress


class FloodLimit:
    """Telegram answering 429 (wait 30 s) to the first `refusals` sends. Each send first reads the
    figures, as a status page reloaded at that moment would, while its row is `sending`."""

    def __init__(self, app: App, refusals: int) -> None:
        self.app = app
        self.refusals = refusals
        self.seen: list[tuple[int, Progress]] = []
        self.sent: list[str] = []

    async def __call__(self, address: str, _message: Outbound) -> Sent | Flooded:
        self.seen.append(figures(self.app))
        if self.refusals > 0:
            self.refusals -= 1
            return Flooded(30)
        self.sent.append(address)
        return Sent.SENT


async def test_invited_never_goes_down_through_flood_waits(app: App) -> None:
    chats = seed_participants(app.sessions, 10)
    publish_campaign(app)
    # Seven refusals for each, more than the attempts after which an invitation fails.
    telegram = FloodLimit(app, refusals=70)
    sender = broadcaster(app, telegram)
    now = [NOON]
    sender.clock = lambda: now[0]
    sender.planner.plan()
    after_rounds: list[tuple[int, Progress]] = []
    while telegram.refusals or len(telegram.sent) < len(chats):
        if not await sender.round():
            # Nothing due: Telegram's wait is over 30 s later.
            now[0] += timedelta(seconds=31)
            continue
        after_rounds.append(figures(app))
    await sender.budget.aclose()

    invited = [n for n, _ in telegram.seen + after_rounds]
    assert invited == sorted(invited), invited
    assert invited[-1] == 10 and sorted(telegram.sent) == sorted(str(c) for c in chats)
    # While the invitations were in flight they were counted as being sent, not as invited.
    assert telegram.seen[0][0] == 0 and telegram.seen[0][1].sending == 10
    # After the first round all ten wait for Telegram's limit, due when its wait is over.
    first_invited, first = after_rounds[0]
    assert first_invited == 0 and first.telegram_limit == 10 and first.waiting == 10
    assert first.next_due == NOON + timedelta(seconds=30)
    # Telegram's pace is not a failed attempt: nobody's invitation failed, each left once.
    assert statuses(app) == Counter({"sent": 10})
    with app.sessions() as session:
        assert session.scalar(select(func.max(Invitation.attempts))) == 1
    final = figures(app)[1]
    assert (final.waiting, final.sending, final.telegram_limit, final.sent) == (0, 0, 0, 10)


async def test_unreachable_telegram_is_told_apart_and_still_fails_in_the_end(
        app: App, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed_participants(app.sessions, 3)
    publish_campaign(app)

    async def unreachable(_address: str, _message: Outbound) -> Sent:
        return Sent.RETRY

    sender = broadcaster(app, unreachable)
    now = [NOON]
    sender.clock = lambda: now[0]
    sender.planner.plan()
    assert await sender.round()
    invited, progress = figures(app)
    assert (invited, progress.unreachable, progress.telegram_limit) == (0, 3, 0)
    assert main(["--config", str(tmp_path / "config.yml"), "--database", db_url, "campaign", "status",
                 "quartier"]) == 0
    assert "Not sent yet: 3 to try again (Telegram could not be reached)." in capsys.readouterr().out
    for _ in range(10):
        now[0] += timedelta(hours=1)
        await sender.round()
    await sender.budget.aclose()
    assert statuses(app) == Counter({"failed": 3})


def test_invited_never_goes_down_while_the_bot_api_answers_429(tmp_path: Path, db_url: str) -> None:
    """`campaign send --wait` (its own process, like the running bot) against a Bot API that
    refuses what goes beyond 10 messages a second, while the figures are read again and again."""
    people = 60
    config = prepare(tmp_path, db_url, people, rate=30)
    app = build_app(config, db_url)
    samples: list[tuple[int, Progress]] = []
    try:
        with BotApiDouble(flood_above=10) as double:
            sender = send_command(config, db_url, double)
            deadline = time.monotonic() + 120
            while sender.poll() is None and time.monotonic() < deadline:
                samples.append(figures(app))
                time.sleep(0.03)
            output, _ = sender.communicate(timeout=60)
            floods = double.floods
            chats = Counter(message.chat_id for message in double.sent())
        samples.append(figures(app))
    finally:
        app.close()
    assert sender.returncode == 0 and b"Done: 60 sent" in output, output
    assert floods > 0 and len(chats) == people and max(chats.values()) == 1
    invited = [n for n, _ in samples]
    assert invited == sorted(invited), invited
    assert invited[-1] == people
    assert any(progress.telegram_limit for _, progress in samples)


async def test_what_a_killed_sender_left_on_its_way_is_told_apart_and_never_sent_again(
        app: App, tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A round of three waves of ten: the first one answered, the second one out when the sender
    dies (its task cancelled, as a kill leaves it: nothing more written), the third one claimed."""
    chats = seed_participants(app.sessions, 30)
    publish_campaign(app)
    answered: list[str] = []
    out: list[str] = []
    never = asyncio.Event()

    async def telegram(address: str, _message: Outbound) -> Sent:
        if len(answered) < 10:
            answered.append(address)
            return Sent.SENT
        out.append(address)
        await never.wait()
        return Sent.SENT

    sender = broadcaster(app, telegram)
    sender.settings = BroadcastSettings(batch_seconds=0.03, waves_per_second=100)
    sender.planner.plan()
    round_ = asyncio.create_task(sender.round())
    while len(out) < 10:
        await asyncio.sleep(0.01)
    round_.cancel()
    with pytest.raises(asyncio.CancelledError):
        await round_
    await sender.budget.aclose()
    # The wave Telegram answered is counted at once; only the wave in flight is unsettled.
    assert statuses(app) == Counter({"sent": 10, "sending": 10, "claimed": 10})
    lease = sender.settings.lease
    during = progress_of(app.sessions, "quartier", NOON + lease - timedelta(seconds=1))
    assert (during.sent, during.sending, during.interrupted, during.queued) == (10, 20, 0, 0)
    # Once the leases ran out: the claimed wave is back in the queue for any worker, the wave in
    # flight may have arrived and is not counted as being sent any more.
    after = progress_of(app.sessions, "quartier", NOON + lease + timedelta(seconds=1))
    assert (after.sent, after.sending, after.interrupted, after.queued) == (10, 0, 10, 10)
    assert after.waiting == 10 and after.done == 20
    # Another worker sends what was only claimed, and never what may have arrived.
    later: list[str] = []

    async def recorded(address: str, _message: Outbound) -> Sent:
        later.append(address)
        return Sent.SENT

    other = broadcaster(app, recorded, "w2")
    other.clock = lambda: NOON + lease + timedelta(seconds=1)
    while await other.round():
        pass
    await other.budget.aclose()
    assert sorted(answered + out + later) == sorted(str(c) for c in chats)
    final = progress_of(app.sessions, "quartier", NOON + lease + timedelta(seconds=2))
    assert (final.sent, final.interrupted, final.waiting, final.sending) == (20, 10, 0, 0)
    assert main(["--config", str(tmp_path / "config.yml"), "--database", db_url, "campaign", "status",
                 "quartier"]) == 0
    printed = capsys.readouterr().out
    assert "10 invitations may have arrived: the sender stopped while sending them. Not sent " \
           "again, so that nobody is invited twice." in printed
    assert "being sent now" not in printed and "Not sent yet" not in printed


async def test_the_campaign_list_counts_what_the_status_page_counts(app: App) -> None:
    chats = seed_participants(app.sessions, 8)
    publish_campaign(app)
    # Two refusals: those two are still waiting while six were invited.
    telegram = FloodLimit(app, refusals=2)
    sender = broadcaster(app, telegram)
    sender.clock = lambda: NOON
    sender.planner.plan()
    await sender.round()
    await sender.budget.aclose()
    with app.sessions.begin() as session:
        participants = session.scalars(select(Invitation.participant_id).where(Invitation.status == "sent")
                                       .order_by(Invitation.participant_id).limit(3)).all()
        session.add_all(SurveyCompletion(participant_id=p, campaign_id="quartier", campaign_version=1,
                                         completed_at=NOON) for p in participants)
    with app.sessions() as session:
        groups = reports.progress_by_group(session, "quartier", [], "telegram")
        listed = reports.totals(session, ["quartier", "nothing-yet"])
    page: Counter[str] = Counter()
    for counts in groups.values():
        page.update(counts)
    assert len(chats) == 8 and (page["invited"], page["completed"]) == (6, 3)
    assert listed == {"quartier": Counter({"invited": 6, "completed": 3}), "nothing-yet": Counter()}


def test_each_figure_counts_its_own_people_per_group(app: App) -> None:
    younger = [f"{chat:032x}" for chat in seed_participants(app.sessions, 6)]
    older = [f"{chat:032x}" for chat in seed_participants(app.sessions, 3, age_band="18-20",
                                                         first_chat=800_000)]

    def invitation(participant: str, status: str, *, kind: str = "invitation",
                   response: str | None = None) -> Invitation:
        return Invitation(campaign_id="quartier", campaign_version=1, participant_id=participant, kind=kind,
                          status=status, due_at=NOON, attempts=1, created_at=NOON, response=response)

    with app.sessions.begin() as session:
        session.add_all([
            invitation(younger[0], "sent"), invitation(younger[0], "sent", kind="reminder"),
            invitation(younger[1], "sent", response="not_now"),
            invitation(younger[2], "failed"), invitation(younger[3], "blocked"),
            invitation(younger[4], "sent"), invitation(younger[5], "queued"),
            invitation(older[0], "sent"), invitation(older[1], "sent"),
            # Another campaign's rows count for nothing here.
            Invitation(campaign_id="autre", campaign_version=1, participant_id=older[2], kind="invitation",
                       status="sent", due_at=NOON, attempts=1, created_at=NOON),
        ])
        session.add_all(Participation(participant_id=p, campaign_id="quartier", campaign_version=1,
                                      started_at=NOON) for p in (younger[0], younger[4], older[0]))
        session.add_all(SurveyCompletion(participant_id=p, campaign_id="quartier", campaign_version=1,
                                         completed_at=NOON) for p in (younger[0], older[0]))
        session.execute(update(Participant).where(Participant.id == younger[4]).values(stopped_at=NOON))
    with app.sessions() as session:
        groups = reports.progress_by_group(session, "quartier", [], "telegram")
    assert groups == {
        ("lyon", "15-17"): Counter({"invited": 3, "failed": 1, "not_now": 1, "stopped": 2, "targeted": 1,
                                    "reminded": 1, "started": 2, "completed": 1}),
        ("lyon", "18-20"): Counter({"invited": 2, "started": 1, "completed": 1}),
    }
