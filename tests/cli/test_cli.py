"""The youthvoice command: terminal chat that resumes, campaign checks, guidance without a token."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "engine" / "data" / "broken_survey.yml"


def chat(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database: str,
         lines: list[str], language: str = "fr") -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
    log = database.removeprefix("sqlite:///") + ".log"
    code = main(["--config", str(ROOT / "config.yml"), "--database", database, "chat", "--as", "zoe",
                 "--language", language, "--no-nlu", "--log-file", log])
    assert code == 0
    return capsys.readouterr().out


def test_terminal_chat_resumes_where_it_stopped(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'chat.db'}"
    first = chat(monkeypatch, capsys, database, ["3", "1", "1", "1", "3"])
    assert "[1] Moins de 13 ans" in first
    assert "Comment te déplaces-tu le plus souvent en ville ?" in first
    assert "✓ Bus, tram ou métro" in first
    second = chat(monkeypatch, capsys, database, ["1", "#1"])
    assert "Re-bonjour ! On reprend là où tu en étais." in second
    assert "Qu'est-ce qui te gêne le plus" in second.split("Re-bonjour")[1]
    assert "D'abord, quel âge as-tu ?" not in second


def test_a_number_question_takes_typed_numbers_and_hash_buttons(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'chat.db'}"
    out = chat(monkeypatch, capsys, database,
               ["4", "1", "1", "1", "1", "6", "7", "3", "3", "1", "#1", "1", "12"])
    assert "[#1] ⬅ Retour" in out
    assert "✓ 12" in out
    assert out.count("Combien de jours par mois") == 2


def test_the_chat_says_goodbye_in_the_language_the_conversation_chose(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = chat(monkeypatch, capsys, f"sqlite:///{tmp_path / 'chat.db'}", ["/language", "1"],
               language="en")
    assert out.startswith("YouthVoice — type a button's number")
    assert "D'abord, quel âge as-tu ?" in out
    assert out.rstrip().endswith("À bientôt ! Relance la même commande pour reprendre là où tu "
                                 "en étais.")


def test_campaign_check_lists_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["campaign", "check", str(BROKEN), str(ROOT / "surveys" / "my-city.yml")]) == 1
    out = capsys.readouterr().out
    assert f"{BROKEN}:3: id: 'Broken Survey' is not a valid id" in out
    assert f"{BROKEN}: 14 problems" in out  # all but the generated over-long text
    assert "my-city.yml: ok — my-city v2, 10 questions" in out


def test_run_without_a_token_explains_how_to_get_one(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert main(["--database", "sqlite://", "run"]) == 1
    err = capsys.readouterr().err
    assert "@BotFather" in err and "youthvoice chat" in err


def test_a_broken_configuration_is_reported_not_raised(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.yml"
    config.write_text("version: 1\ncities: []\n", encoding="utf-8")
    assert main(["--config", str(config), "--database", "sqlite://", "chat"]) == 2
    err = capsys.readouterr().err
    assert "  privacy is missing" in err and "line 2: cities should not be empty" in err


def test_the_chat_speaks_the_terminal_language_and_keeps_log_lines_out(tmp_path: Path) -> None:
    # An NLU that cannot be reached logs a warning: it goes to the log file, not into the chat.
    env = {**os.environ, "RASA_URL": "http://127.0.0.1:9"}
    log = tmp_path / "chat.log"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--config", str(ROOT / "config.yml"), "--database",
         f"sqlite:///{tmp_path / 'chat.db'}", "chat", "--as", "zoe", "--language", "fr",
         "--log-file", str(log)],
        input="bonjour\n", capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=True)
    assert done.stdout.startswith("YouthVoice — tape le numéro d'un bouton, ou ta réponse.")
    assert "À bientôt ! Relance la même commande" in done.stdout
    assert "WARNING" not in done.stdout and not done.stderr
    assert "NLU server at http://127.0.0.1:9 unavailable" in log.read_text(encoding="utf-8")


def test_safeguarding_follow_up_from_the_command_line(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'sg.db'}"
    said = chat(monkeypatch, capsys, database, ["3", "1", "1", "1", "jveux disparaître"])
    assert "3114" in said and "Effacer tout ce que nous avons sur toi" not in said
    base = ["--config", str(ROOT / "config.yml"), "--database", database, "safeguarding", "--as", "amina"]
    assert main([*base, "list"]) == 0
    listed = capsys.readouterr().out
    ref = listed.split()[0]
    assert ref.startswith("SG-") and "self_harm" in listed and "lyon" in listed
    assert main([*base, "reply", ref, "Bonjour, je suis là."]) == 0
    assert main([*base, "close", ref, "--note", "rappelé"]) == 0
    capsys.readouterr()
    assert main([*base, "show", ref]) == 0
    shown = capsys.readouterr().out
    assert "jveux disparaître" in shown and "amina replied: Bonjour, je suis là." in shown
    assert "amina closed: rappelé" in shown and "(closed)" in shown
    assert main([*base, "show", "SG-XXXX-XXXX"]) == 1
    assert "no safeguarding alert" in capsys.readouterr().err
