"""CDS Hooks 2.0 endpoints: public discovery, and the services an EHR calls with the bearer
token of its service account (a prescriber-role user) or, as the specification has it, a JWT
it signs per call (auth/cds_jwt.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from pgxguard.service.auth.permissions import Perm
from pgxguard.service.cdshooks import service
from pgxguard.service.cdshooks.schemas import CardsOut, DiscoveryOut, HookRequest
from pgxguard.service.deps import Ctx, require

router = APIRouter(tags=["cds-hooks"])


def _cache(ctx: Ctx) -> service.HookCache:
    """The application's hook cache (parsed calls, resolved medicines, cards per result
    version), made on first use."""
    state = ctx.request.app.state
    cache: service.HookCache | None = getattr(state, "pgx_cds_cache", None)
    if cache is None:
        cache = state.pgx_cds_cache = service.HookCache()
    return cache


@router.get("/cds-services", response_model=DiscoveryOut)
def discovery() -> DiscoveryOut:
    """CDS Hooks discovery (public, as the specification requires)."""
    return service.discovery()


@router.post("/cds-services/{service_id}", response_model=CardsOut,
             response_model_exclude_none=True)
def call_service(service_id: str, body: HookRequest,
                 ctx: Annotated[Ctx, require(Perm.CDS_INVOKE, read_first=True, cds_jwt=True)],
                 ) -> CardsOut:
    """Cards for the patient's PGx result; no cards (not an error) when the patient is not
    known here."""
    svc = service.service_for(service_id)
    service.check_request(svc, body)
    action = f"cds.{svc.hook}"
    patient = service.find_patient(ctx.session, body)
    if patient is None:
        ctx.audit(action, None, outcome="no match",
                  detail=service.printable(f"hookInstance {body.hookInstance}; no patient "
                                           "matched context.patientId or the prefetch NHS "
                                           "number"))
        ctx.commit()
        return CardsOut(cards=[])
    ctx.about(patient.id)
    # Reads run in a deferred (snapshot) transaction (`read_first`); `ctx.audit` ends it, so
    # the SQLite write lock is held only for the audit insert, not the whole request.
    cache = _cache(ctx)
    snap = service.snapshot(ctx.session, patient, orders=svc.orders, cache=cache,
                            require_signoff=ctx.settings.require_signoff)
    out = service.run_hook(svc, body, snap, ctx.knowledge_base(), cache=cache)
    ctx.audit(action, patient.id, detail=out.audit_detail(body, snap))
    ctx.commit()
    return CardsOut(cards=out.cards,
                    extension={"org.pgxguard.notes": out.notes} if out.notes else None)
