"""The clinician HTML in a real browser: headless Chromium (Debian `chromium`) driven by
Playwright for Python, no browser download. Saves a screenshot and an A4 PDF under tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_support import needs_chromium
from pgxguard.report.html import clinician_html, patient_html
from test_report_support import GENES, SAMPLE, make_calls, make_review

pytestmark = [needs_chromium, pytest.mark.slow]




def pdf_pages(pdf: bytes) -> int:
    return pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")


def test_clinician_report_renders_and_prints(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "report.html"
    path.write_text(clinician_html(make_calls(), make_review(), SAMPLE), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1000, "height": 1400})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    assert requests == [path.as_uri()]  # self-contained: nothing else is fetched

    assert page.locator("h1").inner_text() == "Pharmacogenomic report"
    for g in GENES:
        assert page.locator(f'tr[data-gene="{g}"]').is_visible(), g
    assert page.locator('tr[data-gene="CYP2D6"] .badge.tie').is_visible()
    assert page.locator('tr[data-gene="CYP2C19"] .not-assessed').is_visible()
    assert page.locator('tr[data-gene="SLCO1B1"] .missing-count').inner_text() == "3 missing"
    missing = page.locator('tr[data-positions-for="SLCO1B1"] details')
    assert missing.locator("summary").inner_text() == "SLCO1B1: 3 missing positions"
    assert not missing.locator(".positions").is_visible()  # collapsed on screen
    missing.locator("summary").click()
    assert missing.locator(".positions").is_visible()
    assert page.locator("#review .badge.act-avoid").first.is_visible()
    assert page.locator("tr.review-item").count() == len(make_review().items)
    assert page.locator(".kb-version").inner_text() == "kb-test-1.2.3"
    assert page.locator("#disclaimer").is_visible()
    # the badge colour really applies (CSS inline and parsed)
    colour = page.locator("#review .badge.act-avoid").first.evaluate(
        "e => getComputedStyle(e).backgroundColor")
    assert colour == "rgb(176, 0, 32)"

    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    pdf = page.pdf(format="A4", print_background=True)
    (tmp_path / "report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF") and pdf_pages(pdf) >= 1
    # print media: collapsed lists of missing positions are printed open
    page.emulate_media(media="print")
    assert page.locator('tr[data-positions-for="TPMT"] details .positions').is_visible()
    page.close()


def test_patient_summary_renders(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "patient.html"
    path.write_text(patient_html(make_calls(), make_review(), SAMPLE), encoding="utf-8")
    page = browser.new_page()
    page.goto(path.as_uri())
    assert page.locator("#tested").inner_text() == f"You were tested for {len(GENES)} genes."
    assert page.locator("#affecting li").count() == 4
    assert page.locator("#tell").is_visible()
    page.screenshot(path=str(tmp_path / "patient.png"), full_page=True)
    pdf = page.pdf(format="A4")
    assert pdf_pages(pdf) >= 1
    page.close()
