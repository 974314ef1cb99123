"""Round-four rewrites of guardrail.rationale keep every match and every reading.

* ``_I_WILL`` and ``_I_SHOULD`` group their auxiliaries behind what they start with (spaces, or an apostrophe): every
  match (span and groups) of every cue built on them is that of the auxiliaries listed one by one, as they were.
* The plans run the cues by weight (strongest first, stable among equals) and, once every mention has a hit, only the
  cues that compare two actions: the readings are those of the frozen reference reader (every cue, as listed).
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrail import rationale as fast
from guardrail.actions import ActionSpace
from tests._rationale_checks import assert_reads_as_reference

SLOT = fast._SLOT

# The subjects as they were written before (one alternative per auxiliary).
LISTED_I_WILL = (
    r"\b(?:(?:i|we)(?:\s+will|\s*['’]ll|\s+shall|\s+(?:am|are)\s+going\s+to|\s*['’](?:m|re)\s+going\s+to"
    r"|\s+(?:am|are)\s+gonna|\s*['’](?:m|re)\s+gonna|\s+(?:have\s+)?decided\s+to|\s+decide\s+to|\s+(?:am|are)"
    r"|\s*['’](?:m|re))?|let(?:['’]s|\s+us|\s+me))"
)
LISTED_I_SHOULD = (
    r"\b(?:i|we)(?:\s+should|\s+must|\s+need\s+to|\s+have\s+to|\s+ought\s+to|\s+want\s+to|\s+would\s+like\s+to"
    r"|\s*['’]d\s+like\s+to|\s*['’]d\s+rather|\s*['’]d|\s+would|\s+plan\s+to|\s+intend\s+to)"
)

WORDS = [
    "i", "we", "let", "I", "We", "will", "'ll", "’ll", "shall", "am", "are", "'m", "’re", "going", "to", "gonna",
    "have", "decided", "decide", "should", "must", "need", "ought", "want", "would", "like", "'d", "’d", "rather",
    "plan", "intend", "'s", "us", "me", "pick", "choose", "use", "go", "with", "the", "call", "if", "what", "not",
    "then", "so", "(", ")", ".", ",", SLOT, "button", "finish",
]  # fmt: skip
SEPARATORS = ["", " ", "  ", "\t", "\n", " \n "]


def _cues_on_subjects() -> list[tuple[re.Pattern[str], re.Pattern[str]]]:
    """(each cue pattern built on a subject, the same pattern with the subjects listed as before)."""
    pairs = []
    for cue in fast._POSITIVE_CUES:
        source = cue.pattern.pattern
        if fast._I_WILL in source or fast._I_SHOULD in source:
            listed = source.replace(fast._I_WILL, LISTED_I_WILL).replace(fast._I_SHOULD, LISTED_I_SHOULD)
            pairs.append((cue.pattern, re.compile(listed, cue.pattern.flags)))
    return pairs


PAIRS = _cues_on_subjects()
SUBJECTS = [
    (re.compile(fast._I_WILL, fast._FLAGS), re.compile(LISTED_I_WILL, fast._FLAGS)),
    (re.compile(fast._I_SHOULD, fast._FLAGS), re.compile(LISTED_I_SHOULD, fast._FLAGS)),
]


def _same_matches(new: re.Pattern[str], old: re.Pattern[str], text: str) -> None:
    assert [(m.span(), m.groupdict(), m.regs) for m in new.finditer(text)] == [
        (m.span(), m.groupdict(), m.regs) for m in old.finditer(text)
    ], (new.pattern, text)
    for position in range(len(text) + 1):  # anchored at every position: the first match the engine finds there
        a, b = new.match(text, position), old.match(text, position)
        assert (a and a.regs) == (b and b.regs), (new.pattern, text, position)


def test_the_cues_on_subjects_are_found() -> None:
    assert {cue.pattern for cue in fast._POSITIVE_CUES} >= {new for new, _ in PAIRS}
    assert len(PAIRS) >= 5  # intent, should, intent-verb, with-tool, named-tool


def test_the_subjects_were_rewritten() -> None:
    assert fast._I_WILL != LISTED_I_WILL
    assert fast._I_SHOULD != LISTED_I_SHOULD


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=9))
@example([("I", " "), ("will", " "), ("pick", " "), (SLOT, "")])
@example([("we", ""), ("'re", " "), ("going", " "), ("to", " "), ("use", " "), (SLOT, "")])
@example([("I", " "), ("am", " "), ("going", " "), ("to", " "), ("finish", "")])
@example([("I", " "), ("am", " "), (SLOT, "")])
@example([("I", " "), ("'d", " "), ("rather", " "), ("pick", " "), (SLOT, "")])
@example([("we", "  "), ("would", " "), ("like", " "), ("to", " "), ("choose", " "), (SLOT, ".")])
@example([("I", " "), ("would", " "), (SLOT, "")])
@example([("let", ""), ("'s", " "), ("go", " "), ("with", " "), (SLOT, "")])
def test_subject_rewrite_keeps_every_match(words: list[tuple[str, str]]) -> None:
    text = "".join(word + separator for word, separator in words)
    for new, old in SUBJECTS + PAIRS:
        _same_matches(new, old, text)
        folded = fast._fold(text)
        _same_matches(fast._scan(new, True).forward, re.compile(old.pattern, old.flags & ~re.IGNORECASE), folded)


# ------------------------------------------------------------------------------------------------------------------
# Cues by weight.
# ------------------------------------------------------------------------------------------------------------------


def test_plans_run_the_cues_by_weight_stable_among_equals() -> None:
    order = [cue for cue, _ in fast._BY_WEIGHT]
    assert sorted(order, key=lambda cue: -cue.weight) == order
    listed = list(fast._POSITIVE_CUES)
    assert sorted(order, key=listed.index) == listed
    for weight in {cue.weight for cue in listed}:  # among equals, as listed
        assert [c for c in order if c.weight == weight] == [c for c in listed if c.weight == weight]
    plan = fast._plan(fast._ALL_FACTORS, fast._FOLDED)
    assert [step.cue for step in plan.cues] == [cue.name for cue in order]
    assert fast._FOLDED
    assert fast._PLANS[fast._ALL_FACTORS] is plan  # keyed by the factors alone, one cache per form
    unfolded = fast._plan(fast._ALL_FACTORS, False)
    assert unfolded is not plan
    assert fast._PLANS[fast._ALL_FACTORS] is plan
    assert fast._UNFOLDED_PLANS[fast._ALL_FACTORS] is unfolded


SKIP_CASES = [
    # every mention hit early; a weaker comparison later still negates its loser
    ("I will choose red. red is better than blue. So blue.", ["red", "blue"]),
    ("Choose red, since red has the highest UCB; blue beats green.", ["red", "blue", "green"]),
    ("Looking at the history, a7 has the best upper confidence bound, so I should choose a7.", ["a7", "a3"]),
    ("red is the best option. Not blue, but red. I will pick red.", ["red", "blue"]),
    ("I should pick blue. blue is worse than red. red is the best choice.", ["red", "blue"]),
    ("My choice: red. green outperforms blue. blue is better than green.", ["red", "blue", "green"]),
    # both mentions hit by stronger cues before worse-than runs, which still negates its loser (red): no reading
    ("I will choose red not is worse than green has the highest UCB", ["red", "blue", "green"]),
]


def test_skipping_the_weaker_cues_keeps_the_readings() -> None:
    for text, names in SKIP_CASES:
        assert_reads_as_reference(text, ActionSpace(names))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.sampled_from(
            [
                "red",
                "blue",
                "green",
                "I will choose",
                "I should pick",
                "is better than",
                "beats",
                "is worse than",
                "has the highest UCB",
                "is the best option",
                "not",
                "but",
                "So",
                "my choice:",
                ".",
                ",",
                "again",
                "rather than",
                "I am not sure between",
                "and",
                "or",
                "?",
                "next round",
                "actually",
                "\n",
            ]
        ),
        max_size=14,
    )
)
def test_by_weight_readings_are_the_reference_readings(pieces: list[str]) -> None:
    text = " ".join(pieces).replace("\\n", "\n")
    assert_reads_as_reference(text, ActionSpace(["red", "blue", "green"]))


# ------------------------------------------------------------------------------------------------------------------
# The reading's span, mapped inline.
# ------------------------------------------------------------------------------------------------------------------


def test_reading_span_is_masked_original() -> None:
    """``_reading`` maps the hit's span as ``_Masked.original`` does, adjacent placeholders included."""
    space = ActionSpace(["red", "blue"])
    for slots, starts, ends, offset in [
        ([3, 4], (3, 6), (6, 10), 0),  # adjacent placeholders: "abcredblue..."
        ([3, 4], (3, 7), (6, 10), 0),  # not a masking's table (a gap between them): still mapped as original does
        ([0, 5, 6], (0, 7, 10), (3, 10, 14), 7),
        ([], (), (), 2),
        ([9], (9,), (13,), 0),
    ]:
        masked = fast._Masked("red blue", space, 0)
        masked.slot_positions = slots
        masked.starts, masked.ends, masked.offset = starts, ends, offset
        masked.actions = ("red",) * len(slots)
        rationale = "x" * 40
        for start in range(12):
            for end in range(start, 13):
                hit = fast._Hit("cue", 0.9, 0, start, end)
                reading = fast.LexicalReader._reading(masked, rationale, "red", 0.9, hit)
                want = (masked.original(start), masked.original(end, end=True))
                assert reading.span == want, (slots, start, end)


def test_default_reader_actions_are_always_in_the_space() -> None:
    """``read_rationale`` returns the default reader's reading without checking that its action is in the space: the
    action is always one of the space's names (other spellings resolve to them)."""
    space = ActionSpace(["arm_1", "arm_10", "Red"], aliases={"one": "arm_1", "ten": "arm_10"})
    for text in ["I choose one.", "I will pick ten.", "So arm 10.", "I will pick RED.", "I choose red", "pick arm-1"]:
        reading = fast.read_rationale(text, space)
        direct = fast.LexicalReader()(text, space)
        assert reading == direct
        assert reading.action is None or reading.action in space.names, text
    assert [fast.read_rationale(text, space).action for text in ["So arm 10.", "I choose red", "pick arm-1"]] == [
        "arm_10",
        "Red",
        "arm_1",
    ]
