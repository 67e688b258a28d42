"""PGx results: upload (VCF called on upload, outside-call TSV, FHIR Bundle), read, versions,
re-interpretation against the current knowledge base."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

from pgxguard.budget import within
from pgxguard.service.auth.permissions import Perm
from pgxguard.service.deps import Ctx, require
from pgxguard.service.ids import RowId
from pgxguard.service.models import Result
from pgxguard.service.patients import service as patients
from pgxguard.service.results import profile as profiles
from pgxguard.service.results import service
from pgxguard.service.results.prescan import UploadLimits
from pgxguard.service.results.schemas import (
    AwaitingOut,
    CombinedOut,
    ConflictOut,
    ProfileOut,
    ReinterpretOut,
    ResolutionIn,
    ResultOut,
    ResultSummary,
    SignoffIn,
    VersionOut,
)
from pgxguard.service.results.service import Kind

router = APIRouter(tags=["results"])


def run_upload(ctx: Ctx, patient_id: int, kind: Kind, file: UploadFile, sample: str | None,
               build: str | None, outside_format: str | None = None) -> Result:
    """The request's steps of an upload, for the API and the UI alike: read at most the limit,
    pre-scan and call with no database lock held, under the time budget (stopped when the
    client disconnects), then store, audit and commit."""
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    limit = ctx.settings.max_upload_bytes
    data = file.file.read(limit + 1)  # one byte over the limit shows it is too large
    ctx.end_transaction()  # hold no database lock while calling
    options = service.upload_options(sample, build, outside_format)
    with within(ctx.work_budget("interpreting the upload")):
        name, interp = service.prepare_upload(kind, data, file.filename, options,
                                              kb=ctx.knowledge_base(), max_bytes=limit,
                                              limits=UploadLimits.of(ctx.settings))
    res = service.store_upload(ctx.session, p.id, kind, data, name, interp,
                               build=options.build, user_id=ctx.user.id)
    ctx.audit("result.upload", p.id, detail=f"result {res.id} ({kind.value})")
    ctx.commit()
    return res


def _upload(ctx: Ctx, patient_id: int, kind: Kind, file: UploadFile, sample: str | None,
            build: str | None, outside_format: str | None = None) -> ResultOut:
    res = run_upload(ctx, patient_id, kind, file, sample, build, outside_format)
    return ResultOut.of(res, ctx.settings.require_signoff)


@router.post("/patients/{patient_id}/results/vcf", status_code=201, response_model=ResultOut)
def upload_vcf(patient_id: RowId, ctx: Annotated[Ctx, require(Perm.RESULTS_UPLOAD)],
               file: Annotated[UploadFile, File(description="VCF, VCF.gz or BCF")],
               sample: Annotated[str | None, Form(max_length=200)] = None,
               build: Annotated[str | None, Form(description="GRCh37 or GRCh38 when the "
                                                 "header does not say")] = None) -> ResultOut:
    """Upload a VCF: it is called at once (`pgxguard.call`) and stored with its calls."""
    return _upload(ctx, patient_id, Kind.VCF, file, sample, build)


@router.post("/patients/{patient_id}/results/outside-calls", status_code=201,
             response_model=ResultOut)
def upload_outside_calls(patient_id: RowId, ctx: Annotated[Ctx, require(Perm.RESULTS_UPLOAD)],
                         file: Annotated[UploadFile, File(
                             description="outside-call TSV, or a caller's output (Cyrius, "
                                         "Aldy, StellarPGx, PyPGx, PharmCAT, OptiType, HLA*LA, "
                                         "arcasHLA...)")],
                         sample: Annotated[str | None, Form(max_length=200)] = None,
                         outside_format: Annotated[str | None, Form(
                             max_length=100, description="the file's format when not "
                             "recognised by content; NAME=VERSION states the caller's "
                             "version")] = None,
                         ) -> ResultOut:
    """Upload outside calls: a pgxguard outside-call TSV or a CYP2D6/star-allele/HLA caller's
    own output, recognised by content (docs/outside-calls.md)."""
    return _upload(ctx, patient_id, Kind.OUTSIDE_CALLS, file, sample, None,
                   outside_format)


def run_combined_upload(ctx: Ctx, patient_id: int, vcf: UploadFile, outside: UploadFile,
                        sample: str | None, outside_sample: str | None, build: str | None,
                        outside_format: str | None = None) -> tuple[Result, Result]:
    """A VCF and an outside-call file in one request, for the API and the UI alike: both are
    interpreted first, then stored as two results in one transaction (both or neither)."""
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    limit = ctx.settings.max_upload_bytes
    vcf_data = vcf.file.read(limit + 1)
    outside_data = outside.file.read(limit + 1)
    ctx.end_transaction()  # hold no database lock while calling
    options = service.upload_options(sample, build, outside_format, outside_sample)
    with within(ctx.work_budget("interpreting the upload")):
        (vname, vint), (oname, oint) = service.prepare_combined(
            vcf_data, vcf.filename, outside_data, outside.filename, options,
            kb=ctx.knowledge_base(), max_bytes=limit, limits=UploadLimits.of(ctx.settings))
    first = service.store_upload(ctx.session, p.id, Kind.VCF, vcf_data, vname, vint,
                                 build=options.build, user_id=ctx.user.id)
    second = service.store_upload(ctx.session, p.id, Kind.OUTSIDE_CALLS, outside_data, oname,
                                  oint, build=None, user_id=ctx.user.id)
    for res in (first, second):
        ctx.audit("result.upload", p.id, detail=f"result {res.id} ({res.kind}; uploaded with "
                  f"result {second.id if res is first else first.id})")
    ctx.commit()
    return first, second


@router.post("/patients/{patient_id}/results/combined", status_code=201,
             response_model=CombinedOut)
def upload_combined(patient_id: RowId, ctx: Annotated[Ctx, require(Perm.RESULTS_UPLOAD)],
                    vcf: Annotated[UploadFile, File(description="VCF, VCF.gz or BCF")],
                    outside_calls: Annotated[UploadFile, File(
                        description="outside-call TSV or a caller's output, for the same "
                                    "person")],
                    sample: Annotated[str | None, Form(max_length=200)] = None,
                    outside_sample: Annotated[str | None, Form(
                        max_length=200, description="the outside calls' sample name when it "
                        "differs from the VCF's")] = None,
                    build: Annotated[str | None, Form(max_length=10)] = None,
                    outside_format: Annotated[str | None, Form(max_length=100)] = None,
                    ) -> CombinedOut:
    """Upload a VCF and outside calls (e.g. CYP2D6, HLA-B) together: two results, each signed
    off on its own; the patient's profile merges them per gene."""
    a, b = run_combined_upload(ctx, patient_id, vcf, outside_calls, sample, outside_sample,
                               build, outside_format)
    rs = ctx.settings.require_signoff
    return CombinedOut(vcf=ResultOut.of(a, rs), outside_calls=ResultOut.of(b, rs))


