"""CDS Hooks 2.0 cards: schema fields, indicator mapping, verbatim detail, deterministic ids."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace

from pgxguard.guidance.model import Action
from pgxguard.report.cards import INDICATOR, cds_cards
from pgxguard.report.view import ACTIONABLE
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


def test_one_card_per_actionable_recommendation_and_indicators() -> None:
    review = make_review()
    cards = cds_cards(review)
    expected = [(m, r) for m in sorted(review.items, key=lambda m: m.action.priority)
                if m.action in ACTIONABLE for r in m.recommendations]
    rec_cards = [c for c in cards if "suggestions" not in c]
    assert len(rec_cards) == len(expected)
    for c, (m, r) in zip(rec_cards, expected, strict=True):
        assert c["indicator"] == INDICATOR[r.action]
        assert c["summary"].startswith(f"{m.drug}: {r.action}")
        assert unescape_md(c["detail"]).startswith(r.text)  # verbatim, Markdown-escaped
        assert "\\*2" in c["detail"]  # allele names are not emphasis
        assert c["source"]["label"] == f"{r.source} {r.source_version}"
        assert c["source"]["label"].split()[0] in ("CPIC", "DPWG")
        if r.guideline_url:
            assert c["source"]["url"] == r.guideline_url
    assert INDICATOR[Action.AVOID] == INDICATOR[Action.USE_ALTERNATIVE] == "critical"
    assert INDICATOR[Action.ADJUST_DOSE] == INDICATOR[Action.MONITOR] == "warning"
    summaries = " ".join(c["summary"] for c in cards)
    assert "omeprazole" not in summaries and "paracetamol" not in summaries
    assert "CYP2C19 Poor Metabolizer" in summaries


def test_result_missing_card_suggests_a_test() -> None:
    cards = [c for c in cds_cards(make_review()) if "suggestions" in c]
    assert len(cards) == 1
    c = cards[0]
    assert c["summary"] == "azathioprine: result incomplete for TPMT – see details"
    assert "No result for TPMT." in c["detail"]
    assert c["indicator"] == "warning"
    action = c["suggestions"][0]["actions"][0]
    assert action["type"] == "create"
    assert action["resource"]["resourceType"] == "ServiceRequest"
    assert "TPMT" in action["resource"]["code"]["text"]


def test_deterministic_and_truncated() -> None:
    assert cds_cards(make_review()) == cds_cards(make_review())
    review = make_review()
    long = replace(review.items[1], drug="x" * 200)
    cards = cds_cards(replace(review, items=(long,)))
    assert all(len(c["summary"]) < 140 and c["summary"].endswith("…") for c in cards)
    other = cds_cards(make_review("S2"))
    assert {c["uuid"] for c in other} == {c["uuid"] for c in cds_cards(make_review())}
