"""SMTP with STARTTLS and with TLS from the start, logging in with credentials from the environment."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.app import digest_service
from bot.config import Secrets, SmtpConfig
from digests.delivery import DeliveryFailed, SmtpSender
from tests.digests.conftest import deploy
from tests.support.smtp import Mailbox
from tests.support.telegram import free_port

USER, PASSWORD = "digests@youthvoice.example", "correct horse"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the system's openssl."""
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        good = (data.login.decode(), data.password.decode()) == (USER, PASSWORD)
        self.seen.append((data.login.decode(), good))
        return AuthResult(success=good)


@pytest.fixture(params=["starttls", "ssl"])
def server(request: pytest.FixtureRequest, certificate: tuple[Path, Path],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int, Mailbox, Logins]]:
    cert, key = certificate
    # The client checks the server's certificate against the trusted ones, as in production.
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox, logins, port = Mailbox(), Logins(), free_port()
    options: dict[str, Any] = {"authenticator": logins, "auth_require_tls": True}
    if request.param == "starttls":
        options.update(tls_context=context, require_starttls=True)
    else:
        # aiosmtpd does not see a connection that was TLS from the start as TLS; it is.
        options.update(ssl_context=context, auth_require_tls=False)
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield request.param, port, mailbox, logins
    finally:
        controller.stop()


def test_digests_go_over_tls_with_the_environment_s_credentials(
        server: tuple[str, int, Mailbox, Logins], tmp_path: Path) -> None:
    security, port, mailbox, logins = server
    deployed = deploy(f"sqlite:///{tmp_path / 'tls.db'}", None, tmp_path / "outbox", people=20)
    try:
        email = deployed.app.config.email.model_copy(update={"smtp": SmtpConfig(
            host="127.0.0.1", port=port, security=security, timeout=5)})
        deployed.app.config = deployed.app.config.model_copy(update={"email": email})
        service = digest_service(deployed.app, Secrets({"SMTP_USERNAME": USER, "SMTP_PASSWORD": PASSWORD}),
                                 clock=deployed.clock)
        lyon = service.council("lyon-council")
        assert service.queue(lyon, deployed.week) == ["email"]
        assert service.deliver_due() == 1
    finally:
        deployed.app.close()
    assert logins.seen == [(USER, True)]
    (message,) = mailbox.messages()
    assert message["To"] == "jeunesse@lyon.example"


def test_wrong_credentials_are_a_failed_delivery_not_a_crash(
        server: tuple[str, int, Mailbox, Logins]) -> None:
    security, port, mailbox, _ = server
    sender = SmtpSender(SmtpConfig(host="127.0.0.1", port=port, security=security, timeout=5),
                        USER, "wrong", pause=0)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = USER, "a@b.example", "test"
    message.set_content("hello")
    with pytest.raises(DeliveryFailed, match=r"127\.0\.0\.1"):
        sender.send(message)
    assert mailbox.received == []
