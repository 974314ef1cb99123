"""Which action does a rationale recommend?

An agent writes a rationale ("... the highest UCB is blue, so I choose blue.") and then an action. This module
reads the rationale on its own and says which action of the space it recommends, if any, so that a detector can
compare the two (the knowing-doing gap).

The default reader, :class:`LexicalReader`, is a set of regular expressions over the rationale in which every
mention of an action (found by :meth:`ActionSpace.find_mentions`, so ``arm_1``/``arm_10`` and
``search``/``search_docs`` never get confused) is replaced by one placeholder character. The cue patterns are
therefore written once, compiled once, and shared by every action space; they never depend on the action names,
which also makes the reader invariant under renaming the actions.

It prefers precision to recall: a hedge ("not sure between X and Y"), a question, a pure history recap or a
recommendation that is later negated gives ``None`` rather than a guess.

>>> from guardrail.actions import ActionSpace
>>> space = ActionSpace(["red", "green", "blue"])
>>> read_rationale("red: mean 0.40, UCB 1.23; blue: untried, UCB inf. The highest UCB is blue, so I choose blue.",
...                space).action
'blue'
>>> read_rationale("Rather than red, choose green.", space).action
'green'
>>> read_rationale("I am not sure between red and blue.", space).action is None
True
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, Protocol

from guardrail._regex_forms import (
    _PARSER,
    _backward_source,
    _compiled,
    _factored,
    _fail_fast_head,
    _foldable,
    _Form,
    _Irreversible,
    _literal_first_items,
    _parsed,
    _Seq,
    _Source,
)
from guardrail.actions import _SPELLINGS_CACHE_SIZE, ActionSpace, _fold, normalise_key
from guardrail.exceptions import ConfigurationError

__all__ = ["NO_READING", "LexicalReader", "RationaleReader", "RationaleReading", "read_rationale"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RationaleReading:
    """What a rationale recommends.

    Attributes:
        action: the canonical name of the recommended action (always in the space), or None.
        confidence: how sure the reader is, in [0, 1]; 0.0 when ``action`` is None.
        evidence: the text span that decided it (for telemetry and re-ask feedback).
        span: ``(start, end)`` offsets of ``evidence`` in the rationale.
        judge_calls: how many judge model calls produced this reading (0 for a lexical reading or a cached
            verdict; see :class:`guardrail.CascadeReader`), so that they can be counted apart from agent calls.
    """

    action: str | None
    confidence: float
    evidence: str | None = None
    span: tuple[int, int] | None = None
    judge_calls: int = 0

    def __post_init__(self) -> None:
        confidence: object = self.confidence  # checked at run time: custom readers build readings too
        if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0.0 <= confidence <= 1.0:
            raise ConfigurationError(f"confidence must be a number in [0, 1]; got {self.confidence!r}")
        if self.action is None and self.confidence != 0.0:
            raise ConfigurationError(f"a reading without an action has confidence 0; got {self.confidence!r}")
        judge_calls: object = self.judge_calls
        if isinstance(judge_calls, bool) or not isinstance(judge_calls, int) or judge_calls < 0:
            raise ConfigurationError(f"judge_calls must be an integer >= 0; got {self.judge_calls!r}")


NO_READING: Final = RationaleReading(action=None, confidence=0.0)
"""The reading of a rationale that recommends nothing (or nothing the reader can tell)."""


class RationaleReader(Protocol):
    """Anything that tells which action a rationale recommends: a callable ``(rationale, actions)``."""

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Read ``rationale`` against ``actions``; return :data:`NO_READING` when it recommends nothing."""
        ...


# --------------------------------------------------------------------------------------------------------------
# Patterns. They run over the *masked* rationale, in which each action mention is the one character _SLOT.
# --------------------------------------------------------------------------------------------------------------

_SLOT: Final = "\ue000"
_T = f"(?P<a>{_SLOT})"  # the action a cue is about
_B = f"(?P<b>{_SLOT})"  # the other action of a comparison (the one that loses)
_OPEN = r"[\s*_`'\"“”‘’«»(\[]*"  # markdown and quotes before a name
_CLOSE = r"[*_`'\"“”‘’»)\]]*"  # ... and after it

_VERB_BASE = (
    r"choose|pick|select|press|push|hit|pull|play|take|try|use|call|run|invoke|click|explore|exploit|query"
    r"|go\s+with|go\s+for|opt\s+for|settle\s+on|stick\s+with|switch\s+to|move\s+to|start\s+with|head\s+for"
    r"|continue\s+with|block|occupy|claim|(?:place|put|mark)(?:\s+(?:my|an?|the|our)\s+(?:mark|piece|token|symbol|[xo]))?\s+(?:in|at|on|into)"
)
_VERB_ING = (
    r"choosing|picking|selecting|pressing|pushing|hitting|pulling|playing|taking|trying|using|calling|running"
    r"|invoking|clicking|exploring|exploiting|querying|going\s+with|going\s+for|opting\s+for|settling\s+on"
    r"|sticking\s+with|switching\s+to|moving\s+to|starting\s+with|continuing\s+with|blocking|occupying|claiming"
    r"|(?:placing|putting)(?:\s+(?:my|an?|the|our)\s+(?:mark|piece|token|symbol|[xo]))?\s+(?:in|at|on|into)"
)
_VERB = rf"(?:{_VERB_BASE}|{_VERB_ING})(?:\s+out)?"
_ADV = (
    r"(?:(?:just|now|then|definitely|probably|simply|also|instead|again|first|next|finally|actually|rather"
    r"|go\s+ahead\s+and|keep(?:\s+on)?|continue)\s+){0,2}"
)
# Articles and nouns between the verb and the name ("press the blue button", "try a broader search").
_DET = (
    r"(?:(?:the|a|an|this|that|button|arm|tool|cell|square|slot|lever|colou?r|option)\s+){0,2}"
    r"(?:(?!(?:not|than|of|or|and|but|except|instead|rather|every|all|any|each|no|none|whichever|either|neither"
    r"|to|between|from)\b)[^\W\d]\w*\s+)?"
)
# The auxiliaries after the subject start either with spaces then a letter, or with an apostrophe after optional
# spaces: they are written as two groups, each behind what its alternatives start with, so that sre tries the spaces
# once, not once per alternative. No text position can match alternatives of both groups (a letter or an apostrophe
# after the spaces), and each group keeps its alternatives' order, so sre meets the alternatives that can match in the
# same order as when they were listed one by one ("i will", "i'll", "i shall", "i am going to", "i'm going to", ...):
# the same matches (tests/test_rationale_subjects.py compares them with the listed forms).
_I_WILL = (
    r"\b(?:(?:i|we)(?:\s+(?:will|shall|(?:am|are)\s+going\s+to|(?:am|are)\s+gonna|(?:have\s+)?decided\s+to"
    r"|decide\s+to|(?:am|are))|\s*['’](?:ll|(?:m|re)\s+going\s+to|(?:m|re)\s+gonna|(?:m|re)))?"
    r"|let(?:['’]s|\s+us|\s+me))"
)
_I_SHOULD = (
    r"\b(?:i|we)(?:\s+(?:should|must|need\s+to|have\s+to|ought\s+to|want\s+to|would\s+like\s+to|would|plan\s+to"
    r"|intend\s+to)|\s*['’](?:d\s+like\s+to|d\s+rather|d))"
)
_CLAUSE_START = r"(?:^|(?<=[.!?;:,\n(])|\b(?:and|then|so|thus|hence|therefore|now)\b)[ \t]*[-*>#]*[ \t]*"
_POSITIVE_PREDICATE = (
    r"(?:is|seems|would\s+be|makes)\s+(?:(?:the\s+most\s+|more\s+|perfect\s+)?sense|the\s+(?:best|right|optimal|smartest|logical|obvious|correct)"
    r"|best|optimal|wise|reasonable|sensible|a\s+good\s+idea|mandatory|necessary|essential|required|forced"
    r"|the\s+only\s+(?:move|option|choice))"
)
_ADJ_BEST = (
    r"best|optimal|right|correct|smartest|logical|obvious|most\s+promising|preferred|ideal|strongest|top|better"
    r"|sensible|safest|recommended|next|wisest|only"
)
_NOUN = (
    r"option|choice|arm|button|action|move|tool|pick|bet|candidate|step|call|one|cell|square|play|lever|colou?r"
    r"|fit|way\s+to\s+go|target|press|pull"
)
# A conditional or hypothetical subject does not commit: "If I take X, ..." (fixed-width lookbehinds).
_NOT_HYPOTHETICAL = r"(?<!if\s)(?<!when\s)(?<!unless\s)(?<!once\s)(?<!whether\s)(?<!suppose\s)(?<!what\s)"
_HIGHEST = r"(?:highest|largest|greatest|biggest|top|maximum|max|best)"
_UCB = r"(?:ucb|upper\s+confidence\s+bound|upper\s+bound)(?:\s+(?:value|score|estimate))?"
_MEAN = (
    r"(?:average|mean|empirical\s+mean|average\s+reward|mean\s+reward|expected\s+(?:reward|value)|value|reward"
    r"|score|estimate|win\s+rate|success\s+rate)"
)
_NOT_TRIED = (
    r"(?:(?:yet|been|ever|once|even|really|actually)\s+)*(?:tried|explored|pressed|pulled|played|used|sampled"
    r"|tested|chosen|selected|touched|visited|called|picked)\b"
)

