"""The web UI (`/ui`): sign-in cookies, CSRF, the same role table and audit as the API, every
page rendering for the roles allowed and refused (403 page) for the others, escaping.

Role x page tests are generated from the UI router, like the API's in test_service_auth.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import markupsafe
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

import test_service_support as support
from pgxguard.guidance.model import ReviewResult
from pgxguard.report.view import source_label
from pgxguard.service.app import UI_ROUTERS, create_app
from pgxguard.service.auth import service as auth_service
from pgxguard.service.auth.permissions import Perm, Role, allowed
from pgxguard.service.models import MedicationReview, Order, Patient, ResultVersion
from pgxguard.service.settings import Settings
from test_service_support import (
    DATABASES,
    DEMO_OUTSIDE,
    DEMO_VCF,
    PASSWORD,
    VALID_NHS,
    Svc,
    database,
    make_service,
)

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc
sqlite_svc = support.sqlite_svc

_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


def esc(text: str) -> str:
    """Text as the autoescaping templates write it."""
    return str(markupsafe.escape(text))


def username(role: str) -> str:
    return f"user-{role}".replace("_", "-")


def csrf_of(page: str) -> str:
    m = _CSRF.search(page)
    assert m, "no CSRF field in the page"
    return m.group(1)


def ui_client(s: Svc, role: str | None) -> TestClient:
    """A browser-like client with its own cookie jar, signed in as `role` (None: anonymous).
    Not used as a context manager: the app's lifespan belongs to the fixture's client."""
    c = TestClient(s.app, follow_redirects=False)
    if role is not None:
        login(c, username(role))
    return c


def login(c: TestClient, user: str, password: str = PASSWORD, next_: str = "/ui") -> Any:
    form = c.get("/ui/login")
    assert form.status_code == 200
    r = c.post("/ui/login", data={"username": user, "password": password,
                                  "csrf_token": csrf_of(form.text), "next": next_})
    return r


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def route_permission(route: APIRoute) -> Perm | None:
    found = [getattr(d.call, "pgx_permission", None) for d in route.dependant.dependencies]
    perms = [p for p in found if p is not None]
    assert len(perms) <= 1, route.path
    return perms[0] if perms else None


UI_ROUTES: list[tuple[str, str, Perm | None]] = sorted(
    (m, r.path, route_permission(r)) for router in UI_ROUTERS for r in router.routes
    if isinstance(r, APIRoute) for m in r.methods)
UI_PROTECTED = [(m, p, perm) for m, p, perm in UI_ROUTES if perm is not None]
# /ui/logout would sign the shared client out: test_login_and_logout covers it.
UI_REFUSALS = [(role, m, p, perm) for role in Role for m, p, perm in UI_PROTECTED
               if not allowed(role.value, perm)]
UI_ALLOWED = [(role, m, p, perm) for role in Role for m, p, perm in UI_PROTECTED
              if allowed(role.value, perm) and p != "/ui/logout"]


@pytest.fixture(scope="module", params=DATABASES)
def shared(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Svc, dict[str, Any]]]:
    with database(request.param, tmp_path_factory.mktemp("web")) as settings:
        gen = make_service(settings)
        s = next(gen)
        s.new_patient()
        clients = {role.value: ui_client(s, role.value) for role in Role}
        yield s, clients
        gen.close()


def _ui_call(c: TestClient, method: str, path: str, csrf: str | None) -> Any:
    if method == "POST":
        return c.post(_url(path), data={"csrf_token": csrf} if csrf is not None else {})
    return c.get(_url(path))


def test_every_ui_route_is_public_or_declares_a_permission() -> None:
    assert {p for _, p, perm in UI_ROUTES if perm is None} == {"/ui/login"}
    assert all(p.startswith("/ui") for _, p, _ in UI_ROUTES)


@pytest.mark.parametrize(("role", "method", "path", "perm"), UI_REFUSALS,
                         ids=[f"{r.value}-{m}-{p}" for r, m, p, _ in UI_REFUSALS])
def test_ui_role_is_refused(shared: tuple[Svc, dict[str, TestClient]], role: Role, method: str,
                            path: str, perm: Perm) -> None:
    s, clients = shared
    c = clients[role.value]
    csrf = csrf_of(c.get("/ui").text)
    before = len(s.audit())
    r = _ui_call(c, method, path, csrf)
    assert r.status_code == 403, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert esc(f"role {role.value!r} may not {perm.value}") in r.text
    new = s.audit()[before:]
    # every refusal is audited, of patient data and of user administration alike
    assert [(a.action, a.outcome, a.username) for a in new] == [
        (perm.value, "denied", username(role.value))]
    assert new[0].route == path and new[0].method == method


@pytest.mark.parametrize(("role", "method", "path", "perm"), UI_ALLOWED,
                         ids=[f"{r.value}-{m}-{p}" for r, m, p, _ in UI_ALLOWED])
def test_ui_role_is_let_through(shared: tuple[Svc, dict[str, TestClient]], role: Role,
                                method: str, path: str, perm: Perm) -> None:
    _s, clients = shared
    c = clients[role.value]
    csrf = csrf_of(c.get("/ui").text)
    r = _ui_call(c, method, path, csrf)
    assert r.status_code not in (401, 403), r.text
    assert not r.headers.get("location", "").startswith("/ui/login")


@pytest.mark.parametrize(("method", "path", "perm"), UI_PROTECTED,
                         ids=[f"{m}-{p}" for m, p, _ in UI_PROTECTED])
def test_ui_not_signed_in_goes_to_login(shared: tuple[Svc, dict[str, TestClient]], method: str,
                                        path: str, perm: Perm) -> None:
    s, _clients = shared
    c = ui_client(s, None)
    r = _ui_call(c, method, path, "x")
    assert r.status_code == 303
    assert r.headers["location"].startswith("/ui/login?next=")
    c.cookies.set("pgx_session", "pgx_not-a-real-token", path="/ui")
    r = _ui_call(c, method, path, "x")
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/login")


def test_ui_post_without_csrf_is_refused(shared: tuple[Svc, dict[str, TestClient]]) -> None:
    s, clients = shared
    c = clients["lab_scientist"]
    form = {"nhs_number": "401 023 2137", "family_name": "Csrf", "given_name": "Test",
            "date_of_birth": "1980-05-06"}
    before = len(s.audit())
    for extra in ({}, {"csrf_token": ""}, {"csrf_token": "0" * 64},
                  {"csrf_token": csrf_of(clients["prescriber"].get("/ui").text)}):
        r = c.post("/ui/patients", data={**form, **extra})
        assert r.status_code == 403, extra
        assert "missing or invalid CSRF token" in r.text
    with s.session() as db:
        assert db.scalar(select(Patient).where(Patient.family_name == "Csrf")) is None
    new = s.audit()[before:]
    assert [(a.action, a.outcome) for a in new] == [("patients:write", "denied")] * 4
    r = c.post("/ui/patients", data={**form, "csrf_token": csrf_of(c.get("/ui").text)})
    assert r.status_code == 303 and r.headers["location"].startswith("/ui/patients/")


def test_public_ui_routes_and_security_headers(sqlite_svc: Svc) -> None:
    c = ui_client(sqlite_svc, None)
    r = c.get("/ui/login")
    assert r.status_code == 200 and 'id="login-form"' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY"
    js = c.get("/ui/static/htmx.min.js")
    assert js.status_code == 200 and len(js.content) > 10_000 and b"htmx" in js.content
    css = c.get("/ui/static/web.css")
    assert css.status_code == 200 and b".badge" in css.content
    # no page loads anything from another origin
    assert "http" not in re.sub(r'content="[^"]*"', "", r.text.split("<body>")[0])


def test_login_and_logout(sqlite_svc: Svc) -> None:
    c = ui_client(sqlite_svc, None)
    r = c.get("/ui")
    assert r.status_code == 303 and r.headers["location"] == "/ui/login?next=%2Fui"
    r = login(c, "user-prescriber", "wrong-password-123")
    assert r.status_code == 401 and "invalid username or password" in r.text
    # the login form itself is CSRF-protected (double-submit cookie)
    r = c.post("/ui/login", data={"username": "user-prescriber", "password": PASSWORD})
    assert r.status_code == 403 and "pgx_session" not in r.headers.get("set-cookie", "")
    r = login(c, "user-prescriber", next_="https://evil.example/")
    assert r.status_code == 303 and r.headers["location"] == "/ui"  # no open redirect
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("pgx_session="))
    flags = {f.strip().lower() for f in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/ui"} <= flags and "secure" not in flags
    home = c.get("/ui")
    assert home.status_code == 200 and "user-prescriber" in home.text
    assert c.post("/ui/logout").status_code == 403  # no CSRF token
    r = c.post("/ui/logout", data={"csrf_token": csrf_of(home.text)})
    assert r.status_code == 303 and r.headers["location"] == "/ui/login"
    # the token is revoked, not just forgotten by the browser
    c.cookies.set("pgx_session", cookie.split(";")[0].split("=", 1)[1], path="/ui")
    assert c.get("/ui").status_code == 303


def test_login_throttle_page(tmp_path: Path) -> None:
    """The sign-in page shares the API's throttle: after the limit, a 429 page says so."""
    app = create_app(Settings(data_dir=tmp_path, login_max_failures=2))
    with app.state.sessions() as s:
        auth_service.create_user(s, "lab1", PASSWORD, "lab_scientist")
        s.commit()
    c = TestClient(app, follow_redirects=False)
    assert login(c, "lab1", "wrong-password-123").status_code == 401
    assert login(c, "lab1", "wrong-password-123").status_code == 401
    r = login(c, "lab1")
    assert r.status_code == 429 and "too many failed sign-ins" in r.text
    assert int(r.headers["retry-after"]) > 0
    assert "pgx_session" not in r.headers.get("set-cookie", "")
    app.state.engine.dispose()


