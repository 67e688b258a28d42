"""Variant normalisation: one representation for VCF records and definitions before comparing.

Every (POS, REF, ALT) is trimmed to its parsimonious form (common suffix, then common prefix,
keeping one anchor base for indels as VCF does) and left-shifted as far as the reference bases
known *in the record itself* allow. Without a reference genome a record whose REF does not span a
repeat cannot be shifted further; the knowledge base's synonym table covers known alternative
spellings, and docs/semantics.md tells labs to `bcftools norm -f` their VCFs for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Variant:
    pos: int
    ref: str
    alt: str


def normalise(pos: int, ref: str, alt: str) -> Variant:
    ref = ref.upper()
    alt = alt.upper()
    if ref == alt:
        return Variant(pos, ref, alt)
    # Trim the common suffix, keeping at least one base on each side.
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    # Trim the common prefix, keeping at least one base on each side.
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
        pos += 1
    return Variant(pos, ref, alt)


def expand_to(v: Variant, pos: int, span_ref: str) -> str | None:
    """Re-express `v`'s ALT over the reference span [pos, pos+len(span_ref)), if `v` lies inside.

    Returns None when `v` does not fit inside the span or its REF disagrees with the span.
    """
    offset = v.pos - pos
    if offset < 0 or offset + len(v.ref) > len(span_ref):
        return None
    if span_ref[offset:offset + len(v.ref)] != v.ref:
        return None
    return span_ref[:offset] + v.alt + span_ref[offset + len(v.ref):]


__all__ = ["Variant", "expand_to", "normalise"]
