"""PGx results: upload (VCF, outside-call TSV, FHIR Bundle), versions, re-interpretation.

The input is stored exactly as received; each interpretation is a new immutable
`ResultVersion` holding the `pgxguard call` JSON and the knowledge-base version that made it.
A version is provisional until a laboratory scientist signs it off (`sign_off`, a second person
by default); reviews and CDS cards use only signed-off versions (`latest_usable`).
Calling runs in the request's worker thread (FastAPI runs sync handlers in a thread pool),
after a bounded pre-scan of the input (`prescan`: decompressed size, line length, samples,
records; a Bundle's size and depth) and under the request's time budget (`pgxguard.budget`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pgxguard.call.options import CallOptions
from pgxguard.call.results import CallResult
from pgxguard.errors import InputError, PgxError, SampleError
from pgxguard.kb.model import KnowledgeBase
from pgxguard.service.db import get_row, utcnow
from pgxguard.service.errors import (
    ConflictError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
)
from pgxguard.service.models import Patient, Result, ResultSignoff, ResultVersion
from pgxguard.service.results.diff import diff_calls
from pgxguard.service.results.fhir_import import extract_calls, parse_bundle
from pgxguard.service.results.prescan import UploadLimits, check_json, scan_text, scan_vcf


class Kind(StrEnum):
    VCF = "vcf"
    OUTSIDE_CALLS = "outside_calls"
    FHIR_BUNDLE = "fhir_bundle"


INTERPRETED = "interpreted"
STORED_ONLY = "stored, not interpreted"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True, slots=True)
class Interpretation:
    status: str
    kb_version: str | None
    calls_json: str | None
    note: str | None
    sample: str | None
    build: str | None


def safe_filename(name: str | None, default: str) -> str:
    base = Path(name or "").name.strip()
    base = _UNSAFE.sub("_", base).strip("._")[:120]
    return base or default


def _pick(result: CallResult, sample: str | None, what: str) -> CallResult:
    names = [s.sample for s in result.samples]
    if sample is not None:
        if sample not in names:
            raise SampleError(f"sample {sample!r} is not in the {what}",
                              hint=f"samples: {', '.join(names[:20]) or 'none'}")
        chosen = result.sample(sample)
    elif len(names) == 1:
        chosen = result.samples[0]
    else:
        raise SampleError(f"the {what} holds {len(names)} samples; say which one is this "
                          "patient's with the 'sample' field",
                          hint=f"samples: {', '.join(names[:20]) or 'none'}")
    return dataclasses.replace(result, samples=(chosen,))


def _json_text(result: CallResult, tmpdir: str) -> str:
    # The calling ran on a temporary copy: show the uploaded file name, never the temp path.
    return json.dumps(result.to_json(), indent=2).replace(tmpdir + "/", "")


def _relabel(e: PgxError, tmpdir: str) -> PgxError:
    if e.path and e.path.startswith(tmpdir):
        e.path = e.path.removeprefix(tmpdir + "/")
    e.detail = e.detail.replace(tmpdir + "/", "")
    e.args = (e._format(),)
    return e


def upload_options(sample: str | None = None, build: str | None = None,
                   outside_format: str | None = None,
                   outside_sample: str | None = None) -> CallOptions:
    """The `CallOptions` of an upload's form fields (an empty field is not given)."""
    return CallOptions(samples=[sample] if sample else None, build=build or None,
                       outside_format=outside_format or None,
                       outside_sample=outside_sample or None)


def _patient_sample(options: CallOptions) -> str | None:
    if options.outside_calls is not None:
        raise InputError("the service calls the uploaded input, not outside-call files of "
                         "the options", hint="leave CallOptions.outside_calls unset")
    if options.samples is not None and len(options.samples) > 1:
        raise SampleError(f"{len(options.samples)} samples given for one patient's result",
                          hint="name the one sample that is this patient's")
    return options.samples[0] if options.samples else None


