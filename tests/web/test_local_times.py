"""Every time in the console is the local time of the city concerned, and says which city's.

The site's clock reads 1 June 2026, 09:00 UTC: 05:00 in Montréal, 11:00 in Lyon.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from bot.config import Bilingual, ConfigError, load_config
from storage import digest_store
from storage import repositories as repo
from storage import safeguarding as alerts_repo
from tests.support.deployment import campaign_text
from tests.web.conftest import ROOT, Site, csrf_of, sign_in
from tests.web.test_schedule import publish_with
from web.i18n import LANGUAGES, environment, load_translations, time_label
from web.times import EACH_CITY, Place, Places

# The French and English of one moment, per city.
MONTREAL = {"fr": "1 juin 2026, 05:00 (heure de Montréal)", "en": "1 Jun 2026, 05:00 (Montreal time)"}
LYON = {"fr": "1 juin 2026, 11:00 (heure de Lyon)", "en": "1 Jun 2026, 11:00 (Lyon time)"}


def raise_alert(site: Site, city: str | None) -> str:
    with site.app.sessions.begin() as session:
        participant = repo.get_or_create_participant(session, "telegram", "5140000", site.clock())
        return alerts_repo.raise_alert(session, participant_id=participant.id, category="abuse_at_home",
                                       categories=["abuse_at_home"], message="j'ai peur de rentrer",
                                       scrubbed="j'ai peur de rentrer", city=city, language="fr",
                                       now=site.clock(), destinations=[])


def client_in(site: Site, role: str, language: str, **scope: str) -> TestClient:
    email = site.account(f"{role}-{language}@example.org", role, language=language, **scope)
    client = site.client(language)
    sign_in(client, email)
    return client


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_alert_shows_the_young_persons_local_time(site: Site, language: str) -> None:
    ref = raise_alert(site, "montreal")
    staff = client_in(site, "safeguarding", language)
    listing = unescape(staff.get("/alerts").text)
    assert f"<td>{MONTREAL[language]}</td>" in listing
    assert "Montréal" in listing if language == "fr" else "Montreal" in listing
    page = unescape(staff.get(f"/alerts/{ref}").text)
    assert f"<dd>{MONTREAL[language]}</dd>" in page
    # The history's heading names the city once; its rows are the same local time.
    label = MONTREAL[language].split(" (")[1].rstrip(")")
    assert f'<span class="hint">({label})</span></th>' in page
    assert page.count("1 juin 2026, 05:00" if language == "fr" else "1 Jun 2026, 05:00") >= 3
    assert "09:00" not in page and "UTC" not in page


def test_an_alert_before_the_city_is_known_is_in_the_default_citys_time(site: Site) -> None:
    ref = raise_alert(site, None)
    page = unescape(client_in(site, "safeguarding", "fr").get(f"/alerts/{ref}").text)
    assert f"<dd>{LYON['fr']}</dd>" in page and "pas encore connue" in page


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_audit_trail_and_links_are_in_the_default_citys_time(site: Site, language: str) -> None:
    admin = client_in(site, "admin", language)
    audit = unescape(admin.get("/admin/audit").text)
    label = LYON[language].split(" (")[1].rstrip(")")
    assert f'<span class="hint">({label})</span></th>' in audit
    assert f"<td>{LYON[language].split(' (')[0]}</td>" in audit and "09:00" not in audit
    # A one-time link lasts three days: until 4 June, 11:00 in Lyon.
    page = admin.get("/admin/users").text
    added = unescape(admin.post("/admin/users", data={
        "csrf": csrf_of(page), "email": "new@example.org", "name": "New", "role": "safeguarding",
        "language": "fr"}).text)
    expected = {"fr": "4 juin 2026, 11:00 (heure de Lyon)", "en": "4 Jun 2026, 11:00 (Lyon time)"}
    assert expected[language] in added


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_montreal_council_reads_montreal_days_and_times(site: Site, language: str) -> None:
    # A week that starts on 25 May at 03:00 UTC: still 24 May, 23:00, in Montréal.
    start, end = datetime(2026, 5, 25, 3, 0, tzinfo=UTC), datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    with site.app.sessions.begin() as session:
        assert digest_store.queue_digest(session, "montreal-council", start, end, "outbox", b"<p>x</p>", {},
                                         site.clock())
    council = client_in(site, "council", language, council="montreal-council")
    overview = unescape(council.get("/council").text)
    week = {"fr": "24 mai 2026 au 31 mai 2026", "en": "24 May 2026 to 31 May 2026"}
    assert week[language] in overview
    assert MONTREAL[language] in overview


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_campaigns_times_are_its_citys(site: Site, language: str) -> None:
    partner = client_in(site, "partner", language, partner="maison-des-jeunes")
    location = publish_with(partner, campaign_text("quartier"), "2026-06-03T10:00", "2026-06-10T18:00")
    status = unescape(partner.get(location).text)
    assert LYON[language] in status  # the figures' time
    listing = unescape(partner.get("/campaigns").text)
    opens = {"fr": "ouvre le 3 juin 2026, 10:00 (heure de Lyon)", "en": "opens 3 Jun 2026, 10:00 (Lyon time)"}
    assert opens[language] in listing


def test_places_follow_the_configuration(tmp_path: Path) -> None:
    config = load_config(ROOT / "config.yml")
    places = Places(config)
    assert places("montreal").zone == ZoneInfo("America/Toronto")
    assert places(None) == places("lyon") == places("nowhere")
    assert places(["brussels"]) == places("brussels")
    assert places(["lyon", "montreal"]) is EACH_CITY and places([]) is EACH_CITY
    assert places.city_name("montreal", "fr") == "Montréal"
    assert places.city_name("montreal", "en") == "Montreal"
    assert places.city_name("atlantis", "fr") == "atlantis"
    text = (ROOT / "config.yml").read_text(encoding="utf-8").replace("default_city: lyon",
                                                                     "default_city: brussels")
    (tmp_path / "config.yml").write_text(text, encoding="utf-8")
    assert Places(load_config(tmp_path / "config.yml"))(None) == places("brussels")
    (tmp_path / "config.yml").write_text(text.replace("default_city: brussels", "default_city: paris"),
                                         encoding="utf-8")
    with pytest.raises(ConfigError, match="default_city 'paris' is not one of the cities"):
        load_config(tmp_path / "config.yml")


def test_labels_read_as_french_and_english() -> None:
    anderlecht = Place(ZoneInfo("Europe/Brussels"), Bilingual(fr="Anderlecht", en="Anderlecht"))
    fr, en = load_translations("fr"), load_translations("en")
    assert time_label(anderlecht, "fr", fr) == "heure d’Anderlecht"
    assert time_label(anderlecht, "en", en) == "Anderlecht time"
    assert time_label(EACH_CITY, "fr", fr) == "heure locale de chaque ville"
    # A naive instant (as SQLite gives it back) is UTC.
    env = environment("fr", fr)
    naive = env.from_string("{{ moment|at(place) }}").render(moment=datetime(2026, 12, 1, 13, 5),
                                                              place=anderlecht)
    assert naive == "1 déc. 2026, 14:05 (heure d’Anderlecht)"