_FLAGS: Final = re.IGNORECASE | re.MULTILINE

DECISION: Final = 0.8
"""Cue weights at or above this are decisions ("I choose X"); below, evidence ("X has the highest UCB")."""


@dataclass(frozen=True, slots=True)
class _Cue:
    name: str
    weight: float  # > 0 recommends group ``a``; 0 only negates (group ``a``)
    pattern: re.Pattern[str]
    compares: bool  # has a group ``b``, the action that loses the comparison


def _cue(name: str, weight: float, pattern: str) -> _Cue:
    if not 0.5 <= weight <= 1.0:  # the reader's confidences stay in [0, 1] without clamping (see _reading)
        raise ValueError(f"cue weights are in [0.5, 1]; got {weight!r}")
    compiled = re.compile(pattern, _FLAGS)
    return _Cue(name, weight, compiled, "b" in compiled.groupindex)


_POSITIVE_CUES: Final[tuple[_Cue, ...]] = (
    _cue("intent", 0.9, rf"{_NOT_HYPOTHETICAL}{_I_WILL}\s+{_ADV}{_VERB}:?\s+{_ADV}{_OPEN}{_DET}{_OPEN}{_T}"),
    _cue("should", 0.85, rf"{_NOT_HYPOTHETICAL}{_I_SHOULD}\s+{_ADV}{_VERB}:?\s+{_ADV}{_OPEN}{_DET}{_OPEN}{_T}"),
    # The action is itself a verb: "I will finish", "I should search the docs".
    _cue("intent-verb", 0.8, rf"{_NOT_HYPOTHETICAL}(?:{_I_WILL}|{_I_SHOULD})\s+{_ADV}{_T}{_CLOSE}(?=\s|[.!,;:]|$)"),
    _cue("imperative", 0.8, rf"{_CLAUSE_START}(?:please\s+)?{_ADV}(?:{_VERB_BASE})\s+{_ADV}{_OPEN}{_DET}{_OPEN}{_T}"),
    _cue(
        "gerund",
        0.8,
        rf"{_CLAUSE_START}(?:{_VERB_ING})\s+{_ADV}{_OPEN}{_DET}{_OPEN}{_T}{_CLOSE}"
        rf"(?:\s+(?:again|next|now|first|instead|then|this\s+(?:time|round)))?"
        rf"\s*(?=[.!,\n]|$|{_POSITIVE_PREDICATE}|(?:since|because|as|given)\b)",
    ),
    _cue(
        "worth-to",
        0.8,
        r"\b(?:time|worth|sense|best|wise|better|reasonable|good\s+idea|sensible|logical|optimal|plan\s+is"
        rf"|right\s+(?:move|call))\s+(?:to\s+)?(?:{_VERB})\s+{_ADV}{_OPEN}{_DET}{_OPEN}{_T}",
    ),
    _cue(
        "label-best",
        0.85,
        rf"\b(?:{_ADJ_BEST}|chosen|final)\s+(?:\w+\s+)??(?:{_NOUN}|decision|answer)"
        r"(?:\s+(?:to\s+\w+(?:\s+(?:next|now|first))?|for\s+(?:this|now|me|us|the\s+\w+)|according\s+to\s+\w+"
        r"|so\s+far|here|now|right\s+now|at\s+this\s+point|overall|in\s+this\s+case))?"
        r"\s*(?:is|should\s+be|would\s+be|will\s+be|must\s+be|remains|seems\s+to\s+be|=|:|->|=>)\s*"
        rf"(?:(?:clearly|definitely|probably|therefore|then|obviously)\s+)?(?:to\s+(?:{_VERB})\s+)?"
        rf"{_OPEN}{_DET}{_OPEN}{_T}",
    ),
    _cue(
        "label",
        0.9,
        r"(?:^[\s*_#>\-]*|(?<=[.!?;]\s)|\b(?:my|our|final|the|easy|clear|obvious|simple)\s+)"
        r"(?:choice|decision|pick|move|answer|recommendation|selection|conclusion|verdict|next(?:\s+(?:action|move"
        r"|step|up))?|(?:first|next)\s+step(?:\s+now)?|better|best|(?:action|move|step|tool)\s+to\s+(?:take|use|run"
        r"|call|play|make))\b"
        r"(?:\s+(?:for\s+(?:this|the|now)(?:\s+(?:round|step|turn|time|move))?|this\s+(?:time|round|step|turn)|here"
        r"|now))?"
        rf"{_CLOSE}\s*(?:is\b|[:=\-–—>]+){_OPEN}{_T}",
    ),
    _cue(
        "recommend",
        0.85,
        r"\b(?:(?:i|we)\s+(?:would\s+|['’]d\s+|strongly\s+)?)?(?:recommend|suggest|propose|advise|prefer|vote\s+for)"
        rf"(?:ing)?\s+(?:(?:{_VERB_ING})\s+)?{_OPEN}{_DET}{_OPEN}{_T}",
    ),
    _cue(
        "connective",
        0.85,
        rf"(?:^|(?<=[\s(,.;:]))(?:so|therefore|thus|hence|ergo|consequently|accordingly)\b\s*[,:]?{_OPEN}{_T}"
        rf"{_CLOSE}(?=\s*(?:[.!\n]|$|,?\s*(?:then|again|next|now|this\s+(?:time|round)|for\s+now|voil)))",
    ),
    _cue(
        "with-tool",
        0.8,
        rf"{_NOT_HYPOTHETICAL}{_I_WILL}\s+(?!compare|contrast|replace|swap|pair)\w+(?:\s+[\w'’.]+){{0,6}}?\s+"
        rf"(?:with|using|via|through)\s+(?:the\s+)?{_OPEN}{_T}",
    ),
    _cue("named-tool", 0.8, rf"{_NOT_HYPOTHETICAL}{_I_WILL}\s+[^.!?\n(){_SLOT}]{{0,60}}\(\s*{_OPEN}{_T}{_CLOSE}\s*\)"),
    _cue(
        "passive",
        0.85,
        rf"{_T}{_CLOSE}\s+(?:should|will|must|needs\s+to|has\s+to)\s+be\s+(?:(?:the\s+one\s+)?)"
        r"(?:pulled|pressed|chosen|picked|selected|played|tried|used|called|explored|taken|run)\b",
    ),
    _cue(
        "this-time",
        0.8,
        rf"{_CLAUSE_START}(?:this\s+(?:time|round|step|turn)|for\s+now|now)\s*[,:]\s*{_OPEN}{_T}{_CLOSE}"
        r"(?=\s*(?:[.!\n]|$))",
    ),
    _cue(
        "deserves",
        0.8,
        rf"{_T}{_CLOSE}\s+(?:deserves|merits|is\s+worth|earns)\s+(?:a|an|another|one\s+more)\s+"
        r"(?:shot|try|chance|look|pull|press|go)\b",
    ),
    _cue("again", 0.8, rf"{_CLAUSE_START}{_OPEN}{_T}{_CLOSE}\s+again\b(?=\s*(?:[-–—,.!:;]|$))"),
    _cue("it-is", 0.85, rf"{_T}{_CLOSE}\s+it\s*(?:is|['’]s)\b(?=\s*(?:[.!,;\n]|$))"),
    _cue(
        "is-best",
        0.85,
        rf"{_T}{_CLOSE}\s+(?:again\s+|next\s+|now\s+)?(?:is|seems|looks|would\s+be|remains|appears|['’]s)\s+"
        r"(?:like\s+)?(?:to\s+be\s+)?(?:(?:clearly|definitely|probably|still|easily|therefore|then|obviously)\s+)?"
        rf"(?:the|my|our)\s+(?:\w+\s+)?(?:{_ADJ_BEST})\s+(?:\w+\s+)?(?:{_NOUN})\b",
    ),
    _cue("not-but", 0.8, rf"\bnot\s+{_OPEN}{_B}{_CLOSE}\s*[,;:]?\s*but\s+(?:rather\s+)?{_OPEN}{_T}"),
    _cue(
        "foreign",
        0.85,
        r"(?:\b(?:elijo|escojo|prefiero|je\s+choisis|je\s+prends|je\s+vais\s+(?:choisir|prendre)|ich\s+w[äa]hle"
        r"|ich\s+nehme|w[äa]hle\s+ich|scelgo|escolho)\s+(?:(?:el|la|le|den|die|das|il|o|a)\s+)?"
        rf"|(?:选择|選擇|我选|我選)\s*){_OPEN}{_T}",
    ),
    # Evidence: statements that favour an action without committing to it.
    _cue(
        "highest-ucb",
        0.75,
        rf"\b{_HIGHEST}\s+{_UCB}(?:\s+so\s+far|\s+now|\s+overall)?\s*(?:is|belongs\s+to|goes\s+to|=|:|->)\s*(?:for\s+)?{_OPEN}{_T}",
    ),
    _cue("has-highest-ucb", 0.75, rf"{_T}{_CLOSE}\s+(?:has|had|gives|shows|with)\s+(?:the\s+)?{_HIGHEST}\s+{_UCB}"),
    _cue(
        "ucb-says",
        0.75,
        r"\b(?:ucb|rule|algorithm|math|data|numbers|evidence|analysis|statistics|averages)\s+"
        rf"(?:clearly\s+)?(?:says|suggests|points\s+to|favou?rs|recommends|picks|selects|indicates)\s+{_OPEN}{_T}",
    ),
    _cue(
        "highest-mean",
        0.7,
        rf"\b{_HIGHEST}\s+{_MEAN}(?:\s+so\s+far)?\s*(?:is|belongs\s+to|=|:)\s*(?:for\s+)?{_OPEN}{_T}",
    ),
    _cue("has-highest-mean", 0.7, rf"{_T}{_CLOSE}\s+(?:has|had|gives|shows|with)\s+(?:the\s+)?{_HIGHEST}\s+{_MEAN}"),
    _cue(
        "above-all",
        0.7,
        rf"{_T}(?:[^.!?\n{_SLOT}]|\.(?=\d)){{0,60}}?\b(?:higher|greater|larger|better)\s+than\s+(?:all|every|any)\s+"
        r"(?:of\s+)?(?:the\s+)?(?:other|others|rest)\b",
    ),
    _cue(
        "looks-best",
        0.7,
        rf"{_T}{_CLOSE}\s+(?:is|seems|looks|appears)\s+(?:to\s+be\s+)?(?:clearly\s+|definitely\s+)?"
        r"(?:best|optimal|most\s+promising|the\s+way\s+to\s+go|the\s+(?:clear\s+)?(?:winner|leader)|ahead)\b",
    ),
    _cue(
        "better-than",
        0.65,
        rf"{_T}{_CLOSE}\s+(?:\w+\s+)?(?:is|looks|seems|appears|has\s+been|['’]s|performs|did|does|is\s+doing)\s+"
        r"(?:\w+\s+)?(?:better|stronger|more\s+promising|more\s+rewarding|superior|preferable)\s+(?:than|to)\s+"
        rf"{_OPEN}{_B}",
    ),
    _cue(
        "beats",
        0.65,
        rf"{_T}{_CLOSE}\s+(?:clearly\s+|consistently\s+)?(?:beats|outperforms|dominates|beat|outperformed|outperform"
        rf"|is\s+ahead\s+of|edges\s+out)\s+{_OPEN}{_B}",
    ),
    _cue(
        "worse-than",
        0.65,
        rf"{_B}{_CLOSE}\s+(?:\w+\s+)?(?:is|looks|seems|appears|has\s+been|['’]s|performs|did|does)\s+(?:\w+\s+)?"
        rf"(?:worse|weaker|less\s+promising|less\s+rewarding|inferior)\s+(?:than|to)\s+{_OPEN}{_T}",
    ),
)

