"""The console's settings: where it is reached, and the key that signs its cookies."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

SECRET_FILE = Path("var/web-secret")
MIN_SECRET_LENGTH = 32


class SettingsError(Exception):
    """The console cannot start with these settings; the message says what to change."""


@dataclass(frozen=True)
class WebSettings:
    secret_key: str
    # The address people type (behind the reverse proxy): one-time links are built on it.
    base_url: str = "http://127.0.0.1:8080"
    session_lifetime: timedelta = timedelta(hours=12)
    password_link_lifetime: timedelta = timedelta(days=3)
    # Five wrong passwords for one address, or twenty from one client, within the window.
    login_window: timedelta = timedelta(minutes=15)
    login_failures_per_email: int = 5
    login_failures_per_client: int = 20


def secret_key(env: Mapping[str, str] | None = None, secret_file: Path = SECRET_FILE) -> str:
    """YOUTHVOICE_WEB_SECRET, else a key made once and kept in var/web-secret (readable by its owner).

    Every worker of one deployment must share the key, or each would refuse the others' cookies.
    """
    source = os.environ if env is None else env
    configured = source.get("YOUTHVOICE_WEB_SECRET", "").strip()
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise SettingsError(f"YOUTHVOICE_WEB_SECRET must be at least {MIN_SECRET_LENGTH} characters "
                                "long; `python -c 'import secrets; print(secrets.token_urlsafe(48))'` "
                                "makes one")
        return configured
    if secret_file.exists():
        return secret_file.read_text(encoding="utf-8").strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    descriptor = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(key + "\n")
    return key


def base_url(env: Mapping[str, str] | None = None) -> str:
    source = os.environ if env is None else env
    return (source.get("YOUTHVOICE_WEB_URL", "").strip() or WebSettings.base_url).rstrip("/")
