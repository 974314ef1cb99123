"""The lexical reader: mentions, their stance and scope, and the decision.

1. Mentions: every place the rationale names an action (any spelling of a name or alias, see
   :meth:`ActionSpace.find_mentions`), and, in a clause that names none, a phrase that grounds to one action by its
   name parts and description ("pull up the billing record" -> ``billing.get_customer``).
2. Stance and scope: each mention's windows are read against the cue tables of :mod:`._cues`. Questions, hedges,
   conditions, recaps and history lines drop a mention; a later step of a plan only counts when no earlier step does.
3. Decision: the last decision wins (a later negation of the same action cancels it); else the one action that
   the evidence favours; else nothing. Precision before recall.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from guardrail._checks import require_int, require_number
from guardrail.actions import ActionSpace, Mention, Token, name_parts, tokenize
from guardrail.exceptions import ConfigurationError
from guardrail.rationale._cues import DECISION, PAST, SCOPE, STANCE, VERB, WINDOW, Cue
from guardrail.rationale._grounding import MEMO, Vocabulary, vocabulary
from guardrail.rationale._reading import NO_READING, RationaleReading

__all__ = ["LexicalReader"]

# A sentence ends at . ! ? ; followed by space, and at a line break ("0.4" and "billing.get" do not end one).
_SENTENCE_END = re.compile(r"[.!?;]+(?=\s|$)")
# A clause inside a sentence ends at a comma, colon, bracket or dash, and before a conjunction or a subject ("Before
# recording the gift | I should merge the duplicates": two phrases, each grounded on its own).
_CLAUSE_PUNCTUATION = re.compile(r"[,:()—–]| - ")
_DETERMINERS = frozenset("the a an this that these those my our your their its his her each every any".split())
_LINKS = frozenset("is are was were will would should could can may might must".split())
_CONJUNCTIONS = frozenset(
    "and but so then because since while although though however or before after until unless if once when "
    "instead rather than i we let".split()
)
# A line that recaps history: "Step 3: red -> 0.4", "t=5 action=red reward=1", "Round 2: pressed blue (reward 0)",
# "2. Black door -> reward 0.7". An optional separator between spaces is "(?:\s*:)?\s*", never "\s*:?\s*": that
# form tries every split of a long run of spaces, quadratic in the line ("#" and 4,000 spaces took 0.3 s).
_HISTORY_LINE = re.compile(
    r"(?i)^\s*(?:[-*•>]\s*)?(?:(?:round|turn|trial|pull|t|time ?step|#)(?:\s*[=#:])?\s*\d+\b"
    r"|step(?:\s*[=#:])?\s*\d+\b.{0,200}?(?:reward|gave|got|→|->|=|returned|result|payoff|score|won|lost|\d\.\d)"
    r"|\d{1,3}[.)]\s.{0,120}?(?:->|→|:|=)\s*(?:reward|payoff|score)(?:\s*[:=])?\s*-?\d)"
)
# A heading names a topic ("**Checking the order status**", "## Options"), not a decision.
_HEADING = re.compile(r"^\s*(?:#{1,6}\s|\*\*[^*\n]{1,120}\*\*:?\s*$|__[^_\n]{1,120}__\s*$)")
_NUMBERED = re.compile(r"^\s*(?:step\s*)?(\d{1,2})[.):]\s", re.I)  # "2. Email the user", "Step 2: ..."
_UNSURE = re.compile(
    r"\b(?:not sure|unsure|uncertain|can't (?:decide|say|tell)|cannot (?:decide|say|tell)|hard to (?:say|tell)"
    r"|no idea|not certain|too close to call|indistinguishable)\b"
)
# "@" marks another mention in a window, so the text's own ("j.kim@example.org") becomes "(at)".
_MARKUP = str.maketrans({**dict.fromkeys('*`"“”'), "’": "'", "‘": "'", "\t": " ", "@": "(at)"})
_SPACES = re.compile(r"\s+")
_LINE = re.compile(r"[^\n]+")
_PAST = re.compile(PAST)
# The stance rows that read the window before the mention (some also check the one after), and those that read only
# the window after it: each table speaks through its first matching row.
_BEFORE_ROWS = tuple(row for row in STANCE if row.before is not None)
_AFTER_ROWS = tuple(row for row in STANCE if row.before is None)
_LIST_MARK = re.compile(r"^\s*(?:[-•>]|\d{1,2}[.)]|step \d{1,2}:?|thought:)\s*")


def _normal(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_MARKUP).lower())


MAX_MENTIONS = 200
"""Mentions read at most, the last ones: the cost of a read is bounded whatever the rationale's length."""


