"""Shared by the rationale tests: the labelled rationales, and a reading compared with the frozen reference reader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from guardrail import rationale as fast
from guardrail.actions import ActionSpace
from tests import _rationale_reference as reference

DATA = Path(__file__).parent / "data"


def labelled_items() -> list[dict[str, Any]]:
    """Every labelled item of tests/data/rationales*.jsonl (the labelled set and the hold-out sets)."""
    items: list[dict[str, Any]] = []
    for path in sorted(DATA.glob("rationales*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            items.extend(json.loads(line) for line in handle if line.strip())
    return items


def masked_labelled_texts(*, folded: bool) -> list[str]:
    """Each labelled rationale masked as the reader masks it; then (if ``folded``) folded; then upper-cased."""
    texts: list[str] = []
    for item in labelled_items():
        text = fast._Masked(str(item["rationale"]), ActionSpace(item["actions"]), 0).text
        texts.extend([text, fast._fold(text), text.upper()] if folded else [text, text.upper()])
    return texts


def assert_reads_as_reference(text: str, space: ActionSpace, **kwargs: Any) -> None:
    """The reader gives ``text`` the reading the frozen original reader gives it: action, confidence, evidence, span."""
    got = fast.LexicalReader(**kwargs)(text, space)
    want = reference.LexicalReader(**kwargs)(text, space)
    assert (got.action, got.confidence, got.evidence, got.span) == (
        want.action,
        want.confidence,
        want.evidence,
        want.span,
    ), (text, space, kwargs)
