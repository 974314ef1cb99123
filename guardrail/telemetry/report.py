"""Summaries of telemetry: :func:`summarize` (Python) and ``guardrail report FILE...`` (the CLI renders the same).

Definitions. Every rate is a fraction in [0, 1] with its numerator and denominator kept beside it (the table
prints both, ``100.0% (1/7)``); a rate is ``None`` when its denominator is 0.

- ``steps``: step events; ``episodes``: distinct (run, episode) pairs; ``errors``: steps whose status is not ok;
  ``answered_steps``: steps with an answer (at least one agent call that returned).
- ``agreement``: executed action == the action the final answer's rationale recommends
  (:attr:`StepEvent.agrees`): ``agreeing_steps`` over the steps where both are known (``agreement_steps``).
- ``knowing_doing_gap_rate``: steps with a ``knowing_doing_gap`` finding on the first attempt
  (``knowing_doing_gap_steps``) over ``answered_steps``. A gap can only be seen where the rationale named an
  action (``rationale_steps``); with none, the rate is not shown. ``finding_rates`` / ``finding_counts`` give the
  same for every finding kind.
- ``invalid_rate``: steps whose first answer had no legal action (``invalid_steps``) over ``answered_steps``.
- ``frequent_action_rate``: steps whose executed action was the single most frequent action of the episode's
  history before the step (``frequent_action_hits``), over the steps where one action was strictly most frequent
  (``frequent_action_steps``; the paper's frequency bias).
- ``greedy_rate``: steps whose executed action had the highest mean reward among the actions already tried
  (ties count as greedy; ``greedy_hits``), over the steps where some tried action has a known reward
  (``greedy_steps``). Rewards come from :class:`RewardEvent` joined by run, episode and step.
- ``coverage``: the mean over episodes (``coverage_episodes``) of the episode's last coverage.
- ``intervention_rate``: steps with an applied correction (``intervened_steps``) over ``steps``.
- ``interventions``: per policy, corrections proposed, applied, and applied ones that changed the action: each
  correction is credited only with its own change (``to_action`` is a legal action other than ``from_action``;
  a re-ask's ``to_action`` is the answer it got, whatever later policies did with it), and the mean reward of
  the steps it changed.
- ``extra_agent_calls_per_step``: agent calls beyond the first (``extra_agent_calls``) over ``steps``.
- ``extra_agent_calls_per_changed_step``: the cost per fix, as the bench tables print it: ``extra_agent_calls``
  over the steps the guard changed (``guard_changed_steps``: the executed action differs from the first answer's,
  by a correction other than the fallback; the fallback is what an unguarded agent gets too). ``None`` when the
  guard changed no step.
- ``mean_reward``: mean reward over the steps whose reward is known (``reward_steps``). ``outcome``: the mean
  reward of steps whose action an override or an exploration changed, against the other rewarded steps.

With ``series=True`` a summary also carries what the pictures and the HTML page show: figures per step index
(:attr:`Figures.series`) and per wall-clock time bin (:attr:`Figures.timeline`), the rationale-action matrix
(:attr:`Figures.matrix`) and the worst contradictions (:attr:`Figures.contradictions`).

The summariser reads plain dicts (``EventLog.records()``), not validated models, so a million events take
seconds; ``summarize`` accepts models too.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import math
import re
import sys
from array import array
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from guardrail.exceptions import GuardrailError, InvalidInputError
from guardrail.telemetry.events import RewardEvent, StepEvent
from guardrail.telemetry.read import PathLike, read_events

__all__ = [
    "Contradiction",
    "Figures",
    "GroupBy",
    "MatrixCell",
    "PolicyFigures",
    "ReportFormat",
    "RewardOutcome",
    "StepPoint",
    "Summary",
    "TimeBin",
    "figure_rows",
    "plot",
    "policy_rows",
    "printable",
    "register",
    "render",
    "summarize",
    "summarize_files",
    "summarize_many",
]

_T = TypeVar("_T")
GroupBy = Literal["episode", "agent", "policy", "run"]
ReportFormat = Literal["table", "markdown", "json"]

KNOWING_DOING_GAP = "knowing_doing_gap"
_ALL = "all"
_GROUPINGS = ("episode", "agent", "policy", "run")
#: Correction kinds whose change of action the reward outcome is about (a re-ask's change is the agent's own).
_OUTCOME_KINDS = frozenset({"override", "explore"})
TIME_BINS = 100
"""Wall-clock bins of :attr:`Figures.timeline` (fewer when there are fewer steps)."""


# -- escaping --------------------------------------------------------------------------------------------------

# C0 and C1 controls (ANSI escapes, newlines, carriage returns), zero-width and bidirectional-override characters:
# in an id or an agent name they would break a table's layout, recolour a terminal or reorder what is shown.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
_CONTROL_KEEP_LINES = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text: str, *, keep_lines: bool = False) -> str:
    r"""``text`` with control characters written as escapes: ANSI ``\x1b`` and newlines cannot reach a table.

    With ``keep_lines``, newlines and tabs are kept (for prose such as a rationale).

    >>> printable("ep\n1\x1b[31m")
    'ep\\n1\\x1b[31m'
    """
    return (_CONTROL_KEEP_LINES if keep_lines else _CONTROL).sub(_escape, text)


# -- the figures -----------------------------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PolicyFigures(_Model):
    """What one policy did: corrections it proposed, applied, and applied ones that changed the action.

    ``changed_mean_reward`` is the mean reward of the steps whose action it changed, over the
    ``changed_reward_steps`` of them with a known reward.
    """

    policy: str
    proposed: int
    applied: int
    changed_action: int
    changed_reward_steps: int = 0
    changed_mean_reward: float | None = None

    @property
    def change_rate(self) -> float | None:
        """Of the applied corrections, the fraction that changed the action."""
        return self.changed_action / self.applied if self.applied else None


class RewardOutcome(_Model):
    """Did overrides and explorations pay off: mean reward of steps whose action one changed, against the rest.

    Over rewarded steps only; the means are ``None`` when their count is 0.
    """

    changed_steps: int
    changed_mean_reward: float | None
    unchanged_steps: int
    unchanged_mean_reward: float | None


class _Point(_Model):
    """Counts of the steps in one point of a series, and the rates they give (``None`` when not measurable)."""

    steps: int
    answered_steps: int
    knowing_doing_gap_steps: int
    knowing_doing_gap_rate: float | None
    agreement_steps: int
    agreeing_steps: int
    agreement: float | None
    intervened_steps: int
    intervention_rate: float
    changed_steps: int
    coverage: float | None
    reward_steps: int
    mean_reward: float | None


class StepPoint(_Point):
    """Figures at one step index, across episodes.

    ``changed_steps``: steps where a correction changed the action; ``coverage``: mean over the steps that logged one.
    """

    step: int


class TimeBin(_Point):
    """Figures of the steps that ended in one wall-clock interval ``[start, end)`` (Unix seconds)."""

    start: float
    end: float


class MatrixCell(_Model):
    """How often the rationale recommended ``rationale_action`` while the agent chose ``action``.

    ``first``: first answers (``None`` action: no legal action; ``None`` rationale action: the rationale named
    none). ``final``: after the guard, the last answer's rationale against the executed action.
    """

    rationale_action: str | None
    action: str | None
    first: int
    final: int


class Contradiction(_Model):
    """One step whose first answer acted against its own rationale, with the text that says so.

    ``rationale`` is the *last* answer's rationale as logged (redaction applies), ``evidence`` the redacted clause
    the reader based its reading on (from the attempt that raised the finding, ``attempt``). ``resolved``: the
    executed action is the one the rationale recommended. ``corrections``: ``"policy: from -> to"`` per applied
    correction.
    """

    run_id: str
    episode: str
    step: int
    agent: str | None
    timestamp: float | None
    rationale_action: str | None
    action: str | None
    final_action: str | None
    score: float
    attempt: int
    evidence: str | None
    rationale: str | None
    resolved: bool
    corrections: list[str]


class Figures(_Model):
    """The summary figures of one group of steps (or of all of them); see the module docstring."""

    key: str
    steps: int
    episodes: int
    runs: int
    errors: int
    answered_steps: int = 0
    rationale_steps: int = 0
    agreement: float | None
    agreeing_steps: int = 0
    agreement_steps: int
    knowing_doing_gap_rate: float | None
    knowing_doing_gap_steps: int = 0
    frequent_action_rate: float | None
    frequent_action_hits: int = 0
    frequent_action_steps: int
    coverage: float | None
    coverage_episodes: int = 0
    greedy_rate: float | None
    greedy_hits: int = 0
    greedy_steps: int
    invalid_rate: float | None
    invalid_steps: int = 0
    intervention_rate: float | None
    intervened_steps: int = 0
    extra_agent_calls_per_step: float | None
    extra_agent_calls: int = 0
    guard_changed_steps: int = 0
    extra_agent_calls_per_changed_step: float | None = None
    mean_reward: float | None
    reward_steps: int
    outcome: RewardOutcome | None = None
    finding_rates: dict[str, float]
    finding_counts: dict[str, int] = {}
    interventions: list[PolicyFigures]
    series: list[StepPoint] = []
    timeline: list[TimeBin] = []
    matrix: list[MatrixCell] = []
    contradictions: list[Contradiction] = []


class Summary(_Model):
    """:func:`summarize`'s result: figures for all steps and, with ``by``, for each group."""

    by: GroupBy | None
    total: Figures
    groups: list[Figures]
    skipped_lines: int = 0

    def figures(self) -> list[Figures]:
        """The total, then the groups."""
        return [self.total, *self.groups]

    def group(self, key: str) -> Figures:
        """The figures of one group (``"all"`` is the total)."""
        for figures in self.figures():
            if figures.key == key:
                return figures
        raise KeyError(key)


