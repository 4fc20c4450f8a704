"""The bot's own texts: every text in the code is translated, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import GettextCatalog

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = {"tr": None, "N_": None, "both": None, "gettext": (2,)}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def texts_in_code() -> set[str]:
    found = extract_from_dir(str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS)
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_text_in_the_code_is_translated(language: str) -> None:
    path = ROOT / "bot" / "locale" / language / "LC_MESSAGES" / "youthvoice.po"
    with path.open("rb") as handle:
        catalog = read_po(handle)
    translations = {m.id: m for m in catalog if m.id}
    missing = sorted(texts_in_code() - translations.keys())
    assert not missing, f"run `make catalogs` and translate: {missing}"
    for message_id, message in translations.items():
        assert message.string and not message.fuzzy, f"{language}: untranslated {message_id!r}"
        assert set(PLACEHOLDER.findall(str(message.string))) == set(PLACEHOLDER.findall(str(message_id))), (
            f"{language}: placeholders differ in {message_id!r}")


def test_compiled_catalogs_answer_in_each_language() -> None:
    catalog = GettextCatalog()
    assert catalog.gettext("fr", "Which language do you prefer?") == "Quelle langue préfères-tu ?"
    assert catalog.gettext("en", "Which language do you prefer?") == "Which language do you prefer?"
