from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class PatientIn(BaseModel):
    nhs_number: str = Field(max_length=20, examples=["943 476 5919"])
    family_name: str = Field(min_length=1, max_length=200)
    given_name: str = Field(min_length=1, max_length=200)
    date_of_birth: date


class PatientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    nhs_number: str
    family_name: str
    given_name: str
    date_of_birth: date
    created_at: datetime
