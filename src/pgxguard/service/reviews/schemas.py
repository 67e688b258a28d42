from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from pgxguard.service.ids import row_id_field
from pgxguard.service.models import MedicationReview, ResultVersion
from pgxguard.service.reviews.service import review_of


class ReviewIn(BaseModel):
    medicines: list[str] = Field(default_factory=list, max_length=200,
                                 examples=[["clopidogrel", "simvastatin"]])
    all_drugs: bool = Field(default=False, description="add every medicine with actionable "
                            "guidance for this patient (PGx passport)")
    result_id: int | None = row_id_field(default=None,
                                         description="default: the latest result")


class ReviewOut(BaseModel):
    id: int
    patient_id: int
    result_id: int
    result_version: int
    medicines: list[str]
    created_at: datetime
    created_by: int
    # The `ReviewResult` JSON exactly as stored and shown (format pgxguard.review/1).
    review: dict[str, Any]
    # The patient's PGx profile the review used: per gene the result and version the call came
    # from, genes in conflict (null for a review of one named result).
    profile: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: MedicationReview, version: ResultVersion) -> ReviewOut:
        return cls(id=row.id, patient_id=row.patient_id, result_id=version.result_id,
                   result_version=version.version, medicines=json.loads(row.medicines),
                   created_at=row.created_at, created_by=row.created_by,
                   review=review_of(row),
                   profile=json.loads(row.profile_json) if row.profile_json else None)
