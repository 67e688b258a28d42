"""Cohort analytics on small hand-built calls datasets with hand-computed expectations."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pgxguard.call.results import CallResult, GeneCall, SampleCall
from pgxguard.cohort.analysis import analyse, read_samples_info
from pgxguard.errors import InputError
from pgxguard.guidance.review import review

SCHEMA = pa.schema([
    ("sample", pa.string()), ("gene", pa.string()),
    ("diplotypes", pa.list_(pa.list_(pa.string()))), ("diplotype_text", pa.string()),
    ("variants", pa.list_(pa.string())), ("phenotype", pa.string()),
    ("activity_score", pa.float64()), ("n_missing", pa.int32()),
    ("missing_positions", pa.list_(pa.string())), ("not_assessed", pa.list_(pa.string())),
    ("flags", pa.list_(pa.string())), ("warnings", pa.list_(pa.string())),
    ("source", pa.string()),
])


def row(sample: str, gene: str, dips: Sequence[Sequence[str]] = (), phenotype: str | None = None,
        activity: float | None = None, variants: Sequence[str] = (),
        flags: Sequence[str] = ()) -> dict[str, Any]:
    fl = list(flags)
    if not dips and not variants and "no_call" not in fl:
        fl.append("no_call")
    if len(dips) > 1 and "tie" not in fl:
        fl.append("tie")
    return {"sample": sample, "gene": gene, "diplotypes": [list(d) for d in dips],
            "diplotype_text": " | ".join("/".join(d) for d in dips), "variants": list(variants),
            "phenotype": phenotype, "activity_score": activity, "n_missing": 0,
            "missing_positions": [], "not_assessed": [], "flags": fl, "warnings": [],
            "source": "vcf" if dips or variants else "none"}


def write_calls(outdir: Path, rows: Sequence[dict[str, Any]], parts: int = 1) -> None:
    by_gene: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_gene.setdefault(r["gene"], []).append(r)
    for gene, rs in by_gene.items():
        d = outdir / "calls" / f"gene={gene}"
        d.mkdir(parents=True, exist_ok=True)
        for k in range(parts):
            chunk = rs[k::parts]
            pq.write_table(pa.Table.from_pylist(chunk, schema=SCHEMA), d / f"part-{k}.parquet")


def write_info(path: Path, rows: Sequence[tuple[str, str, str, str]], extra: bool = False) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        if extra:
            w.writerow(["sample", "sex", "population", "population_name", "superpopulation",
                        "superpopulation_name"])
            for s, pop, sp, sex in rows:
                w.writerow([s, sex, pop, pop + " name", sp, sp + " name"])
        else:
            w.writerow(["sample", "population", "superpopulation", "sex"])
            w.writerows(rows)
    return path


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def pick(rows: list[dict[str, str]], **kw: str) -> list[dict[str, str]]:
    return [r for r in rows if all(r[k] == v for k, v in kw.items())]


PM = "Poor Metabolizer"
NM = "Normal Metabolizer"
IM = "Intermediate Metabolizer"


@pytest.fixture()
def cohort(tmp_path: Path) -> tuple[Path, Path]:
    """Six samples, CYP2C19 and TPMT.

    CYP2C19: S1 *1/*2 (IM), S2 *2/*2 (PM), S3 *1/*1 (NM), S4 *1/*17 (rapid): four called
    samples -> *1 4/8, *2 3/8, *17 1/8; S5 a tie (*1/*2 | *1/*3), S6 no call. S5 and S6 must not
    add alleles but be counted. AFR = S1, S2, S5; EUR = S3, S4; S6 has no samples-info row
    (group unknown); X9 is in the info only.
    """
    rows = [
        row("S1", "CYP2C19", [["*1", "*2"]], IM, None),
        row("S2", "CYP2C19", [["*2", "*2"]], PM, None),
        row("S3", "CYP2C19", [["*1", "*1"]], NM, None),
        row("S4", "CYP2C19", [["*1", "*17"]], "Rapid Metabolizer", None),
        row("S5", "CYP2C19", [["*1", "*2"], ["*1", "*3"]], IM, None),
        row("S6", "CYP2C19"),
        row("S1", "TPMT", [["*1", "*1"]], NM, 2.0),
        row("S2", "TPMT", [["*1", "*3A"]], IM, 1.0),
        row("S3", "TPMT", [["*1", "*1"]], NM, 2.0),
        row("S4", "TPMT", [["*1", "*1"]], NM, 2.0),
        row("S5", "TPMT", [["*1", "*1"]], NM, 2.0),
        row("S6", "TPMT", [["*1", "*1"]], NM, 2.0),
    ]
    out = tmp_path / "out"
    write_calls(out, rows, parts=2)
    info = write_info(tmp_path / "samples.tsv", [
        ("S1", "YRI", "AFR", "female"), ("S2", "YRI", "AFR", "male"),
        ("S5", "LWK", "AFR", "male"), ("S3", "GBR", "EUR", "female"),
        ("S4", "GBR", "EUR", "male"), ("X9", "GBR", "EUR", "male")], extra=True)
    return out, info


def test_allele_frequencies_hand_computed(cohort: tuple[Path, Path]) -> None:
    out, info = cohort
    s = analyse(out, info, drugs=["clopidogrel", "azathioprine"])
    rows = read_tsv(s.files["allele_frequencies"])
    all_ = {r["allele"]: r for r in pick(rows, gene="CYP2C19", group_level="all")}
    assert set(all_) == {"*1", "*2", "*17"}  # *3 only in a tie: never counted
    assert all_["*1"]["allele_count"] == "4" and all_["*1"]["called_alleles"] == "8"
    assert float(all_["*1"]["frequency"]) == pytest.approx(4 / 8)
    assert float(all_["*2"]["frequency"]) == pytest.approx(3 / 8)
    assert float(all_["*17"]["frequency"]) == pytest.approx(1 / 8)
    r = all_["*1"]
    assert (r["samples_called"], r["samples_tie"], r["samples_no_call"], r["samples"]) == (
        "4", "1", "1", "6")
    afr = {r["allele"]: r for r in pick(rows, gene="CYP2C19", group="AFR")}
    # AFR called: S1 *1/*2, S2 *2/*2 -> *1 1/4, *2 3/4, *17 0/4 (row kept with zero)
    assert afr["*2"]["allele_count"] == "3" and afr["*2"]["called_alleles"] == "4"
    assert afr["*17"]["allele_count"] == "0" and float(afr["*17"]["frequency"]) == 0
    assert (afr["*1"]["samples_tie"], afr["*1"]["samples_no_call"]) == ("1", "0")
    unk = pick(rows, gene="CYP2C19", group_level="superpopulation", group="unknown")
    assert unk and all(r["samples_no_call"] == "1" and r["called_alleles"] == "0"
                       and r["frequency"] == "" for r in unk)
    pops = {r["group"] for r in pick(rows, group_level="population")}
    assert pops == {"YRI", "LWK", "GBR", "unknown"}
    # natural allele order within a group
    assert [r["allele"] for r in pick(rows, gene="CYP2C19", group_level="all")] == [
        "*1", "*2", "*17"]


def test_diplotype_and_phenotype_frequencies(cohort: tuple[Path, Path]) -> None:
    out, info = cohort
    s = analyse(out, info, drugs=["clopidogrel"])
    dips = read_tsv(s.files["diplotype_frequencies"])
    d = {r["diplotype"]: r for r in pick(dips, gene="CYP2C19", group_level="all")}
    assert set(d) == {"*1/*2", "*2/*2", "*1/*1", "*1/*17"}
    assert d["*1/*2"]["count"] == "1" and float(d["*1/*2"]["frequency"]) == pytest.approx(1 / 4)
    assert d["*1/*2"]["samples_tie"] == "1" and d["*1/*2"]["samples_no_call"] == "1"
    ph = read_tsv(s.files["phenotype_frequencies"])
    p = {r["phenotype"]: r for r in pick(ph, gene="CYP2C19", group_level="all")}
    # the tie's diplotypes agree on IM: its phenotype counts; the no-call is its own category
    assert p[IM]["count"] == "2" and p["no call"]["count"] == "1"
    assert sum(float(r["frequency"]) for r in p.values()) == pytest.approx(1.0)
    tp = {r["phenotype"]: r for r in pick(ph, gene="TPMT", group="EUR")}
    assert tp[NM]["count"] == "2" and tp[IM]["count"] == "0"


def test_unknown_samples_reported(cohort: tuple[Path, Path]) -> None:
    out, info = cohort
    s = analyse(out, info, drugs=["clopidogrel"], plots=False)
    assert s.samples_without_info == ("S6",)
    assert s.info_without_calls == ("X9",)
    assert s.n_samples == 6 and s.n_genes == 2
    assert s.groups == {"AFR": 3, "EUR": 2, "unknown": 1}
    sizes = read_tsv(s.files["group_sizes"])
    assert {(r["group"], r["samples"]) for r in pick(sizes, group_level="superpopulation")} == {
        ("AFR", "3"), ("EUR", "2"), ("unknown", "1")}
    assert any("not in the samples info" in w for w in s.warnings)


def test_burden_clopidogrel(cohort: tuple[Path, Path]) -> None:
    out, info = cohort
    s = analyse(out, info, drugs=["clopidogrel"], plots=False)
    rows = read_tsv(s.files["actionable_burden"])
    all_ = pick(rows, drug="clopidogrel", group_level="all")[0]
    # CPIC: PM (S2) and IM (S1; S5's tie agrees on IM) -> "Avoid [standard dose] clopidogrel"
    # (R2); NM (S3) and rapid (S4): "If considering clopidogrel, use at standard dose" (R6)
    # -> standard; S6 has no CYP2C19 result.
    assert all_["samples"] == "6"
    assert all_["genes"] == "CYP2C19"
    assert all_["avoid"] == "3"
    assert all_["standard"] == "2"
    assert all_["result_incomplete"] == "1"
    assert all_["adjust_dose"] == "0"
    assert all_["actionable"] == "3"
    assert float(all_["share_actionable"]) == pytest.approx(3 / 6)
    assert float(all_["share_actionable_with_result"]) == pytest.approx(3 / 5)
    afr = pick(rows, drug="clopidogrel", group="AFR")[0]
    assert (afr["avoid"], afr["standard"], afr["result_incomplete"]) == ("3", "0", "0")
    eur = pick(rows, drug="clopidogrel", group="EUR")[0]
    assert (eur["avoid"], eur["standard"], eur["result_incomplete"]) == ("0", "2", "0")
    unk = pick(rows, drug="clopidogrel", group_level="superpopulation", group="unknown")[0]
    assert unk["result_incomplete"] == "1"


def _person_calls() -> dict[str, tuple[GeneCall, ...]]:
    """Each person's calls of the `cohort` fixture, written out by hand for `review`."""
    return {
        "S1": (GeneCall("CYP2C19", (("*1", "*2"),), phenotype=IM),
               GeneCall("TPMT", (("*1", "*1"),), phenotype=NM, activity_score=2.0)),
        "S2": (GeneCall("CYP2C19", (("*2", "*2"),), phenotype=PM),
               GeneCall("TPMT", (("*1", "*3A"),), phenotype=IM, activity_score=1.0)),
        "S3": (GeneCall("CYP2C19", (("*1", "*1"),), phenotype=NM),
               GeneCall("TPMT", (("*1", "*1"),), phenotype=NM, activity_score=2.0)),
        "S4": (GeneCall("CYP2C19", (("*1", "*17"),), phenotype="Rapid Metabolizer"),
               GeneCall("TPMT", (("*1", "*1"),), phenotype=NM, activity_score=2.0)),
        "S5": (GeneCall("CYP2C19", (("*1", "*2"), ("*1", "*3")), phenotype=IM),
               GeneCall("TPMT", (("*1", "*1"),), phenotype=NM, activity_score=2.0)),
        "S6": (GeneCall("CYP2C19", source="none"),
               GeneCall("TPMT", (("*1", "*1"),), phenotype=NM, activity_score=2.0)),
    }

def test_burden_matches_single_sample_review(cohort: tuple[Path, Path]) -> None:
    """Broadcasting per distinct result gives what `review` gives each person."""
    out, info = cohort
    drugs = ["clopidogrel", "azathioprine", "mercaptopurine", "warfarin", "citalopram"]
    s = analyse(out, info, drugs=drugs, plots=False)
    rows = read_tsv(s.files["actionable_burden"])
    calls = _person_calls()
    cr = CallResult(knowledge_base={}, samples=tuple(
        SampleCall(k, v) for k, v in calls.items()))
    for drug in drugs:
        expected: dict[str, int] = {}
        for name in calls:
            res = review(cr, [drug], sample=name)
            for item in res.items:
                col = {"no PGx guidance": "no_guidance"}.get(
                    str(item.action), str(item.action).replace(" ", "_"))
                expected[col] = expected.get(col, 0) + 1
        got = pick(rows, drug=drug, group_level="all")[0]
        for col, count in expected.items():
            assert got[col] == str(count), (drug, col, got)


def test_phenotype_ambiguous_tie_is_result_incomplete(tmp_path: Path) -> None:
    rows = [row("A", "CYP2C19", [["*1", "*2"], ["*2", "*3"]], None,
                flags=["tie", "phenotype_ambiguous"]),
            row("B", "CYP2C19", [["*2", "*3"]], PM)]
    out = tmp_path / "out"
    write_calls(out, rows)
    info = write_info(tmp_path / "i.tsv", [("A", "GBR", "EUR", "male"),
                                             ("B", "GBR", "EUR", "male")])
    s = analyse(out, info, drugs=["clopidogrel"], plots=False)
    b = pick(read_tsv(s.files["actionable_burden"]), group_level="all")[0]
    assert (b["actionable"], b["result_incomplete"]) == ("1", "1")
    ph = {r["phenotype"]: r["count"] for r in
          pick(read_tsv(s.files["phenotype_frequencies"]), group_level="all")}
    assert ph["ambiguous (tied phenotypes)"] == "1"
    al = pick(read_tsv(s.files["allele_frequencies"]), group_level="all")
    assert {r["allele"]: r["allele_count"] for r in al} == {"*2": "1", "*3": "1"}
    assert al[0]["samples_tie"] == "1"


def test_haploid_and_variant_lists(tmp_path: Path) -> None:
    rows = [row("M", "G6PD", [["B"]], "Normal"), row("F", "G6PD", [["B", "A-"]], "Variable"),
            row("M", "DPYD", [], None, variants=["c.85T>C", "c.1627A>G"]),
            row("F", "DPYD", [["Reference", "Reference"]], NM, 2.0)]
    out = tmp_path / "out"
    write_calls(out, rows)
    info = write_info(tmp_path / "i.tsv", [("M", "GBR", "EUR", "male"),
                                             ("F", "GBR", "EUR", "female")])
    s = analyse(out, info, drugs=["rasburicase"], plots=False)
    al = {r["allele"]: r for r in pick(read_tsv(s.files["allele_frequencies"]), gene="G6PD",
                                       group_level="all")}
    assert al["B"]["allele_count"] == "2" and al["B"]["called_alleles"] == "3"
    dp = pick(read_tsv(s.files["allele_frequencies"]), gene="DPYD", group_level="all")
    assert dp[0]["samples_variants"] == "1" and dp[0]["called_alleles"] == "2"


def test_plots_written(cohort: tuple[Path, Path]) -> None:
    out, info = cohort
    s = analyse(out, info)
    for key in ("phenotype_plot", "burden_plot"):
        data = s.files[key].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    page = s.files["report"].read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # figures inline as SVG with real text (one per main gene present, one for the burden)
    assert page.count("<svg ") == 3 and "<text" in page
    assert "<script" not in page.lower()
    assert 'src="http' not in page and 'href="http' not in page and "<link" not in page
    assert "clopidogrel" in page
    assert s.n_drugs > 50
    # nothing temporary left behind
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_samples_info_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tsv"
    bad.write_text("sample\tpop\nA\tX\n")
    with pytest.raises(InputError, match="lacks column"):
        read_samples_info(bad)
    dup = tmp_path / "dup.tsv"
    dup.write_text("sample\tpopulation\tsuperpopulation\nA\tGBR\tEUR\nB\tGBR\tEUR\nA\tYRI\tAFR\n")
    with pytest.raises(InputError, match="more than once") as e:
        read_samples_info(dup)
    assert e.value.line == 4
    with pytest.raises(InputError, match="not found"):
        read_samples_info(tmp_path / "nope.tsv")
    blank = tmp_path / "blank.tsv"
    blank.write_text("sample\tpopulation\tsuperpopulation\tsex\nA\t\tEUR\t\n")
    info = read_samples_info(blank)
    assert info.row(0) == ("A", "unknown", "EUR", "unknown")


def test_no_calls_dataset(tmp_path: Path) -> None:
    info = write_info(tmp_path / "i.tsv", [("A", "GBR", "EUR", "male")])
    with pytest.raises(InputError, match="calls"):
        analyse(tmp_path / "empty", info)


# --- headline categories (issue 14: "monitor" is not "actionable") ------------------------------

# From the definition, not from the code: a recommendation to avoid, use an alternative
# or change the dose.
ACTIONABLE_SPEC = {"avoid", "use alternative", "adjust dose"}


def test_every_action_has_exactly_one_category() -> None:
    from pgxguard.cohort.analysis import ACTION_COLUMNS, Category, category_of
    from pgxguard.guidance.model import Action

    members = set(Action.__members__.values())  # aliases included
    cats = {a: category_of(a) for a in members}
    assert all(isinstance(c, Category) for c in cats.values())
    assert {str(a) for a, c in cats.items() if c is Category.ACTIONABLE} == ACTIONABLE_SPEC
    assert cats[Action.MONITOR] is Category.MONITOR
    assert cats[Action.RESULT_INCOMPLETE] is Category.RESULT_INCOMPLETE
    # monitor and result incomplete are categories of their own: nothing else falls in them
    assert [a for a in members if cats[a] is Category.MONITOR] == [Action.MONITOR]
    assert [a for a in members if cats[a] is Category.RESULT_INCOMPLETE] == [
        Action.RESULT_INCOMPLETE]
    # the "no result"-like actions are never standard (never more reassuring than the data)
    assert cats[Action.NO_RECOMMENDATION] is not Category.STANDARD
    assert cats[Action.NO_GUIDANCE] is not Category.STANDARD
    assert {c for c in cats.values()} == set(Category)  # no empty category
    # one burden column per action, each action once
    assert sorted(a for a, _c in ACTION_COLUMNS) == sorted(members)
    assert len({c for _a, c in ACTION_COLUMNS}) == len(ACTION_COLUMNS)


def test_burden_categories_match_review(cohort: tuple[Path, Path]) -> None:
    """Category counts and shares equal what `review` gives each person, mapped by the
    issue's definition; monitor and result incomplete are never in `actionable`."""
    out, info = cohort
    drugs = ["azathioprine", "citalopram", "clopidogrel", "voriconazole"]
    s = analyse(out, info, drugs=drugs, plots=False)
    rows = read_tsv(s.files["actionable_burden"])
    calls = _person_calls()
    cr = CallResult(knowledge_base={}, samples=tuple(SampleCall(k, v) for k, v in calls.items()))
    seen_monitor = False
    for drug in drugs:
        actions = [str(review(cr, [drug], sample=name).items[0].action) for name in calls]
        want = {"actionable": sum(a in ACTIONABLE_SPEC for a in actions),
                "monitor": actions.count("monitor"),
                "result_incomplete": actions.count("result incomplete")}
        seen_monitor |= want["monitor"] > 0
        got = pick(rows, drug=drug, group_level="all")[0]
        assert {k: int(got[k]) for k in want} == want, (drug, actions)
        for k, v in want.items():
            assert float(got[f"share_{k}"]) == pytest.approx(v / 6)
    assert seen_monitor  # the check above really covered monitor


def test_report_defines_categories_and_headline(cohort: tuple[Path, Path]) -> None:
    out, info = cohort
    s = analyse(out, info, drugs=["azathioprine", "clopidogrel"])
    page = s.files["report"].read_text()
    from pgxguard.cohort.analysis import Category

    for c in Category:
        assert f"<dt>{c.value}</dt>" in page
    # clopidogrel: 3 of 6 avoid (see test_burden_clopidogrel) -> the headline's first drug
    assert "dose): clopidogrel 50.0 %" in page
    for head in ("actionable (all)", "monitor (all)", "result incomplete (all)"):
        assert f"<th>{head}</th>" in page
