"""Patients: NHS number modulus 11 validation (numbers computed here by the rule), registration,
uniqueness, search and the audit rows of reads and writes."""

from __future__ import annotations

import random

import pytest

import test_service_support as support
from pgxguard.service.errors import ValidationFailedError
from pgxguard.service.patients.nhs import is_valid, normalise_nhs_number
from test_service_support import Svc

# Fixtures shared by the service tests (test_service_support.py).
_fast_password_hashing = support._fast_password_hashing
db_settings = support.db_settings
svc = support.svc


def mod11(first_nine: str) -> int | None:
    """The NHS modulus 11 rule, written out independently of the service."""
    total = 0
    for i, d in enumerate(first_nine):
        total += int(d) * (10 - i)
    remainder = total % 11
    check = 11 - remainder
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def _numbers(seed: int = 5) -> tuple[list[str], list[str], list[str]]:
    rng = random.Random(seed)
    valid: list[str] = []
    wrong_check: list[str] = []
    no_check: list[str] = []
    while len(valid) < 30 or len(no_check) < 5:
        nine = "".join(str(rng.randrange(10)) for _ in range(9))
        c = mod11(nine)
        if c is None:
            no_check.append(nine + str(rng.randrange(10)))
        else:
            valid.append(nine + str(c))
            wrong_check.append(nine + str((c + 1 + rng.randrange(9)) % 10))
    return valid, wrong_check, no_check


VALID, WRONG_CHECK, NO_CHECK = _numbers()


def test_known_example() -> None:
    assert mod11("943476591") == 9
    assert normalise_nhs_number("943 476 5919") == "9434765919"
    assert normalise_nhs_number("943-476-5919") == "9434765919"


@pytest.mark.parametrize("nhs", VALID)
def test_valid_numbers_accepted(nhs: str) -> None:
    assert normalise_nhs_number(nhs) == nhs
    assert normalise_nhs_number(f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}") == nhs


@pytest.mark.parametrize("nhs", WRONG_CHECK)
def test_wrong_check_digit_rejected(nhs: str) -> None:
    with pytest.raises(ValidationFailedError, match="check digit is"):
        normalise_nhs_number(nhs)


@pytest.mark.parametrize("nhs", NO_CHECK)
def test_remainder_ten_rejected(nhs: str) -> None:
    with pytest.raises(ValidationFailedError, match="no valid modulus 11 check digit"):
        normalise_nhs_number(nhs)


@pytest.mark.parametrize("bad", ["", "123", "94347659190", "943476591X", "９４３４７６５９１９"])
def test_malformed_rejected(bad: str) -> None:
    assert not is_valid(bad)


def test_register_read_search(svc: Svc) -> None:
    pid = svc.new_patient("943 476 5919")
    r = svc.client.get(f"/patients/{pid}", headers=svc.h("lab_scientist"))
    assert r.status_code == 200
    assert r.json()["nhs_number"] == "9434765919"
    r = svc.client.get("/patients", params={"nhs_number": "943-476-5919"},
                       headers=svc.h("prescriber"))
    assert [p["id"] for p in r.json()] == [pid]
    r = svc.client.get("/patients", params={"family_name": "smi"}, headers=svc.h("prescriber"))
    assert [p["id"] for p in r.json()] == [pid]
    actions = [(a.action, a.patient_id, a.outcome) for a in svc.audit(patient_id=pid)]
    assert actions == [("patient.create", pid, "ok"), ("patient.read", pid, "ok"),
                       ("patient.search", pid, "ok"), ("patient.search", pid, "ok")]
    row = svc.audit(action="patient.read")[0]
    assert row.username == "user-lab-scientist" and row.route == "/patients/{patient_id}"
    assert row.method == "GET" and row.at is not None


def test_invalid_nhs_number_is_a_clear_422(svc: Svc) -> None:
    bad = WRONG_CHECK[0]
    r = svc.client.post("/patients", headers=svc.h("prescriber"), json={
        "nhs_number": bad, "family_name": "X", "given_name": "Y", "date_of_birth": "1980-01-01"})
    assert r.status_code == 422
    body = r.json()
    assert set(body) == {"error", "hint"}
    assert f"invalid NHS number {bad!r}" in body["error"]
    assert "modulus 11" in body["error"]


def test_duplicate_nhs_number_conflicts(svc: Svc) -> None:
    svc.new_patient()
    r = svc.client.post("/patients", headers=svc.h("lab_scientist"), json={
        "nhs_number": "943 476 5919", "family_name": "Other", "given_name": "P",
        "date_of_birth": "1990-05-05"})
    assert r.status_code == 409
    assert "already exists" in r.json()["error"]


def test_future_birth_date_rejected(svc: Svc) -> None:
    r = svc.client.post("/patients", headers=svc.h("prescriber"), json={
        "nhs_number": VALID[1], "family_name": "X", "given_name": "Y",
        "date_of_birth": "2999-01-01"})
    assert r.status_code == 422 and "future" in r.json()["error"]


def test_unknown_patient_is_404_and_audited(svc: Svc) -> None:
    r = svc.client.get("/patients/999", headers=svc.h("prescriber"))
    assert r.status_code == 404
    assert r.json() == {"error": "no patient with id 999", "hint": None}
    rows = svc.audit(patient_id=999)
    assert [(a.action, a.outcome) for a in rows] == [("patients:read", "error 404")]
