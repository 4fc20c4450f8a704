"""The results pages count a city's answers once and keep the counts: again only when answers
arrived (at most once a minute), never after the campaigns closed, and at once after an erasure.
What they show is what counting afresh shows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.campaigns import read_survey
from digests import builder
from digests.example import generate, store
from storage import reports
from storage import repositories as repo
from storage import result_snapshots as snapshots
from storage.models import Answer
from storage.reports import CityAggregates
from tests.web.conftest import ROOT, Site
from tests.web.conftest import both_databases as database_url  # noqa: F401 (SQLite and PostgreSQL)
from tests.web.test_council_pages import BANDS, seed
from web import results as results_module
from web.results import BEGINNING, ResultsCache, city_results


def more_answers(site: Site, people: int, seed_number: int) -> None:
    survey = read_survey(ROOT / "surveys" / "my-city.yml")
    now = site.clock()
    with site.app.sessions.begin() as session:
        store(session, generate(survey, "lyon", ["croix-rousse", "vaise"], BANDS, people,
                                now - timedelta(hours=2), now - timedelta(hours=1), seed=seed_number), now)


class Counting:
    """Counts how often the city's answers are counted from scratch."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = reports.city_aggregates

        def counted(*args: Any, **kwargs: Any) -> CityAggregates:
            self.calls += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(reports, "city_aggregates", counted)


def participants_shown(cache: ResultsCache, site: Site, closed_at: object = None) -> int | None:
    with site.app.sessions.begin() as session:
        digest = cache.results(session, "lyon", "en", site.clock(), ["my-city"],
                               closed_at)  # type: ignore[arg-type]
    return digest.campaigns[0].participants.count


def test_counts_are_kept_until_answers_arrive_and_a_minute_passed(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(site, tmp_path)
    counting = Counting(monkeypatch)
    cache = ResultsCache(site.app.sessions, site.app.config, background=False)
    assert participants_shown(cache, site) == 40
    assert participants_shown(cache, site) == 40
    assert counting.calls == 1

    more_answers(site, 7, seed_number=11)
    # Answers arrived, but the figures are less than a minute old: they stay.
    site.clock.advance(timedelta(seconds=30))
    assert participants_shown(cache, site) == 40 and counting.calls == 1
    site.clock.advance(timedelta(seconds=31))
    assert participants_shown(cache, site) == 47 and counting.calls == 2
    # Nothing new since: no count however long it has been.
    site.clock.advance(timedelta(hours=5))
    assert participants_shown(cache, site) == 47 and counting.calls == 2


def test_the_count_again_happens_in_the_background(site: Site, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seed(site, tmp_path)
    cache = ResultsCache(site.app.sessions, site.app.config)
    assert participants_shown(cache, site) == 40
    more_answers(site, 5, seed_number=12)
    site.clock.advance(timedelta(minutes=2))
    # This reader gets the figures as they were, while they are counted again.
    assert participants_shown(cache, site) == 40
    cache.wait()
    assert participants_shown(cache, site) == 45


def test_a_closed_campaign_s_figures_never_change(site: Site, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    seed(site, tmp_path)
    counting = Counting(monkeypatch)
    cache = ResultsCache(site.app.sessions, site.app.config, background=False)
    closed_at = site.clock()
    site.clock.advance(timedelta(seconds=1))
    assert participants_shown(cache, site, closed_at) == 40
    more_answers(site, 6, seed_number=13)
    site.clock.advance(timedelta(days=3))
    assert participants_shown(cache, site, closed_at) == 40
    assert counting.calls == 1


def test_an_erasure_is_counted_at_once(site: Site, tmp_path: Path) -> None:
    seed(site, tmp_path)
    cache = ResultsCache(site.app.sessions, site.app.config, background=False)
    closed_at = site.clock()
    assert participants_shown(cache, site, closed_at) == 40
    with site.app.sessions.begin() as session:
        someone = session.scalars(select(Answer.participant_id).where(Answer.city == "lyon")).first()
        assert someone is not None
        repo.erase_participant(session, someone)
        assert snapshots.load(session, "lyon", "my-city") is None
    assert participants_shown(cache, site, closed_at) == 39


def test_the_pages_show_what_counting_afresh_shows(site: Site, tmp_path: Path) -> None:
    seed(site, tmp_path)
    cache = ResultsCache(site.app.sessions, site.app.config, background=False)
    with site.app.sessions.begin() as session:
        first = cache.results(session, "lyon", "fr", site.clock(), ["my-city"])
    with site.app.sessions.begin() as session:
        kept = cache.results(session, "lyon", "fr", site.clock(), ["my-city"])
        fresh = city_results(session, site.app.config, "lyon", "fr", site.clock(), ["my-city"])
    assert kept == fresh == first
    with site.app.sessions.begin() as session:
        everything = cache.results(session, "lyon", "en", site.clock())
        assert everything == city_results(session, site.app.config, "lyon", "en", site.clock())


def test_snapshots_round_trip(site: Site, tmp_path: Path) -> None:
    seed(site, tmp_path)
    with site.app.sessions() as session:
        aggregates = reports.city_aggregates(session, "lyon", BEGINNING, site.clock())
    assert snapshots.from_json(snapshots.to_json(aggregates)) == aggregates


def test_a_digest_is_built_once_per_language_while_its_counts_are_current(
        site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(site, tmp_path)
    built: list[str] = []
    original = builder.build_digest

    def counted(view: Any, *args: Any, **kwargs: Any) -> Any:
        built.append(view.language)
        return original(view, *args, **kwargs)

    monkeypatch.setattr(results_module, "build_digest", counted)
    cache = ResultsCache(site.app.sessions, site.app.config, background=False)
    for language in ("fr", "fr", "en", "en", "fr"):
        assert participants_shown_in(cache, site, language) == 40
    assert built == ["fr", "en"]
    more_answers(site, 3, seed_number=14)
    site.clock.advance(timedelta(minutes=2))
    assert participants_shown_in(cache, site, "fr") == 43
    assert built == ["fr", "en", "fr"]


def participants_shown_in(cache: ResultsCache, site: Site, language: str) -> int | None:
    with site.app.sessions.begin() as session:
        digest = cache.results(session, "lyon", language, site.clock(), ["my-city"])
    return digest.campaigns[0].participants.count
