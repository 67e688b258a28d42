"""Resolve medicines as people write them: generic names, UK brands, combinations, ATC, RxNorm.

Name sources, each recorded in `Medicine.mapping_source`:

* generic names: every drug of the guidance knowledge base and every drug of the allele knowledge
  base's CPIC gene-drug pairs (pypgx ``cpic-table.csv``), case-insensitive;
* ATC codes and RxNorm ids: from the same CPIC gene-drug pairs (an ATC code shared by several
  drugs, e.g. a combination code, resolves to all of them);
* ``data/medicines.tsv``: a small curated table of UK brand names, combination products and
  synonyms (columns name, kind, components, dmd, source); dm+d codes are left empty unless known.

Free text ("Clopidogrel 75mg tablets", "co-codamol 30/500", "codeine phosphate 30mg") is reduced
by `clean_text`: lower case, strengths (``75mg``, ``30/500``, ``40 mg``, ``0.5%``), units, dose
forms and salt names are dropped, then the rest is looked up. Names the guidance does not know
are then looked up in the generic-name list (`guidance.names`, 15,730 names from a pinned
package): they resolve to medicines without PGx guidance ("no PGx guidance" in a review), unless
the generic name is, or contains, a drug with guidance. An unknown name raises
`UnknownMedicineError` listing the closest known names (difflib).
"""

from __future__ import annotations

import csv
import difflib
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

from pgxguard.errors import InputError, UnknownMedicineError
from pgxguard.guidance.knowledge import GuidanceKB
from pgxguard.guidance.model import Medicine
from pgxguard.guidance.names import NAMES_LABEL, generic_names
from pgxguard.kb.model import KnowledgeBase

TSV_NAME = "medicines.tsv"
TSV_COLUMNS = ("name", "kind", "components", "dmd", "source")

_UNITS = {"mg", "mcg", "microgram", "micrograms", "g", "gram", "grams", "ml", "l", "unit",
          "units", "iu", "nanogram", "nanograms", "mmol", "%", "x", "per", "dose", "doses",
          "daily", "once", "twice", "od", "bd", "tds", "qds", "prn", "nocte", "mane"}
_FORMS = {"tablet", "tablets", "tab", "tabs", "capsule", "capsules", "cap", "caps", "oral",
          "solution", "suspension", "liquid", "syrup", "injection", "infusion", "cream",
          "ointment", "gel", "patch", "patches", "inhaler", "sachet", "sachets", "granules",
          "powder", "drops", "spray", "suppository", "suppositories", "modified-release",
          "modified", "release", "prolonged", "m/r", "mr", "xl", "sr", "gastro-resistant",
          "e/c", "ec", "film-coated", "coated", "dispersible", "effervescent", "soluble",
          "chewable", "orodispersible", "concentrate", "for", "ampoule", "ampoules", "vial",
          "vials", "pre-filled", "syringe", "the", "of", "in", "and", "with"}
_SALTS = {"phosphate", "hydrochloride", "hcl", "sodium", "potassium", "magnesium", "calcium",
          "besilate", "besylate", "mesilate", "mesylate", "maleate", "succinate", "tartrate",
          "citrate", "sulfate", "sulphate", "bisulfate", "hydrobromide", "fumarate",
          "acetate", "dihydrate", "monohydrate", "hyclate", "hemihydrate", "bromide"}
_STRENGTH = re.compile(r"^[0-9.,/]+(?:[a-zµ%]+(?:/[0-9.]*[a-z]+)?)?$")


def _key(text: str) -> str:
    return " ".join(text.strip().lower().split())


def clean_text(text: str, *, salts: bool = True) -> str:
    """Drop strengths, units, forms (and salts) from free text; what remains is the name."""
    tokens = re.split(r"[\s,()]+", text.lower())
    kept: list[str] = []
    for t in tokens:
        t = t.strip(".;:")
        if not t or t in _UNITS or t in _FORMS or _STRENGTH.match(t):
            continue
        if salts and t in _SALTS:
            continue
        kept.append(t)
    return " ".join(kept)


def _words(text: str) -> str:
    """' a b ' from 'A-b': whole-word containment by substring."""
    return f" {re.sub(r'[^a-z]+', ' ', text.lower()).strip()} "


_SPLIT = re.compile(r",\s*(?:and\s+)?|\s+and\s+")


