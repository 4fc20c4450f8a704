"""The public results page: closed campaigns only, small cells hidden, French or English, no login,
no cookie unless a language is chosen, nothing that identifies anyone."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import event, select

from storage import campaign_store as store
from storage.models import Participant
from tests.web.conftest import Site
from tests.web.conftest import both_databases as database_url  # noqa: F401 (SQLite and PostgreSQL)
from tests.web.test_council_pages import seed
from web.results import city_results


def close(site: Site, campaign_id: str) -> None:
    with site.app.sessions.begin() as session:
        assert store.close_run(session, campaign_id, site.clock())


def test_only_closed_campaigns_are_public(site: Site, tmp_path: Path) -> None:
    seed(site, tmp_path)
    visitor = site.client(language="fr")
    before = visitor.get("/results/lyon")
    assert before.status_code == 200 and "Aucune enquête n’est encore terminée" in before.text
    close(site, "my-city")
    after = visitor.get("/results/lyon")
    assert "Ma ville" in after.text and "Comment te déplaces-tu le plus souvent en ville ?" in after.text
    # Counted at 09:00 UTC: 11:00 in Lyon, as its readers read the time.
    assert "Chiffres au 1 juin 2026, 11:00 (heure de Lyon)." in after.text
    assert "set-cookie" not in after.headers
    assert after.headers["cache-control"] == "public, max-age=300"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in after.text


def test_figures_are_those_of_the_digest_builder_and_none_is_small(site: Site, tmp_path: Path) -> None:
    seed(site, tmp_path)
    close(site, "my-city")
    page = site.client().get("/results/lyon?lang=en")
    assert "How do you usually get around town?" in page.text
    assert "yv_lang=en" in page.headers["set-cookie"]
    with site.app.sessions() as session:
        results = city_results(session, site.app.config, "lyon", "en", site.clock(), ["my-city"])
        people = session.scalars(select(Participant.id)).all()
    shown = 0
    for question in results.questions:
        for row in question.rows:
            if row.figure.count is not None:
                assert f'<td class="num">{row.figure.count}</td>' in page.text
                shown += 1
    assert shown > 10
    assert not re.search(r'<td class="num">[1-4]</td>', page.text)
    assert "&lt; 5" in page.text
    assert not any(person in page.text for person in people)
    # Montréal's answers are Montréal's: Lyon's page does not count them.
    assert results.campaigns[0].participants.count == 40


def test_an_unknown_city_is_not_found(site: Site) -> None:
    assert site.client().get("/results/atlantis").status_code == 404
    cities = site.client(language="en").get("/results").text
    for name in ("Lyon", "Montreal", "Brussels"):
        assert name in cities


def test_a_view_takes_one_connection(site: Site, tmp_path: Path) -> None:
    seed(site, tmp_path)
    close(site, "my-city")
    visitor = site.client()
    checkouts: list[object] = []

    def taken(*args: object) -> None:
        checkouts.append(args)

    event.listen(site.app.engine, "checkout", taken)
    try:
        page = visitor.get("/results/lyon?lang=en")
    finally:
        event.remove(site.app.engine, "checkout", taken)
    assert "How do you usually get around town?" in page.text
    # The closed campaigns and the kept figures, in one transaction (nobody is signed in).
    assert len(checkouts) == 1
