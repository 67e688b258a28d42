"""PharmCAT's test VCFs rebuilt with `vcfbuilder`, and its call strings read back.

PharmCAT's pipeline tests (`TestVcfBuilder`) write every position of a gene as reference and then
set a few positions by rsID to two given bases (`.variation(gene, rsid, a, b)`), phased (`a|b`)
or not, optionally in a phase set (`.variationInPhaseSet(gene, rsid, ps, a, b)`), or leave a
position out (`.missing(gene, rsid)`). `pharmcat_vcf` does the same from a `GeneDefinition`;
`pharmcat_calls` writes pgxguard's call the way PharmCAT's tests write theirs, so the expected
strings can be compared as they are published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pgxguard.call.results import GeneCall
from pgxguard.kb.model import GeneDefinition
from vcfbuilder import VcfBuilder


@dataclass(frozen=True)
class Var:
    """One `.variation(...)`: the two bases (`.` for no call) at an rsID, and its phase set.
    `0` and `1` stand for the position's REF and first ALT (hapb3.tsv's notation)."""

    rsid: str
    a: str
    b: str
    ps: int | None = None


@dataclass(frozen=True)
class Sample:
    """One PharmCAT test VCF: its `.variation(...)`s, `.phased()` and `.missing(...)`."""

    variations: tuple[Var, ...]
    phased: bool
    missing: tuple[str, ...] = ()


def pharmcat_vcf(defn: GeneDefinition, variations: Sequence[Var], *, phased: bool,
                 missing: Iterable[str] = (), sample: str = "S") -> VcfBuilder:
    """Every position of `defn` reference (`0|0` when phased), then the given positions set."""
    return pharmcat_samples(defn, {sample: Sample(tuple(variations), phased, tuple(missing))})


def pharmcat_samples(defn: GeneDefinition, samples: Mapping[str, Sample]) -> VcfBuilder:
    """Several PharmCAT test VCFs as the samples of one VCF (a missing position is `./.`)."""
    b = VcfBuilder(list(samples), build=defn.build)
    by_rsid = {p.rsid: i for i, p in enumerate(defn.positions) if p.rsid}
    for i, p in enumerate(defn.positions):
        alts = [a for a in p.alts if a != p.ref]
        chosen: dict[str, tuple[tuple[str, str], int | None]] = {}
        for name, smp in samples.items():
            for v in smp.variations:
                if by_rsid[v.rsid] != i:
                    continue
                bases = tuple({"0": p.ref, "1": alts[0]}.get(x, x) for x in (v.a, v.b))
                chosen[name] = ((bases[0], bases[1]), v.ps)
                for base in bases:
                    if base not in (".", p.ref) and base not in alts:
                        alts.append(base)  # an allele the definitions do not know
        index = {p.ref: "0", ".": ".", **{a: str(k + 1) for k, a in enumerate(alts)}}
        gts: dict[str, str] = {}
        ps: dict[str, int] = {}
        for name, smp in samples.items():
            sep = "|" if smp.phased else "/"
            if p.rsid in smp.missing:
                gts[name] = f".{sep}."
            elif name in chosen:
                (a, c), phase_set = chosen[name]
                gts[name] = f"{index[a]}{sep}{index[c]}"
                if phase_set is not None:
                    ps[name] = phase_set
            else:
                gts[name] = f"0{sep}0"
        b.add(p.chrom, p.pos, p.ref, alts, gts, id=p.rsid or ".", ps=ps or None)
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


__all__ = ["Sample", "Var", "pharmcat_calls", "pharmcat_samples", "pharmcat_vcf"]
