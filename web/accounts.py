"""Creating staff accounts and their one-time password links: the same steps for the command line and
the admin page."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from bot.config import AppConfig
from storage import staff_repository as staff
from storage.staff import ROLES
from web.settings import WebSettings

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    """The account cannot be created as asked; the message says why."""


@dataclass(frozen=True)
class PasswordLink:
    email: str
    url: str
    expires_at: datetime


def check_scope(config: AppConfig, role: str, partner_id: str | None, council_id: str | None) -> None:
    """A partner account needs a partner of config.yml, a council account a council; no other mix."""
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    partners = {p.id for p in config.partners}
    councils = {c.id for c in config.councils}
    if role == "partner" and partner_id not in partners:
        raise AccountError(f"a partner account needs --partner, one of: {', '.join(sorted(partners))}")
    if role == "council" and council_id not in councils:
        raise AccountError(f"a council account needs --council, one of: {', '.join(sorted(councils))}")
    if role == "safeguarding" and partner_id is not None and partner_id not in partners:
        raise AccountError(f"unknown partner {partner_id!r}: one of {', '.join(sorted(partners))}")
    if role != "council" and council_id is not None:
        raise AccountError("only a council account belongs to a council")
    if role in {"admin", "council"} and partner_id is not None:
        raise AccountError(f"an {role} account does not belong to a partner")


def add_account(session: Session, config: AppConfig, settings: WebSettings, *, email: str, name: str,
                role: str, partner_id: str | None, council_id: str | None, language: str,
                actor: str, now: datetime) -> PasswordLink:
    if not EMAIL.match(email.strip()):
        raise AccountError(f"{email!r} is not an email address")
    if language not in {"fr", "en"}:
        raise AccountError("language: fr or en")
    check_scope(config, role, partner_id, council_id)
    try:
        user = staff.add_user(session, email=email, name=name.strip() or email, role=role,
                              partner_id=partner_id, council_id=council_id, language=language, now=now)
    except staff.DuplicateStaffError as exc:
        raise AccountError(f"an account for {exc} exists already") from exc
    staff.audit(session, actor, "account_created", user.email, now, role=role, partner=partner_id,
                council=council_id)
    return new_password_link(session, settings, user.id, user.email, actor, now)


def new_password_link(session: Session, settings: WebSettings, user_id: int, email: str, actor: str,
                      now: datetime) -> PasswordLink:
    token = secrets.token_urlsafe(32)
    expires_at = now + settings.password_link_lifetime
    staff.add_password_token(session, user_id, token, now, expires_at)
    staff.audit(session, actor, "password_link_issued", email, now)
    return PasswordLink(email, f"{settings.base_url.rstrip('/')}/password/{token}", expires_at)


def reset_link(session: Session, settings: WebSettings, email: str, actor: str,
               now: datetime) -> PasswordLink:
    user = staff.find_user(session, email)
    if user is None:
        raise AccountError(f"no account for {email.strip().lower()}")
    return new_password_link(session, settings, user.id, user.email, actor, now)


def set_active(session: Session, email: str, active: bool, actor: str, now: datetime) -> None:
    user = staff.find_user(session, email)
    if user is None:
        raise AccountError(f"no account for {email.strip().lower()}")
    user.active = active
    if not active:
        staff.close_user_sessions(session, user.id)
    staff.audit(session, actor, "account_enabled" if active else "account_disabled", user.email, now)
