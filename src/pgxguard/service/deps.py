"""Request dependencies shared by every router: the DB session and the permission check.

Every route that is not explicitly public declares exactly one permission::

    @router.get("/patients/{patient_id}")
    def read(patient_id: int, ctx: Annotated[Ctx, require(Perm.PATIENTS_READ)]) -> ...:
        p = service.get(ctx.session, patient_id)
        ctx.audit("patient.read", p.id)   # patient data: audited in the same transaction
        ctx.commit()                      # committed before the response is sent
        return ...

`require` authenticates the bearer token, checks the role table and returns a `Ctx`. The CDS
Hooks services (`require(..., cds_jwt=True)`) also take an EHR's signed JWT (auth/cds_jwt.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio.from_thread
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from pgxguard.budget import Budget
from pgxguard.kb.model import KnowledgeBase
from pgxguard.service.audit import service as audit_service
from pgxguard.service.auth import service as auth_service
from pgxguard.service.auth.cds_jwt import KeySource, looks_like_jwt, remember, verify
from pgxguard.service.auth.permissions import Perm, allowed
from pgxguard.service.db import READ_FIRST
from pgxguard.service.errors import AuthenticationError, PermissionDeniedError
from pgxguard.service.models import ApiToken, User
from pgxguard.service.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="API token from POST /auth/token")


def get_session(request: Request) -> Iterator[Session]:
    session: Session = request.app.state.sessions()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: Request) -> str:
    """The client's address: the peer, or what a trusted proxy says (`trusted_proxies`; the
    app's proxy-headers middleware has already rewritten the peer then)."""
    return request.client.host if request.client else "unknown"


def route_of(request: Request) -> str:
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else request.url.path


@dataclass
class Ctx:
    """What a route handler gets: the signed-in user, a session, the permission it used."""

    request: Request
    session: Session
    user: User
    token: ApiToken | None  # None: a CDS client's signed JWT (`client` says whose)
    permission: Perm
    read_first: bool = False  # reading in a deferred transaction; ends before the first write
    client: str | None = None  # the verified CDS client JWT (issuer, subject, jti)

    @property
    def api_token(self) -> ApiToken:
        """The API token of this request (routes that manage it accept nothing else)."""
        if self.token is None:
            raise AuthenticationError("this request was not made with an API token",
                                      hint="get a token from POST /auth/token")
        return self.token

    @property
    def settings(self) -> Settings:
        return get_settings(self.request)

    @property
    def route(self) -> str:
        return route_of(self.request)

    def about(self, patient_id: int | None) -> None:
        """Name the patient this request concerns, so a later failure is audited against it."""
        self.request.state.pgx_patient_id = patient_id

    def audit(self, action: str, patient_id: int | None, detail: str | None = None,
              outcome: str = "ok") -> None:
        """Record this access in the request's transaction (commit with `commit()`)."""
        self.request.state.pgx_patient_id = patient_id
        if self.client:
            detail = f"{self.client}; {detail}" if detail else self.client
        if self.read_first:
            # End the read snapshot: the audit insert opens a short BEGIN IMMEDIATE transaction
            # (upgrading a WAL read snapshot to a write can fail when another writer committed).
            self.end_transaction()
            self.read_first = False
        audit_service.record(self.session, action=action, method=self.request.method,
                             route=self.route, outcome=outcome, user_id=self.user.id,
                             username=self.user.username, patient_id=patient_id,
                             detail=detail)

    def commit(self) -> None:
        self.session.commit()

    def end_transaction(self) -> None:
        """End the current (read-only so far) transaction before slow work such as calling, so
        no database lock is held meanwhile (SQLite transactions take the write lock)."""
        if self.session.new or self.session.dirty or self.session.deleted:
            raise RuntimeError("end_transaction() with pending writes; commit them first")
        self.session.commit()

    def knowledge_base(self) -> KnowledgeBase:
        """The current allele knowledge base (`create_app(kb_provider=...)`)."""
        kb: KnowledgeBase = self.request.app.state.kb_provider()
        return kb

    def work_budget(self, what: str) -> Budget:
        """A budget of `interpret_seconds` for slow work (calling), which also ends when the
        client disconnects: use as `with budget.within(ctx.work_budget(...)):`."""
        return Budget(self.settings.interpret_seconds, cancelled=self.client_gone, what=what)

    def client_gone(self) -> bool:
        """Whether the HTTP client has disconnected (asked of the event loop from the
        handler's worker thread; False when not running in one)."""
        try:
            return bool(anyio.from_thread.run(self.request.is_disconnected))
        except RuntimeError:
            return False


