"""Compile the guidance knowledge base from pinned sources, keeping every sentence verbatim.

Sources (pinned by version and sha256, never imported):

* pypgx 0.27.0 wheel (MIT): ``pypgx/api/data/recommendation-table.csv`` -- CPIC recommendations,
  one row per drug x (Gene1, Phenotype1[, Gene2, Phenotype2]). Multi-gene guidelines (TCAs:
  CYP2C19+CYP2D6; thiopurines: NUDT15+TPMT; fluvastatin: CYP2C9+SLCO1B1; rosuvastatin:
  ABCG2+SLCO1B1; volatile anaesthetics/succinylcholine: CACNA1S+RYR1) are rows over both genes.
* panno 0.3.1 sdist (MPL-2.0): SQLite ``panno/assets/pgx_kb.sqlite3``, table ``GuidelineMerge``
  (PharmGKB guideline annotations: Source, PAID, Summary, Phenotype, Genotype, Recommendation and
  the flags Avoid / Alternate / Dosing), one row per source x drug x gene x phenotype.

Rules:

1. Text. Recommendation and summary are copied verbatim; the only change is removing the double
   quotes the SQLite database wraps around some cells (a cell that starts AND ends with ``"``).
   pypgx rows whose Recommendation is ``None`` (the source gives no recommendation) are skipped.
2. Which rows. CPIC: the pypgx rows, for every drug pypgx covers; panno's CPIC rows only for drugs
   pypgx does not cover (warfarin, phenytoin, abacavir, ...), so CPIC is never shown twice. DPWG:
   every panno DPWG row. Other panno sources (RNPGx, CPNDS, SEFF, AusNZ, ACR, CFF) are left out
   (counted in `notes`).
3. Conditions (see `knowledge.py` for the kinds), from the source's own keys:
   pypgx: ``PhenotypeN`` -> ``phenotype`` (``None`` -> ``missing``: the row is for "no result for
   this gene"). panno, in order: Genotype ``AS x[; AS y]`` -> ``activity`` (DPYD, CYP2C9);
   Phenotype ``Activity Score x`` / ``DPD AS x`` -> ``activity``; ``HLA-X*nn:nn positive|negative``
   (``+``-joined parts: one condition per part, possibly on another gene) -> ``allele``;
   ``*a/*b[ or *c/*d]`` -> ``diplotype``; ``*n`` -> ``allele`` (carrier); ``rsN XY`` in Genotype or
   Phenotype -> ``genotype``; a term in the allele knowledge base's phenotype vocabulary of the
   gene (after `norm_phenotype`), or ``Indeterminate`` -> ``phenotype``; anything else ->
   ``unsupported`` (e.g. DPWG CYP3A5 ``Heterozygote``; shown as not evaluated, never matched).
   Rows that differ only in the gene they are filed under (panno files an HLA-A+HLA-B row twice)
   are merged.
4. Action class.
   panno rows: from the source's flags: Avoid -> ``avoid``; else Alternate -> ``use alternative``;
   else Dosing -> ``adjust dose``; no flag -> ``standard``, except that a row without flags whose
   text says not to use the drug (avoid, not recommended, contraindicated, do not use) ->
   ``monitor`` (panno's CPIC abacavir row "Abacavir is not
   recommended" carries no flag). A row whose text is exactly ``No recommendation`` ->
   ``monitor`` whatever its flags.
   pypgx CPIC rows (no flags): the flags of the panno CPIC row(s) of the same drug whose gene and
   phenotype equal one of the row's conditions and whose text equals the pypgx text (ignoring
   case, spacing and a final full stop); failing that, when for EVERY phenotype condition of the
   row the panno CPIC rows of the same drug, gene and phenotype exist and agree on their flags:
   those flags (one gene), or the most urgent of the genes' action classes (two genes; a gene
   whose pypgx phenotype is ``None`` is skipped). Otherwise:
   ``standard`` only if every phenotype of the row is a normal one (``Normal ...``) and the text
   has no change word (avoid, alternative, reduce, increase, decrease, not recommended,
   contraindicated, lower, higher, limit, caution, do not, a percentage); else ``monitor``.
   Last, for every row: flags sometimes contradict the row's own text (the flags of a
   guideline's other rows leak in: CPIC clopidogrel ultrarapid/rapid "use at standard dose" has
   Dosing set; CPIC phenytoin CYP2C9 normal/intermediate "No adjustments needed" has Alternate
   set). A row classed avoid / use alternative / adjust dose whose text states standard dosing
   ("use at standard dose", "at standard doses", "no adjustment(s) needed", "initiate therapy
   with recommended starting dose") and has no change word -> ``monitor`` when the text says
   to monitor or evaluate, else ``standard``.
   `GuidanceEntry.action_basis` records which of these rules gave the action.
5. Guideline id (PharmGKB PAID) and URL ``https://www.pharmgkb.org/guidelineAnnotation/<PAID>``:
   panno rows carry theirs; a pypgx row takes the PAID (and summary) of its flag row, else the
   PAID of the panno CPIC rows of that drug when they name one guideline.
6. ``version`` = ``<schema>.<first 8 hex of the content digest>+pypgx-<v>+panno-<v>``.

Run: ``python -m pgxguard.guidance.build [--wheel PATH] [--panno PATH] [-o PATH]``.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance.knowledge import (
    GUIDANCE_SCHEMA,
    Condition,
    GuidanceEntry,
    GuidanceKB,
    GuidanceSource,
    norm_phenotype,
)
from pgxguard.guidance.model import Action
from pgxguard.kb.build import (
    DATA_PREFIX,
    PYPGX_LICENCE,
    PYPGX_URL,
    PYPGX_VERSION,
    PYPGX_WHEEL_SHA256,
    download_wheel,
    sha256_file,
    verify_wheel,
)
from pgxguard.kb.model import KnowledgeBase, content_checksum
from pgxguard.snapshot import snapshot_bytes as _snapshot_bytes
from pgxguard.snapshot import write_snapshot_file

PANNO_VERSION = "0.3.1"
PANNO_SDIST = f"panno-{PANNO_VERSION}.tar.gz"
PANNO_SDIST_SHA256 = "c35d4e8b525a6c444bac0f7b427868bb434f4c034d5a352e00f8caabeb9ced81"
PANNO_URL = f"https://pypi.org/project/panno/{PANNO_VERSION}/"
PANNO_LICENCE = "MPL-2.0"
PANNO_DB = f"panno-{PANNO_VERSION}/panno/assets/pgx_kb.sqlite3"
RECOMMENDATION_TABLE = f"{DATA_PREFIX}recommendation-table.csv"
PHARMGKB_GUIDELINE_URL = "https://www.pharmgkb.org/guidelineAnnotation/{}"
INCLUDED_PANNO_SOURCES = ("CPIC", "DPWG")

DEFAULT_SNAPSHOT = Path(__file__).parent / "data" / "guidance.json.gz"

PYPGX_LABEL = f"pypgx {PYPGX_VERSION} recommendation-table.csv"
PANNO_LABEL = f"panno {PANNO_VERSION} pgx_kb.sqlite3 GuidelineMerge"

Row = dict[str, str]

_CHANGE_WORDS = re.compile(
    r"\b(avoid\w*|alternative\w*|reduc\w*|increas\w*|decreas\w*|not recommended|"
    r"contraindicat\w*|lower|higher|limit\w*|caution\w*|do not)\b|\d+\s*%", re.IGNORECASE)
# Text that says the dose is unchanged (rule 4, last paragraph), and words of monitoring.
_STANDARD_TEXT = re.compile(r"\b(use at standard dose|at standard doses|no adjustments? "
                            r"needed|initiate therapy with (the )?recommended starting dose)\b",
                            re.IGNORECASE)
_MONITOR_WORDS = re.compile(r"\b(monitor\w*|evaluate\w*)\b", re.IGNORECASE)
_STOP_WORDS = re.compile(r"\b(avoid\w*|not recommended|contra-?indicat\w*|do not use)\b",
                         re.IGNORECASE)
_AS_GENOTYPE = re.compile(r"^AS\s+([0-9.]+)$")
_AS_PHENOTYPE = re.compile(r"^(?:Activity Score|DPD AS)\s+([0-9.]+)$", re.IGNORECASE)
_HLA_PART = re.compile(r"^(HLA-[A-Z0-9]+)(\*[0-9:]+)\s+(positive|negative)$", re.IGNORECASE)
_DIPLOTYPE = re.compile(r"^\*[0-9A-Za-z.]+/\*[0-9A-Za-z.]+$")
_CARRIER = re.compile(r"^\*[0-9A-Za-z.]+$")
_RS_GENOTYPE = re.compile(r"^(rs[0-9]+)\s+([ACGT]+)$")


def unquote(text: str) -> str:
    """Remove the double quotes wrapping a whole SQLite cell; nothing else."""
    t = text
    if len(t) >= 2 and t.startswith('"') and t.endswith('"'):
        t = t[1:-1]
    return t


def _same_text(a: str, b: str) -> bool:
    def n(s: str) -> str:
        return " ".join(unquote(s).lower().split()).rstrip(".")
    return n(a) == n(b)


def action_from_flags(avoid: int, alternate: int, dosing: int, text: str) -> Action:
    if unquote(text).strip().lower() == "no recommendation":
        return Action.MONITOR
    if avoid:
        return Action.AVOID
    if alternate:
        return Action.USE_ALTERNATIVE
    if dosing:
        return Action.ADJUST_DOSE
    if _STOP_WORDS.search(text):
        return Action.MONITOR  # no flag, but the text says not to use it: never "standard"
    return Action.STANDARD


def text_override(entry: GuidanceEntry) -> GuidanceEntry:
    """Rule 4, last paragraph: a row whose text states standard dosing and no change is not
    classed avoid / use alternative / adjust dose because of its flags (the flags of a
    guideline's other rows leak into it, e.g. CPIC clopidogrel ultrarapid "use at standard
    dose" carries Dosing)."""
    if entry.action not in (Action.AVOID, Action.USE_ALTERNATIVE, Action.ADJUST_DOSE):
        return entry
    if not _STANDARD_TEXT.search(entry.text) or _CHANGE_WORDS.search(entry.text):
        return entry
    action = Action.MONITOR if _MONITOR_WORDS.search(entry.text) else Action.STANDARD
    return replace(entry, action=action, action_basis=(
        f"{entry.action_basis}; text states standard dosing: flag class {entry.action} "
        f"-> {action}"))


def fallback_action(phenotypes: Iterable[str], text: str) -> Action:
    normal = all(norm_phenotype(p).startswith("normal") for p in phenotypes)
    return Action.STANDARD if normal and not _CHANGE_WORDS.search(text) else Action.MONITOR


# --- reading the sources -------------------------------------------------------------------------


def read_recommendations(wheel: Path) -> list[Row]:
    try:
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(RECOMMENDATION_TABLE)
    except KeyError as e:
        raise KnowledgeBaseError(f"{RECOMMENDATION_TABLE} missing from the wheel",
                                 path=str(wheel)) from e
    except (zipfile.BadZipFile, OSError) as e:
        raise KnowledgeBaseError(f"cannot read the pypgx wheel: {e}", path=str(wheel)) from e
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def verify_panno(sdist: Path) -> str:
    if not sdist.is_file():
        raise KnowledgeBaseError("panno sdist not found", path=str(sdist),
                                 hint=f"download it with `python -m pip download --no-deps "
                                      f"--no-binary :all: panno=={PANNO_VERSION}` or omit --panno")
    digest = sha256_file(sdist)
    if digest != PANNO_SDIST_SHA256:
        raise KnowledgeBaseError(
            f"sha256 {digest} differs from the pinned {PANNO_SDIST_SHA256} of {PANNO_SDIST}",
            path=str(sdist), hint="use the panno sdist pinned in pgxguard/guidance/build.py")
    return digest


def download_panno(dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           f"panno=={PANNO_VERSION}", "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        raise KnowledgeBaseError(f"could not run pip to download panno: {e}",
                                 hint="download the sdist yourself and pass --panno PATH") from e
    sdist = dest / PANNO_SDIST
    if proc.returncode != 0 or not sdist.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise KnowledgeBaseError(
            f"pip download of panno=={PANNO_VERSION} failed: {' / '.join(tail) or 'no sdist'}",
            hint="check network access to PyPI, or pass --panno PATH")
    verify_panno(sdist)
    return sdist


def read_panno(sdist: Path) -> list[dict[str, object]]:
    """The GuidelineMerge rows of panno's SQLite database, read from the sdist."""
    with tempfile.TemporaryDirectory(prefix="pgxguard-panno-") as tmp:
        db = Path(tmp) / "pgx_kb.sqlite3"
        try:
            with tarfile.open(sdist, "r:gz") as tf:
                member = tf.extractfile(PANNO_DB)
                if member is None:
                    raise KnowledgeBaseError(f"{PANNO_DB} is not a file", path=str(sdist))
                db.write_bytes(member.read())
        except KeyError as e:
            raise KnowledgeBaseError(f"{PANNO_DB} missing from the sdist", path=str(sdist)) from e
        except (tarfile.TarError, OSError) as e:
            raise KnowledgeBaseError(f"cannot read the panno sdist: {e}", path=str(sdist)) from e
        con = sqlite3.connect(db)
        try:
            con.row_factory = sqlite3.Row
            rows = [dict(r) for r in con.execute("SELECT * FROM GuidelineMerge ORDER BY ID")]
        except sqlite3.Error as e:
            raise KnowledgeBaseError(f"cannot read GuidelineMerge: {e}", path=str(sdist)) from e
        finally:
            con.close()
    return rows


# --- conversion ----------------------------------------------------------------------------------


def _vocab(allele_kb: KnowledgeBase) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for gene, rules in allele_kb.phenotypes.items():
        terms = set(rules.diplotypes.values()) | {r.phenotype for r in rules.activity_ranges}
        out[gene] = {norm_phenotype(t, gene) for t in terms} | {"indeterminate"}
    return out


def _split_alternatives(text: str) -> list[str]:
    return [p.strip() for p in re.split(r";| or ", text) if p.strip()]


def panno_conditions(gene: str, phenotype: str, genotype: str,
                     vocab: dict[str, set[str]]) -> tuple[Condition, ...]:
    """Rule 3 for one panno row."""
    label = unquote(phenotype).strip()
    gt = (genotype or "").strip()
    gt_parts = _split_alternatives(gt) if gt else []
    if gt_parts and all(_AS_GENOTYPE.match(p) for p in gt_parts):
        vals = tuple(_num(_AS_GENOTYPE.match(p).group(1)) for p in gt_parts)  # type: ignore[union-attr]
        return (Condition(gene=gene, kind="activity", values=vals, label=label),)
    if m := _AS_PHENOTYPE.match(label):
        return (Condition(gene=gene, kind="activity", values=(_num(m.group(1)),), label=label),)
    parts = [p.strip() for p in label.split("+")]
    hla = [_HLA_PART.match(p) for p in parts]
    if all(hla):
        return tuple(Condition(gene=m.group(1).upper(), kind="allele", values=(m.group(2),),
                               negate=m.group(3).lower() == "negative", label=m.group(0))
                     for m in hla if m is not None)
    alts = _split_alternatives(label)
    if alts and all(_DIPLOTYPE.match(a) for a in alts):
        return (Condition(gene=gene, kind="diplotype", values=tuple(alts), label=label),)
    if len(alts) == 1 and _CARRIER.match(alts[0]):
        return (Condition(gene=gene, kind="allele", values=(alts[0],), label=label),)
    rs_src = gt_parts or alts
    rs = [_RS_GENOTYPE.match(p) for p in rs_src]
    if rs_src and all(rs) and len({m.group(1) for m in rs if m}) == 1:
        ms = [m for m in rs if m]
        return (Condition(gene=gene, kind="genotype", rsid=ms[0].group(1),
                          values=tuple("".join(sorted(m.group(2))) for m in ms), label=label),)
    normed = [norm_phenotype(a, gene) for a in alts]
    known = vocab.get(gene)
    if normed and known is not None and all(n in known for n in normed):
        return (Condition(gene=gene, kind="phenotype", values=tuple(normed), label=label),)
    return (Condition(gene=gene, kind="unsupported", label=label),)


def _num(text: str) -> str:
    v = float(text)
    return f"{v:g}"


def _flags(r: dict[str, object]) -> tuple[int, int, int]:
    return (int(str(r["Avoid"])), int(str(r["Alternate"])), int(str(r["Dosing"])))


def _url(paid: str | None) -> str | None:
    return PHARMGKB_GUIDELINE_URL.format(paid) if paid else None


def _pypgx_entries(rows: list[Row], cpic_panno: list[dict[str, object]],
                   notes: list[str]) -> list[GuidanceEntry]:
    by_drug: dict[str, list[dict[str, object]]] = {}
    for cr in cpic_panno:
        by_drug.setdefault(str(cr["Drug"]).lower(), []).append(cr)
    out: list[GuidanceEntry] = []
    skipped = 0
    basis_count: Counter[str] = Counter()
    for i, r in enumerate(rows, start=2):
        text = r["Recommendation"]
        if text.strip() in ("", "None"):
            skipped += 1
            continue
        drug = r["Drug"].strip().lower()
        conds: list[Condition] = []
        for g, p in ((r["Gene1"], r["Phenotype1"]), (r["Gene2"], r["Phenotype2"])):
            g = g.strip()
            if g in ("", "None"):
                continue
            p = p.strip()
            if p == "None":
                conds.append(Condition(gene=g, kind="missing", label="None"))
            else:
                conds.append(Condition(gene=g, kind="phenotype",
                                       values=(norm_phenotype(p, g),), label=p))
        panno = by_drug.get(drug, [])

        def same_key(pr: dict[str, object], cond: Condition) -> bool:
            return (str(pr["Gene"]) == cond.gene and cond.kind == "phenotype"
                    and norm_phenotype(str(pr["Phenotype"]), cond.gene) == cond.values[0])

        flag_rows = [pr for pr in panno if any(same_key(pr, c) for c in conds)
                     and _same_text(str(pr["Recommendation"]), text)]
        basis = "panno CPIC flags (same drug, gene, phenotype and text)"
        per_gene: list[list[dict[str, object]]] = []
        if not flag_rows:
            keyed = [c for c in conds if c.kind == "phenotype"]
            per_gene = [[pr for pr in panno if same_key(pr, c)] for c in keyed]
            if not keyed or not all(rs and len({_flags(pr) for pr in rs}) == 1
                                    for rs in per_gene):
                per_gene = []
        flags: tuple[int, int, int] | None = None
        summary: str | None = None
        paid: str | None = None
        if len(per_gene) == 1:
            flag_rows = per_gene[0]
            basis = "panno CPIC flags (same drug, gene and phenotype)"
        if len(per_gene) > 1:
            action = min((action_from_flags(*_flags(rs[0]), text) for rs in per_gene),
                         key=lambda a: a.priority)
            basis = ("most urgent of the panno CPIC flags of each gene and phenotype "
                     "(same drug)")
            paids = {str(rs[0]["PAID"]) for rs in per_gene}
            paid = paids.pop() if len(paids) == 1 else None
        elif flag_rows and len({_flags(pr) for pr in flag_rows}) == 1:
            flags = _flags(flag_rows[0])
            action = action_from_flags(*flags, text)
            summary = unquote(str(flag_rows[0]["Summary"]))
            paid = str(flag_rows[0]["PAID"])
        else:
            phenos = [c.label for c in conds if c.kind == "phenotype"]
            action = fallback_action(phenos, text)
            basis = ("fallback: normal phenotype(s) and no change word -> standard"
                     if action is Action.STANDARD else "fallback: not shown to be standard -> "
                     "monitor")
            paids = {str(pr["PAID"]) for pr in panno}
            paid = paids.pop() if len(paids) == 1 else None
        basis_count[basis] += 1
        out.append(GuidanceEntry(
            source="CPIC", source_version=PYPGX_LABEL, drug=drug, conditions=tuple(conds),
            text=text, action=action, action_basis=basis, summary=summary, guideline_id=paid,
            guideline_url=_url(paid), flags=flags, row=f"recommendation-table.csv line {i}"))
    notes.append(f"pypgx: {len(out)} CPIC recommendations kept, {skipped} rows without "
                 "recommendation text skipped")
    for b, n in sorted(basis_count.items()):
        notes.append(f"pypgx action basis: {n} x {b}")
    return out


def _panno_entries(rows: list[dict[str, object]], skip_cpic_drugs: set[str],
                   vocab: dict[str, set[str]], notes: list[str]) -> list[GuidanceEntry]:
    out: list[GuidanceEntry] = []
    seen: set[tuple[object, ...]] = set()
    for r in rows:
        source = str(r["Source"])
        drug = str(r["Drug"]).strip().lower()
        if source not in INCLUDED_PANNO_SOURCES:
            continue
        if source == "CPIC" and drug in skip_cpic_drugs:
            continue
        conds = panno_conditions(str(r["Gene"]), str(r["Phenotype"]), str(r["Genotype"] or ""),
                                 vocab)
        text = unquote(str(r["Recommendation"]))
        key = (source, drug, conds, text, str(r["PAID"]))
        if key in seen:
            continue
        seen.add(key)
        flags = _flags(r)
        paid = str(r["PAID"])
        out.append(GuidanceEntry(
            source=source, source_version=PANNO_LABEL, drug=drug, conditions=conds, text=text,
            action=action_from_flags(*flags, text), action_basis="panno flags (Avoid, Alternate, "
            "Dosing)", summary=unquote(str(r["Summary"])), guideline_id=paid,
            guideline_url=_url(paid), flags=flags, row=f"GuidelineMerge ID {r['ID']}"))
    counts = Counter(str(r["Source"]) for r in rows)
    left = {s: n for s, n in counts.items() if s not in INCLUDED_PANNO_SOURCES}
    notes.append(f"panno: {len(out)} entries kept ({', '.join(f'{s} {n}' for s, n in Counter(e.source for e in out).items())}); "  # noqa: E501
                 f"left out: {', '.join(f'{s} {n}' for s, n in sorted(left.items()))}; CPIC rows "
                 f"of {len(skip_cpic_drugs)} drugs covered by pypgx used only for flags")
    unsup = Counter((e.source, c.gene, c.label) for e in out for c in e.conditions
                    if c.kind == "unsupported")
    for (s, g, lab), n in sorted(unsup.items()):
        notes.append(f"panno: {s} {g} {lab[:60]!r} ({n} rows) cannot be evaluated from calls")
    return out


def compile_guidance(pypgx_rows: list[Row], panno_rows: list[dict[str, object]],
                     allele_kb: KnowledgeBase, *, wheel_sha256: str = PYPGX_WHEEL_SHA256,
                     panno_sha256: str = PANNO_SDIST_SHA256,
                     notes: list[str] | None = None) -> GuidanceKB:
    """Apply the rules of the module docstring."""
    collected: list[str] = []
    vocab = _vocab(allele_kb)
    cpic_panno = [r for r in panno_rows if r["Source"] == "CPIC"]
    entries = _pypgx_entries(pypgx_rows, cpic_panno, collected)
    pypgx_drugs = {e.drug for e in entries}
    entries += _panno_entries(panno_rows, pypgx_drugs, vocab, collected)
    entries = [text_override(e) for e in entries]
    overridden = sum("text states standard dosing" in e.action_basis for e in entries)
    collected.append(f"{overridden} entries whose flags contradict their text 'standard "
                     "dosing' re-classified (rule 4, last paragraph)")
    entries.sort(key=lambda e: (e.drug, e.source, e.row))
    sources = (
        GuidanceSource(name="pypgx", version=PYPGX_VERSION, licence=PYPGX_LICENCE,
                       url=PYPGX_URL, sha256=wheel_sha256,
                       provides="CPIC recommendations (recommendation-table.csv)"),
        GuidanceSource(name="panno", version=PANNO_VERSION, licence=PANNO_LICENCE,
                       url=PANNO_URL, sha256=panno_sha256,
                       provides="CPIC and DPWG guideline annotations (PharmGKB, via PAnno's "
                                "pgx_kb.sqlite3 GuidelineMerge)"),
    )
    kb = GuidanceKB(version="", sources=sources, entries=tuple(entries),
                    notes=tuple(collected))
    body = kb.to_json()
    del body["version"], body["checksum"]
    digest = content_checksum(body)
    if notes is not None:
        notes.extend(collected)
    return replace(kb, version=f"{GUIDANCE_SCHEMA}.{digest[:8]}+pypgx-{PYPGX_VERSION}"
                               f"+panno-{PANNO_VERSION}")


def build_guidance(wheel: Path | None = None, panno: Path | None = None, *,
                   allele_kb: KnowledgeBase | None = None,
                   notes: list[str] | None = None) -> GuidanceKB:
    """Build from the pinned pypgx wheel and panno sdist (downloaded with pip if not given)."""
    from pgxguard.kb.load import load_knowledge_base

    akb = allele_kb or load_knowledge_base()
    with tempfile.TemporaryDirectory(prefix="pgxguard-guidance-") as tmp:
        if wheel is None:
            wheel = download_wheel(Path(tmp))
            wheel_sha = PYPGX_WHEEL_SHA256
        else:
            wheel_sha = verify_wheel(Path(wheel))
        if panno is None:
            panno = download_panno(Path(tmp))
            panno_sha = PANNO_SDIST_SHA256
        else:
            panno_sha = verify_panno(Path(panno))
        return compile_guidance(read_recommendations(Path(wheel)), read_panno(Path(panno)), akb,
                                wheel_sha256=wheel_sha, panno_sha256=panno_sha, notes=notes)


def snapshot_bytes(kb: GuidanceKB) -> bytes:
    """The deterministic gzip JSON of `kb` (sorted keys, gzip mtime 0)."""
    return _snapshot_bytes(kb.to_json())


def write_snapshot(kb: GuidanceKB, path: str | Path = DEFAULT_SNAPSHOT) -> Path:
    """Write `kb` to `path` atomically (temporary file in the same folder, then os.replace)."""
    return write_snapshot_file(kb.to_json(), path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pgxguard.guidance.build",
                                     description="Compile the guidance knowledge base.")
    parser.add_argument("--wheel", type=Path, default=None, help="pypgx wheel (default: pip)")
    parser.add_argument("--panno", type=Path, default=None, help="panno sdist (default: pip)")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_SNAPSHOT)
    args = parser.parse_args(argv)
    notes: list[str] = []
    try:
        kb = build_guidance(args.wheel, args.panno, notes=notes)
        out = write_snapshot(kb, args.output)
    except KnowledgeBaseError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"wrote {out}: guidance {kb.version}, {len(kb.entries)} entries, "
          f"{len(kb.drugs)} drugs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
