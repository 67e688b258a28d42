"""VCF Zarr ("vcz", bio2zarr / sgkit layout) input, and a small writer for tests and benchmarks.

The store is a Zarr (format 2) group with, per variant, `variant_contig` (index into
`contig_id`), `variant_position` (1-based), `variant_allele` (variants x alleles, REF first, ""
padding) and optionally `variant_length` (the span on the reference, as VCF rlen); per sample
`sample_id`; and `call_genotype` (variants x samples x ploidy, -1 missing, -2 fill for lower
ploidy), optionally `call_genotype_phased` (variants x samples), `call_PS` and `call_AD`
(variants x samples x alleles). The genome build is taken from the group attributes
(`vcf_meta_information` of bio2zarr >= 0.5, or `vcf_header`) or from `contig_length`.

Reading is by gene region and sample block: the 1-D variant arrays are small and read whole
(cached per process); genotypes are read only for the records that touch a definition position,
and only for the block's samples, so memory follows the block size, never the whole matrix.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pgxguard.cohort.records import (
    GeneRecords,
    RecordData,
    check_unique_samples,
    region_facts,
)
from pgxguard.errors import InputError
from pgxguard.io.vcf import detect_build
from pgxguard.kb.model import GeneDefinition, canonical_chrom

VCZ_VERSION = "0.5"
_REQUIRED = ("variant_contig", "variant_position", "variant_allele", "sample_id", "contig_id",
             "call_genotype")


def is_vcz(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and ((p / ".zgroup").exists() or (p / "zarr.json").exists())


def _open(path: str | Path) -> Any:
    import zarr

    try:
        return zarr.open_group(str(path), mode="r")
    except Exception as e:  # zarr raises several unrelated types for a non-store
        raise InputError(f"cannot open as a VCF Zarr store ({e})", path=str(path),
                         hint="convert a VCF with `vcf2zarr convert IN.vcf.gz OUT.vcz`") from e


def _first_value(a: np.ndarray) -> np.ndarray:
    """A per-sample FORMAT value (call_CN) as float64: its first value; missing stays NaN or
    negative (-1, -2 fill), as `apply_record` expects."""
    a = np.asarray(a)
    if a.ndim > 1:
        a = a.reshape(a.shape[0], -1)[:, 0]
    return a.astype(np.float64)


def _strings(a: Any) -> list[str]:
    return [x.decode() if isinstance(x, bytes) else str(x) for x in np.asarray(a).ravel()]


@dataclass(frozen=True, slots=True)
class VczInfo:
    """What the driver needs to know about a store: samples, build and a fingerprint."""

    path: str
    samples: list[str]
    build: str | None
    build_detected: bool
    fingerprint: str


def vcz_info(path: str | Path, build: str | None = None) -> VczInfo:
    root = _open(path)
    missing = [n for n in _REQUIRED if n not in root]
    if missing:
        raise InputError(f"not a VCF Zarr store: missing array(s) {', '.join(missing)}",
                         path=str(path), hint="write it with bio2zarr `vcf2zarr convert`")
    samples = _strings(root["sample_id"][:])
    check_unique_samples(samples, str(path))
    detected = detect_build(_pseudo_header(root), str(path))
    if build and detected and build != detected:
        raise InputError(f"--build {build} given but the store says {detected}", path=str(path),
                         hint="drop --build or fix the store's metadata")
    # Fingerprint: the store's metadata documents (shapes, chunks, attributes), not its chunks.
    meta = []
    base = Path(path)
    for name in ["", *sorted(os.listdir(base))]:
        for doc in (".zarray", ".zattrs", ".zgroup", "zarr.json"):
            f = base / name / doc
            if f.is_file():
                st = f.stat()
                meta.append(f"{name}/{doc}:{st.st_size}:{st.st_mtime_ns}")
    return VczInfo(str(path), samples, build or detected, detected is not None,
                   json.dumps(meta))


def _pseudo_header(root: Any) -> str:
    """VCF-like header text from the store's attributes, for `detect_build`."""
    attrs = dict(root.attrs)
    if "vcf_header" in attrs:
        return str(attrs["vcf_header"])
    lines = ["##fileformat=VCFv4.3"]
    for item in attrs.get("vcf_meta_information", []) or []:
        if isinstance(item, list | tuple) and len(item) == 2:
            lines.append(f"##{item[0]}={item[1]}")
    ids = _strings(root["contig_id"][:])
    lengths = list(np.asarray(root["contig_length"][:])) if "contig_length" in root else []
    for i, c in enumerate(ids):
        ln = f",length={int(lengths[i])}" if i < len(lengths) and int(lengths[i]) > 0 else ""
        lines.append(f"##contig=<ID={c}{ln}>")
    return "\n".join(lines) + "\n"


