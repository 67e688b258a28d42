"""Shared fixtures: the knowledge base, a temporary-VCF helper and the 1000 Genomes data."""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Make the helper modules in tests/ (vcfbuilder, reference_matcher) importable everywhere.
_TESTS = Path(__file__).resolve().parent
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

from browser_support import browser  # noqa: E402,F401  (fixture for the browser tests)
from pinned_sources import SOURCES_DIR  # noqa: E402
from vcfbuilder import VcfBuilder  # noqa: E402

# The 1000 Genomes data: $PGXGUARD_1KGP_DIR, else ../shared/data/1kgp beside the checkout
# (tests using it skip cleanly when it is absent).
KGP_DIR = Path(os.environ.get("PGXGUARD_1KGP_DIR")
               or Path(__file__).resolve().parents[2] / "shared" / "data" / "1kgp")


@pytest.fixture(scope="session")
def kb():  # type: ignore[no-untyped-def]
    """The packaged knowledge base, loaded once per session."""
    from pgxguard.kb.load import load_knowledge_base

    return load_knowledge_base()


@pytest.fixture
def tmp_vcf(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """`tmp_vcf(builder_or_text, compress=False, index=False, name=None) -> Path`.

    Writes a `VcfBuilder` (or raw VCF text) to a fresh file under `tmp_path`.
    """
    counter = itertools.count()

    def write(source: VcfBuilder | str, compress: bool | str = False, index: bool = False,
              name: str | None = None) -> Path:
        n = next(counter)
        if compress is True:
            compress = "bgzip"
        suffix = ".vcf.gz" if compress else ".vcf"
        path = tmp_path / (name or f"input{n}{suffix}")
        if isinstance(source, VcfBuilder):
            return source.write(path, compress=compress or False, index=index)
        if compress:
            raise ValueError("raw VCF text is written uncompressed")
        path.write_text(source)
        return path

    yield write


@pytest.fixture(scope="session")
def migrated_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The service tests' databases, migrated once per run (`service_db.MigratedDatabases`)."""
    from service_db import MigratedDatabases

    dbs = MigratedDatabases(tmp_path_factory.mktemp("migrated"))
    yield dbs
    dbs.close()


@pytest.fixture(scope="session")
def sources_dir() -> Path:
    """The pinned upstream packages (`$PGXGUARD_SOURCES`, default /tmp/dl; `make sources`)."""
    return SOURCES_DIR


@pytest.fixture(scope="session")
def kgp_dir() -> Path:
    """`../shared/data/1kgp` next to the repository; the test is skipped when it is absent."""
    if not KGP_DIR.is_dir():
        pytest.skip(f"1000 Genomes data not found at {KGP_DIR}")
    return KGP_DIR
