"""A deployment in a temporary folder for campaign tests and benchmarks: config, campaign, people.

    root = write_deployment(tmp_path, rate=500)       # config.yml and campaign.yml under tmp_path
    seed_participants(sessions, 10_000, city="lyon")  # consented, reachable on Telegram
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from storage.models import ChannelIdentity, ConsentRecord, Participant

ROOT = Path(__file__).resolve().parents[2]
FIRST_CHAT = 700_000

CAMPAIGN = """\
schema: 1
id: {id}
version: {version}
title: {{fr: Ton quartier, en: Your neighbourhood}}
intro: {{fr: "Deux questions, 30 secondes.", en: "Two questions, 30 seconds."}}
closing: {{fr: Merci !, en: Thank you!}}
cities: [{cities}]
{extra}questions:
  - id: like
    type: yes_no
    text: {{fr: "Tu aimes ton quartier ?", en: "Do you like your neighbourhood?"}}
  - id: {second}
    type: single_choice
    text: {{fr: "Que faudrait-il en plus ?", en: "What does it need most?"}}
    options:
      - {{id: parks, label: {{fr: Des parcs, en: Parks}}}}
      - {{id: sport, label: {{fr: Du sport, en: Sport}}}}
"""


def campaign_text(campaign_id: str = "quartier", *, version: int = 1, cities: str = "lyon",
                  extra: str = "", second: str = "need") -> str:
    return CAMPAIGN.format(id=campaign_id, version=version, cities=cities, extra=extra, second=second)


def write_deployment(folder: Path, *, rate: float = 25, quiet: tuple[str, str] = ("21:00", "08:00"),
                     min_group_size: int = 5, seeds: bool = True) -> Path:
    """config.yml as shipped, with this rate, these quiet hours and (optionally) no seed campaign."""
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    text = re.sub(r'quiet_hours:\n  start: "[0-9:]+"\n  end: "[0-9:]+"',
                  f'quiet_hours:\n  start: "{quiet[0]}"\n  end: "{quiet[1]}"', text)
    text = re.sub(r"broadcast:\n(  #.*\n)*  rate: [0-9.]+", f"broadcast:\n  rate: {rate}", text)
    text = re.sub(r"min_group_size: \d+", f"min_group_size: {min_group_size}", text)
    if seeds:
        (folder / "surveys").mkdir(exist_ok=True)
        (folder / "surveys" / "my-city.yml").write_text(
            (ROOT / "surveys" / "my-city.yml").read_text(encoding="utf-8"), encoding="utf-8")
    else:
        text = re.sub(r"campaigns:\n  - surveys/my-city.yml\n", "campaigns: []\n", text)
    (folder / "config.yml").write_text(text, encoding="utf-8")
    return folder / "config.yml"


def seed_participants(sessions: sessionmaker[Session], count: int, *, city: str = "lyon",
                      age_band: str = "15-17", language: str = "fr", first_chat: int = FIRST_CHAT,
                      neighbourhood: str | None = "croix-rousse") -> list[int]:
    """Consented participants reachable on Telegram, inserted in bulk; returns their chat ids."""
    now = datetime(2026, 11, 1, tzinfo=UTC)
    chats = list(range(first_chat, first_chat + count))
    ids = [f"{chat:032x}" for chat in chats]
    with sessions.begin() as session:
        session.execute(insert(Participant), [
            {"id": pid, "created_at": now, "language": language, "age_band": age_band, "city": city,
             "neighbourhood": neighbourhood, "stopped_at": None} for pid in ids])
        session.execute(insert(ChannelIdentity), [
            {"channel": "telegram", "external_id": str(chat), "participant_id": pid, "created_at": now}
            for chat, pid in zip(chats, ids, strict=True)])
        session.execute(insert(ConsentRecord), [
            {"participant_id": pid, "kind": "participation", "granted": True, "age_band": age_band,
             "notice_version": 1, "recorded_at": now} for pid in ids])
    return chats
