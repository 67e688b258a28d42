"""Thin CLI: one library call per command; only `PgxError` maps to exit codes."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pgxguard import cli_options as opt
from pgxguard.errors import PgxError

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="pgxguard: pharmacogenomics from VCF to diplotype, phenotype and guidance.")
kb_app = typer.Typer(no_args_is_help=True, help="Knowledge base: inspect or rebuild.")
app.add_typer(kb_app, name="kb")
audit_app = typer.Typer(no_args_is_help=True, help="The clinical service's audit trail.")
app.add_typer(audit_app, name="audit")


class Format(StrEnum):
    json = "json"
    tsv = "tsv"


def _fail(e: PgxError) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(e.exit_code)


@app.command("call")
def call_cmd(
    input: Annotated[Path | None, typer.Argument(help="VCF, VCF.gz or BCF (omit to use only "
                                                 "--outside-calls)")] = None,
    sample: opt.Samples = None,
    genes: opt.Genes = None,
    outside_calls: opt.OutsideCalls = None,
    outside_format: opt.OutsideFormat = None,
    outside_sample: opt.OutsideSample = None,
    definitions: opt.Definitions = None,
    assume_reference: opt.AssumeReference = False,
    build: opt.Build = None,
    fmt: Annotated[Format, typer.Option("--format", "-f")] = Format.json,
    output: opt.Output = None,
) -> None:
    """Call star-allele diplotypes and phenotypes for every sample."""
    from pgxguard.call.pipeline import call
    from pgxguard.call.writers import to_json_text, to_tsv
    from pgxguard.io.atomic import write_text

    try:
        options = opt.call_options(
            genes=genes, samples=sample, build=build, assume_reference=assume_reference,
            definitions=definitions, outside_calls=outside_calls,
            outside_format=outside_format, outside_sample=outside_sample)
        result = call(input, options)
        text = to_json_text(result) if fmt is Format.json else to_tsv(result)
        if output is None:
            sys.stdout.write(text)
        else:
            write_text(output, text)
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)
    except PgxError as e:
        _fail(e)


@app.command("cohort")
def cohort_cmd(
    input: Annotated[Path, typer.Argument(help="Indexed multi-sample VCF.gz/BCF, a VCF Zarr "
                                          "store (.vcz directory), or a PLINK .pgen/.bed "
                                          "fileset")],
    outdir: Annotated[Path, typer.Option("--output", "-o", help="Output directory (Parquet "
                                         "calls, manifest.json)")],
    genes: opt.Genes = None,
    assume_reference: opt.AssumeReference = False,
    samples_info: Annotated[Path | None, typer.Option(
        help="TSV sample -> population/superpopulation/sex, for frequency tables")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of an existing Dask scheduler (default: local worker processes)")] = None,
    workers: Annotated[int | None, typer.Option(
        help="Local worker processes (default: number of CPUs)")] = None,
    chunk_samples: Annotated[int, typer.Option(
        help="Samples per partition (memory is bounded by this)")] = 10_000,
    build: opt.Build = None,
    overwrite: Annotated[bool, typer.Option(
        help="Replace results of a different run in OUTDIR")] = False,
    definitions: opt.Definitions = None,
) -> None:
    """Call every sample x gene of a cohort into Parquet (restartable, on Dask)."""
    from pgxguard.cohort import run_cohort

    try:
        options = opt.call_options(genes=genes, build=build, assume_reference=assume_reference,
                                   definitions=definitions)
        s = run_cohort(input, outdir, options, scheduler=scheduler, workers=workers,
                       chunk_samples=chunk_samples, overwrite=overwrite,
                       samples_info=samples_info, progress=sys.stderr.isatty(), log=_log_line)
    except PgxError as e:
        _fail(e)
        return
    for w in s.warnings:
        typer.echo(f"warning: {w}", err=True)
    for b in s.bad_samples[:20]:
        typer.echo(f"bad sample: {b['sample']} {b['gene']}: {b['error']}", err=True)
    if len(s.bad_samples) > 20:
        typer.echo(f"... {len(s.bad_samples) - 20} more bad samples in manifest.json", err=True)
    typer.echo(f"{s.samples} samples x {len(s.genes)} genes: {s.partitions} partitions "
               f"({s.computed} computed, {s.skipped} already done) in {s.seconds:.1f} s "
               f"({s.samples_per_second:,.0f} samples/s) -> {s.outdir}")
    typer.echo(_cohort_outputs(s))


def _log_line(text: str) -> None:
    """A progress line on stderr with a UTC time stamp (readable in a batch job's log)."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    typer.echo(f"{now} {text}", err=True)


def _cohort_outputs(s: Any) -> str:
    """The final line of `pgxguard cohort`: where each output is."""
    from pgxguard.cohort.runner import MANIFEST
    from pgxguard.cohort.schema import CALLS_DIR

    parts = [f"calls {s.outdir / CALLS_DIR}", f"manifest {s.outdir / MANIFEST}"]
    files = s.analysis.files if s.analysis is not None else {}
    if "actionable_burden" in files:
        parts.append(f"tables {files['actionable_burden'].parent}")
    if "report" in files:
        parts.append(f"HTML report {files['report']}")
    elif s.analysis is None:
        parts.append("no frequency tables or report (they need --samples-info)")
    return "outputs: " + "; ".join(parts)


class ReviewFormat(StrEnum):
    json = "json"
    text = "text"
    html = "html"
    fhir = "fhir"


@app.command("review")
def review_cmd(
    calls: Annotated[Path, typer.Option("--calls", help="JSON written by `pgxguard call`")],
    meds: opt.Meds = None,
    sample: opt.OneSample = None,
    all_drugs: Annotated[bool, typer.Option(
        "--all", help="Add every medicine with actionable guidance (PGx passport)")] = False,
    fmt: Annotated[ReviewFormat, typer.Option("--format", "-f")] = ReviewFormat.json,
    output: opt.Output = None,
) -> None:
    """Check a medication list against a patient's calls (CPIC and DPWG guidance)."""
    from pgxguard.guidance.render import review_from_cli
    from pgxguard.io.atomic import write_text

    try:
        text = review_from_cli(calls, meds, sample=sample, all_drugs=all_drugs, fmt=str(fmt))
        if output is None:
            sys.stdout.write(text)
        else:
            write_text(output, text)
    except PgxError as e:
        _fail(e)


@kb_app.command("info")
def kb_info_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    path: Annotated[Path | None, typer.Option(help="Snapshot file (default: bundled)")] = None,
) -> None:
    """List genes, alleles per gene, sources and versions."""
    from pgxguard.kb.load import kb_info, load_knowledge_base

    try:
        info = kb_info(load_knowledge_base(path))
    except PgxError as e:
        _fail(e)
        return
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"knowledge base [bold]{info['version']}[/bold]")
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in info["sources"]:
        groups.setdefault(s["name"].rsplit("/", 1)[0] if "/" in s["name"] else s["name"],
                          []).append(s)
    for folder, items in sorted(groups.items()):
        dates = sorted({x.get("date") or x["version"] for x in items})
        console.print(f"  source: {folder} ({len(items)} file{'s' if len(items) > 1 else ''}; "
                      f"{', '.join(dates)}; {items[0]['licence']}) {items[0]['url']}")
        if items[0].get("attribution"):
            console.print(f"          {items[0]['attribution']}")
    for limit in info.get("limits", []):
        console.print(f"  limit: {limit}")
    g = info.get("guidance")
    if g:
        console.print(f"guidance [bold]{g['version']}[/bold]: {g['guidelines']} guidelines, "
                      f"{g['recommendations']} recommendations, {g['drugs']} drugs "
                      f"(snapshot {g['snapshot_date']})")
    table = Table("gene", "builds", "positions", "alleles", "structural (not assessed)",
                  "phenotype", "rule")
    def per_build(value: object) -> str:
        if isinstance(value, dict):
            return " / ".join(f"{v}" for _, v in sorted(value.items()))
        return str(value)

    for name, g in sorted(info["genes"].items()):
        table.add_row(name, ",".join(g.get("builds", [])), per_build(g.get("positions")),
                      per_build(g.get("named_alleles")),
                      ", ".join(g.get("structural_alleles", [])) or "-",
                      g.get("phenotype_method") or "-", g.get("rule") or "-")
    console.print(table)