def test_session_cookie_is_secure_in_production(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, environment="production",
                        secret=support.GOOD_SECRET, allow_sqlite_in_production=True,
                        public_base_url="https://testserver")
    app = create_app(settings)
    with app.state.sessions() as s:
        auth_service.create_user(s, "lab1", PASSWORD, "lab_scientist")
        s.commit()
    c = TestClient(app, base_url="https://testserver", follow_redirects=False)
    r = login(c, "lab1")
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith("pgx_session="))
    assert "secure" in cookie.lower()
    app.state.engine.dispose()


def test_wrong_role_sees_a_403_page(sqlite_svc: Svc) -> None:
    c = ui_client(sqlite_svc, "analyst")
    home = c.get("/ui")
    assert home.status_code == 200 and "sees no patient-level data" in home.text
    r = c.get("/ui/patients")
    assert r.status_code == 403 and "<h1>Not allowed</h1>" in r.text
    assert "role &#39;analyst&#39; may not patients:read" in r.text


def test_patient_name_is_escaped(sqlite_svc: Svc) -> None:
    evil = "<script>alert(1)</script>"
    r = sqlite_svc.client.post("/patients", headers=sqlite_svc.h("prescriber"), json={
        "nhs_number": VALID_NHS, "family_name": evil, "given_name": '"><img src=x onerror=1>',
        "date_of_birth": "1970-01-02"})
    assert r.status_code == 201
    pid = r.json()["id"]
    c = ui_client(sqlite_svc, "prescriber")
    for url in (f"/ui/patients/{pid}", f"/ui/patients?q={VALID_NHS}"):
        page = c.get(url)
        assert page.status_code == 200
        assert evil not in page.text and "<img src=x" not in page.text
        assert esc(evil) in page.text


