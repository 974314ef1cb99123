"""Decision: what the agent said, read into typed fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Decision", "Reply", "Usage"]


class Usage(BaseModel):
    """Token usage an agent reported for one call (when it reports any)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )


class Decision(BaseModel):
    """One agent output, parsed.

    ``action`` is always a canonical name from the action space, or None when no legal action could be read
    (``raw_action`` then keeps what the agent wrote). ``rationale_action`` is the action the agent's own
    rationale recommends, when that can be told (see :mod:`guardrail.rationale`).
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    rationale: str = ""
    action: str | None = None
    rationale_action: str | None = None
    rationale_confidence: float = Field(default=0.0, ge=0.0, le=1.0)
    rationale_evidence: str | None = None
    rationale_judge_calls: int = Field(default=0, ge=0)
    """Judge-model calls spent reading the rationale (a :class:`~guardrail.CascadeReader`; 0 for the lexical reader)."""
    raw_action: str | None = None
    arguments: dict[str, Any] | None = None
    format: str = "none"
    raw: Any = Field(default=None, exclude=True, repr=False)

    @property
    def agrees(self) -> bool | None:
        """True/False when both the action and the rationale's action are known; None otherwise."""
        if self.action is None or self.rationale_action is None:
            return None
        return self.action == self.rationale_action


class Reply(BaseModel):
    """What an agent may return instead of bare output, to report its token usage and request count.

    >>> Reply(output="ACTION=red", usage=Usage(input_tokens=120, output_tokens=8)).output
    'ACTION=red'
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    output: Any
    usage: Usage | None = None
    calls: int = Field(default=1, ge=1)
    """Requests this one invocation made (e.g. instructor's own retries); each counts as an agent call."""
