"""The sign-in throttle: counted atomically, before the password is checked.

`reserve()` runs in one short transaction that locks the counter rows (SELECT ... FOR UPDATE on
PostgreSQL; SQLite transactions are `BEGIN IMMEDIATE`, so one at a time), decides, and counts
the attempt as a failure in advance. Concurrent attempts therefore queue on the rows and see
each other's counts: 60 parallel wrong passwords for one account get exactly
`login_max_failures` checked, the rest a 429. The password is verified after that transaction
has committed (argon2 holds no lock), and `succeeded()` takes the provisional failure back.

Limits, chosen so that an attacker cannot use them against a user:

- per account and client address: `login_max_failures` free failures, then each attempt waits
  1, 2, 4, ... minutes after the last (at most `login_max_delay_minutes`); failures are
  forgotten after a day without any, cleared by a success or by a new password (an
  administrator's reset). Guessing from another address does not lock the user out.
- per address and over all addresses: more than `login_address_max_failures` /
  `login_global_max_failures` failures within `login_window_minutes` refuse sign-ins, except
  for accounts that have signed in from that address before (`known`), so spraying one
  password over many usernames is stopped without shutting out the regular users.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from pgxguard.service.errors import TooManyAttemptsError
from pgxguard.service.models import LoginThrottle
from pgxguard.service.settings import Settings

PAIR, ADDRESS, GLOBAL, KNOWN = "pair", "address", "global", "known"
FORGET_FAILURES = timedelta(days=1)  # a pair's failures without any newer one are forgotten
REMEMBER_KNOWN = timedelta(days=90)  # how long a successful sign-in makes the pair "known"


@dataclass(frozen=True, slots=True)
class Reservation:
    """An attempt counted in advance: what `succeeded()` needs to take it back."""

    username: str
    address: str
    at: datetime
    windows: dict[str, datetime]  # kind -> window_start the attempt was counted in


def pair_delay(failures: int, settings: Settings) -> timedelta:
    """How long after the last failure the next attempt of a pair must wait."""
    over = failures - settings.login_max_failures
    if over < 0:
        return timedelta(0)
    minutes = min(2 ** min(over, 30), settings.login_max_delay_minutes)
    return timedelta(minutes=minutes)


def _ensure_rows(session: Session, keys: list[tuple[str, str, str]], now: datetime) -> None:
    rows = [{"kind": k, "username": u, "address": a, "failures": 0, "window_start": now,
             "last_at": now} for k, u, a in keys]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" \
        else sqlite.insert
    session.execute(insert(LoginThrottle).values(rows).on_conflict_do_nothing(
        index_elements=["kind", "username", "address"]))


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds()) + 1)


def reserve(session: Session, username: str, address: str, settings: Settings,
            now: datetime) -> Reservation:
    """Decide whether this attempt may check a password; if so count it as a failure now and
    commit. Otherwise raise `TooManyAttemptsError` (429, Retry-After) with the transaction
    still open, so the caller records the refusal in it (one write transaction, not two)."""
    username = username[:64]
    address = address[:64]
    _ensure_rows(session, [(PAIR, username, address), (ADDRESS, "", address),
                           (GLOBAL, "", "")], now)
    rows = {r.kind: r for r in session.scalars(
        select(LoginThrottle).where(
            ((LoginThrottle.kind.in_([PAIR, KNOWN])) & (LoginThrottle.username == username)
             & (LoginThrottle.address == address))
            | ((LoginThrottle.kind == ADDRESS) & (LoginThrottle.address == address))
            | (LoginThrottle.kind == GLOBAL))
        .order_by(LoginThrottle.kind, LoginThrottle.username, LoginThrottle.address)
        .with_for_update())}
    pair, per_address, everyone = rows[PAIR], rows[ADDRESS], rows[GLOBAL]
    known = KNOWN in rows and rows[KNOWN].last_at > now - REMEMBER_KNOWN
    if now - pair.last_at > FORGET_FAILURES:
        pair.failures = 0
    if pair.failures >= settings.login_max_failures:
        wait = pair.last_at + pair_delay(pair.failures, settings) - now
        if wait > timedelta(0):
            raise TooManyAttemptsError(
                f"too many failed sign-ins for this account from this address: try again in "
                f"{_minutes(wait)} minute(s)", retry_after=_seconds(wait),
                hint="each further failure doubles the wait; an administrator can lift it "
                     "at once by setting a new password")
    window = timedelta(minutes=settings.login_window_minutes)
    for row in (per_address, everyone):
        if now - row.window_start >= window:
            row.window_start, row.failures = now, 0
    if not known:
        for row, limit, what in (
                (per_address, settings.login_address_max_failures, "from this address"),
                (everyone, settings.login_global_max_failures, "across the service")):
            if row.failures >= limit:
                wait = row.window_start + window - now
                raise TooManyAttemptsError(
                    f"too many failed sign-ins {what}: try again in {_minutes(wait)} "
                    "minute(s)", retry_after=_seconds(wait),
                    hint="accounts that signed in from this address before are not "
                         "affected; tell the service operator if this persists")
    pair.failures += 1
    pair.last_at = now
    for row in (per_address, everyone):
        row.failures += 1
        row.last_at = now
    windows = {ADDRESS: per_address.window_start, GLOBAL: everyone.window_start}
    session.commit()
    return Reservation(username, address, now, windows)


def _minutes(wait: timedelta) -> int:
    return int(wait.total_seconds()) // 60 + 1


def succeeded(session: Session, r: Reservation) -> None:
    """The password was right: clear the pair, remember it as known, and take the provisional
    failure back from the address and global counts (in the caller's transaction)."""
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.kind == PAIR, LoginThrottle.username == r.username,
        LoginThrottle.address == r.address))
    _ensure_rows(session, [(KNOWN, r.username, r.address)], r.at)
    for row in session.scalars(select(LoginThrottle).where(
            ((LoginThrottle.kind == KNOWN) & (LoginThrottle.username == r.username)
             & (LoginThrottle.address == r.address))
            | ((LoginThrottle.kind == ADDRESS) & (LoginThrottle.address == r.address))
            | (LoginThrottle.kind == GLOBAL))
            .order_by(LoginThrottle.kind, LoginThrottle.username, LoginThrottle.address)
            .with_for_update()):
        if row.kind == KNOWN:
            row.last_at = r.at
        elif row.window_start == r.windows[row.kind] and row.failures > 0:
            row.failures -= 1


def prune(session: Session, now: datetime) -> None:
    """Drop counters nobody needs any more (in the caller's transaction)."""
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.kind != KNOWN, LoginThrottle.last_at < now - FORGET_FAILURES))
    session.execute(delete(LoginThrottle).where(
        LoginThrottle.kind == KNOWN, LoginThrottle.last_at < now - REMEMBER_KNOWN))


def clear_account(session: Session, username: str) -> None:
    """Lift every per-address lock of an account (an administrator set a new password)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.kind == PAIR,
                                                LoginThrottle.username == username))


__all__ = ["Reservation", "clear_account", "pair_delay", "prune", "reserve", "succeeded"]