def test_clinical_workflow_pages(svc: Svc) -> None:
    lab, pres = ui_client(svc, "lab_scientist"), ui_client(svc, "prescriber")
    # lab registers a patient and uploads a VCF
    r = lab.post("/ui/patients", data={
        "nhs_number": "943 476 5919", "family_name": "Jones", "given_name": "Mary",
        "date_of_birth": "1961-03-04", "csrf_token": csrf_of(lab.get("/ui").text)})
    assert r.status_code == 303
    patient_url = r.headers["location"]
    pid = int(patient_url.rsplit("/", 1)[1])
    page = lab.get(patient_url)
    assert 'id="upload-form"' in page.text and 'id="review-form"' not in page.text
    with DEMO_VCF.open("rb") as fh:
        r = lab.post(f"/ui/patients/{pid}/results", files={"file": ("demo.vcf", fh)},
                     data={"kind": "vcf", "sample": "PATIENT1",
                           "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    result_url = r.headers["location"]
    rid = int(result_url.rsplit("/", 1)[1])
    page = lab.get(result_url)
    assert page.status_code == 200
    with svc.session() as s:
        v = s.scalar(select(ResultVersion).where(ResultVersion.result_id == rid))
        assert v is not None and v.calls_json
        calls = json.loads(v.calls_json)
        kb_version = v.kb_version
    assert f'id="kb-version">{kb_version}<' in page.text
    genes = calls["samples"][0]["genes"]
    for g in genes:
        assert f'data-gene="{g["gene"]}"' in page.text
        if g["missing_positions"]:
            assert f'{len(g["missing_positions"])} missing' in page.text
    report = lab.get(f"/ui/results/{rid}/report")
    assert report.status_code == 200 and "Pharmacogenomic report" in report.text
    assert "style-src 'unsafe-inline'" in report.headers["content-security-policy"]
    # the patient's identifiers and the sign-off status head the report (and every printed page)
    assert '<dd data-id="Name">JONES, Mary</dd>' in report.text
    assert '<dd data-id="NHS number">943 476 5919</dd>' in report.text
    assert '<dd data-id="Date of birth">1961-03-04</dd>' in report.text
    assert 'id="report-status">PROVISIONAL' in report.text
    # an outside-call TSV too
    with DEMO_OUTSIDE.open("rb") as fh:
        r = lab.post(f"/ui/patients/{pid}/results", files={"file": ("calls.tsv", fh)},
                     data={"kind": "outside_calls", "sample": "PATIENT1",
                           "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    assert 'data-gene="CYP2D6"' in lab.get(r.headers["location"]).text
    # bad input: an HTML page naming the problem, nothing stored
    r = lab.post(f"/ui/patients/{pid}/results", files={"file": ("x.vcf", b"not a vcf\n")},
                 data={"kind": "vcf", "csrf_token": csrf_of(page.text)})
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("text/html")

    # prescriber: no review on a provisional result
    page = pres.get(patient_url)
    assert 'id="review-form"' in page.text and 'id="upload-form"' not in page.text
    assert ">provisional<" in page.text
    r = pres.post(f"/ui/patients/{pid}/reviews", data={
        "medicines": "clopidogrel\ncodeine", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 409 and "provisional" in r.text
    # a second laboratory scientist signs the VCF result off (the uploader cannot)
    assert 'id="signoff-form"' not in lab.get(result_url).text
    assert "yours: a colleague signs it off" in lab.get("/ui").text
    checker = ui_client(svc, "checker")
    home = checker.get("/ui").text
    assert f'<tr data-result="{rid}">' in home and "Results awaiting sign-off" in home
    page = checker.get(result_url)
    assert "Provisional" in page.text and 'id="signoff-form"' in page.text
    r = checker.post(f"/ui/results/{rid}/versions/1/sign-off",
                     data={"note": "checked", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    page = checker.get(result_url)
    assert "Authorised" in page.text and "user-checker" in page.text
    assert 'id="signoff-form"' not in page.text
    assert "Authorised by user-checker" in lab.get(f"/ui/results/{rid}/report").text
    # prescriber: review and order
    page = pres.get(patient_url)
    assert ">authorised<" in page.text
    r = pres.post(f"/ui/patients/{pid}/reviews", data={
        "medicines": "clopidogrel\ncodeine", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    review_page = pres.get(r.headers["location"])
    with svc.session() as s:
        row = s.scalars(select(MedicationReview)).one()
        stored = ReviewResult.from_json(json.loads(row.review_json))
    for item in stored.items:
        assert f'data-action="{item.action.value}"' in review_page.text
        for rec in item.recommendations:
            assert esc(source_label(rec)) in review_page.text
            assert esc(rec.text) in review_page.text
    assert lab.get(f"/ui/reviews/{row.id}").status_code == 403
    r = pres.post(f"/ui/patients/{pid}/orders", data={
        "test_code": "PGX-DPYD", "trigger_drug": "capecitabine", "reason": "before chemo",
        "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303
    order_url = r.headers["location"]
    oid = int(order_url.rsplit("/", 1)[1])
    page = pres.get(order_url)
    assert 'id="order-status">requested<' in page.text and 'class="inline-form progress' \
        not in page.text
    # lab: worklist, then progress to reported
    assert f'data-order="{oid}"' in lab.get("/ui").text
    for to in ("sample_received", "in_analysis", "reported"):
        page = lab.get(order_url)
        data = {"status": to, "csrf_token": csrf_of(page.text)}
        if to == "reported":
            data["result_id"] = str(rid)
        r = lab.post(f"/ui/orders/{oid}/status", data=data)
        assert r.status_code == 303, r.text
    page = lab.get(order_url)
    assert 'id="order-status">reported<' in page.text
    assert page.text.count("<tr data-to=") == 4 and 'id="cancel-form"' not in page.text
    r = lab.post(f"/ui/orders/{oid}/status", data={"status": "in_analysis",
                                                    "csrf_token": csrf_of(page.text)})
    assert r.status_code == 409 and "cannot move from" in r.text
    with svc.session() as s:
        order = s.get(Order, oid)
        assert order is not None and order.result_id == rid
    assert f'data-order="{oid}"' not in lab.get("/ui").text

    actions = [a.action for a in svc.audit(patient_id=pid, outcome="ok")]
    for expected in ("patient.create", "patient.read", "result.upload", "result.read",
                     "review.create", "review.read", "order.create", "order.read",
                     "order.status"):
        assert expected in actions, expected
    failures = [(a.action, a.outcome) for a in svc.audit(patient_id=pid)
                if a.outcome != "ok"]
    assert ("results:upload", "error 422") in failures or \
        ("results:upload", "error 400") in failures
    # refused before the review was read, so not filed under the patient (as in the API)
    assert ("reviews:read", "denied") in [(a.action, a.outcome)
                                         for a in svc.audit(username="user-lab-scientist")]


def test_htmx_search_returns_the_fragment(sqlite_svc: Svc) -> None:
    pid = sqlite_svc.new_patient()
    c = ui_client(sqlite_svc, "lab_scientist")
    full = c.get("/ui/patients?q=Smi")
    part = c.get("/ui/patients?q=Smi", headers={"HX-Request": "true"})
    assert full.status_code == part.status_code == 200
    assert "<html" in full.text and "<html" not in part.text
    assert part.text.strip().startswith('<div id="search-results">')
    assert f'data-patient="{pid}"' in part.text
    # what was searched by, never the searched text (administrators read the audit log)
    assert [a.detail for a in sqlite_svc.audit(action="patient.search")] == [
        "by family name", "by family name"]


def test_reinterpretation_page(svc: Svc) -> None:
    """A laboratory scientist re-interprets a result from its page; the page then shows the new
    version, the knowledge bases and what changed per gene (the same diff as the API)."""
    import dataclasses

    import pgxguard

    lab, pres = ui_client(svc, "lab_scientist"), ui_client(svc, "prescriber")
    pid = svc.new_patient()
    page = lab.get(f"/ui/patients/{pid}")
    with DEMO_VCF.open("rb") as fh:
        r = lab.post(f"/ui/patients/{pid}/results", files={"file": ("demo.vcf", fh)},
                     data={"kind": "vcf", "sample": "PATIENT1",
                           "csrf_token": csrf_of(page.text)})
    result_url = r.headers["location"]
    rid = int(result_url.rsplit("/", 1)[1])
    page = lab.get(result_url)
    assert 'id="reinterpret"' in page.text and 'id="changes"' not in page.text
    assert 'id="reinterpret"' not in pres.get(result_url).text  # no permission: no button
    kb = pgxguard.load_knowledge_base()
    newer = dataclasses.replace(
        kb, version=kb.version + "-next",
        phenotypes={g: p for g, p in kb.phenotypes.items() if g != "CYP2C19"})
    before = svc.app.state.kb_provider
    svc.app.state.kb_provider = lambda: newer
    try:
        r = lab.post(f"/ui/results/{rid}/reinterpret", data={"csrf_token": csrf_of(page.text)})
        assert r.status_code == 303 and r.headers["location"] == f"/ui/results/{rid}#changes"
        page = lab.get(result_url)
    finally:
        svc.app.state.kb_provider = before
    assert 'id="changes"' in page.text and "Changes from version 1" in page.text
    assert esc(f"{kb.version}") in page.text and esc(f"{kb.version}-next") in page.text
    changed = re.findall(r'<tr data-gene="([^"]+)"><td>[^<]*</td><th scope="row">[^<]*</th>'
                         r'<td>changed</td><td>phenotype</td>', page.text)
    assert changed == ["CYP2C19"]
    assert 'id="versions"' in page.text
    with svc.session() as s:
        versions = list(s.scalars(select(ResultVersion).where(ResultVersion.result_id == rid)))
    assert [v.version for v in versions] == [1, 2]
    assert [a.action for a in svc.audit(patient_id=pid)].count("result.reinterpret") == 1


def test_user_administration_pages(svc: Svc) -> None:
    admin, lab = ui_client(svc, "admin"), ui_client(svc, "lab_scientist")
    page = admin.get("/ui/users")
    assert page.status_code == 200 and 'data-user="user-lab-scientist"' in page.text
    assert 'href="/ui/users"' in page.text and 'href="/ui/users"' not in lab.get("/ui").text
    csrf = csrf_of(page.text)
    r = admin.post("/ui/users", data={"username": "pharm2", "password": "short",
                                      "role": "prescriber", "csrf_token": csrf})
    assert r.status_code == 422 and "password too short" in r.text
    r = admin.post("/ui/users", data={"username": "pharm2", "password": PASSWORD,
                                      "role": "prescriber", "csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/ui/users"
    c = ui_client(svc, None)
    assert login(c, "pharm2").status_code == 303
    with svc.session() as s:
        uid = auth_service.list_users(s)[-1].id
    # disabling signs the user out everywhere
    r = admin.post(f"/ui/users/{uid}", data={"role": "prescriber", "active": "false",
                                             "csrf_token": csrf})
    assert r.status_code == 303
    assert c.get("/ui").status_code == 303  # the session is gone
    assert login(ui_client(svc, None), "pharm2").status_code == 401
    # an administrator cannot lock themself out
    me = svc.user_ids["admin"]
    r = admin.post(f"/ui/users/{me}", data={"active": "false", "csrf_token": csrf})
    assert r.status_code == 422 and "cannot disable your own account" in r.text
    actions = [(a.action, a.detail) for a in svc.audit(action="user.create")]
    assert ("user.create", "user pharm2 (prescriber)") in actions
    assert any("pharm2: role, active" in (a.detail or "") for a in svc.audit(action="user.update"))


def test_fhir_bundle_upload_page(svc: Svc) -> None:
    """The upload form takes a FHIR Bundle too: a pgxguard genomics report's calls come back;
    it cannot be re-interpreted (its calls were made elsewhere), so no button."""
    import pgxguard
    from pgxguard.report.fhir import report_bundle

    calls = pgxguard.call(DEMO_VCF, samples=["PATIENT1"])
    bundle = json.dumps(report_bundle(calls, None, "PATIENT1")).encode()
    lab = ui_client(svc, "lab_scientist")
    pid = svc.new_patient()
    page = lab.get(f"/ui/patients/{pid}")
    assert 'value="fhir_bundle"' in page.text
    r = lab.post(f"/ui/patients/{pid}/results", files={"file": ("report.json", bundle)},
                 data={"kind": "fhir_bundle", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    page = lab.get(r.headers["location"])
    assert 'id="status">interpreted<' in page.text and 'id="reinterpret"' not in page.text
    for g in calls.samples[0].genes:
        assert f'data-gene="{g.gene}"' in page.text
    r = lab.post(f"/ui/patients/{pid}/results", files={"file": ("x.json", b"{}")},
                 data={"kind": "dicom", "csrf_token": csrf_of(page.text)})
    assert r.status_code == 422 and "unknown result kind" in r.text
