"""No page, for any role, shows a secret or anything that identifies a young person: not the cookie
key, a password hash, a session id, a chat id or a participant id."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select
from starlette.testclient import TestClient

from storage import campaign_store as store
from storage.models import ChannelIdentity, Participant
from storage.staff import StaffUser
from tests.support.deployment import campaign_text, seed_participants
from tests.web.conftest import SECRET, Site
from tests.web.test_campaign_pages import broadcast, publish
from tests.web.test_council_pages import seed
from tests.web.test_safeguarding_pages import raise_alert
from web.pages import SESSION_COOKIE

PAGES = {
    "admin": ["/admin/users", "/admin/audit", "/results", "/results/lyon"],
    "partner": ["/campaigns", "/campaigns/quartier", "/campaigns/check", "/campaigns/quartier/export.csv",
                "/campaigns/quartier/export.notes.csv"],
    "council": ["/council", "/council/results/my-city", "/council/digests/1"],
    "safeguarding": ["/alerts", "/alerts?all=1"],
    "nobody": ["/login", "/results", "/results/lyon", "/results/montreal"],
}


def test_no_page_shows_a_secret_or_an_identity(site: Site, signed_in: dict[str, TestClient],
                                               tmp_path: Path) -> None:
    seed(site, tmp_path)
    chats = seed_participants(site.app.sessions, 12, city="lyon")
    publish(signed_in["partner"], campaign_text("quartier"))
    signed_in["partner"].post("/campaigns/quartier/send", data={
        "csrf": re.search(r'name="csrf" value="([^"]+)"',  # type: ignore[union-attr]
                          signed_in["partner"].get("/campaigns/quartier").text).group(1)})
    broadcast(site, "quartier")
    alert = raise_alert(site, "lyon", "il me frappe", str(chats[0]))
    with site.app.sessions.begin() as session:
        store.close_run(session, "my-city", site.clock())
    with site.app.sessions() as session:
        forbidden = {SECRET, *session.scalars(select(StaffUser.password_hash)).all(),
                     *session.scalars(select(ChannelIdentity.external_id)).all(),
                     *session.scalars(select(Participant.id)).all()}
    forbidden |= {client.cookies[SESSION_COOKIE].split(".")[0] for client in signed_in.values()}
    clients = {**signed_in, "nobody": site.client()}
    pages = {**PAGES, "safeguarding": [*PAGES["safeguarding"], f"/alerts/{alert}"]}
    seen = 0
    for role, paths in pages.items():
        for path in paths:
            response = clients[role].get(path)
            assert response.status_code == 200, (role, path, response.status_code)
            leaked = [secret for secret in forbidden if secret and str(secret) in response.text]
            assert not leaked, (role, path, leaked)
            seen += 1
    assert seen == sum(len(paths) for paths in pages.values())
