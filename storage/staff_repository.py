"""Reading and writing staff accounts, sessions, login failures and audit events.

Like storage.repositories: every function takes the caller's Session and never commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from storage.staff import AuditEvent, LoginFailure, PasswordToken, StaffSession, StaffUser


class DuplicateStaffError(Exception):
    """An account with this address exists already."""


def digest(secret: str) -> str:
    """What the database keeps of a token or session id: enough to find it, useless to replay."""
    return hashlib.sha256(secret.encode()).hexdigest()


def add_user(session: Session, *, email: str, name: str, role: str, partner_id: str | None,
             council_id: str | None, language: str, now: datetime) -> StaffUser:
    email = email.strip().lower()
    if find_user(session, email) is not None:
        raise DuplicateStaffError(email)
    user = StaffUser(email=email, name=name, role=role, partner_id=partner_id, council_id=council_id,
                     language=language, password_hash=None, active=True, created_at=now)
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))


def get_user(session: Session, user_id: int) -> StaffUser | None:
    return session.get(StaffUser, user_id)


def list_users(session: Session) -> Sequence[StaffUser]:
    return session.scalars(select(StaffUser).order_by(StaffUser.role, StaffUser.email)).all()


def add_password_token(session: Session, user_id: int, token: str, now: datetime,
                       expires_at: datetime) -> None:
    session.add(PasswordToken(token_hash=digest(token), user_id=user_id, created_at=now,
                              expires_at=expires_at, used_at=None))


def usable_token(session: Session, token: str, now: datetime) -> PasswordToken | None:
    found = session.get(PasswordToken, digest(token))
    if found is None or found.used_at is not None or found.expires_at <= now:
        return None
    return found


def use_token(session: Session, token: PasswordToken, password_hash: str, now: datetime) -> StaffUser:
    """Set the password and spend this link and every other link of the account."""
    user = session.get_one(StaffUser, token.user_id)
    user.password_hash = password_hash
    session.execute(update(PasswordToken).where(PasswordToken.user_id == user.id,
                                                PasswordToken.used_at.is_(None)).values(used_at=now))
    # A new password signs out every browser signed in with the old one.
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    return user


def open_session(session: Session, user_id: int, session_id: str, csrf_token: str, now: datetime,
                 expires_at: datetime) -> None:
    session.add(StaffSession(id_hash=digest(session_id), user_id=user_id, csrf_token=csrf_token,
                             created_at=now, last_seen_at=now, expires_at=expires_at))


def live_session(session: Session, session_id: str, now: datetime) -> StaffSession | None:
    found = session.get(StaffSession, digest(session_id))
    if found is None or found.expires_at <= now:
        return None
    return found


def close_session(session: Session, session_id: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.id_hash == digest(session_id)))


def close_user_sessions(session: Session, user_id: int) -> None:
    session.execute(delete(StaffSession).where(StaffSession.user_id == user_id))


def forget_expired_sessions(session: Session, now: datetime) -> int:
    result = session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))
    return int(getattr(result, "rowcount", 0) or 0)


def record_login_failure(session: Session, email: str, client: str, now: datetime) -> None:
    session.add(LoginFailure(email=email.strip().lower(), client=client, failed_at=now))


def login_failures_since(session: Session, since: datetime, *, email: str | None = None,
                         client: str | None = None) -> int:
    query = select(func.count()).select_from(LoginFailure).where(LoginFailure.failed_at >= since)
    if email is not None:
        query = query.where(LoginFailure.email == email.strip().lower())
    if client is not None:
        query = query.where(LoginFailure.client == client)
    return int(session.execute(query).scalar_one())


def forget_login_failures(session: Session, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.email == email.strip().lower()))


def forget_login_failures_before(session: Session, cutoff: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.failed_at < cutoff))


def audit(session: Session, actor: str, action: str, target: str, now: datetime,
          **detail: Any) -> None:
    session.add(AuditEvent(at=now, actor=actor, action=action, target=target, detail=detail))


def audit_trail(session: Session, limit: int = 200) -> Sequence[AuditEvent]:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)).all()
