"""Notations labs write in outside calls, normalised or refused (never guessed).

HLA alleles (WHO nomenclature): every accepted spelling becomes ``*57:01`` style, fields joined
by ``:`` at the resolution given (``*57:01:01`` stays three-field):

=========================  ==================  ===========================================
written                    normalised          note
=========================  ==================  ===========================================
``HLA-B*57:01``            ``*57:01``          gene prefix must name the row's gene
``B*57:01``, ``*57:01``    ``*57:01``
``57:01``                  ``*57:01``
``*5701``, ``*570101``     ``*57:01``, ...     legacy digits, two per field (4, 6 or 8)
``*57:01:01:02N``          kept                expression suffix N/L/S/C/A/Q kept
``*57``, ``B57``           refused             one field (allele group / serology) is too
                                               coarse to tell ``*57:01`` from ``*57:03``
``*57:01G``, ``*57:01P``   refused             a G/P group may span several alleles
``*57:AB``, ``*57011``     refused             NMDP codes; 5/7 legacy digits are ambiguous
=========================  ==================  ===========================================

Allele status: ``*57:01 positive`` / ``negative`` (also ``pos``/``neg``, ``detected``/``not
detected``), several joined by ``;``, normalised to ``*57:01 positive``; ``positive`` alone
names no allele and is refused.

Phenotypes are matched to the knowledge base's own terms for the gene, case- and
spelling-insensitively (``metaboliser``, a leading gene symbol, ``Extensive`` for ``Normal``);
lab abbreviations are expanded by the explicit table `ABBREVIATIONS` first, and a written-out
term with its abbreviation in parentheses (``Poor metabolizer (PM)``) must agree with it.
"""

from __future__ import annotations

import re
from collections.abc import Collection

__all__ = ["ABBREVIATIONS", "NotationError", "format_statuses", "hla_gene_letter", "is_hla",
           "looks_like_status",
           "normalise_hla_allele", "parse_statuses", "phenotype_key", "resolve_phenotype",
           "statuses_of", "two_field"]


