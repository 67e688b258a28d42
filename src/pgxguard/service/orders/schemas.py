from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from pgxguard.service.ids import row_id_field
from pgxguard.service.models import Order
from pgxguard.service.orders.directory import DirectoryTest


class DirectoryTestOut(BaseModel):
    code: str
    name: str
    genes: list[str]
    trigger_drugs: list[str]
    clinical_context: str
    source_note: str

    @classmethod
    def of(cls, t: DirectoryTest) -> DirectoryTestOut:
        return cls(code=t.code, name=t.name, genes=list(t.genes),
                   trigger_drugs=list(t.trigger_drugs), clinical_context=t.clinical_context,
                   source_note=t.source_note)


class OrderIn(BaseModel):
    test_code: str = Field(max_length=32, examples=["PGX-DPYD"])
    reason: str | None = Field(default=None, max_length=2000)
    trigger_drug: str | None = Field(default=None, max_length=200)


class StatusIn(BaseModel):
    status: Literal["sample_received", "in_analysis", "reported"]
    note: str | None = Field(default=None, max_length=2000)
    result_id: int | None = row_id_field(default=None)


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class OrderEventOut(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    user_id: int
    username: str
    note: str | None


class OrderOut(BaseModel):
    id: int
    patient_id: int
    test_code: str
    test_name: str
    genes: list[str]
    reason: str | None
    trigger_drug: str | None
    status: str
    result_id: int | None
    created_at: datetime
    created_by: int
    updated_at: datetime
    events: list[OrderEventOut]

    @classmethod
    def of(cls, o: Order) -> OrderOut:
        return cls(id=o.id, patient_id=o.patient_id, test_code=o.test_code,
                   test_name=o.test_name, genes=o.genes.split(","), reason=o.reason,
                   trigger_drug=o.trigger_drug, status=o.status, result_id=o.result_id,
                   created_at=o.created_at, created_by=o.created_by, updated_at=o.updated_at,
                   events=[OrderEventOut(from_status=e.from_status, to_status=e.to_status,
                                         at=e.at, user_id=e.user_id, username=e.user.username,
                                         note=e.note) for e in o.events])
