"""The loosened backward checks of the reader (see ``_scan`` in guardrail/rationale.py).

A cue that reaches its action through the words between a verb and the name (``_GAP``: "choose *just the* X") is
checked, over the reversed text, with those words loosened to any run of their characters (``_LOOSE_GAP``). The
loosened pattern matches wherever the cue does, so the check never skips a scan that would find something; these
tests check that on texts dense in such constructions (where the cues do match), and that the checks still reject.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrail import _regex_forms as regex_forms
from guardrail import rationale as fast
from guardrail.actions import _fold

SLOT = fast._SLOT

LOOSENED = [cue for cue in fast._POSITIVE_CUES if fast._GAP in cue.pattern.pattern]


def test_the_loosened_cues_are_those_expected() -> None:
    names = {cue.name for cue in LOOSENED}
    assert names == {"intent", "should", "imperative", "gerund", "worth-to"}
    for cue in LOOSENED:
        for folded in (False, True):
            scan = fast._scan(cue.pattern, folded)
            if cue.name in ("intent", "should"):  # literal-first, starting with a subject: no check (measured)
                assert scan.backward is None
            else:
                assert scan.backward is not None
                assert "\\w\\s" in scan.backward.pattern  # the loosened gap, reversed


def test_the_loose_gap_matches_everything_the_gap_matches() -> None:
    """Every character that the gap's parts can consume is one of the loose gap's (and it starts with a space)."""
    loose = re.compile(f"(?:{fast._LOOSE_GAP})$", re.IGNORECASE)
    parts = [fast._OPEN, r"[^\W\d]\w*\s+", r"\w+\s+"]  # markup, the words of _ADV and _DET, and their spaces
    for code in range(0x110000):
        ch = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        for part in parts:
            if re.fullmatch(part, ch, re.IGNORECASE) or re.fullmatch(part, ch + " ", re.IGNORECASE):
                assert loose.match(" " + ch), hex(code)
    for gap in (" ", " just the blue ", "  \tnow go ahead and **the button red *_(`", " `the _x1 '"):
        assert re.fullmatch(fast._GAP, gap, re.IGNORECASE), gap
        assert loose.match(gap), gap


GAP_TOKENS = st.sampled_from(
    [
        "just", "now", "then", "go ahead and", "keep on", "again", "the", "a", "an", "button", "arm", "colour",
        "red", "big", "x1", "_", "__", "*", "**", "`", "'", '"', "“", "”", "‘", "’", "«", "»", "(", "[", ":",
        "not", "than", "between", "9", "é", "ß", "\u0130",
    ]
)  # fmt: skip
SEPARATORS = st.sampled_from(["", " ", " ", "  ", "\t", "\n", " _", "_ ", " (", "* "])
STARTS = st.sampled_from(
    [
        "", "So ", "so, ", ". ", "and ", "Then: ", "- ", "> ", "please ", "it is worth to ", "it's time ",
        "best to ", "the plan is ", "I will ", "we should ", "if I ", "i'd ", "Choosing ", "keep ", "x. ",
    ]
)  # fmt: skip
VERBS = st.sampled_from(
    ["choose", "pick", "go with", "try out", "place my mark in", "press", "using", "picking", "going for", "settle on"]
)
ENDS = st.sampled_from(["", ".", " now.", " again", "!", ", because", " is best", "\n", "?"])
GAP_TEXTS = st.builds(
    lambda start, verb, gap, last, end, tail: f"{start}{verb} {''.join(a + b for a, b in gap)}{last}{SLOT}{end}{tail}",
    STARTS,
    VERBS,
    st.lists(st.tuples(SEPARATORS, GAP_TOKENS), max_size=8),
    st.sampled_from(["", " ", " ", " `", "**", " (", " _", "‘", "\n"]),
    ENDS,
    st.sampled_from(["", f" or {SLOT}", f" {SLOT} is bad."]),
)


def _check_never_skips(text: str) -> int:
    found = 0
    for cue in LOOSENED:
        for folded, subject in ((False, text), (True, _fold(text))):
            scan = fast._scan(cue.pattern, folded)
            if scan.backward is None:
                continue
            if scan.forward.search(subject) is not None:
                found += 1
                assert scan.backward.search(subject[::-1]) is not None, (cue.name, text)
    return found


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=GAP_TEXTS)
def test_a_loosened_check_never_skips_a_match(text: str) -> None:
    _check_never_skips(text)


def test_the_generated_texts_do_match() -> None:
    """The texts above exercise the checks: the cues match them often."""
    examples = [
        f"please choose just the _blue_ {SLOT}.",
        f"So pick (`{SLOT}`)",
        f"it is worth to try out a big * {SLOT}",
        f"Choosing now the ‘{SLOT}’ is best",
        f"- go with\t\tthe  [ {SLOT}",
        f"and place my mark in the x1 __{SLOT}",
    ]
    assert all(_check_never_skips(text) for text in examples)


def test_the_loosened_checks_reject() -> None:
    imperative = fast._scan(next(c for c in LOOSENED if c.name == "imperative").pattern, True).backward
    worth = fast._scan(next(c for c in LOOSENED if c.name == "worth-to").pattern, True).backward
    assert imperative is not None
    assert worth is not None
    assert imperative.search(f"so choose the {SLOT}."[::-1]) is not None
    assert imperative.search(f"so i should choose the {SLOT}."[::-1]) is None  # not a clause start
    assert imperative.search(f"so, {SLOT} is fine."[::-1]) is None  # no verb
    assert imperative.search(f"choose. {SLOT}"[::-1]) is None  # a full stop is no part of the gap
    assert worth.search(f"it is worth to pick {SLOT}"[::-1]) is not None
    assert worth.search(f"the best upper bound, so i should choose {SLOT}."[::-1]) is None


def _group_items(items: Any, group: int, constants: Any) -> list[tuple[Any, Any]] | None:
    """The parsed items of group number ``group`` within a parsed sequence, or None."""
    c = constants
    for op, av in items:
        subs: list[Any] = []
        if op is c.SUBPATTERN:
            if av[0] == group:
                return list(av[3].data)
            subs = [av[3]]
        elif op is c.BRANCH:
            subs = list(av[1])
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.ASSERT, c.ASSERT_NOT):
            subs = [av[-1]]
        for sub in subs:
            found = _group_items(sub.data, group, constants)
            if found is not None:
                return found
    return None


def test_the_action_groups_are_the_placeholder_itself() -> None:
    """``_read`` maps a match's groups ``a`` and ``b`` to mentions by bisecting the slot positions: that needs each
    group to be exactly the placeholder, in every form that is run."""
    assert regex_forms._PARSER is not None
    parser, constants = regex_forms._PARSER
    patterns = [*(cue.pattern for cue in fast._POSITIVE_CUES), *fast._NEGATIONS]
    for pattern in patterns:
        for folded in (False, True):
            forward = fast._scan(pattern, folded).forward
            items = parser.parse(forward.pattern, forward.flags & re.VERBOSE).data
            for name, number in forward.groupindex.items():
                assert name in ("a", "b"), forward.pattern[:60]
                assert _group_items(items, number, constants) == [(constants.LITERAL, ord(SLOT))], name
