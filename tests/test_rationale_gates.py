"""The gates of guardrail.rationale read apostrophes, parentheses, digits and other characters, soundly.

Besides the letters a-z, the gates read ' (and ’ as '), ( and ), every ASCII digit as ``_DIGIT`` and every other
character that is not ASCII as ``_OTHER``; the placeholder requires nothing and reads as a space. So "n't" is a
factor of the first negation, "(" and ")" of "named-tool", a digit of a history line and some character that is not
ASCII of the foreign cues: those patterns are skipped on texts without them, and only there.
"""

from __future__ import annotations

import pytest

from guardrail import rationale as fast
from guardrail.actions import ActionSpace
from guardrail.bench.perf import action_names, consistent_answer
from tests._rationale_checks import assert_reads_as_reference

SLOT = fast._SLOT
CUES = {cue.name: cue.pattern for cue in fast._POSITIVE_CUES}
BENCHMARK = consistent_answer("a7").split("\n")[0]


def _runs(pattern: object, text: str) -> bool:
    """Whether the gate of ``pattern`` lets it run on ``text`` (as the reader masks it)."""
    masked = fast._Masked(text, ActionSpace(action_names(20)), 0)
    return fast._may_match(fast._GATES[pattern], fast._factors(masked.folded))


def test_the_literals_the_gates_read() -> None:
    assert fast._letter(ord("A")) == "a"
    assert fast._letter(ord("'")) == fast._letter(ord("\u2019")) == "'"
    assert fast._letter(ord("(")) == "("
    assert fast._letter(ord(")")) == ")"
    assert fast._letter(ord("7")) == fast._DIGIT
    assert fast._letter(ord("选")) == fast._letter(ord("é")) == fast._OTHER
    assert fast._letter(ord(SLOT)) is None  # in every masked text: requires nothing
    # Characters that re.IGNORECASE matches to a character folding to ASCII are no _OTHER: they require nothing.
    for ch in ("\u0131", "\u0130", "\u017f"):
        assert fast._letter(ord(ch)) is None, ch
    assert fast._letter(ord("\u212a")) == "k"  # the Kelvin sign lower-cases to k
    assert fast._letter(ord("-")) is None


def test_the_stronger_gates() -> None:
    negation = fast._NEGATIONS[0]
    assert not _runs(negation, BENCHMARK)  # no negation word: the costliest check is skipped
    for text in ("I don't pick a3, so a7.", "I don\u2019t pick a3, so a7.", "not a3 but a7", "never a3"):
        assert _runs(negation, text), text
    assert not _runs(CUES["named-tool"], "I will call a7 now.")
    assert _runs(CUES["named-tool"], "I will call the tool (a7).")
    assert not _runs(fast._HISTORY_LINE, "Step: a7 gave a lot.\nI choose a7.")  # a mention's digits are masked
    assert _runs(fast._HISTORY_LINE, "Step 3: a7 gave 0.4.\nI choose a7.")
    assert not _runs(CUES["foreign"], BENCHMARK)
    assert _runs(CUES["foreign"], "我选 a7")


@pytest.mark.parametrize(
    "text",
    [
        "I don\u2019t want blue; I\u2019ll pick red.",
        "I don't want blue, I'll pick red.",
        "Blue isn\u2019t good. Red it is.",
        "I will call (red) now.",
        "I will call red (the tool).",
        "Step 3: blue gave 0.4\nStep 4: red gave 0.9\nSo I choose red.",
        "Step three: blue gave a lot\nSo I choose red.",
        "Step \u0663: I choose blue.",  # an Arabic-Indic digit: \d matches it, the gates read it as _OTHER
        "- Round \uff14: I will pick red",  # a fullwidth digit
        "\u5148\u9009 blue? \u6211\u9009 red",
        "\u6211\u9009\u62e9 red\uff0c\u4e0d\u662f blue\u3002",
        "Je choisis red, not blue.",
        "I\u2019d rather not press blue. Let\u2019s press red.",
    ],
)
def test_readings_on_texts_the_new_gates_read(text: str) -> None:
    space = ActionSpace(["blue", "red", "green"])
    for kwargs in ({}, {"min_confidence": 0.0}, {"use_evidence": False}):
        assert_reads_as_reference(text, space, **kwargs)
