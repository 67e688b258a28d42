"""`create_app(settings)`: the FastAPI application of the clinical service.

Start-up: check the settings (refusing unsafe production defaults), open the database, run
`alembic upgrade head`, create the bootstrap admin if configured. Every route except the public
ones (`PUBLIC_ROUTES`) declares one permission through `deps.require`; errors are uniform JSON
`{"error", "hint"}`; only `PgxError` messages reach the client.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from pgxguard import __version__
from pgxguard.errors import PgxError
from pgxguard.kb.model import KnowledgeBase
from pgxguard.service.audit import service as audit_service
from pgxguard.service.audit.router import router as audit_router
from pgxguard.service.auth import service as auth_service
from pgxguard.service.auth.permissions import PATIENT_DATA
from pgxguard.service.auth.router import router as auth_router
from pgxguard.service.db import check_database, make_engine, migrate, session_factory
from pgxguard.service.deps import route_of
from pgxguard.service.errors import error_body, pgx_error_body, status_for
from pgxguard.service.limits import BodySizeLimit
from pgxguard.service.orders.router import router as orders_router
from pgxguard.service.patients.router import router as patients_router
from pgxguard.service.results.router import router as results_router
from pgxguard.service.reviews.router import router as reviews_router
from pgxguard.service.settings import Settings
from pgxguard.service.stats.router import router as stats_router

log = logging.getLogger("pgxguard.service")

# Routes reachable without a token. Every other route must declare a permission (tested).
PUBLIC_ROUTES = frozenset({"/health", "/auth/token", "/openapi.json", "/docs",
                           "/docs/oauth2-redirect", "/redoc"})

ROUTERS = (auth_router, patients_router, results_router, orders_router, reviews_router,
           audit_router, stats_router)


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

    app = FastAPI(title="pgxguard clinical service", version=__version__, lifespan=lifespan,
                  description="PGx results, test orders and medication reviews. Sign in with "
                              "POST /auth/token and send `Authorization: Bearer <token>`.")
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.kb_provider = kb_provider or _default_kb
    app.add_middleware(BodySizeLimit, max_upload_bytes=settings.max_upload_bytes,
                       max_json_bytes=settings.max_json_bytes)
    _install_error_handlers(app)

    @app.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and database check (public)."""
        check_database(engine)
        return {"status": "ok", "version": __version__, "database": engine.dialect.name}

    for r in ROUTERS:
        app.include_router(r)
    return app


def _audit_failure(request: Request, status: int, message: str) -> None:
    perm = getattr(request.state, "pgx_permission", None)
    if perm is None or perm not in PATIENT_DATA:
        return
    user_id, username = getattr(request.state, "pgx_user", (None, None))
    patient_id = getattr(request.state, "pgx_patient_id", None)
    if patient_id is None:
        raw = request.path_params.get("patient_id")
        patient_id = int(raw) if isinstance(raw, str | int) and str(raw).isdigit() else None
    outcome = "denied" if status in (401, 403) else f"error {status}"
    try:
        audit_service.record_failure(request.app.state.sessions, action=perm.value,
                                     method=request.method, route=route_of(request),
                                     outcome=outcome, user_id=user_id, username=username,
                                     patient_id=patient_id, detail=message[:1000])
    except Exception:  # the refusal stands even if the audit store is down; log it loudly
        log.exception("could not record the audit event of a refused request")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PgxError)
    async def pgx_error(request: Request, exc: PgxError) -> JSONResponse:
        status = status_for(exc)
        body = pgx_error_body(exc)
        _audit_failure(request, status, body["error"])
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(body, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:10]:
            loc = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            parts.append(f"{loc}: {err.get('msg', 'invalid')}" if loc else
                         str(err.get("msg", "invalid")))
        message = "invalid request: " + "; ".join(parts)
        _audit_failure(request, 422, message)
        return JSONResponse(error_body(message, "see /openapi.json for the expected shape"),
                            status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail) if exc.detail else "error"
        hint = "see /openapi.json for the routes" if exc.status_code in (404, 405) else None
        return JSONResponse(error_body(message, hint), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        _audit_failure(request, 500, f"internal error: {type(exc).__name__}")
        return JSONResponse(error_body("internal server error", "the error was logged; nothing "
                                       "was stored by this request"), status_code=500)


__all__ = ["PUBLIC_ROUTES", "ROUTERS", "create_app"]
