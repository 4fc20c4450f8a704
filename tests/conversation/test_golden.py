"""Every golden transcript, replayed through the real service on a fresh SQLite database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.golden import run_transcript

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
TRANSCRIPTS = sorted(GOLDEN.glob("*.yml"))


def test_there_are_transcripts_in_both_languages() -> None:
    names = {p.stem for p in TRANSCRIPTS}
    assert {n.removesuffix("_fr") for n in names if n.endswith("_fr")} == {
        n.removesuffix("_en") for n in names if n.endswith("_en")
    }, "each conversation feature has a French and an English transcript"


@pytest.mark.parametrize("path", TRANSCRIPTS, ids=[p.stem for p in TRANSCRIPTS])
def test_transcript(path: Path, tmp_path: Path, update_golden: bool) -> None:
    differences = run_transcript(path, ROOT / "config.yml", f"sqlite:///{tmp_path / 'golden.db'}",
                                 update_golden)
    assert not differences, "\n".join(differences)
