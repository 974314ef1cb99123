"""What the guard's corrections cost per step they fixed: extra agent calls (and tokens, where reported).

A step is *changed* when its executed action differs from the agent's first answer for a reason other than the
fallback (the unguarded baseline has the same fallback, so it buys nothing a guard adds). Costs are the agent
calls beyond one per step, spread over the changed steps, and, with rewards, over the regret removed against
the unguarded configuration on the same bandits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from guardrail import StepResult

__all__ = ["FixCost", "changed_by_guard", "per_unit"]


def changed_by_guard(result: StepResult) -> bool:
    """Whether a correction (not the fallback) made the executed action differ from the first answer's."""
    if any(c.kind == "fallback" for c in result.corrections):
        return False
    return result.action != result.first_decision.action


def per_unit(cost: float, bought: float | None) -> float | None:
    """``cost / bought``, or None when nothing was bought (``bought`` None or not positive)."""
    return cost / bought if bought is not None and bought > 0 else None


@dataclass(frozen=True, slots=True, kw_only=True)
class FixCost:
    """Steps played, steps the guard changed, the extra agent calls and the tokens (None: not reported)."""

    steps: int
    changed_steps: int
    extra_calls: int
    tokens: int | None = None

    @classmethod
    def of(cls, results: Iterable[StepResult]) -> FixCost:
        """Tally a configuration's step results."""
        steps = changed = extra = 0
        tokens: int | None = None
        for result in results:
            steps += 1
            changed += changed_by_guard(result)
            extra += result.agent_calls - 1
            event = result.event
            if event.input_tokens is not None or event.output_tokens is not None:
                tokens = (tokens or 0) + (event.input_tokens or 0) + (event.output_tokens or 0)
        return cls(steps=steps, changed_steps=changed, extra_calls=extra, tokens=tokens)

    @property
    def changed_rate(self) -> float:
        """Share of steps the guard changed."""
        return self.changed_steps / self.steps if self.steps else 0.0

    @property
    def extra_calls_per_step(self) -> float:
        """Extra agent calls per step played."""
        return self.extra_calls / self.steps if self.steps else 0.0

    @property
    def extra_calls_per_changed_step(self) -> float | None:
        """Extra agent calls per step the guard changed (None when it changed none)."""
        return per_unit(self.extra_calls, self.changed_steps)
