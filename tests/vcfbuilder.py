"""A small, dependency-light VCF writer for tests.

`VcfBuilder` collects records and writes a sorted VCF 4.2 with a realistic header (contigs with
their true GRCh38 or GRCh37 lengths, `##reference=`, FORMAT GT and, when used, PS).
`from_definition` writes samples carrying two (or, haploid, one) named alleles of a
`GeneDefinition` at every one of its positions.

Genotype strings are VCF GT values: `0|1`, `1/0`, `./.`, `0/.`, `1` (haploid), `.`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pgxguard.kb.model import IUPAC, GeneDefinition, Position, canonical_chrom

GRCH38_LENGTHS: dict[str, int] = {
    "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
    "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
    "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
    "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
    "21": 46709983, "22": 50818468, "X": 156040895, "Y": 57227415, "M": 16569,
}
GRCH37_LENGTHS: dict[str, int] = {
    "1": 249250621, "2": 243199373, "3": 198022430, "4": 191154276, "5": 180915260,
    "6": 171115067, "7": 159138663, "8": 146364022, "9": 141213431, "10": 135534747,
    "11": 135006516, "12": 133851895, "13": 115169878, "14": 107349540, "15": 102531392,
    "16": 90354753, "17": 81195210, "18": 78077248, "19": 59128983, "20": 63025520,
    "21": 48129895, "22": 51304566, "X": 155270560, "Y": 59373566, "M": 16569,
}
CONTIG_LENGTHS: dict[str, dict[str, int]] = {"GRCh38": GRCH38_LENGTHS, "GRCh37": GRCH37_LENGTHS}
_CONTIG_ORDER = [str(i) for i in range(1, 23)] + ["X", "Y", "M"]


@dataclass
class _Record:
    chrom: str  # canonical (no prefix)
    pos: int
    ref: str
    alts: tuple[str, ...]
    genotypes: dict[str, str]
    id: str = "."
    ps: dict[str, int] = field(default_factory=dict)
    fmt_extra: dict[str, dict[str, str]] = field(default_factory=dict)  # key -> sample -> value
    info: dict[str, str] = field(default_factory=dict)


def concrete_base(cell: str, ref: str) -> str:
    """The base written for a definition cell.

    Plain sequences are written as they are. An IUPAC ambiguity code (one letter, not A/C/G/T) is
    written as the first base of the code, in alphabetical order, that differs from the position's
    reference base; if every base of the code is the reference base, as that base. This choice is
    deterministic, so the oracle and the VCF agree.
    """
    if len(cell) == 1 and cell in IUPAC and cell not in "ACGT":
        bases = sorted(IUPAC[cell])
        for b in bases:
            if b != ref:
                return b
        return bases[0]
    return cell


# Header declarations the VCF spec fixes (Number, Type); other keys are declared as strings.
_FORMAT_TYPES = {"CN": ("1", "Integer")}
_INFO_TYPES = {"END": ("1", "Integer"), "SVTYPE": ("1", "String"), "SVLEN": (".", "Integer")}


class VcfBuilder:
    """Collects VCF records for a fixed list of samples and writes them sorted."""

    def __init__(self, samples: Sequence[str], build: str = "GRCh38",
                 chrom_prefix: str = "chr") -> None:
        if build not in CONTIG_LENGTHS:
            raise ValueError(f"unknown build {build!r}")
        if len(set(samples)) != len(samples):
            raise ValueError("duplicate sample names")
        self.samples = list(samples)
        self.build = build
        self.chrom_prefix = chrom_prefix
        self.records: list[_Record] = []

    # --- records --------------------------------------------------------------------------

    def add(self, chrom: str, pos: int, ref: str, alts: Sequence[str] | str,
            genotypes: Mapping[str, str] | Sequence[str], id: str = ".",
            ps: Mapping[str, int] | None = None,
            fmt_extra: Mapping[str, Mapping[str, str]] | None = None,
            info: Mapping[str, str] | None = None) -> VcfBuilder:
        """Add one record.

        `alts` is a list of ALT alleles (empty or `"."` for none); `genotypes` maps sample -> GT
        or lists one GT per sample in `samples` order (missing samples get `./.`). `ps` maps
        sample -> phase set; `fmt_extra` maps a FORMAT key to sample -> value (declared with its
        VCF-spec type when `_FORMAT_TYPES` knows it, otherwise as a String); `info` maps an INFO
        key to its value (END, SVTYPE ... declared by `_INFO_TYPES`).
        """
        if isinstance(alts, str):
            alts = () if alts == "." else tuple(alts.split(","))
        if isinstance(genotypes, Mapping):
            unknown = set(genotypes) - set(self.samples)
            if unknown:
                raise ValueError(f"unknown samples {sorted(unknown)}")
            gts = {s: genotypes.get(s, "./.") for s in self.samples}
        else:
            if len(genotypes) != len(self.samples):
                raise ValueError(f"{len(genotypes)} genotypes for {len(self.samples)} samples")
            gts = dict(zip(self.samples, genotypes, strict=True))
        self.records.append(_Record(
            chrom=canonical_chrom(chrom), pos=int(pos), ref=ref, alts=tuple(alts),
            genotypes=gts, id=id, ps=dict(ps or {}),
            fmt_extra={k: dict(v) for k, v in (fmt_extra or {}).items()},
            info=dict(info or {})))
        return self

    # --- writing --------------------------------------------------------------------------

    def _contig_name(self, canonical: str) -> str:
        if canonical == "M":
            return "chrM" if self.chrom_prefix else "MT"
        return f"{self.chrom_prefix}{canonical}"

    def _sorted_records(self) -> list[_Record]:
        def key(r: _Record) -> tuple[int, str, int]:
            c = r.chrom
            rank = _CONTIG_ORDER.index(c) if c in _CONTIG_ORDER else len(_CONTIG_ORDER)
            return (rank, c, r.pos)
        return sorted(self.records, key=key)

    def text(self) -> str:
        records = self._sorted_records()
        use_ps = any(r.ps for r in records)
        extra_keys: list[str] = []
        for r in records:
            for k in r.fmt_extra:
                if k not in extra_keys and k not in ("GT", "PS"):
                    extra_keys.append(k)
        lengths = CONTIG_LENGTHS[self.build]
        lines = ["##fileformat=VCFv4.2", f"##reference={self.build}"]
        contigs = [c for c in _CONTIG_ORDER if c in lengths]
        contigs += sorted({r.chrom for r in records} - set(contigs))
        for c in contigs:
            length = f",length={lengths[c]}" if c in lengths else ""
            lines.append(f"##contig=<ID={self._contig_name(c)}{length},assembly={self.build}>")
        lines.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
        if use_ps:
            lines.append('##FORMAT=<ID=PS,Number=1,Type=Integer,Description="Phase set">')
        info_keys: list[str] = []
        for r in records:
            info_keys += [k for k in r.info if k not in info_keys]
        for k in info_keys:
            number, kind = _INFO_TYPES.get(k, (".", "String"))
            lines.append(f'##INFO=<ID={k},Number={number},Type={kind},Description="{k}">')
        for k in extra_keys:
            number, kind = _FORMAT_TYPES.get(k, (".", "String"))
            lines.append(f'##FORMAT=<ID={k},Number={number},Type={kind},Description="{k}">')
        lines.append("\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                                "FORMAT", *self.samples]))
        for r in records:
            keys = ["GT"] + (["PS"] if use_ps else []) + extra_keys
            cols = []
            for s in self.samples:
                vals = [r.genotypes[s]]
                if use_ps:
                    vals.append(str(r.ps[s]) if s in r.ps else ".")
                vals += [r.fmt_extra.get(k, {}).get(s, ".") for k in extra_keys]
                cols.append(":".join(vals))
            lines.append("\t".join([
                self._contig_name(r.chrom), str(r.pos), r.id, r.ref,
                ",".join(r.alts) if r.alts else ".", ".", "PASS",
                ";".join(f"{k}={v}" for k, v in r.info.items()) or ".", ":".join(keys), *cols]))
        return "\n".join(lines) + "\n"

    def write(self, path: str | Path, compress: Literal[False, "bgzip", "gzip"] = False,
              index: bool = False) -> Path:
        """Write the VCF. `compress="bgzip"` (and `index=True` for a .tbi) uses pysam."""
        path = Path(path)
        body = self.text()
        if not compress:
            if index:
                raise ValueError("an index needs compress='bgzip'")
            path.write_text(body)
            return path
        if compress == "gzip":
            with gzip.open(path, "wt") as fh:
                fh.write(body)
            return path
        if compress != "bgzip":
            raise ValueError(f"unknown compression {compress!r}")
        import pysam

        plain = path.with_name(path.name + ".tmp.vcf")
        plain.write_text(body)
        try:
            pysam.tabix_compress(str(plain), str(path), force=True)
        finally:
            plain.unlink()
        if index:
            pysam.tabix_index(str(path), preset="vcf", force=True)
        return path


# --- writing named alleles of a definition --------------------------------------------------

def allele_sequences(defn: GeneDefinition, name: str) -> tuple[str, ...]:
    """The concrete sequence of a named allele at every position (None -> reference cell,
    IUPAC -> `concrete_base`)."""
    ref = defn.alleles[0]
    allele = defn.allele(name)
    out = []
    for i, p in enumerate(defn.positions):
        cell = allele.cells[i] if allele.cells[i] is not None else ref.cells[i]
        assert cell is not None
        out.append(concrete_base(cell, p.ref))
    return tuple(out)


def record_alleles(defn: GeneDefinition, index: int) -> tuple[str, tuple[str, ...]]:
    """REF and ALTs for position `index`: REF = position.ref, ALTs = every known alt of the
    position plus any concrete cell value not already listed (so records are realistically
    multi-allelic)."""
    p: Position = defn.positions[index]
    alts = [a for a in p.alts if a != p.ref]
    for a in defn.alleles:
        cell = a.cells[index]
        if cell is None:
            continue
        base = concrete_base(cell, p.ref)
        if base != p.ref and base not in alts:
            alts.append(base)
    return p.ref, tuple(alts)


def from_definition(defn: GeneDefinition,
                    haplotypes: Mapping[str, Sequence[str]] | Iterable[tuple[str, Sequence[str]]],
                    *, phased: bool = True, omit_reference: bool = False,
                    ps: int | None = None, build: str | None = None,
                    chrom_prefix: str = "chr", builder: VcfBuilder | None = None) -> VcfBuilder:
    """Samples carrying named alleles of `defn` at every position of the definition.

    `haplotypes` maps sample -> (allele_a, allele_b) for diploid samples or (allele,) for haploid
    ones. One record per position: REF = position.ref, ALT = all alts of the position
    (`record_alleles`). Phased samples get `a|b` in strand order (and FORMAT/PS = `ps` if given);
    unphased samples get `x/y` with the allele indices sorted so no phase information survives.
    Positions where every sample is homozygous reference are still written unless
    `omit_reference=True`. Pass `builder` to add to an existing builder (same samples).
    """
    items = list(haplotypes.items()) if isinstance(haplotypes, Mapping) else list(haplotypes)
    samples = [s for s, _ in items]
    if builder is None:
        builder = VcfBuilder(samples, build=build or defn.build, chrom_prefix=chrom_prefix)
    seqs = {s: [allele_sequences(defn, n) for n in names] for s, names in items}
    for i, p in enumerate(defn.positions):
        ref, alts = record_alleles(defn, i)
        index = {ref: 0, **{a: k + 1 for k, a in enumerate(alts)}}
        gts: dict[str, str] = {}
        all_ref = True
        for s, _ in items:
            idx = [index[strand[i]] for strand in seqs[s]]
            all_ref = all_ref and all(x == 0 for x in idx)
            if len(idx) == 1:
                gts[s] = str(idx[0])
            elif phased:
                gts[s] = f"{idx[0]}|{idx[1]}"
            else:
                gts[s] = "/".join(str(x) for x in sorted(idx))
        if omit_reference and all_ref:
            continue
        ps_map = {s: ps for s, names in items if len(names) == 2} if (phased and ps) else None
        builder.add(p.chrom, p.pos, ref, alts, gts, id=p.rsid or ".", ps=ps_map)
    return builder


__all__ = ["CONTIG_LENGTHS", "VcfBuilder", "allele_sequences", "concrete_base",
           "from_definition", "record_alleles"]
