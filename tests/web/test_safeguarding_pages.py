"""Safeguarding staff follow alerts in the console: open list, the alert and its history, reply, close."""

from __future__ import annotations

from html import unescape

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from bot import alerts
from storage import repositories as repo
from storage import safeguarding as alerts_repo
from storage.models import SafeguardingAlert, SafeguardingDelivery
from tests.web.conftest import Site, csrf_of, sign_in

HOSTILE = "mon beau-père me frappe <script>alert('x')</script>"


def raise_alert(site: Site, city: str, message: str, chat: str) -> str:
    now = site.clock()
    with site.app.sessions.begin() as session:
        participant = repo.get_or_create_participant(session, "telegram", chat, now)
        return alerts_repo.raise_alert(session, participant_id=participant.id, category="abuse_at_home",
                                       categories=["abuse_at_home"], message=message,
                                       scrubbed=message, city=city, language="fr", now=now,
                                       destinations=[])


def test_staff_read_reply_and_close_with_every_step_recorded(site: Site,
                                                             signed_in: dict[str, TestClient]) -> None:
    ref = raise_alert(site, "lyon", HOSTILE, "424242")
    staff = signed_in["safeguarding"]
    listing = staff.get("/alerts")
    assert ref in listing.text and "abuse or violence at home" in listing.text
    page = staff.get(f"/alerts/{ref}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;" in page.text
    with site.app.sessions() as session:
        participant_id = session.scalar(select(SafeguardingAlert.participant_id))
    assert participant_id is not None and participant_id not in page.text and "424242" not in page.text
    sent = staff.post(f"/alerts/{ref}/reply", data={"csrf": csrf_of(page.text),
                                                     "text": "Nous sommes là. Appelle le 119."})
    assert sent.status_code == 303
    with site.app.sessions() as session:
        relays = session.scalars(select(SafeguardingDelivery.text)).all()
    assert any(text and "Nous sommes là. Appelle le 119." in text for text in relays)
    closed = staff.post(f"/alerts/{ref}/close", data={"csrf": csrf_of(page.text), "note": "appelée"})
    assert closed.status_code == 303
    history = staff.get(f"/alerts/{ref}").text
    for action in ("raised", "viewed", "replied", "closed"):
        assert f"<td>{action}</td>" in history
    assert "safeguarding@example.org" in history
    assert ref not in staff.get("/alerts").text
    assert ref in staff.get("/alerts?all=1").text
    audit = signed_in["admin"].get("/admin/audit").text
    assert "alert_replied" in audit and "alert_closed" in audit


def test_an_empty_reply_sends_nothing(site: Site, signed_in: dict[str, TestClient]) -> None:
    ref = raise_alert(site, "lyon", "je veux disparaître", "1")
    staff = signed_in["safeguarding"]
    page = staff.get(f"/alerts/{ref}")
    response = staff.post(f"/alerts/{ref}/reply", data={"csrf": csrf_of(page.text), "text": "  "},
                          follow_redirects=True)
    assert "Write the message to send first." in response.text
    with site.app.sessions() as session:
        assert session.scalars(select(SafeguardingDelivery)).all() == []


def test_a_partner_s_staff_see_only_their_partner_s_cities(site: Site) -> None:
    lyon = raise_alert(site, "lyon", "je veux mourir", "1")
    montreal = raise_alert(site, "montreal", "je veux mourir", "2")
    site.account("sg@mdj.example.org", "safeguarding", partner="maison-des-jeunes")
    client = site.client()
    sign_in(client, "sg@mdj.example.org")
    listing = client.get("/alerts").text
    assert lyon in listing and montreal not in listing
    assert client.get(f"/alerts/{montreal}").status_code == 404
    token = csrf_of(client.get(f"/alerts/{lyon}").text)
    assert client.post(f"/alerts/{montreal}/close", data={"csrf": token}).status_code == 404
    with site.app.sessions() as session:
        alert = alerts_repo.alert(session, montreal)
        assert alert is not None and alert.status == "open"


def test_the_history_reads_in_french(site: Site) -> None:
    ref = raise_alert(site, "lyon", "mon beau-père me frappe", "31")
    site.account("veille@example.org", "safeguarding", language="fr")
    staff = site.client("fr")
    sign_in(staff, "veille@example.org")
    history = staff.get(f"/alerts/{ref}").text
    assert "<td>levée</td>\n<td>maltraitance ou violence à la maison</td>" in history
    assert "<td>consultée</td>" in history
    assert "<td>raised</td>" not in history and "abuse_at_home" not in history


@pytest.mark.parametrize("language", ["fr", "en"])
def test_what_the_bot_delivered_reads_in_the_reader_s_language(site: Site, language: str) -> None:
    ref = raise_alert(site, "lyon", "mon beau-père me frappe", "32")
    with site.app.sessions.begin() as session:
        alert = alerts_repo.alert(session, ref)
        assert alert is not None
        for outcome in (alerts.TO_TELEGRAM.format(address="-1009876543210"),
                        alerts.TO_EMAIL.format(address="veille@example.org"), alerts.RELAYED,
                        alerts.NOT_RELAYED_UNREACHABLE.format(reason="403: bot was blocked by the user"),
                        alerts.NOT_RELAYED_ERASED):
            alerts_repo.record_step(session, alert.id, "bot", "delivered", site.clock(), outcome)
    site.account(f"veille-{language}@example.org", "safeguarding", language=language)
    staff = site.client(language)
    sign_in(staff, f"veille-{language}@example.org")
    history = unescape(staff.get(f"/alerts/{ref}").text)
    expected = {
        "fr": ["alerte remise au groupe Telegram de l’équipe",
               "alerte envoyée par e-mail à veille@example.org",
               "réponse transmise au ou à la jeune",
               "réponse non transmise : le ou la jeune est injoignable (403: bot was blocked by the user)",
               "réponse non transmise : le ou la jeune a effacé ses données"],
        "en": ["alert delivered to the staff Telegram chat", "alert e-mailed to veille@example.org",
               "reply relayed to the young person",
               "reply not relayed: the young person cannot be reached (403: bot was blocked by the user)",
               "reply not relayed: the young person erased their data"],
    }[language]
    for text in expected:
        assert f"<td>{text}</td>" in history
    # The staff chat's id is not on the page.
    assert "9876543210" not in history
