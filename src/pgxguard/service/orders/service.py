"""Test orders: requested -> sample_received -> in_analysis -> reported, or cancelled from any
non-final state. Every transition is an `OrderEvent` (who, when, from, to, note)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from pgxguard.service.db import get_row, utcnow
from pgxguard.service.errors import ConflictError, ValidationFailedError
from pgxguard.service.models import Order, OrderEvent, Patient, Result
from pgxguard.service.orders.directory import get_test
from pgxguard.service.results.service import latest_usable


class Status(StrEnum):
    REQUESTED = "requested"
    SAMPLE_RECEIVED = "sample_received"
    IN_ANALYSIS = "in_analysis"
    REPORTED = "reported"
    CANCELLED = "cancelled"


S = Status
TRANSITIONS: dict[Status, frozenset[Status]] = {
    S.REQUESTED: frozenset({S.SAMPLE_RECEIVED, S.CANCELLED}),
    S.SAMPLE_RECEIVED: frozenset({S.IN_ANALYSIS, S.CANCELLED}),
    S.IN_ANALYSIS: frozenset({S.REPORTED, S.CANCELLED}),
    S.REPORTED: frozenset(),
    S.CANCELLED: frozenset(),
}


def create_order(session: Session, patient: Patient, *, test_code: str, user_id: int,
                 reason: str | None = None, trigger_drug: str | None = None) -> Order:
    test = get_test(test_code)
    now = utcnow()
    order = Order(patient_id=patient.id, test_code=test.code, test_name=test.name,
                  genes=",".join(test.genes), reason=reason, trigger_drug=trigger_drug,
                  status=S.REQUESTED.value, created_at=now, created_by=user_id, updated_at=now)
    session.add(order)
    session.flush()
    session.add(OrderEvent(order_id=order.id, from_status=None, to_status=S.REQUESTED.value,
                           at=now, user_id=user_id, note=reason))
    session.flush()
    session.refresh(order)
    return order


def get_order(session: Session, order_id: int, *, for_update: bool = False) -> Order:
    return get_row(session, Order, order_id, "test order", for_update=for_update)


def for_patient(session: Session, patient_id: int) -> list[Order]:
    return list(session.scalars(select(Order).where(Order.patient_id == patient_id)
                                .order_by(Order.id)))


def open_orders(session: Session, limit: int = 100) -> list[Order]:
    """Orders not yet reported or cancelled, oldest first (the laboratory's worklist)."""
    final = [S.REPORTED.value, S.CANCELLED.value]
    return list(session.scalars(select(Order).where(Order.status.not_in(final))
                                .order_by(Order.id).limit(limit)))


def transition(session: Session, order: Order, to: Status, *, user_id: int,
               note: str | None = None, result_id: int | None = None,
               require_signoff: bool = True) -> Order:
    """Move an order on. Reporting it with a result needs that result signed off (when
    sign-off is required): an order is not "reported" on a provisional result."""
    current = Status(order.status)
    if to not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (final state)"
        raise ConflictError(
            f"test order {order.id} cannot move from {current.value!r} to {to.value!r}",
            hint=f"allowed from {current.value!r}: {allowed}")
    if result_id is not None:
        if to is not S.REPORTED:
            raise ValidationFailedError("result_id is given only when the order is reported")
        res = session.get(Result, result_id)
        if res is None or res.patient_id != order.patient_id:
            raise ValidationFailedError(
                f"result {result_id} is not a result of this order's patient")
        if latest_usable(res, require_signoff) is None:
            raise ConflictError(f"result {result_id} has no signed-off version: the order "
                                "cannot be reported on a provisional result",
                                hint="sign the result off first (a second laboratory "
                                     "scientist)")
        order.result_id = result_id
    now = utcnow()
    order.status = to.value
    order.updated_at = now
    session.add(OrderEvent(order_id=order.id, from_status=current.value, to_status=to.value,
                           at=now, user_id=user_id, note=note))
    session.flush()
    session.refresh(order)
    return order


__all__ = ["TRANSITIONS", "Status", "create_order", "for_patient", "get_order", "open_orders",
           "transition"]
