"""Cohort plots readable on screen and in print: no text overlaps another (the figure title
over a panel title was the bug), nothing clipped, and no text under 6 pt on an A4 page.

Checked twice: on the figures as matplotlib lays them out (the PNG files), and in the HTML
report rendered by headless Chromium (Debian `chromium`, Playwright), on screen and with print
media at the printable width of A4, with screenshots and a PDF under tmp_path."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("polars")
matplotlib = pytest.importorskip("matplotlib")

from browser_support import needs_chromium  # noqa: E402
from pgxguard.cohort.analysis import analyse  # noqa: E402
from test_cohort_analysis import row, write_calls, write_info  # noqa: E402

SUPERPOPS = ("AFR", "AMR", "EAS", "EUR", "SAS")
PHENOTYPES = {
    "CYP2C19": ("Normal Metabolizer", "Intermediate Metabolizer", "Poor Metabolizer",
                "Rapid Metabolizer", "Ultrarapid Metabolizer", "Likely Intermediate Metabolizer"),
    "CYP2C9": ("Normal Metabolizer", "Intermediate Metabolizer", "Poor Metabolizer"),
    "TPMT": ("Normal Metabolizer", "Intermediate Metabolizer", "Poor Metabolizer"),
    "NUDT15": ("Normal Metabolizer", "Intermediate Metabolizer", "Poor Metabolizer"),
    "SLCO1B1": ("Normal Function", "Decreased Function", "Poor Function",
                "Possible Decreased Function", "Increased Function"),
    "CYP3A5": ("Poor Metabolizer", "Intermediate Metabolizer", "Normal Metabolizer"),
}
A4_PRINTABLE_PX = round((210 - 2 * 12) / 25.4 * 96)  # A4 width minus the report's 12 mm margins
MIN_PT = 6.0


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """120 samples in 5 superpopulations (+ 4 without info), 6 genes, every drug: a burden plot
    with 40 drugs x 7 groups and phenotype panels with long legends."""
    tmp = tmp_path_factory.mktemp("plots")
    rows, info = [], []
    for i in range(124):
        s = f"P{i:03d}"
        if i < 120:
            sp = SUPERPOPS[i % 5]
            info.append((s, sp + "POP", sp, "female" if i % 2 else "male"))
        for k, (gene, phs) in enumerate(PHENOTYPES.items()):
            j = (i * (k + 1) + i // 7) % (len(phs) + 1)
            if j == len(phs):
                rows.append(row(s, gene))  # a no call
            else:
                rows.append(row(s, gene, [["*1", f"*{j + 1}"]], phs[j]))
    out = tmp / "out"
    write_calls(out, rows)
    return analyse(out, write_info(tmp / "samples.tsv", info))


def _overlaps(boxes: list[tuple[str, float, float, float, float]], tol: float) -> list[str]:
    bad = []
    for (ta, x0, y0, x1, y1), (tb, u0, v0, u1, v1) in itertools.combinations(boxes, 2):
        if min(x1, u1) - max(x0, u0) > tol and min(y1, v1) - max(y0, v0) > tol:
            bad.append(f"{ta!r} overlaps {tb!r}")
    return bad


@pytest.mark.parametrize("which", ["phenotype", "burden"])
def test_figure_texts_do_not_overlap(report: Any, which: str) -> None:
    """Every text of the figure (titles, ticks, legends, cell labels) by matplotlib's own
    extents: none overlaps another, none leaves the figure, none is under 6 pt."""
    import polars as pl
    from matplotlib.text import Text

    from pgxguard.cohort import analysis as an

    ph = pl.read_csv(report.files["phenotype_frequencies"], separator="\t")
    burden = pl.read_csv(report.files["actionable_burden"], separator="\t")
    fig = an._phenotype_figure(ph) if which == "phenotype" else an._burden_figure(burden)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    boxes = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        e = t.get_window_extent(renderer)
        assert e.x0 >= -0.5 and e.y0 >= -0.5 and e.x1 <= W + 0.5 and e.y1 <= H + 0.5, \
            f"{t.get_text()!r} is cut off"
        assert t.get_fontsize() >= MIN_PT, t.get_text()
        boxes.append((t.get_text(), e.x0, e.y0, e.x1, e.y1))
    assert len(boxes) > 20
    assert _overlaps(boxes, tol=0.5) == []
    # sized for A4: printed at 100 %, so the font sizes above are the printed sizes
    assert fig.get_figwidth() <= (A4_PRINTABLE_PX / 96) * (1 if which == "burden" else 2)


# JavaScript: every <text> of every figure, as page boxes, with its font size in CSS px after
# the SVG's scaling, and the figure's own box.
_TEXTS = """() => [...document.querySelectorAll('figure svg')].map((svg, i) => {
  const r = svg.getBoundingClientRect();
  const scale = r.width / svg.viewBox.baseVal.width;
  return {fig: svg.closest('figure').id || svg.closest('figure').dataset.gene || String(i),
          box: [r.left, r.top, r.right, r.bottom], width: r.width,
          texts: [...svg.querySelectorAll('text')].map(t => {
            const b = t.getBoundingClientRect();
            return {s: t.textContent, box: [b.left, b.top, b.right, b.bottom],
                    px: parseFloat(getComputedStyle(t).fontSize) * scale};
          })};
})"""


def _check_page(page: Any, max_width: float) -> list[dict[str, Any]]:
    figs: list[dict[str, Any]] = page.evaluate(_TEXTS)
    assert len(figs) >= 2
    for f in figs:
        assert f["width"] <= max_width + 0.5, f"{f['fig']} wider than {max_width} px"
        x0, y0, x1, y1 = f["box"]
        boxes = []
        for t in f["texts"]:
            if not t["s"].strip():
                continue
            a, b, c, d = t["box"]
            assert a >= x0 - 1 and b >= y0 - 1 and c <= x1 + 1 and d <= y1 + 1, \
                f"{t['s']!r} outside figure {f['fig']}"
            assert t["px"] * 0.75 >= MIN_PT, f"{t['s']!r} in {f['fig']}: {t['px'] * 0.75:.1f} pt"
            boxes.append((t["s"], a, b, c, d))
        assert _overlaps(boxes, tol=0.5) == [], f["fig"]
    # figures, headings and the table do not overlap one another on the page
    blocks = page.evaluate("""() => [...document.querySelectorAll('h1, h2, p, dl, figure, table')]
        .map(e => { const b = e.getBoundingClientRect();
                    return [e.tagName + ' ' + (e.id || e.textContent.slice(0, 30)),
                            b.left, b.top, b.right, b.bottom]; })""")
    assert _overlaps([tuple(b) for b in blocks], tol=1) == []
    return figs


def _titles_above_panels(figs: list[dict[str, Any]]) -> None:
    """The figure title sits above every panel title (the overlap the issue saw)."""
    burden = next(f for f in figs if f["fig"] == "burden-plot")
    texts = {t["s"]: t["box"] for t in burden["texts"]}
    title = texts["Share of people per drug and superpopulation (%)"]
    for panel in ("% actionable", "% monitor", "% result incomplete"):
        assert title[3] <= texts[panel][1], panel


@needs_chromium
def test_report_plots_on_screen(browser: Any, report: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.files["report"].as_uri())
    page.wait_for_load_state("load")
    assert requests == [report.files["report"].as_uri()]  # self-contained
    figs = _check_page(page, max_width=1200)
    _titles_above_panels(figs)
    assert {f["fig"] for f in figs} >= {"burden-plot", "CYP2C19", "TPMT", "SLCO1B1"}
    shot = tmp_path / "cohort_report_screen.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.close()


@needs_chromium
def test_report_plots_in_print(browser: Any, report: Any, tmp_path: Path) -> None:
    """Print media at A4's printable width: figures fit without scaling text below 6 pt, no
    overlaps; the PDF prints every figure whole (break-inside: avoid)."""
    page = browser.new_page(viewport={"width": A4_PRINTABLE_PX, "height": 1000})
    page.emulate_media(media="print", color_scheme="light")
    page.goto(report.files["report"].as_uri())
    page.wait_for_load_state("load")
    figs = _check_page(page, max_width=A4_PRINTABLE_PX)
    # nothing (figure or table) is wider than the printable width: no cut right edge
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_PRINTABLE_PX
    _titles_above_panels(figs)
    page.screenshot(path=str(tmp_path / "cohort_report_print.png"), full_page=True)
    pdf = page.pdf(format="A4", print_background=True, prefer_css_page_size=True)
    (tmp_path / "cohort_report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF")
    assert page.evaluate("""() => [...document.querySelectorAll('figure')].every(
        f => getComputedStyle(f).breakInside === 'avoid')""")
    page.close()
