"""Escalation: answer a loop by rungs, nudge, then block, then stop, instead of a bare step cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from guardrail._checks import require_int
from guardrail.detectors.base import Finding
from guardrail.detectors.loops import LOOP
from guardrail.exceptions import ConfigurationError, LoopStopped
from guardrail.policies.base import Override, ReAskRequest
from guardrail.state import StepState

__all__ = ["BLOCK", "NUDGE", "Escalation"]

NUDGE: Final = "nudge"
BLOCK: Final = "block"
"""The reason prefixes of the corrections :class:`Escalation` makes (``"nudge: ..."``, ``"block: ..."``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Escalation:
    """Answers a loop finding whose proposed call carries the loop on, one rung further each time.

    The rung is how far the loop has gone past its threshold (``excess`` in the finding) plus the re-asks this
    step already made, so a loop that goes on climbs the ladder within a step and across steps:

    1. ``nudges`` times, *nudge*: re-ask with feedback naming the loop and the calls made;
    2. ``blocks`` times, *block*: the call is not made. It is replaced by the action the rationale recommends
       when that is a different tool; otherwise the agent is asked again with the call forbidden;
    3. then *stop*: :class:`~guardrail.exceptions.LoopStopped` is raised after the step's event is written
       (status ``"stopped"``); with ``stop=False`` the block rung repeats instead.

    Telemetry counts each rung: nudges and blocks are corrections of this policy whose reason starts with
    ``"nudge:"`` / ``"block:"`` (kind ``reask`` or ``override``); a stop is a step with status ``"stopped"``.

    Args:
        nudges: how many nudges before blocking (>= 0).
        blocks: how many blocks before stopping (>= 0).
        stop: whether the last rung stops the agent.
        stop_message: the final answer handed back when the agent is stopped.
    """

    nudges: int = 1
    blocks: int = 1
    stop: bool = True
    stop_message: str = (
        "I stopped because I was repeating the same tool calls without making progress. "
        "Please rephrase the request or give me more information."
    )

    def __post_init__(self) -> None:
        for name in ("nudges", "blocks"):
            require_int("Escalation", name, getattr(self, name))
        if not self.stop and self.blocks == 0:
            raise ConfigurationError("Escalation needs blocks >= 1 when stop=False (else nothing ever ends a loop)")
        if not self.stop_message.strip():
            raise ConfigurationError("Escalation(stop_message) must not be empty")

    @property
    def answers(self) -> frozenset[str]:
        """Loop findings."""
        return frozenset({LOOP})

    def rung(self, state: StepState, finding: Finding) -> str:
        """Which rung this step's loop is on: ``"nudge"``, ``"block"`` or ``"stop"``."""
        climbed = int(finding.data.get("excess", 0)) + state.attempt - 1
        if climbed < self.nudges:
            return NUDGE
        if climbed < self.nudges + self.blocks or not self.stop:
            return BLOCK
        return "stop"

    def correct(self, state: StepState) -> Override | ReAskRequest | None:
        """Nudge, block or stop a loop that the proposed call carries on; None when there is none.

        Raises:
            LoopStopped: the loop went past every nudge and block.
        """
        finding = next((f for f in state.findings if f.kind == LOOP and f.data.get("continues")), None)
        if finding is None:
            return None
        rung = self.rung(state, finding)
        calls = ", ".join(finding.data.get("calls", ())[:4]) or ", ".join(finding.actions)
        if rung == NUDGE:
            return ReAskRequest(
                feedback=(
                    f"{NUDGE}: you are in a loop ({finding.data.get('pattern')}): {finding.detail}. "
                    f"Calls made: {calls}. Repeating them will not change the outcome: use what they returned, "
                    "try a different tool or different arguments, or give your final answer."
                )
            )
        if rung == BLOCK:
            decision = state.decision
            target = decision.rationale_action
            if target is not None and target != decision.action and target not in finding.actions:
                return Override(action=target, reason=f"{BLOCK}: loop call {decision.action!r} replaced by {target!r}")
            return ReAskRequest(
                feedback=(
                    f"{BLOCK}: the call {decision.action!r} was not made: it repeats a loop "
                    f"({finding.data.get('pattern')}; calls made: {calls}). Do not call it again with these "
                    "arguments; choose a different action or give your final answer."
                )
            )
        raise LoopStopped(self.stop_message, episode=state.episode, step=state.step, finding=finding)
