"""FHIR responses: `application/fhir+json` and errors as `OperationOutcome`.

The rest of the service answers errors with `{"error", "hint"}`; a FHIR client expects an
OperationOutcome, so the app's error handlers call `error_response` for paths under `/fhir`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

FHIR_PREFIX = "/fhir"
FHIR_JSON = "application/fhir+json"

# HTTP status -> OperationOutcome issue.code (http://hl7.org/fhir/issue-type).
_ISSUE_CODE = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found",
               405: "not-supported", 409: "conflict", 413: "too-long", 422: "processing"}


class FhirResponse(JSONResponse):
    media_type = FHIR_JSON


def is_fhir_path(path: str) -> bool:
    return path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/")


def operation_outcome(message: str, hint: str | None, status: int,
                      severity: str = "error") -> dict[str, Any]:
    """One-issue OperationOutcome: `details.text` is the message, `diagnostics` the hint."""
    issue: dict[str, Any] = {"severity": severity,
                             "code": _ISSUE_CODE.get(status, "exception"),
                             "details": {"text": message}}
    if hint:
        issue["diagnostics"] = hint
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def error_response(body: Mapping[str, Any], status: int,
                   headers: Mapping[str, str] | None = None) -> FhirResponse:
    """The service's `{"error", "hint"}` body as an OperationOutcome with the same status."""
    return FhirResponse(operation_outcome(str(body.get("error") or "error"), body.get("hint"),
                                          status), status_code=status, headers=headers)


__all__ = ["FHIR_JSON", "FHIR_PREFIX", "FhirResponse", "error_response", "is_fhir_path",
           "operation_outcome"]
