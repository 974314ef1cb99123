"""Two shortcuts of the reader, which change no reading:

* ``_Masked`` finds the mentions by splitting the folded text with the folded mention pattern, fused with the masking,
  instead of calling ``ActionSpace._mention_spans``: the same mentions (actions and spans), and a match that names no
  action (a spelling whose key is no action's, such as "İx" for "ix") stays in the text.
* A cue that compares nothing is only looked for at the mentions without a hit yet (cues run strongest first, so a
  later hit on a mention that has one adds nothing): its backward check starts at the last such mention's slot in the
  reversed text, and its scan stops once past it.
* ``_factors`` looks every run up by subscripting the run cache, and starts again (decomposing the runs not known yet)
  when one is missing.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrail import rationale as fast
from guardrail.actions import ActionSpace, _fold
from tests._rationale_checks import assert_reads_as_reference

SLOT = fast._SLOT
SPACES = [
    ActionSpace([f"a{i}" for i in range(20)]),
    ActionSpace(["ix", "b", "search", "search_docs"]),
    ActionSpace(["blue", "green", "red"]),
]
PIECES = [
    "a7", "A7", "a19", "a1", "a 3", "ix", "İx", "\u0130X", "b", "search", "search docs", "Search-Docs", "blue", "Red",
    "choose", "I will pick", "so", "Choose", ".", ", ", " ", "\n", "not", "or", "highest UCB is", "has the best UCB",
    "is better than", "Actually,", "?", "\u03a3", "\u0131", SLOT, "-", "_",
]  # fmt: skip
TEXTS = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=2)), max_size=24).map(" ".join)


def _via_mention_spans(text: str, space: ActionSpace) -> tuple[str, list[str], list[int], list[int]]:
    clean = text.replace(SLOT, " ")
    spans = space._mention_spans(clean)
    folded = _fold(clean)
    pieces, cursor = [], 0
    for _, start, end in spans:
        pieces.append(folded[cursor:start])
        cursor = end
    pieces.append(folded[cursor:])
    return SLOT.join(pieces), [a for a, _, _ in spans], [s for _, s, _ in spans], [e for _, _, e in spans]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, space=st.sampled_from(SPACES))
@example(text="İx or ix, then b", space=SPACES[1])  # "İx" folds to "ix" but is no action's spelling
@example(text="search docs and search_docs or search", space=SPACES[1])
def test_the_fused_masking_finds_the_mentions_of_mention_spans(text: str, space: ActionSpace) -> None:
    masked = fast._Masked(text, space, 0)
    want_text, actions, starts, ends = _via_mention_spans(text, space)
    assert (list(masked.actions), list(masked.starts), list(masked.ends)) == (actions, starts, ends)
    if "\u03a3" not in text:
        assert masked.text == want_text


def test_a_match_that_names_no_action_stays_in_the_masked_text() -> None:
    masked = fast._Masked("İx or ix, then b", SPACES[1], 0)
    assert masked.text == f"ix or {SLOT}, then {SLOT}"
    assert (list(masked.actions), list(masked.starts), list(masked.ends)) == (["ix", "b"], [6, 15], [8, 16])


# A strong cue hits a later mention first; a weaker cue (with a backward check) hits an earlier one, which changes
# the reading (a conflicting decision before, or one more agreeing hit). Dropping the earlier hit would show.
OPEN_EARLIER = [
    ("Choose a3. So I will choose a7.", 0.8),  # imperative on a3 (conflicting before): 0.9 - 0.1
    ("Choose a7. So I will choose a7.", 0.95),  # imperative on a7 agrees: 0.9 + 0.05
    ("The highest UCB is a7, so I will choose a7.", 0.95),  # highest-ucb on the first a7 agrees
    ("So a3. I will pick a7.", 0.8),  # connective on a3
    ("I pick a3. I pick a7. I pick a7.", 0.85),  # one cue on three mentions: 0.9 - 0.1 (a3) + 0.05 (a7)
    ("Choose a3. Choose a7. So I will choose a7.", 0.85),  # imperative on a3, then on a7 (both without a hit)
    ("It is worth it to pick a3, but I will choose a7 and not a3.", 0.9),
]


def test_weaker_cues_still_hit_the_mentions_without_a_hit() -> None:
    space = SPACES[0]
    for text, confidence in OPEN_EARLIER:
        assert_reads_as_reference(text, space, min_confidence=0.0)
        reading = fast.LexicalReader(min_confidence=0.0)(text, space)
        assert reading.action == "a7", text
        assert abs(reading.confidence - confidence) < 1e-9, (text, reading.confidence)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, space=st.sampled_from(SPACES))
def test_readings_are_the_full_scans(text: str, space: ActionSpace) -> None:
    assert_reads_as_reference(text, space, min_confidence=0.0)


def _factors_by_findall(text: str) -> int:
    want = 0
    for run in set(re.findall("[a-z'()]+", text.lower())):
        want |= sum(bit for factor, bit in fast._FACTOR_BITS.items() if factor in run)
    return want


def test_factors_with_every_run_known_some_known_or_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_factors`` subscripts the run cache, and starts again with the runs it does not know yet decomposed."""
    monkeypatch.setattr(fast, "_RUN_MASKS", {})
    first = "So I should choose the best upper confidence bound."
    second = "I will pick the arm with the highest mean, not the best upper bound."  # some runs known, some not
    for text in (first, first, second, second, first + " " + second):
        assert fast._factors(fast._fold(text)) == _factors_by_findall(text), text
    assert set(fast._RUN_MASKS) >= {b"highest", b"choose", b"pick"}
