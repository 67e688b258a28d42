"""Cohort analytics: allele, diplotype and phenotype frequencies and actionable burden per group.

Reads the per-sample x gene calls written by `pgxguard cohort` (Parquet dataset
``OUTDIR/calls/gene=G/part-K.parquet``) and a samples-info TSV (``sample``, ``population``,
``superpopulation`` and optionally ``sex``; extra columns are ignored) and writes::

    OUTDIR/frequencies/allele_frequencies.tsv
    OUTDIR/frequencies/diplotype_frequencies.tsv
    OUTDIR/frequencies/phenotype_frequencies.tsv
    OUTDIR/frequencies/actionable_burden.tsv
    OUTDIR/frequencies/group_sizes.tsv
    OUTDIR/frequencies/analysis.json        (counts, samples without info, provenance)
    OUTDIR/plots/phenotype_frequencies.png
    OUTDIR/plots/actionable_burden.png
    OUTDIR/plots/cohort_report.html         (self-contained: inline SVG, no scripts, A4 print)

Every table is given at three group levels: ``all`` (group ``all``), ``superpopulation`` and
``population``. Samples of the calls without a row in the samples info fall in group
``unknown``; samples of the info without calls are counted and reported, never invented.

Counting rules (a result is never made more certain than its data):

* Alleles and diplotypes are counted only from samples with exactly one diplotype for the gene
  (``samples_called``; ``called_alleles`` = alleles of those diplotypes: two, or one for a
  haploid call). Samples with tied diplotypes (``samples_tie``), no call (``samples_no_call``)
  and lowest-function genes reported as a variant list (``samples_variants``) are counted in
  their own columns on every row, so nothing is dropped silently.
* Phenotype shares are over every sample with a row for the gene; samples without a phenotype
  are in the categories ``no call``, ``ambiguous (tied phenotypes)`` or ``no phenotype``.
* Actionable burden: for each drug of the guidance knowledge base, each person's action is what
  `pgxguard.guidance.review.review_drug` (the function `review` applies per drug) gives for
  that person's results of the genes the drug's guidance names. It is computed once per
  distinct combination of those results and broadcast to every person sharing it. Each action
  falls in exactly one `Category` (`category_of`, docs/cohort.md): ``actionable`` = avoid, use
  an alternative or change the dose; ``monitor`` (standard use with monitoring: not a change)
  and ``result incomplete`` (a needed gene without a usable result) are their own categories,
  never counted as actionable; ``no recommendation``, ``standard`` and ``no PGx guidance`` as
  `Action` defines them.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any, assert_never

import numpy as np
import polars as pl

from pgxguard.alleles import sort_key
from pgxguard.call.results import GeneCall, SampleCall
from pgxguard.cohort.progress import LogLine, StepLog, duration
from pgxguard.cohort.schema import CALL_FIELDS, row_call
from pgxguard.errors import InputError
from pgxguard.guidance.knowledge import GuidanceKB
from pgxguard.guidance.model import Action, Medicine
from pgxguard.io.atomic import write_bytes
from pgxguard.kb.model import KnowledgeBase

LEVELS: tuple[str, ...] = ("all", "superpopulation", "population")
UNKNOWN_GROUP = "unknown"
NO_CALL = "no call"
AMBIGUOUS = "ambiguous (tied phenotypes)"
NO_PHENOTYPE = "no phenotype"
# Genes shown in the phenotype plot, in this order, when the cohort has them.
MAIN_GENES: tuple[str, ...] = ("CYP2C19", "CYP2C9", "CYP2D6", "CYP3A5", "SLCO1B1", "TPMT",
                               "NUDT15", "DPYD", "UGT1A1", "CYP2B6", "NAT2", "G6PD")


class Category(StrEnum):
    """Headline category of one person's action for one drug (docs/cohort.md).

    Only a change of prescribing (avoid, alternative, dose) is ``actionable``: counting
    "monitor" or an incomplete result as actionable made the headline read 100 % for
    medicines whose texts say no change is needed for most people.
    """

    ACTIONABLE = "actionable"
    MONITOR = "monitor"
    RESULT_INCOMPLETE = "result incomplete"
    NO_RECOMMENDATION = "no recommendation"
    STANDARD = "standard"
    NO_GUIDANCE = "no PGx guidance"

    @property
    def column(self) -> str:
        """Column name in the burden table."""
        return "no_guidance" if self is Category.NO_GUIDANCE else self.value.replace(" ", "_")


def category_of(action: Action) -> Category:
    """The one category of `action` (exhaustive over `Action`: mypy checks every member)."""
    match action:
        case Action.AVOID | Action.USE_ALTERNATIVE | Action.ADJUST_DOSE:
            return Category.ACTIONABLE
        case Action.MONITOR:
            return Category.MONITOR
        case Action.RESULT_INCOMPLETE | Action.RESULT_MISSING:  # one member (an alias)
            return Category.RESULT_INCOMPLETE
        case Action.NO_RECOMMENDATION:
            return Category.NO_RECOMMENDATION
        case Action.STANDARD:
            return Category.STANDARD
        case Action.NO_GUIDANCE:
            return Category.NO_GUIDANCE
        case _:
            assert_never(action)


# One column per action (most urgent first), named as the action.
ACTION_COLUMNS: tuple[tuple[Action, str], ...] = tuple(
    (a, "no_guidance" if a is Action.NO_GUIDANCE else a.value.replace(" ", "_"))
    for a in Action)
ACTIONABLE_ACTIONS = frozenset(a for a in Action if category_of(a) is Category.ACTIONABLE)
# Categories shown in the headline, the plots and with a share column, in this order.
HEADLINE: tuple[Category, ...] = (Category.ACTIONABLE, Category.MONITOR,
                                  Category.RESULT_INCOMPLETE)
# Condition kinds that read the diplotype itself, not only phenotype / activity score.
_DIPLOTYPE_KINDS = frozenset({"allele_status", "diplotype"})
_READ_COLUMNS = ("sample", "gene", "diplotypes", "variants", "phenotype", "activity_score",
                 "lookup_key", "phenotypes",
                 "flags", "source")
_US = "\x1f"  # separators for grouping keys (never in allele names)
_RS = "\x1e"


@dataclass(frozen=True, slots=True)
class AnalysisSummary:
    outdir: Path
    files: dict[str, Path]
    n_samples: int  # samples in the calls
    n_genes: int
    n_drugs: int
    n_rows: int  # sample x gene rows read
    groups: dict[str, int]  # superpopulation -> samples
    samples_without_info: tuple[str, ...]  # in the calls, not in the samples info ('unknown')
    info_without_calls: tuple[str, ...]  # in the samples info, not in the calls
    duplicate_rows: int = 0  # repeated (sample, gene) rows in the calls (first one kept)
    warnings: tuple[str, ...] = field(default_factory=tuple)


# --- small helpers ---------------------------------------------------------------------------


def _write_tsv(path: Path, df: pl.DataFrame) -> None:
    buf = io.BytesIO()
    df.write_csv(buf, separator="\t", null_value="")
    write_bytes(path, buf.getvalue(), make_dirs=True)


def _level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def _group_order(values: Iterable[str]) -> list[str]:
    """`all` first, `unknown` last, the rest alphabetically."""
    vals = set(values)
    return sorted(vals, key=lambda g: (g != "all", g == UNKNOWN_GROUP, g))


def _sort_frame(df: pl.DataFrame, name_col: str | None) -> pl.DataFrame:
    """Sort by gene, group level (all, superpopulation, population), group, then `name_col`
    with allele names in natural order (`*2` < `*10`)."""
    if df.height == 0:
        return df
    groups = _group_order(df["group"].unique().to_list())
    gmap = pl.DataFrame({"group": groups, "_g": list(range(len(groups)))},
                        schema={"group": pl.String, "_g": pl.Int64})
    out = df.with_columns(_l=pl.col("group_level").replace_strict(
        {lv: i for i, lv in enumerate(LEVELS)}, default=len(LEVELS), return_dtype=pl.Int64))
    out = out.join(gmap, on="group", how="left")
    keys = ["_l", "_g"]
    if name_col is not None:
        names = sorted(set(out[name_col].drop_nulls().to_list()), key=sort_key)
        nmap = pl.DataFrame({name_col: names, "_n": list(range(len(names)))},
                            schema={name_col: pl.String, "_n": pl.Int64})
        out = out.join(nmap, on=name_col, how="left")
        keys.append("_n")
    lead = ["drug"] if "drug" in out.columns else ["gene"]
    return out.sort([*lead, *keys]).drop([k for k in keys])


# --- inputs ----------------------------------------------------------------------------------


def read_samples_info(path: str | Path) -> pl.DataFrame:
    """Samples info TSV -> frame (sample, population, superpopulation, sex); extras ignored.

    Empty values become ``unknown``. A missing column or a repeated sample is an `InputError`.
    """
    p = Path(path)
    try:
        raw = pl.read_csv(p, separator="\t", infer_schema=False, quote_char=None,
                          comment_prefix="#", truncate_ragged_lines=False)
    except FileNotFoundError as e:
        raise InputError("samples-info file not found", path=str(p)) from e
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as e:
        raise InputError(f"cannot read the samples-info TSV: {e}", path=str(p),
                         hint="tab-separated with a header: sample, population, "
                              "superpopulation, sex") from e
    cols = {c.strip().lower(): c for c in raw.columns}
    need = [c for c in ("sample", "population", "superpopulation") if c not in cols]
    if need:
        raise InputError(f"samples-info TSV lacks column(s) {', '.join(need)}", path=str(p),
                         line=1, hint="header must name sample, population, superpopulation "
                                      "(sex optional; other columns are ignored)")
    exprs = [pl.col(cols["sample"]).str.strip_chars().alias("sample")]
    for c in ("population", "superpopulation", "sex"):
        if c in cols:
            v = pl.col(cols[c]).str.strip_chars()
            exprs.append(pl.when(v.is_null() | (v == "")).then(pl.lit(UNKNOWN_GROUP))
                         .otherwise(v).alias(c))
        else:
            exprs.append(pl.lit(UNKNOWN_GROUP).alias(c))
    info = raw.select(exprs)
    blank = info.with_row_index("_i").filter(pl.col("sample").is_null() | (pl.col("sample") == ""))
    if blank.height:
        raise InputError("empty sample name", path=str(p), line=int(blank["_i"][0]) + 2,
                         hint="every row needs a sample name")
    dup = info.with_row_index("_i").filter(pl.col("sample").is_duplicated())
    if dup.height:
        first = dup.sort("_i")
        raise InputError(f"sample {first['sample'][0]!r} appears more than once "
                         f"({dup['sample'].n_unique()} repeated names)", path=str(p),
                         line=int(first["_i"][1]) + 2, hint="give each sample one row")
    return info


def _call_files(outdir: Path) -> dict[str | None, list[Path]]:
    """Parquet files of the calls dataset, grouped by their ``gene=G`` folder (None: other)."""
    root = outdir / "calls"
    if not root.is_dir():
        raise InputError("no calls dataset (calls/ folder) in the cohort output", path=str(outdir),
                         hint="run `pgxguard cohort INPUT -o OUTDIR` first")
    out: dict[str | None, list[Path]] = {}
    for f in sorted(root.rglob("*.parquet")):
        if any(part.startswith((".", "_")) for part in f.relative_to(root).parts):
            continue  # temporary or hidden files of an unfinished write
        gene = f.parent.name[5:] if f.parent.name.startswith("gene=") else None
        out.setdefault(gene, []).append(f)
    if not out:
        raise InputError("the calls dataset holds no Parquet files", path=str(root),
                         hint="run `pgxguard cohort INPUT -o OUTDIR` first")
    return out


class _Calls:
    """Lazy per-gene access to the calls dataset with only the columns the analysis reads."""

    def __init__(self, outdir: Path) -> None:
        self.files = _call_files(outdir)
        everything = [f for fs in self.files.values() for f in fs]
        self.scan_all = pl.scan_parquet(everything, hive_partitioning=False)
        schema = self.scan_all.collect_schema()
        missing = [c for c in ("sample", "gene", "diplotypes", "phenotype") if c not in schema]
        if missing:
            raise InputError(f"calls dataset lacks column(s) {', '.join(missing)}",
                             path=str(outdir / "calls"),
                             hint="written by a different pgxguard version? re-run the cohort")
        self.present = set(schema.names())
        self.root = outdir / "calls"

    def genes(self) -> list[str]:
        named = [g for g in self.files if g is not None]
        if None not in self.files:
            # gene= folders name the gene; trust the column, not the folder name.
            found = set()
            for g in named:
                found.update(pl.scan_parquet(self.files[g], hive_partitioning=False)
                             .select(pl.col("gene").unique()).collect()["gene"].to_list())
            return sorted(found)
        return sorted(self.scan_all.select(pl.col("gene").unique()).collect()["gene"].to_list())

    def samples(self) -> pl.DataFrame:
        return (self.scan_all.select("sample").unique(maintain_order=True).collect()
                .with_row_index("idx"))

    def _gene_scan(self, gene: str) -> pl.LazyFrame:
        """The gene's rows, numbered (``_row``) in file order."""
        files = self.files.get(gene)
        if files is None or None in self.files:
            files = [f for fs in self.files.values() for f in fs]
        return (pl.scan_parquet(files, hive_partitioning=False)
                .filter(pl.col("gene") == gene).with_row_index("_row"))

    def gene_calls(self, gene: str, rows: Sequence[int]) -> list[GeneCall]:
        """The whole `GeneCall` of each of the gene's rows `rows` (`_row` numbers), read back
        with `GeneCall.from_json` (`schema.row_call`)."""
        cols = ["_row", *(c for c in CALL_FIELDS if c in self.present)]
        got = (self._gene_scan(gene).filter(pl.col("_row").is_in(list(rows)))
               .select(cols).collect())
        by_row = {r["_row"]: row_call(r) for r in got.iter_rows(named=True)}
        return [by_row[r] for r in rows]

    def gene_frame(self, gene: str) -> pl.DataFrame:
        lf = self._gene_scan(gene)
        exprs: list[pl.Expr] = [pl.col("_row")]
        for c in _READ_COLUMNS:
            if c in self.present:
                exprs.append(pl.col(c))
            elif c in ("variants", "flags", "phenotypes"):
                exprs.append(pl.lit([], dtype=pl.List(pl.String)).alias(c))
            elif c == "activity_score":
                exprs.append(pl.lit(None, dtype=pl.Float64).alias(c))
            elif c == "lookup_key":
                exprs.append(pl.lit(None, dtype=pl.String).alias(c))
            elif c == "source":
                exprs.append(pl.lit("vcf").alias(c))
        df = lf.select(exprs).collect()
        return df.with_columns(
            pl.col("activity_score").cast(pl.Float64),
            pl.col("variants").fill_null([]), pl.col("flags").fill_null([]),
            pl.col("phenotypes").fill_null([]),
            pl.col("source").fill_null("vcf"), pl.col("diplotypes").fill_null([]))


