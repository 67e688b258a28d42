"""PharmCAT's test VCFs rebuilt with `vcfbuilder`, and its call strings read back.

PharmCAT's pipeline tests (`TestVcfBuilder`) write every position of a gene as reference and then
set a few positions by rsID to two given bases (`.variation(gene, rsid, a, b)`), phased (`a|b`)
or not, optionally in a phase set (`.variationInPhaseSet(gene, rsid, ps, a, b)`), or leave a
position out (`.missing(gene, rsid)`). `pharmcat_vcf` does the same from a `GeneDefinition`;
`pharmcat_calls` writes pgxguard's call the way PharmCAT's tests write theirs, so the expected
strings can be compared as they are published.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pgxguard.kb.model import GeneDefinition
from pgxguard.results import GeneCall
from vcfbuilder import VcfBuilder, from_definition


@dataclass(frozen=True)
class Var:
    """One `.variation(...)`: the two bases (`.` for no call) at an rsID, and its phase set."""

    rsid: str
    a: str
    b: str
    ps: int | None = None


def pharmcat_vcf(defn: GeneDefinition, variations: Sequence[Var], *, phased: bool,
                 missing: Iterable[str] = (), sample: str = "S") -> VcfBuilder:
    """Every position of `defn` reference (`0|0` when phased), then the given positions set."""
    b = from_definition(defn, {sample: (defn.reference_allele, defn.reference_allele)},
                        phased=phased)
    gone = set(missing)
    for v in variations:
        (i,) = [k for k, p in enumerate(defn.positions) if p.rsid == v.rsid]
        p = defn.positions[i]
        alts = [a for a in p.alts if a != p.ref]
        for base in (v.a, v.b):
            if base not in (".", p.ref) and base not in alts:
                alts.append(base)  # an allele the definitions do not know (allowUnknownAllele)
        index = {p.ref: "0", ".": ".", **{a: str(k + 1) for k, a in enumerate(alts)}}
        gt = f"{index[v.a]}{'|' if phased else '/'}{index[v.b]}"
        b.records = [r for r in b.records if r.pos != p.pos]
        b.add(p.chrom, p.pos, p.ref, alts, {sample: gt}, id=p.rsid or ".",
              ps={sample: v.ps} if v.ps is not None else None)
    positions = {p.pos for p in defn.positions if p.rsid in gone}
    b.records = [r for r in b.records if r.pos not in positions]
    return b


def pharmcat_calls(gc: GeneCall) -> list[str]:
    """pgxguard's call as PharmCAT's tests write it: diplotypes `a/b` (ties in order), or the
    variant list with a homozygous variant written once as `name (homozygous)`."""
    if gc.diplotypes:
        return ["/".join(d) for d in gc.diplotypes]
    out: list[str] = []
    for name in dict.fromkeys(gc.variants):
        out.append(f"{name} (homozygous)" if gc.variants.count(name) > 1 else name)
    return out


__all__ = ["Var", "pharmcat_calls", "pharmcat_vcf"]
