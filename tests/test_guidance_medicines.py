"""Medicines as people write them."""

from __future__ import annotations

import pytest

from pgxguard.errors import UnknownMedicineError
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.medicines import bundled_rows, clean_text, resolve_medicine
from pgxguard.kb.load import load_knowledge_base


def test_every_guidance_and_cpic_drug_resolves_by_generic_name() -> None:
    drugs = set(load_guidance().drugs) | {d.drug.lower() for d in load_knowledge_base().gene_drugs}
    for d in sorted(drugs):
        for q in (d, d.upper(), d.title()):
            m = resolve_medicine(q)
            assert m.components == (d,), q
            assert m.query == q


@pytest.mark.parametrize(("query", "components", "matched_by"), [
    ("Clopidogrel 75mg tablets", ("clopidogrel",), "free text"),
    ("co-codamol 30/500", ("codeine", "paracetamol"), "free text"),
    ("Simvastatin 40 mg", ("simvastatin",), "free text"),
    ("codeine phosphate 30mg", ("codeine",), "free text"),
    ("Plavix", ("clopidogrel",), "brand"),
    ("ZOCOR", ("simvastatin",), "brand"),
    ("Triumeq", ("abacavir", "dolutegravir", "lamivudine"), "combination"),
    ("Solpadeine", ("codeine", "paracetamol", "caffeine"), "combination"),
    ("Advagraf 1mg modified-release capsules", ("tacrolimus",), "free text"),
    ("B01AC04", ("clopidogrel",), "atc"),
    ("32968", ("clopidogrel",), "rxnorm"),
    ("Ventolin", ("salbutamol",), "brand"),
])
def test_resolve(query: str, components: tuple[str, ...], matched_by: str) -> None:
    m = resolve_medicine(query)
    assert m.components == components
    assert m.matched_by == matched_by
    assert m.mapping_source


def test_brand_mapping_carries_source_and_empty_dmd() -> None:
    m = resolve_medicine("Imuran")
    assert m.name == "azathioprine" and m.dmd is None
    assert m.mapping_source is not None and "not dm+d" in m.mapping_source
    assert m.rxnorm and m.atc
    assert all(set(r) == {"name", "kind", "components", "dmd", "source"} for r in bundled_rows())


def test_clean_text() -> None:
    assert clean_text("Clopidogrel 75mg tablets") == "clopidogrel"
    assert clean_text("co-codamol 30/500 effervescent tablets") == "co-codamol"
    assert clean_text("Omeprazole 20 mg gastro-resistant capsules") == "omeprazole"


def test_unknown_medicine_lists_closest() -> None:
    with pytest.raises(UnknownMedicineError) as e:
        resolve_medicine("simvastatn 40mg")
    assert "simvastatin" in str(e.value)
    with pytest.raises(UnknownMedicineError, match="generic name"):
        resolve_medicine("qqqqzzzz")
