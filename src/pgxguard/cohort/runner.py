"""`run_cohort`: plan partitions, run them on Dask, keep a restartable manifest.

Partitions are (gene, block of `chunk_samples` samples). Each one writes
`OUTDIR/calls/gene=G/part-K.parquet` atomically and then `OUTDIR/_partitions/G.K.json`; a rerun
into the same OUTDIR with the same input and options skips every partition that has both, so a
killed run resumes where it stopped. `OUTDIR/manifest.json` holds the provenance (knowledge
base, tool, build, options, input), the partitions done with their sample counts, and the bad
samples. With `scheduler=ADDRESS` the same tasks run on an existing dask.distributed cluster
(whose workers must see INPUT and OUTDIR at the same paths); otherwise a LocalCluster of
`workers` processes with one thread each is started and closed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pgxguard import __version__
from pgxguard.call.options import CallOptions
from pgxguard.cohort.engine import (
    DONE_DIR,
    PartitionResult,
    PartitionSpec,
    done_path,
    run_partition,
)
from pgxguard.cohort.progress import Heartbeat, LogLine, StepLog
from pgxguard.cohort.schema import CALLS_DIR, part_path
from pgxguard.errors import CohortError, InputError, VcfError
from pgxguard.kb.model import GeneDefinition

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "pgxguard.cohort/1"


@dataclass(frozen=True, slots=True)
class CohortSummary:
    outdir: Path
    samples: int
    genes: tuple[str, ...]
    partitions: int  # planned
    computed: int  # computed by this run
    skipped: int  # already done by an earlier run
    bad_samples: tuple[dict[str, str], ...]
    seconds: float
    warnings: tuple[str, ...] = ()
    analysis: Any = None  # what pgxguard.cohort.analysis.analyse returned, when it ran

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class _Input:
    kind: str
    path: str
    samples: list[str]
    build: str
    build_detected: bool
    identity: dict[str, Any]


def _open_input(path: str | Path, build: str | None) -> _Input:
    from pgxguard.cohort.io_plink import is_plink, plink_info
    from pgxguard.cohort.io_zarr import is_vcz, vcz_info

    p = Path(path)
    if is_plink(p):
        pinfo = plink_info(p, build)
        if pinfo.build is None:
            raise InputError("cannot tell the genome build (a .bim has no header; a .pvar "
                             "without ##contig lengths or ##reference says nothing)",
                             path=str(p), hint="pass --build GRCh38 or --build GRCh37")
        return _Input("plink", str(p.resolve()), pinfo.samples, pinfo.build,
                      pinfo.build_detected, pinfo.fingerprint)
    if is_vcz(p):
        info = vcz_info(p, build)
        if info.build is None:
            raise InputError("cannot tell the genome build from the store's metadata",
                             path=str(p), hint="pass --build GRCh38 or --build GRCh37")
        return _Input("vcz", str(p.resolve()), info.samples, info.build, info.build_detected,
                      {"metadata": hashlib.sha256(info.fingerprint.encode()).hexdigest()})
    from pgxguard.io.genotypes import has_index
    from pgxguard.io.vcf import VcfReader

    reader = VcfReader(p, build=build)
    try:
        if not reader.compressed or not has_index(str(p)):
            raise VcfError("the cohort path needs an indexed, bgzipped VCF or a BCF",
                           path=str(p), hint="run `bgzip` and `tabix -p vcf` (or "
                           "`bcftools index`), or convert it to VCF Zarr with vcf2zarr")
        if reader.build is None:
            raise VcfError("cannot tell the genome build from the header or contig lengths",
                           path=str(p), hint="pass --build GRCh38 or --build GRCh37")
        st = p.stat()
        return _Input("vcf", str(p.resolve()), list(reader.samples), reader.build,
                      reader.build_detected, {"size": st.st_size, "mtime_ns": st.st_mtime_ns})
    finally:
        reader.close()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    from pgxguard.io.atomic import write_text

    write_text(path, json.dumps(data, indent=2) + "\n")


def _fingerprint(identity: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()


def _prepare_outdir(out: Path, fingerprint: str, overwrite: bool) -> None:
    manifest = out / MANIFEST
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, json.JSONDecodeError):
            old = None
        if old != fingerprint:
            if not overwrite:
                raise InputError(
                    "this output directory holds a cohort run with a different input, options, "
                    "knowledge base or pgxguard version", path=str(out),
                    hint="pass --overwrite to replace it, or choose another -o OUTDIR")
            _clear(out)
    elif (out / CALLS_DIR).exists() or (out / DONE_DIR).exists():
        if not overwrite:
            raise InputError("this output directory holds cohort results without a manifest",
                             path=str(out), hint="pass --overwrite, or choose another OUTDIR")
        _clear(out)
    out.mkdir(parents=True, exist_ok=True)


def _clear(out: Path) -> None:
    for name in (CALLS_DIR, DONE_DIR):
        if (out / name).exists():
            shutil.rmtree(out / name)
    (out / MANIFEST).unlink(missing_ok=True)


def _is_done(out: Path, gene: str, block: int) -> PartitionResult | None:
    marker = done_path(out, gene, block)
    if not marker.exists() or not part_path(out, gene, block).exists():
        return None
    try:
        d = json.loads(marker.read_text(encoding="utf-8"))
        return PartitionResult(d["gene"], int(d["block"]), int(d["samples"]),
                               int(d["patterns"]), float(d["seconds"]),
                               list(d.get("bad_samples", [])))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _precheck_records(inp: _Input, defs: Sequence[GeneDefinition]) -> None:
    """As `pgxguard.call`: without --assume-reference, some record must touch some position."""
    from pgxguard.cohort.engine import read_partition
    from pgxguard.cohort.io_vcf import close_handles

    for d in defs:
        _samples, gr = read_partition(inp.kind, inp.path, d, 0, 1, inp.samples[:1])
        close_handles()
        if gr.records:
            return
    raise VcfError(f"no record overlaps any position of {', '.join(d.gene for d in defs)} "
                   f"({inp.build})", path=inp.path,
                   hint="check the genome build and contig names, or pass an input that covers "
                        "the pharmacogenes")


def _partitions_to_fail() -> Collection[str]:
    """Test seam ("GENE/BLOCK" keys): tests replace it so those partitions raise in the worker,
    as a killed worker would; the run then ends with `CohortError` after finishing the others."""
    return ()


def run_cohort(input: str | Path, outdir: str | Path, options: CallOptions | None = None, *,
               scheduler: str | None = None, workers: int | None = None,
               chunk_samples: int = 10_000, overwrite: bool = False,
               samples_info: str | Path | None = None, progress: bool = False,
               log: LogLine | None = None, **option_fields: Any) -> CohortSummary:
    """Call every sample x gene of a cohort into `OUTDIR/calls` (Parquet); see module doc.

    `options` (and keyword arguments naming its fields) as for `pgxguard.call`; a cohort calls
    every sample and takes no outside calls. `progress`: a live bar on stderr (a terminal).
    `log`: progress as log lines (partitions done, rate, ETA; the bar replaces them when
    `progress`) and the analysis's steps."""
    from pgxguard.call.pipeline import definitions_in_use, resolve_genes
    from pgxguard.kb.load import load_knowledge_base

    opts = CallOptions.of(options, **option_fields)
    if opts.samples is not None or opts.outside_calls is not None:
        raise InputError("a cohort run calls every sample and takes no outside calls",
                         hint="leave out --sample and --outside-calls (use `pgxguard call`)")
    genes, assume_reference = opts.genes, opts.assume_reference
    build, definitions = opts.build, opts.definitions
    t0 = time.perf_counter()
    if chunk_samples < 1:
        raise InputError("--chunk-samples must be at least 1")
    if workers is not None and workers < 1:
        raise InputError("--workers must be at least 1")
    kb = load_knowledge_base()
    defs_by_gene, kb_prov = definitions_in_use(kb, definitions)
    defs_dir = str(Path(definitions).resolve()) if definitions is not None else None
    inp = _open_input(input, build)
    gene_list = resolve_genes(kb, defs_by_gene, genes)
    warnings: list[str] = []
    defs: list[GeneDefinition] = []
    for g in gene_list:
        if inp.build in defs_by_gene[g]:
            defs.append(defs_by_gene[g][inp.build])  # type: ignore[index]
        else:
            warnings.append(f"{g}: no {inp.build} definition; not called")
    if not defs:
        raise InputError("no gene to call", hint="check --genes and the input's build")
    if any("/" in d.gene or d.gene.startswith(".") for d in defs):
        raise InputError("a gene name cannot be used as a directory name")
    recorded = {"genes": [d.gene for d in defs], "assume_reference": assume_reference,
                "chunk_samples": chunk_samples, "build": inp.build}
    identity = {"input": {"path": inp.path, "kind": inp.kind, **inp.identity},
                "options": recorded, "knowledge_base": kb_prov["version"], "tool": __version__}
    fingerprint = _fingerprint(identity)
    out = Path(outdir)
    _prepare_outdir(out, fingerprint, overwrite)
    if not assume_reference:
        _precheck_records(inp, defs)

    n = len(inp.samples)
    nblocks = max(1, math.ceil(n / chunk_samples))
    fail = _partitions_to_fail()
    done: dict[str, PartitionResult] = {}
    pending: list[PartitionSpec] = []
    # Costlier genes (more positions) first, so the slowest partitions do not come last.
    for d in sorted(defs, key=lambda d: -len(d.positions) * len(d.alleles)):
        for k in range(nblocks):
            prev = _is_done(out, d.gene, k)
            if prev is not None:
                done[f"{d.gene}/{k}"] = prev
                continue
            lo, hi = k * chunk_samples, min(n, (k + 1) * chunk_samples)
            pending.append(PartitionSpec(
                kind=inp.kind, path=inp.path, gene=d.gene, build=inp.build, block=k,
                start=lo, stop=hi, outdir=str(out), assume_reference=assume_reference,
                samples=tuple(inp.samples[lo:hi]) if inp.kind == "vcf" else (),
                fail=f"{d.gene}/{k}" in fail, definitions=defs_dir))
    skipped = len(done)
    manifest: dict[str, Any] = {
        "format": MANIFEST_FORMAT,
        "fingerprint": fingerprint,
        "status": "running",
        "tool": {"name": "pgxguard", "version": __version__},
        "knowledge_base": kb_prov,
        "build": inp.build,
        "input": {"path": inp.path, "kind": inp.kind, "samples": n,
                  "build_detected": inp.build_detected, **inp.identity},
        "options": {**recorded, "workers": workers, "scheduler": scheduler},
        "genes": [d.gene for d in defs],
        "warnings": warnings,
        "partitions_planned": len(done) + len(pending),
    }

    def save(status: str, failed: dict[str, str]) -> None:
        parts = {k: {"gene": r.gene, "block": r.block, "samples": r.samples,
                     "patterns": r.patterns, "seconds": r.seconds,
                     "bad_samples": len(r.bad_samples)}
                 for k, r in sorted(done.items())}
        manifest.update({
            "status": status,
            "partitions_done": len(done),
            "partitions": parts,
            "failed_partitions": failed,
            "bad_samples": [b for _, r in sorted(done.items()) for b in r.bad_samples],
            "seconds": round(time.perf_counter() - t0, 3),
        })
        _write_json(out / MANIFEST, manifest)

    failed: dict[str, str] = {}
    save("running", failed)
    if log is not None:
        log(f"cohort: {n:,} samples x {len(defs)} genes: {len(pending)} partitions to compute"
            f", {skipped} already done")
    if pending:
        _execute(pending, done, failed, scheduler=scheduler, workers=workers,
                 progress=progress, n_genes=len(defs), on_done=lambda: save("running", failed),
                 log=None if progress else log)
    save("complete" if not failed else "incomplete", failed)
    if failed:
        first = next(iter(failed.items()))
        raise CohortError(f"{len(failed)} of {len(done) + len(failed)} partitions failed "
                          f"(first: {first[0]}: {first[1]})", path=str(out),
                          hint="rerun the same command to compute only the missing partitions")

    analysis: Any = None
    if samples_info is not None:
        from pgxguard.cohort.analysis import analyse

        analysis = analyse(out, samples_info, progress=log)
    bad = tuple(b for _, r in sorted(done.items()) for b in r.bad_samples)
    return CohortSummary(out, n, tuple(d.gene for d in defs), len(done), len(done) - skipped,
                         skipped, bad, round(time.perf_counter() - t0, 3), tuple(warnings),
                         analysis)