# -- accumulating ----------------------------------------------------------------------------------------------

# Bits of a step's flags in the per-step arrays a detailed group keeps.
_ANSWERED, _GAP, _AGREE_KNOWN, _AGREES, _INTERVENED, _CHANGED, _COVERAGE = 1, 2, 4, 8, 16, 32, 64
_NO_CHANGES: tuple[str, ...] = ()


# A step's contribution to its groups' counts, as one hashable value: groups count these (a few hundred distinct
# ones in a million steps), and the figures expand them at the end. Far cheaper than a dozen counters per step.
# (status not ok, answered, no legal action, rationale named an action, agrees (None: unknown), intervened,
#  the guard changed the executed action, extra agent calls, first-attempt finding kinds,
#  (policy, applied, changed) per correction)
_Signature = tuple[
    bool, bool, bool, bool, bool | None, bool, bool, int, tuple[str, ...], tuple[tuple[str, bool, bool], ...]
]


class _Acc:
    """Running counts of one group; with ``detail``, also the per-step arrays behind series and pictures."""

    __slots__ = (
        "contradictions",
        "coverage",
        "detail",
        "episodes",
        "flags",
        "freq_hits",
        "freq_n",
        "greedy_hits",
        "greedy_n",
        "matrix",
        "outcome",
        "policy_rewards",
        "reward_n",
        "reward_steps",
        "reward_sum",
        "reward_times",
        "reward_values",
        "runs",
        "signatures",
        "step_coverage",
        "step_index",
        "times",
    )

    def __init__(self, detail: bool) -> None:
        self.detail = detail
        self.signatures: dict[_Signature, int] = {}
        self.policy_rewards: dict[str, list[float]] = {}
        self.outcome: list[float] = [0, 0.0, 0, 0.0]  # changed steps, their reward sum, unchanged ones, their sum
        self.coverage: dict[tuple[str, str], tuple[int, float]] = {}
        self.runs: set[str] = set()
        self.episodes: set[tuple[str, str]] = set()
        self.freq_hits = 0
        self.freq_n = 0
        self.greedy_hits = 0
        self.greedy_n = 0
        self.reward_sum = 0.0
        self.reward_n = 0
        # detail only
        self.times = array("d")
        self.step_index = array("q")
        self.flags = array("B")
        self.step_coverage = array("d")
        self.reward_times = array("d")
        self.reward_steps = array("q")
        self.reward_values = array("d")
        self.matrix: dict[tuple[str | None, str | None], list[int]] = {}
        self.contradictions: list[tuple[tuple[bool, float, int], Mapping[str, Any]]] = []

    def merge(self, other: _Acc, top: int) -> None:
        """Add another group's counts (the total is the sum of one grouping's groups)."""
        for signature, n in other.signatures.items():
            self.signatures[signature] = self.signatures.get(signature, 0) + n
        for policy, (count, total) in other.policy_rewards.items():
            sums = self.policy_rewards.setdefault(policy, [0.0, 0.0])
            sums[0] += count
            sums[1] += total
        self.outcome = [a + b for a, b in zip(self.outcome, other.outcome, strict=True)]
        for key, (step, coverage) in other.coverage.items():
            seen = self.coverage.get(key)
            if seen is None or step >= seen[0]:
                self.coverage[key] = (step, coverage)
        self.runs |= other.runs
        self.episodes |= other.episodes
        self.freq_hits += other.freq_hits
        self.freq_n += other.freq_n
        self.greedy_hits += other.greedy_hits
        self.greedy_n += other.greedy_n
        self.reward_sum += other.reward_sum
        self.reward_n += other.reward_n
        if self.detail:
            self.times.extend(other.times)
            self.step_index.extend(other.step_index)
            self.flags.extend(other.flags)
            self.step_coverage.extend(other.step_coverage)
            self.reward_times.extend(other.reward_times)
            self.reward_steps.extend(other.reward_steps)
            self.reward_values.extend(other.reward_values)
            for cell_key, (first, final) in other.matrix.items():
                cell = self.matrix.setdefault(cell_key, [0, 0])
                cell[0] += first
                cell[1] += final
            self.contradictions = heapq.nlargest(top, [*self.contradictions, *other.contradictions], key=_rank)