def interpret(kind: Kind, data: bytes, filename: str, options: CallOptions, *,
              kb: KnowledgeBase, limits: UploadLimits | None = None) -> Interpretation:
    """Call (or read) one stored input. Raises `PgxError` for input that cannot be used.
    With `limits`, the input is pre-scanned first (413/422 before any calling).

    `options` (the one `CallOptions` that `call`, `run_cohort` and `make_report` take too):
    `samples`, at most the patient's one (needed when the input holds several); `build`, a
    VCF's when its header does not say; `outside_format`, the format of outside calls (a
    caller's output is otherwise recognised by content, `pgxguard.io.callers`). The input is
    `data`, so `outside_calls` stays unset. A VCF is called alone (the outside-call fields do
    not apply to it); outside calls are read whole and the patient's sample picked after."""
    from pgxguard.call.pipeline import call

    sample = _patient_sample(options)
    if kind is Kind.FHIR_BUNDLE:
        if limits is not None:
            check_json(data, filename, limits)
        doc = parse_bundle(data, filename)
        calls = extract_calls(doc, filename, kb)
        if calls is None:
            return Interpretation(STORED_ONLY, None, None,
                                  "the Bundle holds no genotype Observation pgxguard can read: "
                                  "stored as received, not interpreted", sample, None)
        calls = _pick(calls, sample, "Bundle")
        refused = [w for w in calls.warnings if w.startswith(f"{filename}: ")]
        return Interpretation(INTERPRETED, calls.knowledge_base.get("version"),
                              json.dumps(calls.to_json(), indent=2),
                              "calls extracted from the Bundle (made elsewhere, not re-called)"
                              + _refused_note(refused, "gene"), calls.samples[0].sample, None)
    if limits is not None:
        if kind is Kind.VCF:
            scan_vcf(data, filename, sample, limits)
        else:
            scan_text(data, filename, limits)
    with tempfile.TemporaryDirectory(prefix="pgxguard-upload-") as tmpdir:  # 0700
        path = Path(tmpdir) / filename
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            if kind is Kind.VCF:
                vcf = CallOptions.of(options, outside_format=None, outside_sample=None)
                result = _pick(call(path, vcf, kb=kb), sample, "VCF")
            else:
                outside = CallOptions.of(options, outside_calls=path, samples=None, build=None,
                                         outside_sample=None)
                result = _pick(call(None, outside, kb=kb), sample, "outside-call file")
        except PgxError as e:
            raise _relabel(e, tmpdir) from None
        text = _json_text(result, tmpdir)
        refused = [w.replace(tmpdir + "/", "") for w in result.warnings
                   if kind is Kind.OUTSIDE_CALLS and w.startswith(f"{path}, ")]
    note = _refused_note(refused, "row").removeprefix("; ") or None
    return Interpretation(INTERPRETED, str(result.knowledge_base.get("version")), text, note,
                          result.samples[0].sample, result.build)


def _refused_note(refused: list[str], what: str) -> str:
    """Refused outside-call rows (or Bundle genes) stated in the version's note, so the upload's
    response shows them, not only the calls' warnings."""
    if not refused:
        return ""
    return (f"; {len(refused)} {what}(s) refused, not used (see the calls' warnings): "
            + " | ".join(refused[:5]) + (" | ..." if len(refused) > 5 else ""))


def prepare_upload(kind: Kind, data: bytes, filename: str | None, options: CallOptions, *,
                   kb: KnowledgeBase, max_bytes: int,
                   limits: UploadLimits | None = None) -> tuple[str, Interpretation]:
    """Check and interpret an upload without touching the database (slow: calling);
    `options` as for `interpret`."""
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"upload of {len(data)} bytes exceeds the limit of "
                                   f"{max_bytes} bytes")
    if not data:
        raise InputError("the uploaded file is empty")
    name = safe_filename(filename, {"vcf": "upload.vcf", "outside_calls": "outside-calls.tsv",
                                    "fhir_bundle": "bundle.json"}[kind.value])
    return name, interpret(kind, data, name, options, kb=kb, limits=limits)


def prepare_combined(vcf: bytes, vcf_name: str | None, outside: bytes,
                     outside_name: str | None, options: CallOptions, *, kb: KnowledgeBase,
                     max_bytes: int, limits: UploadLimits | None = None
                     ) -> tuple[tuple[str, Interpretation], tuple[str, Interpretation]]:
    """Check and interpret a VCF and an outside-call file sent together (no database access).
    They become two results of the patient, merged by the profile (`profile.py`). `options`:
    the VCF's sample and build, the outside calls' format and `outside_sample`. The outside
    calls must be for the VCF's sample unless `outside_sample` names theirs: calls of another
    person are never attached silently."""
    if len(vcf) + len(outside) > max_bytes:
        raise PayloadTooLargeError(f"upload of {len(vcf) + len(outside)} bytes exceeds the "
                                   f"limit of {max_bytes} bytes")
    first = prepare_upload(Kind.VCF, vcf, vcf_name, options, kb=kb, max_bytes=max_bytes,
                           limits=limits)
    vcf_sample = first[1].sample
    outside_sample = options.outside_sample
    theirs = outside_sample or vcf_sample
    try:
        second = prepare_upload(Kind.OUTSIDE_CALLS, outside, outside_name,
                                CallOptions.of(options, samples=[theirs] if theirs else None),
                                kb=kb, max_bytes=max_bytes, limits=limits)
    except SampleError as e:
        if outside_sample:
            raise
        raise SampleError(f"the outside-call file holds no calls for the VCF's sample "
                          f"{vcf_sample!r}",
                          hint=f"outside-call {e.hint or 'samples: none'}; if they are this "
                          "patient's, name the sample in 'outside_sample'") from None
    return first, second


