"""Compile the guidance knowledge base from CPIC's and DPWG's published guideline annotations.

Sources (the kb-sources tree, `kb/sources.py`, every file checked against its SHA-256):
``pharmcat/guidelines/{CPIC,DPWG}_*.json`` (ClinPGx/PharmGKB guideline annotations with
structured recommendations), ``pharmcat/messages.json`` (PharmCAT's curated messages) and
``cpic/change-log.tsv`` (CPIC's dated change log). Run by ``pgxguard kb build`` after the allele
knowledge base (whose phenotype vocabulary the lookup keys are checked against), or as
``python -m pgxguard.guidance.build``.

Rules:

1. **Text** is kept as published: ``text_html`` exactly; ``text`` the same words with the HTML
   tags removed and entities decoded. Implications, strength (``classification``), population
   and the three flags are copied as published. pgxguard writes no clinical text.
2. **Drugs**: one entry per recommendation and drug it names (``relatedChemicals``), lower case.
3. **Conditions** from ``lookupKey``, per gene: ``No Result`` -> ``no_result``; a mapping of
   allele -> count -> ``diplotype``; HLA ``*nn:nn positive|negative`` -> ``allele_status``; DPYD
   ``<score> (<phenotype>)`` -> ``lookup`` of the score, ``<score> (Phenotyping)`` ->
   ``unsupported`` (DPD enzyme measurements, not a genotype); CPIC's ``xN combinations`` and
   DPWG's HLA-B ``1511 and 1502`` -> ``unsupported``; any other string must be a lookup key or
   phenotype of the gene's CPIC table -> ``lookup``. A key naming a phenotype or allele the
   knowledge base does not know is a `KnowledgeBaseError` (never a silent skip).
4. **Action class** from the flags and the recommendation's own words (`classify`), written out
   with examples in docs/guidance.md and listed for every recommendation in
   docs/guidance-classes.tsv (regenerated and compared by a test).
5. **Currency**: change-log entries dated after the guideline snapshot are kept (`Change`) so
   reviews flag drugs whose CPIC recommendations (or whose genes' function tables) changed later.
6. ``version`` = ``<schema>.<first 8 hex of the content digest>+guidelines-<snapshot date>``.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pgxguard.errors import KnowledgeBaseError, PgxError
from pgxguard.guidance.knowledge import (
    GUIDANCE_SCHEMA,
    Change,
    Condition,
    GuidanceEntry,
    GuidanceKB,
    GuidanceSource,
    Guideline,
    Message,
)
from pgxguard.guidance.model import Action
from pgxguard.kb.model import KnowledgeBase, content_checksum
from pgxguard.kb.sources import SourceTree
from pgxguard.snapshot import snapshot_bytes as _snapshot_bytes
from pgxguard.snapshot import write_snapshot_file

__all__ = ["DEFAULT_SNAPSHOT", "build_guidance", "classes_table", "classify", "compile_guidance",
           "main", "plain_text", "snapshot_bytes", "write_snapshot"]

DEFAULT_SNAPSHOT = Path(__file__).parent / "data" / "guidance.json.gz"
GUIDELINES = "pharmcat/guidelines/"
MESSAGES = "pharmcat/messages.json"
CHANGE_LOG = "cpic/change-log.tsv"
SOURCES = ("CPIC", "DPWG")

_TAG = re.compile(r"<[^>]+>")
_HEADING = re.compile(r"<h\d[^>]*>", re.IGNORECASE)
_HLA_STATUS = re.compile(r"^(\*\d{2,3}:\d{2,3})\s+(positive|negative)$")
_DPYD_LABELLED = re.compile(r"^(\d+(?:\.\d+)?)\s+\((.+)\)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
UNSUPPORTED_KEYS = {"xN combinations": "CPIC's note that xN is not a valid CYP2D6 input",
                    "1511 and 1502": "carriers of both HLA-B*15:11 and *15:02"}


def plain_text(fragment: str) -> str:
    """The words of an HTML fragment: tags removed, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def primary_text(fragment: str) -> str:
    """The recommendation itself: the text before its first heading ("Other Considerations")."""
    m = _HEADING.search(fragment)
    return plain_text(fragment[:m.start()] if m else fragment)