@router.post("/patients/{patient_id}/results/fhir", status_code=201, response_model=ResultOut)
def upload_fhir(patient_id: RowId, ctx: Annotated[Ctx, require(Perm.RESULTS_UPLOAD)],
                file: Annotated[UploadFile, File(description="FHIR R4 Bundle (JSON)")],
                sample: Annotated[str | None, Form(max_length=200)] = None) -> ResultOut:
    """Upload a FHIR Bundle: calls are extracted from a pgxguard genomics report; any other
    Bundle is stored as received with status 'stored, not interpreted'."""
    return _upload(ctx, patient_id, Kind.FHIR_BUNDLE, file, sample, None)


@router.get("/patients/{patient_id}/results", response_model=list[ResultSummary])
def list_results(patient_id: RowId,
                 ctx: Annotated[Ctx, require(Perm.RESULTS_READ)]) -> list[ResultSummary]:
    p = patients.get_patient(ctx.session, patient_id)
    out = [ResultSummary.of(r) for r in service.for_patient(ctx.session, p.id)]
    ctx.audit("result.list", p.id)
    ctx.commit()
    return out


@router.get("/results/awaiting-signoff", response_model=list[AwaitingOut])
def awaiting_signoff(ctx: Annotated[Ctx, require(Perm.RESULTS_SIGNOFF)]) -> list[AwaitingOut]:
    """The sign-off worklist: results whose newest interpretation nobody has signed off yet
    (oldest first). Each patient's entry is audited as a read."""
    rows = service.awaiting_signoff(ctx.session)
    for v in rows:
        ctx.audit("result.list", v.result.patient_id,
                  detail=f"sign-off worklist: result {v.result_id} version {v.version}")
    ctx.commit()
    return [AwaitingOut.of(v) for v in rows]


@router.get("/results/conflicts", response_model=list[ConflictOut])
def conflicts(ctx: Annotated[Ctx, require(Perm.RESULTS_SIGNOFF)]) -> list[ConflictOut]:
    """The laboratory's conflict worklist: patients whose signed-off results disagree on a
    gene (each patient's entry is audited as a read)."""
    rows = profiles.conflict_patients(ctx.session, ctx.settings.require_signoff)
    for p, prof in rows:
        ctx.audit("profile.read", p.id, detail="conflict worklist: "
                  + ", ".join(g.gene for g in prof.conflicts))
    ctx.commit()
    return [ConflictOut(patient_id=p.id, genes=[g.to_json() for g in prof.conflicts])
            for p, prof in rows]


@router.get("/results/{result_id}", response_model=ResultOut)
def read_result(result_id: RowId, ctx: Annotated[Ctx, require(Perm.RESULTS_READ)]) -> ResultOut:
    r = service.get_result(ctx.session, result_id)
    ctx.audit("result.read", r.patient_id, detail=f"result {r.id}")
    ctx.commit()
    return ResultOut.of(r, ctx.settings.require_signoff)


