"""The `/ui` pages. Thin like the API routers: each handler calls the same domain service
functions, audits with the same actions, commits, then renders a template or redirects
(POST -> 303 -> GET, so every page works without JavaScript; htmx only swaps fragments)."""

from __future__ import annotations

import hmac
import json
import re
from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from pgxguard.call.results import CallResult
from pgxguard.guidance.medicines import split_medicines
from pgxguard.guidance.model import ReviewResult
from pgxguard.report.html import clinician_html
from pgxguard.report.view import PatientIds, gene_row, guidance_kb, sorted_items
from pgxguard.service.auth import service as auth_service
from pgxguard.service.auth.permissions import Perm, Role
from pgxguard.service.auth.security import MIN_PASSWORD_LENGTH
from pgxguard.service.deps import client_address, get_settings
from pgxguard.service.errors import (
    AuthenticationError,
    TooManyAttemptsError,
    ValidationFailedError,
)
from pgxguard.service.ids import MAX_ROW_ID, RowId
from pgxguard.service.models import Patient, ResultVersion, User
from pgxguard.service.orders import service as orders
from pgxguard.service.orders.directory import directory
from pgxguard.service.orders.service import TRANSITIONS, Status
from pgxguard.service.patients import service as patients
from pgxguard.service.results import profile as profiles
from pgxguard.service.results import service as results
from pgxguard.service.results.diff import diff_calls
from pgxguard.service.results.router import (
    run_combined_upload,
    run_reinterpretation,
    run_upload,
)
from pgxguard.service.results.service import Kind
from pgxguard.service.reviews import service as reviews
from pgxguard.service.settings import Settings
from pgxguard.service.web.render import REPORT_CSP, is_htmx, render, security_headers
from pgxguard.service.web.session import (
    LOGIN_CSRF_COOKIE,
    UiCtx,
    action,
    clear_session_cookie,
    new_login_csrf,
    page,
    set_session_cookie,
)

router = APIRouter(prefix="/ui", include_in_schema=False)
MAX_MEDICINES = 200
_NHS_LIKE = re.compile(r"^[\d\s-]{10,14}$")


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=security_headers())


def _form_row_id(value: str, what: str) -> int | None:
    """An optional row id typed into a form: empty is None; anything but 1..2^31-1 written in
    ASCII digits is a 422 (`'²'.isdigit()` is true, `int('²')` raises)."""
    v = value.strip()
    if not v:
        return None
    if not (v.isascii() and v.isdigit() and len(v) <= 10 and 1 <= int(v) <= MAX_ROW_ID):
        raise ValidationFailedError(f"{what} id {v!r} is not a number from 1 to {MAX_ROW_ID}",
                                    hint=f"choose the {what} from the list")
    return int(v)


def _safe_next(target: str | None) -> str:
    # Only local UI paths: never an open redirect ('//host', 'https://...').
    if target and target.startswith("/ui") and not target.startswith("//") and "\\" not in target:
        return target
    return "/ui"


# ---- sign in / out -----------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: Annotated[str | None, Query(max_length=500)] = None,
               ) -> Response:
    """The sign-in form (public). Sets a one-off login CSRF cookie (double submit)."""
    login_csrf = new_login_csrf()
    settings = get_settings(request)
    resp = render(request, "login.html", None, next=_safe_next(next), login_csrf=login_csrf,
                  error=_plain_http_error(request, settings))
    resp.set_cookie(LOGIN_CSRF_COOKIE, login_csrf, path="/ui/login", httponly=True,
                    samesite="strict", secure=settings.production, max_age=3600)
    return resp


def _plain_http_error(request: Request, settings: Settings) -> str | None:
    """In production the cookies are Secure: over plain HTTP the browser drops them and the
    sign-in could only fail. Say so, instead of a misleading 'form expired'."""
    if settings.production and request.url.scheme != "https":
        return ("This service must be reached over HTTPS: in production the sign-in cookies are "
                "Secure, so browsers do not send them over plain HTTP. Open the https:// "
                "address (behind a TLS proxy, the operator sets PGXGUARD_TRUSTED_PROXIES so its "
                "X-Forwarded-Proto header is believed).")
    return None


