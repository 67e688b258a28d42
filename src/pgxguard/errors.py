"""One exception tree: the CLI maps only `PgxError` to exit codes, the service only to HTTP.

Every error pgxguard raises on purpose is defined here, so this map is complete (a test walks
`PgxError.__subclasses__()` after importing every module and checks it against this tree):

    class                          code        exit  HTTP
    PgxError                       error          1   400  anything else raised on purpose
    ├── InputError                 input          2   422  the user's input cannot be used
    │   ├── VcfError               vcf            2   422
    │   ├── OutsideCallError       outside_call   2   422
    │   │   └── CallerFormatError  caller_format  2   422  (io.callers.FormatError)
    │   ├── SampleError            sample         2   422
    │   ├── UnknownMedicineError   medicine       2   422
    │   └── TimeBudgetError        time_budget    2   422  (budget)
    ├── KnowledgeBaseError         knowledge_base 3   500  a server-side fault, not the request's
    ├── SettingsError              settings       4   500  (service.settings)
    ├── AuditTrailBroken           audit_broken   5   500  (service.cli)
    ├── CohortError                cohort         1   500  (cohort.runner)
    ├── WorkCancelled              cancelled      1   499  (budget; nobody reads the response)
    └── ServiceError               service        1   400  (service.errors)
        ├── BadSearchError         bad_search     1   400  (service.fhir.service)
        ├── AuthenticationError    unauthenticated 1  401
        ├── PermissionDeniedError  forbidden      1   403
        ├── NotFoundError          not_found      1   404
        ├── ConflictError          conflict       1   409
        ├── PayloadTooLargeError   too_large      1   413
        ├── ValidationFailedError  invalid        1   422
        └── TooManyAttemptsError   too_many_attempts 1 429

`code` is stable: scripts and API
clients may match on it (the message wording may change). The modules named in brackets
re-export their classes, so `from pgxguard.service.errors import NotFoundError` keeps working.
"""

from __future__ import annotations


class PgxError(Exception):
    """Root of every error pgxguard raises on purpose.

    The message always says what went wrong, where (file and line when known) and how to fix it.
    """

    code = "error"
    exit_code = 1
    status_code = 400  # HTTP status when the service answers with this error

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None,
                 hint: str | None = None) -> None:
        self.path = path
        self.line = line
        self.hint = hint
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path:
            where = f"{self.path}"
            if self.line is not None:
                where += f", line {self.line}"
            where += ": "
        text = f"{where}{self.detail}"
        if self.hint:
            text += f" ({self.hint})"
        return text


# --- the user's input --------------------------------------------------------------------------


class InputError(PgxError):
    """The user's input (VCF, TSV, JSON, options) cannot be used as given."""

    code = "input"
    exit_code = 2
    status_code = 422


class VcfError(InputError):
    """A VCF/BCF file is malformed, truncated, of an unknown build or lacks what was asked for."""

    code = "vcf"


class OutsideCallError(InputError):
    """A row of an outside-call TSV cannot be used."""

    code = "outside_call"


class CallerFormatError(OutsideCallError):
    """An outside-call file is not in the format named, or in none pgxguard reads."""

    code = "caller_format"


class SampleError(InputError):
    """A requested sample is absent, or sample names are duplicated."""

    code = "sample"


class UnknownMedicineError(InputError):
    """A medicine name, code or free text that pgxguard cannot resolve."""

    code = "medicine"


class TimeBudgetError(InputError):
    """The work took longer than its time budget and was stopped."""

    code = "time_budget"


# --- the installation, configuration and runs ---------------------------------------------------


class KnowledgeBaseError(PgxError):
    """The knowledge-base snapshot or a definition file is missing, corrupt or inconsistent.

    In the service this is the server's fault (500), never the request's.
    """

    code = "knowledge_base"
    exit_code = 3
    status_code = 500


class SettingsError(PgxError):
    """The service configuration is unsafe or invalid; the service refuses to start."""

    code = "settings"
    exit_code = 4
    status_code = 500


class AuditTrailBroken(PgxError):
    """`pgxguard audit verify` found a break in the audit trail's hash chain."""

    code = "audit_broken"
    exit_code = 5
    status_code = 500


class CohortError(PgxError):
    """A cohort run that could not finish every partition (rerun to resume)."""

    code = "cohort"
    status_code = 500


class WorkCancelled(PgxError):
    """The work was stopped because nobody waits for it any more (the client disconnected)."""

    code = "cancelled"
    status_code = 499  # nginx's "client closed request": the audit row says why


# --- requests the service refuses --------------------------------------------------------------


class ServiceError(PgxError):
    """A request the service refuses; `status_code` is the HTTP status."""

    code = "service"


class BadSearchError(ServiceError):
    """A search parameter the server cannot use (FHIR answers 400)."""

    code = "bad_search"


class AuthenticationError(ServiceError):
    """No valid credentials: sign in again."""

    code = "unauthenticated"
    status_code = 401


class PermissionDeniedError(ServiceError):
    """The signed-in user's role may not do this."""

    code = "forbidden"
    status_code = 403


class NotFoundError(ServiceError):
    """The record named does not exist."""

    code = "not_found"
    status_code = 404


class ConflictError(ServiceError):
    """The request conflicts with the record's current state."""

    code = "conflict"
    status_code = 409


class PayloadTooLargeError(ServiceError):
    """An upload or body over the configured limit."""

    code = "too_large"
    status_code = 413


class ValidationFailedError(ServiceError):
    """A request whose content the service cannot accept."""

    code = "invalid"
    status_code = 422


class TooManyAttemptsError(ServiceError):
    """Sign-in refused for a while after repeated failures; `retry_after` is in seconds."""

    code = "too_many_attempts"
    status_code = 429

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, hint=hint)


__all__ = [
    "AuditTrailBroken",
    "AuthenticationError",
    "BadSearchError",
    "CallerFormatError",
    "CohortError",
    "ConflictError",
    "InputError",
    "KnowledgeBaseError",
    "NotFoundError",
    "OutsideCallError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PgxError",
    "SampleError",
    "ServiceError",
    "SettingsError",
    "TimeBudgetError",
    "TooManyAttemptsError",
    "UnknownMedicineError",
    "ValidationFailedError",
    "VcfError",
    "WorkCancelled",
]