def _rank(entry: tuple[tuple[bool, float, int], Mapping[str, Any]]) -> tuple[bool, float, int]:
    return entry[0]


class _Counts:
    """A group's step counts, expanded from its signatures."""

    __slots__ = (
        "agree",
        "agree_n",
        "answered",
        "corrections",
        "errors",
        "extra_calls",
        "guard_changed",
        "intervened",
        "invalid",
        "kinds",
        "rationale",
        "steps",
    )

    def __init__(self, signatures: Mapping[_Signature, int]) -> None:
        self.steps = self.errors = self.answered = self.invalid = self.rationale = 0
        self.agree = self.agree_n = self.intervened = self.guard_changed = self.extra_calls = 0
        self.kinds: dict[str, int] = {}
        self.corrections: dict[str, list[int]] = {}
        for signature, n in signatures.items():
            error, answered, invalid, named, agree, intervened, guard_changed, extra, kinds, changes = signature
            self.steps += n
            self.errors += n * error
            self.extra_calls += n * extra
            self.intervened += n * intervened
            self.guard_changed += n * guard_changed
            if agree is not None:
                self.agree_n += n
                self.agree += n * agree
            if answered:
                self.answered += n
                self.invalid += n * invalid
                self.rationale += n * named
                for kind in kinds:
                    self.kinds[kind] = self.kinds.get(kind, 0) + n
            for policy, applied, changed in changes:
                counts = self.corrections.setdefault(policy, [0, 0, 0])
                counts[0] += n
                counts[1] += n * applied
                counts[2] += n * changed


# One executed step as the episode replays it: step index, action, groups, policies that changed the action,
# whether an override or exploration did, and the step's end time.
_Row = tuple[int, str, tuple[_Acc, ...], tuple[str, ...], bool, float]
_NO_STEP = -(1 << 62)


class _Episode:
    """One (run, episode): its executed steps, rewards, and per group tuple the last coverage seen."""

    __slots__ = ("last_accs", "last_slot", "rewards", "rows", "slots")

    def __init__(self) -> None:
        self.rows: list[_Row] = []
        self.rewards: dict[int, float] = {}
        self.slots: dict[tuple[_Acc, ...], list[Any]] = {}  # groups -> [step, coverage] of the last coverage
        self.last_accs: tuple[_Acc, ...] | None = None
        self.last_slot: list[Any] = []

    def slot(self, accs: tuple[_Acc, ...]) -> list[Any]:
        """The coverage slot of these groups (the previous step's, most of the time)."""
        if accs is self.last_accs:
            return self.last_slot
        slot = self.slots.get(accs)
        if slot is None:
            slot = self.slots[accs] = [_NO_STEP, None]
        self.last_accs, self.last_slot = accs, slot
        return slot

    def settle(self, key: tuple[str, str]) -> None:
        """Give every group of the episode its run, the episode and its last coverage."""
        for accs, (step, coverage) in self.slots.items():
            for acc in accs:
                acc.runs.add(key[0])
                acc.episodes.add(key)
                if coverage is not None:
                    seen = acc.coverage.get(key)
                    if seen is None or step >= seen[0]:
                        acc.coverage[key] = (step, coverage)


def summarize(
    events: Iterable[StepEvent | RewardEvent | Mapping[str, Any]],
    *,
    by: GroupBy | None = None,
    series: bool = False,
    skipped_lines: int = 0,
    top: int = 10,
) -> Summary:
    """Summarise events (models, or the plain dicts of ``read_events(...).records()``).

    Args:
        by: also give figures per ``episode``, ``agent``, ``policy`` (the guard's configured policy chain,
            :attr:`StepEvent.policies`) or ``run``.
        series: also compute what the pictures show: per-step-index and per-time figures, the rationale-action
            matrix and the ``top`` worst contradictions (:attr:`Figures.series`, ``timeline``, ``matrix``,
            ``contradictions``).
        skipped_lines: carried into the summary (the reader's torn-line count).
        top: how many contradictions to keep per group with ``series``.
    """
    return summarize_many(events, by=[by], series=series, skipped_lines=skipped_lines, top=top)[0]