@router.post("/login", response_class=HTMLResponse)
def login(request: Request,
          username: Annotated[str, Form(max_length=64)] = "",
          password: Annotated[str, Form(max_length=1024)] = "",
          csrf_token: Annotated[str, Form(max_length=200)] = "",
          next: Annotated[str, Form(max_length=500)] = "/ui") -> Response:
    """Verify the password with the auth service and keep the issued API token in a cookie."""
    settings = get_settings(request)
    plain_http = _plain_http_error(request, settings)
    if plain_http:
        return render(request, "login.html", None, status=400, next=_safe_next(next),
                      login_csrf="", error=plain_http)
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        return render(request, "login.html", None, status=403, next=_safe_next(next),
                      login_csrf=expected or "",
                      error="The sign-in form expired: reload the page and try again.")
    try:
        signed = auth_service.sign_in(request.app.state.sessions, settings, username, password,
                                      address=client_address(request), route="/ui/login",
                                      label="web UI")
    except (AuthenticationError, TooManyAttemptsError) as e:
        page = render(request, "login.html", None, status=e.status_code, next=_safe_next(next),
                      login_csrf=expected, error=e.detail)
        if isinstance(e, TooManyAttemptsError):
            page.headers["Retry-After"] = str(e.retry_after)
        return page
    resp = _see_other(_safe_next(next))
    set_session_cookie(resp, signed.token, settings)
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return resp


@router.post("/logout")
def logout(ctx: Annotated[UiCtx, action(Perm.SELF)]) -> Response:
    """Revoke the session's token (as DELETE /auth/token does) and drop the cookie."""
    auth_service.revoke(ctx.session, ctx.api_token)
    ctx.audit("auth.signout", None, detail=f"token {ctx.api_token.id}")
    ctx.commit()
    resp = _see_other("/ui/login")
    clear_session_cookie(resp, ctx.settings)
    return resp


# ---- home --------------------------------------------------------------------------------------

@router.get("", response_class=HTMLResponse)
def home(request: Request, ctx: Annotated[UiCtx, page(Perm.SELF)]) -> Response:
    """Dashboard by role: the laboratory's open orders; search for patient-facing roles."""
    worklist = []
    if ctx.can(Perm.ORDERS_PROGRESS):
        worklist = orders.open_orders(ctx.session)
        for o in worklist:
            ctx.audit("order.list", o.patient_id, detail=f"worklist: order {o.id}")
    to_sign = []
    if ctx.can(Perm.RESULTS_SIGNOFF):
        to_sign = results.awaiting_signoff(ctx.session)
        for v in to_sign:
            ctx.audit("result.list", v.result.patient_id,
                      detail=f"sign-off worklist: result {v.result_id} version {v.version}")
    conflicts: list[tuple[Patient, profiles.Profile]] = []
    if ctx.can(Perm.RESULTS_SIGNOFF):
        conflicts = profiles.conflict_patients(ctx.session, ctx.settings.require_signoff)
        for cp, prof in conflicts:
            ctx.audit("profile.read", cp.id, detail="conflict worklist: "
                      + ", ".join(g.gene for g in prof.conflicts))
    names = _patient_names(ctx.session, [o.patient_id for o in worklist]
                           + [v.result.patient_id for v in to_sign])
    out = render(request, "home.html", ctx, worklist=worklist, names=names, to_sign=to_sign,
                 second_person=ctx.settings.signoff_second_person, conflicts=conflicts)
    ctx.commit()
    return out


def _patient_names(session: Session, ids: list[int]) -> dict[int, Patient]:
    return {i: patients.get_patient(session, i) for i in set(ids)}


# ---- patients ----------------------------------------------------------------------------------

