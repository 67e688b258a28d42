"""A patient's current PGx profile: every signed-off result merged per gene.

A lab sends a VCF (CYP2C19, CYP2C9, ...) and later an outside-call TSV (CYP2D6, HLA-B): each is
its own result, and medication reviews, reports and CDS cards must see both. The profile takes,
for each gene, the newest signed-off call (the in-use version of each result, newest sign-off
first) and records the result and version it came from. A gene a result holds without a call
(`source` none: "need an outside call") never hides another result's call.

Two signed-off calls of one gene that disagree (a different diplotype, variants or phenotype)
make the gene a conflict: its merged call has `source` `conflict` (`guidance.review.CONFLICT`),
so every review of a drug that needs it is "result incomplete", never standard. A laboratory
scientist resolves it (`resolve`): the chosen version's call stands over the versions it was
compared with; a later signed-off call that disagrees again reopens the conflict.

One function builds it (`patient_profile`) and every consumer calls it: reviews, the clinician
report, FHIR, CDS Hooks and the web pages. It reads ids, statuses and sign-offs with plain
selects (never the stored inputs) and the calls JSON of the versions in use only.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select
from sqlalchemy.orm import Session

from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.guidance.knowledge import norm_phenotype
from pgxguard.guidance.review import CONFLICT
from pgxguard.service.db import utcnow
from pgxguard.service.errors import ConflictError, ValidationFailedError
from pgxguard.service.models import (
    GeneResolution,
    Patient,
    Result,
    ResultSignoff,
    ResultVersion,
)
from pgxguard.service.results.service import INTERPRETED

# Loads (or takes from a cache) the parsed calls of a version: (version id, JSON loader).
CallsLoader = Callable[[int, Callable[[], str | None]], CallResult | None]

_VERSIONS = (select(ResultVersion.id, ResultVersion.result_id, ResultVersion.version,
                    ResultVersion.status, ResultVersion.calls_json.is_not(None),
                    ResultSignoff.at, ResultSignoff.username, ResultVersion.kb_version,
                    Result.kind, Result.filename)
             .join(Result, Result.id == ResultVersion.result_id)
             .outerjoin(ResultSignoff, ResultSignoff.result_version_id == ResultVersion.id)
             .where(Result.patient_id == bindparam("pid"))
             .order_by(ResultVersion.result_id, ResultVersion.version))
_NEVER = datetime.min.replace(tzinfo=UTC)
_CALLS = select(ResultVersion.calls_json).where(ResultVersion.id == bindparam("vid"))
_RESOLUTIONS = (select(GeneResolution).where(GeneResolution.patient_id == bindparam("pid"))
                .order_by(GeneResolution.id))


@dataclass(frozen=True, slots=True)
class Source:
    """A result version the profile uses (the in-use version of one result)."""

    result_id: int
    version: int
    version_id: int
    kind: str
    filename: str
    kb_version: str | None
    signed_off_at: datetime | None  # None only when sign-off is not required
    signed_off_by: str | None

    def label(self) -> str:
        return f"result {self.result_id} v{self.version}"

    def to_json(self) -> dict[str, Any]:
        return {"result_id": self.result_id, "version": self.version, "kind": self.kind,
                "filename": self.filename, "kb_version": self.kb_version,
                "signed_off_at": self.signed_off_at.isoformat() if self.signed_off_at else None,
                "signed_off_by": self.signed_off_by}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One source's call of a gene."""

    source: Source
    call: GeneCall

    def text(self) -> str:
        return call_text(self.call)

    def to_json(self) -> dict[str, Any]:
        return {"result_id": self.source.result_id, "version": self.source.version,
                "diplotypes": [list(d) for d in self.call.diplotypes],
                "variants": list(self.call.variants), "phenotype": self.call.phenotype}


@dataclass(frozen=True, slots=True)
class Resolution:
    id: int
    chosen_version_id: int
    overrides: frozenset[int]
    reason: str
    username: str
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "by": self.username,
                "at": self.at.isoformat()}


@dataclass(frozen=True, slots=True)
class ProfileGene:
    """A gene of the profile: the call in use and where it came from, or a conflict."""

    gene: str
    call: GeneCall  # source `conflict` while the calls disagree
    source: Source | None  # None for an unresolved conflict
    # Every signed-off call of the gene, newest first (several when results overlap).
    candidates: tuple[Candidate, ...] = ()
    conflict: bool = False
    resolution: Resolution | None = None

    def to_json(self) -> dict[str, Any]:
        return {"gene": self.gene, "conflict": self.conflict,
                "result_id": self.source.result_id if self.source else None,
                "version": self.source.version if self.source else None,
                "call": self.call.to_json(),
                "candidates": [c.to_json() for c in self.candidates],
                "resolution": self.resolution.to_json() if self.resolution else None}