_NEGATIONS: Final[tuple[re.Pattern[str], ...]] = tuple(
    re.compile(p, _FLAGS)
    for p in (
        # "not X", "avoid X", "rather than X", "I should not pick X", "instead of pressing X" (not "not tried X").
        r"(?:\bnot|n['’]t|\bnever|\bno\s+more|\bno\s+longer|\bavoid(?:ing|s)?|\brather\s+than|\binstead\s+of"
        r"|\bother\s+than|\bexcept(?:\s+for)?|\bskip(?:ping|s)?|\bstop\s+\w+ing|\bignor(?:e|ing)|\bagainst|\bbesides"
        r"|\bnor|\bneither|\bforget(?:\s+about)?)"
        rf"[ \t]+(?!{_NOT_TRIED})(?:(?!(?:but|and|so|then|because|since)\b)(?:[\w'’]+|{_SLOT})[ \t]+){{0,4}}?"
        rf"{_OPEN}{_T}",
        rf"{_T}{_CLOSE}\s+(?:again\s+)?(?:is|was|seems|looks|has\s+been|would\s+be|will\s+be|['’]s|appears|feels)\s+"
        r"(?:(?:clearly|definitely|probably|really|just|already|still|too|quite|pretty|very|so|likely|simply|an?"
        r"|the)\s+)*(?:bad|poor|terrible|awful|worse|worst|disappointing|waste|wasteful|premature|pointless|risky"
        r"|useless|unnecessary|mistake|trap|losing|broad|wrong|dangerous|unhelpful|irrelevant|overkill|suboptimal"
        r"|inferior|weak)\b",
        rf"{_T}{_CLOSE}\s+(?:again\s+)?(?:is\s+not|isn['’]t|was\s+not|wasn['’]t|does\s+not|doesn['’]t|would\s+not"
        rf"|wouldn['’]t|should\s+not|shouldn['’]t|seems\s+not|is\s+no\s+longer)\s+(?!{_NOT_TRIED})",
        rf"{_T}{_CLOSE}\s+(?:should\s+be\s+avoided|must\s+be\s+avoided|is\s+to\s+be\s+avoided|would\s+lose|will\s+lose"
        r"|loses|has\s+(?:the\s+)?(?:lowest|worst)|had\s+the\s+(?:lowest|worst)|can\s+be\s+ruled\s+out"
        r"|is\s+ruled\s+out|has\s+(?:been\s+)?(?:disappointing|poor|terrible|bad))",
        rf"(?:{_VERB_ING})\s+{_OPEN}{_DET}{_OPEN}{_T}{_CLOSE}(?:\s+again)?\s+(?:would|will|is|seems)\s+(?:be\s+)?"
        r"(?:(?:a|too|just|clearly|probably)\s+)*(?:waste|wasteful|premature|pointless|mistake|risky|bad|wrong"
        r"|unnecessary|useless|leak\w*|dangerous)",
    )
)