@dataclass(frozen=True, slots=True)
class MedicineIndex:
    names: dict[str, Medicine]  # key -> medicine (query empty)
    # name -> generic name of medicines the guidance does not know (`guidance.names`).
    generic: dict[str, str] = field(default_factory=dict)

    def _from_generic(self, query: str, name: str) -> Medicine | None:
        """A name from the generic-name list. PGx drugs it stands for, or that its generic name
        contains, come first (over-alerting is safer than false reassurance); a `co-` product
        the curated table does not spell out is refused; anything else has no PGx guidance."""
        generic = self.generic.get(name)
        if generic is None:
            return None
        source = f"{NAMES_LABEL}: {name} -> {generic}" if generic != name else NAMES_LABEL
        hit = self.names.get(generic)
        if hit is not None:
            return replace(hit, query=query, matched_by="generic list",
                           mapping_source=f"{source}; {hit.mapping_source}")
        if generic.startswith("co-"):
            return None
        parts = [p.strip() for p in _SPLIT.split(generic) if p.strip()]
        pgx = [p for p in parts if p in self.names]
        comps = tuple(dict.fromkeys(parts)) if pgx else (generic,)
        return Medicine(query=query, name=generic, components=comps,
                        matched_by="generic list", mapping_source=source)

    # Drugs the guidance knowledge base has guidance for.
    with_guidance: frozenset[str] = frozenset()

    def _contained(self, text: str) -> list[str]:
        """Drugs with guidance named as whole words inside `text` ('aripiprazole' in
        'aripiprazole lauroxil')."""
        words = _words(text)
        return sorted(k for k in self.with_guidance if _words(k) in words and k != text)

    def resolve(self, query: str, *, suggest: bool = True) -> Medicine:
        """The medicine `query` names. `suggest=False` skips the closest-match search of the
        error (difflib, milliseconds per miss) for callers that only skip unknown names.

        A medicine whose name contains a known PGx drug as whole words also gets that drug as a
        component: over-alerting is safer than false reassurance."""
        med = self._resolve(query, suggest=suggest)
        if any(c in self.with_guidance for c in med.components):
            return med
        extra = [d for c in med.components for d in self._contained(c)]
        if not extra:
            return med
        return replace(med, components=(*dict.fromkeys(extra), *med.components),
                       mapping_source=f"{med.mapping_source}; contains {', '.join(extra)}")

    def _resolve(self, query: str, *, suggest: bool) -> Medicine:
        q = query.strip()
        if not q:
            raise InputError("empty medicine name", hint="give one medicine per line or "
                             "separate them with commas")
        key = _key(q)
        hit = self.names.get(key) or self.names.get(key.upper())
        if hit is not None:
            return replace(hit, query=query)
        for cleaned in (clean_text(q, salts=False), clean_text(q)):
            hit = self.names.get(cleaned) or self.names.get(cleaned.upper())
            if cleaned and hit is not None:
                return replace(hit, query=query, matched_by="free text")
        for name in (key, clean_text(q, salts=False), clean_text(q)):
            med = self._from_generic(query, name) if name else None
            if med is not None:
                return med
        if any(self.generic.get(n, "").startswith("co-") for n in (key, clean_text(q))):
            raise UnknownMedicineError(
                f"{query!r} is a combination product whose ingredients pgxguard does not list",
                hint="give its ingredients instead, e.g. 'sulfamethoxazole, trimethoprim'")
        if not suggest:
            raise UnknownMedicineError(f"unknown medicine {query!r}")
        close = difflib.get_close_matches(clean_text(q) or key, self.display_names(), n=5,
                                          cutoff=0.6)
        hint = (f"closest matches: {', '.join(close)}" if close
                else "use a generic name, a UK brand name, an ATC code or an RxNorm id")
        raise UnknownMedicineError(f"unknown medicine {query!r}", hint=hint)

    def display_names(self) -> list[str]:
        return sorted(k for k in self.names if not k.isupper() and not k.isdigit())


def _read_tsv(text: str, origin: str) -> list[dict[str, str]]:
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    if tuple(reader.fieldnames or ()) != TSV_COLUMNS:
        raise InputError(f"medicine table columns {reader.fieldnames}, expected "
                         f"{list(TSV_COLUMNS)}", path=origin)
    rows = list(reader)
    for i, r in enumerate(rows, start=2):
        if r["kind"] not in ("brand", "combination", "synonym") or not r["components"]:
            raise InputError(f"bad row {r}", path=origin, line=i)
    return rows


