"""Password hashing (Argon2id, argon2-cffi's recommended parameters) and the password rules."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from web.i18n import N_

MIN_LENGTH = 12
_HASHER = PasswordHasher()
# Checked when the address is unknown, so a wrong address takes as long as a wrong password.
_DECOY = _HASHER.hash("decoy password, never anyone's")


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash or _DECOY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def weakness(password: str, email: str) -> str | None:
    """Why this password is refused (an English message id), or None."""
    if len(password) < MIN_LENGTH:
        return N_("Choose a password of at least 12 characters.")
    if password.strip().lower() in {email.lower(), email.split("@")[0].lower()}:
        return N_("Your password must not be your email address.")
    if len(set(password)) < 5:
        return N_("This password is too easy to guess: use more different characters.")
    return None
