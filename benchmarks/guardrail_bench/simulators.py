"""Scripted "LLM" bandit agents, calibrated to the failure rates Schmied et al. (2025) measured.

**These are simulations, not language models.** Each profile writes, per step, the text an LLM would
write for the paper's button bandit: a short rationale recommending an arm, then a final line
``ACTION=<arm name>``. What it recommends and what it does are drawn from distributions fitted to the
paper's figures, so the guard can be exercised and measured without a model. Real models are in
:mod:`guardrail_bench.llm`.

Profiles
--------
- :class:`KnowingDoingProfile` (Gemma2-27B's knowing-doing gap): the rationale is correct (names a true UCB
  argmax) on about 90% of steps; the action is then greedy / optimal (UCB) / other at the paper's row
  rates, whatever the rationale said.
- :class:`FrequencyBiasProfile` (Gemma2-2B's frequency bias): copies its most frequent past action with
  probability ``copy_probability`` (0.9), otherwise acts like the knowing-doing profile.
- :class:`GreedyProfile` (greediness): tries ``n_initial`` arms (2), then exploits the best empirical mean.

How a knowing-doing step is drawn
---------------------------------
Sets are those of :mod:`guardrail_bench.metrics` (G = greedy set, O = optimal/UCB set, A = all arms).

1. Rationale: correct with probability ``rationale_correct_rate``: the recommended arm ``x`` is drawn from
   ``O`` (with several untried arms, any untried arm is a UCB argmax, and one is drawn at random);
   otherwise ``x`` is drawn from ``A \\ O`` (the greedy arm with probability ``wrong_names_greedy``, which
   is the typical miscalculation, else any non-optimal arm). Where ``A \\ O`` is empty (step 0: every arm
   is untried) the rationale is necessarily correct.
2. Action category from the row of the rationale: ``given_correct`` / ``given_wrong`` = (greedy, optimal,
   other) probabilities.
3. Resolution to an arm, keeping categories apart wherever the state allows, because the measured table
   classifies greedy first: *greedy* -> an arm of ``G \\ O`` if any, else ``G``; *optimal* -> ``x`` itself
   when the rationale is correct and ``x`` is not greedy (the model does what it said), else an arm of
   ``O \\ G`` if any, else ``O``; *other* -> an arm outside ``G | O`` if any. An infeasible category (greedy
   at step 0, when ``G`` is empty) falls back to the rationale's arm.

Why the default rates differ from the paper's row fractions: the measured table (greedy first) cannot
reproduce the intention exactly. At step 0 every action is "optimal" and every rationale "correct"
(1 step in 50 = 2 points of the table), and once every arm has been tried the UCB argmax is often the
greedy arm, so an intended optimal action is measured as greedy. The defaults are the intended rates that
make the *measured* table match the paper's (58.1 21.6 10.6 / 7.2 0.6 2.0) within about a point on the
reference setting (10 arms, Gaussian, sigma = 1, T = 50, 64 bandits); ``scripts/calibrate_simulators.py``
prints the comparison. :attr:`KnowingDoingProfile.paper` gives a profile with the paper's raw row rates.

Re-asking: ``respond(..., reask_feedback=...)`` answers anew from the same distribution (the feedback is
ignored), so a re-ask leaves the gap in place at its natural rate, as it does for the real model.

An ``invalid_rate`` knob (default 0) makes a step's ACTION line illegal (``ACTION=purple-ish``) or drops it.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from guardrail import ConfigurationError
from guardrail_bench.baselines import BanditRun
from guardrail_bench.envs import INVALID_ACTION_REWARD, BanditBatch, BanditSpec, BanditView, split_seed
from guardrail_bench.metrics import (
    Category,
    FrequencyFractions,
    KnowingDoingTable,
    classify_action,
    coverage,
    cumulative_regret,
    empirical_means,
    frequency_fractions,
    knowing_doing_table,
)

__all__ = [
    "RATIONALE_TEMPLATES",
    "FrequencyBiasProfile",
    "GreedyProfile",
    "Intention",
    "KnowingDoingProfile",
    "SimulatedAgent",
    "SimulatedRun",
    "SimulatedTurn",
    "check_probability",
    "parse_action_line",
    "run_simulated",
    "ucb_listing",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: What a profile meant to do at a step (``explore``: the greedy profile's initial tries).
Intention = Literal["greedy", "optimal", "other", "frequent", "explore"]

#: The rationale phrasings, keyed by flavour. ``{x}`` is the recommended arm, ``{ucb_listing}`` a listing
#: such as ``"red: n=3, mean=0.41, UCB=1.52; blue: untried, UCB=inf."``.
RATIONALE_TEMPLATES: dict[str, str] = {
    "ucb": "{ucb_listing} The highest UCB value is {x}, so I should choose {x}.",
    "explore": "Exploring matters: {x} is the best option to try next.",
    "averages": "Based on the averages, the next action should be {x}.",
    "greedy": "{x} has the best average reward so far, so I will pick {x}.",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulatedTurn:
    """One simulated answer with its ground truth.

    Attributes:
        text: what the "LLM" wrote (rationale, then ``ACTION=<arm>`` unless the step is invalid).
        rationale_action: the arm the rationale recommends.
        action: the arm the ACTION line names; None when the step is invalid (illegal name or no line).
        category: the chosen arm's measured category (greedy first, as in :mod:`guardrail_bench.metrics`).
        intended: what the profile meant to do (the category it drew, or ``frequent``/``explore``).
        rationale_correct: whether ``rationale_action`` is a UCB argmax of the view.
    """

    text: str
    rationale_action: str
    action: str | None
    category: Category
    intended: Intention
    rationale_correct: bool


@runtime_checkable
class SimulatedAgent(Protocol):
    """A scripted agent: the text an LLM would write for one bandit step."""

    def respond(self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None) -> str:
        """The answer text (a rationale, then ``ACTION=<arm>``)."""
        ...

    def respond_with_truth(
        self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None
    ) -> SimulatedTurn:
        """The answer text with the simulator's ground truth."""
        ...


