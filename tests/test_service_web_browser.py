"""The web UI end to end in headless Chromium (Debian `chromium`, Playwright for Python, no
browser download) against a real `pgxguard serve` on a free loopback port with SQLite in tmp_path.

Lab: sign in, register a patient, upload examples/demo.vcf (PATIENT1), see the calls; a second
lab scientist signs the result off. Prescriber: review clopidogrel + codeine, order a DPYD test.
Lab: progress it to reported.
Expected texts come from the engine and the knowledge base (`call`, `review`), not from the page.
Screenshots go to tmp_path, and to docs/screenshots/ when PGXGUARD_SAVE_SCREENSHOTS is set.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import test_service_support as support
from browser_support import needs_chromium
from pgxguard.call.pipeline import call
from pgxguard.guidance.review import review
from pgxguard.report.view import diplotype_str, sorted_items, source_label
from pgxguard.service.auth import service as auth_service
from pgxguard.service.db import make_engine, session_factory
from pgxguard.service.settings import Settings
from test_service_support import DEMO_VCF, PASSWORD

DOCS_SHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
NHS = "9434765919"

pytestmark = [needs_chromium, pytest.mark.slow]

_fast_password_hashing = support._fast_password_hashing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`pgxguard serve` in a subprocess; a lab scientist and a prescriber exist."""
    data = tmp_path / "data"
    port = _free_port()
    env = {**os.environ, "PGXGUARD_DATA_DIR": str(data), "PGXGUARD_ENV": "development"}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "pgxguard.cli", "serve", "--port",
                             str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError((tmp_path / "server.log").read_text()[-2000:]) from None
                time.sleep(0.2)
        engine = make_engine(Settings(data_dir=data))
        with session_factory(engine)() as s:
            auth_service.create_user(s, "lab1", PASSWORD, "lab_scientist")
            auth_service.create_user(s, "check1", PASSWORD, "lab_scientist")
            auth_service.create_user(s, "pharm1", PASSWORD, "prescriber")
            s.commit()
        engine.dispose()
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()




class Shots:
    def __init__(self, tmp_path: Path) -> None:
        self.dirs = [tmp_path / "screenshots"]
        if os.environ.get("PGXGUARD_SAVE_SCREENSHOTS"):
            self.dirs.append(DOCS_SHOTS)
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> Path:
        first = self.dirs[0] / f"{name}.png"
        page.screenshot(path=str(first), full_page=True)
        png = first.read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000, name
        for d in self.dirs[1:]:
            (d / first.name).write_bytes(png)
        return first


def watched_page(browser: Any) -> tuple[Any, Any, list[str]]:
    """A new desktop-sized page whose console errors and uncaught exceptions are collected,
    so a test can assert the UI ran without any."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return context, page, problems


def sign_in(page: Any, base: str, user: str) -> None:
    page.goto(base + "/ui")
    assert "/ui/login" in page.url  # not signed in: redirected
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', PASSWORD)
    page.click('#login-form button[type="submit"]')
    page.wait_for_url(base + "/ui")
    assert user in page.locator("#whoami").inner_text()


def sign_out(page: Any, base: str) -> None:
    page.click('form.signout button[type="submit"]')
    page.wait_for_url(base + "/ui/login")


def register_and_upload(page: Any) -> str:
    """As a lab scientist: register Mary Jones, upload examples/demo.vcf (PATIENT1) from her
    page and wait for the calls. Returns the patient page's URL."""
    page.click('nav a[href="/ui/patients/new"]')
    page.fill('input[name="nhs_number"]', "943 476 5919")
    page.fill('input[name="family_name"]', "Jones")
    page.fill('input[name="given_name"]', "Mary")
    page.fill('input[name="date_of_birth"]', "1961-03-04")
    page.click('#new-patient button[type="submit"]')
    page.wait_for_selector("#patient-name")
    assert page.locator("#patient-name").inner_text() == "Jones, Mary"
    patient_url: str = page.url
    page.check('input[name="kind"][value="vcf"]')
    page.set_input_files('input[name="file"]', str(DEMO_VCF))
    page.fill('#upload-form input[name="sample"]', "PATIENT1")
    page.click('#upload-form button[type="submit"]')
    page.wait_for_selector("#calls")
    return patient_url