_HEDGE: Final = re.compile(
    r"\b(?:not\s+(?:sure|certain)|unsure|uncertain|hard\s+to\s+(?:say|tell|decide)|difficult\s+to\s+(?:say|tell"
    r"|decide)|can(?:['’]|no)?t\s+(?:decide|tell|say)|torn\s+between|undecided|no\s+clear\s+winner"
    r"|either\s+(?:one|way|of\s+them|could|would|is)|any\s+of\s+(?:them|these)|whichever|could\s+go\s+either"
    r"|coin\s+flip|toss-?up|ne\s+suis\s+pas\s+s[uû]r|no\s+s[ée]|wei[ßs]\s+nicht)\b"
    rf"|\beither\s+{_OPEN}{_SLOT}",
    _FLAGS,
)
# Two names joined as alternatives around the decisive mention: "red or blue", "red/blue", "red, blue".
_GROUP_AFTER: Final = re.compile(
    rf"{_CLOSE}(?:\s*,\s*(?:(?:or|and)\s+)?|\s+(?:or|and|nor|vs\.?|versus)\s+|\s*/\s*)(?:the\s+)?{_OPEN}{_SLOT}",
    re.IGNORECASE,
)
_GROUP_BEFORE: Final = re.compile(
    rf"{_SLOT}{_CLOSE}(?:\s*,\s*(?:(?:or|and)\s+)?|\s+(?:or|and|nor|vs\.?|versus)\s+|\s*/\s*)(?:the\s+)?{_OPEN}$",
    re.IGNORECASE,
)
_HISTORY_LINE: Final = re.compile(
    r"^[ \t]*[-*>|#]*[ \t]*(?:step|round|turn|trial|t|time|episode|pull|iteration)[ \t]*[#=:]?[ \t]*\d+\b", _FLAGS
)
_DEFERRED: Final = re.compile(
    r"\b(?:next\s+(?:round|time|turn|episode)|later|eventually|in\s+the\s+future|afterwards|at\s+some\s+point)\b",
    re.IGNORECASE,
)
_CORRECTION: Final = re.compile(
    r"\b(?:actually|instead|on\s+second\s+thought|wait|changed?\s+my\s+mind|scratch\s+that|rather|correction"
    r"|finally|final|no\b)",
    re.IGNORECASE,
)
# A sentence ends at . ! ? before a space or the end, or at a line break (written to start with a character class,
# which sre searches for without trying the pattern at every position).
_SENTENCE_END: Final = re.compile(r"[.!?\n](?:(?<=\n)|(?=\s|$))")


# --------------------------------------------------------------------------------------------------------------
# Gates. Most patterns cannot match most rationales: "I will pick X" needs one of the verbs, "X has the highest
# UCB" needs "highest"/"best"/..., and so on. Each pattern is parsed once at import into the words it cannot match
# without (an AND of ORs of lower-case letter strings, derived from the regex itself, so it can never drift from
# it); per call, the letter runs of the rationale say which of those words are present, and a pattern whose
# requirement is not met is not run at all. This only skips scans that would find nothing: the readings are those
# of running every pattern (tests/test_rationale_equivalence.py checks it against a frozen full-scan copy).
# Besides letters the gates read apostrophes, parentheses, digits and other characters (see _letter), and they read
# the masked text, in which the placeholder requires nothing (tests/test_rationale_gates.py).
# --------------------------------------------------------------------------------------------------------------

_Requirement = tuple[frozenset[str], ...]  # every set must have a member in the text (as a substring)
_APOSTROPHES: Final = "'\u2019"
_OTHER: Final = "~"  # any character that does not fold to ASCII (so not an apostrophe either), for the gates
_DIGIT: Final = "0"  # any ASCII digit, for the gates (\d also matches other digits: _OTHER for the gates)
_PARENTHESES: Final = "()"  # read as themselves by the gates ("I will call (X)" needs both)
# The characters that fold to ASCII (see ``_fold``): ASCII itself, and those of actions._FOLD.
_FOLDING_TO_ASCII: Final = "".join(map(chr, range(128))) + "\u0130\u0131\u017f\u212a"


@functools.cache
def _letter(code: object) -> str | None:
    """What a literal is to the gates: the lower-case ASCII letter it matches (case-insensitively), ' for either
    apostrophe, a parenthesis, ``_DIGIT`` for a digit, ``_OTHER`` for a character that matches no character folding to
    ASCII, or None (no requirement).

    The gates read the text the same way (``_factors``): ’ as ', every digit as ``_DIGIT`` and every other character
    that is not ASCII as ``_OTHER``. So "n't" is a factor (only ' and ’ match an apostrophe), a history line needs a
    digit, "选择" needs some character that is not ASCII, and "(X)" needs both parentheses. Each such literal matches
    only characters that the gates read as it: what a match requires is still in the text the gates read.
    """
    if not isinstance(code, int):
        return None
    ch = chr(code)
    if ch == _SLOT:  # in every text the reader scans: it requires nothing (and the gates read it as a space)
        return None
    if ch in _APOSTROPHES:
        return "'"
    if ch in _PARENTHESES:
        return ch
    if "0" <= ch <= "9":
        return _DIGIT
    low = ch.lower()
    if len(low) == 1 and "a" <= low <= "z":
        return low
    if ch.isascii():
        return None
    literal = re.compile(re.escape(ch), re.IGNORECASE)
    return None if any(literal.fullmatch(other) for other in _FOLDING_TO_ASCII) else _OTHER


def _single_letter(items: Sequence[tuple[Any, Any]], constants: Any) -> str | None:
    """The letter of a class whose members are all that letter for the gates (['’]), or None."""
    letters = {_letter(v) if o is constants.LITERAL else None for o, v in items}
    return letters.pop() if len(letters) == 1 else None


