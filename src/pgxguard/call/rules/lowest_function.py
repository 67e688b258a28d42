"""PharmCAT's named-allele rule for the lowest-function genes (DPYD, RYR1).

Their named alleles are single variants, so a strand can carry several of them, and CPIC derives
the phenotype from the lowest-function variants, not from a star-allele pair. PharmCAT
(Gene-Definition-Exceptions.md, "Calling DPYD/RYR1 named alleles") therefore calls them so:

* Phased or effectively phased data (at most one heterozygous block): every variant found on each
  strand is listed; a strand with none is the reference allele, one with several is a
  combination written ``[a + b]`` (NamedAlleleMatcher-201.md). So ``c.61C>T/[c.61C>T + c.313G>A]``.
* Phase sets (FORMAT/PS) that leave blocks in unknown relative orientation: every orientation is
  a possible diplotype; all are reported (ties), as PharmCAT does.
* Other unphased data: no diplotype; the list of variants found, one entry per strand carrying it
  (a homozygous variant twice), ``Reference`` included when at most two matches are listed.

An allele is on a strand when the strand carries every one of its defining variants at the
positions with data. One found allele whose variants are a subset of another found allele's is not
listed (the larger allele explains them). Where an allele extends another by variants no other
allele names (DPYD HapB3 = the intronic c.1129-5923C>G + the exonic c.1236G>A), PharmCAT's HapB3
rule follows: the extended allele's own position decides (the exonic SNP without the intronic one
is not counted, with a warning), and when that position is missing the extension decides (with a
warning); with unphased data the copies are counted the same way.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from pgxguard.alleles import sort_key
from pgxguard.call.rules.base import Draft, GeneContext, RuleResult, RuleWarning
from pgxguard.kb.model import GeneDefinition
from pgxguard.match.matcher import (
    MatchResult,
    accepts,
    allele_known,
    allele_names,
    plain_reference_pairs,
    position_label,
    reference_acceptance,
    reference_pairs,
    reference_sequences,
)
from pgxguard.match.types import SiteCall

# More free phase blocks than this (2^(n-1) orientations) are reported as the unphased list.
MAX_FREE_BLOCKS = 9

Components = tuple[str, ...]  # the named variants on one strand (sorted); () = reference


@dataclass(frozen=True, slots=True)
class LowestFunctionCall:
    """The rule's result: diplotypes (with the components of each strand) or a variant list."""

    diplotypes: tuple[tuple[str, str], ...] = ()
    strands: tuple[tuple[Components, Components], ...] = ()
    variants: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # Heterozygous blocks whose relative phase the data leaves open (1 = phased/effectively).
    free_blocks: int = 0


def is_combination(name: str) -> bool:
    return name.startswith("[") and name.endswith("]")


def combination_members(name: str) -> tuple[str, ...]:
    """`[a + b]` -> ('a', 'b'); a plain name -> (name,)."""
    if is_combination(name):
        return tuple(x.strip() for x in name[1:-1].split(" + "))
    return (name,)


def strand_name(components: Components, reference: str) -> str:
    if not components:
        return reference
    if len(components) == 1:
        return components[0]
    return "[" + " + ".join(components) + "]"


def strand_key(components: Components, reference: str) -> tuple[object, ...]:
    """PharmCAT's order: single alleles (reference first) before combinations, fewer members
    first, then by name (digit runs as numbers)."""
    first = components[0] if components else reference
    return (len(components) > 1, len(components), sort_key(first),
            tuple(sort_key(c) for c in components))


@dataclass(frozen=True, slots=True)
class _Alleles:
    """Per definition: each non-reference allele's defining cells and the extension pairs."""

    own: tuple[tuple[tuple[int, str], ...], ...]  # per allele index: (position, cell)
    by_position: dict[int, tuple[int, ...]]  # position -> alleles with a defining cell there
    # (extended, core): core's cells are a strict subset of extended's, and extended's other
    # cells are named by no other allele (DPYD: HapB3 extends c.1129-5923C>G).
    extensions: tuple[tuple[int, int], ...]


