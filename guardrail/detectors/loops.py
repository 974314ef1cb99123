"""Loops: a tool-using agent repeating itself, read from its calls and their outcomes, without rewards.

The patterns and their defaults follow the agent runtimes that detect loops today (OpenHands' stuck detector,
Cline, Gemini CLI, deer-flow's LangChain middleware):

* ``identical``: the same call (tool + canonical arguments) got the same result ``identical`` times within the
  last ``window`` calls;
* ``same_error``: the same call failed with the same error ``same_error`` times within the window;
* ``ping_pong``: the last ``ping_pong`` calls alternate between two calls, A-B-A-B, each getting what it got
  before;
* ``no_progress``: the last ``no_progress`` calls, whatever they were, all got the same observation back.

A pattern is *established* by the outcome of the episode's latest call (so polling whose result changes, and
paging whose arguments change, never meet it), and it is reported on the next step, whatever that step proposes;
``data["continues"]`` says whether the proposed call carries the loop on, that is repeats one of the loop's
calls or a call made at least twice since the loop's first repeated call (what
:class:`~guardrail.policies.Escalation` answers). Calls since the episode's last user message only count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Final, Literal

from guardrail._checks import require_int
from guardrail.detectors.base import Finding
from guardrail.exceptions import ConfigurationError
from guardrail.history import MAX_CALL_WINDOW, CallRecord, canonical_arguments
from guardrail.state import StepState

__all__ = ["LOOP", "LoopPattern", "Loops"]

LOOP: Final = "loop"
"""The finding kind of :class:`Loops`."""

LoopPattern = Literal["identical", "same_error", "ping_pong", "no_progress"]


@dataclass(frozen=True, slots=True, kw_only=True)
class _Match:
    pattern: LoopPattern
    count: int  # how many calls (or alternation steps, or same observations) make the pattern now
    threshold: int
    calls: tuple[CallRecord, ...]  # the repeated calls, oldest first

    @property
    def excess(self) -> int:
        """How far past its threshold the pattern has gone (0 when it has just been established)."""
        return self.count - self.threshold


@dataclass(frozen=True, slots=True, kw_only=True)
class Loops:
    """Fires when the episode's latest call, with its outcome, completes a loop pattern (see the module).

    Args:
        identical: the same call with the same result this many times within ``window`` (None: off).
        same_error: the same call failing with the same error this many times within ``window`` (None: off).
        ping_pong: an A-B-A-B alternation over this many consecutive calls, outcomes unchanged (None: off).
        no_progress: this many consecutive calls that all got the same observation back (None: off).
        window: how many of the latest calls ``identical`` and ``same_error`` count in (at most 64).

    A call whose outcome was never recorded matches another unrecorded one, so without
    :meth:`~guardrail.Guard.record_outcome` ``identical`` and ``ping_pong`` compare calls by tool and arguments
    alone (as Gemini CLI and deer-flow do); ``same_error`` and ``no_progress`` need recorded outcomes.
    Each step reads at most ``window`` calls: linear in the window, never in the episode.
    """

    needs_calls: ClassVar[bool] = True
    """It reads the episode's calls: a Guard refuses it with a history store that keeps none."""

    identical: int | None = 3
    same_error: int | None = 3
    ping_pong: int | None = 6
    no_progress: int | None = 4
    window: int = 20

    def __post_init__(self) -> None:
        for name, least in (("identical", 2), ("same_error", 2), ("ping_pong", 4), ("no_progress", 2)):
            value = getattr(self, name)
            if value is None:
                continue
            require_int("Loops", name, value, least=least, most=MAX_CALL_WINDOW)  # or None
        if self.ping_pong is not None and self.ping_pong % 2:
            raise ConfigurationError(f"Loops(ping_pong) must be even (A-B pairs), got {self.ping_pong}")
        require_int("Loops", "window", self.window, least=2, most=MAX_CALL_WINDOW)
        for name in ("identical", "same_error"):
            value = getattr(self, name)
            if value is not None and value > self.window:
                raise ConfigurationError(f"Loops({name}={value}) cannot exceed window={self.window}")
        if all(getattr(self, n) is None for n in ("identical", "same_error", "ping_pong", "no_progress")):
            raise ConfigurationError("Loops needs at least one pattern (every threshold is None)")

    def detect(self, state: StepState) -> Sequence[Finding]:
        """One finding when the latest call's outcome completed a loop; nothing otherwise."""
        calls = state.history.calls
        if not calls:
            return ()
        match = self.match(calls)
        if match is None:
            return ()
        decision = state.decision
        proposed = None if decision.action is None else (decision.action, canonical_arguments(decision.arguments))
        continues = proposed is not None and (match.pattern == "no_progress" or proposed in _span(calls, match))
        names = tuple(dict.fromkeys(c.name for c in match.calls))
        shown = tuple(dict.fromkeys(c.shown for c in match.calls))
        return (
            Finding(
                kind=LOOP,
                score=1.0 if continues else 0.5,
                detail=_detail(match, shown),
                actions=names,
                data={
                    "pattern": match.pattern,
                    "count": match.count,
                    "threshold": match.threshold,
                    "excess": match.excess,
                    "calls": list(shown),
                    "steps": [c.step for c in match.calls],
                    "continues": continues,
                    "error": match.calls[-1].error,
                },
            ),
        )

    def match(self, calls: Sequence[CallRecord]) -> _Match | None:
        """The pattern the latest of ``calls`` completes, if any: same error, ping-pong, identical, no progress."""
        last = calls[-1]
        start = max(0, len(calls) - self.window)
        recent = [calls[i] for i in range(start, len(calls))]
        if self.same_error is not None and last.failed:
            same = tuple(c for c in recent if c.failed and c.key == last.key and c.outcome == last.outcome)
            if len(same) >= self.same_error:
                return _Match(pattern="same_error", count=len(same), threshold=self.same_error, calls=same)
        run = _alternation(calls) if self.ping_pong is not None else 0
        if self.ping_pong is not None and run >= self.ping_pong:
            tail = tuple(calls[-run:])
            return _Match(pattern="ping_pong", count=run, threshold=self.ping_pong, calls=tail)
        if self.identical is not None:
            same = tuple(c for c in recent if c.key == last.key and c.outcome == last.outcome)
            if len(same) >= self.identical and self.ping_pong is not None and run >= 4:
                # A-B-A-B-A: the repeats are a ping-pong caught before its own threshold; name it as one
                return _Match(pattern="ping_pong", count=run, threshold=self.ping_pong, calls=tuple(calls[-run:]))
            if len(same) >= self.identical:
                return _Match(pattern="identical", count=len(same), threshold=self.identical, calls=same)
        if self.no_progress is not None and last.outcome is not None:
            run = 1
            for i in range(len(calls) - 2, max(-1, len(calls) - 1 - MAX_CALL_WINDOW), -1):
                if calls[i].outcome != last.outcome:
                    break
                run += 1
            if run >= self.no_progress:
                tail = tuple(calls[-run:])
                return _Match(pattern="no_progress", count=run, threshold=self.no_progress, calls=tail)
        return None


