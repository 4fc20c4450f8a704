"""`youthvoice campaign schedule`: the console's schedule form from a terminal, the same checks and
the same record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App
from bot.campaign_schedule import reschedule
from bot.campaigns import publish
from bot.cli import main
from bot.engine.loader import load_survey
from storage import campaign_store as store
from storage import staff_repository as staff
from tests.campaigns.test_status_export import deployment as deployment  # the published campaign
from tests.support.deployment import campaign_text


def test_schedule_sets_local_times_and_says_when_invitations_go_out(
        deployment: tuple[Path, str, App], capsys: pytest.CaptureFixture[str]) -> None:
    config, database, app = deployment
    base = ["--config", str(config), "--database", database, "campaign"]
    (config.parent / "autre.yml").write_text(campaign_text("autre"), encoding="utf-8")
    assert main([*base, "publish", str(config.parent / "autre.yml"), "--partner", "maison-des-jeunes"]) == 0
    assert main([*base, "schedule", "autre", "--opens", "2026-12-01 23:30",
                 "--closes", "2026-12-20 18:00"]) == 0
    out = capsys.readouterr().out
    assert "Scheduled autre: opens 2026-12-01 23:30, closes 2026-12-20 18:00" in out
    assert "lyon: invitations go out from 2026-12-02 08:00 (Europe/Paris), when the quiet hours end" in out
    with app.sessions() as session:
        run = store.run(session, "autre")
        assert run is not None and run.opens_local is not None
        assert next(e.action for e in staff.audit_trail(session)) == "campaign_scheduled"
    assert main([*base, "list"]) == 0
    assert "opens 2026-12-01 23:30 local time" in capsys.readouterr().out

    assert main([*base, "schedule", "autre", "--closes", "never"]) == 0
    assert "opens 2026-12-01 23:30, no closing date" in capsys.readouterr().out


def test_after_answers_only_the_closing_time_moves(deployment: tuple[Path, str, App],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config, database, _ = deployment
    base = ["--config", str(config), "--database", database, "campaign", "schedule", "quartier"]
    assert main([*base, "--opens", "2026-12-03 10:00"]) == 1
    assert "its opening time cannot change any more, only its closing time" in capsys.readouterr().err
    assert main([*base, "--closes", "2026-12-03 10:00"]) == 0


@pytest.mark.parametrize(("argv", "sentence"), [
    (["--closes", "2026-11-30 10:00"],
     "The closing time 2026-11-30 10:00 is already past in lyon: choose a later time."),
    (["--opens", "2026-12-05 10:00", "--closes", "2026-12-04 10:00"],
     "The closing time 2026-12-04 10:00 comes before the opening time 2026-12-05 10:00: a campaign "
     "closes after it opens."),
    (["--opens", "tomorrow"],
     "“tomorrow” is not a date and time for --opens: write it like 2026-12-01 09:00."),
    (["--closes", "2026-12-20 18:00", "--partner", "someone"],
     "The campaign 'quartier' was not published by someone: only its partner may schedule it."),
])
def test_impossible_schedules_get_one_sentence(deployment: tuple[Path, str, App], argv: list[str],
                                               sentence: str, capsys: pytest.CaptureFixture[str]) -> None:
    config, database, app = deployment
    assert main(["--config", str(config), "--database", database, "campaign", "schedule", "quartier",
                 "--language", "en", *argv]) == 1
    assert capsys.readouterr().err == f"youthvoice: {sentence}\n"
    with app.sessions() as session:
        run = store.run(session, "quartier")
        assert run is not None and run.scheduled_at is None


def test_refusals_in_french(deployment: tuple[Path, str, App], capsys: pytest.CaptureFixture[str]) -> None:
    config, database, _ = deployment
    assert main(["--config", str(config), "--database", database, "campaign", "schedule", "quartier",
                 "--language", "fr", "--closes", "2026-11-30 10:00"]) == 1
    assert "La fermeture 2026-11-30 10:00 est déjà passée à lyon" in capsys.readouterr().err


def published_long_ago(app: App, campaign_id: str, file_closes: str, console_closes: datetime) -> None:
    """Published in November with a closing time in its file; the closing time moved since with
    `campaign schedule` (or in the console)."""
    then = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    text = campaign_text(campaign_id, extra=f"closes: {file_closes}\n")
    survey = load_survey(text, "c.yml", app.config.community())
    with app.sessions.begin() as session:
        publish(session, app.config, survey, text, "maison-des-jeunes", then)
        reschedule(session, app.config, survey, None, console_closes, then, actor="terminal:lea")


def test_republishing_a_corrected_file_follows_the_schedule_set_since(
        deployment: tuple[Path, str, App], capsys: pytest.CaptureFixture[str]) -> None:
    config, database, app = deployment
    published_long_ago(app, "autre", "2026-11-20 18:00", datetime(2030, 1, 15, 18, 0))
    corrected = config.parent / "autre.yml"
    corrected.write_text(campaign_text("autre", version=2, second="need2",
                                       extra="closes: 2026-11-20 18:00\n"), encoding="utf-8")
    base = ["--config", str(config), "--database", database, "campaign"]
    assert main([*base, "publish", str(corrected), "--partner", "maison-des-jeunes"]) == 0
    out = capsys.readouterr().out
    assert "Published autre version 2" in out and "closes 2030-01-15 18:00" in out
    assert "the times set with `youthvoice campaign schedule` or in the console stay" in out


def test_republishing_past_the_closing_time_set_since_is_refused_in_french(
        deployment: tuple[Path, str, App], capsys: pytest.CaptureFixture[str]) -> None:
    config, database, app = deployment
    published_long_ago(app, "autre", "2026-11-20 18:00", datetime(2026, 11, 25, 18, 0))
    corrected = config.parent / "autre.yml"
    corrected.write_text(campaign_text("autre", version=2, second="need2",
                                       extra="closes: 2026-11-20 18:00\n"), encoding="utf-8")
    assert main(["--config", str(config), "--database", database, "campaign", "publish", str(corrected),
                 "--partner", "maison-des-jeunes", "--language", "fr"]) == 1
    assert capsys.readouterr().err == (
        "youthvoice: La fermeture 2026-11-25 18:00 fixée dans le calendrier de la console est déjà "
        "passée à lyon : fixez une fermeture plus tardive dans la console (ou avec `youthvoice campaign "
        "schedule`), puis publiez à nouveau.\n")
    with app.sessions() as session:
        run = store.run(session, "autre")
        assert run is not None and run.version == 1
