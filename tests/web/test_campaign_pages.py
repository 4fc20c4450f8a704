"""A partner publishes, follows, sends, closes and exports a campaign in the console; another
partner sees none of it."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import event, func, select
from starlette.testclient import TestClient

from bot.broadcast import Broadcaster, Flooded, Planner, Send, Sent
from bot.campaigns import LiveCatalogue
from bot.engine.messages import Outbound
from bot.rate_budget import Limits, RateBudget
from storage import invitations as queue
from storage.models import Invitation
from tests.support.deployment import campaign_text, seed_participants
from tests.web.conftest import ROOT, Site, csrf_of, sign_in
from tests.web.conftest import both_databases as database_url  # noqa: F401 (SQLite and PostgreSQL)

HOSTILE_TITLE = "{fr: \"Ton <b>quartier</b>\", en: \"Your <script>x()</script> area\"}"


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """config.yml as shipped, with a second partner in Montréal."""
    text = (ROOT / "config.yml").read_text(encoding="utf-8")
    text = text.replace("partners:\n", "partners:\n  - id: centre-mtl\n    name: Centre des jeunes de "
                                       "Montréal\n    cities: [montreal]\n", 1)
    path = tmp_path / "config.yml"
    path.write_text(text, encoding="utf-8")
    (tmp_path / "surveys").mkdir()
    (tmp_path / "surveys" / "my-city.yml").write_text(
        (ROOT / "surveys" / "my-city.yml").read_text(encoding="utf-8"), encoding="utf-8")
    return path


def publish(client: TestClient, text: str) -> str:
    token = csrf_of(client.get("/campaigns/check").text)
    checked = client.post("/campaigns/check", data={"csrf": token}, files={"file": ("c.yml", text.encode())})
    assert "Publish" in checked.text, checked.text
    response = client.post("/campaigns/publish", data={"csrf": token, "source": text})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def figure(page: str, name: str) -> str:
    found = re.search(rf'<div class="figure"><strong>(.*?)</strong>{name}</div>', page)
    assert found, name
    return found.group(1)


async def accepted(_address: str, _message: Outbound) -> Sent:
    return Sent.SENT


def broadcast(site: Site, campaign_id: str, send: Send = accepted) -> None:

    async def run() -> None:
        app = site.app
        # A catalogue that sees the campaign just published (the app's reloads every 20 s).
        planner = Planner(app.sessions, app.config, LiveCatalogue(app.sessions, app.config, every=0),
                          app.service.clock)
        budget = RateBudget(app.sessions, "test", Limits(per_second=1000))
        sender = Broadcaster(planner, app.service.catalog, budget, send, mark_stopped=lambda _: None)
        while await sender.round(campaign_id):
            pass
        await budget.aclose()

    asyncio.run(run())


def test_publish_follow_send_close_and_export(site: Site, signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 12, city="lyon")
    partner = signed_in["partner"]
    location = publish(partner, campaign_text("quartier"))
    assert location == "/campaigns/quartier?done=published"
    page = partner.get(location).text
    assert "Your neighbourhood" in page and "Published." in page
    assert figure(page, "in the target") == "12" and figure(page, "invited") == "0"
    assert "quartier" in partner.get("/campaigns").text

    sent = partner.post("/campaigns/quartier/send", data={"csrf": csrf_of(page)})
    assert sent.headers["location"] == "/campaigns/quartier?done=sent"
    waiting = partner.get("/campaigns/quartier").text
    assert "12 invitations waiting to be sent" in waiting and 'http-equiv="refresh"' in waiting
    broadcast(site, "quartier")
    after = partner.get("/campaigns/quartier").text
    assert figure(after, "invited") == "12"
    assert '<td class="num">12</td>' in partner.get("/campaigns").text
    assert "waiting to be sent" not in after and 'http-equiv="refresh"' not in after

    export = partner.get("/campaigns/quartier/export.xlsx")
    assert export.status_code == 200
    assert export.headers["content-disposition"] == 'attachment; filename="quartier-answers.xlsx"'
    book = load_workbook(io.BytesIO(export.content))
    assert book.sheetnames == ["answers", "notes"]
    csv = partner.get("/campaigns/quartier/export.csv")
    assert csv.text.lstrip("\ufeff").startswith("participant")
    assert "700000" not in csv.text

    closed = partner.post("/campaigns/quartier/close", data={"csrf": csrf_of(after)})
    assert closed.headers["location"] == "/campaigns/quartier?done=closed"
    final = partner.get("/campaigns/quartier").text
    assert "Send the invitations now" not in final and "closed" in final
    audit = signed_in["admin"].get("/admin/audit").text
    for action in ("campaign_published", "campaign_sent", "campaign_exported", "campaign_closed"):
        assert action in audit


def test_a_small_group_is_never_shown_exactly(site: Site, signed_in: dict[str, TestClient]) -> None:
    seed_participants(site.app.sessions, 3, city="lyon")
    page = signed_in["partner"].get(publish(signed_in["partner"], campaign_text("quartier"))).text
    assert "&lt; 5" in figure(page, "in the target")
    assert not re.search(r'<td class="num">[1-4]</td>', page)


def test_another_partner_sees_nothing_of_it(site: Site, signed_in: dict[str, TestClient]) -> None:
    publish(signed_in["partner"], campaign_text("quartier"))
    site.account("mtl@centre.example", "partner", partner="centre-mtl")
    other = site.client()
    sign_in(other, "mtl@centre.example")
    assert "quartier" not in other.get("/campaigns").text
    token = csrf_of(other.get("/campaigns").text)
    assert other.get("/campaigns/quartier").status_code == 404
    assert other.get("/campaigns/quartier/export.csv").status_code == 404
    assert other.post("/campaigns/quartier/close", data={"csrf": token}).status_code == 404
    assert other.post("/campaigns/quartier/send", data={"csrf": token}).status_code == 404
    refused = other.post("/campaigns/publish", data={"csrf": token, "source": campaign_text("autre")})
    assert refused.status_code == 400 and "may publish for montreal only" in refused.text
    with site.app.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_campaign_texts_are_escaped_on_every_page(site: Site, signed_in: dict[str, TestClient]) -> None:
    text = re.sub(r"title: .*", f"title: {HOSTILE_TITLE}", campaign_text("quartier"), count=1)
    partner = signed_in["partner"]
    location = publish(partner, text)
    for page in (partner.get(location).text, partner.get("/campaigns").text):
        assert "<script>x()</script>" not in page and "<b>quartier</b>" not in page


def test_a_status_view_asks_in_one_transaction_besides_the_session_check(
        site: Site, signed_in: dict[str, TestClient]) -> None:
    location = publish(signed_in["partner"], campaign_text("quartier"))
    checkouts: list[object] = []

    def taken(*args: object) -> None:
        checkouts.append(args)

    event.listen(site.app.engine, "checkout", taken)
    try:
        page = signed_in["partner"].get(location)
    finally:
        event.remove(site.app.engine, "checkout", taken)
    assert page.status_code == 200 and "in the target" in page.text
    # The session check, then the page: the campaigns' check and the figures share the page's.
    assert len(checkouts) == 2


def test_the_status_page_tells_what_the_invitations_not_sent_yet_wait_for(site: Site) -> None:
    """Telegram's flood limit refuses four invitations: "invited" counts the eight it accepted, and
    the four are shown waiting for Telegram's limit, in the partner's language, until they go."""
    chats = seed_participants(site.app.sessions, 12, city="lyon")
    site.account("lea@mdj.example", "partner", partner="maison-des-jeunes", language="fr")
    partner = site.client("fr")
    sign_in(partner, "lea@mdj.example")
    token = csrf_of(partner.get("/campaigns/check").text)
    assert partner.post("/campaigns/publish",
                        data={"csrf": token, "source": campaign_text("quartier")}).status_code == 303
    page = partner.get("/campaigns/quartier").text
    partner.post("/campaigns/quartier/send", data={"csrf": csrf_of(page)})
    refused = {str(chat) for chat in chats[:4]}

    async def telegram(address: str, _message: Outbound) -> Sent | Flooded:
        return Flooded(60) if address in refused else Sent.SENT

    broadcast(site, "quartier", telegram)
    page = partner.get("/campaigns/quartier").text
    assert figure(page, "invités") == "8"
    assert "4 en attente de la limite de Telegram" in page
    assert "Telegram a demandé au bot de ralentir" in page and 'http-equiv="refresh"' in page
    # Telegram's wait is over: they go, and nothing is left waiting.
    refused.clear()
    site.clock.advance(timedelta(seconds=61))
    broadcast(site, "quartier", telegram)
    page = partner.get("/campaigns/quartier").text
    assert figure(page, "invités") == "12"
    assert "limite de Telegram" not in page and 'http-equiv="refresh"' not in page


def test_the_status_page_tells_what_a_stopped_sender_left_on_its_way(site: Site) -> None:
    """A sender killed while three invitations were on their way: once its lease ran out they
    are shown as perhaps arrived and not sent again, in each partner's language, never as being
    sent now; nobody counts them as invited."""
    seed_participants(site.app.sessions, 12, city="lyon")
    site.account("lea@mdj.example", "partner", partner="maison-des-jeunes", language="fr")
    site.account("sam@mdj.example", "partner", partner="maison-des-jeunes", language="en")
    french, english = site.client("fr"), site.client("en")
    sign_in(french, "lea@mdj.example")
    sign_in(english, "sam@mdj.example")
    token = csrf_of(french.get("/campaigns/check").text)
    assert french.post("/campaigns/publish",
                       data={"csrf": token, "source": campaign_text("quartier")}).status_code == 303
    french.post("/campaigns/quartier/send", data={"csrf": csrf_of(french.get("/campaigns/quartier").text)})
    now, lease = site.clock(), timedelta(seconds=15)
    with site.app.sessions.begin() as session:
        claimed = queue.claim(session, "stopped:1", now, lease, 3, "telegram", "quartier")
        assert len(queue.mark_sending(session, [row.id for row in claimed], "stopped:1", now + lease)) == 3
    # Within its lease, by the console's clock, the sender may still be at it.
    page = english.get("/campaigns/quartier").text
    assert "3 being sent now" in page and "may have arrived" not in page
    site.clock.advance(lease + timedelta(seconds=1))
    page = french.get("/campaigns/quartier").text
    assert "3 invitations sont peut-être arrivées : le bot s’est arrêté pendant leur envoi. " \
           "Elles ne sont pas renvoyées, pour que personne ne soit invité deux fois." in page
    assert "en cours d’envoi" not in page and "9 invitations en attente d’envoi" in page
    assert figure(page, "invités") == "0"
    page = english.get("/campaigns/quartier").text
    assert "3 invitations may have arrived: the bot stopped while sending them." in page
    assert "being sent now" not in page and "not counted as invited" in page
    # The rest goes out; the three stay as they were, and the page stops reloading itself.
    broadcast(site, "quartier")
    page = english.get("/campaigns/quartier").text
    assert figure(page, "invited") == "9" and "3 invitations may have arrived" in page
    assert 'http-equiv="refresh"' not in page

