"""Logging in: password check, throttling after repeated failures."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ..models import LoginAttempt, User, utcnow
from . import ServiceError
from .passwords import hash_password, needs_rehash, verify_password
from .people import normalise_email, user_by_email

BAD_CREDENTIALS = "That email and password do not match an account."
# One address may try several accounts (a shared office machine) before it is held back.
ADDRESS_FACTOR = 4


class LoginError(ServiceError):
    """Login refused; the message is safe to show."""


def _recent_failures(db: Session, email: str, remote_addr: str, since: object) -> tuple[int, int]:
    by_email = db.scalar(select(func.count()).select_from(LoginAttempt)
                         .where(LoginAttempt.email == email, LoginAttempt.at >= since)) or 0
    by_addr = db.scalar(select(func.count()).select_from(LoginAttempt)
                        .where(LoginAttempt.remote_addr == remote_addr,
                               LoginAttempt.at >= since)) or 0
    return by_email, by_addr


def authenticate(db: Session, email: str, password: str, remote_addr: str, *,
                 max_failures: int = 5, lockout_minutes: int = 15) -> User:
    """The user for these credentials, or LoginError with a clear reason."""
    email = normalise_email(email)
    since = utcnow() - timedelta(minutes=lockout_minutes)
    by_email, by_addr = _recent_failures(db, email, remote_addr, since)
    if by_email >= max_failures or by_addr >= max_failures * ADDRESS_FACTOR:
        raise LoginError(f"Too many failed attempts. For your security, logging in is paused "
                         f"for up to {lockout_minutes} minutes. Try again later or ask your "
                         f"administrator to reset your password.")
    user = user_by_email(db, email)
    if not verify_password(user.password_hash if user else None, password):
        db.add(LoginAttempt(email=email, remote_addr=remote_addr))
        db.commit()
        raise LoginError(BAD_CREDENTIALS)
    assert user is not None
    if not user.active:
        raise LoginError("This account has been deactivated. Ask your administrator if you "
                         "need access again.")
    db.execute(delete(LoginAttempt).where(
        or_(LoginAttempt.email == email, LoginAttempt.at < since)))
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.commit()
    return user