def _requirement_of(items: Sequence[tuple[Any, Any]], constants: Any) -> list[frozenset[str]]:
    """What a parsed regex sequence cannot match without; conservative: anything unknown requires nothing."""
    c = constants
    repeats = tuple(getattr(c, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(c, name))
    out: list[frozenset[str]] = []
    run: list[str] = []
    for op, av in items:
        letter = _letter(av) if op is c.LITERAL else _single_letter(av, c) if op is c.IN else None
        if letter is not None:
            run.append(letter)  # consecutive literals are matched consecutively: one string
            continue
        if run:
            out.append(frozenset({"".join(run)}))
            run = []
        if op is c.SUBPATTERN:
            out.extend(_requirement_of(av[3].data, c))
        elif op in repeats:
            if av[0] >= 1:
                out.extend(_requirement_of(av[2].data, c))
        elif op is c.BRANCH:
            alternatives = [_requirement_of(alternative.data, c) for alternative in av[1]]
            if alternatives and all(alternatives):
                # Each alternative needs every one of its own sets, so the branch needs the union of any one set of
                # each: that of the weakest sets, and those of the first and of the last sets (often the rarer words
                # that all the alternatives end with: "is not", "isn't", "should not").
                for choose in (lambda a: min(a, key=_weakness), lambda a: a[0], lambda a: a[-1]):
                    union = frozenset().union(*map(choose, alternatives))
                    if union not in out:
                        out.append(union)
        elif op is c.IN and av and all(o is c.LITERAL and _letter(v) is not None for o, v in av):
            out.append(frozenset(str(_letter(v)) for _, v in av))
        elif op is c.IN and list(av) == [(c.CATEGORY, c.CATEGORY_DIGIT)]:  # \d
            out.append(frozenset({_DIGIT, _OTHER}))
        # anything else (lookarounds, anchors, classes, groups references, ...) requires nothing
    if run:
        out.append(frozenset({"".join(run)}))
    return out


def _weakness(choices: frozenset[str]) -> tuple[bool, int, int]:
    shortest = min(len(choice) for choice in choices)
    return shortest <= 1, len(choices), -shortest


def _requirement(pattern: re.Pattern[str]) -> _Requirement:
    if _PARSER is None:  # pragma: no cover - no parser: no gate, every pattern runs
        return ()
    try:
        return tuple(_requirement_of(_parsed(pattern), _PARSER[1]))
    except Exception:  # pragma: no cover - an unexpected parse tree: no gate
        return ()


_GATED: Final[tuple[re.Pattern[str], ...]] = (
    *(cue.pattern for cue in _POSITIVE_CUES),
    *_NEGATIONS,
    _HISTORY_LINE,
    _HEDGE,
    _DEFERRED,
    _CORRECTION,
)
_REQUIREMENTS: Final = {pattern: _requirement(pattern) for pattern in _GATED}
_FACTOR_BITS: Final = {
    factor: 1 << i
    for i, factor in enumerate(
        sorted({f for requirement in _REQUIREMENTS.values() for choices in requirement for f in choices})
    )
}
_MAX_FACTOR: Final = max(map(len, _FACTOR_BITS), default=1)
_ALL_FACTORS: Final = (1 << len(_FACTOR_BITS)) - 1
# One mask per set of choices: the pattern may match only if (present & mask) for every mask.
_GATES: Final = {
    pattern: tuple(sorted((sum(_FACTOR_BITS[f] for f in choices) for choices in requirement), key=int.bit_count))
    for pattern, requirement in _REQUIREMENTS.items()
}
_HEDGE_GATE: Final = _GATES[_HEDGE]
_DEFERRED_GATE: Final = _GATES[_DEFERRED]
_CORRECTION_GATE: Final = _GATES[_CORRECTION]

# Maps the bytes of a UTF-8 text so that its runs of what the gates read (letters a-z, ', ( and ), digits as _DIGIT,
# other characters as _OTHER; see _letter) are the runs of non-space bytes: a multi-byte character is a first byte
# >= 0xC0, mapped to _OTHER, then bytes 0x80-0xBF, deleted (bytes.translate and split are much faster than a findall).
_LETTERS_ONLY: Final = bytes(
    code
    if 0x61 <= code <= 0x7A or chr(code) in "'()"
    else ord(_DIGIT)
    if 0x30 <= code <= 0x39
    else ord(_OTHER)
    if code >= 0xC0
    else 0x20
    for code in range(256)
)
_CONTINUATION_BYTES: Final = bytes(range(0x80, 0xC0))
_RUN_MASKS: dict[bytes, int] = {}  # letter run -> the factors it contains (a bounded cache)
_RUN_CACHE_SIZE: Final = 50_000
_LONG_RUN: Final = 40  # longer runs are not decomposed: they count as containing every factor
_FEW_RUNS: Final = 32  # from this many runs on, repeats are dropped first


def _run_mask(run: bytes) -> int:
    if len(run) > _LONG_RUN:
        return _ALL_FACTORS
    mask = 0
    bits = _FACTOR_BITS
    letters = run.decode("ascii")
    for i in range(len(letters)):
        for j in range(i + 1, min(len(letters), i + _MAX_FACTOR) + 1):
            mask |= bits.get(letters[i:j], 0)
    if len(_RUN_MASKS) >= _RUN_CACHE_SIZE:
        _RUN_MASKS.clear()
    _RUN_MASKS[run] = mask
    return mask


def _present(text: str) -> int:
    """The factors that occur in ``text`` (case-insensitively, as re.IGNORECASE sees it), as a bit mask."""
    return _factors(_fold(text))


def _factors(low: str) -> int:
    """The factors that occur in ``low``, a text already folded and lower-cased: those of its runs of what the gates
    read (see ``_letter``: ’ read as ', digits as ``_DIGIT``, other characters that are not ASCII as ``_OTHER``, the
    placeholder as a space)."""
    low = low.replace(_SLOT, " ")  # it requires nothing (see _letter)
    if low.isascii():
        runs = low.encode().translate(_LETTERS_ONLY).split()
    else:
        low = low.replace("\u2019", "'")
        runs = low.encode("utf-8", "surrogatepass").translate(_LETTERS_ONLY, _CONTINUATION_BYTES).split()
    # A run seen twice adds nothing: dropping repeats pays once there are many runs (a set costs more than it saves on
    # a sentence or two).
    distinct = runs if len(runs) < _FEW_RUNS else set(runs)
    masks = _RUN_MASKS
    mask = 0
    try:  # usually every run is known: subscripting, with no test per run, is the cheapest loop
        for run in distinct:
            mask |= masks[run]
    except KeyError:  # one is not: start again, decomposing the runs not known yet
        mask = 0
        get = masks.get
        for run in distinct:
            found = get(run)
            mask |= _run_mask(run) if found is None else found
    return mask


def _may_match(gate: tuple[int, ...], present: int) -> bool:
    return all(present & choices for choices in gate)


# --------------------------------------------------------------------------------------------------------------
# Scans. A pattern that its gate lets through is run in its folded form, and usually only checked, not run:
# * Folded form. Folding (``_fold``: four special characters replaced, then lower-casing) maps the text character
#   for character (once U+0130 is replaced, no character lower-cases to two), keeps \w, \s, \d and line breaks as
#   they are, and sends every character that re.IGNORECASE matches to a literal of the patterns onto that literal.
#   So each pattern, compiled without re.IGNORECASE, matches the folded text exactly where it matches the text
#   with it (the tests check this over every code point; ``_foldable`` refuses literals for which it would not
#   hold). It is much faster: sre skips a case-sensitive alternative on its first character instead of entering
#   it, and the cues are long lists of alternatives. The gates read the same folded text.
# * Backward check. Every cue or negation match contains the placeholder (group ``a``). The pattern up to that
#   group, reversed, starts with the placeholder, so sre only tries it where the reversed text has one: a few
#   attempts instead of one per character. Whenever the pattern matches the text, the reversed prefix matches
#   the reversed text (look-behinds become look-aheads and fixed-width look-aheads look-behinds; anything that
#   cannot be reversed is dropped, which only lets the check find more); so when the check finds nothing, the
#   pattern is not run. Patterns that start with the placeholder need no check: sre already searches for it.
# The parse-tree rewrites behind these forms (reversal, literal-first and factored forms, foldability) are in
# guardrail._regex_forms, each with why it cannot change a match.
# --------------------------------------------------------------------------------------------------------------


def _backward(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """The backward check of ``pattern`` (same flags), to search the reversed text, as the reader runs it but not
    factored; None where it gets none (see ``_check_source``)."""
    source = _check_source(pattern, _literal_first_items(pattern) is not None)
    return None if source is None else re.compile(source, pattern.flags)


# The words between a verb and its action, and a pattern that matches every string they match (any run of the
# characters they are made of: word characters, spaces, and those of _OPEN), for the backward checks (see _scan).
_GAP: Final = rf"\s+{_ADV}{_OPEN}{_DET}{_OPEN}"
_LOOSE_GAP: Final = r"\s[\w\s*_`'\"“”‘’«»(\[]*"


def _check_source(pattern: _Source, literal_first: bool) -> str | None:
    """The source of the backward check that the reader runs for ``pattern`` (given whether its forward form is
    literal-first), before factoring; None where it gets none.

    A literal-first pattern that reaches its action through _DET gets no backward check: the reversed _DET (optional
    words, then an optional word of any letters) backtracks through every split of the words before the mention, and
    the check costs more than the forward scan it would spare (measured, short and long texts alike). A check only
    ever skips scans that find nothing, so dropping one changes no reading.

    A pattern that reaches it through the words between a verb and the name (_GAP) is checked instead with those words
    loosened to any run of their characters (_LOOSE_GAP), which costs about half as much: the loosened pattern matches
    wherever the pattern does (and more), so its check finds nothing only where the pattern finds nothing. Except for
    the literal-first patterns that start with a subject (_NOT_HYPOTHETICAL: "i", "we", "let", whose few first letters
    make the forward scan as cheap as the check; measured).
    """
    if _GAP in pattern.pattern and not (literal_first and pattern.pattern.startswith(_NOT_HYPOTHETICAL)):
        loosened = _Form(pattern.pattern.replace(_GAP, _LOOSE_GAP), pattern.flags, pattern.groupindex)
        return _backward_source(loosened, "a")
    if literal_first and _DET in pattern.pattern:
        return None
    return _backward_source(pattern, "a")


class _Scan(NamedTuple):
    forward: re.Pattern[str]  # the pattern, to run over the text of its form
    backward: re.Pattern[str] | None  # to search that text reversed: when it finds nothing, the pattern is not run


_SCANS: dict[tuple[re.Pattern[str], bool], _Scan] = {}


def _scan_form(pattern: re.Pattern[str], folded: bool) -> re.Pattern[str]:
    """``pattern`` as run over the folded text (without re.IGNORECASE), or as it is."""
    return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE) if folded else pattern


def _scan(pattern: re.Pattern[str], folded: bool) -> _Scan:
    """``pattern`` ready to run over the masked text, or in its folded form over the folded text; compiled once."""
    scan = _SCANS.get((pattern, folded))
    if scan is None:
        if _PARSER is None:  # pragma: no cover - no parser: no other form
            scan = _SCANS[pattern, folded] = _Scan(_scan_form(pattern, folded), None)
            return scan
        c = _PARSER[1]
        form = _Form(pattern.pattern, pattern.flags & ~re.IGNORECASE if folded else pattern.flags, pattern.groupindex)
        # Each form is built as a parse tree and compiled once, factored: compiling is most of a first call's cost.
        items = _literal_first_items(form)
        literal_first = items is not None
        head = None if literal_first else _fail_fast_head(form)
        if head is not None:  # _fail_fast(form), as a tree
            look_ahead = _Seq([(c.IN, [(c.LITERAL, ord(ch)) for ch in head])])
            items = [(c.ASSERT, (1, look_ahead)), (c.SUBPATTERN, (None, 0, 0, _Seq(list(_parsed(form)))))]
        source = _check_source(form, literal_first)
        backward = None
        if source is not None:
            try:
                backward = _compiled(_PARSER[0].parse(source, form.flags & re.VERBOSE).data, form.flags, {})
            except (_Irreversible, re.error):  # pragma: no cover - an unexpected parse tree: no check
                backward = None
        scan = _SCANS[pattern, folded] = _Scan(_factored(form, items), backward)
    return scan


_CUE_GATES: Final = tuple((cue, _GATES[cue.pattern]) for cue in _POSITIVE_CUES)
# The order in which the plans run the cues: by weight, strongest first, in their order among equals (a stable sort).
_BY_WEIGHT: Final = tuple(sorted(_CUE_GATES, key=lambda item: -item[0].weight))
_NEGATION_GATES: Final = tuple((pattern, _GATES[pattern]) for pattern in _NEGATIONS)
_HISTORY_GATE: Final = _GATES[_HISTORY_LINE]
# The patterns run after the scans, around the decisive mention, over the same text as the scans.
_AFTER_SCANS: Final = (_GROUP_AFTER, _GROUP_BEFORE, _HEDGE, _DEFERRED, _CORRECTION)
# Whether the folded forms are used: only if every pattern so run allows it (the tests require it).
_FOLDED: Final = _PARSER is not None and all(
    _foldable(_parsed(pattern), _PARSER[1])
    for pattern in (*(cue.pattern for cue in _POSITIVE_CUES), *_NEGATIONS, _HISTORY_LINE, *_AFTER_SCANS)
)
_AFTER_FORMS: dict[bool, tuple[re.Pattern[str], ...]] = {}  # folded or not -> the forms of _AFTER_SCANS


def _after_forms(folded: bool) -> tuple[re.Pattern[str], ...]:
    """The forms of _AFTER_SCANS (compiled on first use, as the scans are)."""
    forms = _AFTER_FORMS.get(folded)
    if forms is None:
        forms = _AFTER_FORMS[folded] = tuple(_factored(_scan_form(p, folded)) for p in _AFTER_SCANS)
    return forms


_Search = Callable[..., "re.Match[str] | None"]  # a compiled pattern's bound search


class _Step(NamedTuple):
    """One scan of a plan, ready to run: bound searches and group numbers, so the loop over them looks nothing up."""

    check: _Search | None  # the backward check's search (over the reversed text), or None
    search: _Search  # the forward pattern's search
    action: int  # the number of group ``a``
    loser: int  # the number of group ``b``, 0 if none
    cue: str  # the cue's name ("" for a negation)
    weight: float


class _Plan(NamedTuple):
    """What may match a rationale with given factors, in one form; the rest cannot match and is never run."""

    negations: tuple[_Step, ...]
    cues: tuple[_Step, ...]
    history: re.Pattern[str] | None
    group_after: re.Pattern[str]
    group_before: re.Pattern[str]
    hedge: re.Pattern[str] | None  # None: its gate says it cannot match
    deferred: re.Pattern[str] | None
    correction: re.Pattern[str] | None
    checked: bool  # whether any of the scans has a backward check (else the text is not reversed)


def _step(pattern: re.Pattern[str], folded: bool, cue: str = "", weight: float = 0.0) -> _Step:
    scan = _scan(pattern, folded)
    return _Step(
        check=None if scan.backward is None else scan.backward.search,
        search=scan.forward.search,
        action=scan.forward.groupindex["a"],
        loser=scan.forward.groupindex.get("b", 0),
        cue=cue,
        weight=weight,
    )


# Present-factor mask -> the plan in the folded form, and in the unfolded one (bounded caches). Keyed by the mask alone,
# the reader's look-up hashes it without building a key.
_PLANS: dict[int, _Plan] = {}
_UNFOLDED_PLANS: dict[int, _Plan] = {}


def _plan(present: int, folded: bool) -> _Plan:
    """The scans and checks whose trigger words are all present, in the given form; memoised."""
    plans = _PLANS if folded else _UNFOLDED_PLANS
    plan = plans.get(present)
    if plan is None:
        negations = tuple(_step(p, folded) for p, gate in _NEGATION_GATES if _may_match(gate, present))
        cues = tuple(
            _step(cue.pattern, folded, cue.name, cue.weight) for cue, gate in _BY_WEIGHT if _may_match(gate, present)
        )
        group_after, group_before, hedge, deferred, correction = _after_forms(folded)
        plan = _Plan(
            negations=negations,
            cues=cues,
            history=_scan(_HISTORY_LINE, folded).forward if _may_match(_HISTORY_GATE, present) else None,
            group_after=group_after,
            group_before=group_before,
            hedge=hedge if _may_match(_HEDGE_GATE, present) else None,
            deferred=deferred if _may_match(_DEFERRED_GATE, present) else None,
            correction=correction if _may_match(_CORRECTION_GATE, present) else None,
            checked=any(step.check is not None for step in (*negations, *cues)),
        )
        if len(plans) >= _RUN_CACHE_SIZE:
            plans.clear()
        plans[present] = plan
    return plan


@dataclass(slots=True)
class _Hit:  # not frozen: a frozen dataclass costs four times as much to build, and hits are built per match
    cue: str
    weight: float
    mention: int  # index into the mentions
    start: int  # the cue's span in the masked text
    end: int


_CAPITAL_SIGMA: Final = "\u03a3"


class _Masked:
    """The rationale with each mention replaced by ``_SLOT``, as the scans read it, and the way back to the original.

    ``text`` is what the scans and the checks after them run over: the masked text folded (``_fold``) when the folded
    forms are in use, else the masked text itself; ``folded`` is the masked text folded either way (for the gates).

    The folded masked text is cut from the folded rationale, which finding the mentions needs anyway, rather than
    folded again once masked. It is the same text: ``_fold`` replaces four characters by one each, then lower-cases,
    and str.lower maps every character to one character on its own, except for U+0130 (replaced first) and U+03A3
    (capital sigma, lower-cased to a final or a medial sigma by its neighbours, which masking can change): so, for a
    text without U+03A3, folding then replacing spans by ``_SLOT`` (which folds to itself) is replacing them then
    folding. A text with U+03A3 is masked, then folded. (tests/test_rationale_masking.py checks both over every code
    point and on random texts.)
    """

    __slots__ = ("actions", "ends", "folded", "offset", "slot_positions", "starts", "text")

    def __init__(self, text: str, space: ActionSpace, offset: int) -> None:
        clean = text.replace(_SLOT, " ")
        folded = _fold(clean)
        cut_folded = _FOLDED and (clean.isascii() or _CAPITAL_SIGMA not in clean)
        pattern = space._folded_mention_pattern
        slot_positions: list[int] = []
        # each mention's action and span in ``text`` (plus ``offset``: in the rationale), gathered here rather than
        # unzipped from the mentions (which costs more than the appends)
        actions: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        removed = 0  # how much shorter the masked text is so far
        if cut_folded and pattern is not None:
            # ``space._mention_spans(clean, folded)``, fused with the masking: the mention pattern's split of the
            # folded text is its pieces between the matches (the folded segments, once the matches that name no
            # action are put back) and the matches themselves, found as finditer finds them, without a match object
            # each; the spans follow from the pieces' lengths (folding keeps offsets). A spelling's action is looked
            # up (and remembered) exactly as _mention_spans does (tests/test_rationale_masking.py compares them).
            pieces = pattern.split(folded)
            segments = [pieces[0]]
            spellings = space._spellings
            get = spellings.get
            start = len(pieces[0])
            for i in range(1, len(pieces), 2):
                end = start + len(pieces[i])
                spelling = clean[start:end]
                action = get(spelling)
                if action is None:
                    action = space._by_key.get(normalise_key(spelling), "")
                    if len(spellings) >= _SPELLINGS_CACHE_SIZE:
                        spellings.clear()
                    spellings[spelling] = action
                after = pieces[i + 1]
                if action:
                    slot_positions.append(start - removed)
                    removed += end - start - 1
                    actions.append(action)
                    starts.append(start)
                    ends.append(end)
                    segments.append(after)
                else:  # not a mention: the match stays in the text
                    segments[-1] += pieces[i] + after
                start = end + len(after)
        else:
            source = folded if cut_folded else clean
            segments = []
            cursor = 0  # in the source
            for action, start, end in space._mention_spans(clean, folded):
                segments.append(source[cursor:start])
                slot_positions.append(start - removed)
                removed += end - start - 1
                cursor = end
                actions.append(action)
                starts.append(start)
                ends.append(end)
            segments.append(source[cursor:])
        masked = _SLOT.join(segments)
        self.text = masked if cut_folded else _fold(masked) if _FOLDED else masked
        self.folded = self.text if _FOLDED else _fold(masked)
        self.offset = offset
        self.slot_positions = slot_positions
        self.actions: Sequence[str] = actions
        self.starts: Sequence[int] = starts
        self.ends: Sequence[int] = ends

    def mention_at(self, position: int) -> int | None:
        """The index of the mention whose placeholder is at ``position``, or None."""
        i = bisect.bisect_left(self.slot_positions, position)
        return i if i < len(self.slot_positions) and self.slot_positions[i] == position else None

    def original(self, position: int, *, end: bool = False) -> int:
        """Map a masked offset to the original text (a slot's end maps to its mention's end)."""
        i = bisect.bisect_right(self.slot_positions, position - 1 if end else position) - 1
        if i < 0:
            return position + self.offset
        slot = self.slot_positions[i]
        if position == slot:
            return self.starts[i] + self.offset
        return self.ends[i] + (position - slot - 1) + self.offset


def _sentence_start(text: str, position: int) -> int:
    start = 0
    for match in _SENTENCE_END.finditer(text, 0, position):
        start = match.end()
    return start


def _sentence_end(text: str, position: int) -> int:
    match = _SENTENCE_END.search(text, position)
    return match.end() if match else len(text)


@dataclass(frozen=True, slots=True, kw_only=True)
class LexicalReader:
    """The default reader: recommendation cues, negation, comparison and hedging, by regular expressions.

    The concluding recommendation wins (usually the last decision cue, "so I choose X"); statements such as
    "X has the highest UCB" count when no decision is stated. Mentions in negations ("avoid X", "rather than X"),
    questions, alternatives ("X or Y") and history lines ("Step 3: X gave 0.4") never count, and a hedge after
    the decisive cue gives no reading.

    Args:
        min_confidence: below this confidence, return :data:`NO_READING` (precision before recall).
        use_evidence: whether statements that only favour an action ("X has the highest UCB", "X is better
            than Y") may decide when no explicit decision is stated.
        max_chars: only the last ``max_chars`` characters of a longer rationale are read (the conclusion is at
            the end), which bounds the cost on pathological input.
    """

    min_confidence: float = 0.5
    use_evidence: bool = True
    max_chars: int = 20_000

    def __post_init__(self) -> None:
        min_confidence: object = self.min_confidence
        use_evidence: object = self.use_evidence
        max_chars: object = self.max_chars
        if isinstance(min_confidence, bool) or not isinstance(min_confidence, (int, float)):
            raise ConfigurationError(f"min_confidence must be a number; got {self.min_confidence!r}")
        if not 0.0 <= min_confidence <= 1.0:
            raise ConfigurationError(f"min_confidence must be in [0, 1]; got {self.min_confidence!r}")
        if not isinstance(use_evidence, bool):
            raise ConfigurationError(f"use_evidence must be True or False; got {self.use_evidence!r}")
        if isinstance(max_chars, bool) or not isinstance(max_chars, int) or max_chars < 1:
            raise ConfigurationError(f"max_chars must be a positive integer; got {self.max_chars!r}")

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        """Read ``rationale`` against ``actions``; never raises on text, never returns an action outside it."""
        text: object = rationale  # typed str, but a reader must not raise on anything it is handed
        space: object = actions
        # ``not text or text.isspace()`` is ``not text.strip()`` (the same whitespace), without copying the text.
        if not isinstance(text, str) or not isinstance(space, ActionSpace) or not text or text.isspace():
            return NO_READING
        offset = len(rationale) - self.max_chars
        masked = _Masked(rationale[offset:], actions, offset) if offset > 0 else _Masked(rationale, actions, 0)
        if not masked.actions:
            return NO_READING
        reading = self._read(masked, rationale)
        if reading.action is None or reading.confidence < self.min_confidence:
            return NO_READING
        return reading

    # ----------------------------------------------------------------------------------------------------------

    def _read(self, masked: _Masked, rationale: str) -> RationaleReading:
        text = masked.text
        present = _factors(masked.folded)
        plan = (_PLANS if _FOLDED else _UNFOLDED_PLANS).get(present) or _plan(present, _FOLDED)
        backward = text[::-1] if plan.checked else ""
        # Group ``a`` (and ``b``) of every scan is the placeholder itself, so it starts at a slot: its mention is the
        # slot's index among the slot positions (sorted), found by bisection.
        slots = masked.slot_positions
        slot_index = _slot_index
        # Every match holds the placeholder, so none is empty: searching again from the end of the last match finds
        # what finditer finds, without building an iterator for the scans that find nothing (most of them); and
        # past the last placeholder there is nothing left to find.
        last = slots[-1]
        negated: set[int] = set()
        for check, search, a, _, _, _ in plan.negations:
            if check is not None and check(backward) is None:
                continue
            match = search(text)
            while match is not None:
                negated.add(slot_index(slots, match.start(a)))
                end = match.end()
                match = search(text, end) if end <= last else None
        # The same mention may be hit by several cues: the strongest hit (the first of equals) stands for it. The plan
        # runs the cues by weight, strongest first (in their order among equals): the first hit on a mention is the
        # one that stands, and once every mention has one, the cues left can only negate the losers of comparisons.
        # So a cue that compares nothing only needs its matches on mentions without a hit yet, all at or before the
        # last of them (``open_slot``): its backward check starts at that slot in the reversed text (it finds what it
        # finds at the slots up to it, and a match whose action is there is one the check finds there), and its scan
        # stops once past it (later matches have their action at later slots, which all have a hit).
        best: dict[int, _Hit] = {}
        mentions = len(slots)
        full = False
        open_last = mentions - 1  # the last mention without a hit
        open_slot = last
        check_from = len(text) - 1 - open_slot  # that slot's position in the reversed text
        steps = iter(plan.cues)
        for check, search, a, b, cue, weight in steps:
            if b:
                if check is not None and check(backward) is None:
                    continue
                limit = last
            else:
                if check is not None and check(backward, check_from) is None:
                    continue
                limit = open_slot
            match = search(text)
            while match is not None:
                index = slot_index(slots, match.start(a))
                end = match.end()
                if b and match.start(b) >= 0:
                    loser = slot_index(slots, match.start(b))
                    if masked.actions[loser] != masked.actions[index]:
                        negated.add(loser)
                if index not in best:
                    best[index] = _Hit(cue, weight, index, match.start(), end)
                    if len(best) == mentions:
                        full = True
                    elif index == open_last:
                        open_last -= 1
                        while open_last in best:
                            open_last -= 1
                        open_slot = slots[open_last]
                        check_from = len(text) - 1 - open_slot
                        if not b:
                            limit = open_slot
                match = search(text, end) if end <= limit else None
            if full:
                break
        if full:
            for check, search, a, b, _, _ in steps:  # the rest of them
                if not b or (check is not None and check(backward) is None):
                    continue
                match = search(text)
                while match is not None:
                    end = match.end()
                    if match.start(b) >= 0:
                        loser = slot_index(slots, match.start(b))
                        if masked.actions[loser] != masked.actions[slot_index(slots, match.start(a))]:
                            negated.add(loser)
                    match = search(text, end) if end <= last else None
        if not best:
            return NO_READING
        # Negated mentions and those on history lines do not count (whatever hit them: keeping the strongest hit per
        # mention first leaves the same hits).
        history = plan.history
        if negated or history is not None:
            ordered = [
                best[i]
                for i in sorted(best)  # in text order
                if i not in negated and not (history is not None and _on_history_line(masked, i, history))
            ]
        else:
            ordered = [*map(best.__getitem__, sorted(best))]  # the same, when neither can drop a hit
        for hit in reversed(ordered):
            if hit.weight >= DECISION:
                return self._decide(masked, rationale, hit, ordered, negated, plan)
        if not ordered or not self.use_evidence:
            return NO_READING
        return self._from_evidence(masked, rationale, ordered, negated, plan)

    @staticmethod
    def _rejected(masked: _Masked, hit: _Hit, plan: _Plan, sentence_end: int, alone: bool | None = None) -> bool:
        """A hit that does not commit: in a question, one of alternatives, or followed by a hedge.

        ``alone``: whether every mention names the hit's action, if the caller knows it."""
        text = masked.text
        position = masked.slot_positions[hit.mention]
        actions = masked.actions
        action = actions[hit.mention]
        if text[sentence_end - 1 : sentence_end] == "?":
            return True
        # Alternatives reject only with another action: where every mention names this one, they cannot.
        if alone is None:
            alone = actions.count(action) == len(actions)
        if not alone:
            after = plan.group_after.match(text, position + 1)
            if after is not None:
                other = masked.mention_at(after.end() - 1)
                if other is not None and actions[other] != action:
                    return True
            before = plan.group_before.search(text, max(0, position - 40), position)
            if before is not None:
                other = masked.mention_at(before.start())
                if other is not None and actions[other] != action:
                    return True
        return plan.hedge is not None and plan.hedge.search(text, hit.start) is not None

    def _decide(
        self, masked: _Masked, rationale: str, hit: _Hit, ordered: Sequence[_Hit], negated: set[int], plan: _Plan
    ) -> RationaleReading:
        text = masked.text
        mention = hit.mention
        position = masked.slot_positions[mention]
        end_match = _SENTENCE_END.search(text, position)  # _sentence_end, inlined
        sentence_end = end_match.end() if end_match else len(text)
        actions = masked.actions
        action = actions[mention]
        alone = actions.count(action) == len(actions)  # every mention names the action
        if alone and plan.hedge is None:  # what _rejected finds then: only a question rejects it
            if text[sentence_end - 1 : sentence_end] == "?":
                return NO_READING
        elif self._rejected(masked, hit, plan, sentence_end, alone):
            return NO_READING
        # Negating the chosen action after choosing it is a contradiction.
        if negated and any(actions[i] == action and i > mention for i in negated):
            return NO_READING
        confidence = hit.weight  # a decision: in [0.8, 1], so in [0.2, 0.99] at the end
        if plan.deferred is not None and plan.deferred.search(text, position, sentence_end):
            confidence *= 0.5
        if alone:  # no other action: every other hit agrees (what the loop below finds)
            agreeing = len(ordered) - 1
        else:
            agreeing = 0
            conflicting_before = conflicting_after = False  # another action: decided before, or named after
            for other in ordered:
                if other is hit:
                    continue
                if actions[other.mention] == action:
                    agreeing += 1
                elif other.mention > mention:
                    conflicting_after = True
                elif other.weight >= DECISION:
                    conflicting_before = True
            if conflicting_before and not (
                plan.correction is not None
                and plan.correction.search(text, _sentence_start(text, position), sentence_end)
            ):
                confidence -= 0.1
            if conflicting_after:
                confidence -= 0.1
        confidence += 0.05 * (agreeing if agreeing < 2 else 2)  # min(0.99, confidence + 0.05 * min(agreeing, 2))
        return self._reading(masked, rationale, action, confidence if confidence < 0.99 else 0.99, hit)

    def _from_evidence(
        self, masked: _Masked, rationale: str, ordered: Sequence[_Hit], negated: set[int], plan: _Plan
    ) -> RationaleReading:
        negative_actions = {masked.actions[i] for i in negated}
        usable = [
            h
            for h in ordered
            if masked.actions[h.mention] not in negative_actions
            and not self._rejected(masked, h, plan, _sentence_end(masked.text, masked.slot_positions[h.mention]))
        ]
        if not usable or len(usable) != sum(1 for h in ordered if masked.actions[h.mention] not in negative_actions):
            return NO_READING
        candidates = {masked.actions[h.mention] for h in usable}
        if len(candidates) != 1:
            return NO_READING
        action = candidates.pop()
        last = usable[-1]
        confidence = min(0.9, max(h.weight for h in usable) + 0.05 * min(len(usable) - 1, 2))  # in [0.5, 0.9]
        return self._reading(masked, rationale, action, confidence, last)

    @staticmethod
    def _reading(masked: _Masked, rationale: str, action: str, confidence: float, hit: _Hit) -> RationaleReading:
        # Neither needs clamping: ``original`` maps the masked text's offsets, in order, onto offset..len(rationale),
        # and the confidence is in [0.2, 0.99] (cue weights are in [0.5, 1], checked by _cue; see the callers).
        start, end = masked.original(hit.start), masked.original(hit.end, end=True)
        return _valid_reading(action, confidence, rationale[start:end].strip() or None, (start, end))


def _on_history_line(masked: _Masked, mention: int, history: re.Pattern[str]) -> bool:
    # A history line match starts at a line start and stays on its line: matching there is finding it.
    text = masked.text
    return history.match(text, text.rfind("\n", 0, masked.slot_positions[mention]) + 1) is not None


def _valid_reading(action: str, confidence: float, evidence: str | None, span: tuple[int, int]) -> RationaleReading:
    """A reading built without ``__post_init__``: the reader's confidences are floats already clamped to [0, 1], and
    its action is never None, so the checks (there for custom readers) could not fail; skipping them halves the
    cost of building it. The fields are set as the frozen dataclass's ``__init__`` sets them."""
    reading = _new_object(RationaleReading)
    _set_action(reading, action)
    _set_confidence(reading, confidence)
    _set_evidence(reading, evidence)
    _set_span(reading, span)
    _set_judge_calls(reading, 0)
    return reading


_new_object: Final = object.__new__
# The slots' own setters (what object.__setattr__ ends up calling, without looking the attribute up by name).
_set_action: Final = RationaleReading.__dict__["action"].__set__
_set_confidence: Final = RationaleReading.__dict__["confidence"].__set__
_set_evidence: Final = RationaleReading.__dict__["evidence"].__set__
_set_span: Final = RationaleReading.__dict__["span"].__set__
_set_judge_calls: Final = RationaleReading.__dict__["judge_calls"].__set__
_slot_index: Final = bisect.bisect_left


_DEFAULT_READER: Final = LexicalReader()


def read_rationale(rationale: str, actions: ActionSpace, reader: RationaleReader | None = None) -> RationaleReading:
    """Which action ``rationale`` recommends, by ``reader`` (default: :class:`LexicalReader`).

    Never raises on any text; the reading's action is always in ``actions`` or None (a reader that answers
    outside the space is read as :data:`NO_READING`).
    """
    text: object = rationale  # typed str, but never raise on anything else
    if not isinstance(text, str) or not text:
        return NO_READING
    space = ActionSpace.of(actions)
    if reader is None and type(space) is ActionSpace:
        # The default reader's action is None or a mention's action, one of the space's names: always in it.
        return _DEFAULT_READER(rationale, space)
    reading = (reader or _DEFAULT_READER)(rationale, space)
    if reading.action is not None and reading.action not in space:
        return NO_READING
    return reading