def store_upload(session: Session, patient_id: int, kind: Kind, data: bytes, name: str,
                 interp: Interpretation, *, build: str | None, user_id: int) -> Result:
    """Store the input exactly as received and its first interpretation (version 1)."""
    now = utcnow()
    res = Result(patient_id=patient_id, kind=kind.value, filename=name, sample=interp.sample,
                 build=interp.build or build, input_data=data,
                 input_sha256=hashlib.sha256(data).hexdigest(), input_size=len(data),
                 created_at=now, created_by=user_id)
    session.add(res)
    session.flush()
    session.add(ResultVersion(result_id=res.id, version=1, status=interp.status,
                              kb_version=interp.kb_version, calls_json=interp.calls_json,
                              note=interp.note, created_at=now, created_by=user_id))
    session.flush()
    session.refresh(res)
    return res


def upload(session: Session, patient: Patient, kind: Kind, data: bytes, filename: str | None,
           options: CallOptions, *, user_id: int, kb: KnowledgeBase, max_bytes: int) -> Result:
    """`prepare_upload` + `store_upload` in one call (the caller commits)."""
    name, interp = prepare_upload(kind, data, filename, options, kb=kb, max_bytes=max_bytes)
    return store_upload(session, patient.id, kind, data, name, interp, build=options.build,
                        user_id=user_id)


def get_result(session: Session, result_id: int) -> Result:
    return get_row(session, Result, result_id, "result")


def latest(result: Result) -> ResultVersion:
    return result.versions[-1]


def get_version(result: Result, version: int) -> ResultVersion:
    for v in result.versions:
        if v.version == version:
            return v
    raise NotFoundError(f"result {result.id} has no version {version}",
                        hint=f"versions: {', '.join(str(v.version) for v in result.versions)}")


def for_patient(session: Session, patient_id: int) -> list[Result]:
    return list(session.scalars(select(Result).where(Result.patient_id == patient_id)
                                .order_by(Result.id)))


def usable(version: ResultVersion, require_signoff: bool) -> bool:
    """Whether medication reviews and CDS cards may use this version: it holds calls and, when
    sign-off is required, a laboratory scientist has signed it off."""
    return (version.status == INTERPRETED and bool(version.calls_json)
            and (not require_signoff or version.signoff is not None))


def latest_usable(result: Result, require_signoff: bool) -> ResultVersion | None:
    """The newest usable version of a result: a re-interpretation awaiting sign-off leaves the
    previous signed-off version in use."""
    return next((v for v in reversed(result.versions) if usable(v, require_signoff)), None)


def latest_interpreted(session: Session, patient_id: int,
                       require_signoff: bool = True) -> ResultVersion | None:
    """The newest usable version of the patient's most recent result that has one."""
    for r in reversed(for_patient(session, patient_id)):
        v = latest_usable(r, require_signoff)
        if v is not None:
            return v
    return None


def _awaiting() -> Any:
    newest = (select(ResultVersion.result_id, func.max(ResultVersion.version).label("v"))
              .group_by(ResultVersion.result_id).subquery())
    return (select(ResultVersion)
            .join(newest, (newest.c.result_id == ResultVersion.result_id)
                  & (newest.c.v == ResultVersion.version))
            .outerjoin(ResultSignoff, ResultSignoff.result_version_id == ResultVersion.id)
            .where(ResultSignoff.id.is_(None), ResultVersion.status == INTERPRETED,
                   ResultVersion.calls_json.is_not(None)))


def awaiting_signoff(session: Session, limit: int = 200) -> list[ResultVersion]:
    """The laboratory's sign-off worklist: each result's newest version when it holds calls and
    nobody has signed it off, oldest first."""
    q = _awaiting().order_by(ResultVersion.created_at, ResultVersion.id).limit(limit)
    return list(session.scalars(q))


def count_awaiting_signoff(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(_awaiting().subquery())) or 0)