# --- action classes (rule 4; docs/guidance.md) -------------------------------------------------

_NO_REC = re.compile(r"^no recommendation\b|\bdoes not provide a recommendation\b|"
                     r"\bno recommendation (can be|is) (made|given)\b", re.IGNORECASE)
_STOP = re.compile(r"\bavoid\w*\b|\bnot recommended\b|\bcontra-?indicated\b|"
                   r"\bdo not (use|prescribe|initiate|start|administer|give)\b|"
                   r"\bshould not be (used|prescribed|administered|given|started)\b|"
                   r"\bmust not be\b|\bnot be used\b", re.IGNORECASE)
_CONDITIONAL = re.compile(r"\bif (there is )?(no|an inadequate|insufficient|a lack of|lack of)\s+"
                          r"(\w+\s+){0,3}(response|effect|efficacy|benefit|analgesia)|"
                          r"\bif (the )?(response|effect) is (inadequate|insufficient)|"
                          r"\bif (the )?patient does not (adequately )?respond\b|"
                          r"\bif (the )?(effectiveness|efficacy|effect) is (still )?insufficient\b|"
                          r"\bif no (clinical )?response\b",
                          re.IGNORECASE)
_DOSE = re.compile(
    r"\b(reduc\w*|decreas\w*|increas\w*|lower\w*|higher|halv\w*|doubl\w*|adjust\w*)\b"
    r"[^.;]{0,25}\b(dose|doses|dosage|dosing)\b|"
    r"\b(dose|doses|dosage|dosing)\b[^.;]{0,20}\b(reduc\w*|decreas\w*|increas\w*|lower|higher|"
    r"halv\w*)\b|\b\d+(\.\d+)?\s*%|\bmaximum (daily )?dose\b|\btitrat\w*|\bmg/kg\b|"
    r"\bdose of \d|\b\d+(\.\d+)?\s*(times|x)\b|\bhalf (of )?the\b|\bdouble the\b|"
    r"[\u2264<]\s*\d+\s*mg",
    re.IGNORECASE)
_NO_DOSE_CHANGE = re.compile(r"\bno (dose|dosage|dosing) adjustments?\b|\bno adjustments?\b|"
                             r"\bnot? (need|necessary|required) to (adjust|change)", re.IGNORECASE)
_ALTERNATIVE = re.compile(r"\balternative\w*\b|\bselect an? (different|other)\b|\binstead\b|"
                          r"\bswitch\w*\b|\bconsider (an?|another) ([\w-]+\s+){0,3}(drug|agent|"
                          r"medication|therapy|opioid|statin|antidepressant|antiplatelet|"
                          r"treatment)|\bconsider [\w\s-]{0,40}therapy such as\b",
                          re.IGNORECASE)
_STANDARD = re.compile(r"\blabel[- ]recommended\b|\bstandard (dose|doses|dosing|starting)\b|"
                       r"\bper standard\b|\brecommended starting dose\b|\bnormal (starting )?"
                       r"dose\b|\busual dose\b|\bno indication to change\b|\bno action\b|"
                       r"\bno (dose|dosage|dosing)? ?adjustments? (is |are )?(needed|required|"
                       r"necessary)\b|\bat standard doses?\b|\bstandard dosing\b|"
                       r"\binitiate therapy with (the )?recommended\b|\bno reason to\b|"
                       r"\baccording to the (product )?label\b|\bper (the )?(product )?label\b|"
                       r"\bprescribe (the )?desired starting dose\b",
                       re.IGNORECASE)
_MONITOR_STRICT = re.compile(r"\bmonitor\w*\b|\bbe (extra )?(alert|aware)\b|\bshould be aware\b|"
                             r"\btherapeutic drug monitoring\b",
                             re.IGNORECASE)
_MONITOR = re.compile(r"\bmonitor\w*\b|\bcaution\w*\b|\bbe (alert|aware)\b|\bevaluat\w*\b|"
                      r"\bclose\w* (follow|observ)\w*|\btherapeutic drug monitoring\b|"
                      r"\bconsider\w*\b|\bcounsel\w*\b|\bwatch\b", re.IGNORECASE)


