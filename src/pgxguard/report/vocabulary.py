"""The patient summary's fixed vocabulary: one reviewed plain-English sentence per action class
(and per gene where the gene changes what the class means for a patient).

The sentences live in `data/patient-vocabulary.tsv`, not in code or templates, so the wording is
reviewed as data and the leaflet can never say anything about a medicine that is not in it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from pgxguard.errors import KnowledgeBaseError
from pgxguard.guidance.model import Action

VOCABULARY_FILE = "patient-vocabulary.tsv"
ANY_GENE = "*"


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """Sentences keyed by (action class, gene or '*'), and the file's version."""

    version: str
    sentences: dict[tuple[Action, str], str]

    def sentence(self, action: Action, genes: Iterable[str] = ()) -> str:
        """The gene's sentence for this class when the file has one, else the class's."""
        for g in genes:
            hit = self.sentences.get((action, g))
            if hit is not None:
                return hit
        return self.sentences[(action, ANY_GENE)]


def parse_vocabulary(text: str, path: str = VOCABULARY_FILE) -> Vocabulary:
    """Read the TSV (comment lines '# ...', '# version: N', then `action  gene  sentence`).
    Every action class needs a '*' row, so no medicine is ever left without a sentence."""
    version = ""
    rows: list[str] = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            if key.strip() == "version":
                version = value.strip()
        elif line.strip():
            rows.append(line)
    reader = csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header != ["action", "gene", "sentence"]:
        raise KnowledgeBaseError(f"unexpected header {header!r}", path=path,
                                 hint="the first row must be: action, gene, sentence (tabs)")
    out: dict[tuple[Action, str], str] = {}
    for n, r in enumerate(reader, start=2):
        if len(r) != 3 or not r[2].strip():
            raise KnowledgeBaseError(f"row {n} needs 3 tab-separated fields", path=path,
                                     hint="action<TAB>gene or *<TAB>sentence")
        try:
            action = Action(r[0].strip())
        except ValueError:
            raise KnowledgeBaseError(
                f"row {n}: unknown action class {r[0]!r}", path=path,
                hint="use one of: " + ", ".join(a.value for a in Action)) from None
        entry = (action, r[1].strip())
        if entry in out:
            raise KnowledgeBaseError(f"row {n}: {r[0]} / {r[1]} is listed twice", path=path,
                                     hint="keep one sentence per action class and gene")
        out[entry] = r[2].strip()
    missing = [a.value for a in Action if (a, ANY_GENE) not in out]
    if missing:
        raise KnowledgeBaseError(f"no '*' sentence for {', '.join(missing)}", path=path,
                                 hint="every action class needs a sentence for any gene ('*')")
    return Vocabulary(version=version, sentences=out)


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """The packaged vocabulary."""
    text = resources.files("pgxguard.report").joinpath("data", VOCABULARY_FILE).read_text(
        encoding="utf-8")
    return parse_vocabulary(text)


__all__ = ["ANY_GENE", "VOCABULARY_FILE", "Vocabulary", "parse_vocabulary", "vocabulary"]
