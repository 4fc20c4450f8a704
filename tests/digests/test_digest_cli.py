"""`youthvoice digest preview|send|example`: files written, nothing opened, outbox by default."""

from __future__ import annotations

import logging
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from bot.cli import main
from tests.digests.conftest import NOW, ROOT, deploy

CONFIG = str(ROOT / "config.yml")


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    deploy(url, None, tmp_path / "unused").app.close()
    return url


def test_preview_writes_html_text_and_csv_for_a_period(database: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "preview"
    assert main(["--config", CONFIG, "--database", database, "digest", "preview", "--council",
                 "lyon-council", "--period", "2026-11-23..2026-11-30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    files = sorted(path.name for path in out.iterdir())
    assert files == ["lyon-council-2026-11-23.csv", "lyon-council-2026-11-23.html",
                     "lyon-council-2026-11-23.txt"]
    for name in files:
        assert str(out / name) in printed
    html = (out / "lyon-council-2026-11-23.html").read_text(encoding="utf-8")
    assert "Ce que disent les jeunes de Lyon" in html and "data:image/png;base64," in html
    assert "Du 23 novembre 2026 au 30 novembre 2026" in (out / "lyon-council-2026-11-23.txt").read_text()


def test_send_without_smtp_writes_the_outbox_and_says_where(database: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("digests.service.utc_now", lambda: NOW)
    monkeypatch.setattr("bot.app.utc_now", lambda: NOW)
    with caplog.at_level(logging.WARNING, logger="digests.service"):
        assert main(["--config", CONFIG, "--database", database, "digest", "send", "--council",
                     "lyon-council"]) == 0
    assert "lyon-council: queued on outbox" in capsys.readouterr().out
    outbox = tmp_path / "var" / "outbox"
    eml, html = outbox / "lyon-council-2026-11-23.eml", outbox / "lyon-council-2026-11-23.html"
    assert str(eml) in caplog.text and str(html) in caplog.text
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "jeunesse@lyon.example"
    assert "data:image/png;base64," in html.read_text(encoding="utf-8")
    # The same period again: already there, nothing written twice.
    eml.unlink()
    assert main(["--config", CONFIG, "--database", database, "digest", "send", "--council",
                 "lyon-council"]) == 0
    assert "already queued for this period" in capsys.readouterr().out
    assert not eml.exists()


@pytest.mark.parametrize(("arguments", "error"), [
    (["--council", "paris-council"], "no council 'paris-council' in the configuration"),
    (["--council", "lyon-council", "--period", "last week"], "is not a period: write it like"),
    (["--council", "lyon-council", "--period", "2026-11-30..2026-11-23"], "the last day is before the first"),
])
def test_bad_arguments_are_explained(database: str, arguments: list[str], error: str, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", CONFIG, "--database", database, "digest", "preview", *arguments,
                 "--out", str(tmp_path)]) == 2
    assert error in capsys.readouterr().err
