"""A partner sets when a campaign opens and closes, in the city's local time; the bot's broadcaster
sends the invitations when that time comes, never in the quiet hours; refusals say what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.broadcast import Broadcaster, BroadcastSettings, Planner, Sent
from bot.campaigns import LiveCatalogue
from bot.engine.messages import Outbound
from bot.rate_budget import Limits, RateBudget
from storage import campaign_store as store
from storage import staff_repository as staff
from storage.models import Invitation
from tests.support.deployment import campaign_text, seed_participants
from tests.web.conftest import Site, csrf_of, sign_in
from tests.web.conftest import both_databases as database_url  # noqa: F401 (SQLite and PostgreSQL)
from tests.web.test_campaign_pages import broadcast, publish
from tests.web.test_campaign_pages import config_path as config_path  # a second partner, in Montréal
from web.home import LANDING


def publish_with(client: TestClient, text: str, opens: str, closes: str) -> str:
    token = csrf_of(client.get("/campaigns/check").text)
    response = client.post("/campaigns/publish",
                           data={"csrf": token, "source": text, "opens": opens, "closes": closes})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def set_schedule(client: TestClient, opens: str, closes: str, campaign: str = "quartier") -> tuple[int, str]:
    token = csrf_of(client.get(f"/campaigns/{campaign}").text)
    response = client.post(f"/campaigns/{campaign}/schedule",
                           data={"csrf": token, "opens": opens, "closes": closes})
    if response.status_code == 303:
        return 303, client.get(response.headers["location"]).text
    return response.status_code, response.text


def run_broadcaster_until(site: Site, done: Callable[[list[str]], bool], seconds: float = 10) -> list[str]:
    """The bot's background broadcaster (plan, claim, send), as `youthvoice run` starts it, until
    `done` says so or the time is up; returns the chats it sent to."""
    sent: list[str] = []

    async def send(address: str, _message: Outbound) -> Sent:
        sent.append(address)
        return Sent.SENT

    async def run() -> None:
        app = site.app
        planner = Planner(app.sessions, app.config, LiveCatalogue(app.sessions, app.config, every=0),
                          app.service.clock)
        budget = RateBudget(app.sessions, "test", Limits(per_second=1000))
        broadcaster = Broadcaster(planner, app.service.catalog, budget, send, mark_stopped=lambda _: None,
                                  settings=BroadcastSettings(plan_every=0, idle_pause=0.02))
        task = asyncio.create_task(broadcaster.run())
        try:
            deadline = asyncio.get_running_loop().time() + seconds
            while not done(sent) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await budget.aclose()

    asyncio.run(run())
    return sent


def queued(site: Site) -> int:
    with site.app.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Invitation)) or 0)


def test_invitations_go_out_when_the_chosen_local_time_comes(site: Site,
                                                            signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 6, city="lyon")
    partner = signed_in["partner"]
    # 1 June, 11:00 in Lyon; the partner wants it to open on 3 June at 10:00 Lyon time (08:00 UTC).
    location = publish_with(partner, campaign_text("quartier"), "2026-06-03T10:00", "2026-06-10T18:00")
    page = partner.get(location).text
    assert "Version 1 · scheduled" in page
    assert "In the local time of each city." in page
    assert "3 Jun 2026, 10:00</td>" in page and "10 Jun 2026, 18:00" in page
    assert 'value="2026-06-03T10:00"' in page and 'value="2026-06-10T18:00"' in page

    assert "Send the invitations now" not in page and "go out by themselves when it opens" in page
    # Pressed anyway (a page left open from before): nothing is queued, and the page says so.
    pressed = partner.post("/campaigns/quartier/send", data={"csrf": csrf_of(page)})
    assert pressed.headers["location"] == "/campaigns/quartier?done=not_open"
    assert "Nothing was sent: the campaign is not open." in partner.get(pressed.headers["location"]).text
    assert run_broadcaster_until(site, lambda sent: False, seconds=0.5) == []
    assert queued(site) == 0

    site.clock.now = datetime(2026, 6, 3, 8, 0, tzinfo=UTC)
    sent = run_broadcaster_until(site, lambda sent: len(sent) >= 6)
    assert len(sent) == 6 and len(set(sent)) == 6
    sign_in(partner, "partner@example.org")  # two days later: the session ended
    assert "Version 1 · open" in partner.get("/campaigns/quartier").text

    with site.app.sessions() as session:
        events = [e for e in staff.audit_trail(session) if e.action == "campaign_scheduled"]
    assert [(e.actor, e.target, e.detail["opens"], e.detail["closes"]) for e in events] == [
        ("partner@example.org", "quartier", "2026-06-03 10:00", "2026-06-10 18:00")]


def test_an_opening_in_the_quiet_hours_waits_for_the_morning(site: Site,
                                                            signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 3, city="lyon")
    partner = signed_in["partner"]
    publish(partner, campaign_text("quartier"))
    status, page = set_schedule(partner, "2026-06-03T23:00", "")
    assert status == 303 and "Schedule saved." in page
    assert "4 Jun 2026, 08:00" in page and "after the quiet hours (21:00–08:00)" in page
    assert "no end" in page

    # 23:30 in Lyon: open, but nobody is woken up (the rows wait, due at 08:00).
    site.clock.now = datetime(2026, 6, 3, 21, 30, tzinfo=UTC)
    assert run_broadcaster_until(site, lambda sent: queued(site) >= 3, seconds=5) == []
    site.clock.now = datetime(2026, 6, 4, 6, 0, tzinfo=UTC)
    assert len(run_broadcaster_until(site, lambda sent: len(sent) >= 3)) == 3


@pytest.mark.parametrize(("opens", "closes", "message"), [
    ("2026-06-05T10:00", "2026-06-04T10:00",
     "The closing time 2026-06-04 10:00 comes before the opening time 2026-06-05 10:00"),
    ("", "2026-05-30T10:00", "The closing time 2026-05-30 10:00 is already past in lyon"),
    ("2026-05-31T10:00", "", "The opening time 2026-05-31 10:00 is already past in lyon"),
    ("next monday", "", "“next monday” is not a date and time for Opens"),
])
def test_impossible_times_are_refused_with_what_to_do(site: Site, signed_in: dict[str, TestClient],
                                                      opens: str, closes: str, message: str) -> None:
    partner = signed_in["partner"]
    publish(partner, campaign_text("quartier"))
    status, page = set_schedule(partner, opens, closes)
    assert status == 400 and message in page
    # The form keeps what was typed, to correct it.
    assert f'value="{opens}"' in page
    with site.app.sessions() as session:
        run = store.run(session, "quartier")
        assert run is not None and run.scheduled_at is None


def test_a_publish_with_impossible_times_publishes_nothing(site: Site,
                                                           signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    token = csrf_of(partner.get("/campaigns/check").text)
    response = partner.post("/campaigns/publish", data={"csrf": token, "source": campaign_text("quartier"),
                                                        "opens": "2026-06-05T10:00",
                                                        "closes": "2026-06-02T10:00"})
    assert response.status_code == 400 and "comes before the opening time" in response.text
    assert 'value="2026-06-02T10:00"' in response.text
    with site.app.sessions() as session:
        assert store.run(session, "quartier") is None


def test_after_invitations_went_out_only_the_closing_time_moves(site: Site,
                                                                signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 2, city="lyon")
    partner = signed_in["partner"]
    page = partner.get(publish(partner, campaign_text("quartier"))).text
    partner.post("/campaigns/quartier/send", data={"csrf": csrf_of(page)})
    broadcast(site, "quartier")
    page = partner.get("/campaigns/quartier").text
    assert "the opening time can no longer change" in page and 'id="opens"' not in page
    assert "under way" in page
    status, page = set_schedule(partner, "2026-06-08T10:00", "")
    assert status == 400 and "its opening time cannot change any more, only its closing time" in page
    status, page = set_schedule(partner, "", "2026-06-20T18:00")
    assert status == 303 and "20 Jun 2026, 18:00" in page


def test_a_closed_campaign_cannot_be_scheduled(site: Site, signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    page = partner.get(publish(partner, campaign_text("quartier"))).text
    partner.post("/campaigns/quartier/close", data={"csrf": csrf_of(page)})
    page = partner.get("/campaigns/quartier").text
    assert 'action="/campaigns/quartier/schedule' not in page
    response = partner.post("/campaigns/quartier/schedule",
                            data={"csrf": csrf_of(page), "opens": "", "closes": "2026-07-01T10:00"})
    assert response.status_code == 400
    assert "was closed on 2026-06-01: it cannot open again" in response.text


def test_a_french_partner_reads_the_refusal_in_french(site: Site) -> None:
    site.account("lea@mdj.example", "partner", partner="maison-des-jeunes", language="fr")
    partner = site.client("fr")
    sign_in(partner, "lea@mdj.example")
    publish_with(partner, campaign_text("quartier"), "", "")
    status, page = set_schedule(partner, "2026-06-05T10:00", "2026-06-04T10:00")
    assert status == 400
    assert "La fermeture 2026-06-04 10:00 vient avant l’ouverture 2026-06-05 10:00" in page
    status, page = set_schedule(partner, "2026-06-05T10:00", "")
    assert status == 303 and "5 juin 2026, 10:00" in page and "Calendrier enregistré." in page


def test_only_the_campaigns_partner_may_schedule_it(site: Site, signed_in: dict[str, TestClient]) -> None:
    publish(signed_in["partner"], campaign_text("quartier"))
    for role in ("council", "safeguarding", "admin"):
        client = signed_in[role]
        token = csrf_of(client.get(LANDING[role]).text)
        response = client.post("/campaigns/quartier/schedule",
                               data={"csrf": token, "opens": "", "closes": "2026-07-01T10:00"})
        assert response.status_code == 403, role
    site.account("other@mdj.example", "partner", partner="centre-mtl")
    other = site.client()
    sign_in(other, "other@mdj.example")
    token = csrf_of(other.get("/campaigns/check").text)
    response = other.post("/campaigns/quartier/schedule",
                          data={"csrf": token, "opens": "", "closes": "2026-07-01T10:00"})
    assert response.status_code == 404
    without_token = signed_in["partner"].post("/campaigns/quartier/schedule",
                                              data={"opens": "", "closes": "2026-07-01T10:00"})
    assert without_token.status_code == 403
    with site.app.sessions() as session:
        run = store.run(session, "quartier")
        assert run is not None and run.scheduled_at is None


def test_a_new_file_with_new_times_wins_over_the_console(site: Site,
                                                         signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    publish(partner, campaign_text("quartier"))
    assert set_schedule(partner, "2026-06-05T10:00", "")[0] == 303
    # A new version with the same (absent) times in the file keeps the times set in the console.
    publish(partner, campaign_text("quartier", version=2, second="need2"))
    assert "5 Jun 2026, 10:00" in partner.get("/campaigns/quartier").text
    # A file that says new times: those apply.
    publish(partner, campaign_text("quartier", version=3, extra=(
        "opens: 2026-06-07 09:00\ncloses: 2026-06-09 18:00\n")))
    page = partner.get("/campaigns/quartier").text
    assert "7 Jun 2026, 09:00" in page and "5 Jun 2026" not in page


def test_the_campaign_list_says_when_it_opens_and_closes(site: Site,
                                                         signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    publish_with(partner, campaign_text("quartier"), "2026-06-03T10:00", "2026-06-10T18:00")
    publish_with(partner, campaign_text("autre"), "", "2026-06-12T18:00")
    listing = partner.get("/campaigns").text
    assert "scheduled" in listing and "opens 3 Jun 2026, 10:00 (Lyon time)" in listing
    assert "closes 12 Jun 2026, 18:00 (Lyon time)" in listing


def test_what_was_typed_comes_back_escaped(site: Site, signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    publish(partner, campaign_text("quartier"))
    hostile = '"><script>alert(1)</script>'
    status, page = set_schedule(partner, hostile, "")
    assert status == 400
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def check_file(client: TestClient, text: str) -> str:
    token = csrf_of(client.get("/campaigns/check").text)
    return client.post("/campaigns/check", data={"csrf": token},
                       files={"file": ("c.yml", text.encode())}).text


FILE_CLOSES = "closes: 2026-06-01 12:00\n"


def test_a_corrected_file_follows_the_closing_time_set_in_the_console(
        site: Site, signed_in: dict[str, TestClient]) -> None:
    partner = signed_in["partner"]
    publish(partner, campaign_text("quartier", extra=FILE_CLOSES))
    assert set_schedule(partner, "", "2026-06-30T18:00")[0] == 303
    # In the evening the file's closing time is past; the one set in the console is not.
    site.clock.now = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    corrected = campaign_text("quartier", version=2, second="need2", extra=FILE_CLOSES)
    checked = check_file(partner, corrected)
    # Beside Publish: the times that will apply, and where they come from.
    assert 'id="publish-closes" name="closes" value="2026-06-30T18:00"' in checked
    assert "These are the times set in the console's schedule" in checked
    location = publish_with(partner, corrected, "", "2026-06-30T18:00")
    assert location == "/campaigns/quartier?done=published"
    page = partner.get(location).text
    assert "Version 2" in page and "30 Jun 2026, 18:00" in page
    # Published without the times beside the button (as a script would): the same schedule.
    publish(partner, campaign_text("quartier", version=3, extra=FILE_CLOSES))
    with site.app.sessions() as session:
        run = store.run(session, "quartier")
        assert run is not None and run.version == 3
        assert run.closes_local == datetime(2026, 6, 30, 18, 0)


def test_a_republish_past_the_consoles_closing_time_says_so_in_french(site: Site) -> None:
    site.account("lea@mdj.example", "partner", partner="maison-des-jeunes", language="fr")
    partner = site.client("fr")
    sign_in(partner, "lea@mdj.example")
    publish_with(partner, campaign_text("quartier", extra=FILE_CLOSES), "", "2026-06-01T12:00")
    assert set_schedule(partner, "", "2026-06-01T16:00")[0] == 303
    site.clock.now = datetime(2026, 6, 1, 18, 0, tzinfo=UTC)
    corrected = campaign_text("quartier", version=2, second="need2", extra=FILE_CLOSES)
    token = csrf_of(partner.get("/campaigns/check").text)
    for times in ({}, {"opens": "", "closes": "2026-06-01T16:00"}):
        response = partner.post("/campaigns/publish", data={"csrf": token, "source": corrected, **times})
        assert response.status_code == 400
        assert ("La fermeture 2026-06-01 16:00 fixée dans le calendrier de la console est déjà passée à "
                "lyon : fixez une fermeture plus tardive dans la console") in response.text
    # The file's own times, changed and past: they would replace the console's, and are refused.
    changed = campaign_text("quartier", version=2, extra="closes: 2026-06-01 19:00\n")
    response = partner.post("/campaigns/publish", data={"csrf": token, "source": changed})
    assert response.status_code == 400
    assert ("La fermeture 2026-06-01 19:00 écrite dans le fichier de la campagne est déjà passée"
            in response.text)
    # A later time chosen beside Publish counts.
    publish_with(partner, corrected, "", "2026-06-25T18:00")
    with site.app.sessions() as session:
        run = store.run(session, "quartier")
        assert run is not None and run.version == 2 and run.closes_local == datetime(2026, 6, 25, 18, 0)
