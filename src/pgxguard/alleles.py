"""Allele-name ordering: digit runs compare as numbers, `Reference` first (design.md)."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

_RUN = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=1 << 16)
def sort_key(name: str) -> tuple[int, tuple[tuple[int, int | str], ...]]:
    """`*2` < `*10` < `*10.002`; `Reference` sorts before everything else.

    Cached: loading the knowledge base sorts ~50,000 phenotype-table rows over a few hundred
    names (a fifth of one patient's time before)."""
    if name.lower() in ("reference", "ref"):
        return (0, ())
    parts: list[tuple[int, int | str]] = []
    for chunk in _RUN.split(name):
        if not chunk:
            continue
        parts.append((0, int(chunk)) if chunk.isdigit() else (1, chunk.lower()))
    return (1, tuple(parts))


def sort_alleles(names: Iterable[str]) -> list[str]:
    return sorted(names, key=sort_key)


def diplotype_key(a: str, b: str) -> str:
    """Order-independent `A/B` key used by phenotype tables."""
    x, y = sorted((a, b), key=sort_key)
    return f"{x}/{y}"


__all__ = ["diplotype_key", "sort_alleles", "sort_key"]