_NOT_ABOUT_DRUG = re.compile(r"\b(no (reason|need) to avoid|avoid\w* (the )?(use of )?"
                             r"(moderate|strong|potent|concomitant|co-?medication)[^.;]{0,40}|"
                             r"[\w-]+ (use )?is "
                             r"contra-?indicated[^.;]{0,20}(aromatase|inhibitor))", re.IGNORECASE)
# Routine or non-committal phrases that are not an instruction about this drug's dose.
_NEUTRAL = re.compile(r"\badjust\w* (the )?doses?( of [\w-]+)?( \([^)]*\))? "
                      r"(based on|according to) "
                      r"(disease-specific|the degree of|myelosuppression)|"
                      r"\b(it is )?not possible to (offer|recommend|give|make)\b[^.;]*|"
                      r"\binsufficient (information|data|evidence)[^.;]*recommendation[^.;]*",
                      re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.;:!?])\s+(?=[A-Z(])")
_CATEGORIES: tuple[tuple[Action, re.Pattern[str], str], ...] = (
    (Action.AVOID, _STOP, "R2 the text says avoid / not recommended / contraindicated"),
    (Action.ADJUST_DOSE, _DOSE, "R4 the text changes the dose"),
    (Action.USE_ALTERNATIVE, _ALTERNATIVE, "R5 the text names an alternative drug"),
    (Action.STANDARD, _STANDARD, "R6 the text says standard use"),
    (Action.MONITOR, _MONITOR_STRICT, "R7 the text asks for monitoring"),
)


def _first_instruction(primary: str) -> tuple[Action, str] | None:
    """The class of the text's first instruction: the first sentence that matches a category,
    and in it the category matching first (\"Start with 50% of the standard dose or avoid X\"
    is a dose change; \"Avoid X. If X is warranted, reduce the dose\" is avoid)."""
    for sentence in _SENTENCE.split(primary):
        cleaned = _NOT_ABOUT_DRUG.sub(lambda m: "no reason to change" if
                                      m.group(0).lower().startswith("no") else " ", sentence)
        cleaned = _NEUTRAL.sub(" ", cleaned)
        if _NO_DOSE_CHANGE.search(cleaned) and not re.search(r"\d+\s*%", cleaned):
            cleaned = _NO_DOSE_CHANGE.sub("standard dosing", cleaned)
        hits = [(m.start(), k, action, rule) for k, (action, rx, rule) in enumerate(_CATEGORIES)
                if (m := rx.search(cleaned))]
        if hits:
            _pos, _k, action, rule = min(hits)
            return action, rule
    return None


def classify(primary: str, strength: str | None,
             flags: tuple[bool, bool, bool]) -> tuple[Action, str]:
    """A recommendation's action class and the rule that gave it (docs/guidance.md)."""
    dosing, alternate, other = flags
    if (strength or "").strip().lower() == "no recommendation" or _NO_REC.search(primary):
        return Action.NO_RECOMMENDATION, "R1 the guideline gives no recommendation"
    first = _first_instruction(primary)
    if first is not None:
        action, rule = first
        if action is Action.STANDARD and _CONDITIONAL.search(primary):
            return Action.MONITOR, ("R3 standard use, with a change only if the response is "
                                    "inadequate")
        later = _SENTENCE.split(primary)[1:]
        if action is Action.STANDARD and any(_DOSE.search(_NEUTRAL.sub(" ", x))
                                             and not _CONDITIONAL.search(x) for x in later):
            return Action.ADJUST_DOSE, "R4 standard start, then a dose change"
        if action is Action.STANDARD and (_MONITOR_STRICT.search(primary)):
            return Action.MONITOR, "R3 standard use with monitoring"
        return action, rule
    if _MONITOR.search(primary) or other:
        return Action.MONITOR, "R7 the text asks for monitoring, caution or consideration"
    if dosing:
        return Action.ADJUST_DOSE, "R8 no class in the text; dosing-information flag"
    if alternate:
        return Action.USE_ALTERNATIVE, "R8 no class in the text; alternative-drug flag"
    return Action.MONITOR, "R9 nothing in the text or flags shows standard use"


# --- conditions (rule 3) ---------------------------------------------------------------------


def _vocabulary(akb: KnowledgeBase) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for gene, rules in akb.phenotypes.items():
        out[gene] = {r.phenotype for r in rules.rows} | {r.lookup_key for r in rules.rows}
    return out


def _alleles(akb: KnowledgeBase, gene: str) -> set[str]:
    names = set(akb.allele_functions.get(gene, {}))
    for d in akb.definitions.get(gene, {}).values():
        names |= set(d.allele_names) | set(d.structural_alleles)
    return names


def conditions(lookup: Any, akb: KnowledgeBase, vocab: dict[str, set[str]],
               where: str) -> tuple[Condition, ...]:
    if not isinstance(lookup, dict) or not lookup:
        raise KnowledgeBaseError(f"{where}: 'lookupKey' must be a non-empty object")
    out: list[Condition] = []
    for gene, key in sorted(lookup.items()):
        if isinstance(key, dict):
            names: list[str] = []
            for a, n in key.items():
                if n not in (1, 2, 1.0, 2.0):
                    raise KnowledgeBaseError(f"{where}: {gene} allele count {n!r}")
                names += [a] * int(n)
            unknown = [a for a in names if a not in _alleles(akb, gene)]
            if unknown or len(names) != 2:
                raise KnowledgeBaseError(f"{where}: {gene} diplotype key {key} names unknown "
                                         f"alleles {unknown}" if unknown else
                                         f"{where}: {gene} diplotype key {key} is not 2 alleles")
            out.append(Condition(gene, "diplotype", "/".join(names), label="/".join(names)))
            continue
        if not isinstance(key, str) or not key.strip():
            raise KnowledgeBaseError(f"{where}: {gene} key {key!r} is not text")
        k = key.strip()
        if k == "No Result":
            out.append(Condition(gene, "no_result", label=k))
        elif k in UNSUPPORTED_KEYS:
            out.append(Condition(gene, "unsupported", label=k))
        elif m := _HLA_STATUS.match(k):
            out.append(Condition(gene, "allele_status", m.group(1), label=k,
                                 positive=m.group(2) == "positive"))
        elif (m := _DPYD_LABELLED.match(k)) and gene in vocab:
            if m.group(2) == "Phenotyping":
                out.append(Condition(gene, "unsupported", label=k))
            elif m.group(1) in vocab[gene] and m.group(2) in vocab[gene]:
                out.append(Condition(gene, "lookup", m.group(1), label=k))
            else:
                raise KnowledgeBaseError(f"{where}: {gene} key {k!r} names an unknown score or "
                                         "phenotype")
        elif gene in vocab and k in vocab[gene]:
            out.append(Condition(gene, "lookup", k, label=k))
        else:
            raise KnowledgeBaseError(
                f"{where}: {gene} lookup key {k!r} is not a phenotype, activity score or allele "
                "status the knowledge base knows",
                hint="the guideline and phenotype sources disagree: update the sources together "
                     "or extend pgxguard/guidance/build.py's rules")
    return tuple(out)


# --- reading -----------------------------------------------------------------------------------


def read_guideline(tree: SourceTree, rel: str, akb: KnowledgeBase,
                   vocab: dict[str, set[str]]) -> tuple[Guideline, list[GuidanceEntry]]:
    doc = tree.read_json(rel)
    try:
        g = doc["guideline"]
        source = g["source"]
        recs = doc["recommendations"]
    except (KeyError, TypeError) as e:
        raise KnowledgeBaseError(f"not a guideline annotation: missing {e}", path=rel) from e
    if source not in SOURCES or not Path(rel).name.startswith(source + "_"):
        raise KnowledgeBaseError(f"guideline source {source!r} does not match the file name",
                                 path=rel)
    drugs = tuple(sorted({c["name"].lower() for c in g.get("relatedChemicals") or ()}))
    genes = tuple(sorted({x["symbol"] for x in g.get("relatedGenes") or () if x.get("symbol")}))
    url = g.get("url") or ""
    if not url.startswith("https://"):
        raise KnowledgeBaseError(f"guideline {g.get('id')} has no https URL", path=rel)
    guideline = Guideline(source=source, guideline_id=str(g["id"]), name=str(g["name"]), url=url,
                          drugs=drugs, genes=genes, version=str(doc.get("version", "")),
                          file=rel, file_date=tree.info(rel).date, recommendations=len(recs))
    entries: list[GuidanceEntry] = []
    for n, r in enumerate(recs, start=1):
        where = f"{rel} recommendations[{n}] ({r.get('id')})"
        text_html = ((r.get("text") or {}).get("html") or "").strip()
        if not text_html:
            raise KnowledgeBaseError(f"{where}: no recommendation text")
        conds = conditions(r.get("lookupKey"), akb, vocab, where)
        strength = (r.get("classification") or {}).get("term")
        flags = (bool(r.get("dosingInformation")), bool(r.get("alternateDrugAvailable")),
                 bool(r.get("otherPrescribingGuidance")))
        action, basis = classify(primary_text(text_html), strength, flags)
        rec_drugs = sorted({c["name"].lower() for c in r.get("relatedChemicals") or ()}) \
            or list(drugs)
        for drug in rec_drugs:
            entries.append(GuidanceEntry(
                source=source, drug=drug, conditions=conds, text=plain_text(text_html),
                text_html=text_html, action=action, action_basis=basis, strength=strength,
                population=r.get("population"),
                implications=tuple(str(x) for x in r.get("implications") or ()), flags=flags,
                recommendation_id=str(r.get("id")), guideline_id=guideline.guideline_id,
                guideline_name=guideline.name, guideline_url=url, file=rel))
    return guideline, entries


def read_messages(tree: SourceTree, notes: list[str]) -> list[Message]:
    """PharmCAT's curated messages that apply to a gene result and/or drug.

    Kept: messages for a drug, or for a gene (optionally for given diplotypes or alleles called).
    Left out (counted in the notes): notes about PharmCAT's own report or tool (no gene, no
    drug), messages without text, and those that test missing positions or single variants,
    which need position-level evaluation pgxguard does not do for messages.
    """
    raw = tree.read_json(MESSAGES)
    if not isinstance(raw, list):
        raise KnowledgeBaseError("messages.json must be a list", path=MESSAGES)
    out: list[Message] = []
    skipped: Counter[str] = Counter()
    for m in raw:
        match = m.get("matches") or {}
        gene = match.get("gene") or ""
        drugs = tuple(d.lower() for d in match.get("drugs") or ())
        text = plain_text(str(m.get("message") or ""))
        if not text:
            skipped["no text"] += 1
        elif not gene and not drugs:
            skipped["PharmCAT tool or report notes"] += 1
        elif match.get("hapsMissing") or match.get("variantsMissing") or match.get("variant"):
            skipped["position-level conditions"] += 1
        else:
            alleles = tuple(a.strip() for x in match.get("hapsCalled") or ()
                            for a in str(x).split(";") if a.strip())
            out.append(Message(name=str(m.get("rule_name")), gene=gene, drugs=drugs,
                               diplotypes=tuple(match.get("dips") or ()), alleles=alleles,
                               kind=str(m.get("exception_type") or ""), text=text))
    notes.append(f"messages: {len(out)} kept; left out: "
                 + ", ".join(f"{k} {n}" for k, n in sorted(skipped.items())))
    return out


def read_change_log(tree: SourceTree, after: str) -> list[Change]:
    """Entries dated after `after`; a line without a date continues the previous note."""
    rows = list(csv.reader(io.StringIO(tree.read_text(CHANGE_LOG)), delimiter="\t"))
    if not rows or [c.strip() for c in rows[0][:4]] != ["Date of Change", "Type of Data",
                                                        "Subject", "Note of Change"]:
        raise KnowledgeBaseError("unexpected header", path=CHANGE_LOG)
    entries: list[list[str]] = []
    for n, r in enumerate(rows[1:], start=2):
        if len(r) >= 4 and _DATE.match(r[0].strip()):
            entries.append([c.strip() for c in r[:4]])
        elif len(r) == 1 and entries:
            entries[-1][3] += " " + r[0].strip()
        elif any(c.strip() for c in r):
            raise KnowledgeBaseError(f"cannot read change-log line {r!r}", path=CHANGE_LOG,
                                     line=n)
    return [Change(date=d, kind=k, subject=s, note=note) for d, k, s, note in entries
            if d > after and s]


# --- assembly ----------------------------------------------------------------------------------


def _source(tree: SourceTree, rel: str, provides: str) -> GuidanceSource:
    info = tree.info(rel)
    licence, url, attribution = info.licence
    return GuidanceSource(name=rel, version=f"{info.date} {info.commit[:10]}", licence=licence,
                          url=url, sha256=info.sha256, provides=provides, commit=info.commit,
                          date=info.date, attribution=attribution)


def compile_guidance(tree: SourceTree, akb: KnowledgeBase, *,
                     notes: list[str] | None = None) -> GuidanceKB:
    """Apply the rules of the module docstring."""
    notes = [] if notes is None else notes
    vocab = _vocabulary(akb)
    guidelines: list[Guideline] = []
    entries: list[GuidanceEntry] = []
    files = tree.listed(GUIDELINES, ".json")
    if not files:
        raise KnowledgeBaseError("no guideline files", path=str(tree.root / GUIDELINES))
    for rel in files:
        g, es = read_guideline(tree, rel, akb, vocab)
        guidelines.append(g)
        entries += es
    snapshot = max(tree.info(rel).date for rel in files)
    messages = read_messages(tree, notes)
    changes = read_change_log(tree, snapshot)
    counts = Counter(e.action for e in entries)
    notes.append(f"{len(guidelines)} guidelines, {len(entries)} drug recommendations: "
                 + ", ".join(f"{a} {counts[a]}" for a in Action if counts[a]))
    sources = (*(_source(tree, rel, "guideline annotation") for rel in files),
               _source(tree, MESSAGES, "curated messages"),
               _source(tree, CHANGE_LOG, "change log"))
    kb = GuidanceKB(version="", sources=sources, entries=tuple(entries),
                    guidelines=tuple(guidelines), messages=tuple(messages),
                    changes=tuple(changes), snapshot_date=snapshot, notes=tuple(notes))
    body = kb.to_json()
    del body["version"], body["checksum"]
    return replace(kb, version=f"{GUIDANCE_SCHEMA}.{content_checksum(body)[:8]}"
                               f"+guidelines-{snapshot}")


def classes_table(kb: GuidanceKB) -> str:
    """docs/guidance-classes.tsv: every recommendation with its class, rule and text."""
    head = ["source", "drug", "lookup", "population", "strength", "flags", "class", "rule",
            "recommendation_id", "text"]
    lines = ["\t".join(head)]
    for e in sorted(kb.entries, key=lambda e: (e.drug, e.source, e.recommendation_id)):
        lookup = "; ".join(f"{c.gene}: {c.label}" for c in e.conditions)
        flags = "".join(x if f else "-" for x, f in zip("DAO", e.flags, strict=True))
        text = e.text if len(e.text) <= 300 else e.text[:297] + "..."
        row = [e.source, e.drug, lookup, e.population or "", e.strength or "", flags,
               str(e.action), e.action_basis.split(" ")[0], e.recommendation_id, text]
        lines.append("\t".join(x.replace("\t", " ") for x in row))
    return "\n".join(lines) + "\n"


def build_guidance(sources: str | Path | None = None, akb: KnowledgeBase | None = None, *,
                   notes: list[str] | None = None) -> GuidanceKB:
    from pgxguard.kb.load import load_knowledge_base

    return compile_guidance(SourceTree(sources), akb or load_knowledge_base(), notes=notes)


def snapshot_bytes(kb: GuidanceKB) -> bytes:
    return _snapshot_bytes(kb.to_json())


def write_snapshot(kb: GuidanceKB, path: str | Path = DEFAULT_SNAPSHOT) -> Path:
    return write_snapshot_file(kb.to_json(), path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pgxguard.guidance.build",
                                     description="Compile the guidance knowledge base.")
    parser.add_argument("--sources", type=Path, default=None, help="the kb-sources tree")
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_SNAPSHOT)
    parser.add_argument("--classes", type=Path, default=None,
                        help="also write the class table (docs/guidance-classes.tsv)")
    args = parser.parse_args(argv)
    notes: list[str] = []
    try:
        kb = build_guidance(args.sources, notes=notes)
        out = write_snapshot(kb, args.output)
        if args.classes:
            from pgxguard.io.atomic import write_text

            write_text(args.classes, classes_table(kb))
    except PgxError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    print(f"wrote {out}: guidance {kb.version}, {len(kb.entries)} entries, "
          f"{len(kb.drugs)} drugs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