# ============================================================================================ text


def ucb_listing(view: BanditView, *, c: float = 1.0, favour: int | None = None) -> str:
    """Per-arm counts, means and UCB values as an LLM would list them.

    With ``favour`` (a tried arm that is *not* a UCB argmax), the listing is a plausible miscalculation that
    ranks ``favour`` first: untried arms are given a UCB of 0 instead of infinity, and ``favour``'s value is
    inflated above every other listed value.

    >>> view = BanditView.from_history(["red", "blue"], [0, 0], [0.5, 0.3])
    >>> ucb_listing(view)
    'red: n=2, mean=0.40, UCB=0.99; blue: untried, UCB=inf.'
    """
    ucb = view.ucb(c)
    shown: list[float] = []
    for arm in range(view.k):
        if view.counts[arm] == 0:
            shown.append(0.0 if favour is not None else math.inf)
        else:
            shown.append(float(ucb[arm]))
    if favour is not None:
        others = [value for arm, value in enumerate(shown) if arm != favour]
        top = max(others) if others else shown[favour]
        if shown[favour] <= top:
            shown[favour] = top + 0.13
    parts = []
    for arm, name in enumerate(view.arm_names):
        if view.counts[arm] == 0:
            parts.append(f"{name}: untried, UCB={'inf' if math.isinf(shown[arm]) else f'{shown[arm]:.2f}'}")
        else:
            parts.append(f"{name}: n={int(view.counts[arm])}, mean={float(view.means[arm]):.2f}, UCB={shown[arm]:.2f}")
    return "; ".join(parts) + "."


def _rationale_text(
    view: BanditView, x: int, *, correct: bool, greedy: frozenset[int], c: float, rng: np.random.Generator
) -> str:
    """One of :data:`RATIONALE_TEMPLATES` recommending arm ``x``, chosen at random among those that fit."""
    flavours = ["ucb", "averages", "greedy" if x in greedy else "explore"]
    weights = np.array([0.5, 0.25, 0.25])
    flavour = flavours[int(rng.choice(3, p=weights))]
    name = view.arm_names[x]
    listing = ucb_listing(view, c=c, favour=None if correct else x) if flavour == "ucb" else ""
    return RATIONALE_TEMPLATES[flavour].format(x=name, ucb_listing=listing)