def _span(calls: Sequence[CallRecord], match: _Match) -> set[tuple[str, str]]:
    """The calls that carry the loop on: its own repeated calls, and any call made at least twice since the
    loop's first repeated call (A-B-A-B-A whose first B failed cycles through both). A call made there once is
    a new attempt, such as the retry of a call that failed, and does not."""
    first = match.calls[0].step
    keys = {call.key for call in match.calls}
    seen: set[tuple[str, str]] = set()
    for index in range(len(calls) - 1, max(-1, len(calls) - 1 - MAX_CALL_WINDOW), -1):
        if calls[index].step < first:
            break
        key = calls[index].key
        if key in seen:
            keys.add(key)
        seen.add(key)
    return keys


def _alternation(calls: Sequence[CallRecord]) -> int:
    """How many of the latest calls alternate between two different calls whose outcomes do not change."""
    if len(calls) < 2:
        return len(calls)
    a, b = calls[-1], calls[-2]
    if a.key == b.key:
        return 1
    run = 2
    for i in range(len(calls) - 3, max(-1, len(calls) - 1 - MAX_CALL_WINDOW), -1):
        expected = a if (len(calls) - 1 - i) % 2 == 0 else b
        call = calls[i]
        if call.key != expected.key or call.outcome != expected.outcome:
            break
        run += 1
    return run


_PATTERN_TEXT: Final = {
    "identical": "the same call got the same result {count} times",
    "same_error": "the same call failed with the same error {count} times",
    "ping_pong": "two calls alternated {count} times with nothing changing",
    "no_progress": "{count} calls in a row got the same observation back",
}


def _detail(match: _Match, shown: tuple[str, ...]) -> str:
    listed = ", ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")
    return f"loop ({match.pattern}): {_PATTERN_TEXT[match.pattern].format(count=match.count)}: {listed}"
