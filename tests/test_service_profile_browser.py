"""The patient's PGx profile in headless Chromium (Debian `chromium`, Playwright for Python)
against a real `pgxguard serve`: issue 12's VCF-then-TSV scenario, a conflict resolved by the
laboratory, and a VCF with outside calls in one upload.

Expected texts come from the engine and the knowledge base (`pgxguard call VCF --outside-calls
TSV`, `review`), not from the page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from browser_support import needs_chromium
from pgxguard import call
from pgxguard.guidance.review import review
from test_service_support import DEMO_VCF
from test_service_web_browser import (
    Shots,
    register_and_upload,
    server,
    sign_in,
    sign_out,
    watched_page,
)

pytestmark = needs_chromium
__all__ = ["server"]  # the fixture, shared with test_service_web_browser

SCENARIO_TSV = ("sample\tgene\tdiplotype\tphenotype\tactivity_score\n"
                "PATIENT1\tCYP2D6\t*1/*2x2\t\t\n"
                "PATIENT1\tHLA-B\t*57:01/*08:01\t\t\n")
OTHER_CYP2C19 = ("sample\tgene\tdiplotype\tphenotype\tactivity_score\n"
                 "PATIENT1\tCYP2C19\t*1/*1\t\t\n")
MEDS = ["clopidogrel", "abacavir"]


def _upload_outside(page: Any, patient_url: str, path: Path) -> str:
    """Upload outside calls from the patient's page; returns the result page's URL."""
    page.goto(patient_url)
    page.check('input[name="kind"][value="outside_calls"]')
    page.set_input_files('#upload-form input[name="file"]', str(path))
    page.click('#upload-form button[type="submit"]')
    page.wait_for_selector("#calls")
    url: str = page.url
    return url


def _sign_off(page: Any, result_url: str) -> None:
    page.goto(result_url)
    page.fill('#signoff-form input[name="note"]', "checked")
    page.click('#signoff-form button[type="submit"]')
    page.wait_for_function(
        "() => document.querySelector('#signoff-status').textContent.includes('Authorised')")


def _review(page: Any, patient_url: str, meds: list[str]) -> dict[str, str]:
    page.goto(patient_url)
    page.fill('#review-form textarea[name="medicines"]', "\n".join(meds))
    page.click('#review-form button[type="submit"]')
    page.wait_for_selector("#review-items")
    return {d: page.locator(f'article[data-drug="{d}"] .badge').first.inner_text()
            for d in meds}


def test_vcf_then_outside_calls_profile(server: str, browser: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = server
    shots = Shots(tmp_path)
    tsv = tmp_path / "cyp2d6-hla.tsv"
    tsv.write_text(SCENARIO_TSV)
    other = tmp_path / "other-lab-cyp2c19.tsv"
    other.write_text(OTHER_CYP2C19)
    combined = call(DEMO_VCF, samples=["PATIENT1"], outside_calls=tsv)
    expected = {i.drug: i.action.value
                for i in review(combined, MEDS, sample="PATIENT1").items}
    assert expected["abacavir"] == "avoid"
    cyp2c19 = "/".join(combined.samples[0].gene("CYP2C19").diplotypes[0])

    context, page, problems = watched_page(browser)

    # ---- lab: the VCF, then the CYP2D6/HLA-B outside calls as a second result -----------
    sign_in(page, base, "lab1")
    patient_url = register_and_upload(page)
    vcf_url: str = page.url
    tsv_url = _upload_outside(page, patient_url, tsv)
    vcf_id, tsv_id = vcf_url.rsplit("/", 1)[1], tsv_url.rsplit("/", 1)[1]
    sign_out(page, base)
    sign_in(page, base, "check1")
    _sign_off(page, vcf_url)
    _sign_off(page, tsv_url)
    sign_out(page, base)

    # ---- prescriber: the profile holds both; the review uses both ------------------------
    sign_in(page, base, "pharm1")
    page.goto(patient_url)
    rows = {g: page.locator(f'#profile-genes tr[data-gene="{g}"]')
            for g in ("CYP2C19", "CYP2D6", "HLA-B")}
    assert cyp2c19 in rows["CYP2C19"].inner_text()
    assert f"#{vcf_id} v1" in rows["CYP2C19"].inner_text()
    assert f"#{tsv_id} v1" in rows["CYP2D6"].inner_text()
    assert "*57:01" in rows["HLA-B"].inner_text() and f"#{tsv_id} v1" in rows["HLA-B"].inner_text()
    assert page.locator("#profile-conflicts").count() == 0
    shots.take(page, "ui-profile")
    assert _review(page, patient_url, MEDS) == expected
    assert page.locator("#review-profile").inner_text().count("version 1") == 2
    shots.take(page, "ui-profile-review")
    sign_out(page, base)

    # ---- a disagreeing CYP2C19 call: flagged, result incomplete, resolved by the lab -----
    sign_in(page, base, "lab1")
    other_url = _upload_outside(page, patient_url, other)
    sign_out(page, base)
    sign_in(page, base, "check1")
    _sign_off(page, other_url)
    page.goto(base + "/ui")
    assert "CYP2C19" in page.locator("#conflict-worklist").inner_text()
    page.click(f'#conflict-worklist a[href^="{patient_url.removeprefix(base)}"]')
    page.wait_for_selector("#profile-conflicts")
    assert "CYP2C19" in page.locator("#profile-conflicts").inner_text()
    row = page.locator('#profile-genes tr[data-gene="CYP2C19"]')
    assert "conflict: result incomplete" in row.inner_text()
    shots.take(page, "ui-profile-conflict")
    page.click("#profile-report")
    page.wait_for_selector("h1")
    report = page.locator("body").inner_text()
    assert "RESULT INCOMPLETE: signed-off results disagree on CYP2C19" in report
    assert "CYP2C19: signed-off results disagree" in report
    assert f"result {tsv_id} v1" in report and "*57:01/*08:01" in report
    page.goto(patient_url)
    sign_out(page, base)
    sign_in(page, base, "pharm1")
    assert _review(page, patient_url, ["clopidogrel"]) == {"clopidogrel": "result incomplete"}
    sign_out(page, base)
    sign_in(page, base, "check1")
    page.goto(patient_url)
    form = page.locator(f'#profile-genes tr[data-gene="CYP2C19"] li[data-result="{vcf_id}"] '
                        "form.resolve-form")
    form.locator('input[name="reason"]').fill("VCF confirmed by a second assay")
    form.locator('button[type="submit"]').click()
    page.wait_for_function("() => !document.querySelector('#profile-conflicts')")
    row = page.locator('#profile-genes tr[data-gene="CYP2C19"]')
    assert cyp2c19 in row.inner_text() and f"#{vcf_id} v1" in row.inner_text()
    assert "VCF confirmed by a second assay" in row.inner_text()
    page.goto(base + "/ui")
    assert page.locator("#conflict-worklist tr[data-patient]").count() == 0
    sign_out(page, base)
    assert problems == [], problems
    context.close()


def test_vcf_and_outside_calls_in_one_upload(server: str, browser: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = server
    tsv = tmp_path / "cyp2d6-hla.tsv"
    tsv.write_text(SCENARIO_TSV)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in(page, base, "lab1")
    page.click('nav a[href="/ui/patients/new"]')
    page.fill('input[name="nhs_number"]', "4010232137")
    page.fill('input[name="family_name"]', "Khan")
    page.fill('input[name="given_name"]', "Sara")
    page.fill('input[name="date_of_birth"]', "1975-06-07")
    page.click('#new-patient button[type="submit"]')
    page.wait_for_selector("#patient-name")
    patient_url = page.url
    page.check('input[name="kind"][value="vcf"]')
    page.set_input_files('#upload-form input[name="file"]', str(DEMO_VCF))
    page.set_input_files('#upload-form input[name="outside_file"]', str(tsv))
    page.fill('#upload-form input[name="sample"]', "PATIENT1")
    page.click('#upload-form button[type="submit"]')
    page.wait_for_url(patient_url + "#profile")
    kinds = page.locator("#results tbody tr").all_inner_texts()
    assert len(kinds) == 2
    assert "(vcf)" in kinds[0] and "(outside calls)" in kinds[1]
    assert "provisional" in kinds[0] and "provisional" in kinds[1]
    assert page.locator("#profile-pending a").count() == 2
    context.close()
