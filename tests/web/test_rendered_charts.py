"""The results' charts are drawn once per kept digest and language, and again as soon as the figures
or the language change: a page never shows a drawing of other counts or in another language."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from jinja2 import Template
from starlette.testclient import TestClient

from tests.web.conftest import Site, csrf_of
from tests.web.test_council_pages import seed
from tests.web.test_public_results import close
from tests.web.test_results_cache import more_answers
from web.renders import CHARTS_TEMPLATE


class Drawings:
    """How often the charts are drawn, in each language."""

    def __init__(self, site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
        self.by_language: dict[str, int] = {}
        for language, env in site.console.environments.items():
            original = env.get_template

            def counted(name: str, *args: Any, _language: str = language, _original: Any = original,
                        **kwargs: Any) -> Template:
                if name == CHARTS_TEMPLATE:
                    self.by_language[_language] = self.by_language.get(_language, 0) + 1
                return _original(name, *args, **kwargs)  # type: ignore[no-any-return]

            monkeypatch.setattr(env, "get_template", counted)


def took_part(html: str) -> str:
    return html.split("<strong>", 1)[1].split("</strong>", 1)[0]


def test_new_counts_are_drawn_at_once_and_the_same_ones_once(
        site: Site, signed_in: dict[str, TestClient], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seed(site, tmp_path)
    drawings = Drawings(site, monkeypatch)
    council = signed_in["council"]
    first = council.get("/council/results/my-city").text
    assert took_part(first) == "40"
    assert took_part(council.get("/council/results/my-city").text) == "40"
    assert drawings.by_language == {"en": 1}

    more_answers(site, 7, seed_number=11)
    site.clock.advance(timedelta(seconds=61))
    # The figures kept are shown while they are counted again in the background...
    assert took_part(council.get("/council/results/my-city").text) == "40"
    site.console.results.wait()
    # ...and the page draws the new ones as soon as they are kept.
    again = council.get("/council/results/my-city").text
    assert took_part(again) == "47"
    assert drawings.by_language == {"en": 2}
    assert again != first

    # What is the reader's own (the answer form, its token) is not part of the drawing.
    token = csrf_of(again)
    sent = council.post("/council/results/my-city/answer",
                        data={"csrf": token, "fr": "Merci pour vos réponses.",
                              "en": "Thank you for your answers."})
    assert sent.status_code == 303
    answered = council.get(sent.headers["location"]).text
    assert "Thank you for your answers." in answered and "Send the answer" not in answered
    assert took_part(answered) == "47" and drawings.by_language == {"en": 2}


def test_each_language_has_its_own_drawing(site: Site, signed_in: dict[str, TestClient], tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seed(site, tmp_path)
    drawings = Drawings(site, monkeypatch)
    council = signed_in["council"]
    english = council.get("/council/results/my-city").text
    assert "took part" in english and "How do you usually get around town?" in english
    token = csrf_of(english)
    assert council.post("/language", data={"csrf": token, "language": "fr",
                                           "next": "/council/results/my-city"}).status_code == 303
    french = council.get("/council/results/my-city").text
    assert "ont participé" in french and "took part" not in french
    assert "Comment te déplaces-tu le plus souvent en ville ?" in french
    assert "How do you usually get around town?" not in french
    assert drawings.by_language == {"en": 1, "fr": 1}


def test_the_public_page_is_drawn_once_per_language_and_campaigns(site: Site, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seed(site, tmp_path)
    drawings = Drawings(site, monkeypatch)
    visitor = site.client()
    assert "No survey is over yet" in visitor.get("/results/lyon?lang=en").text
    close(site, "my-city")
    english, french, english_again = (visitor.get(f"/results/lyon?lang={language}").text
                                      for language in ("en", "fr", "en"))
    assert "How do you usually get around town?" in english
    assert "Comment te déplaces-tu le plus souvent en ville ?" in french
    assert "How do you usually get around town?" not in french
    assert english_again == english
    # Before the close (no campaign), then once in each language: not again when the same figures return.
    assert drawings.by_language == {"en": 2, "fr": 1}
