"""Council settings in config.yml are checked at start-up; each problem names its field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


BRUSSELS_ZONE = "    timezone: Europe/Brussels\n"


def with_councils(tmp_path: Path, councils: str, brussels_zone: str = BRUSSELS_ZONE) -> Path:
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    head, _, tail = text.partition("councils:\n")
    _, _, rest = tail.partition("\nemail:")
    config = tmp_path / "config.yml"
    config.write_text(head.replace(BRUSSELS_ZONE, brussels_zone)
                      + "councils:\n" + councils + "\nemail:" + rest, encoding="utf-8")
    return config


def problems(config: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return str(caught.value).splitlines()


def named(report: list[str], fields: tuple[str, ...], words: str) -> bool:
    """A line of the report names every one of ``fields`` and says ``words``."""
    return any(all(re.search(rf"\b{re.escape(field)}\b", line) for field in fields) and words in line
               for line in report)


def test_the_shipped_configuration_is_valid() -> None:
    config = load_config(ROOT / "config.yml")
    lyon = config.council("lyon-council")
    assert lyon is not None and lyon.min_cell_size == 5 and lyon.schedule.weekly is not None
    assert (lyon.schedule.weekly.day, lyon.schedule.weekly.time) == ("monday", "08:00")
    assert {city.id: city.timezone for city in config.cities} == {
        "lyon": "Europe/Paris", "montreal": "America/Toronto", "brussels": "Europe/Brussels"}


def test_every_faulty_council_setting_is_named(tmp_path: Path) -> None:
    config = with_councils(tmp_path, """\
  - id: lyon-council
    city: lyon
    language: de
    recipients: {email: [not-an-address]}
    schedule: {weekly: {day: mondy, time: "8h"}}
    min_cell_size: 1
  - id: montreal-council
    city: montreal
    language: en
    recipients: {}
""", brussels_zone="    timezone: Europe/Bruxelles\n")
    report = problems(config)
    for fields, words in ((("councils", "language"), "'en'"),
                          (("councils", "recipients", "email"), "'not-an-address' is not an email address"),
                          (("councils", "schedule", "weekly", "day"), "'monday'"),
                          (("councils", "schedule", "weekly", "time"), "'8h' is not a time of day"),
                          (("councils", "min_cell_size"), "2"),
                          (("councils", "recipients"),
                           "give at least one email address or a telegram_chat_id"),
                          (("cities", "timezone"), "'Europe/Bruxelles' is not a time zone name")):
        assert named(report, fields, words), (fields, words, report)


def test_a_telegram_chat_alone_is_enough_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    config = load_config(with_councils(tmp_path, """\
  - id: lyon-council
    city: lyon
    language: en
    recipients: {telegram_chat_id: -1001234}
    schedule: {weekly: null}
"""))
    (council,) = config.councils
    assert council.recipients.telegram_chat_id == -1001234 and council.recipients.email == []
    assert council.schedule.weekly is None and council.min_cell_size == 5
    assert council.schedule.on_campaign_close


def test_a_city_needs_its_time_zone(tmp_path: Path) -> None:
    config = with_councils(tmp_path, "  - id: a\n    city: lyon\n    language: fr\n    recipients: "
                                     "{email: [a@b.org]}\n", brussels_zone="")
    assert named(problems(config), ("cities", "timezone"), "")


def test_two_councils_cannot_share_an_id(tmp_path: Path) -> None:
    council = "  - id: same\n    city: lyon\n    language: fr\n    recipients: {email: [a@b.org]}\n"
    config = with_councils(tmp_path, council + council)
    assert named(problems(config), (), "two councils share an id")