_CACHE: dict[int, tuple[GeneDefinition, _Alleles]] = {}


def _alleles(defn: GeneDefinition) -> _Alleles:
    hit = _CACHE.get(id(defn))
    if hit is not None and hit[0] is defn:
        return hit[1]
    model = _build_alleles(defn)
    _CACHE[id(defn)] = (defn, model)
    return model


def _build_alleles(defn: GeneDefinition) -> _Alleles:
    ref = defn.alleles[0].cells
    own = tuple(tuple((i, c) for i, c in enumerate(a.cells) if c is not None and c != ref[i])
                for a in defn.alleles)
    by_pos: dict[int, list[int]] = {}
    for a in range(1, len(own)):
        for i, _ in own[a]:
            by_pos.setdefault(i, []).append(a)
    sets = [frozenset(x) for x in own]
    ext: list[tuple[int, int]] = []
    for e in range(1, len(own)):
        cores = [c for c in range(1, len(own)) if c != e and sets[c] and sets[c] < sets[e]]
        if len(cores) != 1:
            continue
        extra = sets[e] - sets[cores[0]]
        if not any(cell in sets[o] for o in range(1, len(own)) if o != e for cell in extra):
            ext.append((e, cores[0]))
    return _Alleles(own, {i: tuple(v) for i, v in by_pos.items()}, tuple(ext))


def _normalised(defn: GeneDefinition, sites: Sequence[SiteCall | None],
                available: Iterable[int], varied: Iterable[int]) -> dict[int, SiteCall]:
    """Available diploid genotypes, an allele the definitions do not know read as reference
    (these genes' rule; the matcher has already warned). `varied`: the available positions
    whose genotype is not REF/REF (the others are kept as they are)."""
    out: dict[int, SiteCall] = {i: sites[i] for i in available}  # type: ignore[misc]
    refs = reference_sequences(defn)
    for i in varied:
        s = sites[i]
        assert s is not None
        ref = refs[i]
        al = s.alleles
        if ((len(al) == 2 and (al[0] is None or al[0] == ref) and (al[1] is None or al[1] == ref))
                or (len(al) == 1 and (al[0] is None or al[0] == ref))):
            out[i] = s  # REF is always known: the same genotype
            continue
        alleles = tuple(a if a is None or allele_known(defn, i, a) else ref for a in s.alleles)
        out[i] = SiteCall(alleles, s.phased, s.phase_set)
    return out


def _label(defn: GeneDefinition, idx: Iterable[int]) -> str:
    return ", ".join(position_label(defn, i) for i in sorted(set(idx)))