@kb_app.command("build")
def kb_build_cmd(
    sources: Annotated[Path | None, typer.Option(
        help="The kb-sources tree (CPIC/DPWG as published; default: $PGXGUARD_KB_SOURCES or "
             "../shared/kb-sources beside the checkout)")] = None,
    wheel: Annotated[Path | None, typer.Option(help="pypgx wheel (default: download the "
                                               "pinned version with pip)")] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Snapshot path (default: bundled)")] = None,
    guidance_output: Annotated[Path | None, typer.Option(
        "--guidance-output", help="Guidance snapshot path (default: bundled)")] = None,
    classes: Annotated[Path | None, typer.Option(
        help="Also write the table of every recommendation's action class (TSV)")] = None,
) -> None:
    """Rebuild the knowledge base (alleles, phenotypes, guidance) from the published sources."""
    from pgxguard.guidance import build as g_build
    from pgxguard.kb import build as kb_build
    from pgxguard.kb.sources import SourceTree

    try:
        kb = kb_build.build_knowledge_base(sources, wheel)
        gkb = g_build.compile_guidance(SourceTree(sources), kb)
        target = output or kb_build.DEFAULT_SNAPSHOT
        g_target = guidance_output or g_build.DEFAULT_SNAPSHOT
        kb_build.write_snapshot(kb, target)
        g_build.write_snapshot(gkb, g_target)
        if classes is not None:
            from pgxguard.io.atomic import write_text

            write_text(classes, g_build.classes_table(gkb))
    except PgxError as e:
        _fail(e)
        return
    typer.echo(f"wrote {target} (knowledge base {kb.version}) and {g_target} (guidance "
               f"{gkb.version}: {len(gkb.entries)} recommendations, {len(gkb.drugs)} drugs)")


