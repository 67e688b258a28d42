"""`pgxguard cohort` as a batch job sees it: progress as log lines when stderr is not a terminal
(partitions, rate, ETA; then the analysis's steps) and a final line naming every output."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")
pytest.importorskip("polars")
pytest.importorskip("matplotlib")

from pgxguard.cohort.progress import StepLog, duration

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
HMS = r"\d+:\d\d:\d\d"


class FakeClock:
    def __init__(self, step: float) -> None:
        self.t = 0.0
        self.dt = step

    def __call__(self) -> float:
        return self.t

    def tick(self) -> None:
        self.t += self.dt


def run_steps(total: int, seconds_per_step: float, every: float = 60.0) -> list[str]:
    lines: list[str] = []
    clock = FakeClock(seconds_per_step)
    log = StepLog(lines.append, "work", total, "items", every=every, clock=clock)
    for _ in range(total):
        clock.tick()
        log.step()
    return lines


def test_step_log_every_tenth_with_eta() -> None:
    lines = run_steps(25, 2.0)
    # A line when done*10//25 grows: after 3, 5, 8, 10, 13, 15, 18, 20, 23 and 25 items.
    done = [int(re.match(r"work (\d+)/25", ln).group(1)) for ln in lines]  # type: ignore[union-attr]
    assert done == [3, 5, 8, 10, 13, 15, 18, 20, 23, 25]
    # after 5 items in 10 s: 0.5 items/s, 20 left -> 40 s
    assert lines[1] == "work 5/25 items (20 %), 0.5 items/s, elapsed 0:00:10, ETA 0:00:40"
    assert lines[-1] == "work 25/25 items (100 %), 0.5 items/s, elapsed 0:00:50"  # no ETA


def test_step_log_at_least_every_interval() -> None:
    # 1,000 items of 10 s each: a tenth is 100 items (1,000 s); a line at least every 60 s
    lines = run_steps(1000, 10.0, every=60.0)
    done = [int(re.match(r"work ([\d,]+)/", ln).group(1).replace(",", ""))  # type: ignore[union-attr]
            for ln in lines]
    assert all(b - a <= 6 for a, b in itertools.pairwise(done))
    assert done[-1] == 1000
    assert duration(3725.4) == "1:02:05"


def test_heartbeat_when_no_step_finishes() -> None:
    """A slow first partition: a line once `every` seconds have passed without one."""
    lines: list[str] = []
    clock = FakeClock(1.0)
    log = StepLog(lines.append, "work", 10, "items", every=60.0, clock=clock)
    clock.t = 59.0
    log.heartbeat()
    assert lines == []
    clock.t = 61.0
    log.heartbeat()
    assert lines == ["work 0/10 items (0 %), 0.0 items/s, elapsed 0:01:01, ETA unknown (running)"]
    clock.t = 70.0
    log.heartbeat()  # 9 s after the last line: nothing
    clock.t = 80.0
    log.step(10)  # all done: the final line, and no heartbeat after it
    clock.t = 500.0
    log.heartbeat()
    assert len(lines) == 2 and lines[1].startswith("work 10/10 items (100 %)")


def test_heartbeat_thread_stops() -> None:
    from pgxguard.cohort.progress import Heartbeat

    log = StepLog(lambda _line: None, "work", 1, "items")
    with Heartbeat(log, interval=0.01) as beat:
        pass
    assert not beat._thread.is_alive()


@pytest.fixture(scope="module")
def small_cohort(kb: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from test_cohort_engine import _cohort_vcf

    d = tmp_path_factory.mktemp("cli")
    vcf = _cohort_vcf(kb, 60).write(d / "cohort.vcf.gz", compress="bgzip", index=True)
    info = d / "samples.tsv"
    info.write_text("sample\tpopulation\tsuperpopulation\n" + "".join(
        f"S{i:03d}\t{'GBR' if i % 2 else 'YRI'}\t{'EUR' if i % 2 else 'AFR'}\n"
        for i in range(60)))
    return vcf, info


def test_cli_progress_lines_and_final_line(small_cohort: tuple[Path, Path],
                                           tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pgxguard.cli import app

    vcf, info = small_cohort
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["cohort", str(vcf), "-o", str(out), "--genes", "TPMT,NUDT15",
                                   "--chunk-samples", "15", "--workers", "1",
                                   "--samples-info", str(info)])
    assert res.exit_code == 0, res.output
    err = res.stderr.splitlines()
    assert all(re.match(STAMP + " ", ln) for ln in err if "cohort:" in ln or "analysis:" in ln)
    assert any(re.fullmatch(STAMP + r" cohort: 60 samples x 2 genes: 8 partitions to compute, "
                                     r"0 already done", ln) for ln in err), err
    # 2 genes x 4 blocks of 15 samples: 8 partitions, each one a tenth or more -> 8 lines
    part = [re.fullmatch(STAMP + r" cohort: (\d)/8 partitions \((\d+) %\), "
                                 r"[\d,]+ samples/s, elapsed " + HMS + "(, ETA " + HMS + ")?", ln)
            for ln in err if re.search(r"cohort: \d+/", ln)]
    assert all(part), err
    assert [int(m.group(1)) for m in part if m] == list(range(1, 9))
    assert [int(m.group(2)) for m in part if m] == [round(100 * k / 8) for k in range(1, 9)]
    assert all(m.group(3) for m in part[:-1] if m) and part[-1] and not part[-1].group(3)
    # the analysis reports its steps too (it used to be silent until the end)
    analysis = [ln.split(" ", 1)[1] for ln in err if " analysis: " in ln]
    assert re.fullmatch(r"analysis: 60 samples, 2 genes, \d+ drugs", analysis[0])
    assert any(re.match(r"analysis: frequencies 2/2 genes \(100 %\)", ln) for ln in analysis)
    n_drugs = int(analysis[0].split(", ")[2].split()[0])
    assert any(re.match(rf"analysis: actionable burden {n_drugs}/{n_drugs} drugs \(100 %\)", ln)
               for ln in analysis)
    assert "analysis: plots and HTML report" in analysis
    assert re.fullmatch(r"analysis: done in " + HMS, analysis[-1])
    # the final line names each output, and each one is there
    final = res.stdout.splitlines()[-1]
    assert final.startswith("outputs: ")
    named = dict(p.split(" ", 1) if not p.startswith("HTML") else ("report", p.split(" ", 2)[2])
                 for p in final.removeprefix("outputs: ").split("; "))
    assert named == {"calls": str(out / "calls"), "manifest": str(out / "manifest.json"),
                     "tables": str(out / "frequencies"),
                     "report": str(out / "plots" / "cohort_report.html")}
    assert all(Path(p).exists() for p in named.values())


def test_cli_final_line_without_samples_info(small_cohort: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pgxguard.cli import app

    vcf, _info = small_cohort
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["cohort", str(vcf), "-o", str(out), "--genes", "TPMT",
                                   "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[-1] == (
        f"outputs: calls {out / 'calls'}; manifest {out / 'manifest.json'}; "
        "no frequency tables or report (they need --samples-info)")
    assert " analysis: " not in res.stderr
