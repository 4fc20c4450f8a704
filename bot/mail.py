"""Sending safeguarding alerts by e-mail through the deployment's SMTP server (config.yml's `email`)."""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage

from bot.config import EmailConfig


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int = 25
    sender: str = "youthvoice@localhost"
    user: str | None = None
    password: str | None = None
    # "starttls", "ssl" or "none", as in config.yml's email.smtp.
    security: str = "none"
    timeout: float = 10.0

    @classmethod
    def from_config(cls, email: EmailConfig, env: Mapping[str, str]) -> Mailer | None:
        """The server of config.yml's `email.smtp` (credentials SMTP_USERNAME and SMTP_PASSWORD from
        the environment); None when no server is configured."""
        smtp = email.smtp
        if smtp is None:
            return None
        return cls(host=smtp.host, port=smtp.port, sender=email.sender,
                   user=env.get("SMTP_USERNAME") or None, password=env.get("SMTP_PASSWORD") or None,
                   security=smtp.security, timeout=smtp.timeout)

    def send(self, to: str, subject: str, body: str) -> None:
        """Raises OSError or smtplib.SMTPException when the server cannot take it: the caller retries."""
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        connect = smtplib.SMTP_SSL if self.security == "ssl" else smtplib.SMTP
        with connect(self.host, self.port, timeout=self.timeout) as smtp:
            if self.security == "starttls":
                smtp.starttls()
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(message)
