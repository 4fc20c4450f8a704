"""`youthvoice council reply`: once, through the broadcaster, to the young people of the city who
took part and did not /stop, each in their language; the next digest says how many received it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.app import App, build_app, digest_service
from bot.broadcast import Broadcaster, BroadcastSettings, Planner
from bot.cli import main
from bot.config import Secrets
from bot.rate_budget import Limits, RateBudget
from digests.render import render
from storage.models import CouncilReply, Invitation, Participant
from storage.records import AnswerIn
from storage.repositories import save_answer
from tests.campaigns.test_broadcast import Recorder
from tests.support.deployment import seed_participants

ROOT = Path(__file__).resolve().parents[2]
# Tuesday 1 December 2026, 11:00 in Lyon: outside quiet hours.
NOON = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[App, str]]:
    url = f"sqlite:///{tmp_path / 'reply.db'}"
    clock = [NOON]
    app = build_app(ROOT / "config.yml", url, clock=lambda: clock[0])
    app.catalogue.every = 0
    yield app, url
    app.close()


def took_part(app: App, chats: list[int]) -> None:
    with app.sessions.begin() as session:
        for chat in chats:
            save_answer(session, AnswerIn(participant_id=f"{chat:032x}", campaign_id="my-city",
                                          campaign_version=1, question_id="getting_around",
                                          option_ids=["bus"], number=None, text=None, skipped=False,
                                          language="fr", answered_at=NOON - timedelta(days=3)))


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def send_all(app: App) -> Recorder:
    recorder = Recorder()
    planner = Planner(app.sessions, app.config, app.catalogue, app.service.clock)
    budget = RateBudget(app.sessions, "test", Limits(per_second=1000))
    sender = Broadcaster(planner, app.service.catalog, budget, recorder,
                         mark_stopped=lambda address: app.service.mark_stopped("telegram", address),
                         settings=BroadcastSettings(batch_seconds=0.5))
    while await sender.round():
        pass
    await budget.aclose()
    return recorder


async def test_the_reply_reaches_those_who_took_part_once_in_their_language(
        deployment: tuple[App, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app, url = deployment
    french = seed_participants(app.sessions, 5, city="lyon")
    english = seed_participants(app.sessions, 2, city="lyon", language="en", first_chat=600_000)
    silent = seed_participants(app.sessions, 3, city="lyon", first_chat=610_000)
    montreal = seed_participants(app.sessions, 3, city="montreal", first_chat=620_000)
    took_part(app, french + english + montreal)
    with app.sessions.begin() as session:
        session.execute(update(Participant).where(Participant.id == f"{french[0]:032x}")
                        .values(stopped_at=NOON))
    arguments = ["--config", str(ROOT / "config.yml"), "--database", url, "council", "reply",
                 "--council", "lyon-council", "--campaign", "my-city",
                 "--fr", str(write(tmp_path, "fr.txt", "Vous avez dit : plus de bus le soir. <b>Nous</b> "
                                   "ajoutons deux lignes dès janvier.\n")),
                 "--en", str(write(tmp_path, "en.txt", "You said: more buses at night. We add two lines "
                                   "from January.\n"))]
    assert main(arguments) == 0
    assert "6 young people of lyon who took part in my-city will receive" in capsys.readouterr().out
    with app.sessions.begin() as session:
        # The command ran on the real clock; the test's runs at noon on 1 December.
        session.execute(update(Invitation).values(due_at=NOON, created_at=NOON))
        session.execute(update(CouncilReply).values(created_at=NOON))
    recorder = await send_all(app)
    received = {address: message.text for address, message in recorder.sent}
    assert set(received) == {str(chat) for chat in french[1:] + english}
    assert received[str(french[1])] == ("Vous avez dit : plus de bus le soir. <b>Nous</b> ajoutons deux "
                                        "lignes dès janvier.")
    assert received[str(english[0])] == "You said: more buses at night. We add two lines from January."
    assert not set(received) & {str(chat) for chat in silent + montreal}

    # Once: a second reply about the same campaign is refused, and nothing goes again.
    assert main(arguments) == 1
    assert "already replied about my-city" in capsys.readouterr().err
    assert (await send_all(app)).sent == []

    service = digest_service(app, Secrets({}), clock=lambda: NOON + timedelta(days=6))
    lyon = service.council("lyon-council")
    digest = service.build(lyon, service.default_period(lyon))
    assert digest.reply_reached == 6
    assert "Votre dernière réponse aux jeunes a été reçue par 6 d'entre eux." in render(digest).text


@pytest.mark.parametrize(("content", "error"), [
    ("", "the French answer is empty"),
    ("x" * 4097, "the French answer has 4097 characters; a Telegram message holds at most 4096"),
])
def test_a_reply_that_cannot_go_is_explained(deployment: tuple[App, str], tmp_path: Path, content: str,
                                             error: str, capsys: pytest.CaptureFixture[str]) -> None:
    _, url = deployment
    assert main(["--config", str(ROOT / "config.yml"), "--database", url, "council", "reply", "--council",
                 "lyon-council", "--campaign", "my-city", "--fr", str(write(tmp_path, "fr.txt", content)),
                 "--en", str(write(tmp_path, "en.txt", "ok"))]) == 2
    assert error in capsys.readouterr().err
