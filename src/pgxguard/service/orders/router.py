"""Test directory and test orders (state machine with who and when)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.ids import RowId
from pgxguard.service.orders import service
from pgxguard.service.orders.directory import directory
from pgxguard.service.orders.schemas import (
    CancelIn,
    DirectoryTestOut,
    OrderIn,
    OrderOut,
    StatusIn,
)
from pgxguard.service.orders.service import Status
from pgxguard.service.patients import service as patients

router = APIRouter(tags=["orders"])


@router.get("/test-directory", response_model=list[DirectoryTestOut])
def test_directory(ctx: Annotated[Ctx, require(Perm.DIRECTORY_READ)]) -> list[DirectoryTestOut]:
    """PGx tests that can be ordered (modelled on the NHS England National Genomic Test
    Directory; not an official extract)."""
    return [DirectoryTestOut.of(t) for t in directory()]


@router.post("/patients/{patient_id}/orders", status_code=201, response_model=OrderOut)
def create_order(patient_id: RowId, body: OrderIn,
                 ctx: Annotated[Ctx, require(Perm.ORDERS_CREATE)]) -> OrderOut:
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    o = service.create_order(ctx.session, p, test_code=body.test_code, user_id=ctx.user.id,
                             reason=body.reason, trigger_drug=body.trigger_drug)
    ctx.audit("order.create", p.id, detail=f"order {o.id} ({o.test_code})")
    ctx.commit()
    return OrderOut.of(o)


@router.get("/patients/{patient_id}/orders", response_model=list[OrderOut])
def list_orders(patient_id: RowId,
                ctx: Annotated[Ctx, require(Perm.ORDERS_READ)]) -> list[OrderOut]:
    p = patients.get_patient(ctx.session, patient_id)
    out = [OrderOut.of(o) for o in service.for_patient(ctx.session, p.id)]
    ctx.audit("order.list", p.id)
    ctx.commit()
    return out


@router.get("/orders/{order_id}", response_model=OrderOut)
def read_order(order_id: RowId, ctx: Annotated[Ctx, require(Perm.ORDERS_READ)]) -> OrderOut:
    o = service.get_order(ctx.session, order_id)
    ctx.audit("order.read", o.patient_id, detail=f"order {o.id}")
    ctx.commit()
    return OrderOut.of(o)


@router.post("/orders/{order_id}/status", response_model=OrderOut)
def advance_order(order_id: RowId, body: StatusIn,
                  ctx: Annotated[Ctx, require(Perm.ORDERS_PROGRESS)]) -> OrderOut:
    """Laboratory progress: sample_received, in_analysis, reported (409 when not allowed)."""
    o = service.get_order(ctx.session, order_id, for_update=True)
    ctx.about(o.patient_id)
    before = o.status
    o = service.transition(ctx.session, o, Status(body.status), user_id=ctx.user.id,
                           require_signoff=ctx.settings.require_signoff,
                           note=body.note, result_id=body.result_id)
    ctx.audit("order.status", o.patient_id, detail=f"order {o.id}: {before} -> {o.status}")
    ctx.commit()
    return OrderOut.of(o)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: RowId, body: CancelIn,
                 ctx: Annotated[Ctx, require(Perm.ORDERS_CANCEL)]) -> OrderOut:
    o = service.get_order(ctx.session, order_id, for_update=True)
    ctx.about(o.patient_id)
    before = o.status
    o = service.transition(ctx.session, o, Status.CANCELLED, user_id=ctx.user.id,
                           note=body.reason)
    ctx.audit("order.cancel", o.patient_id, detail=f"order {o.id}: {before} -> cancelled")
    ctx.commit()
    return OrderOut.of(o)