def _execute(pending: list[PartitionSpec], done: dict[str, PartitionResult],
             failed: dict[str, str], *, scheduler: str | None, workers: int | None,
             progress: bool, n_genes: int, on_done: Any, log: LogLine | None = None) -> None:
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                               processes=True, dashboard_address=":0",
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as e:
            raise InputError(f"cannot connect to the Dask scheduler at {scheduler} ({e})",
                             hint="check the address (tcp://HOST:PORT) and that it runs") from e
    total = len(pending)
    t0 = time.perf_counter()
    try:
        futures = [client.submit(run_partition, s, key=f"pgxguard-{s.gene}-{s.block}-"
                                 f"{hashlib.sha1(s.outdir.encode()).hexdigest()[:8]}",
                                 pure=False) for s in pending]
        by_key = {f.key: s for f, s in zip(futures, pending, strict=True)}
        with _Progress(progress, total, n_genes, log) as bar:
            for fut in as_completed(futures):
                spec = by_key[fut.key]
                try:
                    result: PartitionResult = fut.result()
                except Exception as e:
                    failed[spec.key] = f"{type(e).__name__}: {e}"
                    bar.advance(0, time.perf_counter() - t0, failed=True)
                    continue
                finally:
                    fut.release()
                done[spec.key] = result
                bar.advance(result.samples, time.perf_counter() - t0)
                on_done()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