# --- per-gene tables -------------------------------------------------------------------------


def _prepare(df: pl.DataFrame) -> pl.DataFrame:
    n_dip = pl.col("diplotypes").list.len()
    has_ph = pl.col("phenotype").is_not_null() & (pl.col("phenotype") != "")
    tie_diff = pl.col("flags").list.contains("phenotype_ambiguous") | (
        (n_dip > 1) & ~has_ph)
    status = (pl.when(n_dip == 1).then(pl.lit("called"))
              .when(n_dip > 1).then(pl.lit("tie"))
              .when(pl.col("variants").list.len() > 0).then(pl.lit("variants"))
              .otherwise(pl.lit("no_call")))
    called_any = (n_dip > 0) | (pl.col("variants").list.len() > 0) | has_ph
    category = (pl.when(has_ph).then(pl.col("phenotype"))
                .when(tie_diff & called_any).then(pl.lit(AMBIGUOUS))
                .when(called_any & (pl.col("source") != "none")).then(pl.lit(NO_PHENOTYPE))
                .otherwise(pl.lit(NO_CALL)))
    return df.with_columns(status=status, ph_category=category, ambiguous=tie_diff)


def _long(df: pl.DataFrame, cols: Sequence[str]) -> pl.DataFrame:
    """Stack the frame once per group level: adds ``group_level`` and ``group``."""
    parts = []
    for level in LEVELS:
        grp = pl.lit("all") if level == "all" else pl.col(level)
        parts.append(df.select([pl.lit(level).alias("group_level"), grp.alias("group"),
                                *[pl.col(c) for c in cols]]))
    return pl.concat(parts)


