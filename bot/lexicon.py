"""Read the safeguarding lexicon shipped with the engine (its files are data, reviewed by people)."""

from __future__ import annotations

from pathlib import Path

from bot.engine.safeguarding import Lexicon

LEXICON_DIR = Path(__file__).resolve().parent / "engine" / "data" / "safeguarding"


def load_lexicon(directory: Path = LEXICON_DIR) -> Lexicon:
    """Every *.yml file of the directory, as one lexicon; LexiconError names a faulty entry."""
    files = sorted(directory.glob("*.yml"))
    return Lexicon.from_yaml({path.name: path.read_text(encoding="utf-8") for path in files})
