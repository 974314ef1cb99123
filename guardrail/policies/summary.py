"""ContextSummary: add per-action counts and mean rewards to the agent's prompt.

In Krishnamurthy et al. (docs/background.md) an externally summarised history was the one setting that made GPT-4
explore robustly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from guardrail.actions import ActionSpace
from guardrail.history import HistoryView

__all__ = ["ContextSummary"]


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextSummary:
    """Prepends a summary of the episode so far to each prompt. Makes no corrections itself."""

    header: str = "Summary of your history so far (per action: times chosen, mean reward):"
    answers: frozenset[str] | None = frozenset()

    def note(self, history: HistoryView, actions: ActionSpace) -> str | None:
        """The summary text; None before the first step."""
        if history.t == 0:
            return None
        means = history.means()
        lines = [self.header]
        for i, name in enumerate(actions.names):
            n = history.counts[i]
            mean = means[i]
            shown = "no reward yet" if math.isnan(mean) else f"mean reward {mean:.2f}"
            lines.append(f"- {name}: chosen {n} times, {shown}" if n else f"- {name}: never chosen")
        return "\n".join(lines)

    def correct(self, state: object) -> None:
        """ContextSummary changes prompts, not actions."""
        return
