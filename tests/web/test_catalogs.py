"""The console's texts: every text in its code and templates is translated, placeholders kept."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "web"
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def texts_in_console() -> set[str]:
    found = extract_from_dir(str(WEB), method_map=[("**.py", "python"), ("templates/**.html", "jinja2")])
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_console_text_is_translated(language: str) -> None:
    with (WEB / "locale" / language / "LC_MESSAGES" / "console.po").open("rb") as handle:
        catalog = read_po(handle)
    # A plural message is known by its singular.
    translations = {m.id[0] if isinstance(m.id, tuple) else m.id: m for m in catalog if m.id}
    missing = sorted(texts_in_console() - translations.keys())
    assert not missing, f"run `make catalogs` and translate: {missing}"
    for message_id, message in translations.items():
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(forms) and not message.fuzzy, f"{language}: untranslated {message_id!r}"
        for form in forms:
            assert sorted(set(PLACEHOLDER.findall(str(form)))) == sorted(set(PLACEHOLDER.findall(
                str(message_id)))), f"{language}: placeholders differ in {message_id!r}"