def _status_counts(long: pl.DataFrame) -> pl.DataFrame:
    s = pl.col("status")
    return long.group_by(["group_level", "group"]).agg(
        samples=pl.len().cast(pl.Int64),
        samples_called=(s == "called").sum().cast(pl.Int64),
        samples_tie=(s == "tie").sum().cast(pl.Int64),
        samples_no_call=(s == "no_call").sum().cast(pl.Int64),
        samples_variants=(s == "variants").sum().cast(pl.Int64))


def _gene_tables(gene: str, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(allele, diplotype, phenotype) frequency rows of one gene."""
    called = df.filter(pl.col("status") == "called").with_columns(
        dip=pl.col("diplotypes").list.first())
    long_all = _long(df, ["status", "ph_category"])
    status = _status_counts(long_all)
    long_called = _long(called, ["dip"])

    # alleles
    per_group_alleles = long_called.group_by(["group_level", "group"]).agg(
        called_alleles=pl.col("dip").list.len().sum().cast(pl.Int64))
    counts = (long_called.explode("dip").rename({"dip": "allele"})
              .group_by(["group_level", "group", "allele"])
              .agg(allele_count=pl.len().cast(pl.Int64)))
    alleles = counts.select("allele").unique()
    grid = status.select(["group_level", "group"]).join(alleles, how="cross")
    allele_t = (grid.join(counts, on=["group_level", "group", "allele"], how="left")
                .join(per_group_alleles, on=["group_level", "group"], how="left")
                .join(status, on=["group_level", "group"], how="left")
                .with_columns(pl.col("allele_count").fill_null(0),
                              pl.col("called_alleles").fill_null(0))
                .with_columns(frequency=pl.when(pl.col("called_alleles") > 0)
                              .then(pl.col("allele_count") / pl.col("called_alleles"))
                              .otherwise(None))
                .select(pl.lit(gene).alias("gene"), "allele", "group_level", "group",
                        "allele_count", "called_alleles", "frequency", "samples_called",
                        "samples_tie", "samples_no_call", "samples_variants", "samples"))

    # diplotypes (observed ones only)
    dip_t = (long_called.with_columns(diplotype=pl.col("dip").list.join("/"))
             .group_by(["group_level", "group", "diplotype"]).agg(count=pl.len().cast(pl.Int64))
             .join(status, on=["group_level", "group"], how="left")
             .with_columns(frequency=pl.col("count") / pl.col("samples_called"))
             .select(pl.lit(gene).alias("gene"), "diplotype", "group_level", "group", "count",
                     "samples_called", "frequency", "samples_tie", "samples_no_call",
                     "samples_variants", "samples"))

    # phenotypes (every category in every group)
    pc = (long_all.group_by(["group_level", "group", "ph_category"])
          .agg(count=pl.len().cast(pl.Int64)).rename({"ph_category": "phenotype"}))
    cats = pc.select("phenotype").unique()
    ph_t = (status.select(["group_level", "group", "samples"]).join(cats, how="cross")
            .join(pc, on=["group_level", "group", "phenotype"], how="left")
            .with_columns(pl.col("count").fill_null(0))
            .with_columns(frequency=pl.when(pl.col("samples") > 0)
                          .then(pl.col("count") / pl.col("samples")).otherwise(None))
            .select(pl.lit(gene).alias("gene"), "phenotype", "group_level", "group", "count",
                    "samples", "frequency"))
    return allele_t, dip_t, ph_t


# --- actionable burden -----------------------------------------------------------------------


@dataclass(slots=True)
class _GeneStates:
    """Per gene: each sample's state id (-1: no row) and one GeneCall per distinct state.

    ``pheno``: samples grouped by the facts review reads for phenotype/activity conditions;
    ``full``: also by the diplotypes and variants (allele/diplotype conditions). Each state's
    call is the whole call of its first sample, read back from the row.
    """

    pheno_ids: np.ndarray[Any, np.dtype[np.int64]]
    pheno_calls: list[GeneCall]
    full_ids: np.ndarray[Any, np.dtype[np.int64]]
    full_calls: list[GeneCall]


def _states(df: pl.DataFrame, sample_idx: pl.DataFrame, n: int,
            load: Callable[[Sequence[int]], list[GeneCall]]) -> _GeneStates:
    """`load(rows)`: the whole calls of those rows (`_row`) of the gene."""
    n_dip = pl.col("diplotypes").list.len()
    # Tied diplotypes with more than one distinct phenotype (review's tie test).
    tie_differs = pl.col("phenotypes").list.drop_nulls().list.n_unique() > 1
    pheno_key = pl.concat_str(
        [pl.col("phenotype").fill_null("\x00"), pl.col("activity_score").cast(pl.String)
         .fill_null("\x00"), pl.col("lookup_key").fill_null("\x00"), pl.col("source"),
         pl.col("ambiguous").cast(pl.String), tie_differs.cast(pl.String),
         pl.min_horizontal(n_dip, pl.lit(2)).cast(pl.String),
         (pl.col("variants").list.len() > 0).cast(pl.String)], separator=_RS)
    full_key = pl.concat_str(
        [pheno_key,
         pl.col("diplotypes").list.eval(pl.element().list.join(_US)).list.join(_RS),
         pl.col("variants").list.join(_US)], separator="\x1d")
    keyed = (df.join(sample_idx, on="sample", how="inner")
             .with_columns(k_pheno=pheno_key, k_full=full_key))
    out: list[tuple[np.ndarray[Any, np.dtype[np.int64]], list[GeneCall]]] = []
    for key in ("k_pheno", "k_full"):
        reps = keyed.unique(subset=[key], keep="first", maintain_order=True).with_row_index("sid")
        ids = keyed.select(["idx", key]).join(reps.select([key, "sid"]), on=key, how="left")
        arr = np.full(n, -1, dtype=np.int64)
        arr[ids["idx"].to_numpy()] = ids["sid"].cast(pl.Int64).to_numpy()
        out.append((arr, load(reps["_row"].to_list())))
    return _GeneStates(out[0][0], out[0][1], out[1][0], out[1][1])


def _drug_genes(gkb: GuidanceKB, drug: str) -> tuple[list[str], set[str]]:
    """Genes the drug's guidance names, and those of them whose conditions read diplotypes."""
    genes: list[str] = []
    full: set[str] = set()
    for e in gkb.for_drug(drug):
        for c in e.conditions:
            if c.gene == "-":
                continue
            if c.gene not in genes:
                genes.append(c.gene)
            if c.kind in _DIPLOTYPE_KINDS:
                full.add(c.gene)
    for gl in gkb.guidelines_for(drug):
        genes += [g for g in gl.genes if g not in genes]
    return genes, full


def _drug_actions(drug: str, states: Mapping[str, _GeneStates], n: int, gkb: GuidanceKB,
                  kb: KnowledgeBase) -> tuple[np.ndarray[Any, np.dtype[np.int64]], int]:
    """Action code (index into ACTION_COLUMNS) per sample, and the number of reviews run."""
    from pgxguard.guidance.review import review_drug

    codes = {a: i for i, (a, _c) in enumerate(ACTION_COLUMNS)}
    med = Medicine(query=drug, name=drug, components=(drug,), matched_by="generic",
                   mapping_source=f"guidance knowledge base {gkb.version}")
    genes, full = _drug_genes(gkb, drug)
    cols: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    reps: list[list[GeneCall]] = []
    used: list[str] = []
    for g in genes:
        st = states.get(g)
        if st is None:
            continue  # gene absent from the calls: missing for everyone
        used.append(g)
        cols.append(st.full_ids if g in full else st.pheno_ids)
        reps.append(st.full_calls if g in full else st.pheno_calls)
    if not cols:
        combos = np.zeros((1, 0), dtype=np.int64)
        inverse = np.zeros(n, dtype=np.int64)
    else:
        # One int64 key per sample (mixed radix over the genes' state ids, -1 -> 0), then a
        # 1-D unique: much faster than np.unique(axis=0) on 10^5..10^6 rows.
        bases = [len(r) + 1 for r in reps]
        if float(np.prod(np.array(bases, dtype=np.float64))) < 2**62:
            key = np.zeros(n, dtype=np.int64)
            for col, base in zip(cols, bases, strict=True):
                key = key * base + (col + 1)
            uniq, inverse = np.unique(key, return_inverse=True)
            combos = np.empty((len(uniq), len(cols)), dtype=np.int64)
            rest = uniq.copy()
            for j in range(len(cols) - 1, -1, -1):
                combos[:, j] = rest % bases[j] - 1
                rest //= bases[j]
        else:
            combos, inverse = np.unique(np.stack(cols, axis=1), axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
    per_combo = np.empty(len(combos), dtype=np.int64)
    for i, combo in enumerate(combos):
        gcs = tuple(reps[j][int(sid)] for j, sid in enumerate(combo) if sid >= 0)
        item = review_drug(med, drug, SampleCall(sample="cohort", genes=gcs), gkb, kb)
        per_combo[i] = codes[item.action]
    return per_combo[inverse], len(combos)


def _burden(drugs: Sequence[str], states: Mapping[str, _GeneStates], groups: pl.DataFrame,
            gkb: GuidanceKB, kb: KnowledgeBase,
            progress: LogLine | None = None) -> tuple[pl.DataFrame, int]:
    """Per drug x group counts of each action. `groups`: idx-ordered sample frame."""
    steps = StepLog(progress, "analysis: actionable burden", len(drugs), "drugs") \
        if progress else None
    n = groups.height
    level_codes: list[tuple[str, list[str], np.ndarray[Any, np.dtype[np.int64]]]] = []
    for level in LEVELS:
        if level == "all":
            level_codes.append((level, ["all"], np.zeros(n, dtype=np.int64)))
            continue
        names = _group_order(groups[level].unique().to_list())
        lut = {g: i for i, g in enumerate(names)}
        level_codes.append((level, names, np.array([lut[g] for g in groups[level].to_list()],
                                                   dtype=np.int64)))
    k = len(ACTION_COLUMNS)
    rows: dict[str, list[Any]] = {c: [] for c in ("drug", "genes", "group_level", "group")}
    for _a, c in ACTION_COLUMNS:
        rows[c] = []
    reviews = 0
    for drug in drugs:
        codes, nrev = _drug_actions(drug, states, n, gkb, kb)
        reviews += nrev
        if steps is not None:
            steps.step()
        genes = ",".join(_drug_genes(gkb, drug)[0])
        for level, names, gcode in level_codes:
            counts = np.bincount(gcode * k + codes, minlength=len(names) * k).reshape(-1, k)
            for gi, name in enumerate(names):
                rows["drug"].append(drug)
                rows["genes"].append(genes)
                rows["group_level"].append(level)
                rows["group"].append(name)
                for ai, (_a, c) in enumerate(ACTION_COLUMNS):
                    rows[c].append(int(counts[gi, ai]))
    df = pl.DataFrame(rows, schema={**{c: pl.String for c in ("drug", "genes", "group_level",
                                                                "group")},
                                    **{c: pl.Int64 for _a, c in ACTION_COLUMNS}})
    total = pl.sum_horizontal([pl.col(c) for _a, c in ACTION_COLUMNS])
    # Category counts from the per-action counts (an action column may also be a category's).
    per_cat = {cat.column: pl.sum_horizontal([pl.col(c) for a, c in ACTION_COLUMNS
                                              if category_of(a) is cat]) for cat in Category}
    df = df.with_columns(samples=total).with_columns(**{
        f"_{k}": v for k, v in per_cat.items()}).drop(
        [c for c in per_cat if c in df.columns]).rename({f"_{k}": k for k in per_cat})

    def share(col: str) -> pl.Expr:
        return (pl.when(pl.col("samples") > 0).then(pl.col(col) / pl.col("samples"))
                .otherwise(None).alias(f"share_{col}"))

    incomplete = Category.RESULT_INCOMPLETE.column
    df = df.with_columns(
        *[share(c.column) for c in HEADLINE],
        share_actionable_with_result=pl.when(pl.col("samples") > pl.col(incomplete))
        .then(pl.col("actionable") / (pl.col("samples") - pl.col(incomplete)))
        .otherwise(None))
    order = ["drug", "genes", "group_level", "group", "samples",
             *[c.column for c in Category], *[f"share_{c.column}" for c in HEADLINE],
             "share_actionable_with_result",
             *[c for a, c in ACTION_COLUMNS if c not in per_cat]]
    return _sort_frame(df.select(order), None), reviews


# --- plots -----------------------------------------------------------------------------------
# Sized for an A4 page at 100 % (printable width about 7.4 in), so print keeps the font sizes
# here: nothing smaller than MIN_FONT_PT. The HTML report embeds them as SVG with real text.

MIN_FONT_PT = 6.5
PRINT_WIDTH_IN = 7.2

_PHENO_COLOURS = {
    "poor": "#b2182b", "intermediate": "#ef8a62", "likely intermediate": "#f4a582",
    "likely poor": "#d6604d", "normal": "#4dac26", "rapid": "#67a9cf",
    "ultrarapid": "#2166ac", "decreased": "#ef8a62", "increased": "#67a9cf",
    "possible decreased": "#fddbc7", "poor function": "#b2182b",
    "decreased function": "#ef8a62", "normal function": "#4dac26",
    "increased function": "#67a9cf", "deficient": "#b2182b", "indeterminate": "#bababa",
}
_SPECIAL_COLOURS = {NO_CALL: "#404040", AMBIGUOUS: "#878787", NO_PHENOTYPE: "#d9d9d9"}
_PALETTE = ("#8073ac", "#e08214", "#35978f", "#c51b7d", "#7fbc41", "#bf812d", "#542788")
# Sequential maps, light to dark: they stay ordered when printed in grey.
_CATEGORY_CMAPS = {Category.ACTIONABLE: "Reds", Category.MONITOR: "Blues",
                   Category.RESULT_INCOMPLETE: "Greys"}


def _colour(category: str, fallback: Iterable[str]) -> str:
    if category in _SPECIAL_COLOURS:
        return _SPECIAL_COLOURS[category]
    t = category.lower().replace("metabolizer", "").replace("metaboliser", "").strip()
    return _PHENO_COLOURS.get(t, next(iter(fallback)))


def _figure_bytes(fig: Any, fmt: str) -> bytes:
    import matplotlib

    buf = io.BytesIO()
    # SVG text stays text (selectable, measurable in a browser; DejaVu Sans as laid out).
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "pgxguard"}):
        fig.savefig(buf, format=fmt, dpi=150 if fmt == "png" else 72,
                    metadata={"Date": None} if fmt == "svg" else None)
    return buf.getvalue()