def _answer(
    rationale: str, action_name: str, *, invalid_rate: float, rng: np.random.Generator
) -> tuple[str, str | None]:
    """The full answer text and the action it names (None when made invalid)."""
    if invalid_rate > 0 and rng.random() < invalid_rate:
        if rng.random() < 0.5:
            return f"{rationale}\nACTION={action_name}-ish", None
        return rationale, None
    return f"{rationale}\nACTION={action_name}", action_name


_ACTION_LINE = re.compile(r"ACTION\s*=\s*([^\n]*)")


def parse_action_line(text: str, arm_names: Sequence[str]) -> int | None:
    """The arm index named by the *last* ``ACTION=`` in ``text`` (exact name, case-insensitive), else None.

    A minimal reader for the simulators' own output, so runs here need no parser; the guard uses
    :func:`guardrail.parse`.
    """
    matches = _ACTION_LINE.findall(text)
    if not matches:
        return None
    wanted = matches[-1].strip().casefold()
    for index, name in enumerate(arm_names):
        if name.casefold() == wanted:
            return index
    return None


def _pick(candidates: frozenset[int] | Sequence[int], rng: np.random.Generator) -> int:
    ordered = sorted(candidates)
    return ordered[int(rng.integers(len(ordered)))]


def check_probability(name: str, value: float) -> None:
    """A ConfigurationError naming ``name`` unless ``value`` is a probability (a simulated profile's rates)."""
    if not (0.0 <= value <= 1.0):
        raise ConfigurationError(f"{name} must be a probability in [0, 1]; got {value}")


def _check_row(name: str, row: tuple[float, float, float]) -> None:
    values: tuple[float, ...] = tuple(row)
    if (
        len(values) != 3
        or any(not (0.0 <= p <= 1.0) for p in values)
        or not math.isclose(sum(values), 1.0, abs_tol=1e-6)
    ):
        raise ConfigurationError(f"{name} must be three probabilities (greedy, optimal, other) summing to 1; got {row}")


# ============================================================================================ profiles