class _Rule:
    """Working state for one sample: available genotypes and the definition's allele model."""

    def __init__(self, defn: GeneDefinition, calls: dict[int, SiteCall]) -> None:
        self.defn = defn
        self.calls = calls
        self.model = _alleles(defn)
        self.names = allele_names(defn)
        self.warnings: list[str] = []
        # Each allele's defining cells at positions with data; alleles with none are not callable.
        if len(calls) == len(defn.positions):  # every position has data (the usual case)
            self.avail_own = list(self.model.own)
            self.missing_own = [False] * len(self.model.own)
        else:
            avail = set(calls)
            self.avail_own = [tuple(c for c in own if c[0] in avail) for own in self.model.own]
            self.missing_own = [len(a) != len(b) for a, b in zip(self.avail_own, self.model.own,
                                                                 strict=True)]
        # Sequences the reference allele accepts at each position: a strand's sequence is
        # reference when it is one of them.
        self.ref_ok = reference_acceptance(defn)

    # --- which alleles explain a set of found alleles --------------------------------------

    def _reduce(self, found: set[int], subsets: bool = True) -> list[set[int]]:
        """Found alleles minus those another found allele explains (`subsets`); alternatives
        when two are indistinguishable at the positions with data."""
        sets = {a: frozenset(self.avail_own[a]) for a in found}
        keep = {a for a in found
                if not (subsets and any(sets[a] < sets[b] for b in found if b != a))}
        groups: dict[frozenset[tuple[int, str]], list[int]] = {}
        for a in keep:
            groups.setdefault(sets[a], []).append(a)
        choices: list[list[int]] = []
        for members in groups.values():
            full = [a for a in members if not self.missing_own[a]]
            pick = full or members
            if len(members) > 1 and len(pick) < len(members):
                dropped = sorted((self.names[a] for a in members if a not in pick), key=sort_key)
                self.warnings.append(
                    f"{', '.join(dropped)} not called: its other defining position(s) have no "
                    f"data, so it cannot be told from {', '.join(self.names[a] for a in pick)}")
            choices.append(pick)
        return [set(c) for c in itertools.product(*choices)] if choices else [set()]

    def on_strand(self, strand: dict[int, str]) -> list[Components]:
        """The named variants carried by one strand (alternatives only if indistinguishable)."""
        cand: set[int] = set()
        ref_ok = self.ref_ok
        for i, seq in strand.items():
            if seq is None or seq not in ref_ok[i]:
                cand.update(self.model.by_position.get(i, ()))
        found = {a for a in cand if self.avail_own[a]
                 and all(accepts(self.defn, a, i, strand[i]) for i, _ in self.avail_own[a])}
        self._strand_mismatch(strand, found)
        return [tuple(sorted((self.names[a] for a in s), key=sort_key))
                for s in self._reduce(found)]

    # --- the HapB3 rule (extension pairs) -----------------------------------------------

    def extension_warnings(self) -> None:
        for e, core in self.model.extensions:
            core_cells = self.model.own[core]
            extra = [c for c in self.model.own[e] if c not in core_cells]
            core_missing = any(i not in self.calls for i, _ in core_cells)
            extra_present = all(i in self.calls for i, _ in extra)
            if core_missing and extra_present:
                self.warnings.append(
                    f"{self.names[e]} decided by {_label(self.defn, (i for i, _ in extra))} "
                    f"alone: {_label(self.defn, (i for i, _ in core_cells))} has no data; "
                    f"genotype it to confirm {self.names[e]} (PharmCAT's HapB3 rule)")

    def _strand_mismatch(self, strand: dict[int, str], found: set[int]) -> None:
        for e, core in self.model.extensions:
            if e in found:
                continue
            core_cells = self.model.own[core]
            extra = [c for c in self.model.own[e] if c not in core_cells]
            if (all(i in strand for i, _ in core_cells) and extra
                    and all(i in strand and accepts(self.defn, e, i, strand[i]) for i, _ in extra)):
                self._mismatch(e, core, extra)

    def _mismatch(self, e: int, core: int, extra: Sequence[tuple[int, str]]) -> None:
        self.warnings.append(
            f"{_label(self.defn, (i for i, _ in extra))} found without "
            f"{_label(self.defn, (i for i, _ in self.model.own[core]))} on the same strand: not "
            f"counted as {self.names[e]}, which that position decides (PharmCAT's HapB3 rule)")

    # --- unphased: the variant list --------------------------------------------------------

    def copies(self, a: int) -> int:
        """Strands carrying every defining variant of `a` that has data (an upper bound when
        the phase is unknown, as PharmCAT counts)."""
        n = 2
        for i, _cell in self.avail_own[a]:
            n = min(n, sum(1 for x in self.calls[i].alleles
                           if x is not None and accepts(self.defn, a, i, x)))
        return n

    def variant_list(self) -> tuple[str, ...]:
        cand: set[int] = set()
        hom_alt = False
        ref_ok = self.ref_ok
        ref_pairs = plain_reference_pairs(self.defn)
        for i, s in self.calls.items():
            if s.alleles == ref_pairs[i]:
                continue  # REF/REF where the reference allele accepts REF: nothing found here
            ok = ref_ok[i]
            nonref = [x for x in s.alleles if x is None or x not in ok]
            if nonref:
                cand.update(self.model.by_position.get(i, ()))
            if len(nonref) == len(s.alleles):
                hom_alt = True
        count = {a: self.copies(a) for a in cand if self.avail_own[a]}
        count = {a: n for a, n in count.items() if n}
        sets = {a: frozenset(self.avail_own[a]) for a in count}
        found: dict[int, int] = {}
        for a, n in count.items():
            # Copies a larger found allele explains are not counted again (HapB3 vs intronic).
            covered = max((count[b] for b in count if b != a and sets[a] < sets[b]), default=0)
            if n - covered > 0:
                found[a] = n - covered
        for e, core in self.model.extensions:
            core_cells = self.model.own[core]
            extra = [c for c in self.model.own[e] if c not in core_cells]
            if all(i in self.calls for i, _ in (*core_cells, *extra)):
                n_extra = min(sum(1 for x in self.calls[i].alleles
                                  if x is not None and accepts(self.defn, e, i, x))
                              for i, _ in extra)
                if n_extra > self.copies(core):
                    self._mismatch(e, core, extra)
        groups = self._reduce(set(found), subsets=False)  # copies already counted
        if len(groups) > 1:
            self.warnings.append("several named variants cannot be told apart at the positions "
                                 "with data: all are listed")
        listed = set().union(*groups)
        family = {x for pair in self.model.extensions for x in pair}
        family_copies = sum(n for a, n in found.items() if a in listed and a in family)
        others = sum(1 for a in listed if a not in family)
        names: list[str] = []
        for a in listed:
            names += [self.names[a]] * found[a]
        # PharmCAT lists Reference when some strand can carry no named variant and at most two
        # matches are listed in all.
        if not hom_alt and others + 1 + family_copies <= 2:
            names += [self.defn.reference_allele] * (2 if not names else 1)
        return tuple(sorted(names, key=sort_key))