class _Variants:
    """The 1-D per-variant arrays of one store, read once per process."""

    def __init__(self, root: Any) -> None:
        self.contig_ids = _strings(root["contig_id"][:])
        self.contig = np.asarray(root["variant_contig"][:]).astype(np.int64)
        self.pos = np.asarray(root["variant_position"][:]).astype(np.int64)
        if "variant_length" in root:
            length = np.asarray(root["variant_length"][:]).astype(np.int64)
        else:
            ref = root["variant_allele"][:, 0]
            length = np.array([len(r) for r in _strings(ref)], dtype=np.int64)
        self.end = self.pos + np.maximum(length, 1) - 1
        order_ok = bool(np.all(np.diff(self.contig) >= 0)) if len(self.contig) else True
        self.sorted = order_ok and all(
            bool(np.all(np.diff(self.pos[self.contig == c]) >= 0)) for c in np.unique(self.contig))

    def contig_range(self, chrom: str) -> tuple[str, np.ndarray] | None:
        """The store's name for a canonical chromosome, and its variant indices by position."""
        for c, name in enumerate(self.contig_ids):
            if canonical_chrom(name) == chrom:
                if self.sorted:
                    lo = int(np.searchsorted(self.contig, c, side="left"))
                    hi = int(np.searchsorted(self.contig, c, side="right"))
                    return name, np.arange(lo, hi)
                idx = np.flatnonzero(self.contig == c)
                return name, idx[np.argsort(self.pos[idx], kind="stable")]
        return None


_LOCAL = threading.local()  # per worker thread: the open store and its variant arrays


def _store(path: str) -> tuple[Any, _Variants]:
    cache: dict[str, tuple[Any, _Variants]] = getattr(_LOCAL, "stores", None) or {}
    hit = cache.get(path)
    if hit is None:
        root = _open(path)
        hit = (root, _Variants(root))
        _LOCAL.stores = {path: hit}  # one store at a time
    return hit


def vcz_sample_ids(path: str, start: int, stop: int) -> list[str]:
    root, _ = _store(path)
    return _strings(root["sample_id"][start:stop])


def read_gene_records(path: str, d: GeneDefinition, start: int, stop: int) -> GeneRecords:
    """The records of a store touching `d`'s positions, for samples start..stop (sample_id order).

    Same record selection as the VCF reader: records overlapping the gene region padded by 2 kb
    decide coverage and span; those overlapping a definition position carry genotypes.
    """
    root, var = _store(path)
    found = var.contig_range(d.chrom)
    n = stop - start
    if found is None or not d.positions:
        return GeneRecords([], has_records=False, near=False, n_outside=0)
    name, idx = found
    facts = region_facts(d, idx, var.pos, var.end)
    has_records, near, n_outside = facts.has_records, facts.near, facts.n_outside
    if not facts.touching.size:
        return GeneRecords([], has_records=has_records, near=near, n_outside=n_outside)
    sel = facts.touching  # store order == file order
    gt = np.asarray(root["call_genotype"].oindex[sel, start:stop]).astype(np.int64)
    if "call_genotype_phased" in root:
        phased = np.asarray(root["call_genotype_phased"].oindex[sel, start:stop]).astype(bool)
    else:
        phased = np.zeros((len(sel), n), dtype=bool)
    ps = np.asarray(root["call_PS"].oindex[sel, start:stop]) if "call_PS" in root else None
    ad = np.asarray(root["call_AD"].oindex[sel, start:stop]) if "call_AD" in root else None
    cn = np.asarray(root["call_CN"].oindex[sel, start:stop]) if "call_CN" in root else None
    alleles = root["variant_allele"].oindex[sel]
    records = []
    for k, v in enumerate(sel):
        row = [a.upper() for a in _strings(alleles[k])]
        alts = tuple(a for a in row[1:] if a)
        ps_k = None
        if ps is not None:
            ps_k = ps[k].reshape(n, -1)[:, 0].astype(np.int64)
        records.append(RecordData(
            chrom=name, pos=int(var.pos[v]), end=int(var.end[v]), ref=row[0], alts=alts,
            g=gt[k], phased=phased[k], ps=ps_k,
            ad=ad[k].astype(np.int64) if ad is not None else None,
            cn=_first_value(cn[k]) if cn is not None else None))
    return GeneRecords(records, has_records=has_records, near=near, n_outside=n_outside)


# --- writer --------------------------------------------------------------------------------------


