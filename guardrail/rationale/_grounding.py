"""Grounding a phrase to the action it describes: "pull up the billing record" -> ``billing.get_customer``.

Each action's vocabulary is the parts of its name and aliases (weight 2) and the content words of its description
(weight 1), stemmed, with equivalent verbs folded to one word (look up / search / find / check). A phrase grounds
to the action whose vocabulary its content words match best, each word weighted by how few actions share it; a tie,
or a weak match, grounds to nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from guardrail.actions import ActionSpace, Token, name_parts

__all__ = ["Grounding", "ground", "stem"]

# Equivalent words, folded to the first of each row. Verbs first: an agent says "pull up" for a tool named get_*.
_EQUIVALENT_ROWS = (
    "search find look lookup seek query grep locate hunt check",
    "get fetch retrieve pull read load obtain grab view see inspect review examine display access download show",
    "send notify reply forward ping contact dm",
    "ask clarify confirm inquire",
    "create make file add generate draft new",
    "delete remove erase purge destroy",
    "update edit modify change set patch amend adjust alter",
    "run execute exec invoke launch trigger perform",
    "restart reboot bounce recycle relaunch",
    "escalate handoff transfer",
    "schedule book reserve invite arrange",
    "refund reimburse repay",
    "summarize summarise summary recap digest",
    "calculate compute calculator math arithmetic",
    "navigate visit goto",
    "backup back",
    "write save store persist",
    "doc docs documentation manual",
    "ticket issue case",
    "log logs",
)
_EQUIVALENT = {word: row.split()[0] for row in _EQUIVALENT_ROWS for word in row.split()}

_STOP = frozenset(
    "a an the this that these those it its it's i i'm i'll i've we we'll let me us our my you your he she "
    "they them their to of for with on in at by from into onto about as and or but so if then than is are "
    "was were be been being am do does did done have has had will would shall should can could may might "
    "must need needs want wants going gonna go use using call calling tool tools function step next first "
    "now just also again here there what which who whom whose why how when where up out off over any some "
    "all each every no not more most very really still only please okay ok yes sure well right thing "
    "things way something anything one ll re ve d s t".split()
)


def stem(word: str) -> str:
    """A crude, stable stem: plurals, -ing/-ed/-er endings and a final e off ("updates", "updated" -> "updat")."""
    for _ in range(2):  # "filtered" -> "filter" -> "filt", as "filter" -> "filt"
        stripped = _strip_suffix(word)
        if stripped == word:
            break
        word = stripped
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _strip_suffix(word: str) -> str:
    if len(word) > 4 and word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith(("sses", "ches", "shes", "xes", "zes")):
        return word[:-2]
    if (len(word) > 5 and word.endswith("ing")) or (len(word) > 4 and word.endswith("ed")):
        word = word[:-3] if word.endswith("ing") else word[:-2]
        return word[:-1] if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz" else word
    if len(word) > 5 and word.endswith("er"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@functools.lru_cache(maxsize=1 << 16)
def _concept(word: str) -> str | None:
    """The folded stem of a content word, or None for a function word or a number."""
    if word in _STOP or word.isdigit() or len(word) < 2:
        return None
    folded = _EQUIVALENT.get(word)
    if folded is not None:
        return folded
    stemmed = stem(word)
    return _EQUIVALENT.get(stemmed, stemmed)


@dataclass(frozen=True, slots=True)
class Grounding:
    """A phrase grounded to ``action``: its matched words run from token ``first`` to token ``last``."""

    action: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class _Vocabulary:
    postings: dict[str, dict[str, float]]  # concept -> action -> weight (2 name part, 1 description word)
    document_frequency: dict[str, int]
    name_concepts: dict[str, frozenset[str]]  # action -> the folded parts of its name


@functools.lru_cache(maxsize=256)
def _vocabulary(space: ActionSpace) -> _Vocabulary:
    postings: dict[str, dict[str, float]] = {}

    def add(action: str, words: Sequence[str], weight: float) -> None:
        for word in words:
            concept = _concept(word)
            if concept is not None:
                row = postings.setdefault(concept, {})
                row[action] = max(row.get(action, 0.0), weight)

    for name in space.names:
        add(name, name_parts(name), 2.0)
    for alias, action in space.aliases.items():
        add(action, name_parts(alias), 2.0)
    for action, description in space.descriptions.items():
        add(action, name_parts(description), 1.0)
    names = {name: frozenset(c for c in map(_concept, name_parts(name)) if c is not None) for name in space.names}
    return _Vocabulary(postings, {concept: len(row) for concept, row in postings.items()}, names)


COVERAGE_BONUS = 2.0
"""Added when a phrase holds every part of an action's name, in any order ("post to the status page")."""

MIN_SCORE = 1.5
"""A phrase must match at least one distinctive name part, or two distinctive description words."""


def ground(tokens: Sequence[Token], space: ActionSpace) -> Grounding | None:
    """The action that the words of one clause describe, or None when none fits well or two fit alike."""
    vocabulary = _vocabulary(space)
    common = max(2, len(space) // 4)  # a word a quarter of the actions share tells them apart from nothing
    scores: dict[str, float] = {}
    seen: set[tuple[str, str]] = set()
    where: dict[str, list[int]] = {}
    for index, token in enumerate(tokens):
        concept = _concept(token.word)
        if concept is None or concept not in vocabulary.postings:
            continue
        frequency = vocabulary.document_frequency[concept]
        for action, weight in vocabulary.postings[concept].items():
            where.setdefault(action, []).append(index)  # shared words still belong to the phrase
            if frequency <= common and (concept, action) not in seen:
                seen.add((concept, action))
                scores[action] = scores.get(action, 0.0) + weight / frequency
    for action, indices in where.items():  # a phrase with every telling part of a name ("open an incident")
        parts = vocabulary.name_concepts[action]
        telling = {part for part in parts if vocabulary.document_frequency.get(part, 0) <= common}
        said = {_concept(tokens[i].word) for i in indices}
        if telling and telling <= said and len(parts & said) > 1:
            scores[action] = scores.get(action, 0.0) + COVERAGE_BONUS
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    best, score = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
    if score < MIN_SCORE or score < 1.5 * runner_up:
        return None
    indices = where[best]
    return Grounding(best, indices[0], indices[-1])
