"""Sign-in that cannot be flooded: argon2 outside any transaction, the throttle counted
atomically on both backends (concurrent guesses), lockouts per account and address with
exponential delay that an administrator's new password lifts, address and global limits
against password spraying that spare accounts known at that address, the password policy,
and the audit of every sign-in and sign-out."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

import test_service_support as support
from pgxguard.service.auth import security, throttle
from pgxguard.service.auth import service as auth_service
from pgxguard.service.db import utcnow
from pgxguard.service.errors import AuthenticationError, TooManyAttemptsError
from pgxguard.service.settings import Settings
from test_service_support import PASSWORD, Svc, make_service

_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc

LAB = "user-lab-scientist"


def _client(s: Svc, address: str) -> TestClient:
    return TestClient(s.app, client=(address, 40000), raise_server_exceptions=False)


def _sign_in(c: TestClient, username: str, password: str) -> Any:
    return c.post("/auth/token", json={"username": username, "password": password})


def test_password_is_checked_with_no_connection_held(svc: Svc,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 ran inside the sign-in transaction (on SQLite holding the write lock): now no
    pooled connection is checked out while it runs, for the API and the UI alike."""
    held: list[int] = []
    real = security.verify_password

    def spy(password_hash: str | None, password: str) -> bool:
        held.append(svc.app.state.engine.pool.checkedout())
        return real(password_hash, password)

    monkeypatch.setattr(auth_service, "verify_password", spy)
    assert _sign_in(svc.client, LAB, PASSWORD).status_code == 200
    assert _sign_in(svc.client, LAB, "wrong-password").status_code == 401
    assert held == [0, 0]


