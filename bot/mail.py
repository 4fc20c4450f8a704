"""Sending e-mail through the deployment's SMTP server (settings from the environment)."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int = 25
    sender: str = "youthvoice@localhost"
    user: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Mailer | None:
        """SMTP_HOST, SMTP_PORT, SMTP_FROM, SMTP_USER, SMTP_PASSWORD, SMTP_STARTTLS; None without a host."""
        host = env.get("SMTP_HOST")
        if not host:
            return None
        return cls(host=host, port=int(env.get("SMTP_PORT") or 25),
                   sender=env.get("SMTP_FROM") or "youthvoice@localhost",
                   user=env.get("SMTP_USER") or None, password=env.get("SMTP_PASSWORD") or None,
                   starttls=(env.get("SMTP_STARTTLS") or "").lower() in {"1", "true", "yes"})

    def send(self, to: str, subject: str, body: str) -> None:
        """Raises OSError or smtplib.SMTPException when the server cannot take it: the caller retries."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(message)
