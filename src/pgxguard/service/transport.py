"""Transport protection: security headers on every response, access logs without patient
identifiers, and the checks `pgxguard serve` makes of where it listens.

- `SecurityHeaders` (pure ASGI): `X-Content-Type-Options: nosniff` and `Cache-Control:
  no-store` on every response (API, FHIR and CDS answers hold patient data; only the UI's
  static files may be cached), and `Strict-Transport-Security` in production.
- `RedactQuery` (a logging filter for uvicorn's access log): query strings carry NHS numbers
  and names (`?nhs_number=`, `?family_name=`, `?identifier=`, `/ui/patients?q=`): every value
  is replaced by `[redacted]` before the line is written.
- `listen_warning`: serving on a non-loopback address without TLS and without a trusted TLS
  proxy in front sends passwords and patient data in clear text.
- `CdsCors` (pure ASGI): CORS for the CDS Hooks endpoints only (`/cds-services...`), which
  browser-based CDS clients call across origins (CDS Hooks 2.0, "Cross-Origin Resource
  Sharing"). Preflights are always answered; only the configured origins
  (`PGXGUARD_CORS_ORIGINS`, none by default) are allowed, never `*`, without credentials
  (CDS clients send a bearer token, not cookies), as the OWASP HTML5 cheat sheet the
  specification refers to advises. The web UI (cookie sessions) and the REST API get no CORS.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HSTS = "max-age=31536000; includeSubDomains"
CORS_PREFIX = "/cds-services"
CORS_METHODS = ("GET", "POST")
CORS_HEADERS = ("Authorization", "Content-Type")
CORS_MAX_AGE = 600
CACHEABLE_PREFIX = "/ui/static/"


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(CACHEABLE_PREFIX)

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                names = {k.lower() for k, _ in headers}
                extra = [(b"x-content-type-options", b"nosniff")]
                if not cacheable:
                    extra.append((b"cache-control", b"no-store"))
                if self.production:
                    extra.append((b"strict-transport-security", HSTS.encode()))
                headers += [(k, v) for k, v in extra if k not in names]
                msg = {**msg, "headers": headers}
            await send(msg)

        await self.app(scope, receive, with_headers)


class CdsCors:
    """Starlette's CORS middleware, applied to the CDS Hooks paths only."""

    def __init__(self, app: ASGIApp, *, origins: tuple[str, ...]) -> None:
        from starlette.middleware.cors import CORSMiddleware

        self.app = app
        self.cors = CORSMiddleware(app, allow_origins=list(origins),  # type: ignore[arg-type]
                                   allow_methods=list(CORS_METHODS),
                                   allow_headers=list(CORS_HEADERS), allow_credentials=False,
                                   max_age=CORS_MAX_AGE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] == "http" and (path == CORS_PREFIX
                                        or path.startswith(CORS_PREFIX + "/")):
            await self.cors(scope, receive, send)  # type: ignore[arg-type]
        else:
            await self.app(scope, receive, send)


_QUERY_VALUE = re.compile(r"([?&][^=&#\s]*)=[^&#\s]*")


def redact_query(path: str) -> str:
    """`/patients?nhs_number=9434765919&limit=5` -> `/patients?nhs_number=[redacted]&...`."""
    if "?" not in path:
        return path
    return _QUERY_VALUE.sub(r"\1=[redacted]", path)


class RedactQuery(logging.Filter):
    """uvicorn.access records are `(client, method, path, http_version, status)`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with `RedactQuery` on the access log (a dict, so worker
    processes started by `--workers` apply it too)."""
    from uvicorn.config import LOGGING_CONFIG

    cfg = copy.deepcopy(LOGGING_CONFIG)
    cfg.setdefault("filters", {})["pgx_redact_query"] = {
        "()": "pgxguard.service.transport.RedactQuery"}
    cfg["handlers"]["access"]["filters"] = ["pgx_redact_query"]
    return cfg


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def listen_warning(host: str, *, tls: bool, trusted_proxies: tuple[str, ...]) -> str | None:
    """The warning `serve` prints for a listening address that exposes clear text."""
    if is_loopback(host) or tls:
        return None
    behind = (f" (PGXGUARD_TRUSTED_PROXIES={','.join(trusted_proxies)}: make sure only that "
              "TLS proxy can reach this port)") if trusted_proxies else ""
    return (f"serving on {host} without TLS{behind}: passwords, tokens and patient data cross "
            "the network in clear text. Put a TLS proxy in front (see docs/service.md, "
            "'Behind a TLS proxy') or pass --ssl-certfile/--ssl-keyfile")


__all__ = ["CORS_PREFIX", "HSTS", "CdsCors", "RedactQuery", "SecurityHeaders", "is_loopback",
           "listen_warning", "log_config", "redact_query"]
