"""What partners read: status with small groups hidden, exports without identities, refusals."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from bot.app import App, build_app
from bot.campaign_cli import Refused
from bot.campaigns import LiveCatalogue, publish
from bot.cli import main
from bot.engine.loader import load_survey
from bot.engine.messages import Inbound
from bot.engine.redaction import scrub
from storage import repositories as repo
from storage.models import Answer
from storage.records import AnswerIn
from tests.support.deployment import campaign_text, write_deployment

NOW = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)


def answer_campaign(app: App, chat: str, band: str, place: str, choice: str) -> None:
    service = app.service
    service.handle("telegram", chat, Inbound.text_message("/start", NOW))
    for data in ("l:en", f"o:age:{band}", "o:parental:yes", "o:consent:yes", "o:city:lyon",
                 f"o:neighbourhood:{place}", "q:quartier:like:yes", f"q:quartier:need:{choice}"):
        service.handle("telegram", chat, Inbound.button(data, NOW))


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[tuple[Path, str, App]]:
    config = write_deployment(tmp_path, seeds=False)
    database = f"sqlite:///{tmp_path / 'yv.db'}"
    app = build_app(config, database, clock=lambda: NOW)
    app.service.catalogue = LiveCatalogue(app.sessions, app.config, every=0)
    text = campaign_text()
    with app.sessions.begin() as session:
        publish(session, app.config, load_survey(text, "c.yml", app.config.community()), text,
                "maison-des-jeunes", NOW)
    for n in range(6):
        answer_campaign(app, str(1000 + n), "18-20", "vaise", "parks")
    for n in range(2):
        answer_campaign(app, str(2000 + n), "15-17", "mermoz", "sport")
    # A free-text answer, as the service stores it (raw and scrubbed), for the export to read.
    with app.sessions.begin() as session:
        participant = session.scalars(select(Answer.participant_id)).first()
        assert participant is not None
        repo.save_answer(session, AnswerIn(
            participant_id=participant, campaign_id="quartier", campaign_version=1,
            question_id="idea", option_ids=None, number=None,
            text="Appelez Julie au 06 12 34 56 78", skipped=False, language="fr", answered_at=NOW,
            scrubbed_text=scrub("Appelez Julie au 06 12 34 56 78")))
    yield config, database, app
    app.close()


def test_status_hides_groups_under_the_minimum_size(deployment: tuple[Path, str, App],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    config, database, _ = deployment
    assert main(["--config", str(config), "--database", database, "campaign", "status", "quartier"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    assert rows["all"][1:] == ["8", "0", "0", "8", "8", "0", "0", "0"]
    assert rows["18-20"][1:] == ["6", "0", "0", "6", "6", "0", "0", "0"]
    # Two people of 15-17 are in the target, started and completed: shown as "< 5", never as 2.
    assert rows["15-17"][1:] == ["<", "5", "0", "0", "<", "5", "<", "5", "0", "0", "0"]
    # Nothing is on its way: no line about what is not sent yet.
    assert "Not sent yet" not in out
    assert " 2 " not in out


def test_export_has_one_row_per_participant_and_question_and_no_identity(
        deployment: tuple[Path, str, App], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, database, _ = deployment
    output = tmp_path / "answers.csv"
    assert main(["--config", str(config), "--database", database, "campaign", "export", "quartier",
                 "--format", "csv", "--language", "fr", "--output", str(output)]) == 0
    with output.open(encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 17 and len({r["participant"] for r in rows}) == 8
    (idea,) = [r for r in rows if r["question_id"] == "idea"]
    assert (idea["text"], idea["text_status"]) == ("Appelez [name] au [phone]", "scrubbed")
    assert "06 12 34 56 78" not in output.read_text(encoding="utf-8-sig")
    need = [r for r in rows if r["question_id"] == "need"]
    assert {(r["option_ids"], r["option_labels"]) for r in need} == {("parks", "Des parcs"),
                                                                     ("sport", "Du sport")}
    assert {r["campaign_version"] for r in rows} == {"1"}
    assert {(r["age_band"], r["neighbourhood"]) for r in rows} == {("18-20", "vaise"), ("15-17", "mermoz")}
    text = output.read_text(encoding="utf-8-sig")
    for chat in ("1000", "1005", "2001"):
        assert chat not in text
    notes = (tmp_path / "answers.notes.csv").read_text(encoding="utf-8-sig")
    assert "neighbourhood,lyon/mermoz,< 5" in notes and "age band,15-17,< 5" in notes
    assert "age band,18-20" not in notes

    workbook = tmp_path / "answers.xlsx"
    assert main(["--config", str(config), "--database", database, "campaign", "export", "quartier",
                 "--format", "xlsx", "--output", str(workbook)]) == 0
    book = load_workbook(workbook)
    assert book.sheetnames == ["answers", "notes"]
    assert book["answers"].max_row == 18
    assert any(row[1] == "lyon/mermoz" for row in book["notes"].iter_rows(values_only=True))
    assert "Wrote 17 answers of 8 participants" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "sentence"), [
    (["campaign", "status", "nothing"], "There is no campaign 'nothing' (campaigns: quartier)."),
    (["campaign", "close", "quartier", "--partner", "someone"],
     "The campaign 'quartier' was not published by someone: only its partner may close it."),
    (["campaign", "send", "quartier", "--wait"],
     "Sending from here needs TELEGRAM_BOT_TOKEN (the bot's token); without --wait, the running bot "
     "sends the invitations."),
])
def test_bad_requests_get_one_sentence(deployment: tuple[Path, str, App], argv: list[str],
                                       sentence: str, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    config, database, _ = deployment
    assert main(["--config", str(config), "--database", database, *argv]) == 1
    assert capsys.readouterr().err == f"youthvoice: {sentence}\n"


def test_send_on_a_closed_campaign_changes_nothing(deployment: tuple[Path, str, App],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    config, database, _ = deployment
    base = ["--config", str(config), "--database", database, "campaign"]
    assert main([*base, "close", "quartier"]) == 0
    assert main([*base, "close", "quartier"]) == 1
    assert main([*base, "send", "quartier"]) == 1
    err = capsys.readouterr().err
    assert "youthvoice: The campaign 'quartier' is already closed.\n" in err
    assert "youthvoice: The campaign 'quartier' is closed: nothing is sent.\n" in err
    assert Refused.__doc__
