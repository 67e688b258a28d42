from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from pgxguard.service.models import Result, ResultVersion
from pgxguard.service.results.service import calls_of, latest_usable


class SignoffOut(BaseModel):
    user_id: int
    username: str
    at: datetime
    note: str | None

    @classmethod
    def of(cls, v: ResultVersion) -> SignoffOut | None:
        so = v.signoff
        return None if so is None else cls(user_id=so.user_id, username=so.username, at=so.at,
                                           note=so.note)


class SignoffIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class VersionSummary(BaseModel):
    version: int
    status: str
    kb_version: str | None
    note: str | None
    created_at: datetime
    created_by: int
    # null: provisional (not yet signed off by a laboratory scientist)
    signed_off: SignoffOut | None = None

    @classmethod
    def summary(cls, v: ResultVersion) -> VersionSummary:
        return cls(version=v.version, status=v.status, kb_version=v.kb_version, note=v.note,
                   created_at=v.created_at, created_by=v.created_by,
                   signed_off=SignoffOut.of(v))


class VersionOut(VersionSummary):
    result_id: int
    # `pgxguard call` JSON; null when the input was stored, not interpreted.
    calls: dict[str, Any] | None

    @classmethod
    def of(cls, v: ResultVersion) -> VersionOut:
        return cls(result_id=v.result_id, version=v.version, status=v.status,
                   kb_version=v.kb_version, note=v.note, created_at=v.created_at,
                   created_by=v.created_by, signed_off=SignoffOut.of(v), calls=calls_of(v))


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
    # The version medication reviews and CDS cards use (the newest signed-off one), or null.
    in_use_version: int | None = None

    @classmethod
    def of(cls, r: Result, require_signoff: bool = True) -> ResultOut:
        in_use = latest_usable(r, require_signoff)
        return cls(id=r.id, patient_id=r.patient_id, kind=r.kind, filename=r.filename,
                   sample=r.sample, build=r.build, input_sha256=r.input_sha256,
                   input_size=r.input_size, created_at=r.created_at, created_by=r.created_by,
                   versions=[VersionSummary.summary(v) for v in r.versions],
                   latest=VersionOut.of(r.versions[-1]),
                   in_use_version=in_use.version if in_use else None)


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


class AwaitingOut(BaseModel):
    """One entry of the sign-off worklist."""

    result_id: int
    patient_id: int
    version: int
    kind: str
    filename: str
    created_at: datetime
    created_by: int

    @classmethod
    def of(cls, v: ResultVersion) -> AwaitingOut:
        r = v.result
        return cls(result_id=r.id, patient_id=r.patient_id, version=v.version, kind=r.kind,
                   filename=r.filename, created_at=v.created_at, created_by=v.created_by)


class ProfileOut(BaseModel):
    """The patient's current PGx profile (`profile.Profile.to_json`)."""

    patient_id: int
    # the result versions in use, newest sign-off first
    sources: list[dict[str, Any]]
    # per gene: the call in use and the result/version it came from, every signed-off call of
    # it ("candidates"), "conflict" (result incomplete until resolved) and any "resolution"
    genes: list[dict[str, Any]]
    conflicts: list[str]
    # interpretations holding calls that await sign-off (not used yet)
    pending: list[dict[str, int]]


class ResolutionIn(BaseModel):
    gene: str = Field(min_length=1, max_length=32)
    result_id: int = Field(ge=1, le=2**31 - 1)
    version: int = Field(ge=1, le=2**31 - 1)
    reason: str = Field(min_length=1, max_length=2000)


class ConflictOut(BaseModel):
    """One patient of the laboratory's conflict worklist."""

    patient_id: int
    genes: list[dict[str, Any]]


class CombinedOut(BaseModel):
    """A VCF and outside calls uploaded together: two results, merged by the profile."""

    vcf: ResultOut
    outside_calls: ResultOut