def create_vcz(path: str | Path, *, sample_id: Sequence[str], contig_id: Sequence[str],
               variant_contig: Sequence[int] | np.ndarray,
               variant_position: Sequence[int] | np.ndarray,
               variant_allele: Sequence[Sequence[str]], ploidy: int = 2,
               contig_length: Sequence[int] | None = None, build: str | None = None,
               phased: bool = True, variants_chunk: int = 1000,
               samples_chunk: int = 10_000) -> None:
    """Create a VCF Zarr store holding the subset of fields pgxguard reads.

    Written: `sample_id`, `contig_id` (+ `contig_length`), `variant_contig`, `variant_position`,
    `variant_allele`, `variant_length`, and empty (missing, -1) `call_genotype` and
    `call_genotype_phased` arrays to be filled by sample blocks with `write_vcz_block`, so a
    large synthetic cohort is never held in memory whole. Arrays carry the xarray
    `_ARRAY_DIMENSIONS` attribute; the group carries `vcf_zarr_version` and a minimal
    `vcf_meta_information` (fileformat, reference=build) as bio2zarr does. This is not a full
    VCF Zarr writer: no INFO/FORMAT fields other than GT, no filters, no variant ids.
    """
    import zarr

    pos = np.asarray(variant_position, dtype=np.int32)
    nv, ns = len(pos), len(sample_id)
    width = max((len(a) for a in variant_allele), default=1)
    alleles = np.full((nv, width), "", dtype=object)
    for i, row in enumerate(variant_allele):
        alleles[i, : len(row)] = list(row)
    root: Any = zarr.open_group(str(path), mode="w", zarr_format=2)
    root.attrs["vcf_zarr_version"] = VCZ_VERSION
    root.attrs["source"] = "pgxguard.cohort.io_zarr.write_vcz"
    meta = [["fileformat", "VCFv4.3"]]
    if build:
        meta.append(["reference", build])
    root.attrs["vcf_meta_information"] = meta
    vchunk = max(1, min(variants_chunk, nv or 1))
    schunk = max(1, min(samples_chunk, ns or 1))

    def put(name: str, data: np.ndarray, dims: list[str], chunks: tuple[int, ...]) -> None:
        dtype: Any = str if data.dtype == object else data.dtype
        arr = root.create_array(name, shape=data.shape, dtype=dtype, chunks=chunks,
                                fill_value="" if dtype is str else None)
        arr[...] = data
        arr.attrs["_ARRAY_DIMENSIONS"] = dims

    put("sample_id", np.array(list(sample_id), dtype=object), ["samples"], (schunk,))
    put("contig_id", np.array(list(contig_id), dtype=object), ["contigs"],
        (max(1, len(contig_id)),))
    if contig_length is not None:
        put("contig_length", np.asarray(contig_length, dtype=np.int64), ["contigs"],
            (max(1, len(contig_id)),))
    put("variant_contig", np.asarray(variant_contig, dtype=np.int16), ["variants"], (vchunk,))
    put("variant_position", pos, ["variants"], (vchunk,))
    put("variant_allele", alleles, ["variants", "alleles"], (vchunk, width))
    put("variant_length", np.array([len(a[0]) for a in variant_allele], dtype=np.int32),
        ["variants"], (vchunk,))
    gt = root.create_array("call_genotype", shape=(nv, ns, ploidy), dtype="i1",
                           chunks=(vchunk, schunk, ploidy), fill_value=-1)
    gt.attrs["_ARRAY_DIMENSIONS"] = ["variants", "samples", "ploidy"]
    ph = root.create_array("call_genotype_phased", shape=(nv, ns), dtype=bool,
                           chunks=(vchunk, schunk), fill_value=phased)
    ph.attrs["_ARRAY_DIMENSIONS"] = ["variants", "samples"]


def write_vcz_block(path: str | Path, sample_start: int, call_genotype: np.ndarray,
                    call_genotype_phased: np.ndarray | None = None) -> None:
    """Fill samples sample_start.. of a store made by `create_vcz` (all variants at once)."""
    import zarr

    root: Any = zarr.open_group(str(path), mode="r+")
    g = np.asarray(call_genotype, dtype=np.int8)
    stop = sample_start + g.shape[1]
    root["call_genotype"][:, sample_start:stop, :] = g
    if call_genotype_phased is not None:
        root["call_genotype_phased"][:, sample_start:stop] = np.asarray(call_genotype_phased,
                                                                        dtype=bool)


def write_vcz(path: str | Path, *, sample_id: Sequence[str], contig_id: Sequence[str],
              variant_contig: Sequence[int] | np.ndarray,
              variant_position: Sequence[int] | np.ndarray,
              variant_allele: Sequence[Sequence[str]], call_genotype: np.ndarray,
              call_genotype_phased: np.ndarray | bool = True,
              contig_length: Sequence[int] | None = None, build: str | None = None,
              variants_chunk: int = 1000, samples_chunk: int = 10_000) -> None:
    """Write a small VCF Zarr store from whole arrays (see `create_vcz` for what is written).

    call_genotype: variants x samples x ploidy, -1 missing, -2 fill (a haploid call in a
    diploid array); call_genotype_phased: variants x samples, or one bool for every call.
    """
    g = np.asarray(call_genotype)
    if g.ndim != 3 or g.shape[0] != len(variant_position) or g.shape[1] != len(sample_id):
        raise ValueError("call_genotype must be variants x samples x ploidy")
    create_vcz(path, sample_id=sample_id, contig_id=contig_id, variant_contig=variant_contig,
               variant_position=variant_position, variant_allele=variant_allele,
               ploidy=g.shape[2], contig_length=contig_length, build=build,
               phased=bool(call_genotype_phased) if isinstance(call_genotype_phased, bool)
               else True, variants_chunk=variants_chunk, samples_chunk=samples_chunk)
    write_vcz_block(path, 0, g, None if isinstance(call_genotype_phased, bool)
                    else call_genotype_phased)


__all__ = ["VczInfo", "create_vcz", "is_vcz", "read_gene_records", "vcz_info", "vcz_sample_ids",
           "write_vcz", "write_vcz_block"]