@router.get("/patients", response_class=HTMLResponse)
def find_patients(request: Request, ctx: Annotated[UiCtx, page(Perm.PATIENTS_READ)],
                  q: Annotated[str, Query(max_length=200)] = "") -> Response:
    """Find by NHS number (10 digits) or by the start of the family name."""
    q = q.strip()
    found: list[Patient] | None = None
    if q:
        if _NHS_LIKE.match(q):
            one = patients.find_by_nhs_number(ctx.session, q)
            found = [one] if one else []
            query = "by NHS number"
        else:
            found = patients.search(ctx.session, family_name=q)
            query = "by family name"
        if found:
            for p in found:
                ctx.audit("patient.search", p.id, detail=query)
        else:
            ctx.audit("patient.search", None, detail=query, outcome="no match")
        ctx.commit()
    template = "_patient_results.html" if is_htmx(request) else "patients.html"
    return render(request, template, ctx, q=q, found=found)


@router.get("/patients/new", response_class=HTMLResponse)
def new_patient_form(request: Request,
                     ctx: Annotated[UiCtx, page(Perm.PATIENTS_WRITE)]) -> Response:
    return render(request, "patient_new.html", ctx)


@router.post("/patients")
def create_patient(ctx: Annotated[UiCtx, action(Perm.PATIENTS_WRITE)],
                   nhs_number: Annotated[str, Form(max_length=20)],
                   family_name: Annotated[str, Form(max_length=200)],
                   given_name: Annotated[str, Form(max_length=200)],
                   date_of_birth: Annotated[str, Form(max_length=10)]) -> Response:
    try:
        dob = date.fromisoformat(date_of_birth)
    except ValueError as e:
        raise ValidationFailedError(f"date of birth {date_of_birth!r} is not a date",
                                    hint="use YYYY-MM-DD") from e
    p = patients.create_patient(ctx.session, nhs_number=nhs_number, family_name=family_name,
                                given_name=given_name, date_of_birth=dob,
                                created_by=ctx.user.id)
    ctx.audit("patient.create", p.id)
    ctx.commit()
    return _see_other(f"/ui/patients/{p.id}")


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(request: Request, patient_id: RowId,
                 ctx: Annotated[UiCtx, page(Perm.PATIENTS_READ)]) -> Response:
    """Demographics, then what the role may see: results, orders, reviews."""
    p = patients.get_patient(ctx.session, patient_id)
    ctx.audit("patient.read", p.id)
    res = revs = ords = prof = None
    if ctx.can(Perm.RESULTS_READ):
        res = [(r, results.latest(r)) for r in results.for_patient(ctx.session, p.id)]
        ctx.audit("result.list", p.id)
        prof = profiles.patient_profile(ctx.session, p.id,
                                        require_signoff=ctx.settings.require_signoff)
        ctx.audit("profile.read", p.id, detail=prof.sources_text())
    if ctx.can(Perm.ORDERS_READ):
        ords = orders.for_patient(ctx.session, p.id)
        ctx.audit("order.list", p.id)
    if ctx.can(Perm.REVIEWS_READ):
        revs = [(r, json.loads(r.medicines)) for r in reviews.for_patient(ctx.session, p.id)]
        ctx.audit("review.list", p.id)
    tests = directory() if ctx.can(Perm.ORDERS_CREATE) else ()
    out = render(request, "patient.html", ctx, patient=p, results=res, orders=ords,
                 reviews=revs, tests=tests, profile=prof, call_text=profiles.call_text)
    ctx.commit()
    return out


# ---- results -----------------------------------------------------------------------------------

