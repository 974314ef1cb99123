"""Grounding a phrase to the action it describes: "pull up the billing record" -> ``billing.get_customer``.

Each action's vocabulary is the parts of its name and aliases (weight 2) and the content words of its description
(weight 1), stemmed, with equivalent verbs folded to one word (look up / search / find / check). A phrase grounds
to the action whose vocabulary its content words match best, each word weighted by how few actions share it; a tie,
or a weak match, grounds to nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from guardrail.actions import ActionSpace, name_parts, stem

__all__ = ["Grounding", "Vocabulary", "ground", "vocabulary"]

# Equivalent words, "/" between rows, each row folded to its first word. Verbs first: an agent says "pull up" for
# a tool named get_*.
_EQUIVALENTS = (
    "search find look lookup seek query grep locate hunt check /"
    " get fetch retrieve pull read load obtain grab view see inspect review examine display access download show /"
    " send notify reply forward ping contact dm / ask clarify confirm inquire / create make add generate new /"
    " delete remove erase purge destroy / update edit modify change set patch amend adjust alter /"
    " run execute exec invoke launch trigger perform / restart reboot bounce recycle relaunch /"
    " escalate handoff transfer / schedule book reserve arrange / refund reimburse repay /"
    " summarize summarise summary recap digest / calculate compute calculator math arithmetic /"
    " navigate visit goto / backup back / write save persist / rollback revert undo roll /"
    " scale resize replica autoscale / cancel abort terminate kill / deploy release ship rollout /"
    " merge combine dedupe deduplicate / approve accept / reject deny decline / upload attach / export dump /"
    " comment annotate / plot chart graph visualize visualise / free available availability /"
    " meeting event invite invitation / stat statistic stats / doc docs documentation manual / ticket issue case /"
    " log logs / resolve close / command cmd / mute silence snooze suppress / redirect reroute divert /"
    " preview peek eyeball sample / sms text / status progress / balance remaining / reconcile tie /"
    " subscribe enroll signup / translate localize localise / cost spend expense"
)
_EQUIVALENT = {word: row.split()[0] for row in _EQUIVALENTS.split("/") for word in row.split()}

_STOP = frozenset(
    "a an the this that these those it its it's i i'm i'll i've we we'll let me us our my you your he she they them "
    "their to of for with on in at by from into onto about as and or but so if then than is are was were be been "
    "being am do does did done have has had will would shall should can could may might must need needs want wants "
    "going gonna go use using call calling tool tools function step next first now just also again here there what "
    "which who whom whose why how when where up out off over any some all each every no not more most very really "
    "still only please okay ok yes sure well right thing things way something anything one ll re ve d s t".split()
)


@functools.lru_cache(maxsize=1 << 16)
def _keys(word: str) -> tuple[str, str] | None:
    """A content word's stem and its folded concept ("replies" -> ("reply", "send")); None for a function word."""
    if word in _STOP or word.isdigit() or len(word) < 2:
        return None
    stemmed = stem(word)
    return stemmed, _EQUIVALENT.get(word) or _EQUIVALENT.get(stemmed, stemmed)


class Grounding(NamedTuple):
    """A phrase grounded to ``action``: its matched words run from token ``first`` to token ``last``."""

    action: str
    first: int
    last: int


@dataclass(slots=True, eq=False)
class Vocabulary:
    """What the words of a space's names, aliases and descriptions tell apart (built once per space, with its memos)."""

    exact: dict[str, dict[str, float]]  # stem -> action -> weight (2 a name part, 1 a description word)
    folded: dict[str, dict[str, float]]  # concept -> action -> weight: the same words, equivalents folded together
    name_concepts: dict[str, frozenset[str]]  # action -> the folded parts of its name
    telling: dict[str, frozenset[str]]  # action -> those of its name parts few actions share
    common: int  # a word more actions than this share tells them apart from nothing
    word: Callable[[str], _Word] = field(init=False)  # what a word earns here (see _read_word)
    ground: Callable[[tuple[str, ...]], Grounding | None] = field(init=False)  # what a clause grounds to here

    def __post_init__(self) -> None:
        # Memoised per space, so they go with it: a rationale's words repeat, and so does an agent's phrasing.
        self.word = functools.lru_cache(maxsize=MEMO)(functools.partial(_read_word, self))
        self.ground = functools.lru_cache(maxsize=MEMO)(functools.partial(ground, vocabulary=self))


