"""The masked text of guardrail.rationale, and what the reader builds from it, are what they were.

* ``_Masked`` cuts the folded masked text out of the folded rationale instead of folding the masked text: the same
  text, because ``_fold`` maps every character on its own (over every code point) except capital sigma, whose texts
  are masked first, then folded.
* The span of a reading lies in the rationale and its confidence in [0, 1] without clamping; cue weights are in
  [0.5, 1].
* Whitespace-only rationales read as nothing (``not text or text.isspace()`` is ``not text.strip()``).
"""

from __future__ import annotations

import re
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrail import rationale as fast
from guardrail.actions import ActionSpace
from tests import _rationale_reference as reference
from tests._rationale_checks import assert_reads_as_reference

SLOT = fast._SLOT
SIGMA = "\u03a3"
SPACES = [
    ActionSpace(["blue", "green", "red"]),
    ActionSpace([f"a{i}" for i in range(20)]),
    ActionSpace(["Café", "straße", "\u0131i", "\u212a-9", "x", "选择"]),  # names that are not ASCII
]


@pytest.mark.skipif(sys.maxunicode < 0x10FFFF, reason="narrow build")
def test_folding_maps_every_character_on_its_own_but_capital_sigma() -> None:
    everything = [chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF and chr(code) != SIGMA]
    alone = [fast._fold(ch) for ch in everything]
    assert all(len(folded) == 1 for folded in alone)
    assert fast._fold(SLOT) == SLOT  # and nothing else folds to it:
    assert [ch for ch, folded in zip(everything, alone, strict=True) if folded == SLOT] == [SLOT]
    # What the gates read as _OTHER: exactly the characters that do not fold to ASCII (see rationale._letter).
    assert {ch for ch, folded in zip(everything, alone, strict=True) if folded.isascii()} == set(fast._FOLDING_TO_ASCII)
    for between in ("A", "A.", ".A", "'", " ", "\u0391", SLOT):  # cased letters and case-ignorable characters
        assert fast._fold(between.join(everything)) == fast._fold(between).join(alone), between
    # Capital sigma depends on its neighbours (final sigma), which masking can change: hence the other path.
    assert fast._fold(f"\u0391{SIGMA}.x") != fast._fold(f"\u0391{SIGMA}.{SLOT}")


def _masked_then_folded(text: str, space: ActionSpace) -> str:
    """The masked text as the reader used to build it: mask the rationale, then fold it."""
    clean = text.replace(SLOT, " ")
    pieces, cursor = [], 0
    for _, start, end in space._mention_spans(clean):
        pieces.extend([clean[cursor:start], SLOT])
        cursor = end
    return fast._fold("".join([*pieces, clean[cursor:]]))


NAMES = ["blue", "Red", "GREEN", "a7", "A19", "a 3", "café", "STRASSE", "straße", "\u0131i", "\u212a-9", "x", "选择"]
ODD = [SIGMA, "\u03c3", "\u03c2", "\u0391", "\u0130", "\u0131", "\u017f", "\u212a", "ß", "é", "É", SLOT, ".", "'"]
TEXTS = st.lists(
    st.one_of(
        st.sampled_from(NAMES), st.sampled_from(ODD), st.sampled_from([" ", ", ", ".", "\n"]), st.text(max_size=3)
    ),
    max_size=30,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, space=st.sampled_from(SPACES))
@example(text=f"\u0391{SIGMA}.blue and {SIGMA}red{SIGMA}", space=SPACES[0])  # sigma next to a mention
@example(text="So I choose a7, not A19.", space=SPACES[1])
def test_the_masked_text_is_the_folded_masked_rationale(text: str, space: ActionSpace) -> None:
    masked = fast._Masked(text, space, 0)
    assert masked.text == _masked_then_folded(text, space)
    assert masked.folded == masked.text
    assert [masked.text[p] for p in masked.slot_positions] == [SLOT] * len(masked.actions)
    assert masked.text.count(SLOT) == len(masked.actions)
    for i, position in enumerate(masked.slot_positions):
        assert masked.original(position) == masked.starts[i]
        assert masked.original(position + 1, end=True) == masked.ends[i]


def test_the_unfolded_path_masks_the_rationale_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast, "_FOLDED", False)
    text = f"I WILL pick Blue, not {SIGMA}red."
    masked = fast._Masked(text, SPACES[0], 0)
    assert masked.text == f"I WILL pick {SLOT}, not {SIGMA}red."  # "{SIGMA}red" is not a mention
    assert masked.folded == fast._fold(masked.text)


SETTINGS = [{}, {"min_confidence": 0.0}, {"use_evidence": False}, {"max_chars": 30}]
READINGS = st.lists(
    st.one_of(
        st.sampled_from(["I choose", "so", "not", "or", "is best", "highest UCB", "Step 3:", "?", "maybe", "then"]),
        st.sampled_from(NAMES[:6]),
        st.text(max_size=3),
    ),
    max_size=20,
).map(" ".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=READINGS, space=st.sampled_from(SPACES[:2]), kwargs=st.sampled_from(SETTINGS))
@example(text="blue. I choose blue or red, so blue", space=SPACES[0], kwargs={"min_confidence": 0.0})
def test_readings_stay_in_bounds_without_clamping(text: str, space: ActionSpace, kwargs: dict[str, object]) -> None:
    reading = fast.LexicalReader(**kwargs)(text, space)  # type: ignore[arg-type]
    if reading.action is not None:
        assert 0.2 <= reading.confidence <= 0.99
        assert reading.span is not None
        start, end = reading.span
        assert 0 <= start <= end <= len(text)
        assert reading.evidence == (text[start:end].strip() or None)


def test_cue_weights_are_in_range() -> None:
    assert all(0.5 <= cue.weight <= 1.0 for cue in fast._POSITIVE_CUES)
    with pytest.raises(ValueError, match="cue weights"):
        fast._cue("x", 0.4, "x")
    with pytest.raises(ValueError, match="cue weights"):
        fast._cue("x", 1.5, "x")


@pytest.mark.parametrize("text", ["", " ", "\n\t", "\u3000", "\x1c\x1d", "\u2029 \u00a0", "\u200b"])
def test_blank_rationales_read_as_the_reference(text: str) -> None:
    for space in SPACES:
        assert_reads_as_reference(text, space)
    assert (not text or text.isspace()) == (not text.strip())


def test_mentions_of_one_action_skip_the_alternative_checks() -> None:
    """ "a7 or a7" rejects nothing (the checks look for another action); "a7 or a3" still rejects."""
    space = SPACES[1]
    for text in ("I choose a7 or a7.", "a3 or a7? I choose a7 or a3.", "I choose a7, a7 and a7.", "a3: I choose a7"):
        got = fast.LexicalReader()(text, space)
        want = reference.LexicalReader()(text, space)
        assert (got.action, got.confidence, got.span) == (want.action, want.confidence, want.span), text
    assert fast.LexicalReader()("I choose a7 or a3.", space).action is None
    assert re.fullmatch(r"a\d+", str(fast.LexicalReader()("I choose a7 or a7.", space).action))
