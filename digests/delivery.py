"""Getting a built digest to a council: SMTP, an outbox folder, or a Telegram chat.

Each sender either delivers or raises DeliveryFailed; the caller keeps the digest queued and tries
again later, so a server that is down or refusing loses nothing.
"""

from __future__ import annotations

import base64
import json
import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from bot.config import SmtpConfig

log = logging.getLogger(__name__)

QUICK_RETRIES = 3


class DeliveryFailed(Exception):
    """The digest did not go out this time; it stays queued."""


@dataclass(frozen=True)
class SmtpSender:
    config: SmtpConfig
    username: str | None = None
    password: str | None = None
    # Seconds between the quick retries of one attempt (tests make it 0).
    pause: float = 1.0

    def send(self, message: EmailMessage) -> None:
        last: Exception | None = None
        for attempt in range(1, QUICK_RETRIES + 1):
            try:
                self._send_once(message)
                return
            except smtplib.SMTPRecipientsRefused as exc:
                last = exc
                log.warning("SMTP %s refused every recipient of %s: %s", self.config.host,
                            message["Message-ID"], exc.recipients)
            except (smtplib.SMTPException, OSError) as exc:
                last = exc
                log.warning("SMTP %s:%d, attempt %d: %s", self.config.host, self.config.port, attempt, exc)
            if attempt < QUICK_RETRIES:
                time.sleep(self.pause * attempt)
        raise DeliveryFailed(f"SMTP {self.config.host}:{self.config.port}: {last}")

    def _send_once(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if self.config.security == "ssl":
            client = smtplib.SMTP_SSL(self.config.host, self.config.port, timeout=self.config.timeout,
                                      context=context)
        else:
            client = smtplib.SMTP(self.config.host, self.config.port, timeout=self.config.timeout)
        with client:
            if self.config.security == "starttls":
                client.starttls(context=context)
            if self.username is not None and self.password is not None:
                client.login(self.username, self.password)
            refused = client.send_message(message)
            if refused:
                # Some recipients took it: sending again would duplicate it for them.
                log.warning("digest %s not accepted for %s", message["Message-ID"], sorted(refused))


@dataclass(frozen=True)
class OutboxWriter:
    """The embedded default: each digest as .eml (open it in any mail client) and .html."""

    folder: Path

    def write(self, name: str, eml: bytes) -> tuple[Path, Path]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            eml_path = self.folder / f"{name}.eml"
            html_path = self.folder / f"{name}.html"
            eml_path.write_bytes(eml)
            html_path.write_text(_html_with_images(eml), encoding="utf-8")
        except OSError as exc:
            raise DeliveryFailed(f"outbox {self.folder}: {exc}") from exc
        return eml_path.resolve(), html_path.resolve()


def _html_with_images(eml: bytes) -> str:
    """The message's HTML with its inline charts turned into data URIs, for a browser."""
    message = message_from_bytes(eml, policy=policy.default)
    assert isinstance(message, EmailMessage)
    html_part = message.get_body(("html",))
    html = html_part.get_content() if html_part is not None else ""
    for part in message.walk():
        cid = part.get("Content-ID")
        if cid and part.get_content_type() == "image/png":
            png = part.get_payload(decode=True)
            assert isinstance(png, bytes)
            data = base64.b64encode(png).decode("ascii")
            html = html.replace(f"cid:{cid.strip('<>')}", f"data:image/png;base64,{data}")
    return str(html)


class TelegramBot(Protocol):
    """What digests need of python-telegram-bot's Bot (used as ``async with bot:``)."""

    async def send_message(self, chat_id: int, text: str) -> Any: ...

    async def send_photo(self, chat_id: int, photo: bytes, caption: str) -> Any: ...

    async def __aenter__(self) -> TelegramBot: ...

    async def __aexit__(self, exc_type: type[BaseException] | None, exc_value: BaseException | None,
                        traceback: TracebackType | None) -> None: ...


def telegram_payload(text: str, photos: list[tuple[str, bytes]]) -> bytes:
    return json.dumps({"text": text, "photos": [
        {"caption": caption, "png": base64.b64encode(png).decode("ascii")} for caption, png in photos
    ]}).encode("utf-8")


async def send_to_telegram(bot: TelegramBot, chat_id: int, payload: bytes, done: int) -> int:
    """Send the text, then each chart as a photo, skipping the ``done`` first messages (an earlier
    attempt sent them). Returns how many are sent; raises DeliveryFailed with that count kept."""
    content = json.loads(payload)
    steps = 1 + len(content["photos"])
    sent = done
    try:
        while sent < steps:
            if sent == 0:
                # Plain text, no parse mode: nothing anyone typed is read as markup.
                await bot.send_message(chat_id=chat_id, text=content["text"])
            else:
                photo = content["photos"][sent - 1]
                await bot.send_photo(chat_id=chat_id, photo=base64.b64decode(photo["png"]),
                                     caption=photo["caption"][:1024])
            sent += 1
    except Exception as exc:
        raise PartialDelivery(sent, f"Telegram chat {chat_id}: {exc}") from exc
    return sent


class PartialDelivery(DeliveryFailed):
    def __init__(self, sent: int, message: str) -> None:
        super().__init__(message)
        self.sent = sent
