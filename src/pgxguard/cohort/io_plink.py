"""PLINK input for cohort runs: PLINK 2 `.pgen` (+ `.pvar`, `.psam`) and PLINK 1 `.bed` (+ `.bim`,
`.fam`), read with pgenlib (the format's own library).

What biobanks hand out for array and imputed data. Hard calls only (imputed dosages are not
used); phase as stored (`|` hard calls in a .pgen; a .bed is unphased). The variant table is
read once per process with polars; genotypes are read per gene for the records touching a
definition position and per sample block, as for VCF Zarr.

Caveats kept visible rather than guessed:

* REF is what the .pvar/.bim says. A .bed's A2 allele is often the major, not the reference,
  allele: the definitions' REF check then makes those positions missing, with a warning naming
  them (convert with `plink2 --ref-from-fa` to fix it at the source).
* chrX: PLINK stores male hemizygous calls as homozygous diploid. For haploid-on-X genes
  (G6PD) a male's (SEX 1 in .psam/.fam) homozygous call is read as haploid, as a VCF from a
  ploidy-aware caller would give it; a heterozygous male call stays diploid, so the gene is not
  called ("haploid and diploid genotypes mixed"). Samples of unknown sex stay diploid.
* The build comes from `##contig=<...,length=...>` or `##reference` lines of a .pvar; a .bim has
  no header, so `--build` is required.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgxguard.cohort.records import GeneRecords, RecordData, check_unique_samples, region_facts
from pgxguard.errors import InputError
from pgxguard.io.vcf import detect_build
from pgxguard.kb.model import GeneDefinition, canonical_chrom

SUFFIXES = (".pgen", ".bed")


def is_plink(path: str | Path) -> bool:
    return Path(path).suffix in SUFFIXES and Path(path).is_file()


def _companions(path: Path) -> tuple[Path, Path]:
    """(variant table, sample table) beside a .pgen/.bed."""
    if path.suffix == ".pgen":
        var, sam = path.with_suffix(".pvar"), path.with_suffix(".psam")
        if not var.is_file() and path.with_suffix(".pvar.zst").is_file():
            raise InputError("a zstd-compressed .pvar is not read", path=str(var) + ".zst",
                             hint="decompress it: `zstd -d FILE.pvar.zst`")
    else:
        var, sam = path.with_suffix(".bim"), path.with_suffix(".fam")
    for f in (var, sam):
        if not f.is_file():
            raise InputError(f"{f.name} is missing beside {path.name}", path=str(f),
                             hint="a PLINK fileset is .pgen+.pvar+.psam or .bed+.bim+.fam")
    return var, sam


def _read_samples(sam: Path) -> tuple[list[str], list[int]]:
    """Sample ids (IID) and sexes (1 male, 2 female, 0 unknown) from a .psam or .fam."""
    lines = [ln.rstrip("\r\n") for ln in sam.read_text(encoding="utf-8").splitlines()
             if ln.strip() and not ln.startswith("##")]
    if sam.suffix == ".psam":
        if not lines or not lines[0].startswith("#"):
            header = ["FID", "IID", "PAT", "MAT", "SEX"]  # header-less .psam is .fam-like
        else:
            header = lines[0].lstrip("#").split()
            lines = lines[1:]
    else:
        header = ["FID", "IID", "PAT", "MAT", "SEX", "PHENO"]
    if "IID" not in header:
        raise InputError("no IID column in the sample table", path=str(sam),
                         hint="a .psam header starts with #IID or #FID IID")
    i_iid = header.index("IID")
    i_sex = header.index("SEX") if "SEX" in header else None
    ids: list[str] = []
    sexes: list[int] = []
    for n, ln in enumerate(lines, start=1):
        cols = ln.split()
        if len(cols) <= i_iid:
            raise InputError(f"sample line {n} has {len(cols)} column(s)", path=str(sam))
        ids.append(cols[i_iid])
        sex = cols[i_sex] if i_sex is not None and len(cols) > i_sex else "0"
        sexes.append({"1": 1, "2": 2, "male": 1, "female": 2}.get(sex.lower(), 0))
    check_unique_samples(ids, str(sam))
    return ids, sexes


def _header_lines(var: Path) -> str:
    out = []
    with var.open(encoding="utf-8", errors="replace") as fh:
        for ln in fh:
            if not ln.startswith("##"):
                break
            out.append(ln)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class PlinkInfo:
    path: str
    samples: list[str]
    build: str | None
    build_detected: bool
    fingerprint: dict[str, Any]


def plink_info(path: str | Path, build: str | None = None) -> PlinkInfo:
    p = Path(path)
    var, sam = _companions(p)
    samples, _sexes = _read_samples(sam)
    detected = detect_build(_header_lines(var), str(var)) if var.suffix == ".pvar" else None
    if build and detected and build != detected:
        raise InputError(f"--build {build} given but {var.name} says {detected}", path=str(var),
                         hint="drop --build or fix the .pvar header")
    stats = {f.name: [f.stat().st_size, f.stat().st_mtime_ns] for f in (p, var, sam)}
    return PlinkInfo(str(p), samples, build or detected, detected is not None, stats)


class _Variants:
    """The variant table (chrom, pos, REF, ALTs) of one fileset, read once per process."""

    def __init__(self, path: Path) -> None:
        import polars as pl

        var, sam = _companions(path)
        if var.suffix == ".pvar":
            skip = len(_header_lines(var).splitlines())
            df = pl.read_csv(var, separator="\t", skip_rows=skip, infer_schema=False,
                             quote_char=None)
            df = df.rename({c: c.lstrip("#").upper() for c in df.columns})
            need = ("CHROM", "POS", "REF", "ALT")
            if any(c not in df.columns for c in need):
                raise InputError(f"{var.name} needs the columns {', '.join(need)}", path=str(var))
            chrom, pos = df["CHROM"], df["POS"]
            ref, alt = df["REF"], df["ALT"]
        else:
            df = pl.read_csv(var, separator="\t", has_header=False, infer_schema=False,
                             quote_char=None)
            if df.width < 6:
                raise InputError(f"{var.name} is not a 6-column .bim file", path=str(var))
            chrom, pos = df[:, 0], df[:, 3]
            ref, alt = df[:, 5], df[:, 4]  # A2 is PLINK's reference-or-major allele
        try:
            self.pos = pos.cast(pl.Int64).to_numpy()
        except pl.exceptions.InvalidOperationError as e:
            raise InputError(f"a POS in {var.name} is not a number", path=str(var)) from e
        # Vectorised: a biobank table has millions of rows; strings are kept as arrays and
        # turned into Python objects only for the records a gene touches.
        self.ref = ref.str.to_uppercase().to_numpy()
        self.alt = alt.str.to_uppercase().to_numpy()
        self.end = self.pos + np.maximum(ref.str.len_chars().to_numpy(), 1).astype(np.int64) - 1
        n_alt = np.where(np.isin(self.alt, [".", "0"]), 0,
                         alt.str.count_matches(",").to_numpy() + 1)
        counts = np.maximum(2, 1 + n_alt).astype(np.uintp)
        self.allele_idx_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.uintp)
        self.multiallelic = bool((counts > 2).any())
        self.samples, self.sexes = _read_samples(sam)
        raw = chrom.to_numpy()
        by: dict[str, list[np.ndarray]] = {}
        for name in np.unique(raw):
            by.setdefault(canonical_chrom(str(name)), []).append(np.flatnonzero(raw == name))
        self._by_chrom: dict[str, np.ndarray] = {}
        for c, parts in by.items():
            idx = np.concatenate(parts)
            self._by_chrom[c] = idx[np.argsort(self.pos[idx], kind="stable")]

    def alts_of(self, v: int) -> tuple[str, ...]:
        return tuple(a for a in str(self.alt[v]).split(",") if a not in (".", "0"))

    def on(self, chrom: str) -> np.ndarray | None:
        return self._by_chrom.get(chrom)


_LOCAL = threading.local()


def _variants(path: str) -> _Variants:
    cache: dict[str, _Variants] = getattr(_LOCAL, "variants", None) or {}
    _LOCAL.variants = cache
    if path not in cache:
        cache[path] = _Variants(Path(path))
    return cache[path]


def plink_sample_ids(path: str, start: int, stop: int) -> list[str]:
    return _variants(path).samples[start:stop]


def read_gene_records(path: str, d: GeneDefinition, start: int, stop: int) -> GeneRecords:
    """The records of a fileset touching `d`'s positions, for samples start..stop."""
    import pgenlib

    var = _variants(path)
    idx = var.on(d.chrom) if d.positions else None
    if idx is None:
        return GeneRecords([], has_records=False, near=False, n_outside=0)
    facts = region_facts(d, idx, var.pos, var.end)
    if not facts.touching.size:
        return GeneRecords([], has_records=facts.has_records, near=facts.near,
                           n_outside=facts.n_outside)
    n = stop - start
    subset = np.arange(start, stop, dtype=np.uint32)
    kw: dict[str, Any] = {"raw_sample_ct": len(var.samples)}
    if var.multiallelic:
        kw["allele_idx_offsets"] = var.allele_idx_offsets
    reader = pgenlib.PgenReader(path.encode(), sample_subset=subset, **kw)
    try:
        sel = facts.touching.astype(np.uint32)
        alleles = np.empty((sel.size, 2 * n), dtype=np.int32)
        phase = np.empty((sel.size, n), dtype=np.uint8)
        reader.read_alleles_and_phasepresent_list(sel, alleles, phase)
    finally:
        reader.close()
    g = alleles.reshape(sel.size, n, 2).astype(np.int64)
    g[g < 0] = -1  # pgenlib writes -9 for a missing call
    males = np.array(var.sexes[start:stop]) == 1
    records = []
    for k, v in enumerate(facts.touching):
        gk = g[k]
        if d.haploid_chrom == "X" and males.any():
            hemi = males & (gk[:, 0] == gk[:, 1])
            gk = gk.copy()
            gk[hemi, 1] = -2  # vector end: a haploid call, as a ploidy-aware VCF has it
        records.append(RecordData(
            chrom=d.chrom, pos=int(var.pos[v]), end=int(var.end[v]), ref=str(var.ref[v]),
            alts=var.alts_of(int(v)), g=gk, phased=phase[k].astype(bool)))
    return GeneRecords(records, has_records=facts.has_records, near=facts.near,
                       n_outside=facts.n_outside)


