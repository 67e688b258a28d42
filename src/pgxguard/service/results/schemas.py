from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from pgxguard.service.models import Result, ResultVersion
from pgxguard.service.results.service import calls_of


class VersionSummary(BaseModel):
    version: int
    status: str
    kb_version: str | None
    note: str | None
    created_at: datetime
    created_by: int


class VersionOut(VersionSummary):
    result_id: int
    # `pgxguard call` JSON; null when the input was stored, not interpreted.
    calls: dict[str, Any] | None

    @classmethod
    def of(cls, v: ResultVersion) -> VersionOut:
        return cls(result_id=v.result_id, version=v.version, status=v.status,
                   kb_version=v.kb_version, note=v.note, created_at=v.created_at,
                   created_by=v.created_by, calls=calls_of(v))


class ResultOut(BaseModel):
    id: int
    patient_id: int
    kind: str
    filename: str
    sample: str | None
    build: str | None
    input_sha256: str
    input_size: int
    created_at: datetime
    created_by: int
    versions: list[VersionSummary]
    latest: VersionOut

    @classmethod
    def of(cls, r: Result) -> ResultOut:
        return cls(id=r.id, patient_id=r.patient_id, kind=r.kind, filename=r.filename,
                   sample=r.sample, build=r.build, input_sha256=r.input_sha256,
                   input_size=r.input_size, created_at=r.created_at, created_by=r.created_by,
                   versions=[VersionSummary(version=v.version, status=v.status,
                                            kb_version=v.kb_version, note=v.note,
                                            created_at=v.created_at, created_by=v.created_by)
                             for v in r.versions],
                   latest=VersionOut.of(r.versions[-1]))


class ResultSummary(BaseModel):
    id: int
    kind: str
    filename: str
    sample: str | None
    created_at: datetime
    latest_version: int
    status: str
    kb_version: str | None

    @classmethod
    def of(cls, r: Result) -> ResultSummary:
        v = r.versions[-1]
        return cls(id=r.id, kind=r.kind, filename=r.filename, sample=r.sample,
                   created_at=r.created_at, latest_version=v.version, status=v.status,
                   kb_version=v.kb_version)


class ReinterpretOut(BaseModel):
    result: ResultOut
    # {"from_version", "to_version", "from_knowledge_base", "to_knowledge_base", "changed",
    #  "genes": [{"sample", "gene", "change": changed|added|removed, "fields": {f: {old, new}}}],
    #  "unchanged": [genes]}
    diff: dict[str, Any]
