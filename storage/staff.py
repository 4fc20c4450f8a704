"""Tables of the web console: staff accounts, their sessions, login failures and the audit trail.

They share the bot's metadata (one schema, one migration chain) but nothing links them to
participants: staff never see a chat id, and erasing a participant touches none of these rows.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base
from storage.types import UTCDateTime

ROLES = ("admin", "partner", "council", "safeguarding")


class StaffUser(Base):
    """Someone who signs in to the console; a partner or council account is tied to one of them."""

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint("role IN (" + ", ".join(f"'{role}'" for role in ROLES) + ")", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Kept lower-case: people type their address with whatever capitals.
    email: Mapped[str] = mapped_column(String, unique=True)
    name: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String)
    partner_id: Mapped[str | None] = mapped_column(String)
    council_id: Mapped[str | None] = mapped_column(String)
    language: Mapped[str] = mapped_column(String)
    # None until the person follows their one-time link.
    password_hash: Mapped[str | None] = mapped_column(String)
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PasswordToken(Base):
    """A one-time link to set a password; only its SHA-256 is stored, so the table leaks no link."""

    __tablename__ = "staff_password_tokens"

    token_hash: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffSession(Base):
    """A signed-in browser. The cookie holds the random id; the table holds its SHA-256."""

    __tablename__ = "staff_sessions"

    id_hash: Mapped[str] = mapped_column(String, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("staff_users.id", ondelete="CASCADE"),
                                         index=True)
    csrf_token: Mapped[str] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LoginFailure(Base):
    """A refused sign-in, counted per address typed and per client to slow password guessing."""

    __tablename__ = "staff_login_failures"
    __table_args__ = (Index(None, "email", "failed_at"), Index(None, "client", "failed_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String)
    client: Mapped[str] = mapped_column(String)
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditEvent(Base):
    """Who changed what, when. Rows are only added; the actor's address is copied, not linked,
    so the trail outlives the account."""

    __tablename__ = "audit_events"
    __table_args__ = (Index(None, "at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String)
    action: Mapped[str] = mapped_column(String)
    target: Mapped[str] = mapped_column(String)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