def write_pgen(prefix: str | Path, *, samples: list[str], sexes: list[int] | None,
               chrom: list[str], pos: list[int], ids: list[str], ref: list[str],
               alts: list[tuple[str, ...]], alleles: np.ndarray, phased: np.ndarray,
               build: str | None = None, contig_lengths: dict[str, int] | None = None) -> Path:
    """Write a small PLINK 2 fileset (tests, examples): `alleles` is variants x samples x 2
    (-1 missing), `phased` variants x samples. Returns the .pgen path."""
    import pgenlib

    prefix = Path(prefix)
    nv, ns = alleles.shape[0], alleles.shape[1]
    max_alleles = max([2, *(1 + len(a) for a in alts)])
    pgen = prefix.with_suffix(".pgen")
    with pgenlib.PgenWriter(str(pgen).encode(), ns, variant_ct=nv, nonref_flags=False,
                            allele_ct_limit=max_alleles,
                            hardcall_phase_present=bool(phased.any())) as w:
        for k in range(nv):
            codes = np.where(alleles[k] < 0, -9, alleles[k]).astype(np.int32).reshape(-1)
            w.append_partially_phased(codes, phased[k].astype(np.uint8),
                                      allele_ct=max(2, 1 + len(alts[k])))
    lines = []
    if build:
        lines.append(f"##reference={build}")
    for c, ln in (contig_lengths or {}).items():
        lines.append(f"##contig=<ID={c},length={ln}>")
    lines.append("#CHROM\tPOS\tID\tREF\tALT")
    lines += [f"{c}\t{p}\t{i}\t{r}\t{','.join(a) or '.'}"
              for c, p, i, r, a in zip(chrom, pos, ids, ref, alts, strict=True)]
    prefix.with_suffix(".pvar").write_text("\n".join(lines) + "\n")
    sx = sexes or [0] * ns
    prefix.with_suffix(".psam").write_text(
        "#IID\tSEX\n" + "".join(f"{s}\t{x or 'NA'}\n" for s, x in zip(samples, sx, strict=True)))
    return pgen


__all__ = ["PlinkInfo", "is_plink", "plink_info", "plink_sample_ids", "read_gene_records",
           "write_pgen"]