@dataclass(frozen=True, slots=True)
class _Read:
    """One mention that says something of its action: its stance and scope."""

    mention: Mention
    stance: Cue
    dropped: bool  # a hedge, question, condition or recap
    later: bool  # a later step of a plan
    item: int  # its line's number in a numbered list, or 0
    sentence: tuple[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class LexicalReader:
    """The default reader: mentions grounded to actions, each read against the cue tables, the last decision wins.

    Args:
        min_confidence: below this confidence, return :data:`NO_READING` (precision before recall).
        use_evidence: whether statements that only favour an action ("X has the highest UCB", "the wiki should have
            it") may decide when no decision is stated.
        max_chars: only the last ``max_chars`` characters of a longer rationale are read (the conclusion is at the
            end), which bounds the cost on pathological input.
    """

    min_confidence: float = 0.5
    use_evidence: bool = True
    max_chars: int = 20_000

    def __post_init__(self) -> None:
        require_number("LexicalReader", "min_confidence", self.min_confidence, least=0, most=1)
        if not isinstance(self.use_evidence, bool):
            raise ConfigurationError(f"use_evidence must be True or False; got {self.use_evidence!r}")
        require_int("LexicalReader", "max_chars", self.max_chars, least=1)

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Read ``rationale`` against ``actions``; never raises on text, never returns an action outside it."""
        text: object = rationale  # typed str, but a reader must not raise on anything it is handed
        space: object = actions
        if not isinstance(text, str) or not isinstance(space, ActionSpace) or not text.strip():
            return NO_READING
        offset = max(0, len(text) - self.max_chars)
        reading = self._read(text[offset:], actions)
        if reading.action is None or reading.confidence < self.min_confidence:
            return NO_READING
        if offset and reading.span is not None:
            reading = dataclasses.replace(reading, span=(reading.span[0] + offset, reading.span[1] + offset))
        return reading

    def _read(self, text: str, space: ActionSpace) -> RationaleReading:
        if _degenerate(text):
            return NO_READING
        tokens = tokenize(text)
        names = space.find_mentions(text, tokens)
        # The conclusion is at the end: past MAX_MENTIONS names, only the sentences of the last ones are read.
        read_from = names[-MAX_MENTIONS].start if len(names) > MAX_MENTIONS else 0
        reads: list[_Read] = []
        unsure_after: list[int] = []  # where a sentence of pure doubt ("But I'm not sure.") starts
        token_index = mention_index = 0  # where the sentence's tokens and names start: both walk forwards
        for start, end, history, line_number in _sentences(text):
            first_token, token_index = token_index, bisect_left(tokens, end, token_index, key=lambda t: t.start)
            first_name, mention_index = mention_index, bisect_left(names, end, mention_index, key=lambda m: m.start)
            if end <= read_from:
                continue
            mentions = names[first_name:mention_index]
            mentions += _described(text, tokens[first_token:token_index], mentions, vocabulary(space))
            mentions.sort(key=lambda m: m.start)
            if not mentions:
                if _UNSURE.search(text[start:end].lower().replace("’", "'")):
                    unsure_after.append(start)
                continue
            question = text[start:end].rstrip().endswith("?")
            for mention, before, after in _windows(text, start, end, mentions):
                stance, scope = _judge(before, after)
                if stance is None:
                    continue  # says nothing of the action
                past = "past" in scope and stance.weight < DECISION  # a recap outweighs evidence only
                # "Let me see the summary: is it up?" asks about what it will show, not whether to look
                dropped = (question and ":" not in text[mention.end : end]) or history or "doubt" in scope or past
                later = line_number > 1 or "later" in scope
                reads.append(_Read(mention, stance, dropped, later, line_number, (start, end)))
        return self._decide(text, reads, unsure_after)

    def _decide(self, text: str, reads: Sequence[_Read], unsure_after: Sequence[int]) -> RationaleReading:
        alone = [read for read in reads if read.stance.alone and not read.later]
        # "- Send email.\n- CreateEvent.": a list of lines, each opening with an action (on one line: "count high.
        # schedule it", terse steps, the last one the order)
        several = len({read.mention.action for read in alone}) > 1
        if several and "\n" in text[alone[0].mention.start : alone[-1].mention.start]:
            reads = [read for read in reads if not read.stance.alone]
        decided = {r.mention.action for r in reads if r.stance.weight >= DECISION and not (r.dropped or r.later)}
        if len(decided) > 3:  # "A is the best one to pull... B is the best one... C... D": a degenerate loop
            return NO_READING
        decision: _Read | None = None
        evidence: dict[str, _Read] = {}
        rejected: set[str] = set()
        for read in reads:
            if read.dropped:
                continue
            action = read.mention.action
            if read.stance.effect == "reject":
                rejected.add(action)
                evidence.pop(action, None)
                if decision is not None and decision.mention.action == action:
                    decision = None
            elif read.stance.weight >= DECISION:
                if read.later and (decision is not None or read.item > 1):
                    continue  # "first X, then Y", "2. Y": Y is not the next step
                decision = read
                rejected.discard(action)
            elif action not in rejected:  # the strongest evidence for it, the first of equals
                evidence[action] = max(evidence.get(action, read), read, key=lambda read: read.stance.weight)
        chosen = decision or (next(iter(evidence.values())) if self.use_evidence and len(evidence) == 1 else None)
        if chosen is None or any(start > chosen.mention.start for start in unsure_after):
            return NO_READING  # none; or "I'll pick blue. But honestly I'm not sure."
        start, end = chosen.sentence
        start = end - len(text[start:end].lstrip(" \t\n.;!?"))  # the sentence without the end of the one before
        end = start + len(text[start:end].rstrip(" \t\n"))
        return RationaleReading(
            action=chosen.mention.action, confidence=chosen.stance.weight, evidence=text[start:end], span=(start, end)
        )


def _degenerate(text: str) -> bool:
    """A model stuck repeating itself: one line of 20 characters or more, three times or more (no choice)."""
    lines = Counter(line.strip() for line in text.split("\n") if len(line.strip()) >= 20)
    return bool(lines) and max(lines.values()) >= 3


def _sentences(text: str) -> Iterator[tuple[int, int, bool, int]]:
    """Each sentence as ``(start, end, on a history line, its line's list number or 0)``; end punctuation included."""
    for found in _LINE.finditer(text):
        line = found.group()
        if line.isspace():  # blank lines (a model that degenerates into them) cost one check each
            continue
        history = _HISTORY_LINE.match(line) is not None or _HEADING.match(line) is not None
        number = int(numbered.group(1)) if (numbered := _NUMBERED.match(line)) else 0
        start, line_end = found.span()
        for match in _SENTENCE_END.finditer(text, start, line_end):
            yield start, match.end(), history, number
            start = match.end()
        if text[start:line_end].strip():
            yield start, line_end, history, number


def _described(text: str, tokens: Sequence[Token], names: list[Mention], lexicon: Vocabulary) -> list[Mention]:
    """Mentions by description, one per clause of the sentence that names no action.

    A clause that names an action whose name a described phrase extends ("search the docs" where both ``search`` and
    ``search_docs`` exist) refers to the longer name: that mention in ``names`` is replaced in place.
    """
    found: list[Mention] = []
    named = 0  # walks forwards with the clauses: linear in the sentence
    for clause in _clauses(text, tokens):
        clause = clause[:30]
        grounding = lexicon.ground(tuple(token.word for token in clause))
        if grounding is None:
            continue
        named = bisect_right(names, clause[0].start, named, key=lambda m: m.end)
        if named == len(names) or names[named].start >= clause[-1].end:  # the clause names no action
            # "check the airspace", "I'm checking which indexes exist": the clause's verb is the order, read in the
            # window before the mention, which starts right after it
            verbs = [i for i in range(grounding.first + 1) if _is_verb(clause, i)]
            first = verbs[-1] + 1 if verbs and verbs[-1] < grounding.last else grounding.first
            last = _phrase_end(clause, first, grounding.last)
            found.append(Mention(grounding.action, clause[first].start, clause[last].end))
        elif set(name_parts(names[named].action)) < set(name_parts(grounding.action)):
            names[named] = Mention(grounding.action, names[named].start, names[named].end)
    return found


def _phrase_end(clause: Sequence[Token], first: int, last: int) -> int:
    """Where a described phrase from ``first`` to ``last`` ends: before its verb, which says something of it ("Refunding
    blindly could reverse a charge"), or before a participle that ends it ("Coupon applied.")."""
    for i in range(first + 1, last + 1):
        if clause[i].word in _LINKS:
            return i - 1
    return last - 1 if last > first and _PAST.fullmatch(clause[last].word) else last


def _is_verb(clause: Sequence[Token], i: int) -> bool:
    """Whether the clause's ``i``-th word is its verb: an order ("check"), or a recap of what was done ("I checked")."""
    word, previous = clause[i].word, clause[i - 1].word if i else ""
    recap = previous in ("i", "we") and _PAST.fullmatch(word) is not None
    # after a determiner it is a noun ("their reading list", "the search results")
    return recap or (previous not in _DETERMINERS and VERB.match(" " + word) is not None)


def _clauses(text: str, tokens: Sequence[Token]) -> Iterator[Sequence[Token]]:
    """The sentence's tokens cut into clauses: at punctuation between two tokens, and before a conjunction or a
    subject (``_CONJUNCTIONS``)."""
    first = 0
    for i in range(1, len(tokens)):
        gap = text[tokens[i - 1].end : tokens[i].start]
        if tokens[i].word in _CONJUNCTIONS or (gap != " " and _CLAUSE_PUNCTUATION.search(gap)):
            yield tokens[first:i]
            first = i
    yield tokens[first:]


def _windows(text: str, start: int, end: int, mentions: Sequence[Mention]) -> Iterator[tuple[Mention, str, str]]:
    """Each mention with its before and after windows: normalised, other mentions as ``@``, at most WINDOW long."""
    cuts = [start, *itertools.chain.from_iterable((mention.start, mention.end) for mention in mentions), end]
    normal = [_normal(text[a:b]) for a, b in zip(cuts[::2], cuts[1::2], strict=True)]  # around and between them
    joined = "@".join(normal)
    # at: just past each mention's "@"
    for at, mention in zip(itertools.accumulate(len(piece) + 1 for piece in normal[:-1]), mentions, strict=True):
        before = " " + _LIST_MARK.sub("", joined[max(0, at - 1 - WINDOW) : at - 1]).rstrip(" '([#").strip()
        after = joined[at : at + WINDOW]
        if not after.startswith("'s"):
            after = after.lstrip("')]")
            after = " " + after.lstrip() if after[:1] == " " or after.lstrip()[:1].isalnum() else after.lstrip()
        yield mention, before.rstrip(), after


@functools.lru_cache(maxsize=MEMO)  # windows recur: "so i'll call @" in an agent's every step
def _judge(before: str, after: str) -> tuple[Cue | None, frozenset[str]]:
    """A mention's stance: the first row of each table that matches, a rejection before the stronger; and, if it has
    one, the effects of the scope rows that match (the scope of a mention that says nothing does not matter)."""
    firsts = (next((row for row in rows if _matches(row, before, after)), None) for rows in (_BEFORE_ROWS, _AFTER_ROWS))
    stance = max(filter(None, firsts), key=lambda row: (row.effect == "reject", row.weight), default=None)
    return stance, frozenset(cue.effect for cue in SCOPE if stance is not None and _matches(cue, before, after))


def _matches(cue: Cue, before: str, after: str) -> bool:
    return (cue.before is None or cue.before.search(before) is not None) and (
        cue.after is None or cue.after.search(after) is not None
    )
