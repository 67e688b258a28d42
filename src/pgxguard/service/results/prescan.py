"""Bounded pre-scan of an upload, before any calling: the limits of `UploadLimits`, enforced
while the input is inflated and read chunk by chunk, so no amount of compression or one
endless line can make the service hold more than a chunk and one line in memory.

- VCF (plain, gzip or BGZF) and BCF: decompressed bytes, longest line (a BCF record), header
  samples, data records; the header must be UTF-8 (sample names reach the JSON output); a VCF
  holding several samples needs `sample` naming one of them (refused here, before calling).
- Outside-call TSV: longest line and number of rows.
- FHIR Bundle JSON: size and nesting depth, before `json.loads` (whose recursion and memory
  both grow with them).

Size limits are 413s (`PayloadTooLargeError`); unusable input is a 422 (`InputError`).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from pgxguard.budget import checkpoint
from pgxguard.errors import InputError, SampleError, VcfError
from pgxguard.service.errors import PayloadTooLargeError
from pgxguard.service.settings import Settings

CHUNK = 1 << 20  # inflate at most this much at a time
_GZIP_MAGIC = b"\x1f\x8b"
_BCF_MAGIC = b"BCF\x02"


@dataclass(frozen=True, slots=True)
class UploadLimits:
    max_decompressed_bytes: int
    max_line_bytes: int
    max_samples: int
    max_records: int
    max_bundle_bytes: int
    max_json_depth: int

    @classmethod
    def of(cls, s: Settings) -> UploadLimits:
        return cls(s.max_decompressed_bytes, s.max_line_bytes, s.max_vcf_samples,
                   s.max_vcf_records, s.max_bundle_bytes, s.max_json_depth)


@dataclass(frozen=True, slots=True)
class VcfFacts:
    """What the pre-scan saw: the samples of the header and the number of data records."""

    samples: tuple[str, ...]
    records: int
    decompressed_bytes: int


def _too_large(what: str, limit: int, setting: str, filename: str,
               line: int | None = None) -> PayloadTooLargeError:
    where = f"{filename}, line {line}: " if line is not None else f"{filename}: "
    return PayloadTooLargeError(
        f"{where}{what} exceeds the limit of {limit:,}",
        hint=f"send only the pharmacogene regions (e.g. `bcftools view -R regions.bed -s "
             f"SAMPLE`), or ask the operator to raise {setting}")


def inflate(data: bytes, limit: int, filename: str) -> Iterator[bytes]:
    """The decompressed content of gzip/BGZF `data` (any number of members) in chunks of at
    most `CHUNK` bytes, or `data` itself when it is not compressed; at most `limit` bytes."""
    if not data.startswith(_GZIP_MAGIC):
        if len(data) > limit:
            raise _too_large("the file's size in bytes", limit,
                             "PGXGUARD_MAX_DECOMPRESSED_BYTES", filename)
        for i in range(0, len(data), CHUNK):
            yield data[i:i + CHUNK]
        return
    total = 0
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            pending = rest
            while True:
                checkpoint()
                out = d.decompress(pending, CHUNK)
                total += len(out)
                if total > limit:
                    raise _too_large("the decompressed size in bytes", limit,
                                     "PGXGUARD_MAX_DECOMPRESSED_BYTES", filename)
                if out:
                    yield out
                pending = d.unconsumed_tail
                if d.eof or (not pending and not out):
                    break
            if not d.eof:
                raise VcfError("compressed file is truncated", path=filename,
                               hint="re-create it with bgzip, or check the download")
            rest = d.unused_data
            # Padding after the last member (some tools write zeros) ends the stream.
            if rest and not rest.startswith(_GZIP_MAGIC):
                if rest.strip(b"\0"):
                    raise VcfError("unexpected bytes after the compressed data",
                                   path=filename, hint="re-create it with bgzip")
                break
    except zlib.error as e:
        raise VcfError(f"compressed file is corrupt ({e})", path=filename,
                       hint="re-create it with bgzip, or check the download") from e


class _Lines:
    """Split chunks into lines, refusing any longer than `max_line` without keeping more than
    `max_line` bytes of it. Yields (line number, line bytes without the newline); a line over
    the limit raises before it is read to its end."""

    def __init__(self, max_line: int, filename: str) -> None:
        self.max_line = max_line
        self.filename = filename
        self.buf = bytearray()
        self.lineno = 0

    def feed(self, chunk: bytes) -> Iterator[tuple[int, bytes]]:
        start = 0
        while True:
            nl = chunk.find(b"\n", start)
            if nl < 0:
                self.buf += chunk[start:]
                if len(self.buf) > self.max_line:
                    raise self._long()
                return
            piece = chunk[start:nl]
            if len(self.buf) + len(piece) > self.max_line:
                raise self._long()
            self.lineno += 1
            if self.buf:
                self.buf += piece
                line = bytes(self.buf)
                self.buf.clear()
            else:
                line = piece
            yield self.lineno, line.rstrip(b"\r")
            start = nl + 1

    def close(self) -> Iterator[tuple[int, bytes]]:
        if self.buf:
            self.lineno += 1
            yield self.lineno, bytes(self.buf).rstrip(b"\r")
            self.buf.clear()

    def _long(self) -> PayloadTooLargeError:
        return _too_large("a line's length in bytes", self.max_line,
                          "PGXGUARD_MAX_LINE_BYTES", self.filename, self.lineno + 1)


def _header_samples(line: bytes, lineno: int, limits: UploadLimits,
                    filename: str) -> tuple[str, ...]:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SampleError(f"the #CHROM header line is not UTF-8 text (byte {e.start + 1}): "
                          "sample names must be UTF-8", path=filename, line=lineno,
                          hint="rename the samples, e.g. with `bcftools reheader -s`") from e
    cols = text.split("\t")
    samples = tuple(cols[9:])
    if len(samples) > limits.max_samples:
        raise _too_large(f"the number of samples ({len(samples):,})", limits.max_samples,
                         "PGXGUARD_MAX_VCF_SAMPLES", filename, lineno)
    return samples


def _check_sample(samples: tuple[str, ...], sample: str | None, filename: str) -> None:
    names = ", ".join(samples[:20]) + (" ..." if len(samples) > 20 else "")
    if not samples:
        raise SampleError("the VCF has no sample columns", path=filename,
                          hint="pass a VCF with genotypes (FORMAT/GT and sample columns)")
    if sample is None and len(samples) > 1:
        raise SampleError(f"the VCF holds {len(samples):,} samples; say which one is this "
                          "patient's with the 'sample' field", path=filename,
                          hint=f"samples: {names}")
    if sample is not None and sample not in samples:
        raise SampleError(f"sample {sample!r} is not in the VCF", path=filename,
                          hint=f"samples: {names}")


def scan_vcf(data: bytes, filename: str, sample: str | None,
             limits: UploadLimits) -> VcfFacts:
    """Check a VCF, VCF.gz or BCF upload against `limits` while streaming through it once."""
    chunks = inflate(data, limits.max_decompressed_bytes, filename)
    first = next(chunks, b"")
    if first.startswith(_BCF_MAGIC):
        return _scan_bcf(first, chunks, filename, sample, limits)
    lines = _Lines(limits.max_line_bytes, filename)
    samples: tuple[str, ...] | None = None
    records = 0
    total = 0
    header_seen = False

    def all_lines() -> Iterator[tuple[int, bytes]]:
        nonlocal total
        for chunk in _chain(first, chunks):
            total += len(chunk)
            yield from lines.feed(chunk)
        yield from lines.close()

    for lineno, line in all_lines():
        if samples is None:
            if lineno == 1 and not line.startswith(b"##fileformat=VCF"):
                raise VcfError("not a VCF: the first line must start with '##fileformat=VCF'",
                               path=filename, line=1, hint="upload a VCF, VCF.gz or BCF file")
            if line.startswith(b"##"):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise VcfError("the header is not UTF-8 text", path=filename,
                                   line=lineno, hint="VCF headers are UTF-8") from e
                continue
            if not line.startswith(b"#CHROM"):
                raise VcfError("missing '#CHROM' header line before the data", path=filename,
                               line=lineno, hint="a VCF needs the #CHROM column header")
            samples = _header_samples(line, lineno, limits, filename)
            _check_sample(samples, sample, filename)
            header_seen = True
            continue
        if not line:
            continue
        records += 1
        if records > limits.max_records:
            raise _too_large("the number of records", limits.max_records,
                             "PGXGUARD_MAX_VCF_RECORDS", filename, lineno)
        if records % 4096 == 0:
            checkpoint()
    if not header_seen or samples is None:
        raise VcfError("no '#CHROM' header line", path=filename,
                       hint="upload a complete VCF (the header ends with the #CHROM line)")
    return VcfFacts(samples, records, total)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _scan_bcf(first: bytes, chunks: Iterator[bytes], filename: str, sample: str | None,
              limits: UploadLimits) -> VcfFacts:
    """BCF 2: magic, l_text, the header text, then records of l_shared + l_indiv bytes each
    (after their two length words). Only the header is kept; record bodies are skipped."""
    stream = _chain(first, chunks)
    buf = bytearray()
    total = 0

    def need(n: int) -> bytes:
        nonlocal total
        while len(buf) < n:
            chunk = next(stream, None)
            if chunk is None:
                raise VcfError("BCF file ends inside a record or its header", path=filename,
                               hint="re-create it with `bcftools view -Ob`")
            total += len(chunk)
            buf.extend(chunk)
        out = bytes(buf[:n])
        del buf[:n]
        return out

    def skip(n: int) -> None:
        nonlocal total
        while n > 0:
            if not buf:
                chunk = next(stream, None)
                if chunk is None:
                    raise VcfError("BCF file ends inside a record", path=filename,
                                   hint="re-create it with `bcftools view -Ob`")
                total += len(chunk)
                buf.extend(chunk)
            k = min(n, len(buf))
            del buf[:k]
            n -= k

    need(5)  # magic + version
    (l_text,) = struct.unpack("<I", need(4))
    if l_text > limits.max_line_bytes * 64:
        raise _too_large("the BCF header's length in bytes", limits.max_line_bytes * 64,
                         "PGXGUARD_MAX_LINE_BYTES", filename)
    header = need(l_text).rstrip(b"\0")
    samples: tuple[str, ...] | None = None
    for lineno, line in enumerate(header.split(b"\n"), start=1):
        if len(line) > limits.max_line_bytes:
            raise _too_large("a header line's length in bytes", limits.max_line_bytes,
                             "PGXGUARD_MAX_LINE_BYTES", filename, lineno)
        if line.startswith(b"#CHROM"):
            samples = _header_samples(line, lineno, limits, filename)
    if samples is None:
        raise VcfError("the BCF header has no '#CHROM' line", path=filename)
    _check_sample(samples, sample, filename)
    records = 0
    while True:
        if not buf:
            chunk = next(stream, None)
            if chunk is None:
                break
            total += len(chunk)
            buf.extend(chunk)
        l_shared, l_indiv = struct.unpack("<II", need(8))
        if l_shared + l_indiv > limits.max_line_bytes:
            raise _too_large("a record's length in bytes", limits.max_line_bytes,
                             "PGXGUARD_MAX_LINE_BYTES", filename)
        skip(l_shared + l_indiv)
        records += 1
        if records > limits.max_records:
            raise _too_large("the number of records", limits.max_records,
                             "PGXGUARD_MAX_VCF_RECORDS", filename)
        if records % 4096 == 0:
            checkpoint()
    return VcfFacts(samples, records, total)


def scan_text(data: bytes, filename: str, limits: UploadLimits) -> int:
    """Check an outside-call TSV: line length and row count. Returns the number of lines."""
    lines = _Lines(limits.max_line_bytes, filename)
    n = 0
    for chunk in inflate(data, limits.max_decompressed_bytes, filename):
        for _ in lines.feed(chunk):
            n += 1
            if n > limits.max_records:
                raise _too_large("the number of lines", limits.max_records,
                                 "PGXGUARD_MAX_VCF_RECORDS", filename, n)
    return n


# A JSON string (unrolled, linear) or a bracket: strings are skipped whole.
_JSON_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)
_OPEN = frozenset(b"[{")
_CLOSE = frozenset(b"]}")


def check_json(data: bytes, filename: str, limits: UploadLimits) -> None:
    """A FHIR Bundle's size and nesting depth, checked without parsing it (strings skipped)."""
    if len(data) > limits.max_bundle_bytes:
        raise _too_large("the Bundle's size in bytes", limits.max_bundle_bytes,
                         "PGXGUARD_MAX_BUNDLE_BYTES", filename)
    depth = 0
    for n, m in enumerate(_JSON_TOKENS.finditer(data)):
        c = data[m.start()]
        if c in _OPEN:
            depth += 1
            if depth > limits.max_json_depth:
                raise InputError(f"JSON nested deeper than {limits.max_json_depth} levels",
                                 path=filename, hint="a FHIR Bundle is about 10 levels deep; "
                                 "check that this is the Bundle you meant to upload")
        elif c in _CLOSE:
            depth -= 1
        if n % 65536 == 0:
            checkpoint()


__all__ = ["UploadLimits", "VcfFacts", "check_json", "inflate", "scan_text", "scan_vcf"]