@router.post("/patients/{patient_id}/results")
def upload_result(patient_id: RowId, ctx: Annotated[UiCtx, action(Perm.RESULTS_UPLOAD)],
                  file: Annotated[UploadFile, File()],
                  kind: Annotated[str, Form(max_length=20)] = "vcf",
                  sample: Annotated[str, Form(max_length=200)] = "",
                  build: Annotated[str, Form(max_length=10)] = "",
                  outside_file: Annotated[UploadFile | None, File()] = None,
                  outside_sample: Annotated[str, Form(max_length=200)] = "") -> Response:
    """VCF (called on upload), outside-call TSV or FHIR Bundle, exactly as POST
    .../results/{vcf,outside-calls,fhir} do; a VCF with an outside-call file as POST
    .../results/combined (two results, then the patient's page)."""
    if kind not in {k.value for k in Kind}:
        raise ValidationFailedError(f"unknown result kind {kind!r}",
                                    hint="vcf, outside_calls or fhir_bundle")
    k = Kind(kind)
    build_ = (build or None) if k is Kind.VCF else None  # only a VCF is called with a build
    if outside_file is not None and outside_file.filename:
        if k is not Kind.VCF:
            raise ValidationFailedError("outside calls go with a VCF upload",
                                        hint="choose kind VCF, or upload the file on its own "
                                             "as outside calls")
        run_combined_upload(ctx, patient_id, file, outside_file, sample or None,
                            outside_sample or None, build_)
        return _see_other(f"/ui/patients/{patient_id}#profile")
    res = run_upload(ctx, patient_id, k, file, sample or None, build_)
    return _see_other(f"/ui/results/{res.id}")


def _calls(version: ResultVersion) -> CallResult | None:
    data = results.calls_of(version)
    return CallResult.from_json(data, origin=f"result {version.result_id}") if data else None


@router.get("/results/{result_id}", response_class=HTMLResponse)
def result_page(request: Request, result_id: RowId,
                ctx: Annotated[UiCtx, page(Perm.RESULTS_READ)]) -> Response:
    """The latest interpretation: calls, ties, missing positions, warnings, KB version; every
    version, and what changed from the previous one."""
    r = results.get_result(ctx.session, result_id)
    ctx.about(r.patient_id)
    p = patients.get_patient(ctx.session, r.patient_id)
    v = results.latest(r)
    calls = _calls(v)
    samples = [(s.sample, [gene_row(g) for g in s.genes]) for s in calls.samples] if calls \
        else []
    changes = None
    if v.version > 1:
        prev = results.get_version(r, v.version - 1)
        changes = {"from_version": prev.version, "from_kb": prev.kb_version,
                   **diff_calls(results.calls_of(prev), results.calls_of(v))}
    can_reinterpret = ctx.can(Perm.RESULTS_REINTERPRET) and r.kind != Kind.FHIR_BUNDLE.value
    in_use = results.latest_usable(r, ctx.settings.require_signoff)
    can_sign = (ctx.can(Perm.RESULTS_SIGNOFF) and v.signoff is None and calls is not None
                and not (ctx.settings.signoff_second_person and v.created_by == ctx.user.id))
    ctx.audit("result.read", r.patient_id, detail=f"result {r.id}")
    out = render(request, "result.html", ctx, patient=p, result=r, version=v, calls=calls,
                 samples=samples, changes=changes, can_reinterpret=can_reinterpret,
                 current_kb=ctx.knowledge_base().version if can_reinterpret else None,
                 in_use=in_use, can_sign=can_sign,
                 require_signoff=ctx.settings.require_signoff)
    ctx.commit()
    return out