@dataclass(frozen=True, slots=True)
class Profile:
    patient_id: int
    genes: tuple[ProfileGene, ...]
    sources: tuple[Source, ...]  # newest sign-off first
    # (result id, version) of interpretations holding calls that await sign-off
    pending: tuple[tuple[int, int], ...]
    calls: CallResult | None  # the merged calls (one sample); None without any source
    resolution_ids: tuple[int, ...] = ()

    @property
    def conflicts(self) -> tuple[ProfileGene, ...]:
        return tuple(g for g in self.genes if g.conflict)

    @property
    def key(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Identifies the profile's content (for caches): it is a function of the versions in
        use and the resolutions, all immutable rows."""
        return tuple(sorted(s.version_id for s in self.sources)), self.resolution_ids

    def gene(self, name: str) -> ProfileGene:
        for g in self.genes:
            if g.gene == name:
                return g
        raise KeyError(name)

    def newest_version_id(self) -> int | None:
        return self.sources[0].version_id if self.sources else None

    def sources_text(self) -> str:
        return ", ".join(s.label() for s in self.sources) or "no signed-off result"

    def to_json(self) -> dict[str, Any]:
        return {"patient_id": self.patient_id,
                "sources": [s.to_json() for s in self.sources],
                "genes": [g.to_json() for g in self.genes],
                "conflicts": [g.gene for g in self.conflicts],
                "pending": [{"result_id": r, "version": v} for r, v in self.pending]}


def call_text(g: GeneCall) -> str:
    """`*2/*17 (Intermediate Metabolizer)`, the facts compared between results."""
    what = g.diplotype_text() or (" + ".join(g.variants) if g.variants else "")
    if g.phenotype:
        what = f"{what} ({g.phenotype})" if what else g.phenotype
    return what or "no call"


def _fact(g: GeneCall) -> tuple[object, ...]:
    """What two results must share to agree on a gene: diplotypes (allele order and tie order
    aside), variants and phenotype (spelling aside)."""
    dips = frozenset(tuple(sorted(d)) for d in g.diplotypes)
    pheno = norm_phenotype(g.phenotype, g.gene) if g.phenotype else None
    return dips, frozenset(g.variants), pheno


def disagree(a: GeneCall, b: GeneCall) -> bool:
    return _fact(a) != _fact(b)


def _usable(row: Any, require_signoff: bool) -> bool:
    return bool(row.status == INTERPRETED and row[4] and (row.at is not None
                                                          or not require_signoff))


def _conflict_call(gene: str, cands: list[Candidate], reopened: Resolution | None) -> GeneCall:
    listed = "; ".join(f"{c.source.label()}: {c.text()}" for c in cands)
    msg = (f"{gene}: signed-off results disagree ({listed}); result incomplete until the "
           "laboratory resolves it")
    if reopened is not None:
        msg += (f" (the resolution by {reopened.username} on {reopened.at:%Y-%m-%d} does not "
                "cover the newer call)")
    return GeneCall(gene=gene, source=CONFLICT, warnings=(msg,))


def _merge_gene(gene: str, cands: list[Candidate], uncalled: list[Candidate],
                resolution: Resolution | None) -> ProfileGene:
    """`cands`: called, newest first; `uncalled`: the sources that hold the gene uncalled."""
    if not cands:
        c = uncalled[0]
        return ProfileGene(gene, c.call, c.source, tuple(uncalled))
    newest = cands[0]
    if not any(disagree(newest.call, c.call) for c in cands[1:]):
        return ProfileGene(gene, newest.call, newest.source, tuple(cands))
    if resolution is not None:
        chosen = next((c for c in cands if c.source.version_id == resolution.chosen_version_id),
                      None)
        if chosen is not None and all(c.source.version_id in resolution.overrides
                                      for c in cands if disagree(chosen.call, c.call)):
            return ProfileGene(gene, chosen.call, chosen.source, tuple(cands),
                               resolution=resolution)
    return ProfileGene(gene, _conflict_call(gene, cands, resolution), None, tuple(cands),
                       conflict=True)


def _calls_json(conn: Connection, version_id: int) -> str | None:
    text: str | None = conn.execute(_CALLS, {"vid": version_id}).scalar()
    return text


def _parse(version_id: int, text: Callable[[], str | None]) -> CallResult | None:
    raw = text()
    return CallResult.from_json(json.loads(raw), origin=f"result version {version_id}") \
        if raw else None


def patient_profile(session: Session, patient_id: int, *, require_signoff: bool = True,
                    load_calls: CallsLoader | None = None) -> Profile:
    """The patient's profile now. `load_calls` lets a caller keep parsed calls between calls
    (CDS Hooks); by default each version's calls JSON is read and parsed."""
    conn = session.connection()
    in_use: dict[int, Any] = {}
    newest: dict[int, Any] = {}
    for row in conn.execute(_VERSIONS, {"pid": patient_id}):
        if _usable(row, require_signoff):
            in_use[row.result_id] = row  # ascending versions: the last usable one stays
        if row.status == INTERPRETED and row[4]:
            newest[row.result_id] = row
    pending = tuple(sorted((rid, int(r.version)) for rid, r in newest.items()
                           if in_use.get(rid) is None or r.version > in_use[rid].version))
    loader = load_calls or _parse
    sources: list[tuple[Source, CallResult]] = []
    for row in in_use.values():
        src = Source(int(row.result_id), int(row.version), int(row.id), str(row.kind),
                     str(row.filename), row.kb_version, row.at, row.username)
        calls = loader(src.version_id, functools.partial(_calls_json, conn, src.version_id))
        if calls is not None and calls.samples:
            sources.append((src, calls))
    # newest sign-off first; unsigned ones (sign-off not required) after, newest version first
    sources.sort(key=lambda sc: (sc[0].signed_off_at or _NEVER, sc[0].version_id),
                 reverse=True)
    resolutions: dict[str, Resolution] = {}
    res_ids: list[int] = []
    for r in session.scalars(_RESOLUTIONS, {"pid": patient_id}):
        res_ids.append(r.id)
        resolutions[r.gene] = Resolution(r.id, r.chosen_version_id, frozenset(
            int(x) for x in r.overrides.split(",") if x), r.reason, r.username, r.at)
    called: dict[str, list[Candidate]] = {}
    uncalled: dict[str, list[Candidate]] = {}
    for src, calls in sources:
        for g in calls.samples[0].genes:
            bucket = called if g.called and g.source != "none" else uncalled
            bucket.setdefault(g.gene, []).append(Candidate(src, g))
    genes = tuple(_merge_gene(name, called.get(name, []), uncalled.get(name, []),
                              resolutions.get(name))
                  for name in sorted(set(called) | set(uncalled)))
    merged = _merged_calls(patient_id, genes, sources)
    return Profile(patient_id, genes, tuple(s for s, _ in sources), pending, merged,
                   tuple(res_ids))


def _merged_calls(patient_id: int, genes: tuple[ProfileGene, ...],
                  sources: list[tuple[Source, CallResult]]) -> CallResult | None:
    if not sources:
        return None
    newest = sources[0][1]
    if len(sources) == 1:
        return newest  # one result: its calls exactly as stored

    names = list(dict.fromkeys(c.samples[0].sample for _, c in sources))
    sex = next((c.samples[0].sex for _, c in sources if c.samples[0].sex), None)
    conflicts = [w for g in genes if g.conflict for w in g.call.warnings]
    builds = sorted({c.build for _, c in sources if c.build})
    return replace(
        newest, samples=(SampleCall(" + ".join(names), tuple(g.call for g in genes), sex),),
        build=builds[0] if len(builds) == 1 else None,
        input={"profile": {"patient_id": patient_id,
                           "results": [{**s.to_json(), "input": c.input}
                                       for s, c in sources]}},
        warnings=tuple(dict.fromkeys(
            [w for _, c in sources for w in c.warnings] + conflicts)))


def conflict_patients(session: Session, require_signoff: bool = True,
                      limit: int = 200) -> list[tuple[Patient, Profile]]:
    """The laboratory's conflict worklist: patients with two or more results in use whose
    profile has a gene in conflict (oldest patient record first)."""
    many = (select(Result.patient_id).group_by(Result.patient_id)
            .having(func.count(Result.id) > 1).order_by(Result.patient_id))
    out: list[tuple[Patient, Profile]] = []
    for pid in session.scalars(many):
        prof = patient_profile(session, pid, require_signoff=require_signoff)
        if prof.conflicts:
            p = session.get(Patient, pid)
            if p is not None:
                out.append((p, prof))
                if len(out) >= limit:
                    break
    return out


def resolve(session: Session, patient_id: int, gene: str, result_id: int, version: int, *,
            reason: str, user_id: int, username: str,
            require_signoff: bool = True) -> GeneResolution:
    """Record that, for `gene`, the call of result `result_id` version `version` stands over
    the other signed-off calls it disagrees with now. Only a gene in conflict; a reason is
    required (it is shown with the profile and audited)."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailedError("say why this result's call stands (the reason is kept "
                                    "with the profile)", hint="e.g. 'confirmed by Sanger'")
    prof = patient_profile(session, patient_id, require_signoff=require_signoff)
    try:
        pg = prof.gene(gene)
    except KeyError:
        raise ValidationFailedError(f"the patient's profile has no {gene} result",
                                    hint="choose a gene listed in the profile") from None
    if not pg.conflict:
        raise ConflictError(f"{gene} is not in conflict: there is nothing to resolve",
                            hint="read the profile again")
    chosen = next((c for c in pg.candidates if c.source.result_id == result_id
                   and c.source.version == version), None)
    if chosen is None:
        offered = ", ".join(c.source.label() for c in pg.candidates)
        raise ValidationFailedError(
            f"result {result_id} version {version} is not one of the signed-off {gene} calls",
            hint=f"choose one of: {offered}")
    overrides = sorted(c.source.version_id for c in pg.candidates
                       if disagree(chosen.call, c.call))
    row = GeneResolution(patient_id=patient_id, gene=gene,
                         chosen_version_id=chosen.source.version_id,
                         overrides=",".join(str(v) for v in overrides), reason=reason,
                         user_id=user_id, username=username, at=utcnow())
    session.add(row)
    session.flush()
    return row


__all__ = ["CallsLoader", "Candidate", "Profile", "ProfileGene", "Resolution", "Source",
           "call_text", "conflict_patients", "disagree", "patient_profile", "resolve"]
