"""The status page keeps a campaign's progress figures a few seconds: counted again in the
background when older, at once after the console's own actions."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from bot.broadcast import Planner
from bot.campaigns import LiveCatalogue
from bot.channels.telegram import CHANNEL
from tests.support.deployment import campaign_text, seed_participants
from tests.web.conftest import Site, csrf_of
from tests.web.test_campaign_pages import figure, publish
from web.status import StatusCache


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def queue_elsewhere(site: Site) -> int:
    """Invitations queued by another process (the bot's planner), behind the console's back."""
    app = site.app
    return Planner(app.sessions, app.config, LiveCatalogue(app.sessions, app.config, every=0),
                   app.service.clock).plan("quartier")


def test_figures_are_kept_then_counted_again_in_the_background(
        site: Site, signed_in: dict[str, TestClient]) -> None:
    ticks = Ticks()
    statuses = StatusCache(site.app.sessions, site.clock, CHANNEL, max_age=timedelta(seconds=5),
                           monotonic=ticks)
    site.console.statuses = statuses
    seed_participants(site.app.sessions, 6, city="lyon")
    partner = signed_in["partner"]
    location = publish(partner, campaign_text("quartier"))
    assert figure(partner.get(location).text, "invited") == "0"
    assert queue_elsewhere(site) == 6

    ticks.now += 2
    assert "6 invitations waiting" not in partner.get("/campaigns/quartier").text
    ticks.now += 4
    # Older than 5 s: this view gets the kept figures while they are counted again.
    assert "6 invitations waiting" not in partner.get("/campaigns/quartier").text
    statuses.wait()
    assert "6 invitations waiting to be sent" in partner.get("/campaigns/quartier").text


def test_the_console_s_own_actions_show_at_once(site: Site, signed_in: dict[str, TestClient]) -> None:
    site.console.statuses = StatusCache(site.app.sessions, site.clock, CHANNEL,
                                        max_age=timedelta(hours=1), monotonic=Ticks())
    seed_participants(site.app.sessions, 6, city="lyon")
    partner = signed_in["partner"]
    page = partner.get(publish(partner, campaign_text("quartier"))).text
    assert figure(page, "in the target") == "6"
    partner.post("/campaigns/quartier/send", data={"csrf": csrf_of(page)})
    assert "6 invitations waiting to be sent" in partner.get("/campaigns/quartier").text
    partner.post("/campaigns/quartier/close", data={"csrf": csrf_of(page)})
    assert "invitations waiting" not in partner.get("/campaigns/quartier").text
