"""The demo's outputs equal the golden files (regenerate with `make golden`; see golden.py)."""

from __future__ import annotations

import json

import pytest

from golden import GOLDEN, normalise, produce, text_of


@pytest.fixture(scope="module")
def produced() -> dict[str, object]:
    return produce()


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_demo_output_equals_golden(name: str, produced: dict[str, object]) -> None:
    path = GOLDEN[name]
    assert path.is_file(), f"{path} missing: run `make golden`"
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert produced[name] == expected, (
        f"the demo's {name} output changed; if intended, run `make golden` and review the diff")
    assert text_of(produced[name]) == path.read_text(encoding="utf-8")


def test_normalise_touches_only_volatile_fields() -> None:
    doc = {"tool": {"name": "pgxguard", "version": "9.9"}, "input": {"path": "/a/b/x.vcf",
           "samples": 2}, "options": {"outside_calls": ["/c/d.tsv"], "genes": ["TPMT"]},
           "calls": {"tool": {"name": "pgxguard", "version": "9.9"}}}
    assert normalise(doc) == {
        "tool": {"name": "pgxguard", "version": "<version>"},
        "input": {"path": "x.vcf", "samples": 2},
        "options": {"outside_calls": ["d.tsv"], "genes": ["TPMT"]},
        "calls": {"tool": {"name": "pgxguard", "version": "<version>"}}}
