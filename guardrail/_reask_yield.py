"""The re-ask yield tally: per agent and per episode, how many re-asks fixed their step.

Kept per Guard, in memory, and not in the :class:`~guardrail.history.HistoryStore`: the yield is a property of
the agent (its model and prompt), which spans episodes, while a history store is keyed by episode; it is a
heuristic that each replica relearns in a few re-asks, so sharing it (one more store round trip per step) or
losing it on a restart costs at most those few re-asks. Episodes are bounded (the least recently used are
forgotten) so a long-running guard does not grow without end.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from guardrail.state import YIELD_WINDOW, ReAskYield, ReAskYields

_NONE: Final = ReAskYields()

__all__ = ["ReAskYieldTally"]

_MAX_EPISODES: Final = 4096


@dataclass(slots=True)
class _Tally:
    reasks: int = 0
    fixed: int = 0
    recent: deque[bool] = field(default_factory=lambda: deque(maxlen=YIELD_WINDOW))
    skipped: int = 0

    def add(self, outcomes: Sequence[bool], skipped: int) -> None:
        if outcomes:
            self.reasks += len(outcomes)
            self.fixed += sum(outcomes)
            self.recent.extend(outcomes)
            self.skipped = 0
        self.skipped += skipped

    def view(self) -> ReAskYield:
        return ReAskYield(reasks=self.reasks, fixed=self.fixed, recent=tuple(self.recent), skipped=self.skipped)


class ReAskYieldTally:
    """Re-ask outcomes by agent name and by episode; safe under threads (one lock, O(1) work under it)."""

    def __init__(self, *, max_episodes: int = _MAX_EPISODES) -> None:
        self._agents: dict[str, _Tally] = {}
        self._episodes: OrderedDict[str, _Tally] = OrderedDict()
        self._max_episodes = max_episodes
        self._lock = threading.Lock()

    def view(self, agent: str, episode: str) -> ReAskYields:
        """The yields the step of ``agent`` in ``episode`` starts from."""
        with self._lock:
            by_agent = self._agents.get(agent)
            by_episode = self._episodes.get(episode)
            if by_agent is None and by_episode is None:  # no re-ask so far: the common case, no allocation
                return _NONE
            return ReAskYields(
                agent=by_agent.view() if by_agent else ReAskYield(),
                episode=by_episode.view() if by_episode else ReAskYield(),
            )

    def record(self, agent: str, episode: str, outcomes: Sequence[bool], skipped: int) -> None:
        """Add one step's re-ask outcomes (True: fixed) and the re-asks it skipped."""
        if not outcomes and not skipped:
            return
        with self._lock:
            self._agents.setdefault(agent, _Tally()).add(outcomes, skipped)
            tally = self._episodes.get(episode)
            if tally is None:
                tally = self._episodes[episode] = _Tally()
                if len(self._episodes) > self._max_episodes:
                    self._episodes.popitem(last=False)
            else:
                self._episodes.move_to_end(episode)
            tally.add(outcomes, skipped)