@router.get("/results/{result_id}/versions/{version}", response_model=VersionOut)
def read_version(result_id: RowId, version: RowId,
                 ctx: Annotated[Ctx, require(Perm.RESULTS_READ)]) -> VersionOut:
    r = service.get_result(ctx.session, result_id)
    ctx.about(r.patient_id)
    v = service.get_version(r, version)
    ctx.audit("result.read", r.patient_id, detail=f"result {r.id} version {v.version}")
    ctx.commit()
    return VersionOut.of(v)


def run_reinterpretation(ctx: Ctx, result_id: int) -> tuple[Result, dict[str, Any]]:
    """The request's steps of a re-interpretation, for the API and the UI alike: read the
    stored input, call it with no database lock held, store the new version, audit, commit."""
    r = service.get_result(ctx.session, result_id)
    ctx.about(r.patient_id)
    src = service.stored_input(r)
    ctx.end_transaction()  # hold no database lock while calling
    with within(ctx.work_budget("re-interpreting the result")):
        interp = service.reinterpret_input(src, ctx.knowledge_base(),
                                           UploadLimits.of(ctx.settings))
    r = service.get_result(ctx.session, result_id)
    new, diff = service.store_reinterpretation(ctx.session, r, src, interp, user_id=ctx.user.id)
    ctx.audit("result.reinterpret", r.patient_id,
              detail=f"result {r.id} version {new.version} (knowledge base {new.kb_version})")
    ctx.commit()
    return r, diff


@router.post("/results/{result_id}/reinterpret", response_model=ReinterpretOut)
def reinterpret(result_id: RowId,
                ctx: Annotated[Ctx, require(Perm.RESULTS_REINTERPRET)]) -> ReinterpretOut:
    """Re-call the stored input against the current knowledge base; the old version is kept
    and the response says what changed per gene."""
    r, diff = run_reinterpretation(ctx, result_id)
    return ReinterpretOut(result=ResultOut.of(r, ctx.settings.require_signoff), diff=diff)


@router.post("/results/{result_id}/versions/{version}/sign-off", response_model=ResultOut)
def sign_off(result_id: RowId, version: RowId,
             ctx: Annotated[Ctx, require(Perm.RESULTS_SIGNOFF)],
             body: SignoffIn | None = None) -> ResultOut:
    """Authorise a version for clinical use (reviews, CDS cards, a final FHIR report). Once per
    version; by default not by the scientist who produced it (four-eyes check)."""
    r = service.get_result(ctx.session, result_id)
    ctx.about(r.patient_id)
    service.sign_off(ctx.session, r, version, user_id=ctx.user.id, username=ctx.user.username,
                     note=body.note if body else None,
                     second_person=ctx.settings.signoff_second_person)
    ctx.audit("result.signoff", r.patient_id, detail=f"result {r.id} version {version}")
    ctx.commit()
    return ResultOut.of(r, ctx.settings.require_signoff)


@router.get("/patients/{patient_id}/profile", response_model=ProfileOut)
def read_profile(patient_id: RowId, ctx: Annotated[Ctx, require(Perm.RESULTS_READ)]) -> ProfileOut:
    """The patient's current PGx profile: each gene's newest signed-off call with the result
    and version it came from; genes whose signed-off results disagree are listed in
    `conflicts` and count as "result incomplete" until the laboratory resolves them."""
    p = patients.get_patient(ctx.session, patient_id)
    prof = profiles.patient_profile(ctx.session, p.id,
                                    require_signoff=ctx.settings.require_signoff)
    ctx.audit("profile.read", p.id, detail=prof.sources_text())
    ctx.commit()
    return ProfileOut.model_validate(prof.to_json())


@router.post("/patients/{patient_id}/profile/resolutions", response_model=ProfileOut)
def resolve_conflict(patient_id: RowId, body: ResolutionIn,
                     ctx: Annotated[Ctx, require(Perm.RESULTS_SIGNOFF)]) -> ProfileOut:
    """Resolve a gene in conflict: the named result version's call stands over the signed-off
    calls it disagrees with (a reason is required; recorded, audited, never changed)."""
    p = patients.get_patient(ctx.session, patient_id)
    ctx.about(p.id)
    row = profiles.resolve(ctx.session, p.id, body.gene, body.result_id, body.version,
                           reason=body.reason, user_id=ctx.user.id, username=ctx.user.username,
                           require_signoff=ctx.settings.require_signoff)
    ctx.audit("profile.resolve", p.id,
              detail=f"{row.gene}: result {body.result_id} v{body.version} stands "
                     f"(over result versions {row.overrides}); the reason is kept with the "
                     "resolution")
    prof = profiles.patient_profile(ctx.session, p.id,
                                    require_signoff=ctx.settings.require_signoff)
    ctx.commit()
    return ProfileOut.model_validate(prof.to_json())

