"""Signing in: passwords, one-time links, sessions that rotate, CSRF on every form, throttling."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from storage import staff_repository as staff
from storage.staff import AuditEvent, StaffSession
from tests.web.conftest import PASSWORD, Site, csrf_of, sign_in
from web import accounts
from web.pages import CSRF_COOKIE, SESSION_COOKIE


def test_a_signed_in_partner_lands_on_the_console_and_can_sign_out(site: Site) -> None:
    site.account("ana@example.org", "partner", partner="maison-des-jeunes", name="Ana")
    client = site.client()
    assert client.get("/").headers["location"] == "/login?next=/"
    sign_in(client, "ANA@example.org ")
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200 and "Ana" in page.text
    client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert client.get("/").status_code == 303


def test_the_session_cookie_is_http_only_same_site_and_signed(site: Site) -> None:
    site.account("ana@example.org", "admin")
    client = site.client()
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"email": "ana@example.org", "password": PASSWORD, "csrf": token})
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    forged = client.cookies[SESSION_COOKIE].rsplit(".", 1)[0] + ".forged"
    client.cookies.set(SESSION_COOKIE, forged)
    assert client.get("/").status_code == 303


def test_signing_in_never_keeps_a_session_id_the_browser_brought(site: Site) -> None:
    site.account("mallory@example.org", "partner", partner="maison-des-jeunes")
    site.account("ana@example.org", "admin")
    attacker = site.client()
    sign_in(attacker, "mallory@example.org")
    planted = attacker.cookies[SESSION_COOKIE]
    victim = site.client()
    victim.cookies.set(SESSION_COOKIE, planted, domain="testserver.local")
    token = csrf_of(victim.get("/", follow_redirects=True).text)
    response = victim.post("/login", data={"email": "ana@example.org", "password": PASSWORD, "csrf": token})
    assert response.status_code == 303
    assert victim.cookies[SESSION_COOKIE] != planted
    assert victim.get("/admin/users").status_code == 200
    # The planted session was closed: whoever kept it is signed out, not signed in as the victim.
    assert attacker.get("/admin/users").status_code == 303
    assert attacker.get("/").status_code == 303


def test_signing_in_forgets_expired_sessions(site: Site) -> None:
    site.account("ana@example.org", "admin")
    first = site.client()
    sign_in(first, "ana@example.org")
    site.clock.advance(site.console.settings.session_lifetime + timedelta(minutes=1))
    assert first.get("/admin/users").status_code == 303
    sign_in(site.client(), "ana@example.org")
    with site.app.sessions() as session:
        assert session.query(StaffSession).count() == 1


def test_a_wrong_password_or_unknown_address_is_refused_alike(site: Site) -> None:
    site.account("ana@example.org", "admin")
    client = site.client()
    for email, password in (("ana@example.org", "wrong password!"), ("nobody@example.org", PASSWORD)):
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"email": email, "password": password, "csrf": token})
        assert response.status_code == 401
        assert "Wrong email address or password." in response.text


def test_login_attempts_are_throttled_per_address(site: Site) -> None:
    site.account("ana@example.org", "admin")
    client = site.client()
    for _ in range(5):
        token = csrf_of(client.get("/login").text)
        client.post("/login", data={"email": "ana@example.org", "password": "guess guess!", "csrf": token})
    token = csrf_of(client.get("/login").text)
    refused = client.post("/login", data={"email": "ana@example.org", "password": PASSWORD, "csrf": token})
    assert refused.status_code == 429 and "Too many failed attempts" in refused.text
    site.clock.advance(timedelta(minutes=16))
    sign_in(client, "ana@example.org")


def test_every_form_refuses_a_post_without_its_token(site: Site, signed_in: dict[str, TestClient]) -> None:
    site.account("bob@example.org", "admin")
    anonymous = site.client()
    anonymous.get("/login")
    no_token = anonymous.post("/login", data={"email": "bob@example.org", "password": PASSWORD})
    assert no_token.status_code == 403 and "This form has expired" in no_token.text
    wrong = anonymous.post("/login", data={"email": "bob@example.org", "password": PASSWORD,
                                           "csrf": "not-the-token"})
    assert wrong.status_code == 403 and SESSION_COOKIE not in wrong.cookies
    admin = signed_in["admin"]
    created = admin.post("/admin/users", data={"email": "eve@example.org", "name": "Eve", "role": "admin",
                                               "language": "en"})
    assert created.status_code == 403
    with site.app.sessions() as session:
        assert staff.find_user(session, "eve@example.org") is None
    # The anonymous token is useless once signed in: the session has its own.
    anonymous_token = signed_in["admin"].cookies.get(CSRF_COOKIE)
    assert anonymous_token is None or admin.post(
        "/admin/users", data={"email": "eve@example.org", "name": "Eve", "role": "admin",
                              "csrf": anonymous_token}).status_code == 403


def test_a_password_link_works_once_and_signs_in(site: Site) -> None:
    with site.app.sessions.begin() as session:
        link = accounts.add_account(session, site.app.config, site.console.settings, email="cy@example.org",
                                    name="Cy", role="council", partner_id=None, council_id="lyon-council",
                                    language="fr", actor="test", now=site.clock())
    assert link.url.startswith("https://console.example/password/")
    path = link.url.removeprefix("https://console.example")
    client = site.client()
    form = client.get(path)
    assert "Choisissez votre mot de passe" in form.text or "Choose your password" in form.text
    weak = client.post(path, data={"password": "short", "again": "short", "csrf": csrf_of(form.text)})
    assert weak.status_code == 400 and "au moins 12 caractères" in weak.text
    done = client.post(path, data={"password": PASSWORD, "again": PASSWORD, "csrf": csrf_of(form.text)})
    assert done.status_code == 303
    assert client.get("/", follow_redirects=True).status_code == 200
    assert site.client().get(path).status_code == 404
    sign_in(site.client(), "cy@example.org")


def test_a_password_link_expires(site: Site) -> None:
    with site.app.sessions.begin() as session:
        link = accounts.add_account(session, site.app.config, site.console.settings, email="cy@example.org",
                                    name="Cy", role="admin", partner_id=None, council_id=None,
                                    language="en", actor="test", now=site.clock())
    site.clock.advance(site.console.settings.password_link_lifetime + timedelta(seconds=1))
    page = site.client().get(link.url.removeprefix("https://console.example"))
    assert page.status_code == 404 and "expired" in page.text


def test_a_disabled_account_is_signed_out_everywhere(site: Site, signed_in: dict[str, TestClient]) -> None:
    admin = signed_in["admin"]
    page = admin.get("/admin/users")
    with site.app.sessions() as session:
        partner = staff.find_user(session, "partner@example.org")
        assert partner is not None
        partner_id = partner.id
    admin.post(f"/admin/users/{partner_id}/active", data={"csrf": csrf_of(page.text), "active": "0"})
    assert signed_in["partner"].get("/").status_code == 303
    with site.app.sessions() as session:
        assert session.query(StaffSession).filter_by(user_id=partner_id).count() == 0
        actions = [e.action for e in session.query(AuditEvent).order_by(AuditEvent.id)]
    assert "account_disabled" in actions


def test_the_language_chosen_is_remembered_for_the_account(site: Site) -> None:
    site.account("ana@example.org", "admin", language="en")
    client = site.client()
    sign_in(client, "ana@example.org")
    page = client.get("/admin/users")
    assert "Add an account" in page.text
    client.post("/language", data={"csrf": csrf_of(page.text), "language": "fr", "next": "/admin/users"})
    other_browser = site.client()
    sign_in(other_browser, "ana@example.org")
    assert "Ajouter un compte" in other_browser.get("/admin/users").text


def test_anonymous_pages_follow_the_browser_then_the_choice(site: Site) -> None:
    client = site.client()
    assert "Se connecter" in client.get("/login", headers={"accept-language": "fr-CA,fr;q=0.9"}).text
    assert "Sign in" in client.get("/login", headers={"accept-language": "en-GB,en;q=0.8,fr;q=0.5"}).text
    client.get("/login?lang=fr")
    assert "Se connecter" in client.get("/login", headers={"accept-language": "en"}).text


def test_a_session_s_last_use_is_written_at_most_once_a_minute(site: Site) -> None:
    client = site.client()
    sign_in(client, site.account("partner@example.org", "partner", partner="maison-des-jeunes"))
    signed_in_at = site.clock.now

    def last_seen() -> object:
        with site.app.sessions() as session:
            return session.query(StaffSession).one().last_seen_at

    site.clock.advance(timedelta(seconds=50))
    assert client.get("/campaigns").status_code == 200
    assert last_seen() == signed_in_at
    site.clock.advance(timedelta(seconds=20))
    assert client.get("/campaigns").status_code == 200
    assert last_seen() == site.clock.now


def test_the_audit_trail_names_each_action_in_the_reader_s_language(site: Site) -> None:
    site.account("ana@example.org", "admin", language="fr")
    admin = site.client("fr")
    sign_in(admin, "ana@example.org")
    token = csrf_of(admin.get("/admin/users").text)
    admin.post("/admin/users", data={"csrf": token, "email": "leo@example.org", "name": "Léo",
                                     "role": "council", "council": "lyon-council", "language": "fr"})
    audit = admin.get("/admin/audit").text
    assert 'compte créé <span class="hint">account_created</span>' in audit
    assert 'connexion <span class="hint">signed_in</span>' in audit