@dataclass(frozen=True, slots=True, kw_only=True)
class KnowingDoingProfile:
    """Gemma2-27B's knowing-doing gap: a mostly correct rationale, a mostly greedy action.

    Attributes:
        rationale_correct_rate: probability the rationale names a true UCB argmax (intended).
        given_correct: (greedy, optimal, other) action probabilities after a correct rationale (intended).
        given_wrong: the same after a wrong rationale (intended).
        wrong_names_greedy: probability that a wrong rationale recommends the greedy arm (if it is not optimal).
        c: the UCB constant of the rationale's UCB values (1, as in :mod:`guardrail_bench.metrics`).
        invalid_rate: probability of an invalid ACTION line (default 0).

    The defaults are calibrated so that the *measured* table matches the paper's (see the module docstring);
    the paper's row fractions themselves are 0.643/0.239/0.117 and 0.735/0.061/0.204, with 90.3% correct.
    Measured on the reference setting with seed 0: 57.6 21.6 10.6 / 7.5 0.7 1.9 (at most 0.5 points off);
    over seeds 0-19 the largest cell difference is 0.4-1.7 points.
    """

    rationale_correct_rate: float = 0.898
    given_correct: tuple[float, float, float] = (0.648, 0.225, 0.127)
    given_wrong: tuple[float, float, float] = (0.720, 0.065, 0.215)
    wrong_names_greedy: float = 0.5
    c: float = 1.0
    invalid_rate: float = 0.0

    def __post_init__(self) -> None:
        check_probability("rationale_correct_rate", self.rationale_correct_rate)
        check_probability("wrong_names_greedy", self.wrong_names_greedy)
        check_probability("invalid_rate", self.invalid_rate)
        _check_row("given_correct", self.given_correct)
        _check_row("given_wrong", self.given_wrong)
        if not (self.c >= 0 and math.isfinite(self.c)):
            raise ConfigurationError(f"c must be a non-negative number; got {self.c}")

    @classmethod
    def paper(cls, **overrides: float) -> KnowingDoingProfile:
        """A profile with the paper's raw row fractions as intended rates (no compensation)."""
        return cls(
            rationale_correct_rate=0.903,
            given_correct=(58.1 / 90.3, 21.6 / 90.3, 1 - 58.1 / 90.3 - 21.6 / 90.3),
            given_wrong=(7.2 / 9.8, 0.6 / 9.8, 1 - 7.2 / 9.8 - 0.6 / 9.8),
            **overrides,
        )

    def choose_rationale(self, view: BanditView, rng: np.random.Generator) -> tuple[int, bool]:
        """The recommended arm and whether the draw was "correct" (step 1 of the module docstring)."""
        optimal = view.optimal_set(self.c)
        wrong_pool = frozenset(range(view.k)) - optimal
        if not wrong_pool or rng.random() < self.rationale_correct_rate:
            return _pick(optimal, rng), True
        greedy_wrong = view.greedy_set() & wrong_pool
        if greedy_wrong and rng.random() < self.wrong_names_greedy:
            return _pick(greedy_wrong, rng), False
        return _pick(wrong_pool, rng), False

    def choose_action(
        self, view: BanditView, rationale_arm: int, correct: bool, rng: np.random.Generator
    ) -> tuple[int, Intention]:
        """The arm played after a rationale recommending ``rationale_arm`` (steps 2-3 of the module docstring)."""
        row = self.given_correct if correct else self.given_wrong
        intended: Category = ("greedy", "optimal", "other")[int(rng.choice(3, p=np.asarray(row)))]
        greedy, optimal = view.greedy_set(), view.optimal_set(self.c)
        everything = frozenset(range(view.k))
        if intended == "greedy":
            pool = (greedy - optimal) or greedy
        elif intended == "optimal":
            if correct and rationale_arm not in greedy:
                return rationale_arm, intended
            pool = (optimal - greedy) or optimal
        else:
            pool = everything - greedy - optimal
        return (_pick(pool, rng) if pool else rationale_arm), intended

    def respond_with_truth(
        self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None
    ) -> SimulatedTurn:
        """One answer and its ground truth. ``reask_feedback`` is ignored: a re-ask draws anew."""
        del reask_feedback
        rationale_arm, _ = self.choose_rationale(view, rng)
        action, intended = self.choose_action(view, rationale_arm, rationale_arm in view.optimal_set(self.c), rng)
        return _turn(view, rationale_arm, action, intended, c=self.c, invalid_rate=self.invalid_rate, rng=rng)

    def respond(self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None) -> str:
        """The answer text: a rationale, then ``ACTION=<arm>``."""
        return self.respond_with_truth(view, rng, reask_feedback=reask_feedback).text


