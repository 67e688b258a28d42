"""Users, roles, tokens and authorisation on every route.

The role x route matrix is generated from the application's own routes and the permission each
declares, so a route added later is covered without editing this file: every role the table does
not grant is refused with 403 (and the refusal audited for patient data), every protected route
refuses a request without a valid token with 401.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select

import test_service_support as support
from pgxguard.service.app import PUBLIC_ROUTES, ROUTERS, UI_ROUTERS
from pgxguard.service.auth.permissions import PATIENT_DATA, ROLE_PERMISSIONS, Perm, Role, allowed
from pgxguard.service.auth.security import token_digest
from pgxguard.service.db import utcnow
from pgxguard.service.models import ApiToken, User
from test_service_support import DATABASES, PASSWORD, Svc, database, make_service

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc


def route_permission(route: APIRoute) -> Perm | None:
    perms = [getattr(d.call, "pgx_permission", None) for d in route.dependant.dependencies]
    found = [p for p in perms if p is not None]
    assert len(found) <= 1, route.path
    return found[0] if found else None


ROUTES: list[tuple[str, str, Perm | None]] = sorted(
    (m, r.path, route_permission(r)) for router in ROUTERS for r in router.routes
    if isinstance(r, APIRoute) for m in r.methods)
PROTECTED = [(m, p, perm) for m, p, perm in ROUTES if perm is not None]
REFUSALS = [(role, m, p, perm) for role in Role for m, p, perm in PROTECTED
            if not allowed(role.value, perm)]
# DELETE /auth/token would sign the shared user out: test_sign_out_and_expiry covers it.
ALLOWED = [(role, m, p, perm) for role in Role for m, p, perm in PROTECTED
           if allowed(role.value, perm) and (m, p) != ("DELETE", "/auth/token")]


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _error(r: Any) -> dict[str, Any]:
    """`{"error", "hint"}` of an error response; /fhir paths answer with an OperationOutcome."""
    body: dict[str, Any] = r.json()
    if body.get("resourceType") == "OperationOutcome":
        [issue] = body["issue"]
        return {"error": issue["details"]["text"], "hint": issue.get("diagnostics")}
    return body


def _call(svc: Svc, method: str, path: str, headers: dict[str, str]) -> Any:
    kw: dict[str, Any] = {"headers": headers}
    if method in ("POST", "PATCH", "PUT"):
        kw["json"] = {}
    return svc.client.request(method, _url(path), **kw)


@pytest.fixture(scope="module", params=DATABASES)
def shared(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[Svc]:
    with database(request.param, tmp_path_factory.mktemp("auth")) as settings:
        gen = make_service(settings)
        s = next(gen)
        s.new_patient()
        yield s
        gen.close()


def test_every_route_is_public_or_declares_a_permission() -> None:
    public = {p for _, p, perm in ROUTES if perm is None}
    assert public == {"/auth/token", "/fhir/metadata", "/cds-services"}
    assert public <= PUBLIC_ROUTES
    # The web UI's pages: only sign-in and the static files are public (role x page tests in
    # test_service_web.py, since the UI answers with HTML and redirects, not JSON).
    ui = [(r.path, route_permission(r)) for router in UI_ROUTERS for r in router.routes
          if isinstance(r, APIRoute)]
    assert ui and {p for p, perm in ui if perm is None} == {"/ui/login"}
    assert {"/ui/login", "/ui/static"} <= PUBLIC_ROUTES
    assert PROTECTED, "no protected routes found"
    used = {perm for _, _, perm in PROTECTED}
    assert used == set(Perm), f"permissions without a route: {set(Perm) - used}"


def test_app_routes_match_the_routers(svc: Svc) -> None:
    app_routes = {(m, r.path) for r in svc.app.routes if isinstance(r, APIRoute)
                  for m in r.methods}
    assert app_routes - {(m, p) for m, p, _ in ROUTES} == {("GET", "/health")}


def test_role_table_shape() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)
    assert not allowed("nobody", Perm.SELF)
    # analysts and admins never see patient-level data
    for role in (Role.ANALYST, Role.ADMIN):
        assert not ROLE_PERMISSIONS[role] & PATIENT_DATA
    assert Perm.REVIEWS_CREATE not in ROLE_PERMISSIONS[Role.LAB_SCIENTIST]
    assert Perm.RESULTS_UPLOAD not in ROLE_PERMISSIONS[Role.PRESCRIBER]


def test_docs_role_table_matches_the_code() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "service.md").read_text()
    rows = re.findall(r"^\| `([a-z:]+)` \|((?: [a-z]* \|){4})$", doc, re.M)
    header = re.search(r"^\| permission \| (.+) \|$", doc, re.M)
    assert header is not None
    roles = [Role(x.strip()) for x in header.group(1).split("|")]
    table = {Perm(p): [c.strip() == "yes" for c in cells.split("|")[:-1]]
             for p, cells in rows}
    assert set(table) == set(Perm)
    for perm, flags in table.items():
        assert flags == [perm in ROLE_PERMISSIONS[r] for r in roles], perm


@pytest.mark.parametrize(("role", "method", "path", "perm"), REFUSALS,
                         ids=[f"{r.value}-{m}-{p}" for r, m, p, _ in REFUSALS])
def test_role_is_refused(shared: Svc, role: Role, method: str, path: str, perm: Perm) -> None:
    before = len(shared.audit())
    r = _call(shared, method, path, shared.h(role.value))
    assert r.status_code == 403, r.text
    assert _error(r) == {"error": f"role {role.value!r} may not {perm.value}",
                        "hint": "ask an administrator if your role should allow this"}
    new = shared.audit()[before:]
    # every refusal is audited, of patient data and of users, audit and stats alike
    assert [(a.action, a.outcome, a.username) for a in new] == [
        (perm.value, "denied", f"user-{role.value}".replace("_", "-"))]
    assert new[0].route == path and new[0].method == method


@pytest.mark.parametrize(("role", "method", "path", "perm"), ALLOWED,
                         ids=[f"{r.value}-{m}-{p}" for r, m, p, _ in ALLOWED])
def test_role_is_let_through(shared: Svc, role: Role, method: str, path: str,
                             perm: Perm) -> None:
    r = _call(shared, method, path, shared.h(role.value))
    assert r.status_code not in (401, 403), r.text


@pytest.mark.parametrize(("method", "path", "perm"), PROTECTED,
                         ids=[f"{m}-{p}" for m, p, _ in PROTECTED])
def test_no_token_is_401(shared: Svc, method: str, path: str, perm: Perm) -> None:
    before = len(shared.audit())
    r = _call(shared, method, path, {})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert _error(r)["error"].startswith("not signed in")
    r = _call(shared, method, path, {"Authorization": "Bearer pgx_not-a-real-token"})
    assert r.status_code == 401
    assert _error(r)["error"] == "invalid, expired or revoked token"
    assert [(a.action, a.outcome, a.user_id) for a in shared.audit()[before:]] == [
        (perm.value, "denied", None)] * 2


def test_token_issue_and_passwords(svc: Svc) -> None:
    r = svc.client.post("/auth/token", json={"username": "user-admin", "password": "wrong"})
    assert r.status_code == 401 and "invalid username or password" in r.json()["error"]
    r = svc.client.post("/auth/token", json={"username": "nobody", "password": PASSWORD})
    assert r.status_code == 401
    me = svc.client.get("/auth/me", headers=svc.h("prescriber")).json()
    assert me["role"] == "prescriber" and "reviews:create" in me["permissions"]
    with svc.session() as s:
        users = list(s.scalars(select(User)))
        assert all(u.password_hash.startswith("$argon2id$") for u in users)
        assert all(PASSWORD not in u.password_hash for u in users)
        tokens = list(s.scalars(select(ApiToken)))
        plain = set(svc.tokens.values())
        assert not {t.token_hash for t in tokens} & plain
        assert {token_digest(svc.settings.secret, t) for t in plain} <= {
            t.token_hash for t in tokens}


def test_sign_in_throttle(svc: Svc) -> None:
    """Five failures for an account from one address refuse further attempts from there, even
    with the right password, with 429 and Retry-After; other accounts are not affected;
    unknown usernames are throttled alike (nothing tells which exist). (More in
    test_service_signin.py.)"""
    lab = "user-lab-scientist"
    for _ in range(svc.settings.login_max_failures):
        r = svc.client.post("/auth/token", json={"username": lab, "password": "wrong"})
        assert r.status_code == 401
    r = svc.client.post("/auth/token", json={"username": lab, "password": PASSWORD})
    assert r.status_code == 429 and "too many failed sign-ins" in r.json()["error"]
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    r = svc.client.post("/auth/token", json={"username": "user-prescriber",
                                             "password": PASSWORD})
    assert r.status_code == 200
    for _ in range(svc.settings.login_max_failures):
        svc.client.post("/auth/token", json={"username": "ghost", "password": "x"})
    r = svc.client.post("/auth/token", json={"username": "ghost", "password": "x"})
    assert r.status_code == 429


def test_user_administration(svc: Svc) -> None:
    admin = svc.h("admin")
    r = svc.client.post("/users", headers=admin, json={"username": "pharm1",
                                                       "password": "short", "role": "prescriber"})
    assert r.status_code == 422 and "password" in r.json()["error"]
    assert "at least 12 characters" in r.json()["error"]
    for weak, why in (("password1234", "common password"), (" " * 12, "Repeats"),
                      ("pharm1pharm1pharm1", "username")):
        r = svc.client.post("/users", headers=admin, json={
            "username": "pharm1", "password": weak, "role": "prescriber"})
        assert r.status_code == 422 and "password too weak" in r.json()["error"], r.text
        assert why in r.json()["error"], r.text
    schema = svc.client.get("/openapi.json").json()["components"]["schemas"]["UserIn"]
    assert schema["properties"]["password"]["minLength"] == 12
    r = svc.client.post("/users", headers=admin, json={"username": "pharm1",
                                                       "password": PASSWORD, "role": "wizard"})
    assert r.status_code == 422
    r = svc.client.post("/users", headers=admin, json={"username": "pharm1",
                                                       "password": PASSWORD, "role": "prescriber"})
    assert r.status_code == 201
    uid = r.json()["id"]
    r = svc.client.post("/users", headers=admin, json={"username": "pharm1",
                                                       "password": PASSWORD, "role": "analyst"})
    assert r.status_code == 409
    tok = svc.client.post("/auth/token", json={"username": "pharm1", "password": PASSWORD}
                          ).json()["access_token"]
    h = {"Authorization": f"Bearer {tok}"}
    assert svc.client.get("/auth/me", headers=h).status_code == 200
    # disabling a user revokes their tokens at once
    r = svc.client.patch(f"/users/{uid}", headers=admin, json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
    assert svc.client.get("/auth/me", headers=h).status_code == 401
    r = svc.client.post("/auth/token", json={"username": "pharm1", "password": PASSWORD})
    assert r.status_code == 401
    names = [u["username"] for u in svc.client.get("/users", headers=admin).json()]
    assert "pharm1" in names
    assert [a.action for a in svc.audit(username="user-admin")] == [
        "auth.signin", "user.create", "user.update"]


def test_sign_out_and_expiry(svc: Svc) -> None:
    h = svc.h("analyst")
    assert svc.client.delete("/auth/token", headers=h).status_code == 204
    assert svc.client.get("/auth/me", headers=h).status_code == 401
    h = svc.h("lab_scientist")
    with svc.session() as s:
        for t in s.scalars(select(ApiToken)):
            t.expires_at = utcnow() - timedelta(seconds=1)
        s.commit()
    r = svc.client.get("/auth/me", headers=h)
    assert r.status_code == 401 and "expired" in r.json()["error"]


def test_bootstrap_admin_from_settings(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from pgxguard.service.app import create_app
    from pgxguard.service.settings import Settings

    settings = Settings(data_dir=tmp_path, admin_user="root", admin_password=PASSWORD)
    for _ in range(2):  # idempotent across restarts
        with TestClient(create_app(settings)) as c:
            r = c.post("/auth/token", json={"username": "root", "password": PASSWORD})
            assert r.status_code == 200
            me = c.get("/auth/me", headers={"Authorization": "Bearer "
                                            + r.json()["access_token"]}).json()
            assert me["role"] == "admin"
