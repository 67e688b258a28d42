"""The service's outside-call upload reads callers' outputs (issue 15): recognised by content
or named with the form field `outside_format`, refused rows stated in the response, the
format kept for re-interpretation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import test_service_support as support
from test_service_support import Svc

_fast_password_hashing = support._fast_password_hashing
sqlite_svc = support.sqlite_svc

DATA = Path(__file__).parent / "data" / "outside" / "callers"
CYRIUS = b"Sample\tGenotype\tFilter\nPATIENT1\t*5/*68+*4\tPASS\n"


def upload(svc: Svc, pid: int, name: str, data: bytes, **form: str) -> Any:
    return svc.client.post(f"/patients/{pid}/results/outside-calls",
                           headers=svc.h("lab_scientist"), files={"file": (name, data)},
                           data=form)


def test_cyrius_upload(sqlite_svc: Svc) -> None:
    svc = sqlite_svc
    pid = svc.new_patient()
    r = upload(svc, pid, "run1.tsv", CYRIUS, outside_format="cyrius=1.1.1")
    assert r.status_code == 201, r.text
    latest = r.json()["latest"]
    [sample] = latest["calls"]["samples"]
    [d6] = sample["genes"]
    assert d6["diplotypes"] == [["*4", "*5"]] and d6["phenotype"] == "Poor Metabolizer"
    assert d6["origin"]["caller"] == "Cyrius" and d6["origin"]["file"] == "run1.tsv"
    assert d6["warnings"][0].startswith("CYP2D6 *4/*5 from Cyrius 1.1.1 (written *5/*68+*4)")
    assert latest["note"] is None
    # re-interpretation reads the stored bytes in the same format (the version stated stays)
    rid = r.json()["id"]
    r = svc.client.post(f"/results/{rid}/reinterpret", headers=svc.h("lab_scientist"))
    assert r.status_code == 200, r.text
    genes = r.json()["result"]["latest"]["calls"]["samples"][0]["genes"]
    assert genes[0]["origin"]["version"] == "1.1.1 (stated with --outside-format)"
    assert r.json()["diff"]["changed"] is False


def test_refused_rows_are_in_the_response(sqlite_svc: Svc) -> None:
    svc = sqlite_svc
    pid = svc.new_patient()
    data = (DATA / "aldy-documented.aldy").read_bytes()
    r = upload(svc, pid, "hg00463.aldy", data, sample="HG00463")
    assert r.status_code == 201, r.text
    latest = r.json()["latest"]
    assert latest["note"] == (
        "1 row(s) refused, not used (see the calls' warnings): hg00463.aldy, line 13: CYP2A6: "
        "unknown allele '*35' in '*35' (use an allele name defined for CYP2A6)")
    genes = {g["gene"]: g for g in latest["calls"]["samples"][0]["genes"]}
    assert genes["CYP2D6"]["diplotypes"] == [["*10", "*10"]]


def test_unreadable_caller_output_is_422(sqlite_svc: Svc) -> None:
    svc = sqlite_svc
    pid = svc.new_patient()
    r = upload(svc, pid, "x.json", b'{"sample": "S", "dragenVersion": "4.2.4"}')
    assert r.status_code == 422
    assert r.json()["error"].startswith("x.json: this looks like a DRAGEN targeted-caller JSON")
    r = upload(svc, pid, "c.tsv", CYRIUS, outside_format="hla-la")
    assert r.status_code == 422
    assert r.json()["error"].startswith("c.tsv, line 1: not an HLA*LA R1_bestguess_G.txt")
    r = upload(svc, pid, "c.tsv", CYRIUS, outside_format="nonsense")
    assert r.status_code == 422 and "unknown outside-call format 'nonsense'" in r.json()["error"]
