"""Protection settings in config.yml are checked at start-up, each problem named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    assert old in text
    config = tmp_path / "config.yml"
    config.write_text(text.replace(old, new), encoding="utf-8")
    return config


def problem(config: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    return str(caught.value)


@pytest.mark.parametrize(("old", "new", "said"), [
    ("  BE: {digital_consent_age: 13,", "  BE: {digital_consent_age: 12,",
     "BE, digital_consent_age should be at least 13"),
    ("  under_age: guardian", "  under_age: maybe",
     "consent, under_age should be one of 'decline' or 'guardian'"),
    ("    country: CA\n", "    country: Canada\n", "cities, item 2, country"),
    ("      telegram_chat: -1001000000001\n      email: protection@mdj-croixrousse.example\n", "      {}\n",
     "needs telegram_chat, email or both"),
    ("languages: [fr], countries: [BE],\n     hours: {fr: \"tous les jours 10h-24h",
     "languages: [fr], countries: [XX],\n     hours: {fr: \"tous les jours 10h-24h",
     "countries no city is in"),
])
def test_faulty_protection_settings_are_named(tmp_path: Path, old: str, new: str, said: str) -> None:
    assert said in problem(edited(tmp_path, old, new))


def test_a_city_without_helpline_is_refused(tmp_path: Path) -> None:
    config = edited(tmp_path, "countries: [BE]", "cities: [lyon]")
    assert "city brussels has no helpline" in problem(config)