def _turn(
    view: BanditView,
    rationale_arm: int,
    action: int,
    intended: Intention,
    *,
    c: float,
    invalid_rate: float,
    rng: np.random.Generator,
) -> SimulatedTurn:
    greedy, optimal = view.greedy_set(), view.optimal_set(c)
    correct = rationale_arm in optimal
    rationale = _rationale_text(view, rationale_arm, correct=correct, greedy=greedy, c=c, rng=rng)
    text, named = _answer(rationale, view.arm_names[action], invalid_rate=invalid_rate, rng=rng)
    return SimulatedTurn(
        text=text,
        rationale_action=view.arm_names[rationale_arm],
        action=named,
        category=classify_action(action, greedy=greedy, optimal=optimal),
        intended=intended,
        rationale_correct=correct,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class FrequencyBiasProfile:
    """Gemma2-2B's frequency bias: copy the most frequent past action with probability ``copy_probability``.

    Otherwise (and at step 0) it acts like ``base``. The rationale is always ``base``'s, so a copied action
    usually contradicts it. Ties for most frequent are broken at random. The paper measured 96% of 2B's
    choices on the most frequent action where that action is not the greedy one; with the default 0.9 the
    measured share is a little above 0.9 (the base profile sometimes picks it too).
    """

    copy_probability: float = 0.9
    base: KnowingDoingProfile = field(default_factory=KnowingDoingProfile)
    invalid_rate: float = 0.0

    def __post_init__(self) -> None:
        check_probability("copy_probability", self.copy_probability)
        check_probability("invalid_rate", self.invalid_rate)

    @property
    def c(self) -> float:
        """The UCB constant of the rationales (the base profile's)."""
        return self.base.c

    def respond_with_truth(
        self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None
    ) -> SimulatedTurn:
        """One answer and its ground truth. ``reask_feedback`` is ignored: a re-ask draws anew."""
        del reask_feedback
        rationale_arm, _ = self.base.choose_rationale(view, rng)
        if view.actions and rng.random() < self.copy_probability:
            tally = Counter(view.actions)
            top = max(tally.values())
            action = _pick([a for a, n in tally.items() if n == top], rng)
            intended: Intention = "frequent"
        else:
            correct = rationale_arm in view.optimal_set(self.base.c)
            action, intended = self.base.choose_action(view, rationale_arm, correct, rng)
        return _turn(view, rationale_arm, action, intended, c=self.base.c, invalid_rate=self.invalid_rate, rng=rng)

    def respond(self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None) -> str:
        """The answer text: a rationale, then ``ACTION=<arm>``."""
        return self.respond_with_truth(view, rng, reask_feedback=reask_feedback).text


@dataclass(frozen=True, slots=True, kw_only=True)
class GreedyProfile:
    """Greediness: try ``n_initial`` random arms, then always the best empirical mean (ties at random).

    Its rationale always recommends what it does (no knowing-doing gap); coverage stalls at
    ``n_initial / k`` (20% on 10 arms).
    """

    n_initial: int = 2
    c: float = 1.0
    invalid_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.n_initial < 1:
            raise ConfigurationError(f"n_initial must be >= 1; got {self.n_initial}")
        check_probability("invalid_rate", self.invalid_rate)

    def respond_with_truth(
        self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None
    ) -> SimulatedTurn:
        """One answer and its ground truth. ``reask_feedback`` is ignored."""
        del reask_feedback
        greedy, optimal = view.greedy_set(), view.optimal_set(self.c)
        untried = view.untried()
        if len(untried) > view.k - self.n_initial and untried:
            arm = _pick(untried, rng)
            intended: Intention = "explore"
            rationale = RATIONALE_TEMPLATES["explore"].format(x=view.arm_names[arm])
        else:
            arm, intended = _pick(greedy, rng), "greedy"
            flavour = "greedy" if rng.random() < 0.7 else "averages"
            rationale = RATIONALE_TEMPLATES[flavour].format(x=view.arm_names[arm])
        text, named = _answer(rationale, view.arm_names[arm], invalid_rate=self.invalid_rate, rng=rng)
        return SimulatedTurn(
            text=text,
            rationale_action=view.arm_names[arm],
            action=named,
            category=classify_action(arm, greedy=greedy, optimal=optimal),
            intended=intended,
            rationale_correct=arm in optimal,
        )

    def respond(self, view: BanditView, rng: np.random.Generator, *, reask_feedback: str | None = None) -> str:
        """The answer text: a rationale, then ``ACTION=<arm>``."""
        return self.respond_with_truth(view, rng, reask_feedback=reask_feedback).text


# ============================================================================================ runner


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SimulatedRun:
    """A simulated agent's episodes, unguarded, with what was measured at every step.

    Attributes:
        run: actions, rewards, cumulative regret, coverage, means (see :class:`~guardrail_bench.baselines.BanditRun`).
        rationale_correct: whether the rationale named a UCB argmax, ``(n, T)``.
        categories: the executed arm's category (``greedy``/``optimal``/``other``), ``(n, T)`` strings.
        intended: what the profile meant to do, ``(n, T)`` strings.
        invalid: whether the ACTION line was missing or illegal (a random arm then ran, reward -5), ``(n, T)``.
        texts: the answers, if kept (``keep_texts=True``), else empty.
    """

    run: BanditRun
    rationale_correct: BoolArray
    categories: npt.NDArray[np.str_]
    intended: npt.NDArray[np.str_]
    invalid: BoolArray
    texts: tuple[tuple[str, ...], ...] = ()

    def knowing_doing_table(self) -> KnowingDoingTable:
        """The measured knowing-doing table over all steps."""
        cats: list[Category] = [str(c) for c in self.categories.ravel()]  # type: ignore[misc]
        return knowing_doing_table(self.rationale_correct.ravel().tolist(), cats)

    def frequency_fractions(self) -> FrequencyFractions:
        """Frequent / greedy / other shares on steps whose frequent action is not greedy."""
        return frequency_fractions(self.run.actions, self.run.rewards, self.run.means.shape[1])

    @property
    def invalid_rate(self) -> float:
        """Fraction of invalid steps."""
        return float(self.invalid.mean())


def run_simulated(
    agent: SimulatedAgent,
    spec: BanditSpec | None = None,
    n_bandits: int = 64,
    seed: int = 0,
    *,
    name: str | None = None,
    keep_texts: bool = False,
) -> SimulatedRun:
    """Play ``agent`` without any guard on ``n_bandits`` bandits (the same bandits as
    :func:`~guardrail_bench.baselines.run_baseline` with this seed).

    Each step the agent's text is read with :func:`parse_action_line`; an invalid answer executes a random
    arm with reward -5, as in the paper. Rationale correctness and categories are measured from the view
    (:mod:`guardrail_bench.metrics`), not taken from the agent's claims.
    """
    if n_bandits < 1:
        raise ConfigurationError(f"n_bandits must be >= 1; got {n_bandits}")
    chosen_spec = spec if spec is not None else BanditSpec()
    env_rng, reward_rng, agent_rng = split_seed(seed)
    batch = BanditBatch(chosen_spec, n_bandits, seed=env_rng)
    k, horizon, names = chosen_spec.k, chosen_spec.horizon, chosen_spec.arm_names
    c = float(getattr(agent, "c", 1.0))  # the agent's UCB constant where it has one, else the paper's
    actions = np.zeros((n_bandits, horizon), dtype=np.int64)
    rewards = np.zeros((n_bandits, horizon), dtype=np.float64)
    correct = np.zeros((n_bandits, horizon), dtype=bool)
    invalid = np.zeros((n_bandits, horizon), dtype=bool)
    categories = np.empty((n_bandits, horizon), dtype="<U7")
    intended = np.empty((n_bandits, horizon), dtype="<U8")
    texts: list[tuple[str, ...]] = []
    for episode in range(n_bandits):
        bandit = batch.bandit(episode)
        counts = np.zeros(k, dtype=np.int64)
        sums = np.zeros(k, dtype=np.float64)
        history: list[int] = []
        episode_texts: list[str] = []
        for t in range(horizon):
            view = BanditView(
                arm_names=names, counts=counts.copy(), means=empirical_means(counts, sums), t=t, actions=tuple(history)
            )
            turn = agent.respond_with_truth(view, agent_rng)
            arm = parse_action_line(turn.text, names)
            optimal = view.optimal_set(c)
            if arm is None:
                arm = int(agent_rng.integers(k))
                reward = INVALID_ACTION_REWARD
                invalid[episode, t] = True
            else:
                reward = bandit.pull(arm, reward_rng)
            correct[episode, t] = names.index(turn.rationale_action) in optimal
            categories[episode, t] = classify_action(arm, greedy=view.greedy_set(), optimal=optimal)
            intended[episode, t] = turn.intended
            actions[episode, t], rewards[episode, t] = arm, reward
            counts[arm] += 1
            sums[arm] += reward
            history.append(arm)
            if keep_texts:
                episode_texts.append(turn.text)
        if keep_texts:
            texts.append(tuple(episode_texts))
    run = BanditRun(
        name=name or type(agent).__name__,
        actions=actions,
        rewards=rewards,
        regret=cumulative_regret(actions, batch.means),
        coverage=coverage(actions, k),
        means=batch.means,
    )
    return SimulatedRun(
        run=run,
        rationale_correct=correct,
        categories=categories,
        intended=intended,
        invalid=invalid,
        texts=tuple(texts),
    )