def _phenotype_genes(ph: pl.DataFrame) -> list[str]:
    present = set(ph["gene"].unique().to_list())
    genes = [g for g in MAIN_GENES if g in present]
    return genes or sorted(present)[:9]  # none of the usual genes: the first ones


def _phenotype_panel(ax: Any, g: pl.DataFrame, gene: str) -> None:
    """One gene: a stacked bar of phenotype shares per group, legend below the axes."""
    groups = _group_order(g["group"].unique().to_list())
    cats = (g.group_by("phenotype").agg(pl.col("count").sum())
            .sort(["count", "phenotype"], descending=[True, False])["phenotype"].to_list())
    special = [c for c in (NO_PHENOTYPE, AMBIGUOUS, NO_CALL) if c in cats]
    cats = [c for c in cats if c not in special] + special
    left = np.zeros(len(groups))
    fb = iter(_PALETTE * 4)
    lut = {(r[0], r[1]): float(r[2] or 0.0)
           for r in g.select(["group", "phenotype", "frequency"]).iter_rows()}
    for cat in cats:
        vals = np.array([lut.get((grp, cat), 0.0) for grp in groups])
        ax.barh(groups, vals, left=left, color=_colour(cat, fb), label=cat,
                edgecolor="white", linewidth=0.4)
        left += vals
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_title(gene, fontsize=9, loc="left", fontweight="bold")
    ax.tick_params(labelsize=7)
    ax.set_xlabel("share of samples", fontsize=7)
    # Legend to the right: constrained layout reserves its room, so nothing overlaps.
    ax.legend(fontsize=MIN_FONT_PT, loc="center left", bbox_to_anchor=(1.01, 0.5),
              ncol=1 if len(cats) <= 12 else 2, frameon=False, borderaxespad=0,
              handlelength=1.2)


