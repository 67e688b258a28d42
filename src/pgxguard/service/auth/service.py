"""Users and API tokens: plain functions taking a Session (the caller commits, except that a
failed sign-in is committed by `authenticate` itself so the throttle sees it)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from pgxguard.service.auth.permissions import Role
from pgxguard.service.auth.security import (
    MIN_PASSWORD_LENGTH,
    hash_password,
    new_token,
    token_digest,
    verify_password,
)
from pgxguard.service.db import get_row, utcnow
from pgxguard.service.errors import (
    AuthenticationError,
    ConflictError,
    TooManyAttemptsError,
    ValidationFailedError,
)
from pgxguard.service.models import ApiToken, LoginFailure, User

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailedError(
            f"password too short: at least {MIN_PASSWORD_LENGTH} characters")


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as e:
        raise ValidationFailedError(f"unknown role {role!r}",
                                    hint=f"roles: {', '.join(r.value for r in Role)}") from e


def create_user(session: Session, username: str, password: str, role: str) -> User:
    if not _USERNAME.match(username):
        raise ValidationFailedError(
            f"invalid username {username!r}",
            hint="2-64 characters: letters, digits, '.', '_', '@', '-'")
    _check_password(password)
    r = _check_role(role)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ConflictError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=r.value,
                active=True, created_at=utcnow())
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, user_id: int) -> User:
    return get_row(session, User, user_id, "user")


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


def update_user(session: Session, user: User, *, role: str | None = None,
                active: bool | None = None, password: str | None = None,
                acting_user_id: int | None = None) -> User:
    """Change role / enabled / password. An administrator cannot disable or change the role of
    their own account (`acting_user_id`): the last administrator could lock everyone out."""
    if user.id == acting_user_id and (active is False or (role is not None and
                                                          role != user.role)):
        raise ValidationFailedError("you cannot disable your own account or change your own "
                                    "role", hint="ask another administrator")
    if role is not None:
        user.role = _check_role(role).value
    if active is not None:
        user.active = active
        if not active:
            revoke_all(session, user)
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
        revoke_all(session, user)
    session.flush()
    return user


def ensure_admin(session: Session, username: str, password: str) -> tuple[User, bool]:
    """The admin `username`, created with `password` when absent. Returns (user, created)."""
    existing = session.scalar(select(User).where(User.username == username))
    if existing is not None:
        return existing, False
    return create_user(session, username, password, Role.ADMIN.value), True


def authenticate(session: Session, username: str, password: str, *, max_failures: int = 5,
                 window_minutes: int = 15, now: datetime | None = None) -> User:
    """The active user with this password. Failed attempts are stored (committed even though
    the request fails); `max_failures` of them for one username within `window_minutes` refuse
    every further attempt until the oldest leaves the window, so passwords cannot be guessed at
    speed. The same answer for unknown and known usernames: nothing tells which exist."""
    now = now or utcnow()
    since = now - timedelta(minutes=window_minutes)
    recent = list(session.scalars(
        select(LoginFailure.at).where(LoginFailure.username == username[:64],
                                      LoginFailure.at > since).order_by(LoginFailure.at)))
    if len(recent) >= max_failures:
        wait = recent[-max_failures] + timedelta(minutes=window_minutes) - now
        seconds = max(1, int(wait.total_seconds()) + 1)
        raise TooManyAttemptsError(
            f"too many failed sign-ins for this account: try again in {seconds // 60 + 1} "
            "minute(s)", retry_after=seconds,
            hint="an administrator can reset the password (PATCH /users/{id})")
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    if user is None or not ok or not user.active:
        # Failures older than the window no longer count, for anyone: the table stays small.
        session.execute(delete(LoginFailure).where(LoginFailure.at <= since))
        session.add(LoginFailure(username=username[:64], at=now))
        session.commit()
        raise AuthenticationError("invalid username or password, or the account is disabled")
    session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return user


def issue_token(session: Session, user: User, secret: str, ttl_hours: int,
                label: str | None = None) -> tuple[str, ApiToken]:
    token = new_token()
    now = utcnow()
    row = ApiToken(user_id=user.id, token_hash=token_digest(secret, token), label=label,
                   created_at=now, expires_at=now + timedelta(hours=ttl_hours))
    session.add(row)
    session.flush()
    return token, row


def resolve_token(session: Session, secret: str, token: str,
                  now: datetime | None = None) -> tuple[User, ApiToken]:
    # The user comes in the same query: every authenticated request runs this first.
    row = session.scalar(select(ApiToken).options(joinedload(ApiToken.user)).where(
        ApiToken.token_hash == token_digest(secret, token)))
    now = now or utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise AuthenticationError("invalid, expired or revoked token",
                                  hint="get a new one from POST /auth/token")
    if not row.user.active:
        raise AuthenticationError("the account is disabled")
    return row.user, row


def revoke(session: Session, row: ApiToken) -> None:
    row.revoked_at = utcnow()
    session.flush()


def revoke_all(session: Session, user: User) -> None:
    now = utcnow()
    for row in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                      ApiToken.revoked_at.is_(None))):
        row.revoked_at = now


__all__ = ["authenticate", "create_user", "ensure_admin", "get_user", "issue_token",
           "list_users", "resolve_token", "revoke", "revoke_all", "update_user"]