@functools.lru_cache(maxsize=256)
def vocabulary(space: ActionSpace) -> Vocabulary:
    """The vocabulary of ``space`` (cached per space)."""
    exact: dict[str, dict[str, float]] = {}
    folded: dict[str, dict[str, float]] = {}

    def add(action: str, words: Sequence[str], weight: float) -> None:
        for keys in filter(None, map(_keys, words)):
            for table, key in ((exact, keys[0]), (folded, keys[1])):
                row = table.setdefault(key, {})
                row[action] = max(row.get(action, 0.0), weight)

    # names and aliases alike (parts weigh 2), descriptions' words (1)
    for spelling, action in (*((name, name) for name in space.names), *space.aliases.items()):
        add(action, name_parts(spelling), 2.0)
    for action, description in space.descriptions.items():
        add(action, name_parts(description), 1.0)
    names = {name: frozenset(keys[1] for keys in filter(None, map(_keys, name_parts(name)))) for name in space.names}
    # A word more actions than this share tells them apart from nothing: a quarter of them, at least two, at most
    # MAX_SHARING (so a word costs the same in a catalogue of 500 tools as in one of 40).
    common = max(2, min(len(space) // 4, MAX_SHARING))
    telling = {name: frozenset(p for p in parts if len(folded.get(p, ())) <= common) for name, parts in names.items()}
    return Vocabulary(exact, folded, names, telling, common)


MAX_SHARING = 10
"""The most actions a word may share and still score (a word shared more widely earns each of them 0.2 or less)."""


COVERAGE_BONUS = 3.0
"""Added when a phrase holds every part of an action's name, in any order ("post to the status page")."""

MIN_SCORE = 1.0
"""A phrase must match at least one word that only one action has (in its name or its description)."""


MARGIN = 2.5
"""The best action must score this many times the next one: two that fit alike ground to neither."""

NAME_MARGIN = 2.0
"""An action whose name has a word of the phrase that the others near it have in their descriptions only is told
apart from each of them it scores this many times."""

MAX_ALIKE = 3
"""At most this many actions that fit a phrase alike are told apart by their words; more ground to nothing."""

EQUIVALENT_CREDIT = 0.5
"""What a word earns for matching an action only through an equivalent ("reply" for send_email, not reply_email)."""


MEMO = 1 << 14
"""Words and clauses remembered per action space, and windows read (the least recently read are forgotten first)."""


class _Word(NamedTuple):
    concept: str | None  # its folded concept, None for a function word
    credits: tuple[tuple[str, float], ...]  # (action, credit) for each action the word scores for


def ground(clause: tuple[str, ...], vocabulary: Vocabulary) -> Grounding | None:
    """The action that the words of one clause describe, or None when none fits well or two fit alike.

    Each distinct word scores for every action whose vocabulary has it (see :func:`_read_word`); a concept counts
    once per action. Linear in the clause whatever the size of the catalogue.
    """
    words = [vocabulary.word(word) for word in clause]
    credits: dict[tuple[str | None, str], float] = {}  # (concept, action): a concept counts once, at its best
    for word in words:
        for action, credit in word.credits:
            credits[word.concept, action] = max(credit, credits.get((word.concept, action), 0.0))
    scores: dict[str, float] = {}
    for (_, action), credit in credits.items():
        scores[action] = scores.get(action, 0.0) + credit
    if not scores:
        return None  # most clauses: no word that tells one action from the others
    said = {word.concept for word in words}
    for action in scores:  # a phrase with every telling part of a name ("open an incident")
        parts, telling = vocabulary.name_concepts[action], vocabulary.telling[action]
        if telling and telling <= said and len(parts & said) > 1:
            scores[action] += COVERAGE_BONUS
    top = max(scores, key=scores.__getitem__)
    near = [action for action, value in scores.items() if action == top or scores[top] < MARGIN * value]
    # a word in the top action's name, that the others near have in their descriptions only, tells them apart
    named = [action for action in near if vocabulary.name_concepts[action] & said] == [top]
    near = [action for action in near if action == top or not (named and scores[top] >= NAME_MARGIN * scores[action])]
    # one clear fit; or a few alike, told apart (see _dominant); many alike tell nothing
    best = top if len(near) == 1 else _dominant(near, words, vocabulary, said) if len(near) <= MAX_ALIKE else None
    if best is None or scores[best] < MIN_SCORE:
        return None
    # The phrase runs over every word of the action's vocabulary in the clause, shared words included.
    matched = [i for i, word in enumerate(words) if best in vocabulary.folded.get(word.concept or "", ())]
    return Grounding(best, matched[0], matched[-1])


def _dominant(near: Sequence[str], words: Sequence[_Word], vocabulary: Vocabulary, said: set[str | None]) -> str | None:
    """Of actions that fit a phrase alike, the one whose vocabulary has every word of it any other's has and more,
    shared words counted ("open a new ticket with the helpdesk create tool": create_ticket, not create_incident);
    else, of two, the base tool (see :func:`_base`); else None."""
    has = {a: {word.concept for word in words if a in vocabulary.folded.get(word.concept or "", ())} for a in near}
    widest = (action for action in near if all(has[other] < has[action] for other in near if other != action))
    return next(widest, None) or (_base(near[0], near[1], vocabulary, said) if len(near) == 2 else None)


def _base(one: str, other: str, vocabulary: Vocabulary, said: set[str | None]) -> str | None:
    """Of two actions a phrase fits alike, the one whose name parts the other's extend, if the phrase says none of
    the parts it adds ("search the catalog": ``search_products``, not ``search_products_by_image``); else None."""
    for shorter, longer in ((one, other), (other, one)):
        parts, more = vocabulary.name_concepts[shorter], vocabulary.name_concepts[longer]
        if parts < more and not (more - parts) & said:
            return shorter
    return None


def _read_word(vocabulary: Vocabulary, word: str) -> _Word:
    """What ``word`` earns each action: its weight over the number of actions that share it, in full for the word
    itself and at ``EQUIVALENT_CREDIT`` for an equivalent only. Words that more than ``vocabulary.common`` actions
    share earn nothing."""
    keys = _keys(word)
    if keys is None:
        return _Word(None, ())
    stemmed, concept = keys
    folded, exact = vocabulary.folded.get(concept, {}), vocabulary.exact.get(stemmed, {})
    if len(folded) > vocabulary.common and not 0 < len(exact) <= vocabulary.common:
        return _Word(concept, ())
    credits = []
    for action, weight in folded.items():
        credit, sharing = (exact[action], len(exact)) if action in exact else (weight * EQUIVALENT_CREDIT, len(folded))
        if sharing <= vocabulary.common:
            credits.append((action, credit / sharing))
    return _Word(concept, tuple(credits))
