"""The status page counts a campaign's progress on every view: what the bot's workers or another
console process did shows on the next view, the same in every process."""

from __future__ import annotations

from starlette.testclient import TestClient

from bot.broadcast import Planner
from bot.campaigns import LiveCatalogue
from tests.support.deployment import campaign_text, seed_participants
from tests.web.conftest import SECRET, Site, csrf_of, sign_in
from tests.web.conftest import both_databases as database_url  # noqa: F401 (SQLite and PostgreSQL)
from tests.web.test_campaign_pages import figure, publish
from web.app import build_console, create_app
from web.settings import WebSettings


def queue_elsewhere(site: Site) -> int:
    """Invitations queued by another process (the bot's planner), behind the console's back."""
    app = site.app
    return Planner(app.sessions, app.config, LiveCatalogue(app.sessions, app.config, every=0),
                   app.service.clock).plan("quartier")


def test_what_another_process_did_shows_on_the_next_view(
        site: Site, signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 6, city="lyon")
    partner = signed_in["partner"]
    location = publish(partner, campaign_text("quartier"))
    assert figure(partner.get(location).text, "invited") == "0"
    assert queue_elsewhere(site) == 6
    # No time passes: the very next view counts them.
    assert "6 invitations waiting to be sent" in partner.get(location).text


def test_two_console_processes_show_the_same_figures(
        site: Site, signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 6, city="lyon")
    partner = signed_in["partner"]
    location = publish(partner, campaign_text("quartier"))
    other = create_app(build_console(site.app, WebSettings(secret_key=SECRET,
                                                           base_url="https://console.example"), site.clock))
    with TestClient(other, follow_redirects=False) as elsewhere:
        sign_in(elsewhere, "partner@example.org")
        assert figure(elsewhere.get(location).text, "in the target") == "6"
        partner.post("/campaigns/quartier/send", data={"csrf": csrf_of(partner.get(location).text)})
        assert "6 invitations waiting to be sent" in elsewhere.get("/campaigns/quartier").text


def test_the_console_s_own_actions_show_at_once(site: Site, signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 6, city="lyon")
    partner = signed_in["partner"]
    page = partner.get(publish(partner, campaign_text("quartier"))).text
    assert figure(page, "in the target") == "6"
    partner.post("/campaigns/quartier/send", data={"csrf": csrf_of(page)})
    assert "6 invitations waiting to be sent" in partner.get("/campaigns/quartier").text
    partner.post("/campaigns/quartier/close", data={"csrf": csrf_of(page)})
    assert "invitations waiting" not in partner.get("/campaigns/quartier").text
