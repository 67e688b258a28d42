"""Generic medicine names without PGx guidance: so "amoxicillin" reviews as "no PGx guidance".

The guidance knowledge base knows only drugs with CPIC/DPWG guidance. A primary-care list is
mostly other medicines, and "unknown medicine" for metformin would stop a review. This module
builds, from a pinned registry package, a list of medicine names and the generic name each one
stands for (`guidance/data/generic-names.tsv.gz`), and reads it back with its checksum checked.

Source: `drug-named-entity-recognition` 2.0.9 (PyPI, MIT; names from MedlinePlus, DrugBank and
MeSH), its `drug_ner_dictionary.pkl.bz2`. The pickle is read from the sha256-pinned wheel with
an unpickler that admits only plain containers and strings, never imported. Kept: every generic
(canonical) name and every variant naming exactly one generic (UK names such as suxamethonium,
tioguanine, methylthioninium chloride), lower case, made of letters, spaces, hyphens, commas and
apostrophes. Brand names are kept only for drugs with PGx guidance (Zydol -> tramadol): a brand
resolving to a drug without guidance could hide guidance, so those are left out; UK brands the
source lacks come from the curated medicines.tsv. Rebuild after the guidance knowledge base.

Rebuild: ``python -m pgxguard.guidance.names --wheel PATH`` (or without --wheel: pip download).
"""

from __future__ import annotations

import argparse
import bz2
import functools
import gzip
import hashlib
import io
import pickle
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from pgxguard.errors import KnowledgeBaseError, PgxError
from pgxguard.io.atomic import write_bytes
from pgxguard.snapshot import packaged_bytes

NER_PACKAGE = "drug-named-entity-recognition"
NER_VERSION = "2.0.9"
NER_WHEEL = f"drug_named_entity_recognition-{NER_VERSION}-py3-none-any.whl"
NER_WHEEL_SHA256 = "dc0c9cb4487b4cd31c123f941cd9d5edfc55facdb280ab65e7b2cd08d3fd391c"
NER_MEMBER = "drug_named_entity_recognition/drug_ner_dictionary.pkl.bz2"
NER_URL = f"https://pypi.org/project/{NER_PACKAGE}/{NER_VERSION}/"
NER_LICENCE = "MIT"
NAMES_FILE = "generic-names.tsv.gz"
NAMES_LABEL = f"{NER_PACKAGE} {NER_VERSION} (MedlinePlus/DrugBank/MeSH names)"

_NAME = re.compile(r"[a-z][a-z' ,\-]*[a-z]")
_SAFE = {("builtins", n) for n in ("dict", "list", "set", "frozenset", "tuple", "str", "bool",
                                   "int", "float")}