def test_lab_and_prescriber_workflow(server: str, browser: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    base = server
    shots = Shots(tmp_path)
    expected_calls = call(DEMO_VCF, samples=["PATIENT1"])
    sample = expected_calls.samples[0]
    expected_review = review(expected_calls, ["clopidogrel", "codeine"], sample="PATIENT1")

    context, page, problems = watched_page(browser)

    # ---- laboratory scientist: register, upload, see calls ------------------------------
    sign_in(page, base, "lab1")
    shots.take(page, "ui-lab-home")
    patient_url = register_and_upload(page)
    assert page.locator("#kb-version").inner_text() == expected_calls.knowledge_base["version"]
    for g in sample.genes:
        row = page.locator(f'#calls tr[data-gene="{g.gene}"]')
        assert row.is_visible(), g.gene
        if g.diplotypes:
            assert diplotype_str(g.diplotypes[0]) in row.inner_text(), g.gene
        if g.phenotype:
            assert g.phenotype in row.inner_text(), g.gene
        if g.missing_positions:
            assert row.locator(".missing-count").inner_text() == \
                f"{len(g.missing_positions)} missing"
    shots.take(page, "ui-result")
    result_url = page.url
    page.click("#report-link")
    page.wait_for_selector("h1")
    assert page.locator("h1").inner_text() == "Pharmacogenomic report"
    shots.take(page, "ui-clinician-report")
    page.goto(result_url)
    assert page.locator("#signoff-form").count() == 0  # the uploader cannot sign it off
    sign_out(page, base)

    # ---- a second laboratory scientist signs the result off ---------------------------
    sign_in(page, base, "check1")
    page.goto(result_url)
    assert "Provisional" in page.locator("#signoff-status").inner_text()
    page.fill('#signoff-form input[name="note"]', "checked against the VCF")
    page.click('#signoff-form button[type="submit"]')
    page.wait_for_function(
        "() => document.querySelector('#signoff-status').textContent.includes('Authorised')")
    assert "check1" in page.locator("#signoff-status").inner_text()
    shots.take(page, "ui-result-signed-off")
    sign_out(page, base)

    # ---- prescriber: find the patient (htmx search), review medicines, order a test -----
    sign_in(page, base, "pharm1")
    page.fill("#q", NHS)
    page.click('#search-form button[type="submit"]')
    page.wait_for_selector('#search-results tr[data-patient] a')
    page.click('#search-results tr[data-patient] a')
    page.wait_for_url(patient_url)
    page.fill('#review-form textarea[name="medicines"]', "clopidogrel\ncodeine")
    page.click('#review-form button[type="submit"]')
    page.wait_for_selector("#review-items")
    for item in sorted_items(expected_review):
        card = page.locator(f'article[data-drug="{item.drug}"]')
        assert card.locator(".badge").first.inner_text() == item.action.value, item.drug
        for rec in item.recommendations:
            assert card.get_by_text(source_label(rec), exact=False).first.is_visible()
            assert rec.text.strip()[:80] in card.inner_text(), item.drug
    assert any(i.recommendations for i in expected_review.items)
    shots.take(page, "ui-review")
    page.goto(patient_url)
    page.select_option('#order-form select[name="test_code"]', "PGX-DPYD")
    page.fill('#order-form input[name="trigger_drug"]', "capecitabine")
    page.click('#order-form button[type="submit"]')
    page.wait_for_selector("#order-status")
    assert page.locator("#order-status").inner_text() == "requested"
    assert "DPYD" in page.locator("#test-name").inner_text()
    order_url = page.url
    sign_out(page, base)

    # ---- laboratory: worklist, progress to reported (htmx swaps, no page loads) ----------
    sign_in(page, base, "lab1")
    page.click(f'#worklist a[href="{order_url.removeprefix(base)}"]')
    page.wait_for_url(order_url)
    navigations: list[str] = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame
            else None)
    for to, label in (("sample_received", "sample received"), ("in_analysis", "in analysis"),
                      ("reported", "reported")):
        page.click(f'form.progress[data-to="{to}"] button[type="submit"]')
        page.wait_for_function(
            "t => document.querySelector('#order-status').textContent === t", arg=label)
    assert navigations == []  # htmx swapped #order in place
    assert page.locator("#events tbody tr").count() == 4
    assert page.locator('#order a[href^="/ui/results/"]').is_visible()
    assert page.locator("#cancel-form").count() == 0
    shots.take(page, "ui-order-reported")
    page.reload()  # the same state without JavaScript's help
    assert page.locator("#order-status").inner_text() == "reported"
    assert problems == [], problems  # no CSP violations or script errors
    context.close()


def test_admin_and_reinterpretation(server: str, browser: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An administrator adds a lab scientist on the users page; that user signs in, uploads
    the demo VCF and re-interprets it from the result page: version 2, no call changed (same
    knowledge base), both versions listed."""
    base = server
    shots = Shots(tmp_path)
    engine = make_engine(Settings(data_dir=tmp_path / "data"))
    with session_factory(engine)() as s:
        auth_service.create_user(s, "admin1", PASSWORD, "admin")
        s.commit()
    engine.dispose()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, base, "admin1")
    page.click('nav a[href="/ui/users"]')
    page.fill('#new-user input[name="username"]', "lab2")
    page.fill('#new-user input[name="password"]', PASSWORD)
    page.select_option('#new-user select[name="role"]', "lab_scientist")
    page.click('#new-user button[type="submit"]')
    page.wait_for_selector('#users tr[data-user="lab2"]')
    assert "lab scientist" in page.locator('#users tr[data-user="lab2"]').inner_text()
    shots.take(page, "ui-users")
    sign_out(page, base)

    sign_in(page, base, "lab2")
    register_and_upload(page)
    page.click('#reinterpret button[type="submit"]')
    page.wait_for_selector("#changes")
    assert "Changes from version 1" in page.locator("#changes").inner_text()
    assert "no call changed" in page.locator("#changes").inner_text()
    assert page.locator("#result-meta").inner_text().count("2 of 2") == 1
    shots.take(page, "ui-reinterpreted")
    assert problems == [], problems
    context.close()


def test_pages_work_without_javascript(server: str, browser: Any, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    sign_in(page, server, "pharm1")
    page.click('nav a[href="/ui/patients/new"]')
    page.fill('input[name="nhs_number"]', NHS)
    page.fill('input[name="family_name"]', "<b>Plain</b>")
    page.fill('input[name="given_name"]', "Form")
    page.fill('input[name="date_of_birth"]', "1990-01-01")
    page.click('#new-patient button[type="submit"]')
    page.wait_for_selector("#patient-name")
    assert page.locator("#patient-name").inner_text() == "<b>Plain</b>, Form"  # escaped
    page.goto(server + "/ui/patients")
    page.fill("#q", "<b>")
    page.click('#search-form button[type="submit"]')
    page.wait_for_selector("#search-results tr[data-patient]")
    assert "q=" in page.url
    Shots(tmp_path).take(page, "ui-search-no-js")
    context.close()