class _Progress:
    """Partitions done and samples/s (sample x gene calls / genes): a rich bar on a terminal,
    else log lines with an ETA (`log`), else nothing."""

    def __init__(self, enabled: bool, total: int, n_genes: int,
                 log: LogLine | None = None) -> None:
        self.enabled = enabled
        self.total = total
        self.n_genes = max(1, n_genes)
        self.calls = 0
        self.failed = 0
        self._progress: Any = None
        self._task: Any = None
        self._log = StepLog(log, "cohort:", total, "partitions") if log else None
        self._beat = Heartbeat(self._log) if self._log is not None else None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("partitions"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("{task.fields[rate]}"),
                console=Console(stderr=True), transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task("cohort", total=self.total, rate="")
        elif self._beat is not None:
            self._beat.__enter__()
        return self

    def advance(self, samples: int, elapsed: float, failed: bool = False) -> None:
        """One partition finished (or `failed`)."""
        self.calls += samples
        self.failed += failed
        rate = self.calls / self.n_genes / elapsed if elapsed > 0 else 0.0
        if self._progress is not None:
            self._progress.update(self._task, advance=1, rate=f"{rate:,.0f} samples/s")
        if self._log is not None:
            self._log.step(rate=f"{rate:,.0f} samples/s",
                           detail=f"{self.failed} failed" if self.failed else "")

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(None, None, None)
        if self._beat is not None:
            self._beat.__exit__(None, None, None)


__all__ = ["CohortError", "CohortSummary", "run_cohort"]