def _panel_height(n_groups: int, n_categories: int) -> float:
    """Inches for one gene's panel: its bars or its legend, whichever is taller."""
    return max(0.8 + 0.2 * n_groups, 0.35 + 0.13 * min(n_categories, 12))


def _gene_figure(ph: pl.DataFrame, gene: str) -> Any:
    """One gene's panel as its own figure (an A4 width), for the HTML report."""
    from matplotlib.figure import Figure

    g = ph.filter((pl.col("gene") == gene)
                  & pl.col("group_level").is_in(["all", "superpopulation"]))
    fig = Figure(figsize=(PRINT_WIDTH_IN, _panel_height(g["group"].n_unique(),
                                                        g["phenotype"].n_unique())),
                 layout="constrained")
    _phenotype_panel(fig.add_subplot(), g, gene)
    return fig


def _phenotype_figure(ph: pl.DataFrame) -> Any:
    """All main genes in one figure (the PNG file); constrained layout keeps titles apart."""
    from matplotlib.figure import Figure

    sub = ph.filter(pl.col("group_level").is_in(["all", "superpopulation"]))
    genes = _phenotype_genes(sub)
    ncols = min(2, max(1, len(genes)))
    nrows = max(1, -(-len(genes) // ncols))
    n_cats = max((sub.filter(pl.col("gene") == g)["phenotype"].n_unique() for g in genes),
                 default=1)
    fig = Figure(figsize=(PRINT_WIDTH_IN * ncols,
                          0.5 + nrows * _panel_height(sub["group"].n_unique(), n_cats)),
                 layout="constrained")
    for i, gene in enumerate(genes):
        _phenotype_panel(fig.add_subplot(nrows, ncols, i + 1),
                         sub.filter(pl.col("gene") == gene), gene)
    fig.suptitle("Phenotype frequencies per superpopulation", fontsize=10)
    return fig


def _burden_drugs(burden: pl.DataFrame, top: int) -> list[str]:
    """Drugs shown: most people actionable first, then monitor; those with neither last."""
    overall = burden.filter(pl.col("group_level") == "all").sort(
        ["share_actionable", "share_monitor", "drug"], descending=[True, True, False])
    shown = overall.filter((pl.col("actionable") > 0) | (pl.col("monitor") > 0))
    return (shown if shown.height else overall)["drug"].to_list()[:top]


def _burden_figure(burden: pl.DataFrame, top: int = 40) -> Any:
    """Three heatmaps side by side (actionable, monitor, result incomplete): % of people per
    drug and superpopulation, each cell labelled with its number so print in grey still reads."""
    from matplotlib.figure import Figure

    sub = burden.filter(pl.col("group_level").is_in(["all", "superpopulation"]))
    drugs = _burden_drugs(burden, top)
    groups = _group_order(sub["group"].unique().to_list())
    fig = Figure(figsize=(PRINT_WIDTH_IN, 1.5 + 0.17 * max(len(drugs), 1)),
                 layout="constrained")
    axes = fig.subplots(1, len(HEADLINE), sharey=True)
    for ax, cat in zip(axes, HEADLINE, strict=True):
        col = f"share_{cat.column}"
        mat = np.zeros((len(drugs), len(groups)))
        lut = {(r["drug"], r["group"]): r[col] for r in
               sub.select(["drug", "group", col]).iter_rows(named=True)}
        for i, d in enumerate(drugs):
            for j, g in enumerate(groups):
                mat[i, j] = float(lut.get((d, g)) or 0.0) * 100
        ax.pcolormesh(mat, cmap=_CATEGORY_CMAPS[cat], vmin=0, vmax=100, edgecolors="white",
                      linewidth=0.5)
        for i in range(len(drugs)):
            for j in range(len(groups)):
                ax.text(j + 0.5, i + 0.5, f"{mat[i, j]:.0f}", ha="center", va="center",
                        fontsize=MIN_FONT_PT, color="white" if mat[i, j] > 55 else "black")
        ax.set_xlim(0, len(groups))
        ax.set_ylim(len(drugs), 0)
        ax.set_xticks(np.arange(len(groups)) + 0.5, groups, fontsize=7, rotation=90)
        ax.set_yticks(np.arange(len(drugs)) + 0.5, drugs, fontsize=7)
        ax.tick_params(length=0)
        ax.set_title(f"% {cat.value}", fontsize=9)
    fig.suptitle("Share of people per drug and superpopulation (%)", fontsize=10)
    return fig


def _html_table(df: pl.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = []
    for r in df.iter_rows():
        cells = []
        for v in r:
            if isinstance(v, float):
                cells.append(f"<td class=n>{v * 100:.1f}%</td>")
            elif isinstance(v, int):
                cells.append(f"<td class=n>{v:,}</td>")
            else:
                cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _svg_inline(svg: bytes, prefix: str, label: str) -> str:
    """A matplotlib SVG as inline markup: XML prolog dropped, ids made unique per figure."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg"):]
    text = (text.replace('id="', f'id="{prefix}-').replace("url(#", f"url(#{prefix}-")
            .replace('xlink:href="#', f'xlink:href="#{prefix}-'))
    return text.replace("<svg ", f'<svg role="img" aria-label="{html.escape(label)}" ', 1)


CATEGORY_DEFINITIONS: dict[Category, str] = {
    Category.ACTIONABLE: "the guidance says to avoid the drug, use an alternative or change the "
                         "dose",
    Category.MONITOR: "standard use with monitoring or caution; a change only if the response is "
                      "inadequate (not counted as actionable)",
    Category.RESULT_INCOMPLETE: "a gene the guidance needs has no usable result (no call, "
                                "indeterminate, tied diplotypes with different phenotypes, or "
                                "guidance keyed on something the calls cannot show); never read "
                                "as standard",
    Category.NO_RECOMMENDATION: "the guidelines list this result but give no recommendation",
    Category.STANDARD: "a matched recommendation says standard use",
    Category.NO_GUIDANCE: "no pharmacogenomic guidance for the drug",
}


def _report_html(ph_svgs: Sequence[tuple[str, bytes]], burden_svg: bytes,
                 burden: pl.DataFrame, summary: Mapping[str, Any]) -> str:
    sp = burden.filter(pl.col("group_level").is_in(["all", "superpopulation"]))
    groups = _group_order(sp["group"].unique().to_list())
    head = (sp.filter(pl.col("group") == "all")
            .select(["drug", pl.col("genes").str.replace_all(",", ", "),
                     *[pl.col(f"share_{c.column}").alias(f"{c.value} (all)") for c in HEADLINE]]))
    wide = (sp.filter(pl.col("group") != "all")
            .select(["drug", "group", "share_actionable"])
            .pivot(on="group", index="drug", values="share_actionable"))
    wide = wide.rename({g: f"actionable: {g}" for g in wide.columns if g != "drug"})
    table = (head.join(wide, on="drug", how="left")
             .select(["drug", "genes", *head.columns[2:],
                      *[f"actionable: {g}" for g in groups if f"actionable: {g}" in wide.columns]])
             .sort([f"{c.value} (all)" for c in HEADLINE[:2]] + ["drug"],
                   descending=[True, True, False]))
    top = table.filter(pl.col("actionable (all)") > 0).head(5)
    headline = ", ".join(f"{html.escape(r[0])} {r[1] * 100:.1f} %" for r in
                         top.select(["drug", "actionable (all)"]).iter_rows())
    facts = "".join(f"<li>{html.escape(k)}: {html.escape(str(v))}</li>"
                    for k, v in summary.items())
    defs = "".join(f"<dt>{html.escape(c.value)}</dt><dd>{html.escape(CATEGORY_DEFINITIONS[c])}</dd>"
                   for c in Category)
    genes = "".join(f'<figure class="gene" data-gene="{html.escape(g)}">'
                    f'{_svg_inline(svg, f"ph{i}", f"{g} phenotype frequencies")}</figure>'
                    for i, (g, svg) in enumerate(ph_svgs))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>pgxguard cohort analysis</title>
<style>
body{{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}}
table{{border-collapse:collapse;font-size:12px}}td,th{{border:1px solid #ccc;padding:2px 6px}}
td.n{{text-align:right}}th{{background:#f0f0f0}}
figure{{margin:0.5em 0}}figure svg{{display:block;max-width:100%;height:auto}}
.genes{{display:grid;grid-template-columns:repeat(auto-fill,minmax(700px,max-content));
gap:0.5em 1.5em}}
dt{{font-weight:bold}}dd{{margin:0 0 0.3em 1.5em}}
@page{{size:A4;margin:12mm}}
@media print{{body{{margin:0;max-width:none}}figure,tr{{break-inside:avoid}}
h2{{break-after:avoid}}
table{{font-size:8px;width:100%}}td,th{{padding:1px 3px}}}}
</style></head><body>
<h1>pgxguard cohort analysis</h1>
<ul>{facts}</ul>
<h2 id="headline">Headline</h2>
<p>Largest shares of people with an actionable result (avoid, use an alternative or change the
dose): {headline or "none"}.</p>
<p>Each person's result for each drug falls in exactly one category:</p>
<dl id="categories">{defs}</dl>
<p>Allele frequencies count only samples with exactly one diplotype; ties and no-calls are counted
in their own columns of the TSV tables.</p>
<h2 id="burden">Actionable, monitor and result incomplete per drug and superpopulation</h2>
<figure id="burden-plot">{_svg_inline(burden_svg, "bu", "share of people per drug and "
                                      "superpopulation: actionable, monitor, result incomplete")}
</figure>
<h2 id="burden-table">Share of people per drug (all drugs of the guidance knowledge base)</h2>
{_html_table(table)}
<h2 id="phenotypes">Phenotype frequencies per superpopulation</h2>
<div class="genes">{genes}</div>
</body></html>
"""


# --- entry point -----------------------------------------------------------------------------


def analyse(outdir: str | Path, samples_info: str | Path, *, genes: Sequence[str] | None = None,
            drugs: Sequence[str] | None = None, guidance: GuidanceKB | None = None,
            kb: KnowledgeBase | None = None, plots: bool = True,
            progress: LogLine | None = None) -> AnalysisSummary:
    """Frequency tables, actionable burden and plots for the cohort output in `outdir`.

    `progress`: called with a log line per tenth of each step (genes, drugs) and per phase.
    """
    import time

    t0 = time.monotonic()
    from pgxguard.guidance.load import load_guidance
    from pgxguard.kb.load import load_knowledge_base

    out = Path(outdir)
    info = read_samples_info(samples_info)
    gkb = guidance or load_guidance()
    akb = kb or load_knowledge_base()
    calls = _Calls(out)
    gene_list = calls.genes() if genes is None else [g for g in calls.genes() if g in genes]
    drug_list = list(gkb.drugs) if drugs is None else [d.lower() for d in drugs]
    unknown_drugs = [d for d in drug_list if not gkb.for_drug(d)]
    warnings: list[str] = [f"no guidance for {d!r} in the guidance knowledge base"
                           for d in unknown_drugs]

    samples = calls.samples()  # sample, idx (first-seen order)
    n = samples.height
    groups = (samples.join(info, on="sample", how="left")
              .with_columns([pl.col(c).fill_null(UNKNOWN_GROUP)
                             for c in ("population", "superpopulation", "sex")])
              .sort("idx"))
    no_info = tuple(groups.filter(pl.col("sample").is_in(info["sample"].implode()).not_())
                    ["sample"].to_list())
    no_calls = tuple(info.filter(pl.col("sample").is_in(samples["sample"].implode()).not_())
                     ["sample"].to_list())
    if no_info:
        warnings.append(f"{len(no_info)} sample(s) of the calls are not in the samples info: "
                        f"group '{UNKNOWN_GROUP}'")
    if no_calls:
        warnings.append(f"{len(no_calls)} sample(s) of the samples info have no calls")
    group_cols = groups.select(["sample", "population", "superpopulation"])

    burden_genes = {c.gene for d in drug_list for e in gkb.for_drug(d) for c in e.conditions}
    allele_parts: list[pl.DataFrame] = []
    dip_parts: list[pl.DataFrame] = []
    ph_parts: list[pl.DataFrame] = []
    states: dict[str, _GeneStates] = {}
    n_rows = 0
    duplicates = 0
    sample_idx = samples.select(["sample", "idx"])
    if progress is not None:
        progress(f"analysis: {n:,} samples, {len(gene_list)} genes, "
                 f"{len(drug_list) - len(unknown_drugs)} drugs")
    gene_steps = StepLog(progress, "analysis: frequencies", len(gene_list), "genes") \
        if progress else None
    for gene in gene_list:
        df = calls.gene_frame(gene)
        n_rows += df.height
        dedup = df.unique(subset=["sample"], keep="first", maintain_order=True)
        if dedup.height != df.height:
            duplicates += df.height - dedup.height
            warnings.append(f"{gene}: {df.height - dedup.height} repeated sample row(s) in the "
                            "calls; the first of each was used")
        df = _prepare(dedup).join(group_cols, on="sample", how="left")
        a, d, p = _gene_tables(gene, df)
        allele_parts.append(a)
        dip_parts.append(d)
        ph_parts.append(p)
        if gene in burden_genes:
            states[gene] = _states(df, sample_idx, n, partial(calls.gene_calls, gene))
        if gene_steps is not None:
            gene_steps.step(detail=gene)

    allele_t = _sort_frame(pl.concat(allele_parts) if allele_parts else _empty_allele(), "allele")
    dip_t = _sort_frame(pl.concat(dip_parts) if dip_parts else _empty_dip(), "diplotype")
    ph_t = _sort_frame(pl.concat(ph_parts) if ph_parts else _empty_ph(), "phenotype")
    burden, n_reviews = _burden([d for d in drug_list if d not in unknown_drugs], states,
                                groups, gkb, akb, progress)
    sizes = (_long(groups, ["sample"]).group_by(["group_level", "group"])
             .agg(samples=pl.len().cast(pl.Int64)))
    sizes = _sort_frame(sizes.with_columns(gene=pl.lit("")), None).drop("gene")

    fdir = out / "frequencies"
    files = {
        "allele_frequencies": fdir / "allele_frequencies.tsv",
        "diplotype_frequencies": fdir / "diplotype_frequencies.tsv",
        "phenotype_frequencies": fdir / "phenotype_frequencies.tsv",
        "actionable_burden": fdir / "actionable_burden.tsv",
        "group_sizes": fdir / "group_sizes.tsv",
        "analysis": fdir / "analysis.json",
    }
    _write_tsv(files["allele_frequencies"], allele_t)
    _write_tsv(files["diplotype_frequencies"], dip_t)
    _write_tsv(files["phenotype_frequencies"], ph_t)
    _write_tsv(files["actionable_burden"], burden)
    _write_tsv(files["group_sizes"], sizes)

    superpops = {str(r["group"]): int(r["samples"]) for r in
                 sizes.filter(pl.col("group_level") == "superpopulation").iter_rows(named=True)}
    from pgxguard import __version__

    meta: dict[str, Any] = {
        "format": "pgxguard.cohort-analysis/2",
        "tool": {"name": "pgxguard", "version": __version__},
        "guidance": gkb.provenance(), "knowledge_base": akb.provenance(),
        "samples_info": str(Path(samples_info)),
        "samples": n, "genes": gene_list, "drugs": len(burden["drug"].unique()),
        "rows": n_rows, "duplicate_rows": duplicates, "reviews_run": n_reviews,
        "superpopulations": superpops,
        "samples_without_info": list(no_info), "info_without_calls": len(no_calls),
        "warnings": warnings,
    }
    write_bytes(files["analysis"], (json.dumps(meta, indent=1) + "\n").encode(), make_dirs=True)

    if plots:
        if progress is not None:
            progress("analysis: plots and HTML report")
        pdir = out / "plots"
        ph_fig = _phenotype_figure(ph_t)
        bu_fig = _burden_figure(burden)
        files["phenotype_plot"] = pdir / "phenotype_frequencies.png"
        files["burden_plot"] = pdir / "actionable_burden.png"
        files["report"] = pdir / "cohort_report.html"
        write_bytes(files["phenotype_plot"], _figure_bytes(ph_fig, "png"), make_dirs=True)
        write_bytes(files["burden_plot"], _figure_bytes(bu_fig, "png"), make_dirs=True)
        ph_sub = ph_t.filter(pl.col("group_level").is_in(["all", "superpopulation"]))
        ph_svgs = [(g, _figure_bytes(_gene_figure(ph_sub, g), "svg"))
                   for g in _phenotype_genes(ph_sub)]
        bu_svg = _figure_bytes(bu_fig, "svg")
        facts = {"samples": f"{n:,}", "genes": len(gene_list),
                 "drugs": len(burden["drug"].unique()),
                 "superpopulations": ", ".join(f"{k} {v:,}" for k, v in superpops.items()),
                 "samples without info (group unknown)": len(no_info),
                 "samples-info rows without calls": len(no_calls),
                 "guidance": gkb.version, "pgxguard": __version__}
        page = _report_html(ph_svgs, bu_svg, burden, facts)
        write_bytes(files["report"], page.encode("utf-8"), make_dirs=True)

    if progress is not None:
        progress(f"analysis: done in {duration(time.monotonic() - t0)}")
    return AnalysisSummary(
        outdir=out, files=files, n_samples=n, n_genes=len(gene_list),
        n_drugs=len(burden["drug"].unique()), n_rows=n_rows, groups=superpops,
        samples_without_info=no_info, info_without_calls=no_calls, duplicate_rows=duplicates,
        warnings=tuple(warnings))


def _empty_allele() -> pl.DataFrame:
    return pl.DataFrame(schema={"gene": pl.String, "allele": pl.String,
                                "group_level": pl.String, "group": pl.String,
                                "allele_count": pl.Int64, "called_alleles": pl.Int64,
                                "frequency": pl.Float64, "samples_called": pl.Int64,
                                "samples_tie": pl.Int64, "samples_no_call": pl.Int64,
                                "samples_variants": pl.Int64, "samples": pl.Int64})


def _empty_dip() -> pl.DataFrame:
    return pl.DataFrame(schema={"gene": pl.String, "diplotype": pl.String,
                                "group_level": pl.String, "group": pl.String,
                                "count": pl.Int64, "samples_called": pl.Int64,
                                "frequency": pl.Float64, "samples_tie": pl.Int64,
                                "samples_no_call": pl.Int64, "samples_variants": pl.Int64,
                                "samples": pl.Int64})


def _empty_ph() -> pl.DataFrame:
    return pl.DataFrame(schema={"gene": pl.String, "phenotype": pl.String,
                                "group_level": pl.String, "group": pl.String,
                                "count": pl.Int64, "samples": pl.Int64,
                                "frequency": pl.Float64})


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m pgxguard.cohort.analysis OUTDIR SAMPLES_INFO``."""
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("outdir")
    ap.add_argument("samples_info")
    ap.add_argument("--no-plots", action="store_true")
    ns = ap.parse_args(argv)
    import sys

    s = analyse(ns.outdir, ns.samples_info, plots=not ns.no_plots,
                progress=lambda line: print(line, file=sys.stderr, flush=True))
    print(json.dumps({"samples": s.n_samples, "genes": s.n_genes, "drugs": s.n_drugs,
                      "files": {k: str(v) for k, v in s.files.items()},
                      "warnings": list(s.warnings)}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["LEVELS", "UNKNOWN_GROUP", "AnalysisSummary", "analyse", "read_samples_info"]
