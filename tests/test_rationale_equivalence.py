"""The gated reader of guardrail.rationale reads exactly what the full scan of every pattern reads.

``tests/_rationale_reference.py`` is a frozen copy of the reader before the gates (every pattern run over every
rationale). The optimised reader must give the same (action, confidence, evidence, span) on every labelled item
and on arbitrary texts, over several action spaces and reader settings.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guardrail import rationale as fast
from guardrail.actions import ActionSpace
from tests import _rationale_reference as reference

DATA = Path(__file__).parent / "data"
SPACES = [
    ActionSpace(["blue", "green", "red", "yellow", "purple"]),
    ActionSpace([f"arm_{i}" for i in range(1, 21)]),
    ActionSpace(["search", "search_docs", "web_search", "send_email", "calculator", "read_file", "finish"]),
    ActionSpace(["top_left", "top", "center", "bottom_right", "x", "o"]),
]
SETTINGS = [{}, {"min_confidence": 0.0}, {"use_evidence": False}, {"max_chars": 40}]


def _same(text: str, space: ActionSpace, **kwargs: object) -> None:
    got = fast.LexicalReader(**kwargs)(text, space)  # type: ignore[arg-type]
    want = reference.LexicalReader(**kwargs)(text, space)  # type: ignore[arg-type]
    assert (got.action, got.confidence, got.evidence, got.span) == (
        want.action,
        want.confidence,
        want.evidence,
        want.span,
    ), (text, space, kwargs)


def _items() -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for path in sorted(DATA.glob("rationales*.jsonl")):  # the labelled set and any hold-out set
        with path.open(encoding="utf-8") as handle:
            items.extend(json.loads(line) for line in handle if line.strip())
    return items


def test_labelled_items_read_exactly_as_the_full_scan() -> None:
    items = _items()
    assert len(items) >= 221
    for item in items:
        text = str(item["rationale"])
        own = ActionSpace(item["actions"])  # type: ignore[arg-type]
        for kwargs in SETTINGS:
            _same(text, own, **kwargs)
        for space in SPACES:
            _same(text, space)


# Texts made of the words the cues are built from, action names, markup and arbitrary characters.
WORDS = sorted(
    {
        w
        for w in re.findall(
            r"[a-z]+",
            " ".join(p.pattern for p in fast._GATED).replace(r"\s", " ").replace(r"\b", " ").replace(r"\w", " "),
        )
        if len(w) > 1
    }
    | {"I", "I'll", "I'd", "we're", "let's", "don't", "isn't", "Step", "UCB", "If", "what", "not", "no", "so"}
)
NAMES = ["blue", "Red", "green", "arm_1", "arm 10", "arm_2", "search", "search_docs", "finish", "center", "x", "o"]
PUNCT = [".", ",", ";", ":", "!", "?", "\n", " - ", "**", "`", "'", '"', "(", ")", " -> ", "—", " = ", "\ue000"]
TOKENS = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(NAMES),
    st.sampled_from(PUNCT),
    st.text(max_size=4),
    st.sampled_from(["\u0130", "\u0131", "\u017f", "\u212a", "é", "ß", "选择", "0.42", "3"]),
)
TEXTS = st.lists(st.tuples(TOKENS, st.sampled_from([" ", " ", " ", "", "\n", "  "])), max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts)
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, space=st.sampled_from(SPACES), kwargs=st.sampled_from(SETTINGS))
def test_arbitrary_texts_read_exactly_as_the_full_scan(
    text: str, space: ActionSpace, kwargs: dict[str, object]
) -> None:
    _same(text, space, **kwargs)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), space=st.sampled_from(SPACES))
def test_random_unicode_reads_exactly_as_the_full_scan(text: str, space: ActionSpace) -> None:
    _same(text, space)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS)
def test_a_gate_never_skips_a_pattern_that_matches(text: str) -> None:
    """Directly: whenever a gated pattern matches, its gate lets it run, and the fail-fast form finds the same."""
    present = fast._present(text)
    for pattern in fast._GATED:
        matches = [(m.span(), m.groupdict()) for m in pattern.finditer(text)]
        if matches:
            assert fast._may_match(fast._GATES[pattern], present), (pattern.pattern[:60], text)
        assert [(m.span(), m.groupdict()) for m in fast._fail_fast(pattern).finditer(text)] == matches


@pytest.mark.skipif(sys.maxunicode < 0x10FFFF, reason="narrow build")
def test_case_folding_table_covers_every_code_point() -> None:
    """Every character that re.IGNORECASE matches to an ASCII letter folds to that letter in the gate's text."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        if letter.fullmatch(ch):
            folded = ch.translate(fast._FOLD).lower()
            assert len(folded) == 1, hex(code)
            assert "a" <= folded <= "z", hex(code)
            assert re.fullmatch(folded, ch, re.IGNORECASE), hex(code)
