"""Browser sessions for the web UI: an API token in an HttpOnly cookie, CSRF tokens, and the
`page(Perm)` / `action(Perm)` dependencies.

The cookie holds an ordinary API token (issued and resolved by `auth.service`), so revocation,
expiry and disabling a user work exactly as for the API, and the same `ROLE_PERMISSIONS` table
decides. The dependencies raise the API's own `AuthenticationError` / `PermissionDeniedError`:
the app's error handlers audit refusals identically and render them as HTML for `/ui` paths.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Request, Response
from sqlalchemy.orm import Session

from pgxguard.service.auth import service as auth_service
from pgxguard.service.auth.permissions import Perm, allowed
from pgxguard.service.deps import Ctx, get_session, get_settings
from pgxguard.service.errors import AuthenticationError, PermissionDeniedError
from pgxguard.service.settings import Settings

COOKIE = "pgx_session"
LOGIN_CSRF_COOKIE = "pgx_login_csrf"
CSRF_FIELD = "csrf_token"
COOKIE_PATH = "/ui"


def csrf_for(secret: str, token: str) -> str:
    """The CSRF token of a session: an HMAC of the session token under the service secret, so
    it needs no storage and dies with the session."""
    return hmac.new(secret.encode(), b"pgxguard-ui-csrf:" + token.encode(),
                    hashlib.sha256).hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


def set_session_cookie(response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(COOKIE, token, max_age=settings.token_ttl_hours * 3600,
                        path=COOKIE_PATH, httponly=True, samesite="strict",
                        secure=settings.production)


def clear_session_cookie(response: Response, settings: Settings) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
                           secure=settings.production)


@dataclass
class UiCtx(Ctx):
    """`Ctx` plus the CSRF token every form of the page must carry."""

    csrf: str = ""

    def can(self, perm: Perm) -> bool:
        return allowed(self.user.role, perm)


def _resolve(request: Request, session: Session, permission: Perm) -> UiCtx:
    request.state.pgx_permission = permission
    token = request.cookies.get(COOKIE)
    if not token:
        raise AuthenticationError("not signed in", hint="sign in at /ui/login")
    settings = get_settings(request)
    user, row = auth_service.resolve_token(session, settings.secret, token)
    request.state.pgx_user = (user.id, user.username)
    if not allowed(user.role, permission):
        raise PermissionDeniedError(f"role {user.role!r} may not {permission.value}",
                                    hint="ask an administrator if your role should allow this")
    return UiCtx(request=request, session=session, user=user, token=row,
                 permission=permission, csrf=csrf_for(settings.secret, token))


def page(permission: Perm) -> Any:
    """Dependency of a GET page: a signed-in user whose role grants `permission`."""

    def check(request: Request,
              session: Annotated[Session, Depends(get_session)]) -> UiCtx:
        return _resolve(request, session, permission)

    check.pgx_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def action(permission: Perm) -> Any:
    """Dependency of a POST form: as `page`, plus a valid CSRF token in the form."""

    def check(request: Request, session: Annotated[Session, Depends(get_session)],
              csrf_token: Annotated[str, Form(max_length=200)] = "") -> UiCtx:
        ctx = _resolve(request, session, permission)
        if not hmac.compare_digest(csrf_token.encode(), ctx.csrf.encode()):
            raise PermissionDeniedError("missing or invalid CSRF token",
                                        hint="reload the page and submit the form again")
        return ctx

    check.pgx_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


__all__ = ["COOKIE", "CSRF_FIELD", "LOGIN_CSRF_COOKIE", "UiCtx", "action",
           "clear_session_cookie", "csrf_for", "new_login_csrf", "page", "set_session_cookie"]
