"""A console on a fresh SQLite database, a test client, and accounts of every role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from starlette.testclient import TestClient

from bot.app import App, build_app
from storage import staff_repository as staff
from web import accounts, passwords
from web.app import build_console, create_app
from web.pages import Console
from web.settings import WebSettings

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery staple"
SECRET = "test-secret-key-of-the-console-0123456789"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Site:
    app: App
    console: Console
    clock: Clock

    def client(self, language: str = "en") -> TestClient:
        return TestClient(create_app(self.console), base_url="http://testserver", follow_redirects=False,
                          headers={"accept-language": language})

    def account(self, email: str, role: str, *, partner: str | None = None, council: str | None = None,
                language: str = "en", name: str = "") -> str:
        """An account with its password set, as after following its one-time link."""
        now = self.clock()
        with self.app.sessions.begin() as session:
            link = accounts.add_account(session, self.app.config, self.console.settings, email=email,
                                        name=name or email.split("@")[0], role=role, partner_id=partner,
                                        council_id=council, language=language, actor="test", now=now)
            token = staff.usable_token(session, link.url.rsplit("/", 1)[1], now)
            assert token is not None
            staff.use_token(session, token, passwords.hash_password(PASSWORD), now)
        return email


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 at its lightest: the tests sign in hundreds of times; the parameters are not under test."""
    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def config_path() -> Path:
    return ROOT / "config.yml"


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'console.db'}"


@pytest.fixture
def both_databases(db_url: str) -> str:
    """SQLite and PostgreSQL, for the pages where the database matters: a module takes it with
    `from tests.web.conftest import both_databases as database_url`."""
    return db_url


@pytest.fixture
def site(database_url: str, clock: Clock, config_path: Path) -> Iterator[Site]:
    app = build_app(config_path, database_url, clock=clock)
    settings = WebSettings(secret_key=SECRET, base_url="https://console.example")
    console = build_console(app, settings, clock)
    yield Site(app, console, clock)
    app.close()


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"email": email, "password": password, "csrf": token, "next": "/"})
    assert response.status_code == 303, response.text


ROLES = {
    "admin": {"role": "admin"},
    "partner": {"role": "partner", "partner": "maison-des-jeunes"},
    "council": {"role": "council", "council": "lyon-council"},
    "safeguarding": {"role": "safeguarding"},
}


@pytest.fixture
def signed_in(site: Site) -> dict[str, TestClient]:
    """A client signed in for each role."""
    clients: dict[str, TestClient] = {}
    for role, scope in ROLES.items():
        email = site.account(f"{role}@example.org", scope["role"], partner=scope.get("partner"),
                             council=scope.get("council"))
        client = site.client()
        sign_in(client, email)
        clients[role] = client
    return clients