def build_index(allele_kb: KnowledgeBase, guidance: GuidanceKB,
                tsv_rows: Iterable[dict[str, str]] | None = None,
                generic_list: dict[str, str] | None = None) -> MedicineIndex:
    atc: dict[str, set[str]] = {}
    rxnorm: dict[str, str] = {}
    codes: dict[str, tuple[set[str], str | None]] = {}
    for gd in allele_kb.gene_drugs:
        d = gd.drug.lower()
        entry = codes.setdefault(d, (set(), gd.rxnorm))
        entry[0].update(gd.atc)
        for code in gd.atc:
            atc.setdefault(code.upper(), set()).add(d)
        if gd.rxnorm:
            rxnorm[gd.rxnorm] = d
    cpic_src = f"pypgx cpic-table.csv ({allele_kb.version})"
    g_src = f"guidance knowledge base {guidance.version}"

    def generic(d: str, src: str, by: str = "generic") -> Medicine:
        a, rx = codes.get(d, (set(), None))
        return Medicine(query="", name=d, components=(d,), atc=tuple(sorted(a)), rxnorm=rx,
                        matched_by=by, mapping_source=src)

    names: dict[str, Medicine] = {}
    for d in codes:
        names[d] = generic(d, cpic_src)
    for d in guidance.drugs:
        names.setdefault(d, generic(d, g_src))
    for code, drugs in atc.items():
        comps = tuple(sorted(drugs))
        names[code] = Medicine(query="", name=" + ".join(comps), components=comps, atc=(code,),
                               rxnorm=rxnorm_of(comps, codes), matched_by="atc",
                               mapping_source=cpic_src)
    for rx, d in rxnorm.items():
        names[rx] = replace(generic(d, cpic_src), matched_by="rxnorm")
    for r in tsv_rows if tsv_rows is not None else bundled_rows():
        comps = tuple(c.strip().lower() for c in r["components"].split(";") if c.strip())
        kind = r["kind"]
        name = r["name"].strip() if kind == "combination" else comps[0]
        a: set[str] = set()
        for c in comps:
            a.update(codes.get(c, (set(), None))[0])
        med = Medicine(query="", name=name, components=comps,
                       atc=tuple(sorted(a)) if len(comps) == 1 else (),
                       rxnorm=codes.get(comps[0], (set(), None))[1] if len(comps) == 1 else None,
                       dmd=r["dmd"].strip() or None, matched_by=kind,
                       mapping_source=r["source"].strip() or None)
        names.setdefault(_key(r["name"]), med)
        if r["dmd"].strip():
            names.setdefault(r["dmd"].strip(), replace(med, matched_by="dmd"))
    return MedicineIndex(names=names,
                         generic=generic_names() if generic_list is None else generic_list,
                         with_guidance=frozenset(guidance.drugs))


def rxnorm_of(comps: tuple[str, ...],
              codes: dict[str, tuple[set[str], str | None]]) -> str | None:
    return codes.get(comps[0], (set(), None))[1] if len(comps) == 1 else None


@functools.lru_cache(maxsize=1)
def bundled_rows() -> tuple[dict[str, str], ...]:
    res = resources.files("pgxguard.guidance").joinpath("data", TSV_NAME)
    return tuple(_read_tsv(res.read_text(encoding="utf-8"), str(res)))


_INDEXES: dict[tuple[int, int], tuple[KnowledgeBase, GuidanceKB, MedicineIndex]] = {}


def default_index(allele_kb: KnowledgeBase | None = None,
                  guidance: GuidanceKB | None = None) -> MedicineIndex:
    from pgxguard.guidance.load import load_guidance
    from pgxguard.kb.load import load_knowledge_base

    akb = allele_kb or load_knowledge_base()
    gkb = guidance or load_guidance()
    key = (id(akb), id(gkb))
    if key not in _INDEXES:
        if len(_INDEXES) > 8:
            _INDEXES.clear()
        _INDEXES[key] = (akb, gkb, build_index(akb, gkb))
    return _INDEXES[key][2]


def resolve_medicine(query: str, index: MedicineIndex | None = None) -> Medicine:
    return (index or default_index()).resolve(query)


def split_medicines(text: str) -> list[str]:
    """`"a, b; c\nd"` -> `["a", "b", "c", "d"]` (commas, semicolons and new lines separate;
    an item starting with '#' is a comment)."""
    return [p.strip() for line in text.splitlines() for p in line.replace(";", ",").split(",")
            if p.strip() and not p.strip().startswith("#")]


def parse_medicine_list(meds: str | Path | Sequence[str | Path] | None) -> list[str]:
    """The one reader of a medication list as given (`--meds` of `review` and `report`, the
    Python API): a file (one medicine a line, '#' comments), a `"a, b; c"` string, or a
    sequence of either."""
    if meds is None:
        return []
    values = [meds] if isinstance(meds, str | Path) else list(meds)
    out: list[str] = []
    for v in values:
        p = Path(v)
        text = str(v)
        if isinstance(v, Path) or (len(text) < 4096 and "\n" not in text and p.is_file()):
            try:
                lines = p.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as e:
                raise InputError(f"cannot read the medication list ({e})", path=str(p),
                                 hint="pass a UTF-8 text file, one medicine a line") from e
            out += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        else:
            out += split_medicines(text)
    return out


__all__ = ["MedicineIndex", "build_index", "clean_text", "default_index", "parse_medicine_list",
           "resolve_medicine", "split_medicines"]