@app.command("serve")
def serve_cmd(
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: SQLite file in the data directory; "
        "postgresql+psycopg://USER@HOST/DB for production)")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, help="Worker processes (one per core for production; SQLite or PostgreSQL)")] = 1,
    create_admin: Annotated[str | None, typer.Option(
        "--create-admin", metavar="USER",
        help="Create an admin user (password from PGXGUARD_ADMIN_PASSWORD or a prompt) and "
             "exit")] = None,
    ssl_certfile: Annotated[str | None, typer.Option(
        help="TLS certificate (PEM) to serve HTTPS directly")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="TLS private key (PEM)")] = None,
) -> None:
    """Run the clinical service (REST API; see docs/service.md)."""
    import os

    from pgxguard.service.cli import create_admin_user, run_server
    from pgxguard.service.settings import Settings

    try:
        settings = Settings.from_env(db_url=db)
        if create_admin is not None:
            password = os.environ.get("PGXGUARD_ADMIN_PASSWORD") or typer.prompt(
                f"password for {create_admin}", hide_input=True, confirmation_prompt=True)
            typer.echo(create_admin_user(settings, create_admin, password))
            return
        run_server(settings, host=host, port=port, workers=workers,
                   ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
    except PgxError as e:
        _fail(e)


@audit_app.command("verify")
def audit_verify_cmd(
    db: Annotated[str | None, typer.Option(
        "--db", help="Database URL (default: PGXGUARD_DB_URL, or the SQLite file in the data "
        "directory)")] = None,
    anchor: Annotated[str | None, typer.Option(
        help="ID:HASH (last_id:head) recorded from an earlier run: that row must still be "
             "there unchanged, so removing the newest rows shows")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Check the audit trail's hash chain: exit 0 when intact, 5 when broken (each break
    listed)."""
    from pgxguard.service.cli import AuditTrailBroken, verify_audit
    from pgxguard.service.settings import Settings

    try:
        report = verify_audit(Settings.from_env(db_url=db), anchor)
    except PgxError as e:
        _fail(e)
        return
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(f"{report['rows']} audit rows (ids {report['first_id']}..{report['last_id']})"
                   f"; head {report['last_id']}:{report['head']}")
        for b in report["breaks"]:
            typer.echo(f"BREAK at id {b['id']}: {b['problem']}")
        if report["anchor"] is not None:
            a = report["anchor"]
            typer.echo(f"anchor {a['id']}: " + ("matches" if a["ok"] else
                       "MISSING" if a["found"] is None else f"CHANGED (now {a['found']})"))
    if not report["ok"]:
        _fail(AuditTrailBroken("the audit trail is broken",
                               hint="restore the database from a backup and investigate"))


def _register_report() -> None:
    from pgxguard.report.cli import report_cmd

    app.command("report", help="Calls + medication review in one report "
                "(HTML, patient summary, JSON or FHIR).")(report_cmd)


_register_report()


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
