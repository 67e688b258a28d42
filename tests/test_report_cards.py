"""CDS Hooks 2.0 cards: schema fields, indicator mapping, verbatim detail, deterministic ids."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from typing import Any

from pgxguard.guidance.model import Action, MedicineReview
from pgxguard.report.cards import INDICATOR, cds_cards
from pgxguard.report.view import ACTIONABLE, markdown_escape
from test_report_support import make_review

CARD_KEYS = {"uuid", "summary", "detail", "indicator", "source", "suggestions",
             "selectionBehavior", "overrideReasons", "links"}


def unescape_md(text: str) -> str:
    return re.sub(r"\\([\\`*_{}\[\]<>#+\-!|~])", r"\1", text)


def test_card_schema() -> None:
    cards = cds_cards(make_review())
    assert cards
    for c in cards:
        assert set(c) <= CARD_KEYS
        assert isinstance(c["summary"], str) and 0 < len(c["summary"]) < 140
        assert c["indicator"] in ("info", "warning", "critical")
        assert isinstance(c["source"]["label"], str) and c["source"]["label"]
        uuid.UUID(c["uuid"])
        for link in c.get("links", []):
            assert set(link) >= {"label", "url", "type"} and link["type"] in ("absolute",
                                                                              "smart")
        if "suggestions" in c:
            assert c["selectionBehavior"] in ("at-most-one", "any")
            for s in c["suggestions"]:
                assert s["label"]
                uuid.UUID(s["uuid"])
                for a in s["actions"]:
                    assert a["type"] in ("create", "update", "delete") and a["description"]
    assert len({c["uuid"] for c in cards}) == len(cards)


def test_one_card_per_medicine_with_every_source_and_indicators() -> None:
    review = make_review()
    cards = cds_cards(review)
    expected = [m for m in sorted(review.items, key=lambda m: m.action.priority)
                if m.action in ACTIONABLE]
    rec_cards = [c for c in cards if "result incomplete" not in c["summary"]]
    assert len(rec_cards) == len(expected)
    for c, m in zip(rec_cards, expected, strict=True):
        assert c["indicator"] == INDICATOR[m.action]
        assert c["summary"].startswith(f"{m.drug}: {m.action}")
        detail = unescape_md(c["detail"])
        for r in m.recommendations:  # every source inside the one card, verbatim
            assert r.text in detail
            assert f"{r.source} {r.source_version}" in c["source"]["label"]
        assert "\\*2" in c["detail"]  # allele names are not emphasis
    [clop] = [c for c in rec_cards if c["summary"].startswith("clopidogrel")]
    assert clop["source"]["label"] == "CPIC pypgx 0.27.0; DPWG panno 0.3.1"
    assert "differ" not in clop["summary"] + clop["detail"]  # both say use alternative
    assert INDICATOR[Action.AVOID] == INDICATOR[Action.USE_ALTERNATIVE] == "critical"
    assert INDICATOR[Action.ADJUST_DOSE] == INDICATOR[Action.MONITOR] == "warning"
    summaries = " ".join(c["summary"] for c in cards)
    assert "omeprazole" not in summaries and "paracetamol" not in summaries
    assert "CYP2C19 Poor Metabolizer" in summaries


def test_sources_that_differ_are_stated_and_the_cautious_one_sets_the_indicator() -> None:
    review = make_review()
    clop = review.items[1]
    cpic, dpwg = clop.recommendations
    differ = replace(clop, action=Action.USE_ALTERNATIVE, recommendations=(
        cpic, replace(dpwg, action=Action.ADJUST_DOSE)))
    [card] = cds_cards(replace(review, items=(differ,)))
    assert card["summary"].startswith("clopidogrel: use alternative (CPIC and DPWG differ)")
    assert "CPIC: use alternative; DPWG: adjust dose" in card["detail"]
    assert card["indicator"] == "critical"
    assert card["detail"].count("SYNTHETIC") == 2
    assert [link["label"] for link in card["links"]] == ["CPIC guideline"]


def test_result_incomplete_card_takes_suggestions_from_the_caller() -> None:
    [c] = [c for c in cds_cards(make_review()) if "result incomplete" in c["summary"]]
    assert c["summary"] == "azathioprine: result incomplete for TPMT – see details"
    assert "No result for TPMT." in c["detail"]
    # a gene with a result that cannot be used is not "no result": the messages say why
    item = next(i for i in make_review().items if i.drug == "azathioprine")
    why = "TPMT: signed-off results disagree (result 1 v1: *1/*1; result 2 v1: *1/*3A)"
    [unusable] = cds_cards(replace(make_review(), items=(replace(
        item, basis={"TPMT": "results disagree (unresolved)"}, messages=(why,)),)))
    assert "No result for" not in unusable["detail"]
    assert unusable["detail"].startswith(markdown_escape(why))
    assert c["indicator"] == "warning"
    # no patient, no order: a report's cards carry no ServiceRequest without a subject
    assert "suggestions" not in c and "selectionBehavior" not in c
    seen = []

    def suggest(item: MedicineReview) -> list[dict[str, Any]]:
        seen.append(item.drug)
        return [{"label": "Order", "uuid": str(uuid.uuid4()), "actions": []}]

    [c] = [c for c in cds_cards(make_review(), suggest=suggest)
           if "result incomplete" in c["summary"]]
    assert seen == ["azathioprine"]
    assert c["suggestions"][0]["label"] == "Order" and c["selectionBehavior"] == "at-most-one"


def test_deterministic_and_truncated() -> None:
    assert cds_cards(make_review()) == cds_cards(make_review())
    review = make_review()
    long = replace(review.items[1], drug="x" * 200)
    cards = cds_cards(replace(review, items=(long,)))
    assert all(len(c["summary"]) < 140 and c["summary"].endswith("…") for c in cards)
    other = cds_cards(make_review("S2"))
    assert {c["uuid"] for c in other} == {c["uuid"] for c in cds_cards(make_review())}