def _blocks(calls: dict[int, SiteCall], varied: Sequence[int]) -> list[list[int]]:
    """Heterozygous sites grouped by known relative phase: one block per phase set (phased GTs
    without PS share one), every unphased heterozygous site its own block. `varied`: the
    positions that can be heterozygous (not REF/REF), in position order."""
    blocks: dict[object, list[int]] = {}
    for i in varied:
        s = calls[i]
        if len(s.alleles) != 2 or s.alleles[0] == s.alleles[1]:
            continue
        key: object = ("ps", s.phase_set) if s.phased else ("u", i)
        blocks.setdefault(key, []).append(i)
    return list(blocks.values())


def _uses_phase_sets(calls: dict[int, SiteCall]) -> bool:
    """PharmCAT reads phase sets when a phased genotype carries FORMAT/PS."""
    ps = {s.phase_set for s in calls.values() if s.phased}
    return bool(ps) and (None not in ps or len(ps) > 1)


def call_lowest_function(defn: GeneDefinition, sites: Sequence[SiteCall | None],
                         m: MatchResult) -> LowestFunctionCall:
    """PharmCAT's DPYD/RYR1 call for one sample (diploid data the matcher could read)."""
    # Positions not REF/REF: the only ones that can change under normalisation or be
    # heterozygous (a large definition's sample is REF/REF almost everywhere).
    pairs = reference_pairs(defn)
    varied = [i for i in m.available if sites[i].alleles != pairs[i]]  # type: ignore[union-attr]
    calls = _normalised(defn, sites, m.available, varied)
    rule = _Rule(defn, calls)
    rule.extension_warnings()
    blocks = _blocks(calls, varied)
    reference = defn.reference_allele
    if len(blocks) > 1 and not _uses_phase_sets(calls):
        return LowestFunctionCall(variants=rule.variant_list(),
                                  warnings=tuple(dict.fromkeys(rule.warnings)),
                                  free_blocks=len(blocks))
    if len(blocks) > MAX_FREE_BLOCKS:
        rule.warnings.append(
            f"{len(blocks)} phase blocks of unknown relative orientation (more than "
            f"{MAX_FREE_BLOCKS}): variants listed as for unphased data")
        return LowestFunctionCall(variants=rule.variant_list(),
                                  warnings=tuple(dict.fromkeys(rule.warnings)),
                                  free_blocks=len(blocks))
    found: dict[tuple[Components, Components], None] = {}
    flips = itertools.product((False, True), repeat=max(len(blocks) - 1, 0))
    for flip in flips:
        flipped = {i for b, f in zip(blocks[1:], flip, strict=True) if f for i in b}
        s0: dict[int, str] = {}
        s1: dict[int, str] = {}
        for i, c in calls.items():
            a0, a1 = c.alleles
            if a0 is None or a1 is None:
                continue
            if i in flipped:
                a0, a1 = a1, a0
            s0[i], s1[i] = a0, a1
        for x in rule.on_strand(s0):
            for y in rule.on_strand(s1):
                pair = tuple(sorted((x, y), key=lambda c: strand_key(c, reference)))
                found[(pair[0], pair[1])] = None
    ordered = sorted(found, key=lambda p: (strand_key(p[0], reference),
                                           strand_key(p[1], reference)))
    return LowestFunctionCall(
        diplotypes=tuple((strand_name(a, reference), strand_name(b, reference))
                         for a, b in ordered),
        strands=tuple(ordered), warnings=tuple(dict.fromkeys(rule.warnings)),
        free_blocks=len(blocks))


