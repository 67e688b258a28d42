"""Jinja2 rendering of the UI pages (autoescaped) and the HTML form of service errors.

Every UI response carries a strict Content-Security-Policy (scripts and styles only from
`/ui/static`), `no-store` caching (pages hold patient data) and framing is refused.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import quote

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pgxguard import __version__
from pgxguard.guidance.model import Action
from pgxguard.report.view import ACTION_SLUG, phenotype_text, source_label
from pgxguard.service.auth.permissions import Perm
from pgxguard.service.web.session import UiCtx, clear_session_cookie

UI_PREFIX = "/ui"
PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
# The clinician report is self-contained (inline CSS, no script).
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "form-action 'none'; base-uri 'none'; frame-ancestors 'none'")


def security_headers(csp: str = PAGE_CSP) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store"}


def _action_slug(action: str) -> str:
    try:
        return ACTION_SLUG[Action(action)]
    except ValueError:
        return "none"


@lru_cache(maxsize=1)
def env() -> jinja2.Environment:
    e = jinja2.Environment(
        loader=jinja2.PackageLoader("pgxguard.service.web", "templates"),
        autoescape=True,  # every template: names, allele names and guideline text hold '<'
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    e.globals.update(Perm=Perm, action_slug=_action_slug, source_label=source_label,
                     phenotype_text=phenotype_text, app_version=__version__,
                     status_label=lambda s: str(s).replace("_", " "))
    return e


def is_ui(request: Request) -> bool:
    path = request.url.path
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def render(request: Request, template: str, ctx: UiCtx | None, *, status: int = 200,
           **data: Any) -> HTMLResponse:
    context: dict[str, Any] = {
        "user": ctx.user if ctx else None,
        "can": ctx.can if ctx else (lambda _p: False),
        "csrf": ctx.csrf if ctx else "",
        "path": request.url.path,
        **data,
    }
    html = env().get_template(template).render(context)
    return HTMLResponse(html, status_code=status, headers=security_headers())


def error_response(request: Request, status: int, message: str,
                   hint: str | None) -> Response:
    """A service error on a `/ui` path: not signed in -> the login page; else an HTML page."""
    settings = request.app.state.settings
    if status == 401:
        target = request.url.path if request.method == "GET" else UI_PREFIX
        if request.method == "GET" and request.url.query:
            target += "?" + request.url.query
        resp = RedirectResponse(f"{UI_PREFIX}/login?next={quote(target, safe='')}",
                                status_code=303, headers=security_headers())
        clear_session_cookie(resp, settings)
        return resp
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict", 413: "Too large",
              422: "Cannot use this input"}
    html = env().get_template("error.html").render(
        user=None, can=lambda _p: False, csrf="", path=request.url.path, status=status,
        title=titles.get(status, "Error"), message=message, hint=hint)
    return HTMLResponse(html, status_code=status, headers=security_headers())


__all__ = ["REPORT_CSP", "error_response", "is_htmx", "is_ui", "render", "security_headers"]
