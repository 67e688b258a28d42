"""Service errors: all are `PgxError`s with an HTTP status; the API maps only these to HTTP.

The classes live in `pgxguard.errors` (one tree) and are re-exported here.

Every error response has the same JSON shape: `{"error": message, "hint": hint-or-null}`.
"""

from __future__ import annotations

from typing import Any

from pgxguard.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    PgxError,
    ServiceError,
    TooManyAttemptsError,
    ValidationFailedError,
    WorkCancelled,
)

# nginx's "client closed request": nobody reads the response, but the audit row says why.
CLIENT_CLOSED_REQUEST = WorkCancelled.status_code


def status_for(e: PgxError) -> int:
    """HTTP status of a `PgxError`: its class's `status_code` (see the tree in pgxguard.errors:
    422 for bad input, 499 for work stopped because the client left, 500 for the server's own
    faults such as the knowledge base, the service's own statuses, else 400)."""
    return e.status_code


def error_body(message: str, hint: str | None = None) -> dict[str, Any]:
    return {"error": message, "hint": hint}


def pgx_error_body(e: PgxError) -> dict[str, Any]:
    where = ""
    if e.path:
        where = e.path + (f", line {e.line}" if e.line is not None else "") + ": "
    return error_body(where + e.detail, e.hint)


__all__ = ["AuthenticationError", "ConflictError", "NotFoundError", "PayloadTooLargeError",
           "PermissionDeniedError", "ServiceError", "TooManyAttemptsError", "ValidationFailedError",
           "error_body",
           "pgx_error_body", "status_for"]