class _PlainUnpickler(pickle.Unpickler):
    """Only builtin containers and scalars: a pickle naming anything else is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _SAFE:
            raise pickle.UnpicklingError(f"refused {module}.{name}")
        return super().find_class(module, name)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_dictionary(wheel: Path) -> dict[str, Any]:
    """The source dictionary from the pinned wheel (sha256 checked first)."""
    if not wheel.is_file():
        raise KnowledgeBaseError(f"{NER_PACKAGE} wheel not found", path=str(wheel),
                                 hint=f"pip download --no-deps {NER_PACKAGE}=={NER_VERSION}")
    digest = _sha256(wheel)
    if digest != NER_WHEEL_SHA256:
        raise KnowledgeBaseError(f"sha256 {digest} differs from the pinned {NER_WHEEL_SHA256}",
                                 path=str(wheel), hint=f"use {NER_PACKAGE}=={NER_VERSION}")
    with zipfile.ZipFile(wheel) as zf:
        raw = bz2.decompress(zf.read(NER_MEMBER))
    data = _PlainUnpickler(io.BytesIO(raw)).load()
    if not isinstance(data, dict) or "drug_variant_to_canonical" not in data:
        raise KnowledgeBaseError("unexpected dictionary layout", path=str(wheel))
    return data


def select_names(data: dict[str, Any],
                 brands_for: frozenset[str] = frozenset()) -> dict[str, str]:
    """name -> generic name: generic names themselves, every variant naming one generic that is
    not marked a brand (``suxamethonium`` -> succinylcholine), and brand names only when their
    generic is in `brands_for` (the drugs with PGx guidance: a brand can then only bring
    guidance in, never hide it)."""
    v2c: dict[str, list[str]] = data["drug_variant_to_canonical"]
    canon: dict[str, Any] = data["drug_canonical_to_data"]
    vdata: dict[str, dict[str, Any]] = data["drug_variant_to_variant_data"]
    out: dict[str, str] = {}
    for c in canon:
        if _NAME.fullmatch(c):
            out[c] = c
    for v, targets in v2c.items():
        info = vdata.get(v) or {}
        if len(targets or ()) != 1 or not _NAME.fullmatch(v) or not _NAME.fullmatch(targets[0]):
            continue
        if info.get("is_brand") and targets[0] not in brands_for:
            continue
        out.setdefault(v, targets[0])
    return dict(sorted(out.items()))


def _body(names: dict[str, str]) -> str:
    return "".join(f"{n}\t{c}\n" for n, c in names.items())


def render(names: dict[str, str], wheel_sha256: str) -> bytes:
    body = _body(names)
    header = (f"# source: {NER_PACKAGE} {NER_VERSION} ({NER_URL}), licence {NER_LICENCE}, "
              f"wheel sha256 {wheel_sha256}\n"
              f"# content-sha256: {hashlib.sha256(body.encode()).hexdigest()}\n"
              "name\tgeneric\n")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write((header + body).encode())
    return buf.getvalue()


def build(wheel: Path | None = None, out: Path | None = None) -> Path:
    out = out or Path(__file__).parent / "data" / NAMES_FILE
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                   f"{NER_PACKAGE}=={NER_VERSION}", "-d", tmp]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wheel = Path(tmp) / NER_WHEEL
            if proc.returncode != 0 or not wheel.is_file():
                raise KnowledgeBaseError(f"pip download of {NER_PACKAGE}=={NER_VERSION} failed",
                                         hint="pass --wheel with a downloaded copy")
        names = select_names(read_dictionary(wheel), guidance_drugs())
        return write_bytes(out, render(names, NER_WHEEL_SHA256))


def guidance_drugs() -> frozenset[str]:
    """The drugs of the bundled guidance knowledge base (whose brands the list keeps)."""
    from pgxguard.guidance.load import load_guidance

    return frozenset(load_guidance().drugs)


@functools.lru_cache(maxsize=1)
def generic_names() -> dict[str, str]:
    """The bundled name -> generic table; its content checksum is checked on load."""
    return parse(*packaged_bytes("pgxguard.guidance", NAMES_FILE, "generic-name list"))


def parse(raw: bytes, origin: str) -> dict[str, str]:
    """A `generic-names.tsv.gz` as written by `render`, checksum checked."""
    try:
        text = gzip.decompress(raw).decode()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise KnowledgeBaseError("the generic-name list is corrupt", path=origin,
                                 hint="reinstall pgxguard") from e
    lines = text.splitlines(keepends=True)
    want = next((ln.split(":", 1)[1].strip() for ln in lines
                 if ln.startswith("# content-sha256:")), None)
    body = "".join(ln for ln in lines if not ln.startswith("#") and ln != "name\tgeneric\n")
    if want != hashlib.sha256(body.encode()).hexdigest():
        raise KnowledgeBaseError("the generic-name list does not match its checksum",
                                 path=origin, hint="rebuild it (python -m "
                                 "pgxguard.guidance.names) or reinstall pgxguard")
    return dict(ln.rstrip("\n").split("\t", 1) for ln in body.splitlines(keepends=True))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pgxguard.guidance.names",
                                description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--wheel", type=Path, help=f"a downloaded {NER_WHEEL}")
    p.add_argument("-o", "--output", type=Path, help="where to write (default: the package)")
    args = p.parse_args(argv)
    try:
        path = build(args.wheel, args.output)
    except PgxError as e:
        print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    print(f"wrote {path} ({len(select_names(read_dictionary(args.wheel), guidance_drugs()))} "
          "names)"
          if args.wheel else f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["NAMES_LABEL", "build", "generic_names", "parse", "read_dictionary", "render",
           "select_names"]
