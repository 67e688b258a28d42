"""Star-allele notations of CNV-aware callers mapped onto names the knowledge base knows.

Callers write what pgxguard's outside-call TSV does not: tandem (hybrid) haplotypes joined by
``+`` (``*36+*10``, ``*68+*4``, ``*13+*2``), copy numbers beyond the bins CPIC publishes
(``*1x3``, ``*2x5``), unstated copy numbers (``*1xN``), and PharmVar sub-alleles (``*4.013``).
Each haplotype is mapped by explicit, published rules, never by guessing:

1. A name the knowledge base knows as written (``*1x2``, UGT1A1 ``*80+*28``) is kept.
2. A sub-allele (``*4.013``) becomes its core allele (``*4``) when the knowledge base knows
   the core allele: PharmVar sub-alleles share their core allele's function (CPIC assigns
   function to core alleles).
3. Copies of one allele on a haplotype (``*4+*4``, ``*2x2``) are added up and named
   ``*Ax<n>`` when the knowledge base has that name; three or more copies become CPIC's
   ``*Ax≥3`` bin when that exists (PharmCAT's Outside-Call-Format asks the same translation:
   ``*1x3`` -> ``*1x≥3``); otherwise ``*Ax<n>`` (n copies of a known allele, as in the TSV).
4. A tandem of different alleles: CPIC scores a haplotype by adding the activity values of its
   gene copies, so copies whose published activity value is 0 (no function: ``*36``, ``*68``,
   ``*13``, ``*5``) add nothing; the haplotype is named by the one allele left (``*36+*10`` ->
   ``*10``, ``*13+*2`` -> ``*2``, with its copies added as in rule 3), or by its last gene copy
   when all have value 0 (``*68+*4`` -> ``*4``). Two different alleles with activity left (or
   an allele without a published value) cannot be named: an error row.
5. ``xN`` (copy number not stated) cannot be named: ``*1x2`` and ``*1x≥3`` differ in activity.
   It is a caller's unresolved result (`Unresolved`), so the gene gets no result.

Every mapping that changes what the caller wrote is stated in a note.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from pgxguard.io.notation import NotationError

__all__ = ["StarMapper", "Unresolved"]

_COPIES = re.compile(r"^(?P<name>.+?)\s*[xX×](?P<n>\d+|[nN]|≥\s*\d+)$")
_SUBALLELE = re.compile(r"^(?P<core>\*\d+)\.\d+$")
_GENE_PREFIX = re.compile(r"^(?P<gene>[A-Za-z][A-Za-z0-9-]*)(?P<rest>\*.+)$")


class Unresolved(Exception):
    """The caller's result cannot be read as one diplotype: the gene gets no result."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Copy:
    allele: str  # a name the knowledge base knows
    count: int


class StarMapper:
    """Maps one gene's star-allele notations onto the knowledge base's names.

    `names`: the gene's allele names; `activity(allele)`: its published activity value
    (None when CPIC publishes none).
    """

    def __init__(self, gene: str, names: Collection[str],
                 activity: Callable[[str], float | None]) -> None:
        self.gene = gene
        self.names = set(names)
        self.activity = activity

    def diplotype(self, written: str) -> tuple[str, list[str]]:
        """``*1/*36+*10`` -> (``*1/*10``, notes). `NotationError` for a name that cannot be
        mapped, `Unresolved` for a result that is not one diplotype."""
        text = written.strip()
        if text in self.names:
            return text, []
        parts = [p.strip() for p in text.split("/")]
        if len(parts) > 2 or not all(parts):
            raise NotationError(f"{self.gene}: {written!r} is not a diplotype",
                                "expected two haplotypes joined by '/', e.g. *1/*36+*10")
        notes: list[str] = []
        mapped = [self.haplotype(p, notes) for p in parts]
        out = "/".join(mapped)
        if out != text:
            notes.insert(0, f"{self.gene} {text} read as {out}")
        return out, list(dict.fromkeys(notes))

    def haplotype(self, written: str, notes: list[str]) -> str:
        w = self._unprefix(written.strip())
        if w in self.names:
            return w
        if w.startswith("[") or " + " in w:
            raise NotationError(f"{self.gene}: {written!r} is a combination of alleles, not a "
                                "named allele", "give the diplotype of named alleles")
        copies = [self._copy(p.strip(), written, notes) for p in w.split("+")]
        if any(c is None for c in copies):
            raise Unresolved(f"copy number not stated in {written!r} (xN): "
                             "two copies and three or more copies differ in activity")
        known = [c for c in copies if c is not None]
        alleles = list(dict.fromkeys(c.allele for c in known))
        if len(alleles) > 1:
            active = [a for a in alleles if self.activity(a) != 0.0]
            dropped = [a for a in alleles if a not in active]
            if len(active) > 1:
                raise NotationError(
                    f"{self.gene}: {written!r} holds more than one allele with activity "
                    f"({', '.join(active)}): the knowledge base has no name for it",
                    "give the phenotype or activity score instead, or review the call")
            keep = active[0] if active else known[-1].allele
            shown = [a for a in dropped if a != keep]
            notes.append(f"{written}: {', '.join(shown)} {'has' if len(shown) == 1 else 'have'}"
                         f" no function (CPIC activity value 0), so the haplotype's activity is "
                         f"that of {keep}")
            known = [c for c in known if c.allele == keep]
            alleles = [keep]
        return self._named(alleles[0], sum(c.count for c in known), written, notes)

    # --- parts -----------------------------------------------------------------------------

    def _unprefix(self, name: str) -> str:
        m = _GENE_PREFIX.match(name)
        if m and m["gene"].upper() == self.gene.upper():
            return m["rest"]
        return name

    def _copy(self, token: str, written: str, notes: list[str]) -> _Copy | None:
        if not token:
            raise NotationError(f"{self.gene}: {written!r} has an empty allele",
                                "join the alleles of a tandem with '+', e.g. *36+*10")
        token = self._unprefix(token)
        if token in self.names:
            return _Copy(token, 1)
        m = _COPIES.match(token)
        count = 1
        name = token
        if m:
            n = m["n"].replace(" ", "")
            if n in ("N", "n"):
                self._core(m["name"], written, notes)  # an unknown allele is still an error
                return None
            if n.startswith("≥"):
                name, count = m["name"], int(n[1:])
                if f"{self._core(name, written, notes)}x≥{count}" not in self.names:
                    raise NotationError(f"{self.gene}: {token!r} is not a name the knowledge "
                                        "base knows", "give the number of copies")
                notes.append(f"{token}: at least {count} copies")
            else:
                name, count = m["name"], int(n)
                if count < 1:
                    raise NotationError(f"{self.gene}: {token!r} has no copies",
                                        "write xN only for two or more copies")
        return _Copy(self._core(name, written, notes), count)

    def _core(self, name: str, written: str, notes: list[str]) -> str:
        if name in self.names:
            return name
        m = _SUBALLELE.match(name)
        if m and m["core"] in self.names:
            notes.append(f"{name} read as its core allele {m['core']} (PharmVar sub-alleles "
                         "share their core allele's function)")
            return m["core"]
        raise NotationError(f"{self.gene}: unknown allele {name!r} in {written!r}",
                            f"use an allele name defined for {self.gene}")

    def _named(self, allele: str, count: int, written: str, notes: list[str]) -> str:
        if count == 1:
            return allele
        exact = f"{allele}x{count}"
        if exact in self.names:
            return exact
        binned = f"{allele}x≥3"
        if count >= 3 and binned in self.names:
            notes.append(f"{written}: {count} copies of {allele} read as CPIC's {binned}")
            return binned
        return exact