def apply(ctx: GeneContext, draft: Draft) -> RuleResult:
    """The rule in the call stage: replaces the matcher's pair-of-alleles result (its no-call
    reason and tie note) for diploid data the matcher could read."""
    m, gene = draft.match, ctx.gene
    if (ctx.defn.rule != "lowest_function" or m is None or m.haploid
            or m.reason_code not in (None, "no_match")):
        return RuleResult(draft)
    lowest = call_lowest_function(ctx.defn, draft.sites, m)
    warnings: list[RuleWarning] = [ctx.warn("lowest_function.rule", w) for w in lowest.warnings]
    diplotypes, variants = lowest.diplotypes, lowest.variants
    if not diplotypes and not variants:  # not expected; never a silent no call
        warnings.append(ctx.warn("lowest_function.empty",
                                 f"no {gene} named variant could be listed: no call"))
    if variants:
        warnings.append(ctx.warn(
            "lowest_function.unphased",
            f"unphased {gene} data ({lowest.free_blocks} heterozygous sites or blocks of unknown "
            "relative phase): no diplotype; the named variants found are listed, a homozygous "
            "one twice"))
    elif diplotypes:
        if any(is_combination(x) for d in diplotypes for x in d):
            warnings.append(ctx.warn(
                "lowest_function.combination",
                f"a {gene} strand carries several named variants: written [a + b] (PharmCAT's "
                "combination notation)"))
        if len(diplotypes) > 1:
            warnings.append(ctx.warn(
                "lowest_function.phase_sets",
                f"{len(diplotypes)} {gene} diplotypes possible: phase blocks (FORMAT/PS) of "
                "unknown relative orientation"))
    new = replace(draft, diplotypes=diplotypes, variants=variants, strands=lowest.strands,
                  free_blocks=lowest.free_blocks, lowest_function=True,
                  rescored=draft.rescored or diplotypes != m.diplotypes)
    return RuleResult(new, tuple(warnings), frozenset({"match.no_call", "match.tie"}))


__all__ = ["MAX_FREE_BLOCKS", "LowestFunctionCall", "apply", "call_lowest_function",
           "combination_members", "is_combination", "strand_key", "strand_name"]
