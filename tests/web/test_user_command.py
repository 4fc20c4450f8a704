"""`youthvoice user ...`: accounts made at the terminal, with a one-time link that works."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from bot.app import build_app
from bot.cli import main
from storage.staff import AuditEvent
from tests.web.conftest import PASSWORD, ROOT, SECRET, Clock, csrf_of
from web.app import build_console, create_app
from web.settings import WebSettings


def test_user_add_prints_a_link_that_sets_the_password(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    database = f"sqlite:///{tmp_path / 'console.db'}"
    monkeypatch.setenv("YOUTHVOICE_WEB_SECRET", SECRET)
    monkeypatch.setenv("YOUTHVOICE_WEB_URL", "https://console.example/")
    args = ["--config", str(ROOT / "config.yml"), "--database", database, "user"]
    assert main([*args, "add", "Lea@Example.org", "--role", "partner", "--partner", "maison-des-jeunes",
                 "--name", "Léa"]) == 0
    out = capsys.readouterr().out
    assert "Account created for lea@example.org (partner)." in out
    url = next(word for word in out.split() if word.startswith("https://console.example/password/"))

    assert main([*args, "add", "x@example.org", "--role", "partner", "--partner", "nobody"]) == 2
    assert "a partner account needs --partner, one of: maison-des-jeunes" in capsys.readouterr().err
    assert main([*args, "add", "lea@example.org", "--role", "admin"]) == 2
    assert "exists already" in capsys.readouterr().err

    app = build_app(ROOT / "config.yml", database)
    try:
        client = TestClient(create_app(build_console(app, WebSettings(SECRET), Clock())),
                            follow_redirects=False)
        path = url.removeprefix("https://console.example")
        token = csrf_of(client.get(path).text)
        assert client.post(path, data={"password": PASSWORD, "again": PASSWORD, "csrf": token}
                           ).status_code == 303
        with app.sessions() as session:
            actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
            actors = set(session.scalars(select(AuditEvent.actor)).all())
    finally:
        app.close()
    assert actions[:3] == ["account_created", "password_link_issued", "password_set"]
    assert actors == {"command line", "lea@example.org"}

    assert main([*args, "list"]) == 0
    assert "lea@example.org" in capsys.readouterr().out
    assert main([*args, "disable", "lea@example.org"]) == 0
    assert main([*args, "list"]) == 0
    assert "disabled" in capsys.readouterr().out
