"""Users and API tokens: plain functions taking a Session (the caller commits), except
`sign_in`, which manages its own short transactions around the password check."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from pgxguard.service.audit import service as audit_service
from pgxguard.service.auth import throttle
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
from pgxguard.service.models import ApiToken, User
from pgxguard.service.settings import Settings

_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")


MIN_PASSWORD_SCORE = 3  # zxcvbn: "safely unguessable" (about 10^8 guesses or more)


def check_password(password: str, username: str) -> None:
    """The password policy: at least `MIN_PASSWORD_LENGTH` characters, and not guessable by
    zxcvbn (whose frequency lists hold the common and breached passwords, English words and
    names; repeats, sequences, dates and keyboard patterns count as weak) with the username
    and the service's own name among the words to avoid."""
    from zxcvbn import zxcvbn

    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailedError(
            f"password too short: at least {MIN_PASSWORD_LENGTH} characters")
    result = zxcvbn(password, user_inputs=[username, "pgxguard", "pgx", "guard"])
    if result["score"] < MIN_PASSWORD_SCORE:
        feedback = result["feedback"]
        why = feedback.get("warning") or "it is easy to guess"
        if username and username.lower() in password.lower():
            why = "it contains the username"
        raise ValidationFailedError(
            f"password too weak: {why.rstrip('.')}",
            hint=" ".join(feedback.get("suggestions") or [])
            or "use three or four unrelated words, or a password manager's random password")


def prepare_password(password: str, username: str) -> str:
    """Check the policy and hash (slow, by design): call it with no transaction open."""
    check_password(password, username)
    return hash_password(password)


def _check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as e:
        raise ValidationFailedError(f"unknown role {role!r}",
                                    hint=f"roles: {', '.join(r.value for r in Role)}") from e


def check_username(username: str) -> None:
    if not _USERNAME.match(username):
        raise ValidationFailedError(
            f"invalid username {username!r}",
            hint="2-64 characters: letters, digits, '.', '_', '@', '-'")


def create_user(session: Session, username: str, password: str, role: str, *,
                password_hash: str | None = None) -> User:
    """A new active user. Pass `password_hash` from `prepare_password` (made with no
    transaction open) to keep argon2 out of the caller's transaction."""
    check_username(username)
    r = _check_role(role)
    if password_hash is None:
        password_hash = prepare_password(password, username)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ConflictError(f"user {username!r} already exists")
    user = User(username=username, password_hash=password_hash, role=r.value,
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
                acting_user_id: int | None = None, password_hash: str | None = None) -> User:
    """Change role / enabled / password. An administrator cannot disable or change the role of
    their own account (`acting_user_id`): the last administrator could lock everyone out.
    A new password signs the user out everywhere and lifts their sign-in locks."""
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
    if password is not None or password_hash is not None:
        user.password_hash = password_hash or prepare_password(password or "", user.username)
        revoke_all(session, user)
        throttle.clear_account(session, user.username)
    session.flush()
    return user


def ensure_admin(session: Session, username: str, password: str) -> tuple[User, bool]:
    """The admin `username`, created with `password` when absent. Returns (user, created)."""
    existing = session.scalar(select(User).where(User.username == username))
    if existing is not None:
        return existing, False
    return create_user(session, username, password, Role.ADMIN.value), True


@dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: int
    username: str
    token: str
    expires_at: datetime


_DENIED = "invalid username or password, or the account is disabled"


def sign_in(sessions: sessionmaker[Session], settings: Settings, username: str,
            password: str, *, address: str, route: str, label: str | None = None,
            now: datetime | None = None) -> SignedIn:
    """Check a password and issue a token, in three steps so that no database transaction is
    open while argon2 runs: (1) read the user and count the attempt in the throttle (a short
    transaction; `throttle.reserve` may refuse with a 429), (2) verify the password, (3) in a
    second short transaction clear the throttle and issue the token, or record the failure.
    Every outcome is audited (`auth.signin`: ok, denied, throttled). Unknown and known
    usernames get the same answer in the same time."""
    now = now or utcnow()
    name = username[:64]
    with sessions() as s:
        user = s.scalar(select(User).where(User.username == username))
        seen = (user.id, user.password_hash, user.active) if user is not None else None
        try:
            reservation = throttle.reserve(s, username, address, settings, now)
        except TooManyAttemptsError as e:
            # the counters are unchanged: record the refusal in the same transaction
            audit_service.record(s, action="auth.signin", method="POST", route=route,
                                 outcome="throttled", user_id=seen[0] if seen else None,
                                 username=name, detail=f"from {address}: {e.detail}"[:1000])
            s.commit()
            raise
    ok = verify_password(seen[1] if seen else None, password)  # no transaction is open here
    with sessions() as s:
        user = s.get(User, seen[0]) if seen else None
        if (not ok or user is None or not user.active or seen is None
                or user.password_hash != seen[1]):
            throttle.prune(s, now)
            audit_service.record(s, action="auth.signin", method="POST", route=route,
                                 outcome="denied", user_id=seen[0] if seen else None,
                                 username=name, detail=f"from {address}")
            s.commit()
            raise AuthenticationError(_DENIED)
        throttle.succeeded(s, reservation)
        token, row = issue_token(s, user, settings.secret, settings.token_ttl_hours, label=label)
        audit_service.record(s, action="auth.signin", method="POST", route=route, outcome="ok",
                             user_id=user.id, username=user.username, detail=f"from {address}")
        s.commit()
        return SignedIn(user.id, user.username, token, row.expires_at)


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


__all__ = ["SignedIn", "check_password", "check_username", "create_user", "ensure_admin",
           "get_user", "issue_token", "list_users", "prepare_password", "resolve_token",
           "revoke", "revoke_all", "sign_in", "update_user"]
