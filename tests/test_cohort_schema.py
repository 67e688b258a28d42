"""The cohort Parquet row: one registry (`schema.COLUMNS`) holds every `GeneCall` field."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pgxguard.call.results import GeneCall
from pgxguard.cohort.engine import calls_table
from pgxguard.cohort.schema import CALL_FIELDS, CALLS_SCHEMA, COLUMNS, read_calls, row_call

# A call with every field away from its default (values chosen by hand, not by the program).
FULL = GeneCall(
    gene="NAT2", diplotypes=(("*4", "*5"), ("*4", "*6")), variants=("c.1A>G", "c.1A>G"),
    phenotype=None, activity_score=1.5, missing_positions=("chr8:18400285 C>T (rs1799929)",),
    warnings=("w1", "w2"), source="outside", phased=True, score=7,
    not_assessed=("*99",), phenotypes=("Intermediate Acetylator", None), copy_number=3,
    alternatives=(("*5", "*12"),), lookup_key="≥4.0",
    origin={"caller": "Aldy", "version": "4.6", "line": "12"})


def test_registry_holds_every_gene_call_field() -> None:
    fields = [f.name for f in dataclasses.fields(GeneCall)]
    assert sorted(CALL_FIELDS) == sorted(fields)
    assert [c.name for c in COLUMNS] == CALLS_SCHEMA.names
    assert len(set(CALLS_SCHEMA.names)) == len(CALLS_SCHEMA.names)


def test_full_gene_call_survives_parquet(tmp_path: Path) -> None:
    every_default = GeneCall(gene="NAT2")
    assert all(getattr(FULL, f.name) != getattr(every_default, f.name)
               for f in dataclasses.fields(GeneCall) if f.name not in ("gene", "phenotype"))
    calls = [FULL, every_default, dataclasses.replace(FULL, phenotype="Poor Metabolizer",
                                                      phenotypes=(), origin=None)]
    table = calls_table("NAT2", ["a", "b", "c", "d"], np.array([0, 1, 2, 0]), calls,
                        [["tie"], ["no_call"], []])
    part = tmp_path / "calls" / "gene=NAT2" / "part-0.parquet"
    part.parent.mkdir(parents=True)
    pq.write_table(table, part)
    rows = read_calls(tmp_path).to_pylist()
    assert [r["sample"] for r in rows] == ["a", "b", "c", "d"]
    assert [row_call(r) for r in rows] == [calls[0], calls[1], calls[2], calls[0]]
    assert rows[0]["diplotype_text"] == "*4/*5 | *4/*6" and rows[0]["n_missing"] == 1
    assert rows[1]["flags"] == ["no_call"]


def test_row_of_an_older_file_takes_defaults() -> None:
    """A row without the columns added later (phased, score, ...) reads as GeneCall's defaults."""
    old = {"sample": "a", "gene": "TPMT", "diplotypes": [["*1", "*3A"]], "variants": [],
           "phenotype": "Intermediate Metabolizer", "activity_score": None, "lookup_key": None,
           "missing_positions": [], "not_assessed": [], "warnings": [], "source": "vcf",
           "copy_number": None}
    assert row_call(old) == GeneCall("TPMT", (("*1", "*3A"),),
                                     phenotype="Intermediate Metabolizer")


def test_analysis_burden_reads_whole_calls(tmp_path: Path) -> None:
    """The burden table counts, per person, the action `review` gives that person's whole calls
    (read back from the rows), including ties whose phenotypes partly agree and a gene without a
    phenotype table (CYP4F2) called as a tie."""
    from pgxguard.call.results import CallResult, SampleCall
    from pgxguard.cohort.analysis import analyse
    from pgxguard.guidance.review import review

    im, pm, nm = "Intermediate Metabolizer", "Poor Metabolizer", "Normal Metabolizer"
    people: dict[str, dict[str, GeneCall]] = {
        "A": {"CYP2C19": GeneCall("CYP2C19", (("*1", "*2"), ("*2", "*3")),
                                  phenotypes=(im, pm)),
              "CYP4F2": GeneCall("CYP4F2", (("*1", "*3"), ("*3", "*4")))},
        "B": {"CYP2C19": GeneCall("CYP2C19", (("*2", "*3"),), phenotype=pm, lookup_key=pm),
              "CYP4F2": GeneCall("CYP4F2", (("*1", "*1"),))},
        "C": {"CYP2C19": GeneCall("CYP2C19", (("*1", "*2"), ("*1", "*38")),
                                  phenotypes=(im, None)),
              "CYP4F2": GeneCall("CYP4F2", (("*1", "*3"),))},
        "D": {"CYP2C19": GeneCall("CYP2C19", (("*1", "*1"),), phenotype=nm, lookup_key=nm),
              "CYP4F2": GeneCall("CYP4F2", source="none")},
    }
    names = list(people)
    for gene in ("CYP2C19", "CYP4F2"):
        calls = [people[s][gene] for s in names]
        table = calls_table(gene, names, np.arange(len(names)), calls, [[] for _ in names])
        part = tmp_path / "out" / "calls" / f"gene={gene}" / "part-0.parquet"
        part.parent.mkdir(parents=True)
        pq.write_table(table, part)
    info = tmp_path / "samples.tsv"
    info.write_text("sample\tpopulation\tsuperpopulation\n"
                    + "".join(f"{s}\tGBR\tEUR\n" for s in names))
    drugs = ["clopidogrel", "warfarin"]
    s = analyse(tmp_path / "out", info, drugs=drugs, plots=False)
    with s.files["actionable_burden"].open() as fh:
        burden = [r for r in csv.DictReader(fh, delimiter="\t") if r["group_level"] == "all"]
    cr = CallResult(knowledge_base={}, samples=tuple(
        SampleCall(p, tuple(people[p].values())) for p in names))
    for drug in drugs:
        expected: dict[str, int] = {}
        for p in names:
            for item in review(cr, [drug], sample=p).items:
                col = {"no PGx guidance": "no_guidance"}.get(
                    str(item.action), str(item.action).replace(" ", "_"))
                expected[col] = expected.get(col, 0) + 1
        (got,) = [r for r in burden if r["drug"] == drug]
        assert {c: int(got[c]) for c in expected} == expected, drug
