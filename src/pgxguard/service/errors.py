"""Service errors: all are `PgxError`s with an HTTP status; the API maps only these to HTTP.

Every error response has the same JSON shape: `{"error": message, "hint": hint-or-null}`.
"""

from __future__ import annotations

from typing import Any

from pgxguard.budget import WorkCancelled
from pgxguard.errors import InputError, PgxError


class ServiceError(PgxError):
    """A request the service refuses; `status_code` is the HTTP status."""

    status_code = 400


class NotFoundError(ServiceError):
    status_code = 404


class ConflictError(ServiceError):
    status_code = 409


class AuthenticationError(ServiceError):
    status_code = 401


class PermissionDeniedError(ServiceError):
    status_code = 403


class PayloadTooLargeError(ServiceError):
    status_code = 413


class ValidationFailedError(ServiceError):
    status_code = 422


class TooManyAttemptsError(ServiceError):
    """Sign-in refused for a while after repeated failures; `retry_after` is in seconds."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, hint=hint)


# nginx's "client closed request": nobody reads the response, but the audit row says why.
CLIENT_CLOSED_REQUEST = 499


def status_for(e: PgxError) -> int:
    """HTTP status of a `PgxError`: its own for service errors, 422 for bad input, 499 for
    work stopped because the client left, else 400."""
    if isinstance(e, ServiceError):
        return e.status_code
    if isinstance(e, WorkCancelled):
        return CLIENT_CLOSED_REQUEST
    if isinstance(e, InputError):
        return 422
    return 400


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
