"""The clinician HTML in a real browser: headless Chromium (Debian `chromium`) driven by
Playwright for Python, no browser download. Saves a screenshot and an A4 PDF under tmp_path."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from browser_support import needs_chromium
from pgxguard.report import make_report
from pgxguard.report.html import clinician_html, patient_html
from pgxguard.report.view import PatientIds
from test_report_support import GENES, SAMPLE, make_calls, make_review

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

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
    # position-level evidence sits in the appendix: short lists in full, long ones collapsed
    assert page.locator('li[data-positions-for="SLCO1B1"] .positions-all').is_visible()
    missing = page.locator('li[data-positions-for="TPMT"] details')
    assert missing.locator("summary").inner_text() == "TPMT: 12 missing positions"
    assert not missing.locator(".positions").is_visible()  # collapsed on screen
    missing.locator("summary").click()
    assert missing.locator(".positions").is_visible()
    assert page.locator("#review .badge.act-avoid").first.is_visible()
    assert page.locator("article.review-item").count() == len(make_review().items)
    assert page.locator("tr.summary-item").count() == 4
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
    # print media: a long list prints as its span, not as pages of chr:pos
    page.emulate_media(media="print")
    assert not page.locator('li[data-positions-for="TPMT"] details').is_visible()
    assert page.locator('li[data-positions-for="TPMT"] .positions-span').is_visible()
    assert page.locator('li[data-positions-for="SLCO1B1"] .positions-all').is_visible()
    page.close()


def test_patient_summary_renders(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "patient.html"
    path.write_text(patient_html(make_calls(), make_review(), SAMPLE), encoding="utf-8")
    page = browser.new_page()
    page.goto(path.as_uri())
    assert page.locator("#tested").inner_text().startswith(
        f"You were tested for {len(GENES)} genes.")
    assert page.locator("#results li").count() == len(GENES) - 1  # all but TPMT (no call)
    assert page.locator("#medicines li").count() == len(make_review().items)
    assert page.locator("#tell").is_visible()
    page.screenshot(path=str(tmp_path / "patient.png"), full_page=True)
    pdf = page.pdf(format="A4")
    assert pdf_pages(pdf) >= 1
    page.close()


# --- the demo, printed as a clinician and a patient would print it ------------------------------

DEMO_IDS = PatientIds(name="DEMO, Patient", nhs_number="9434765919", birth_date="1970-01-01")
MM = 96 / 25.4  # CSS px per mm
A4_WIDTH_MM = 210


def demo_page(fmt: str) -> str:
    pytest.importorskip("pgxguard.guidance.review")
    return make_report(EXAMPLES / "demo.vcf", EXAMPLES / "demo-outside-calls.tsv",
                       meds=EXAMPLES / "demo-medicines.txt", sample="PATIENT1", fmt=fmt,
                       patient=DEMO_IDS)


def printable_width_px(html: str) -> float:
    """A4 width less the left and right margins of the report's own `@page` rule."""
    m = re.search(r"@page \{ size: A4; margin: ([\d.]+)mm ([\d.]+)mm", html)
    assert m, "the report sets A4 page margins"
    return (A4_WIDTH_MM - 2 * float(m.group(2))) * MM


OVERFLOW_JS = """(limit) => {
  const out = [];
  for (const e of document.body.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;  // not rendered (display: none)
    if (r.right > limit + 0.5 || r.left < -0.5) out.push(e.tagName + '.' + e.className);
    const cell = e.parentElement && e.parentElement.closest('td, th');
    if (cell && r.right > cell.getBoundingClientRect().right + 0.5)
      out.push('past its cell: ' + e.tagName + '.' + e.className);
  }
  return out;
}"""


def print_pdf(browser, path: Path, html: str) -> tuple[bytes, list[str]]:  # type: ignore[no-untyped-def]
    """Print as Chromium prints (A4, the page's own margins) and list the elements wider than
    the printable width, laid out at exactly that width in print media."""
    path.write_text(html, encoding="utf-8")
    page = browser.new_page()
    page.goto(path.as_uri())
    page.emulate_media(media="print")
    width = printable_width_px(html)
    page.set_viewport_size({"width": int(width), "height": 1000})
    wide = page.evaluate(OVERFLOW_JS, width)
    pdf = page.pdf(format="A4", print_background=True)
    path.with_suffix(".pdf").write_bytes(pdf)
    page.close()
    return pdf, wide


def pdf_texts(pdf: bytes) -> list[str]:
    pypdf = pytest.importorskip("pypdf")
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def test_demo_clinician_report_fits_a4_with_identifiers_on_every_page(  # type: ignore[no-untyped-def]
        browser, tmp_path: Path) -> None:
    html = demo_page("html")
    pdf, wide = print_pdf(browser, tmp_path / "demo-report.html", html)
    assert wide == []
    pages = pdf_texts(pdf)
    assert 1 <= len(pages) <= 4
    for n, text in enumerate(pages, start=1):
        flat = " ".join(text.split())
        for ident in ("DEMO, Patient", "943 476 5919", "1970-01-01", "PATIENT1"):
            assert ident in flat, (n, ident)
        assert "Not signed off" in flat, n  # the CLI's report carries no laboratory sign-off
        assert f"Page {n} of {len(pages)}" in flat
    first = " ".join(pages[0].split())
    # page 1: the summary, most urgent first
    assert "Summary" in first and first.index("abacavir") < first.index("warfarin")
    assert "no change" in first
    # a long list of missing positions is not printed position by position
    assert "RYR1: 313 missing" in " ".join(" ".join(pages).split())
    assert "rs193922745" not in " ".join(pages)


def test_demo_patient_summary_prints_on_two_pages_at_most(  # type: ignore[no-untyped-def]
        browser, tmp_path: Path) -> None:
    html = demo_page("patient")
    pdf, wide = print_pdf(browser, tmp_path / "demo-patient.html", html)
    assert wide == []
    pages = pdf_texts(pdf)
    assert 1 <= len(pages) <= 2
    text = " ".join(" ".join(pages).split())
    assert "HLA-B" in text and "VKORC1" in text
    assert "Codeine is contra-indicated" not in text  # professional wording stays out


def test_demo_review_alone_fits_a4_width(browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`pgxguard review --format html`: its table stays inside the printable width too."""
    pytest.importorskip("pgxguard.guidance.review")
    from pgxguard import call
    from pgxguard.report import parse_meds, run_review
    from pgxguard.report.html import review_html

    calls = call(EXAMPLES / "demo.vcf", samples=["PATIENT1"],
                 outside_calls=EXAMPLES / "demo-outside-calls.tsv")
    review = run_review(calls, parse_meds(EXAMPLES / "demo-medicines.txt"), "PATIENT1")
    _pdf, wide = print_pdf(browser, tmp_path / "review.html", review_html(review))
    assert wide == []