def test_concurrent_guesses_are_counted_atomically(svc: Svc,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """30 wrong passwords at once for one account from one address: exactly
    `login_max_failures` reach the password check (15-19 did on PostgreSQL before)."""
    checks: list[str] = []
    real = security.verify_password

    def spy(password_hash: str | None, password: str) -> bool:
        checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(auth_service, "verify_password", spy)
    sessions, settings = svc.app.state.sessions, svc.settings
    outcomes: list[str] = []
    barrier = threading.Barrier(30)

    def guess(i: int) -> None:
        barrier.wait()
        try:
            auth_service.sign_in(sessions, settings, LAB, f"wrong-{i}", address="10.9.9.9",
                                 route="/auth/token")
        except AuthenticationError:
            outcomes.append("401")
        except TooManyAttemptsError:
            outcomes.append("429")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(checks) == settings.login_max_failures
    assert sorted(outcomes) == ["401"] * 5 + ["429"] * 25
    audit = [a.outcome for a in svc.audit(action="auth.signin") if a.username == LAB]
    assert audit.count("denied") == 5 and audit.count("throttled") == 25


def test_lockout_is_per_address_and_an_admin_reset_lifts_it(svc: Svc) -> None:
    """An attacker's guesses lock the account only at the attacker's address; the user at
    their own address signs in. A new password from an administrator lifts the lock, as the
    429 message says."""
    attacker, user = _client(svc, "203.0.113.7"), _client(svc, "10.1.2.3")
    for _ in range(5):
        assert _sign_in(attacker, LAB, "guess-guess-guess").status_code == 401
    r = _sign_in(attacker, LAB, PASSWORD)
    assert r.status_code == 429 and "from this address" in r.json()["error"]
    assert "administrator" in r.json()["hint"]
    assert _sign_in(user, LAB, PASSWORD).status_code == 200
    new = "a-brand-new-passphrase-77"
    r = svc.client.patch(f"/users/{svc.user_ids['lab_scientist']}", headers=svc.h("admin"),
                         json={"password": new})
    assert r.status_code == 200, r.text
    assert _sign_in(attacker, LAB, new).status_code == 200


def test_exponential_delay(svc: Svc) -> None:
    """After 5 failures: wait 1 minute, then 2, 4, ... (capped); a success resets it."""
    sessions, settings = svc.app.state.sessions, svc.settings
    t0 = utcnow()

    def attempt(at_minutes: float, password: str = "wrong") -> str:
        try:
            auth_service.sign_in(sessions, settings, LAB, password, address="a",
                                 route="/auth/token", now=t0 + timedelta(minutes=at_minutes))
        except AuthenticationError:
            return "401"
        except TooManyAttemptsError as e:
            return f"429:{e.retry_after}"
        return "200"

    assert [attempt(0) for _ in range(5)] == ["401"] * 5
    assert attempt(0.5).startswith("429:")          # 1 minute after the 5th failure
    assert attempt(1.01) == "401"                    # 6th failure at 1.01
    r = attempt(2.5)                                 # must wait 2 minutes: until 3.01
    assert r.startswith("429:") and 30 <= int(r[4:]) <= 32
    assert attempt(3.02) == "401"                    # 7th: next after 4 more minutes
    assert attempt(6.5).startswith("429:")
    assert attempt(7.1, PASSWORD) == "200"           # success clears the pair
    assert attempt(7.2) == "401"
    assert [throttle.pair_delay(f, settings).total_seconds() / 60 for f in (4, 5, 6, 7, 12, 40)
            ] == [0, 1, 2, 4, 60, 60]


@pytest.mark.slow
def test_spraying_from_one_address_is_stopped_but_known_users_get_in(tmp_path: Any) -> None:
    """One password over 40 usernames from one address: refused after
    `login_address_max_failures`; an account that signed in from that address before still
    signs in, from another address nothing changes; the global limit works the same way."""
    gen = make_service(Settings(data_dir=tmp_path / "spray", login_address_max_failures=30,
                                login_global_max_failures=50))
    s = next(gen)
    try:
        sprayer = _client(s, "198.51.100.9")
        assert _sign_in(sprayer, "user-analyst", PASSWORD).status_code == 200  # known here
        codes = [_sign_in(sprayer, f"nurse{i}", "Summer2024!").status_code for i in range(40)]
        assert codes == [401] * 30 + [429] * 10
        r = _sign_in(sprayer, "nurse99", "Summer2024!")
        assert "from this address" in r.json()["error"]
        assert _sign_in(sprayer, "user-analyst", PASSWORD).status_code == 200
        assert _sign_in(sprayer, "user-prescriber", PASSWORD).status_code == 429  # not known
        other = _client(s, "192.0.2.44")
        assert _sign_in(other, "user-prescriber", PASSWORD).status_code == 200
        # the global limit (50): 20 more failures from other addresses reach it
        for i in range(20):
            assert _sign_in(_client(s, f"192.0.2.{100 + i}"), f"x{i}", "y").status_code == 401
        r = _sign_in(_client(s, "192.0.2.200"), "user-checker", PASSWORD)
        assert r.status_code == 429 and "across the service" in r.json()["error"]
        assert _sign_in(other, "user-prescriber", PASSWORD).status_code == 200  # known pair
    finally:
        gen.close()


def test_sign_in_and_out_are_audited(svc: Svc) -> None:
    c = _client(svc, "10.7.7.7")
    assert _sign_in(c, LAB, "not-the-password").status_code == 401
    assert _sign_in(c, "nobody-at-all", "not-the-password").status_code == 401
    r = _sign_in(c, LAB, PASSWORD)
    tok = r.json()["access_token"]
    assert c.delete("/auth/token", headers={"Authorization": f"Bearer {tok}"}
                    ).status_code == 204
    rows = [(a.action, a.outcome, a.username, a.user_id is not None, a.detail)
            for a in svc.audit() if a.action.startswith("auth.")][-4:]
    assert rows[:3] == [
        ("auth.signin", "denied", LAB, True, "from 10.7.7.7"),
        ("auth.signin", "denied", "nobody-at-all", False, "from 10.7.7.7"),
        ("auth.signin", "ok", LAB, True, "from 10.7.7.7")]
    assert rows[3][:4] == ("auth.signout", "ok", LAB, True)


@pytest.mark.parametrize(("password", "why"), [
    ("password1234", "very common password"), (" " * 12, "Repeats"),
    ("user-lab-scientist", "username"), ("Password123!", "commonly used"),
    ("abcdefghijkl", "Sequences")])
def test_password_policy(svc: Svc, password: str, why: str) -> None:
    r = svc.client.patch(f"/users/{svc.user_ids['lab_scientist']}", headers=svc.h("admin"),
                         json={"password": password})
    assert r.status_code == 422, r.text
    assert "password too weak" in r.json()["error"] and why in r.json()["error"]
    assert r.json()["hint"]
    with pytest.raises(Exception, match="password too weak"):
        auth_service.check_password(password, "user-lab-scientist")
    auth_service.check_password("velvet-otter-harbour-93", "user-lab-scientist")