def summarize_many(
    events: Iterable[StepEvent | RewardEvent | Mapping[str, Any]],
    *,
    by: Sequence[GroupBy | None],
    series: bool | Collection[GroupBy | None] = False,
    skipped_lines: int = 0,
    top: int = 10,
) -> list[Summary]:
    """Several groupings of the same events in one pass: one :class:`Summary` per entry of ``by``.

    ``series`` is a bool (for every grouping) or the groupings that get series (``None``: the total); a
    detailed grouping costs more than a plain one, so the HTML page details the total and one grouping only.
    """
    for grouping in by:
        if grouping is not None and grouping not in _GROUPINGS:
            raise InvalidInputError(f"by must be one of episode, agent, policy, run; got {grouping!r}")
    if top < 0:
        raise InvalidInputError(f"top must be >= 0, got {top}")
    wanted = set(by) | {None} if series is True else (set() if series is False else set(series))
    groupings = [g for g in dict.fromkeys(by) if g is not None]
    total = _Acc(None in wanted)
    tables: list[dict[Any, _Acc]] = [{} for _ in groupings]
    details = [g in wanted for g in groupings]
    # With a grouping, the total is the sum of its groups (merged at the end), unless only the total is detailed.
    derived = bool(groupings) and (details[0] or not total.detail)
    base: tuple[_Acc, ...] = () if derived else (total,)
    group_accs: dict[Any, tuple[_Acc, ...]] = {}
    episodes: dict[tuple[str, str], _Episode] = {}
    key: tuple[str, str] | None = None  # the (run, episode) of the previous event
    seq = 0
    last_time = 0.0
    only = groupings[0] if len(groupings) == 1 else None
    for item in events:
        data: Mapping[str, Any] = (
            item if type(item) is dict else item.model_dump() if isinstance(item, (StepEvent, RewardEvent)) else item
        )
        get = data.get
        kind = get("type", "step")
        run_id, episode_id = get("run_id", ""), get("episode", "")
        if key is None or episode_id != key[1] or run_id != key[0]:  # an episode's events mostly come in a row
            key = (run_id, episode_id)
            seen = episodes.get(key)
            if seen is None:
                seen = episodes[key] = _Episode()
            episode = seen
        if kind == "reward":
            reward = get("reward")
            if isinstance(reward, (int, float)):
                episode.rewards[get("step", -1)] = float(reward)
            continue
        if kind != "step":
            continue
        if groupings:
            # one tuple of groups per combination of keys, so that it is the same object each time
            if only == "agent":
                group_keys: Any = get("agent") or "(unknown)"
            elif only is not None:
                group_keys = _group_key(only, data, key)
            else:
                group_keys = tuple(_group_key(g, data, key) for g in groupings)
            accs = group_accs.get(group_keys)
            if accs is None:
                found = []
                keys = (group_keys,) if only is not None else group_keys
                for group_key, table, detail in zip(keys, tables, details, strict=True):
                    acc = table.get(group_key)
                    if acc is None:
                        acc = table[group_key] = _Acc(detail)
                    found.append(acc)
                accs = group_accs[group_keys] = (*base, *found)
        else:
            accs = base
        timestamp = get("timestamp")
        if timestamp.__class__ is float or isinstance(timestamp, (int, float)):
            last_time = float(timestamp)
        seq += 1
        step = get("step", 0)
        coverage = get("coverage")
        slot = episode.last_slot if accs is episode.last_accs else episode.slot(accs)
        if coverage is not None and step >= slot[0]:
            slot[0], slot[1] = step, coverage
        changes, outcome_changed = _add_step(accs, data, step, last_time, seq, top)
        action = get("final_action")
        if action is not None and get("status", "ok") == "ok":
            episode.rows.append((step, action, accs, changes, outcome_changed, last_time))
    for key, episode in episodes.items():
        episode.settle(key)
        _replay(episode)
    if derived:
        for acc in tables[0].values():
            total.merge(acc, top)
    edges = _time_edges([total, *(acc for table in tables for acc in table.values())])
    runs_total = len(total.runs)
    total_figures = _figures(_ALL, total, edges)
    summaries = {}
    for grouping, table in zip(groupings, tables, strict=True):
        labelled = sorted(
            ((_label(k, runs_total), acc) for k, acc in table.items()), key=lambda pair: _natural(pair[0])
        )
        summaries[grouping] = Summary(
            by=grouping,
            total=total_figures,
            groups=[_figures(label, acc, edges) for label, acc in labelled],
            skipped_lines=skipped_lines,
        )
    return [
        summaries[g] if g is not None else Summary(by=None, total=total_figures, groups=[], skipped_lines=skipped_lines)
        for g in by
    ]


def _group_key(by: GroupBy, data: Mapping[str, Any], episode_key: tuple[str, str]) -> Any:
    if by == "agent":
        return data.get("agent") or "(unknown)"
    if by == "run":
        return episode_key[0]
    if by == "episode":
        return episode_key
    policies = data.get("policies")
    return "+".join(policies) if policies else "(none)"


_DIGITS = re.compile(r"(\d+)")


