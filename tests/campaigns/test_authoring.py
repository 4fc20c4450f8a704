"""Campaign files and config.yml as a youth worker writes them: texts stay texts, mistakes in words."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.campaigns import read_source, read_survey
from bot.cli import main
from bot.config import ConfigError, load_config
from bot.engine.loader import SurveyError, load_survey
from bot.engine.survey import QuestionType
from tests.support.deployment import ROOT, campaign_text, write_deployment

COMMUNITY = load_config(ROOT / "config.yml").community()


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(SurveyError) as caught:
        load_survey(text, "c.yml", COMMUNITY)
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_yes_no_on_off_and_decimals_stay_the_texts_written() -> None:
    text = campaign_text(second="price").replace(
        "      - {id: parks, label: {fr: Des parcs, en: Parks}}",
        "      - {id: parks, label: {fr: Oui, en: Yes}}\n"
        "      - {id: off, label: {fr: Off, en: Off}}\n"
        "      - {id: price, label: {fr: 3.50, en: 3.50}}\n"
        "      - {id: never, label: {fr: Non, en: No}}")
    survey = load_survey(text, "c.yml", COMMUNITY)
    question = survey.questions[1]
    assert [o.label.en for o in question.options] == ["Yes", "Off", "3.50", "No", "Sport"]
    assert [o.label.fr for o in question.options] == ["Oui", "Off", "3.50", "Non", "Du sport"]


@pytest.mark.parametrize(("line", "replacement", "words"), [
    (10, "\ttype: yes_no", "a tab: indent with spaces"),
    (10, "     type: yes_no", "indented more than the line above it"),
    (13, "   type: single_choice", "the indentation does not line up"),
    (14, '    text: "Que faudrait-il en plus ?', "a quote opened here is never closed"),
    (11, "    text: {fr: Tu aimes ton quartier ?, en: Do you?}", "put the text in double quotes"),
    (14, "    text: {fr: Que faut-il, en: What}: more", "a ': ' inside a value"),
    (16, "      - {id: parks, label: {fr: Des parcs, en: Parks}", "{ ... } that starts here is not closed"),
    (10, "    type yes_no", "neither 'name: value' nor a list item"),
])
def test_syntax_mistakes_are_explained_in_words_with_their_line(line: int, replacement: str,
                                                                words: str) -> None:
    lines = campaign_text().splitlines()
    lines[line - 1] = replacement
    found = problems("\n".join(lines) + "\n")
    assert len(found) == 1, found
    assert found[0][0] in (line, line + 1) and words in found[0][2], found
    assert "scanning" not in found[0][2] and "<block" not in found[0][2]


def test_a_file_that_is_not_utf8_names_its_line_and_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(campaign_text().replace("Merci !", "Merci à toi !").encode("latin-1"))
    with pytest.raises(SurveyError) as caught:
        read_source(path)
    (problem,) = caught.value.problems
    assert problem.line == 6 and "save the file as UTF-8" in problem.message


def test_positions_count_from_one_and_one_mistake_is_one_problem() -> None:
    text = campaign_text().replace("type: single_choice", "type: dropdown")
    text = text.replace("    type: yes_no\n", "    type: yes_no\n    next: need\n")
    found = problems(text)
    # The unknown type is the one mistake: no complaint about its options, nor about the go-to
    # that leads to it.
    assert found == [(14, "question 2 › type", found[0][2])]
    assert "unknown type 'dropdown'" in found[0][2]


def test_cities_neighbourhoods_and_age_bands_must_exist_in_the_configuration() -> None:
    found = problems(campaign_text(cities="pariss", extra="age_bands: [\"12-13\"]\n"
                                                        "neighbourhoods: [vaise]\nlanguages: [de]\n"))
    messages = " | ".join(m for _, _, m in found)
    assert "'pariss' is not a city of config.yml (its cities: lyon, montreal, brussels)" in messages
    assert "'12-13' is not an age band of config.yml" in messages
    assert "'vaise' is not a neighbourhood of pariss" in messages
    assert "'de' is not a language of YouthVoice" in messages
    assert len(found) == 4


def test_schedule_and_target_are_read_from_the_file() -> None:
    survey = load_survey(campaign_text(extra="opens: 2026-12-01 09:00\ncloses: 2026-12-20\n"
                                             "reminder: 36 hours\nage_bands: [\"15-17\"]\n"),
                         "c.yml", COMMUNITY)
    assert survey.schedule.opens == datetime(2026, 12, 1, 9, 0)
    assert survey.schedule.closes == datetime(2026, 12, 20)
    assert survey.schedule.reminder_after == timedelta(hours=36)
    assert survey.audience.age_bands == ("15-17",)
    found = problems(campaign_text(extra="opens: tomorrow\ncloses: 2026-11-01\nreminder: soon\n"))
    assert [f for _, f, _ in found] == ["opens", "reminder"]
    found = problems(campaign_text(extra="opens: 2026-12-02\ncloses: 2026-12-01\n"))
    assert found[0][1:] == ("closes", "the campaign closes before it opens")


def readme_yaml_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```yaml\n(.*?)```", readme, re.S)


def test_every_yaml_example_of_the_readme_is_a_campaign_that_loads() -> None:
    blocks = readme_yaml_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        survey = load_survey(block, "README.md", COMMUNITY)
        assert survey.questions


def test_the_example_campaigns_load_with_the_configuration() -> None:
    for path in sorted((ROOT / "surveys").glob("*.yml")):
        survey = read_survey(path, COMMUNITY)
        assert {q.type for q in survey.questions} <= set(QuestionType)


def test_config_errors_name_the_line_and_say_what_is_expected(tmp_path: Path) -> None:
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    text = text.replace("timezone: Europe/Brussels", "timezone: Europe/Bruxelles")
    text = text.replace('  start: "21:00"', '  start: "9pm"')
    text = text.replace("  notice_version: 1", "  notice_version: one")
    text = text.replace("default_language: fr", "default_language: de\ncolour: blue")
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    lines = {line.strip() for line in message.splitlines()[1:]}
    assert "line 5: default_language should be one of 'fr' or 'en'" in lines
    assert "line 6: colour is not a setting YouthVoice knows (check its spelling and indentation)" in lines
    assert "line 10: privacy, notice_version should be a whole number" in lines
    assert any(re.match(r"line \d+: cities, item 3, timezone 'Europe/Bruxelles' is not a time zone "
                        r"name: write it like Europe/Paris", line) for line in lines), lines
    assert any(re.match(r"line \d+: quiet_hours, start '9pm' is not a time of day: write it like "
                        r"21:00", line) for line in lines), lines
    assert "validation error" not in message and "pydantic" not in message


def test_a_tab_in_config_yml_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "config.yml"
    path.write_text((ROOT / "config.yml").read_text(encoding="utf-8").replace(
        "  notice_version: 1", "\tnotice_version: 1"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"line 9: a tab: indent with spaces"):
        load_config(path)


@given(st.text(max_size=200))
def test_any_text_either_loads_or_raises_survey_error(text: str) -> None:
    try:
        load_survey(text, "fuzz.yml", COMMUNITY)
    except SurveyError as exc:
        assert exc.problems and all(p.message for p in exc.problems)


def test_messages_in_the_partners_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "draft.yml"
    path.write_text(campaign_text(cities="pariss").replace(
        'closing: {fr: Merci !, en: Thank you!}', "closing: {fr: Merci !}").replace(
        "    type: yes_no", "\ttype: yes_no"), encoding="utf-8")
    config = ["--config", str(ROOT / "config.yml")]
    assert main([*config, "campaign", "check", str(path), "--language", "fr"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:10: une tabulation : décalez avec des espaces (deux par niveau)" in out
    path.write_text(campaign_text(cities="pariss").replace(
        'closing: {fr: Merci !, en: Thank you!}', "closing: {fr: Merci !}"), encoding="utf-8")
    assert main([*config, "campaign", "check", str(path), "--language", "fr"]) == 1
    out = capsys.readouterr().out
    assert f"{path}:6: closing › en: il manque la traduction anglaise" in out
    assert (f"{path}:7: cities: 'pariss' n'est pas une ville de config.yml (ses villes : lyon, "
            "montreal, brussels)") in out
    assert main([*config, "campaign", "check", str(path), "--language", "en"]) == 1
    assert f"{path}:6: closing › en: missing English translation" in capsys.readouterr().out


def test_publish_refusals_in_the_partners_language(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config = write_deployment(tmp_path, seeds=False)
    path = tmp_path / "montreal.yml"
    path.write_text(campaign_text(cities="montreal"), encoding="utf-8")
    assert main(["--config", str(config), "--database", f"sqlite:///{tmp_path / 'yv.db'}", "campaign",
                 "publish", str(path), "--partner", "maison-des-jeunes", "--language", "fr"]) == 1
    assert capsys.readouterr().err == (
        "youthvoice: Maison des Jeunes de la Croix-Rousse ne peut publier que pour lyon, et cette "
        "campagne vise montreal.\n")