@router.post("/results/{result_id}/versions/{version}/sign-off")
def sign_off_result(result_id: RowId, version: RowId,
                    ctx: Annotated[UiCtx, action(Perm.RESULTS_SIGNOFF)],
                    note: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """As POST /results/{id}/versions/{v}/sign-off: authorise the version for clinical use."""
    r = results.get_result(ctx.session, result_id)
    ctx.about(r.patient_id)
    results.sign_off(ctx.session, r, version, user_id=ctx.user.id, username=ctx.user.username,
                     note=note.strip() or None,
                     second_person=ctx.settings.signoff_second_person)
    ctx.audit("result.signoff", r.patient_id, detail=f"result {r.id} version {version}")
    ctx.commit()
    return _see_other(f"/ui/results/{r.id}")


@router.post("/results/{result_id}/reinterpret")
def reinterpret_result(result_id: RowId,
                       ctx: Annotated[UiCtx, action(Perm.RESULTS_REINTERPRET)]) -> Response:
    """Re-call the stored input against the current knowledge base, as POST
    /results/{id}/reinterpret does; the result page then shows what changed."""
    r, _diff = run_reinterpretation(ctx, result_id)
    return _see_other(f"/ui/results/{r.id}#changes")


@router.get("/results/{result_id}/report", response_class=HTMLResponse)
def result_report(result_id: RowId, ctx: Annotated[UiCtx, page(Perm.RESULTS_READ)]) -> Response:
    """The clinician HTML report (`report.html.clinician_html`) of the latest version."""
    r = results.get_result(ctx.session, result_id)
    ctx.about(r.patient_id)
    v = results.latest(r)
    calls = _calls(v)
    if calls is None or not calls.samples:
        raise ValidationFailedError(f"result {r.id} holds no calls to report",
                                    hint="it was stored, not interpreted")
    so = v.signoff
    status = (f"Authorised by {so.username} on {so.at:%Y-%m-%d %H:%M} UTC (version {v.version})"
              if so is not None else f"PROVISIONAL: version {v.version} is not signed off by "
              "the laboratory")
    p = patients.get_patient(ctx.session, r.patient_id)
    ids = PatientIds(name=f"{p.family_name.upper()}, {p.given_name}", nhs_number=p.nhs_number,
                     birth_date=p.date_of_birth.isoformat())
    html = clinician_html(calls, None, calls.samples[0].sample, status=status, patient=ids)
    ctx.audit("result.read", r.patient_id, detail=f"result {r.id} version {v.version} report")
    ctx.commit()
    return HTMLResponse(html, headers=security_headers(REPORT_CSP))


@router.post("/patients/{patient_id}/profile/resolutions")
def resolve_conflict(patient_id: RowId, ctx: Annotated[UiCtx, action(Perm.RESULTS_SIGNOFF)],
                     gene: Annotated[str, Form(max_length=32)],
                     result_id: Annotated[str, Form(max_length=20)],
                     version: Annotated[str, Form(max_length=20)],
                     reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    """As POST /patients/{id}/profile/resolutions: this result's call of the gene stands."""
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    rid, ver = _form_row_id(result_id, "result"), _form_row_id(version, "version")
    if rid is None or ver is None:
        raise ValidationFailedError("choose the result whose call stands")
    row = profiles.resolve(ctx.session, p.id, gene, rid, ver, reason=reason,
                           user_id=ctx.user.id, username=ctx.user.username,
                           require_signoff=ctx.settings.require_signoff)
    ctx.audit("profile.resolve", p.id,
              detail=f"{row.gene}: result {rid} v{ver} stands (over result versions "
                     f"{row.overrides}); the reason is kept with the resolution")
    ctx.commit()
    return _see_other(f"/ui/patients/{p.id}#profile")


@router.get("/patients/{patient_id}/profile/report", response_class=HTMLResponse)
def profile_report(patient_id: RowId,
                   ctx: Annotated[UiCtx, page(Perm.RESULTS_READ)]) -> Response:
    """The clinician HTML report of the patient's PGx profile (every signed-off result merged
    per gene; a gene in conflict shows no call and says why)."""
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    prof = profiles.patient_profile(ctx.session, p.id,
                                    require_signoff=ctx.settings.require_signoff)
    calls = prof.calls
    if calls is None:
        raise ValidationFailedError(f"patient {p.id} has no signed-off PGx result to report",
                                    hint="the laboratory signs results off first")
    status = f"PGx profile from {prof.sources_text()}" + "".join(
        f"; {s.label()} authorised by {s.signed_off_by} on {s.signed_off_at:%Y-%m-%d %H:%M} UTC"
        for s in prof.sources if s.signed_off_at is not None)
    if prof.conflicts:
        status += ("; RESULT INCOMPLETE: signed-off results disagree on "
                   + ", ".join(g.gene for g in prof.conflicts))
    html = clinician_html(calls, None, calls.samples[0].sample, status=status)
    ctx.audit("profile.read", p.id, detail=f"report: {prof.sources_text()}")
    ctx.commit()
    return HTMLResponse(html, headers=security_headers(REPORT_CSP))


# ---- medication reviews ------------------------------------------------------------------------

def _medicines(text: str) -> list[str]:
    meds = split_medicines(text)
    if not meds:
        raise ValidationFailedError("enter at least one medicine (one a line)")
    if len(meds) > MAX_MEDICINES:
        raise ValidationFailedError(f"at most {MAX_MEDICINES} medicines in one review")
    return meds


@router.post("/patients/{patient_id}/reviews")
def create_review(patient_id: RowId, ctx: Annotated[UiCtx, action(Perm.REVIEWS_CREATE)],
                  medicines: Annotated[str, Form(max_length=20_000)] = "",
                  all_drugs: Annotated[bool, Form()] = False) -> Response:
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    row = reviews.create_review(ctx.session, p, _medicines(medicines), user_id=ctx.user.id,
                                kb=ctx.knowledge_base(), all_drugs=all_drugs,
                                require_signoff=ctx.settings.require_signoff)
    ctx.audit("review.create", p.id, detail=f"review {row.id}")
    ctx.commit()
    return _see_other(f"/ui/reviews/{row.id}")


@router.get("/reviews/{review_id}", response_class=HTMLResponse)
def review_page(request: Request, review_id: RowId,
                ctx: Annotated[UiCtx, page(Perm.REVIEWS_READ)]) -> Response:
    """The stored review exactly as stored: action classes, verbatim text with its source."""
    row = reviews.get_review(ctx.session, review_id)
    ctx.about(row.patient_id)
    p = patients.get_patient(ctx.session, row.patient_id)
    version = ctx.session.get(ResultVersion, row.result_version_id)
    rr = ReviewResult.from_json(reviews.review_of(row))
    ctx.audit("review.read", row.patient_id, detail=f"review {row.id}")
    used = json.loads(row.profile_json) if row.profile_json else None
    out = render(request, "review.html", ctx, patient=p, row=row, version=version, profile=used,
                 review=rr, items=sorted_items(rr), kb=guidance_kb(rr),
                 medicines=json.loads(row.medicines))
    ctx.commit()
    return out


# ---- test orders -------------------------------------------------------------------------------

@router.post("/patients/{patient_id}/orders")
def create_order(patient_id: RowId, ctx: Annotated[UiCtx, action(Perm.ORDERS_CREATE)],
                 test_code: Annotated[str, Form(max_length=64)],
                 reason: Annotated[str, Form(max_length=2000)] = "",
                 trigger_drug: Annotated[str, Form(max_length=200)] = "") -> Response:
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    o = orders.create_order(ctx.session, p, test_code=test_code, user_id=ctx.user.id,
                            reason=reason.strip() or None,
                            trigger_drug=trigger_drug.strip() or None)
    ctx.audit("order.create", p.id, detail=f"order {o.id} ({o.test_code})")
    ctx.commit()
    return _see_other(f"/ui/orders/{o.id}")


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(request: Request, order_id: RowId,
               ctx: Annotated[UiCtx, page(Perm.ORDERS_READ)]) -> Response:
    """The order, its event history and the moves this role may make next."""
    o = orders.get_order(ctx.session, order_id)
    ctx.about(o.patient_id)
    p = patients.get_patient(ctx.session, o.patient_id)
    ctx.audit("order.read", o.patient_id, detail=f"order {o.id}")
    allowed_next = TRANSITIONS[Status(o.status)]
    progress = sorted((s for s in allowed_next if s is not Status.CANCELLED),
                      key=list(Status).index) if ctx.can(Perm.ORDERS_PROGRESS) else []
    can_cancel = Status.CANCELLED in allowed_next and ctx.can(Perm.ORDERS_CANCEL)
    patient_results = []
    if Status.REPORTED in progress and ctx.can(Perm.RESULTS_READ):
        patient_results = results.for_patient(ctx.session, p.id)
        ctx.audit("result.list", p.id)
    users = {e.user_id: ctx.session.get(User, e.user_id) for e in o.events}
    out = render(request, "order.html", ctx, patient=p, order=o, progress=progress,
                 can_cancel=can_cancel, patient_results=patient_results,
                 users={k: u.username for k, u in users.items() if u is not None})
    ctx.commit()
    return out


@router.post("/orders/{order_id}/status")
def advance_order(order_id: RowId, ctx: Annotated[UiCtx, action(Perm.ORDERS_PROGRESS)],
                  status: Annotated[str, Form(max_length=32)],
                  note: Annotated[str, Form(max_length=2000)] = "",
                  result_id: Annotated[str, Form(max_length=20)] = "") -> Response:
    try:
        to = Status(status)
    except ValueError as e:
        raise ValidationFailedError(f"unknown order status {status!r}") from e
    if to is Status.CANCELLED:
        raise ValidationFailedError("cancel with the cancel form (a reason is recorded)")
    o = orders.get_order(ctx.session, order_id, for_update=True)
    ctx.about(o.patient_id)
    before = o.status
    rid = _form_row_id(result_id, "result")
    o = orders.transition(ctx.session, o, to, user_id=ctx.user.id, note=note.strip() or None,
                          require_signoff=ctx.settings.require_signoff,
                          result_id=rid)
    ctx.audit("order.status", o.patient_id, detail=f"order {o.id}: {before} -> {o.status}")
    ctx.commit()
    return _see_other(f"/ui/orders/{o.id}")


@router.post("/orders/{order_id}/cancel")
def cancel_order(order_id: RowId, ctx: Annotated[UiCtx, action(Perm.ORDERS_CANCEL)],
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    o = orders.get_order(ctx.session, order_id, for_update=True)
    ctx.about(o.patient_id)
    before = o.status
    o = orders.transition(ctx.session, o, Status.CANCELLED, user_id=ctx.user.id,
                          note=reason.strip() or None)
    ctx.audit("order.cancel", o.patient_id, detail=f"order {o.id}: {before} -> cancelled")
    ctx.commit()
    return _see_other(f"/ui/orders/{o.id}")


__all__ = ["router"]


# ---- users (administrators) --------------------------------------------------------------------

@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, ctx: Annotated[UiCtx, page(Perm.USERS_MANAGE)]) -> Response:
    """Every account, a form to add one, and per account: role, enabled, new password."""
    return render(request, "users.html", ctx, users=auth_service.list_users(ctx.session),
                  roles=[r.value for r in Role], min_password=MIN_PASSWORD_LENGTH)


@router.post("/users")
def create_user(ctx: Annotated[UiCtx, action(Perm.USERS_MANAGE)],
                username: Annotated[str, Form(max_length=64)] = "",
                password: Annotated[str, Form(max_length=1024)] = "",
                role: Annotated[str, Form(max_length=32)] = "") -> Response:
    """As POST /users: the same checks (username shape, password policy, known role)."""
    auth_service.check_username(username)
    ctx.end_transaction()  # argon2 runs with no transaction open
    pw_hash = auth_service.prepare_password(password, username)
    u = auth_service.create_user(ctx.session, username, password, role, password_hash=pw_hash)
    ctx.audit("user.create", None, detail=f"user {u.username} ({u.role})")
    ctx.commit()
    return _see_other("/ui/users")


@router.post("/users/{user_id}")
def update_user(user_id: RowId, ctx: Annotated[UiCtx, action(Perm.USERS_MANAGE)],
                role: Annotated[str, Form(max_length=32)] = "",
                active: Annotated[str, Form(max_length=5)] = "",
                password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    """As PATCH /users/{id}: change role, enable/disable (disabling revokes the tokens), set a
    new password (revokes the tokens). An administrator cannot disable or demote themself."""
    u = auth_service.get_user(ctx.session, user_id)
    pw_hash = None
    if password:
        name = u.username
        ctx.end_transaction()  # argon2 runs with no transaction open
        pw_hash = auth_service.prepare_password(password, name)
        u = auth_service.get_user(ctx.session, user_id)
    auth_service.update_user(ctx.session, u, role=role or None,
                             active=None if active == "" else active == "true",
                             acting_user_id=ctx.user.id, password_hash=pw_hash)
    changed = [x for x, v in (("role", role), ("active", active), ("password", password)) if v]
    ctx.audit("user.update", None, detail=f"user {u.username}: {', '.join(changed) or 'nothing'}")
    ctx.commit()
    return _see_other("/ui/users")