def sign_off(session: Session, result: Result, version: int, *, user_id: int, username: str,
             note: str | None, second_person: bool) -> ResultSignoff:
    """Authorise a version for clinical use. Only a version holding calls; once; and, with
    `second_person`, not by the user who produced it (uploaded or re-interpreted it)."""
    v = get_version(result, version)
    if v.status != INTERPRETED or not v.calls_json:
        raise ConflictError(f"result {result.id} version {v.version} holds no calls: there is "
                            "nothing to sign off")
    if v.signoff is not None:
        raise ConflictError(f"result {result.id} version {v.version} was signed off by "
                            f"{v.signoff.username} at {v.signoff.at:%Y-%m-%d %H:%M} UTC")
    if second_person and v.created_by == user_id:
        raise PermissionDeniedError(
            f"you produced result {result.id} version {v.version}: a second laboratory "
            "scientist must sign it off", hint="ask a colleague to check and sign it off")
    row = ResultSignoff(result_version_id=v.id, user_id=user_id, username=username,
                        at=utcnow(), note=note or None)
    session.add(row)
    try:
        session.flush()
    except IntegrityError as e:
        raise ConflictError(f"result {result.id} version {v.version} was signed off by someone "
                            "else meanwhile", hint="read it again") from e
    session.refresh(v)
    return row


def calls_of(version: ResultVersion) -> dict[str, Any] | None:
    return json.loads(version.calls_json) if version.calls_json else None


@dataclass(frozen=True, slots=True)
class StoredInput:
    """What re-interpretation needs, read before the (slow) calling."""

    result_id: int
    kind: Kind
    data: bytes
    filename: str
    sample: str | None
    build: str | None
    version: int
    outside_format: str | None = None

    @property
    def options(self) -> CallOptions:
        """The options it was interpreted with, to re-interpret it the same way."""
        return upload_options(self.sample, self.build if self.kind is Kind.VCF else None,
                              self.outside_format)


def stored_input(result: Result) -> StoredInput:
    kind = Kind(result.kind)
    if kind is Kind.FHIR_BUNDLE:
        raise ConflictError("a FHIR Bundle result holds calls made elsewhere: it cannot be "
                            "re-interpreted here", hint="upload the VCF to re-call it")
    # A format the uploader named is recorded in the calls' options: re-read it the same way.
    fmt = None
    if kind is Kind.OUTSIDE_CALLS:
        for v in reversed(result.versions):
            doc = calls_of(v)
            if doc is not None:
                fmt = (doc.get("options") or {}).get("outside_format")
                if isinstance(fmt, list):
                    fmt = fmt[0] if len(fmt) == 1 else None
                break
    return StoredInput(result.id, kind, result.input_data, result.filename, result.sample,
                       result.build, latest(result).version, fmt)


def reinterpret_input(src: StoredInput, kb: KnowledgeBase,
                      limits: UploadLimits | None = None) -> Interpretation:
    """Re-call a stored input against `kb` (no database access); inputs stored before the
    limits existed are checked against them too."""
    return interpret(src.kind, src.data, src.filename, src.options, kb=kb, limits=limits)


def store_reinterpretation(session: Session, result: Result, src: StoredInput,
                           interp: Interpretation, *,
                           user_id: int) -> tuple[ResultVersion, dict[str, Any]]:
    """Add the new version after `src.version` and return it with the per-gene diff."""
    old = latest(result)
    if old.version != src.version:
        raise ConflictError(f"result {result.id} was re-interpreted by someone else meanwhile "
                            f"(now version {old.version})", hint="read it again and retry")
    new = ResultVersion(result_id=result.id, version=old.version + 1, status=interp.status,
                        kb_version=interp.kb_version, calls_json=interp.calls_json,
                        note=f"re-interpretation of version {old.version}",
                        created_at=utcnow(), created_by=user_id)
    session.add(new)
    try:
        session.flush()
    except IntegrityError as e:
        raise ConflictError(f"result {result.id} was re-interpreted by someone else meanwhile",
                            hint="read it again and retry") from e
    session.refresh(result)
    diff = {"from_version": old.version, "to_version": new.version,
            "from_knowledge_base": old.kb_version, "to_knowledge_base": new.kb_version,
            **diff_calls(calls_of(old), calls_of(new))}
    return new, diff


def reinterpret(session: Session, result: Result, *, user_id: int,
                kb: KnowledgeBase) -> tuple[ResultVersion, dict[str, Any]]:
    """Re-run calling on the stored input against `kb`: a new version and the diff."""
    src = stored_input(result)
    return store_reinterpretation(session, result, src, reinterpret_input(src, kb),
                                  user_id=user_id)


__all__ = ["INTERPRETED", "STORED_ONLY", "Interpretation", "Kind", "StoredInput",
           "awaiting_signoff", "calls_of", "count_awaiting_signoff",
           "for_patient", "get_result", "get_version", "interpret", "latest",
           "latest_interpreted", "latest_usable", "prepare_combined", "prepare_upload",
           "reinterpret",
           "reinterpret_input", "sign_off", "store_reinterpretation", "store_upload",
           "stored_input", "upload", "upload_options", "usable"]