def _natural(label: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that orders ``ep-2`` before ``ep-10``."""
    # split() puts the captured digit runs at the odd indices
    return tuple((1, int(part)) if index % 2 else (0, part) for index, part in enumerate(_DIGITS.split(label)))


def _label(key: Any, runs: int) -> str:
    if isinstance(key, tuple):
        return f"{key[0]}/{key[1]}" if runs > 1 else str(key[1])
    return str(key)


_NO_KINDS: tuple[str, ...] = ()
_NO_CORRECTIONS: tuple[tuple[str, bool, bool], ...] = ()


def _add_step(
    accs: tuple[_Acc, ...],
    data: Mapping[str, Any],
    step: int,
    timestamp: float,
    seq: int,
    top: int,
) -> tuple[tuple[str, ...], bool]:
    """Count one step into its groups; returns the policies that changed its action and whether one of them was
    an override or an exploration (the replay joins them with the step's reward)."""
    get = data.get
    calls = get("agent_calls", 0)
    errors = get("agent_errors")
    answered = calls > (len(errors) if errors else 0)
    parsed = get("parsed_action")
    final = get("final_action")
    said = get("final_rationale_action")
    agree = None if final is None or said is None else final == said
    kinds = _NO_KINDS
    gap_finding: Mapping[str, Any] | None = None
    findings = get("findings")
    if findings:
        first: list[str] = []
        for finding in findings:
            if finding.get("attempt", 1) == 1:
                kind = finding["kind"]
                if kind not in first:
                    first.append(kind)
                if kind == KNOWING_DOING_GAP and gap_finding is None:
                    gap_finding = finding
        kinds = tuple(first)
    intervened = fallback = False
    changes = _NO_CORRECTIONS
    changed_by = _NO_CHANGES
    outcome_changed = False
    corrections = get("corrections")
    if corrections:
        changed_list: list[str] = []
        found: list[tuple[str, bool, bool]] = []
        for correction in corrections:
            applied = correction.get("applied", True)
            intervened = intervened or applied
            kind = correction.get("kind")
            fallback = fallback or (applied and kind == "fallback")
            to_action = correction.get("to_action")
            changed = applied and to_action is not None and to_action != correction.get("from_action")
            policy = correction["policy"]
            found.append((policy, applied, changed))
            if changed:
                changed_list.append(policy)
                outcome_changed = outcome_changed or kind in _OUTCOME_KINDS
        changes = tuple(found)
        if changed_list:
            changed_by = tuple(dict.fromkeys(changed_list))
    signature: _Signature = (
        get("status", "ok") != "ok",
        answered,
        answered and parsed is None,
        answered and get("rationale_action") is not None,
        agree,
        intervened,
        not fallback and final is not None and final != parsed,
        calls - 1 if calls > 1 else 0,
        kinds,
        changes,
    )
    for acc in accs:
        signatures = acc.signatures
        signatures[signature] = signatures.get(signature, 0) + 1
        if acc.detail:
            _add_detail(acc, data, timestamp, step, seq, top, answered, gap_finding, agree, intervened, changed_by)
    return changed_by, outcome_changed


def _add_detail(
    acc: _Acc,
    data: Mapping[str, Any],
    timestamp: float,
    step: int,
    seq: int,
    top: int,
    answered: bool,
    gap_finding: Mapping[str, Any] | None,
    agree: bool | None,
    intervened: bool,
    changed_by: tuple[str, ...],
) -> None:
    coverage = data.get("coverage")
    flags = (
        (_ANSWERED if answered else 0)
        | (_GAP if answered and gap_finding is not None else 0)
        | (0 if agree is None else _AGREE_KNOWN | (_AGREES if agree else 0))
        | (_INTERVENED if intervened else 0)
        | (_CHANGED if changed_by else 0)
        | (0 if coverage is None else _COVERAGE)
    )
    acc.times.append(timestamp)
    acc.step_index.append(step)
    acc.flags.append(flags)
    acc.step_coverage.append(0.0 if coverage is None else float(coverage))
    if answered:
        cell = acc.matrix.get((data.get("rationale_action"), data.get("parsed_action")))
        if cell is None:
            cell = acc.matrix[(data.get("rationale_action"), data.get("parsed_action"))] = [0, 0]
        cell[0] += 1
    final = data.get("final_action")
    if final is not None:
        cell = acc.matrix.get((data.get("final_rationale_action"), final))
        if cell is None:
            cell = acc.matrix[(data.get("final_rationale_action"), final)] = [0, 0]
        cell[1] += 1
    if gap_finding is not None and top:
        actions: Sequence[str] = gap_finding.get("actions") or ()
        said = actions[1] if len(actions) > 1 else data.get("rationale_action")
        rank = (final != said, float(gap_finding.get("score", 0.0)), -seq)  # unresolved first, then most certain
        heap = acc.contradictions
        if len(heap) < top:
            heapq.heappush(heap, (rank, data))
        elif rank > heap[0][0]:
            heapq.heapreplace(heap, (rank, data))


class _Tally:
    """What an episode's replay found for one tuple of groups, added to each of them once at the end."""

    __slots__ = (
        "changed_n",
        "changed_sum",
        "detail",
        "freq_hits",
        "freq_n",
        "greedy_hits",
        "greedy_n",
        "policy_rewards",
        "reward_n",
        "reward_steps",
        "reward_sum",
        "reward_times",
        "reward_values",
        "unchanged_sum",
    )

    def __init__(self, detail: bool) -> None:
        self.detail = detail  # keep the rewards one by one, for series
        self.freq_n = self.freq_hits = self.greedy_n = self.greedy_hits = self.reward_n = self.changed_n = 0
        self.reward_sum = self.changed_sum = self.unchanged_sum = 0.0
        self.policy_rewards: dict[str, list[float]] = {}
        self.reward_times: list[float] = []
        self.reward_steps: list[int] = []
        self.reward_values: list[float] = []

    def add_to(self, accs: tuple[_Acc, ...]) -> None:
        for acc in accs:
            acc.freq_n += self.freq_n
            acc.freq_hits += self.freq_hits
            acc.greedy_n += self.greedy_n
            acc.greedy_hits += self.greedy_hits
            acc.reward_n += self.reward_n
            acc.reward_sum += self.reward_sum
            outcome = acc.outcome
            outcome[0] += self.changed_n
            outcome[1] += self.changed_sum
            outcome[2] += self.reward_n - self.changed_n
            outcome[3] += self.unchanged_sum
            for policy, (n, total) in self.policy_rewards.items():
                sums = acc.policy_rewards.setdefault(policy, [0.0, 0.0])
                sums[0] += n
                sums[1] += total
            if acc.detail:
                acc.reward_times.extend(self.reward_times)
                acc.reward_steps.extend(self.reward_steps)
                acc.reward_values.extend(self.reward_values)


def _replay(episode: _Episode) -> None:
    """Walk the episode's executed actions in step order: frequent-action and greedy checks, rewards.

    The history is the episode's, whichever groups its steps belong to; what each step adds goes to a tally per
    tuple of groups (nearly always one per episode), added to the groups at the end.
    """
    rows = episode.rows
    steps = [row[0] for row in rows]
    if steps != sorted(steps):  # nearly always in order already: sorting a sorted list is one pass in C
        rows = sorted(rows, key=lambda row: row[0])
    rewards = episode.rewards
    counts: dict[str, int] = {}
    sums: dict[str, float] = {}
    rewarded: dict[str, int] = {}
    means: dict[str, float] = {}  # of the actions with a known reward
    top: str | None = None
    top_count = 0
    top_unique = False
    best = -math.inf  # the highest mean reward of an action so far, and that action
    best_action: str | None = None
    tallies: dict[tuple[_Acc, ...], _Tally] = {}
    last: tuple[_Acc, ...] | None = None
    tally = _Tally(False)
    for step, action, accs, changed_by, outcome_changed, timestamp in rows:
        if accs is not last:
            tally = tallies.get(accs) or tallies.setdefault(accs, _Tally(any(acc.detail for acc in accs)))
            last = accs
        if top_unique:
            tally.freq_n += 1
            if action == top:
                tally.freq_hits += 1
        if means:
            tally.greedy_n += 1
            mean = means.get(action)
            if mean is not None and mean >= best - 1e-12:
                tally.greedy_hits += 1
        count = counts.get(action, 0) + 1
        counts[action] = count
        if count > top_count:  # counts only grow by one, so the new top is strictly ahead of the rest
            top, top_count, top_unique = action, count, True
        elif count == top_count:
            top_unique = False
        reward = rewards.get(step)
        if reward is not None:
            total = sums[action] = sums.get(action, 0.0) + reward
            n = rewarded[action] = rewarded.get(action, 0) + 1
            mean = means[action] = total / n
            if mean >= best:
                best, best_action = mean, action
            elif action == best_action:  # the best action's mean fell: find the best again
                best_action = max(means, key=means.__getitem__)
                best = means[best_action]
            tally.reward_n += 1
            tally.reward_sum += reward
            if outcome_changed:
                tally.changed_n += 1
                tally.changed_sum += reward
            else:
                tally.unchanged_sum += reward
            for policy in changed_by:
                policy_sums = tally.policy_rewards.setdefault(policy, [0.0, 0.0])
                policy_sums[0] += 1
                policy_sums[1] += reward
            if tally.detail:
                tally.reward_times.append(timestamp)
                tally.reward_steps.append(step)
                tally.reward_values.append(reward)
    for accs, found in tallies.items():
        found.add_to(accs)


def _rate(hits: int, n: int) -> float | None:
    return hits / n if n else None


def _time_edges(accs: Iterable[_Acc]) -> npt.NDArray[np.float64] | None:
    """Bin edges shared by every detailed group's timeline, so that groups line up; None without detail."""
    low, high, most = math.inf, -math.inf, 0
    for acc in accs:
        if acc.detail and acc.times:
            times = np.frombuffer(acc.times, dtype=np.float64)
            low, high, most = min(low, float(times.min())), max(high, float(times.max())), max(most, len(times))
    if not most:
        return None
    if high <= low:
        high = low + 1.0
    return np.linspace(low, high, max(1, min(TIME_BINS, most)) + 1)


def _points(
    acc: _Acc, index: npt.NDArray[np.int64], reward_index: npt.NDArray[np.int64], n: int
) -> list[dict[str, Any]]:
    """Counts per point, for steps at ``index`` (0 <= index < n) and rewards at ``reward_index``."""
    flags = np.frombuffer(acc.flags, dtype=np.uint8)

    def count(bit: int) -> npt.NDArray[np.int64]:
        return np.bincount(index, weights=(flags & bit) > 0, minlength=n).astype(np.int64)

    steps = np.bincount(index, minlength=n)
    answered, gap, known, agrees = count(_ANSWERED), count(_GAP), count(_AGREE_KNOWN), count(_AGREES)
    intervened, changed, covered = count(_INTERVENED), count(_CHANGED), count(_COVERAGE)
    coverage_sum = np.bincount(index, weights=np.frombuffer(acc.step_coverage, dtype=np.float64), minlength=n)
    reward_n = np.bincount(reward_index, minlength=n)
    reward_sum = np.bincount(reward_index, weights=np.frombuffer(acc.reward_values, dtype=np.float64), minlength=n)
    points = []
    for i in range(n):
        s, a, c, r = int(steps[i]), int(answered[i]), int(known[i]), int(reward_n[i])
        points.append(
            {
                "steps": s,
                "answered_steps": a,
                "knowing_doing_gap_steps": int(gap[i]),
                "knowing_doing_gap_rate": int(gap[i]) / a if a else None,
                "agreement_steps": c,
                "agreeing_steps": int(agrees[i]),
                "agreement": int(agrees[i]) / c if c else None,
                "intervened_steps": int(intervened[i]),
                "intervention_rate": int(intervened[i]) / s if s else 0.0,
                "changed_steps": int(changed[i]),
                "coverage": float(coverage_sum[i]) / int(covered[i]) if covered[i] else None,
                "reward_steps": r,
                "mean_reward": float(reward_sum[i]) / r if r else None,
            }
        )
    return points


def _step_series(acc: _Acc) -> list[StepPoint]:
    if not acc.step_index:
        return []
    steps = np.frombuffer(acc.step_index, dtype=np.int64)
    unique, index = np.unique(steps, return_inverse=True)
    reward_steps = np.frombuffer(acc.reward_steps, dtype=np.int64)
    reward_index = np.searchsorted(unique, reward_steps)
    points = _points(acc, index.astype(np.int64), reward_index.astype(np.int64), len(unique))
    return [StepPoint(step=int(step), **point) for step, point in zip(unique, points, strict=True) if point["steps"]]


def _timeline(acc: _Acc, edges: npt.NDArray[np.float64] | None) -> list[TimeBin]:
    if edges is None or not acc.times:
        return []
    n = len(edges) - 1

    def bin_of(times: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.clip(np.searchsorted(edges, times, side="right") - 1, 0, n - 1).astype(np.int64)

    index = bin_of(np.frombuffer(acc.times, dtype=np.float64))
    reward_index = bin_of(np.frombuffer(acc.reward_times, dtype=np.float64))
    points = _points(acc, index, reward_index, n)
    return [
        TimeBin(start=float(edges[i]), end=float(edges[i + 1]), **point)
        for i, point in enumerate(points)
        if point["steps"]
    ]


def _contradiction(data: Mapping[str, Any]) -> Contradiction:
    finding = next(f for f in data.get("findings") or () if f["kind"] == KNOWING_DOING_GAP and f.get("attempt", 1) == 1)
    actions: Sequence[str] = finding.get("actions") or ()
    did = actions[0] if actions else data.get("parsed_action")
    said = actions[1] if len(actions) > 1 else data.get("rationale_action")
    evidence = (finding.get("data") or {}).get("evidence")
    final = data.get("final_action")
    return Contradiction(
        run_id=str(data.get("run_id", "")),
        episode=str(data.get("episode", "")),
        step=int(data.get("step", 0)),
        agent=data.get("agent"),
        timestamp=data.get("timestamp"),
        rationale_action=said,
        action=did,
        final_action=final,
        score=float(finding.get("score", 0.0)),
        attempt=int(finding.get("attempt", 1)),
        evidence=evidence if isinstance(evidence, str) else None,
        rationale=data.get("rationale"),
        resolved=final is not None and final == said,
        corrections=[
            f"{c['policy']}: {c.get('from_action')} -> {c.get('to_action')}"
            for c in data.get("corrections") or ()
            if c.get("applied", True)
        ],
    )


def _figures(key: str, acc: _Acc, edges: npt.NDArray[np.float64] | None) -> Figures:
    coverages = [c for _, c in acc.coverage.values()]
    counts = _Counts(acc.signatures)
    changed_n, changed_sum, unchanged_n, unchanged_sum = acc.outcome
    return Figures(
        key=key,
        steps=counts.steps,
        episodes=len(acc.episodes),
        runs=len(acc.runs),
        errors=counts.errors,
        answered_steps=counts.answered,
        rationale_steps=counts.rationale,
        agreement=_rate(counts.agree, counts.agree_n),
        agreeing_steps=counts.agree,
        agreement_steps=counts.agree_n,
        knowing_doing_gap_rate=_rate(counts.kinds.get(KNOWING_DOING_GAP, 0), counts.answered),
        knowing_doing_gap_steps=counts.kinds.get(KNOWING_DOING_GAP, 0),
        frequent_action_rate=_rate(acc.freq_hits, acc.freq_n),
        frequent_action_hits=acc.freq_hits,
        frequent_action_steps=acc.freq_n,
        coverage=sum(coverages) / len(coverages) if coverages else None,
        coverage_episodes=len(coverages),
        greedy_rate=_rate(acc.greedy_hits, acc.greedy_n),
        greedy_hits=acc.greedy_hits,
        greedy_steps=acc.greedy_n,
        invalid_rate=_rate(counts.invalid, counts.answered),
        invalid_steps=counts.invalid,
        intervention_rate=_rate(counts.intervened, counts.steps),
        intervened_steps=counts.intervened,
        extra_agent_calls_per_step=counts.extra_calls / counts.steps if counts.steps else None,
        extra_agent_calls=counts.extra_calls,
        guard_changed_steps=counts.guard_changed,
        extra_agent_calls_per_changed_step=_rate(counts.extra_calls, counts.guard_changed),
        mean_reward=acc.reward_sum / acc.reward_n if acc.reward_n else None,
        reward_steps=acc.reward_n,
        outcome=RewardOutcome(
            changed_steps=int(changed_n),
            changed_mean_reward=changed_sum / changed_n if changed_n else None,
            unchanged_steps=int(unchanged_n),
            unchanged_mean_reward=unchanged_sum / unchanged_n if unchanged_n else None,
        )
        if acc.reward_n
        else None,
        finding_rates={k: n / counts.answered for k, n in sorted(counts.kinds.items())},
        finding_counts=dict(sorted(counts.kinds.items())),
        interventions=[
            PolicyFigures(
                policy=p,
                proposed=c[0],
                applied=c[1],
                changed_action=c[2],
                changed_reward_steps=int(acc.policy_rewards.get(p, (0, 0.0))[0]),
                changed_mean_reward=acc.policy_rewards[p][1] / acc.policy_rewards[p][0]
                if p in acc.policy_rewards
                else None,
            )
            for p, c in sorted(counts.corrections.items())
        ],
        series=_step_series(acc) if acc.detail else [],
        timeline=_timeline(acc, edges) if acc.detail else [],
        matrix=[
            MatrixCell(rationale_action=said, action=did, first=c[0], final=c[1])
            for (said, did), c in sorted(acc.matrix.items(), key=lambda item: (str(item[0][0]), str(item[0][1])))
        ],
        contradictions=[
            _contradiction(data) for _, data in sorted(acc.contradictions, key=lambda x: x[0], reverse=True)
        ],
    )


def summarize_files(
    paths: PathLike | Iterable[PathLike],
    *,
    by: GroupBy | None = None,
    run: str | None = None,
    episode: str | None = None,
    since: float | None = None,
    series: bool = False,
) -> Summary:
    """Summarise JSONL telemetry files (rotated backups included) without validating each line."""
    log = read_events(paths, run=run, episode=episode, since=since)
    summary = summarize(log.records(), by=by, series=series)
    return summary.model_copy(update={"skipped_lines": log.skipped_lines})


# -- rendering -------------------------------------------------------------------------------------------------


def _ratio(hits: int, n: int, missing: str) -> str:
    return f"{100 * hits / n:.1f}% ({hits}/{n})" if n else f"n/a ({missing})"


def _mean(value: float | None, n: int, missing: str) -> str:
    return f"{value:.3f} ({n} step{'s' if n != 1 else ''})" if value is not None and n else f"n/a ({missing})"


def _gap_cell(f: Figures) -> str:
    if f.answered_steps and not f.rationale_steps:
        return "n/a (no rationale named an action)"
    return _ratio(f.knowing_doing_gap_steps, f.answered_steps, "no answers")


def _greedy_cell(f: Figures) -> str:
    return _ratio(f.greedy_hits, f.greedy_steps, "no rewards" if not f.reward_steps else "no rewarded action yet")


def _coverage_cell(f: Figures) -> str:
    if f.coverage is None:
        return "n/a (no coverage logged)"
    return f"{100 * f.coverage:.1f}% ({f.coverage_episodes} episode{'s' if f.coverage_episodes != 1 else ''})"


def _cost_per_fix_cell(f: Figures) -> str:
    if f.extra_agent_calls_per_changed_step is None:
        return "n/a (none changed)"
    return f"{f.extra_agent_calls_per_changed_step:.3f} ({f.extra_agent_calls}/{f.guard_changed_steps})"


def _outcome_cell(f: Figures, changed: bool) -> str:
    outcome = f.outcome
    if outcome is None:
        return "n/a (no rewards)"
    if changed:
        return _mean(outcome.changed_mean_reward, outcome.changed_steps, "none changed")
    return _mean(outcome.unchanged_mean_reward, outcome.unchanged_steps, "all changed")


# (label, short header, cell of a group's figures)
_ROWS: tuple[tuple[str, str, Any], ...] = (
    ("steps", "steps", lambda f: str(f.steps)),
    ("episodes", "episodes", lambda f: str(f.episodes)),
    (
        "rationale-action agreement",
        "agree",
        lambda f: _ratio(f.agreeing_steps, f.agreement_steps, "no rationale named an action"),
    ),
    ("knowing-doing gap rate", "kd-gap", _gap_cell),
    (
        "frequent-action rate",
        "frequent",
        lambda f: _ratio(f.frequent_action_hits, f.frequent_action_steps, "no most frequent action"),
    ),
    ("greedy rate", "greedy", _greedy_cell),
    ("coverage (final, per episode)", "coverage", _coverage_cell),
    ("invalid rate", "invalid", lambda f: _ratio(f.invalid_steps, f.answered_steps, "no answers")),
    ("intervention rate", "interv", lambda f: _ratio(f.intervened_steps, f.steps, "no steps")),
    (
        "extra agent calls / step",
        "extra/step",
        lambda f: f"{f.extra_agent_calls_per_step:.3f} ({f.extra_agent_calls}/{f.steps})" if f.steps else "n/a",
    ),
    ("steps the guard changed", "changed", lambda f: _ratio(f.guard_changed_steps, f.steps, "no steps")),
    ("extra calls / changed step", "cost/fix", _cost_per_fix_cell),
    ("mean reward", "reward", lambda f: _mean(f.mean_reward, f.reward_steps, "no rewards")),
    ("reward, override/explore changed", "reward chg", lambda f: _outcome_cell(f, True)),
    ("reward, not changed", "reward unchg", lambda f: _outcome_cell(f, False)),
    ("steps with errors", "errors", lambda f: _ratio(f.errors, f.steps, "no steps")),
)


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]], *, markdown: bool) -> list[str]:
    if markdown:
        headers = [h.replace("|", "\\|") for h in headers]
        rows = [[c.replace("|", "\\|") for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |" if markdown else "  ".join(padded).rstrip()

    rule = (
        "|" + "|".join(("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)) + "|"
        if markdown
        else "  ".join("-" * w for w in widths)
    )
    return [line(headers), rule, *(line(r) for r in rows)]


def figure_rows(
    summary: Summary, *, layout: Literal["auto", "columns", "rows"] = "auto", groups: Sequence[Figures] | None = None
) -> tuple[list[str], list[list[str]]]:
    """The summary table as (headers, rows) of text cells, every rate with its denominator; labels escaped.

    ``layout="auto"``: up to five groups (the total included) are columns, more are rows with short headers.
    ``groups`` replaces the summary's groups (a selection of them), the total staying first.
    """
    chosen = summary.groups if groups is None else list(groups)
    figures = [summary.total, *chosen] if chosen else [summary.total]
    if layout == "columns" or (layout == "auto" and len(figures) <= 5):
        headers = ["", *(printable(f.key) for f in figures)]
        rows = [[label, *(cell(f) for f in figures)] for label, _, cell in _ROWS]
    else:
        headers = [summary.by or "", *(short for _, short, _ in _ROWS)]
        rows = [[printable(f.key), *(cell(f) for _, _, cell in _ROWS)] for f in figures]
    return headers, rows


POLICY_HEADERS = ("group", "policy", "proposed", "applied", "changed action (of applied)", "reward when changed")


def policy_rows(summary: Summary) -> list[list[str]]:
    """The interventions table: per group and policy, with denominators; labels escaped."""
    figures = summary.figures() if summary.groups else [summary.total]
    return [
        [
            printable(f.key),
            printable(p.policy),
            str(p.proposed),
            str(p.applied),
            _ratio(p.changed_action, p.applied, "none applied"),
            _mean(p.changed_mean_reward, p.changed_reward_steps, "no rewards" if not f.reward_steps else "none"),
        ]
        for f in figures
        for p in f.interventions
    ]


def render(summary: Summary, format: ReportFormat = "table") -> str:
    """The summary as a plain-text table, a Markdown table, or JSON (what ``guardrail report`` prints)."""
    if format == "json":
        return json.dumps(summary.model_dump(mode="json"), indent=2) + "\n"
    if format not in ("table", "markdown"):
        raise InvalidInputError(f"format must be table, markdown or json; got {format!r}")
    markdown = format == "markdown"
    headers, rows = figure_rows(summary)
    lines = _grid(headers, rows, markdown=markdown)
    interventions = policy_rows(summary)
    if interventions:
        lines.append("")
        lines += _grid(POLICY_HEADERS, interventions, markdown=markdown)
    if summary.skipped_lines:
        lines.append("")
        lines.append(f"skipped {summary.skipped_lines} torn line(s)")
    return "\n".join(lines) + "\n"


def plot(summary: Summary, path: str | Path, *, x: Literal["time", "step"] = "time", window: int = 5) -> list[Path]:
    """Save the report's pictures as PNGs: ``path`` (rates over time or step), and beside it ``STEM-matrix.png``
    (the rationale-action matrix) and ``STEM-interventions.png`` (interventions by policy and outcome).

    Needs ``summary`` computed with ``series=True`` and the ``plot`` extra (matplotlib); creates the directory.
    """
    from guardrail.telemetry.plots import save_pictures

    return save_pictures(summary, path, x=x, window=window)


# -- the CLI ---------------------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add the ``report`` subcommand to ``guardrail``'s argument parser."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="summarise telemetry files",
        description="A one-screen summary of guardrail JSONL telemetry (rotated backups are read too).",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="JSONL files or directories of them")
    parser.add_argument("--by", choices=list(_GROUPINGS), help="also summarise per group")
    parser.add_argument("--format", choices=["table", "markdown", "json"], default="table")
    parser.add_argument(
        "--plot", metavar="OUT.png", help="save rates over time, the rationale-action matrix and interventions as PNGs"
    )
    parser.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report")
    parser.add_argument(
        "--x", choices=["time", "step"], default="time", help="the rates' x axis: wall-clock time or step index"
    )
    parser.add_argument("--window", type=int, default=5, metavar="N", help="rolling window of the rates (points)")
    parser.add_argument("--run", help="only this run id")
    parser.add_argument("--episode", help="only this episode")
    parser.add_argument("--since", type=float, metavar="UNIX_TIME", help="only events at or after this time")
    parser.set_defaults(func=run_report)


def _prepare_output(path: str) -> str | None:
    """Create the output's directory; the one line to print when that is impossible (else None)."""
    parent = Path(path).parent
    if Path(path).is_dir():
        return f"{path} is a directory; give a file name"
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create directory {parent}: {exc.strerror or exc}"
    return None


def _without_gc(work: Callable[[], _T]) -> _T:
    """Run ``work`` with the cyclic garbage collector paused: summarising builds no cycles, and collecting while
    a million decoded events pass through costs about a tenth of the time (the command's own process only)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return work()
    finally:
        if was_enabled:
            gc.enable()


def run_report(args: argparse.Namespace) -> int:
    """``guardrail report``: print the summary; 0 on success, 1 when no step was found, 2 on bad input."""
    outputs = [p for p in (args.plot, getattr(args, "html", None)) if p is not None]
    for output in outputs:
        problem = _prepare_output(output)
        if problem is not None:
            sys.stderr.write(f"guardrail report: {problem}\n")
            return 2
    if args.window < 1:
        sys.stderr.write(f"guardrail report: --window must be at least 1, got {args.window}\n")
        return 2
    html_out = getattr(args, "html", None)
    try:
        log = read_events(args.files, run=args.run, episode=args.episode, since=args.since)
        by: list[GroupBy | None] = [args.by]
        series: set[GroupBy | None] = set()
        if args.plot is not None:
            series |= {None, args.by}
        if html_out is not None:
            page_by: GroupBy = args.by or "agent"
            by = list(dict.fromkeys([args.by, page_by, "agent", "episode"]))
            series |= {None, page_by}
        summaries = _without_gc(lambda: summarize_many(log.records(), by=by, series=series))
        summaries = [s.model_copy(update={"skipped_lines": log.skipped_lines}) for s in summaries]
        summary = summaries[0]
        if summary.total.steps == 0:
            where = ", ".join(printable(str(f)) for f in args.files)
            sys.stderr.write(f"guardrail report: no step events in {where}")
            sys.stderr.write(" matching the filters\n" if args.run or args.episode or args.since else "\n")
            return 1
        sys.stdout.write(render(summary, args.format))
        if args.plot is not None:
            for out in plot(summary, args.plot, x=args.x, window=args.window):
                sys.stderr.write(f"wrote {out}\n")
        if html_out is not None:
            from guardrail.telemetry.html import write_html

            named = dict(zip(by, summaries, strict=True))
            page = named[args.by or "agent"]
            out = write_html(
                html_out,
                page,
                by_agent=named["agent"],
                by_episode=named["episode"],
                sources=[str(f) for f in args.files],
                x=args.x,
                window=args.window,
            )
            sys.stderr.write(f"wrote {out}\n")
    except GuardrailError as exc:
        sys.stderr.write(f"guardrail report: {exc}\n")
        return 2
    return 0