class NotationError(ValueError):
    """A notation that cannot be read: `message` says what, `hint` what to write instead."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# Lab abbreviations -> CPIC phenotype terms. Each is still checked against the knowledge base's
# terms for the gene (an abbreviation naming a term the gene does not have is refused).
ABBREVIATIONS: dict[str, str] = {
    "PM": "Poor Metabolizer",
    "IM": "Intermediate Metabolizer",
    "NM": "Normal Metabolizer",
    "EM": "Normal Metabolizer",  # "extensive metabolizer", CPIC's former term
    "RM": "Rapid Metabolizer",
    "UM": "Ultrarapid Metabolizer",
    "URM": "Ultrarapid Metabolizer",
}
_QUALIFIERS = ("likely", "possible")
_SYNONYMS = {
    "extensive metabolizer": "normal metabolizer",
    "ultra rapid metabolizer": "ultrarapid metabolizer",
}


def is_hla(gene: str) -> bool:
    return gene.upper().startswith("HLA-")


def hla_gene_letter(gene: str) -> str:
    """`HLA-B` -> `B`, `HLA-DRB1` -> `DRB1`."""
    return gene[4:].upper()


_HLA_PREFIX = re.compile(r"^(?:HLA-)?(?P<locus>[A-Z][A-Z0-9]*)?\*", re.I)
_COLON_FORM = re.compile(r"^(?P<fields>\d{2,3}(?::\d{2,4}){1,3})(?P<suffix>[A-Z]?)$", re.I)
_DIGIT_FORM = re.compile(r"^(?P<digits>\d+)(?P<suffix>[A-Z]?)$", re.I)
_EXPRESSION = "NLSCAQ"


def normalise_hla_allele(written: str, gene: str) -> str:
    """One HLA allele as ``*57:01`` (see the module table), or `NotationError`."""
    w = written.strip()
    rest = w
    m = _HLA_PREFIX.match(w)
    if m:
        locus = m["locus"]
        if locus and locus.upper() != hla_gene_letter(gene):
            raise NotationError(f"{gene}: allele {written!r} names another gene "
                                f"(HLA-{locus.upper()})",
                                f"put HLA-{locus.upper()} calls on their own row")
        rest = w[m.end():]
    hint = (f"write a two-field (or finer) {gene} allele such as *57:01, HLA-B*57:01 or "
            "legacy *5701")
    c = _COLON_FORM.match(rest)
    if c:
        fields, suffix = c["fields"], c["suffix"].upper()
    else:
        d = _DIGIT_FORM.match(rest)
        if d is None:
            raise NotationError(f"{gene}: {written!r} is not an HLA allele name", hint)
        digits, suffix = d["digits"], d["suffix"].upper()
        if len(digits) <= 3:
            raise NotationError(f"{gene}: {written!r} is a one-field (allele group) type, too "
                                "coarse to tell which allele it is", hint)
        if len(digits) not in (4, 6, 8):
            raise NotationError(f"{gene}: legacy allele {written!r} has {len(digits)} digits, "
                                "which cannot be split into fields unambiguously", hint)
        fields = ":".join(digits[i:i + 2] for i in range(0, len(digits), 2))
    if suffix in ("G", "P"):
        raise NotationError(f"{gene}: {written!r} is a {suffix} group, which may hold several "
                            "alleles", hint)
    if suffix and suffix not in _EXPRESSION:
        raise NotationError(f"{gene}: {written!r} has an unknown suffix {suffix!r}", hint)
    return f"*{fields}{suffix}"


def two_field(allele: str) -> str:
    """`*57:01:01:02N` -> `*57:01` (the resolution allele-status guidance is written at)."""
    return ":".join(allele.rstrip(_EXPRESSION).split(":")[:2])


_STATUS_WORDS = {"positive": True, "pos": True, "detected": True, "present": True,
                 "negative": False, "neg": False, "not detected": False, "absent": False}
_STATUS = re.compile(r"^(?P<allele>.*?)\s*\b(?P<word>not detected|positive|negative|pos|neg|"
                     r"detected|present|absent)$", re.I)


def looks_like_status(text: str) -> bool:
    """Whether the text states allele status (so it is read as such, and refused if bad)."""
    return any(_STATUS.match(p.strip()) for p in re.split(r"[;,]", text) if p.strip())


def parse_statuses(text: str, gene: str) -> dict[str, bool]:
    """``*57:01 positive; *58:01 negative`` -> {'*57:01': True, '*58:01': False}."""
    out: dict[str, bool] = {}
    for part in (p.strip() for p in re.split(r"[;,]", text)):
        if not part:
            continue
        m = _STATUS.match(part)
        if m is None:
            raise NotationError(f"{gene}: {part!r} is not an allele status",
                                "write e.g. *57:01 positive or *57:01 negative")
        if not m["allele"].strip():
            raise NotationError(f"{gene}: {part!r} does not say which allele",
                                f"write e.g. *57:01 {m['word'].lower()}")
        allele = normalise_hla_allele(m["allele"], gene)
        if allele != two_field(allele):
            allele = two_field(allele)
        carried = _STATUS_WORDS[" ".join(m["word"].lower().split())]
        if out.get(allele, carried) != carried:
            raise NotationError(f"{gene}: {allele} is stated both positive and negative",
                                "state each allele once")
        out[allele] = carried
    if not out:
        raise NotationError(f"{gene}: empty allele status", "write e.g. *57:01 positive")
    return out


def format_statuses(statuses: dict[str, bool]) -> str:
    return "; ".join(f"{a} {'positive' if c else 'negative'}" for a, c in statuses.items())


def statuses_of(phenotype: str | None) -> dict[str, bool]:
    """The allele statuses a normalised phenotype states (`format_statuses` form), else {}."""
    if not phenotype:
        return {}
    out: dict[str, bool] = {}
    for part in phenotype.split(";"):
        allele, _, word = part.strip().rpartition(" ")
        if not allele.startswith("*") or word not in ("positive", "negative"):
            return {}
        out[allele] = word == "positive"
    return out


def phenotype_key(term: str, gene: str) -> str:
    """Case-, spelling- and gene-prefix-insensitive key of a phenotype term."""
    t = " ".join(term.strip().lower().replace("ultra-rapid", "ultra rapid").split())
    t = t.replace("metaboliser", "metabolizer")
    if t.endswith("metabolizers"):
        t = t[:-1]
    if t.startswith(gene.lower() + " "):
        t = t[len(gene) + 1:]
    return _SYNONYMS.get(t, t)


_PAREN = re.compile(r"^(?P<text>.+?)\s*\((?P<abbr>[A-Za-z]{2,4})\)$")


def _expand(text: str) -> str:
    """`PM` -> `Poor Metabolizer`, `Likely IM` -> `Likely Intermediate Metabolizer`."""
    words = text.split()
    if not words:
        return text
    last = words[-1].upper()
    if last in ABBREVIATIONS and (len(words) == 1 or (
            len(words) == 2 and words[0].lower() in _QUALIFIERS)):
        return " ".join([*words[:-1], ABBREVIATIONS[last]])
    return text


def resolve_phenotype(raw: str, gene: str, terms: Collection[str]) -> str:
    """The knowledge base's term for a written phenotype, or `NotationError`."""
    text = " ".join(raw.split())
    m = _PAREN.match(text)
    if m and m["abbr"].upper() in ABBREVIATIONS:
        full, abbr = _expand(m["text"]), _expand(m["abbr"])
        if phenotype_key(full, gene) != phenotype_key(abbr, gene):
            raise NotationError(f"{gene}: phenotype {raw!r} contradicts itself "
                                f"({m['abbr']} is {ABBREVIATIONS[m['abbr'].upper()]})",
                                "write the phenotype once, e.g. Poor Metabolizer")
        text = m["text"]
    wanted = phenotype_key(_expand(text), gene)
    by_key = {phenotype_key(t, gene): t for t in terms}
    if wanted in by_key:
        return by_key[wanted]
    listed = ", ".join(sorted(terms)) if terms else "none"
    raise NotationError(f"{gene}: unknown phenotype {raw!r}",
                        f"use a {gene} phenotype the knowledge base knows ({listed})"
                        + ("" if terms else "; give the diplotype instead"))