def _jwt_keys(request: Request, where: str) -> KeySource:
    """The app's JWK Set source (kept between calls: it caches the keys)."""
    state = request.app.state
    keys: KeySource | None = getattr(state, "pgx_cds_jwks", None)
    if keys is None or keys.where != where:
        keys = state.pgx_cds_jwks = KeySource(where)
    return keys


def service_url(request: Request, settings: Settings) -> str:
    """The URL of the endpoint called, as a CDS client's JWT must name it in `aud`: the public
    base URL (else the request's own) and the path."""
    base = settings.public_base_url or str(request.base_url)
    return base.rstrip("/") + request.url.path


def _cds_client(request: Request, session: Session, token: str) -> tuple[User, str]:
    """(the service account, who called) for a CDS client's signed JWT."""
    settings = get_settings(request)
    if not settings.cds_jwt_issuers or not settings.cds_jwks or not settings.cds_jwt_user:
        raise AuthenticationError(
            "signed JWTs are not accepted here: CDS client JWT authentication is not "
            "configured", hint="set PGXGUARD_CDS_JWT_ISSUERS, PGXGUARD_CDS_JWKS and "
                               "PGXGUARD_CDS_JWT_USER, or send a pgxguard API token")
    client = verify(token, keys=_jwt_keys(request, settings.cds_jwks),
                            issuers=settings.cds_jwt_issuers,
                            audience=service_url(request, settings), jwks=settings.cds_jwks)
    remember(request.app.state.sessions, client)
    user = session.scalar(select(User).where(User.username == settings.cds_jwt_user))
    if user is None or not user.active:
        raise AuthenticationError(f"the CDS service account {settings.cds_jwt_user!r} does "
                                  "not exist or is disabled",
                                  hint="create it (role prescriber) or fix "
                                       "PGXGUARD_CDS_JWT_USER")
    return user, client.describe()


def require(permission: Perm, *, read_first: bool = False, cds_jwt: bool = False) -> Any:
    """Dependency: a valid bearer token whose user's role grants `permission`; with
    `cds_jwt=True` also a CDS client's signed JWT, acting as the configured service account.

    `read_first=True` is for routes that only read before auditing (CDS Hooks; every GET route
    gets it too): on SQLite their reads run in a deferred transaction, so concurrent requests do
    not queue on the write lock for the whole request (`Ctx.audit` ends it before writing).
    """

    def check(request: Request, session: Session = Depends(get_session),  # noqa: B008
              creds: HTTPAuthorizationCredentials | None = Depends(_bearer),  # noqa: B008
              ) -> Ctx:
        request.state.pgx_permission = permission
        reading = read_first or request.method in ("GET", "HEAD")
        if reading:
            session.connection(execution_options={READ_FIRST: True})
        if creds is None or creds.scheme.lower() != "bearer":
            raise AuthenticationError("not signed in: send 'Authorization: Bearer <token>'",
                                      hint="get a token from POST /auth/token")
        client: str | None = None
        token: ApiToken | None = None
        if cds_jwt and looks_like_jwt(creds.credentials):
            user, client = _cds_client(request, session, creds.credentials)
        else:
            user, token = auth_service.resolve_token(session, get_settings(request).secret,
                                                     creds.credentials)
        request.state.pgx_user = (user.id, user.username)
        if not allowed(user.role, permission):
            raise PermissionDeniedError(
                f"role {user.role!r} may not {permission.value}",
                hint="ask an administrator if your role should allow this")
        return Ctx(request=request, session=session, user=user, token=token,
                   permission=permission, read_first=reading, client=client)

    check.pgx_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


__all__ = ["Ctx", "client_address", "get_session", "get_settings", "require", "route_of",
           "service_url"]
