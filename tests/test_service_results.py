"""PGx results: VCF upload called on upload, outside-call TSV, FHIR Bundle (extracted or stored
as-is), versioning and re-interpretation with a per-gene diff, upload size limits."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

import pgxguard
import test_service_support as support
from pgxguard.call.options import CallOptions
from pgxguard.errors import InputError, SampleError
from pgxguard.report.fhir import report_bundle
from pgxguard.service.models import Result, ResultVersion
from pgxguard.service.results import service as results
from pgxguard.service.results.service import Kind, StoredInput
from test_service_support import DEMO_OUTSIDE, DEMO_VCF, Svc

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
sqlite_svc = support.sqlite_svc
svc = support.svc

KB = pgxguard.load_knowledge_base()


def _genes(calls: dict[str, Any]) -> dict[str, dict[str, Any]]:
    [sample] = calls["samples"]
    return {g["gene"]: g for g in sample["genes"]}


def test_vcf_upload_is_called_and_stored(svc: Svc) -> None:
    pid = svc.new_patient()
    out = svc.upload_vcf(pid, "PATIENT1")
    assert out["kind"] == "vcf" and out["sample"] == "PATIENT1" and out["build"] == "GRCh38"
    latest = out["latest"]
    assert latest["status"] == "interpreted" and latest["version"] == 1
    assert latest["kb_version"] == KB.version
    expected = pgxguard.call(DEMO_VCF, samples=["PATIENT1"]).to_json()
    got = latest["calls"]
    assert got["format"] == "pgxguard.call/1"
    assert got["knowledge_base"]["version"] == KB.version
    assert got["samples"] == expected["samples"]
    assert got["input"]["path"] == "demo.vcf"  # never the temporary path
    assert _genes(got)["CYP2C19"]["diplotypes"] == [["*2", "*17"]]
    # stored: the input bytes exactly, and the JSON
    with svc.session() as s:
        res = s.get(Result, out["id"])
        assert res is not None and res.input_data == DEMO_VCF.read_bytes()
        v = s.get(ResultVersion, 1)
        assert v is not None and json.loads(v.calls_json or "") == got
    # read back, list, version
    r = svc.client.get(f"/results/{out['id']}", headers=svc.h("prescriber"))
    assert r.status_code == 200 and r.json()["latest"]["calls"] == got
    r = svc.client.get(f"/patients/{pid}/results", headers=svc.h("prescriber"))
    assert [x["id"] for x in r.json()] == [out["id"]]
    r = svc.client.get(f"/results/{out['id']}/versions/1", headers=svc.h("lab_scientist"))
    assert r.json()["calls"] == got
    actions = [a.action for a in svc.audit(patient_id=pid)]
    assert actions == ["patient.create", "result.upload", "result.signoff", "result.read",
                       "result.list", "result.read"]
    signed = out["versions"][0]["signed_off"]
    assert signed["username"] == "user-checker" and signed["note"] == "checked"
    assert out["in_use_version"] == 1


def test_multi_sample_vcf_needs_a_sample(svc: Svc) -> None:
    pid = svc.new_patient()
    with DEMO_VCF.open("rb") as fh:
        r = svc.client.post(f"/patients/{pid}/results/vcf", headers=svc.h("lab_scientist"),
                            files={"file": ("demo.vcf", fh)})
    assert r.status_code == 422
    assert r.json() == {"error": "demo.vcf: the VCF holds 2 samples; say which one is this "
                                 "patient's with the 'sample' field",
                        "hint": "samples: PATIENT1, PATIENT2"}
    with svc.session() as s:
        assert s.query(Result).count() == 0  # nothing half-written


def test_bad_vcf_error_names_the_uploaded_file(svc: Svc) -> None:
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/results/vcf", headers=svc.h("lab_scientist"),
                        files={"file": ("broken.vcf", b"##fileformat=VCFv4.2\nnot a vcf\n")})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err.startswith("broken.vcf") and "pgxguard-upload" not in err
    r = svc.client.post(f"/patients/{pid}/results/vcf", headers=svc.h("lab_scientist"),
                        files={"file": ("empty.vcf", b"")})
    assert r.status_code == 422 and "empty" in r.json()["error"]


def test_outside_calls_upload(svc: Svc) -> None:
    pid = svc.new_patient()
    with DEMO_OUTSIDE.open("rb") as fh:
        r = svc.client.post(f"/patients/{pid}/results/outside-calls",
                            headers=svc.h("lab_scientist"),
                            files={"file": ("cyp2d6.tsv", fh)}, data={"sample": "PATIENT1"})
    assert r.status_code == 201, r.text
    genes = _genes(r.json()["latest"]["calls"])
    assert genes["CYP2D6"]["diplotypes"] == [["*1", "*2x2"]]
    assert genes["CYP2D6"]["source"] == "outside"
    assert set(genes) == {"CYP2D6", "HLA-B"}


def test_fhir_bundle_calls_are_extracted(svc: Svc) -> None:
    calls = pgxguard.call(DEMO_VCF, samples=["PATIENT1"])
    bundle = report_bundle(calls, None, "PATIENT1")
    pid = svc.new_patient()
    r = svc.client.post(f"/patients/{pid}/results/fhir", headers=svc.h("lab_scientist"),
                        files={"file": ("report.json", json.dumps(bundle).encode())})
    assert r.status_code == 201, r.text
    latest = r.json()["latest"]
    assert latest["status"] == "interpreted"
    assert latest["kb_version"] == KB.version
    got = _genes(latest["calls"])
    for g in calls.samples[0].genes:
        assert [list(d) for d in g.diplotypes] == got[g.gene]["diplotypes"], g.gene
        assert list(g.variants) == got[g.gene]["variants"], g.gene
        assert g.phenotype == got[g.gene]["phenotype"], g.gene
        assert g.activity_score == got[g.gene]["activity_score"], g.gene
        # uncertainty travels: missing positions and unassessed SVs stay visible as warnings
        if g.missing_positions:
            assert any(w.startswith("Missing positions") for w in got[g.gene]["warnings"])
        if g.not_assessed:
            assert any("not assessed" in w for w in got[g.gene]["warnings"])
    # the stored input is the Bundle as sent; a review works from it
    rid = r.json()["id"]
    r = svc.client.post(f"/results/{rid}/reinterpret", headers=svc.h("lab_scientist"))
    assert r.status_code == 409 and "made elsewhere" in r.json()["error"]


def test_other_fhir_bundle_is_stored_not_interpreted(svc: Svc) -> None:
    pid = svc.new_patient()
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "1"}}]}
    raw = json.dumps(bundle).encode()
    r = svc.client.post(f"/patients/{pid}/results/fhir", headers=svc.h("lab_scientist"),
                        files={"file": ("other.json", raw)})
    assert r.status_code == 201
    latest = r.json()["latest"]
    assert latest["status"] == "stored, not interpreted" and latest["calls"] is None
    assert "not interpreted" in latest["note"]
    with svc.session() as s:
        res = s.get(Result, r.json()["id"])
        assert res is not None and res.input_data == raw
    r = svc.client.post(f"/patients/{pid}/results/fhir", headers=svc.h("lab_scientist"),
                        files={"file": ("x.json", b'{"resourceType": "Patient"}')})
    assert r.status_code == 422 and "not a FHIR Bundle" in r.json()["error"]


def test_reinterpretation_keeps_old_version_and_diffs(svc: Svc) -> None:
    pid = svc.new_patient()
    out = svc.upload_vcf(pid, "PATIENT1")
    rid = out["id"]
    # Same knowledge base: a new version, nothing changed.
    r = svc.client.post(f"/results/{rid}/reinterpret", headers=svc.h("lab_scientist"))
    assert r.status_code == 200, r.text
    diff = r.json()["diff"]
    assert diff["from_version"] == 1 and diff["to_version"] == 2
    assert diff["changed"] is False and diff["genes"] == [] and "CYP2C19" in diff["unchanged"]
    # A "newer" knowledge base without CYP2C19 phenotype rules and without TPMT definitions.
    newer = dataclasses.replace(
        KB, version=KB.version + "-next",
        phenotypes={g: p for g, p in KB.phenotypes.items() if g != "CYP2C19"},
        definitions={g: d for g, d in KB.definitions.items() if g != "TPMT"})
    svc.app.state.kb_provider = lambda: newer
    r = svc.client.post(f"/results/{rid}/reinterpret", headers=svc.h("lab_scientist"))
    assert r.status_code == 200, r.text
    body = r.json()
    diff = body["diff"]
    assert diff["from_knowledge_base"] == KB.version
    assert diff["to_knowledge_base"] == KB.version + "-next"
    assert diff["changed"] is True
    by_gene = {g["gene"]: g for g in diff["genes"]}
    assert by_gene["CYP2C19"]["change"] == "changed"
    assert by_gene["CYP2C19"]["fields"]["phenotype"] == {"old": "Intermediate Metabolizer",
                                                         "new": None}
    assert by_gene["TPMT"]["change"] == "removed"
    assert "CYP2C9" in diff["unchanged"]
    assert [v["version"] for v in body["result"]["versions"]] == [1, 2, 3]
    assert body["result"]["latest"]["kb_version"] == KB.version + "-next"
    # the old versions are kept exactly
    r = svc.client.get(f"/results/{rid}/versions/1", headers=svc.h("lab_scientist"))
    assert r.json()["calls"] == out["latest"]["calls"]
    r = svc.client.get(f"/results/{rid}/versions/9", headers=svc.h("lab_scientist"))
    assert r.status_code == 404
    assert [a.action for a in svc.audit(patient_id=pid)].count("result.reinterpret") == 2


@pytest.mark.parametrize("chunked", [False, True])
def test_upload_size_limit(tmp_path: Any, chunked: bool) -> None:
    from pgxguard.service.settings import Settings
    from test_service_support import make_service

    gen = make_service(Settings(data_dir=tmp_path, max_upload_bytes=4000, max_json_bytes=2000))
    svc = next(gen)
    try:
        pid = svc.new_patient()
        data = DEMO_VCF.read_bytes()
        big = data * (1 + (70 * 1024) // len(data))  # over the limit + multipart allowance
        if chunked:
            boundary = "pgxboundary"
            head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                    f"filename=\"big.vcf\"\r\n\r\n").encode()
            body = head + big + f"\r\n--{boundary}--\r\n".encode()

            def stream() -> Any:
                for i in range(0, len(body), 8192):
                    yield body[i:i + 8192]

            r = svc.client.post(f"/patients/{pid}/results/vcf", headers={
                **svc.h("lab_scientist"),
                "content-type": f"multipart/form-data; boundary={boundary}"}, content=stream())
        else:
            r = svc.client.post(f"/patients/{pid}/results/vcf", headers=svc.h("lab_scientist"),
                                files={"file": ("big.vcf", big)})
        assert r.status_code == 413
        assert r.json()["error"] == "upload exceeds the limit of 4000 bytes"
        # an upload within the multipart allowance but over the file limit: 413 from the service
        r = svc.client.post(f"/patients/{pid}/results/vcf", headers=svc.h("lab_scientist"),
                            files={"file": ("demo.vcf", data)}, data={"sample": "PATIENT1"})
        assert r.status_code == 413 and "exceeds the limit of 4000 bytes" in r.json()["error"]
        # JSON bodies have their own limit
        r = svc.client.post("/patients", headers={**svc.h("prescriber"),
                                                  "content-type": "application/json"},
                            content=b" " * 3000)
        assert r.status_code == 413
        assert r.json()["error"] == "request body exceeds the limit of 2000 bytes"
        with svc.session() as s:
            assert s.query(Result).count() == 0
    finally:
        gen.close()


def test_sign_off_rules(svc: Svc) -> None:
    """Once per version, only a version holding calls, never by the scientist who produced it,
    only by a role with results:signoff; the sign-off row is immutable and audited."""
    pid = svc.new_patient()
    out = svc.upload_vcf(pid, "PATIENT1", sign_off=False)
    rid = out["id"]
    assert out["versions"][0]["signed_off"] is None and out["in_use_version"] is None
    url = f"/results/{rid}/versions/1/sign-off"
    r = svc.client.post(url, headers=svc.h("lab_scientist"))
    assert r.status_code == 403 and "second laboratory scientist" in r.json()["error"]
    r = svc.client.post(url, headers=svc.h("prescriber"))
    assert r.status_code == 403 and "results:signoff" in r.json()["error"]
    r = svc.client.post(f"/results/{rid}/versions/7/sign-off", headers=svc.h("checker"))
    assert r.status_code == 404
    body = svc.sign_off(rid, 1)
    assert body["in_use_version"] == 1 and body["latest"]["signed_off"]["username"] == \
        "user-checker"
    r = svc.client.post(url, headers=svc.h("checker"))
    assert r.status_code == 409 and "was signed off by user-checker" in r.json()["error"]
    # a Bundle from elsewhere that is stored, not interpreted: nothing to sign off
    r = svc.client.post(f"/patients/{pid}/results/fhir", headers=svc.h("lab_scientist"),
                        files={"file": ("b.json", json.dumps({
                            "resourceType": "Bundle", "type": "collection",
                            "entry": []}).encode())})
    assert r.status_code == 201, r.text
    r = svc.client.post(f"/results/{r.json()['id']}/versions/1/sign-off",
                        headers=svc.h("checker"))
    assert r.status_code == 409 and "nothing to sign off" in r.json()["error"]
    from pgxguard.service.models import ResultSignoff

    with svc.session() as s:
        row = s.query(ResultSignoff).one()
        row.note = "changed"
        with pytest.raises(RuntimeError, match="immutable"):
            s.commit()
        s.rollback()
    assert [a.detail for a in svc.audit(action="result.signoff")] == [
        f"result {rid} version 1"]


def test_sign_off_settings(tmp_path: Any) -> None:
    """`signoff_second_person=False` lets a lone scientist sign off their own result;
    `require_signoff=False` uses interpreted results at once (as before sign-off existed)."""
    from pgxguard.service.settings import Settings
    from test_service_support import make_service

    for settings, expect in (
            (Settings(data_dir=tmp_path / "a", signoff_second_person=False), "own"),
            (Settings(data_dir=tmp_path / "b", require_signoff=False), "unsigned")):
        gen = make_service(settings)
        svc = next(gen)
        try:
            pid = svc.new_patient()
            rid = svc.upload_vcf(pid, "PATIENT1", sign_off=False)["id"]
            if expect == "own":
                r = svc.client.post(f"/results/{rid}/versions/1/sign-off",
                                    headers=svc.h("lab_scientist"))
                assert r.status_code == 200, r.text
            r = svc.client.post(f"/patients/{pid}/reviews", headers=svc.h("prescriber"),
                                json={"medicines": ["clopidogrel"]})
            assert r.status_code == 201, r.text
        finally:
            gen.close()


def test_sign_off_worklist(svc: Svc) -> None:
    """GET /results/awaiting-signoff lists each result's newest unsigned interpretation, oldest
    first; signing off removes it; a re-interpretation puts the result back."""
    pid = svc.new_patient()
    a = svc.upload_vcf(pid, "PATIENT1", sign_off=False)["id"]
    b = svc.upload_vcf(pid, "PATIENT2", sign_off=False)["id"]
    url = "/results/awaiting-signoff"
    r = svc.client.get(url, headers=svc.h("checker"))
    assert r.status_code == 200
    assert [(x["result_id"], x["version"]) for x in r.json()] == [(a, 1), (b, 1)]
    assert svc.client.get(url, headers=svc.h("prescriber")).status_code == 403
    svc.sign_off(a, 1)
    assert [x["result_id"] for x in svc.client.get(url, headers=svc.h("checker")).json()] == [b]
    svc.client.post(f"/results/{a}/reinterpret", headers=svc.h("lab_scientist"))
    got = [(x["result_id"], x["version"]) for x in
           svc.client.get(url, headers=svc.h("checker")).json()]
    assert got == [(b, 1), (a, 2)]
    # the analyst's aggregate view counts them, with no patient-level data
    stats = svc.client.get("/stats/summary", headers=svc.h("analyst")).json()
    assert stats["results"] == 2 and stats["results_awaiting_signoff"] == 2
    assert stats["patients"] == 1 and stats["results_by_kind"] == {"vcf": 2}
    assert not {"patient_id", "result_id", "nhs_number"} & set(stats)
    assert any("sign-off worklist" in (e.detail or "") for e in svc.audit(action="result.list"))


def test_interpret_takes_call_options() -> None:
    """The service's interpretation takes the one `CallOptions` of `pgxguard.call` (issue 11):
    a VCF is called with the patient's sample and build exactly as `call` calls it, without the
    outside-call fields; an outside-call file is read whole (no sample or build applied to it)
    and the patient's sample picked after; two samples or `outside_calls` are refused."""
    vcf = DEMO_VCF.read_bytes()
    opts = CallOptions(samples=["PATIENT1"], build="GRCh38")
    got = results.interpret(Kind.VCF, vcf, "demo.vcf", opts, kb=KB)
    expected = pgxguard.call(DEMO_VCF, opts, kb=KB).to_json()
    calls = json.loads(got.calls_json or "")
    assert calls["samples"] == expected["samples"] and calls["options"] == expected["options"]
    assert (got.sample, got.build, got.status) == ("PATIENT1", "GRCh38", results.INTERPRETED)
    outside_fields = CallOptions.of(opts, outside_format="cyrius", outside_sample="other")
    assert results.interpret(Kind.VCF, vcf, "demo.vcf", outside_fields,
                             kb=KB).calls_json == got.calls_json

    tsv = DEMO_OUTSIDE.read_bytes()
    out = results.interpret(Kind.OUTSIDE_CALLS, tsv, "o.tsv",
                            CallOptions(samples=["PATIENT2"], build="GRCh37"), kb=KB)
    whole = pgxguard.call(None, outside_calls=DEMO_OUTSIDE, kb=KB)
    calls = json.loads(out.calls_json or "")
    assert [s["sample"] for s in calls["samples"]] == ["PATIENT2"]
    assert _genes(calls)["CYP2D6"]["diplotypes"] == [
        list(d) for d in whole.sample("PATIENT2").gene("CYP2D6").diplotypes]
    assert calls["options"]["samples"] is None and out.build is None

    with pytest.raises(SampleError, match="2 samples given for one patient"):
        results.interpret(Kind.VCF, vcf, "demo.vcf",
                          CallOptions(samples=["PATIENT1", "PATIENT2"]), kb=KB)
    with pytest.raises(InputError, match="outside_calls"):
        results.interpret(Kind.OUTSIDE_CALLS, tsv, "o.tsv",
                          CallOptions(outside_calls=DEMO_OUTSIDE), kb=KB)


def test_upload_options_and_stored_input_options() -> None:
    """An upload's form fields become one `CallOptions` (an empty field is not given); a
    stored input is re-interpreted with the options it was uploaded with (build only for a
    VCF, which is the only input called with one)."""
    assert results.upload_options("", "", "", "") == CallOptions()
    assert results.upload_options("P1", "GRCh37", "cyrius", "S") == CallOptions(
        samples=("P1",), build="GRCh37", outside_format="cyrius", outside_sample="S")
    src = StoredInput(1, Kind.VCF, b"", "a.vcf", "P1", "GRCh38", 1)
    assert src.options == CallOptions(samples=("P1",), build="GRCh38")
    src = StoredInput(2, Kind.OUTSIDE_CALLS, b"", "a.tsv", None, "GRCh38", 3, "aldy")
    assert src.options == CallOptions(outside_format="aldy")
    with pytest.raises(InputError, match="unknown build"):
        results.upload_options(build="hg19")
