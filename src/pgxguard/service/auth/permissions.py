"""Roles and permissions: THE table of who may do what. Every route names one permission.

To add a capability: add a `Perm`, grant it to roles in `ROLE_PERMISSIONS`, put it in
`PATIENT_DATA` when its routes read or write patient data (they are then audited, refusals
included), and declare it on the route with `ctx: Annotated[Ctx, require(Perm.X)]`.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    LAB_SCIENTIST = "lab_scientist"
    PRESCRIBER = "prescriber"  # pharmacist or GP
    ANALYST = "analyst"
    ADMIN = "admin"


class Perm(StrEnum):
    PATIENTS_READ = "patients:read"
    PATIENTS_WRITE = "patients:write"
    RESULTS_READ = "results:read"
    RESULTS_UPLOAD = "results:upload"
    RESULTS_REINTERPRET = "results:reinterpret"
    RESULTS_SIGNOFF = "results:signoff"  # authorise a result version for clinical use
    ORDERS_READ = "orders:read"
    ORDERS_CREATE = "orders:create"
    ORDERS_PROGRESS = "orders:progress"  # sample received -> in analysis -> reported
    ORDERS_CANCEL = "orders:cancel"
    REVIEWS_READ = "reviews:read"
    REVIEWS_CREATE = "reviews:create"
    CDS_INVOKE = "cds:invoke"  # an EHR calling the CDS Hooks services (reads patient data)
    DIRECTORY_READ = "directory:read"
    STATS_READ = "stats:read"  # aggregate counts, no patient-level data
    USERS_MANAGE = "users:manage"
    AUDIT_READ = "audit:read"
    SELF = "self"  # any signed-in user: own account, own tokens


P = Perm
ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.LAB_SCIENTIST: frozenset({
        P.PATIENTS_READ, P.PATIENTS_WRITE, P.RESULTS_READ, P.RESULTS_UPLOAD,
        P.RESULTS_REINTERPRET, P.RESULTS_SIGNOFF, P.ORDERS_READ, P.ORDERS_PROGRESS,
        P.ORDERS_CANCEL, P.DIRECTORY_READ, P.SELF}),
    Role.PRESCRIBER: frozenset({
        P.PATIENTS_READ, P.PATIENTS_WRITE, P.RESULTS_READ, P.ORDERS_READ, P.ORDERS_CREATE,
        P.ORDERS_CANCEL, P.REVIEWS_READ, P.REVIEWS_CREATE, P.CDS_INVOKE, P.DIRECTORY_READ,
        P.SELF}),
    Role.ANALYST: frozenset({P.STATS_READ, P.DIRECTORY_READ, P.SELF}),
    Role.ADMIN: frozenset({P.USERS_MANAGE, P.AUDIT_READ, P.STATS_READ, P.DIRECTORY_READ,
                           P.SELF}),
}

# Permissions whose routes touch patient data: every use (and every refusal) is audited.
PATIENT_DATA: frozenset[Perm] = frozenset({
    P.PATIENTS_READ, P.PATIENTS_WRITE, P.RESULTS_READ, P.RESULTS_UPLOAD, P.RESULTS_REINTERPRET,
    P.RESULTS_SIGNOFF, P.ORDERS_READ, P.ORDERS_CREATE, P.ORDERS_PROGRESS, P.ORDERS_CANCEL,
    P.REVIEWS_READ, P.REVIEWS_CREATE, P.CDS_INVOKE})


def allowed(role: str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False


__all__ = ["PATIENT_DATA", "ROLE_PERMISSIONS", "Perm", "Role", "allowed"]
