"""`create_app(settings)`: the FastAPI application of the clinical service.

Start-up: check the settings (refusing unsafe production defaults), open the database, run
`alembic upgrade head`, create the bootstrap admin if configured. Every route except the public
ones (`PUBLIC_ROUTES`) declares one permission through `deps.require`; errors are uniform JSON
`{"error", "hint"}` (a FHIR OperationOutcome under /fhir); only `PgxError` messages reach the
client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pgxguard import __version__
from pgxguard.errors import PgxError
from pgxguard.kb.model import KnowledgeBase
from pgxguard.service.audit import service as audit_service
from pgxguard.service.audit.router import router as audit_router
from pgxguard.service.auth import service as auth_service
from pgxguard.service.auth.permissions import PATIENT_DATA
from pgxguard.service.auth.router import router as auth_router
from pgxguard.service.cdshooks.router import router as cds_router
from pgxguard.service.db import check_database, make_engine, migrate, session_factory
from pgxguard.service.deps import route_of
from pgxguard.service.errors import TooManyAttemptsError, error_body, pgx_error_body, status_for
from pgxguard.service.fhir.outcome import error_response as fhir_error_response
from pgxguard.service.fhir.outcome import is_fhir_path
from pgxguard.service.fhir.router import router as fhir_router
from pgxguard.service.ids import MAX_ROW_ID
from pgxguard.service.limits import BodySizeLimit
from pgxguard.service.orders.router import router as orders_router
from pgxguard.service.patients.router import router as patients_router
from pgxguard.service.results.router import router as results_router
from pgxguard.service.reviews.router import router as reviews_router
from pgxguard.service.settings import Settings
from pgxguard.service.stats.router import router as stats_router
from pgxguard.service.transport import CdsCors, SecurityHeaders
from pgxguard.service.web.render import error_response as ui_error_response
from pgxguard.service.web.render import is_ui
from pgxguard.service.web.router import router as web_router

log = logging.getLogger("pgxguard.service")

# Routes reachable without a token. Every other route must declare a permission (tested).
PUBLIC_ROUTES = frozenset({"/health", "/auth/token", "/openapi.json", "/docs",
                           "/docs/oauth2-redirect", "/redoc", "/fhir/metadata",
                           "/cds-services", "/ui/login", "/ui/static"})

ROUTERS = (auth_router, patients_router, results_router, orders_router, reviews_router,
           audit_router, stats_router, fhir_router, cds_router)
# The web UI (`/ui`, HTML): same permissions through cookie sessions (`web.session`); kept out
# of ROUTERS because the bearer-token role x route tests expect JSON (tests/test_service_web.py
# has the UI's own role x page tests).
UI_ROUTERS = (web_router,)
UI_STATIC = "/ui/static"


def _default_kb() -> KnowledgeBase:
    from pgxguard.kb.load import load_knowledge_base

    return load_knowledge_base()


def create_app(settings: Settings | None = None, *,
               kb_provider: Callable[[], KnowledgeBase] | None = None) -> FastAPI:
    settings = (settings or Settings.from_env()).check()
    engine = make_engine(settings)
    if settings.run_migrations:
        migrate(engine, settings.db_schema)
    sessions = session_factory(engine)
    if settings.admin_user and settings.admin_password:
        with sessions() as s:
            _, created = auth_service.ensure_admin(s, settings.admin_user,
                                                   settings.admin_password)
            s.commit()
            if created:
                log.info("created admin user %s", settings.admin_user)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        engine.dispose()

    docs = settings.docs_enabled  # off in production: Swagger UI loads its code from a CDN
    app = FastAPI(title="pgxguard clinical service", version=__version__, lifespan=lifespan,
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  description="PGx results, test orders and medication reviews. Sign in with "
                              "POST /auth/token and send `Authorization: Bearer <token>`.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.kb_provider = kb_provider or _default_kb
    app.add_middleware(BodySizeLimit, max_upload_bytes=settings.max_upload_bytes,
                       max_json_bytes=settings.max_json_bytes)
    app.add_middleware(SecurityHeaders, production=settings.production)
    # Outside the security headers: CORS answers preflights itself (CDS Hooks paths only).
    app.add_middleware(CdsCors, origins=settings.cors_origins)  # type: ignore[arg-type]
    if settings.trusted_proxies:
        # Outermost: the client address and scheme come from a trusted proxy's X-Forwarded-*
        # headers before anything (throttle, audit, Secure-cookie check) reads them.
        app.add_middleware(ProxyHeadersMiddleware,  # type: ignore[arg-type]
                           trusted_hosts=list(settings.trusted_proxies))
    _install_error_handlers(app)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and database check (public)."""
        check_database(engine)
        return {"status": "ok", "version": __version__, "database": engine.dialect.name}

    for r in ROUTERS:
        app.include_router(r)
    for r in UI_ROUTERS:
        app.include_router(r)
    app.mount(UI_STATIC, StaticFiles(packages=[("pgxguard.service.web", "static")]),
              name="ui-static")
    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (`pgxguard serve --workers N`): settings from env."""
    return create_app(Settings.from_env())


def _audit_failure(request: Request, status: int, message: str) -> None:
    # Blocking database work: the async handlers run it in the thread pool. On the event loop
    # it deadlocked on SQLite (waiting for the write lock of a request whose session can only
    # be closed by the blocked loop) until the 30 s busy timeout: found by schemathesis.
    # Every refusal (401/403) of a route that needs a permission; every failure of one that
    # touches patient data.
    perm = getattr(request.state, "pgx_permission", None)
    if perm is None or (perm not in PATIENT_DATA and status not in (401, 403)):
        return
    user_id, username = getattr(request.state, "pgx_user", (None, None))
    patient_id = getattr(request.state, "pgx_patient_id", None)
    if patient_id is None:
        raw = request.path_params.get("patient_id")
        # only an id the column can hold (an over-long one failed the audit insert itself)
        digits = str(raw) if isinstance(raw, str | int) else ""
        patient_id = (int(digits) if digits.isascii() and digits.isdigit() and len(digits) <= 10
                      and int(digits) <= MAX_ROW_ID else None)
    outcome = "denied" if status in (401, 403) else f"error {status}"
    try:
        audit_service.record_failure(request.app.state.sessions, action=perm.value,
                                     method=request.method, route=route_of(request),
                                     outcome=outcome, user_id=user_id, username=username,
                                     patient_id=patient_id, detail=message[:1000])
    except Exception:  # the refusal stands even if the audit store is down; log it loudly
        log.exception("could not record the audit event of a refused request")


def _error_response(request: Request, body: dict[str, Any], status: int,
                    headers: Mapping[str, str] | None = None) -> Response:
    """The uniform `{"error", "hint"}` body, or the same as an OperationOutcome under /fhir."""
    if is_fhir_path(request.url.path):
        return fhir_error_response(body, status, headers)
    if is_ui(request):  # HTML page; not signed in -> redirect to /ui/login
        return ui_error_response(request, status, body["error"], body.get("hint"))
    return JSONResponse(body, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PgxError)
    async def pgx_error(request: Request, exc: PgxError) -> Response:
        status = status_for(exc)
        body = pgx_error_body(exc)
        await run_in_threadpool(_audit_failure, request, status, body["error"])
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        if isinstance(exc, TooManyAttemptsError):
            headers = {"Retry-After": str(exc.retry_after)}
        return _error_response(request, body, status, headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors()[:10]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else
                         str(err.get("msg", "invalid")))
        message = "invalid request: " + "; ".join(parts)
        await run_in_threadpool(_audit_failure, request, 422, message)
        return _error_response(request, error_body(
            message, "see /openapi.json for the expected shape"), 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "error"
        hint = "see /openapi.json for the routes" if exc.status_code in (404, 405) else None
        return _error_response(request, error_body(message, hint), exc.status_code,
                               getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        await run_in_threadpool(_audit_failure, request, 500,
                                f"internal error: {type(exc).__name__}")
        return _error_response(request, error_body(
            "internal server error", "the error was logged; nothing was stored by this "
            "request"), 500)


__all__ = ["PUBLIC_ROUTES", "ROUTERS", "UI_ROUTERS", "create_app"]
