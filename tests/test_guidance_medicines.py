"""Medicines as people write them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgxguard.errors import UnknownMedicineError
from pgxguard.guidance.load import load_guidance
from pgxguard.guidance.medicines import bundled_rows, clean_text, resolve_medicine
from pgxguard.kb.load import load_knowledge_base
from pinned_sources import pinned


def test_every_guidance_and_cpic_drug_resolves_by_generic_name() -> None:
    """Each resolves to itself; a CPIC-table name without guidance that names a drug with
    guidance inside it ('aripiprazole lauroxil') also gets that drug (over-alerting)."""
    with_guidance = set(load_guidance().drugs)
    drugs = with_guidance | {d.drug.lower() for d in load_knowledge_base().gene_drugs}
    for d in sorted(drugs):
        for q in (d, d.upper(), d.title()):
            m = resolve_medicine(q)
            assert m.components[-1] == d, q
            extra = set(m.components[:-1])
            assert d not in with_guidance or not extra
            assert all(x in with_guidance and f" {x} " in f" {d} " for x in extra), (q, extra)
            assert m.query == q
    assert resolve_medicine("aripiprazole lauroxil").components == (
        "aripiprazole", "aripiprazole lauroxil")


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


# --- medicines without PGx guidance (the generic-name list) ------------------------------------


def test_common_medicines_without_guidance_resolve() -> None:
    """A GP's list is mostly medicines without PGx guidance: they resolve (to review as "no PGx
    guidance") instead of stopping the review as unknown."""
    gkb = load_guidance()
    for q in ("amoxicillin", "Amoxicillin 500mg capsules", "lisinopril", "ramipril 5mg capsules",
              "doxycycline"):
        m = resolve_medicine(q)
        assert m.matched_by == "generic list" and m.mapping_source
        assert "drug-named-entity-recognition 2.0.9" in m.mapping_source
        assert not any(gkb.for_drug(c) for c in m.components), q


@pytest.mark.slow  # every generic name against the guidance: ~2 minutes on 2 loaded cores
def test_generic_list_never_hides_a_pgx_drug() -> None:
    """Every name of the list whose generic name is, or contains as whole words, a drug with
    guidance resolves with that drug among its components (or is refused, for co- products)."""
    from pgxguard.guidance.medicines import default_index
    from pgxguard.guidance.names import generic_names

    gkb = load_guidance()
    idx = default_index()
    pgx = sorted(gkb.drugs)

    def words(t: str) -> str:
        return " " + " ".join("".join(ch if ch.isalpha() else " " for ch in t).split()) + " "

    checked = 0
    for name, generic in generic_names().items():
        inside = [d for d in pgx if words(d) in words(generic)]
        if not inside:
            continue
        checked += 1
        try:
            m = idx.resolve(name, suggest=False)
        except UnknownMedicineError:
            assert generic.startswith("co-"), name
            continue
        assert set(inside) & set(m.components), (name, generic, m.components)
    assert checked > 100


def test_combination_named_in_the_list_keeps_its_pgx_component() -> None:
    m = resolve_medicine("acetaminophen and codeine")
    assert "codeine" in m.components


def test_unlisted_co_product_is_refused_with_a_hint() -> None:
    with pytest.raises(UnknownMedicineError, match="give its ingredients"):
        resolve_medicine("co-trimoxazole 480mg tablets")


def test_name_selection_and_safe_unpickling(tmp_path: Path) -> None:
    import bz2
    import pickle
    import zipfile

    from pgxguard.errors import KnowledgeBaseError
    from pgxguard.guidance import names

    data = {"drug_variant_to_canonical": {"foo": ["foo"], "foox": ["foo"], "brandy": ["foo"],
                                         "bar2": ["bar2"]},
            "drug_canonical_to_data": {"foo": {}, "bar2": {}},
            "drug_variant_to_variant_data": {"foox": {"is_brand": False},
                                             "brandy": {"is_brand": True}}}
    assert names.select_names(data) == {"foo": "foo", "foox": "foo"}
    # a pickle that names anything but plain containers is refused
    evil = bz2.compress(pickle.dumps(Path("x")))
    wheel = tmp_path / "w.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(names.NER_MEMBER, evil)
    with pytest.raises(pickle.UnpicklingError):
        names._PlainUnpickler(__import__("io").BytesIO(bz2.decompress(evil))).load()
    with pytest.raises(KnowledgeBaseError, match="differs from the pinned"):
        names.read_dictionary(wheel)


def test_name_list_checksum_is_checked() -> None:
    import gzip

    from pgxguard.errors import KnowledgeBaseError
    from pgxguard.guidance import names

    raw = names.render({"foo": "foo"}, "0" * 64)
    assert names.parse(raw, "x") == {"foo": "foo"}
    text = gzip.decompress(raw).decode().replace("foo\tfoo", "foo\tbar")
    with pytest.raises(KnowledgeBaseError, match="checksum"):
        names.parse(gzip.compress(text.encode()), "x")


NER_WHEEL = pinned("drug_named_entity_recognition-2.0.9-py3-none-any.whl")


@pytest.mark.skipif(not NER_WHEEL.is_file(),
                    reason=f"pinned wheel not in {NER_WHEEL.parent} (make sources)")
def test_name_list_rebuild_is_byte_identical(tmp_path: Path) -> None:
    from pgxguard.guidance import names

    out = names.build(NER_WHEEL, tmp_path / "n.tsv.gz")
    bundled = Path(names.__file__).parent / "data" / names.NAMES_FILE
    assert out.read_bytes() == bundled.read_bytes()
