"""A deployment with generated answers, a fixed clock and a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App, build_app, digest_service
from bot.config import CouncilConfig, EmailConfig, RecipientsConfig, Secrets, SmtpConfig
from digests.delivery import SmtpSender
from digests.example import Seeded, generate, store
from digests.periods import Period
from digests.service import DigestService
from tests.support.smtp import SmtpServer, smtp_server

ROOT = Path(__file__).resolve().parents[2]
# Monday 30 November 2026, 15:00 in Lyon and 09:00 in Montréal: both weekly digests (Monday 08:00
# local time) are due.
NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
LYON_PLACES = ["croix-rousse", "part-dieu", "guillotiere", "vaise", "mermoz", "confluence"]
MONTREAL_PLACES = ["plateau", "hochelaga", "verdun", "saint-michel", "ndg"]
BANDS = ["13-14", "15-17", "18-20", "21-24"]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Deployment:
    app: App
    clock: Clock
    service: DigestService
    lyon: Seeded
    montreal: Seeded
    week: Period

    def council(self, council_id: str) -> CouncilConfig:
        return self.service.council(council_id)


def councils(smtp_port: int | None) -> dict[str, object]:
    lyon = CouncilConfig(id="lyon-council", city="lyon", language="fr",
                         recipients=RecipientsConfig(email=["jeunesse@lyon.example"]))
    montreal = CouncilConfig(id="montreal-council", city="montreal", language="en",
                             recipients=RecipientsConfig(email=["youth@montreal.example",
                                                                "mayor@montreal.example"]))
    brussels = CouncilConfig(id="brussels-council", city="brussels", language="fr",
                             recipients=RecipientsConfig(email=["jeunesse@bruxelles.example"]))
    smtp = SmtpConfig(host="127.0.0.1", port=smtp_port, security="none", timeout=5) if smtp_port else None
    return {"councils": [lyon, montreal, brussels],
            "email": EmailConfig(sender="YouthVoice <digests@youthvoice.example>", smtp=smtp)}


def deploy(db_url: str, smtp_port: int | None, outbox: Path, people: int = 60) -> Deployment:
    clock = Clock(NOW)
    app = build_app(ROOT / "config.yml", db_url, clock=clock)
    app.config = app.config.model_copy(update=councils(smtp_port))
    app.config = app.config.model_copy(update={"email": app.config.email.model_copy(
        update={"outbox": str(outbox)})})
    service = digest_service(app, Secrets({}), clock=clock)
    if isinstance(service.smtp, SmtpSender):
        service.smtp = SmtpSender(service.smtp.config, pause=0)
    week = service.default_period(service.council("lyon-council"))
    montreal_week = service.default_period(service.council("montreal-council")).utc()
    survey = app.context.campaigns[0]
    lyon = generate(survey, "lyon", LYON_PLACES, BANDS, people, week.utc().start, week.utc().end, seed=7)
    montreal = generate(survey, "montreal", MONTREAL_PLACES, BANDS, people, montreal_week.start,
                        montreal_week.end, seed=8)
    with app.sessions.begin() as session:
        store(session, lyon, NOW)
        store(session, montreal, NOW)
    return Deployment(app, clock, service, lyon, montreal, week)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def deployment(db_url: str, smtp: SmtpServer, tmp_path: Path) -> Iterator[Deployment]:
    deployed = deploy(db_url, smtp.port, tmp_path / "outbox")
    yield deployed
    deployed.app.close()
