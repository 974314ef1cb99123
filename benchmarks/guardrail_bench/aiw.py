"""Alice in Wonderland: the knowing-doing check on a numeric answer, and a guarded AIW runner.

Nezhurina et al. (docs/background.md): "Alice has N brothers and she also has M sisters. How many sisters does
Alice's brother have?" (answer M + 1). Models often reason to one number and then write another on the final
``### Answer:`` line. :func:`check_answer` reads both and flags the contradiction:

- **final answer**: the number on the ``### Answer:`` line; if that line holds a computation
  (``Alice has 2 * 2 = 4.``) the number after its last ``=``, otherwise its first number;
- **reasoning's conclusion**: in the text before that line, the number after the last ``=`` (the result of
  the last computation); without any ``=``, the last number directly followed by ``sister(s)`` or
  ``girl(s)`` (the quantity asked); otherwise none;
- **contradiction**: both are known and differ.

The same reading turns an AIW output into a :class:`~guardrail.decision.Decision` (:func:`aiw_parser`): the
action is the final answer, the rationale's action the reasoning's conclusion. So the guard's
:class:`~guardrail.detectors.KnowingDoingGap` fires on exactly the flagged outputs, and
:class:`~guardrail.policies.OverrideToRationale` or :class:`~guardrail.policies.ReAsk` apply unchanged
(:func:`run_aiw`).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from guardrail import ActionSpace, ConfigurationError, Decision, Guard
from guardrail.policies import PolicyLike
from guardrail.telemetry.sinks import Sink
from guardrail_bench.costs import changed_by_guard, per_unit
from guardrail_bench.envs import AIWItem
from guardrail_bench.prompts import AIW_ANSWER_PREFIX, aiw_prompt

__all__ = [
    "AIW_ACTIONS",
    "AIWCheck",
    "AIWPrompter",
    "AIWRunSummary",
    "CheckReport",
    "aiw_parser",
    "check_answer",
    "evaluate_labelled",
    "final_answer",
    "load_labelled",
    "reasoning_conclusion",
    "run_aiw",
]

_NUMBER = re.compile(r"-?\d+")
_ANSWER_LINE = re.compile(re.escape(AIW_ANSWER_PREFIX) + r"(?P<rest>[^\n]*)", re.IGNORECASE)
_AFTER_EQUALS = re.compile(r"=\s*(-?\d+)")
_COUNTED = re.compile(r"(-?\d+)\s+(?:sisters?|girls?)\b", re.IGNORECASE)

#: The answers an AIW guard accepts: the numbers 0..99 as text.
AIW_ACTIONS: tuple[str, ...] = tuple(str(n) for n in range(100))


def final_answer(text: str) -> int | None:
    """The number on the (first) ``### Answer:`` line, or None when there is no such line or number."""
    match = _ANSWER_LINE.search(text)
    if match is None:
        return None
    rest = match.group("rest")
    computed = _AFTER_EQUALS.findall(rest)
    if computed:
        return int(computed[-1])
    number = _NUMBER.search(rest)
    return int(number.group()) if number else None


def reasoning_conclusion(text: str) -> int | None:
    """The number the reasoning (the text before ``### Answer:``) concluded, or None (see the module doc)."""
    match = _ANSWER_LINE.search(text)
    reasoning = text[: match.start()] if match else text
    computed = _AFTER_EQUALS.findall(reasoning)
    if computed:
        return int(computed[-1])
    counted = _COUNTED.findall(reasoning)
    return int(counted[-1]) if counted else None


@dataclass(frozen=True, slots=True, kw_only=True)
class AIWCheck:
    """The answer-vs-reasoning reading of one output."""

    final_answer: int | None
    reasoning_conclusion: int | None

    @property
    def contradiction(self) -> bool:
        """Both numbers are known and differ: the answer acts against the reasoning."""
        return (
            self.final_answer is not None
            and self.reasoning_conclusion is not None
            and self.final_answer != self.reasoning_conclusion
        )


def check_answer(text: str) -> AIWCheck:
    """Read an AIW output's final answer and its reasoning's conclusion.

    >>> check_answer(" Alice has 6 + 4 = 10 sisters.\\n### Answer: 6").contradiction
    True
    >>> check_answer(" 2 + 5 = 7 sisters.\\n### Answer: 7").contradiction
    False
    """
    return AIWCheck(final_answer=final_answer(text), reasoning_conclusion=reasoning_conclusion(text))


def aiw_parser(raw: Any, actions: ActionSpace) -> Decision:
    """An AIW output as a Decision: action = the final answer, rationale action = the reasoning's conclusion.

    Numbers outside ``actions`` read as None (an invalid answer). Pass as ``Guard(parser=aiw_parser)``.
    """
    text = str(raw)
    check = check_answer(text)
    match = _ANSWER_LINE.search(text)

    def legal(value: int | None) -> str | None:
        return actions.resolve(str(value)) if value is not None else None

    rationale_action = legal(check.reasoning_conclusion)
    return Decision(
        rationale=text[: match.start()].strip() if match else text.strip(),
        action=legal(check.final_answer),
        rationale_action=rationale_action,
        rationale_confidence=1.0 if rationale_action is not None else 0.0,
        raw_action=match.group("rest").strip()[:200] if match else None,
        format="aiw",
        raw=raw,
    )


class AIWPrompter:
    """Re-ask prompts for AIW: the failed answer and the feedback go before the closing ``Reasoning:``."""

    _END = "\nReasoning:"

    def reask(self, observation: Any, last_output: Any, feedback: str) -> str:
        """The question, the previous answer, the feedback, then ``Reasoning:`` again."""
        text = str(observation)
        body = text[: -len(self._END)] if text.endswith(self._END) else text
        return f"{body}\nYour previous answer was:\n{last_output}\nFeedback: {feedback}{self._END}"

    def annotate(self, observation: Any, note: str) -> str:
        """The note before ``Reasoning:``."""
        text = str(observation)
        body = text[: -len(self._END)] if text.endswith(self._END) else text
        return f"{body}\n{note}{self._END}"


# ============================================================================================ labels


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckReport:
    """The check against hand labels, and the model's accuracy."""

    n: int
    labelled_contradictions: int
    flagged: int
    true_positives: int
    correct_answers: int
    false_positive_ids: tuple[int, ...] = ()
    false_negative_ids: tuple[int, ...] = ()

    @property
    def precision(self) -> float | None:
        """Flagged outputs that the labels call contradictions."""
        return self.true_positives / self.flagged if self.flagged else None

    @property
    def recall(self) -> float | None:
        """Labelled contradictions that the check flags."""
        return self.true_positives / self.labelled_contradictions if self.labelled_contradictions else None

    @property
    def accuracy(self) -> float:
        """Outputs whose final answer is M + 1."""
        return self.correct_answers / self.n if self.n else 0.0

    def format(self) -> str:
        """A short text report."""

        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.1%}"

        return "\n".join(
            [
                f"labelled outputs: {self.n}",
                f"model accuracy (final answer == M + 1): {self.correct_answers}/{self.n} ({pct(self.accuracy)})",
                f"labelled contradictions (answer != the reasoning's conclusion): {self.labelled_contradictions}",
                f"flagged by check_answer: {self.flagged}",
                f"precision: {self.true_positives}/{self.flagged} ({pct(self.precision)})",
                f"recall:    {self.true_positives}/{self.labelled_contradictions} ({pct(self.recall)})",
                f"false positives (ids): {list(self.false_positive_ids)}",
                f"false negatives (ids): {list(self.false_negative_ids)}",
            ]
        )


def load_labelled(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a labelled JSONL file (each with ``output``, ``correct_answer`` and a ``label`` object)."""
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or "output" not in row or "label" not in row:
            raise ConfigurationError(f"{path}:{number}: a labelled row needs 'output' and 'label'")
        rows.append(row)
    return rows


def evaluate_labelled(rows: Iterable[dict[str, Any]]) -> CheckReport:
    """Precision and recall of :func:`check_answer` against ``label.contradiction``; accuracy from the labels."""
    n = labelled = flagged = hits = correct = 0
    false_positives: list[int] = []
    false_negatives: list[int] = []
    for row in rows:
        n += 1
        label = row["label"]
        truth = bool(label["contradiction"])
        predicted = check_answer(str(row["output"])).contradiction
        labelled += truth
        flagged += predicted
        hits += truth and predicted
        correct += label.get("final_answer") == row["correct_answer"]
        if predicted and not truth:
            false_positives.append(int(row.get("id", n - 1)))
        if truth and not predicted:
            false_negatives.append(int(row.get("id", n - 1)))
    return CheckReport(
        n=n,
        labelled_contradictions=labelled,
        flagged=flagged,
        true_positives=hits,
        correct_answers=correct,
        false_positive_ids=tuple(false_positives),
        false_negative_ids=tuple(false_negatives),
    )


# ============================================================================================ runner


@dataclass(frozen=True, slots=True, kw_only=True)
class AIWRunSummary:
    """One AIW configuration: accuracy of the executed answers and of the first answers, and the check."""

    name: str
    questions: int
    accuracy: float  # executed answer == M + 1
    first_accuracy: float  # the first answer == M + 1
    contradiction_rate: float  # first answers flagged by check_answer
    first_invalid_rate: float  # first answers with no number in 0..99 on an answer line
    executed_invalid_rate: float  # no number from the agent or a correction (nothing executed)
    interventions_per_question: float
    agent_calls_per_question: float
    wall_seconds: float
    outputs: tuple[str, ...] = field(default=(), repr=False)
    changed_steps: int = 0  # questions whose executed answer a correction (not the fallback) changed
    extra_calls: int = 0  # agent calls beyond one per question

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "name": self.name,
            "questions": self.questions,
            "accuracy": self.accuracy,
            "first_accuracy": self.first_accuracy,
            "contradiction_rate": self.contradiction_rate,
            "first_invalid_rate": self.first_invalid_rate,
            "executed_invalid_rate": self.executed_invalid_rate,
            "interventions_per_step": self.interventions_per_question,
            "agent_calls_per_step": self.agent_calls_per_question,
            "changed_steps": self.changed_steps,
            "extra_calls_per_changed_step": per_unit(self.extra_calls, self.changed_steps),
            "wall_seconds": self.wall_seconds,
        }


def run_aiw(
    *,
    name: str,
    agent: Callable[[str], Any],
    items: Sequence[AIWItem],
    policies: Sequence[PolicyLike],
    seed: int = 0,
    telemetry: Sink | None = None,
    few_shot: bool = True,
    progress: Callable[[int], None] | None = None,
) -> AIWRunSummary:
    """Ask each question once behind a guard that reads answers with :func:`aiw_parser`.

    The guard has no fallback (``fallback="raise"`` is replaced by catching: a question without a legal answer
    counts as an executed invalid answer and as wrong).
    """
    from guardrail import InvalidAction, KnowingDoingGap, NoLegalActionError

    guard = Guard(
        actions=AIW_ACTIONS,
        detectors=[KnowingDoingGap(), InvalidAction()],
        policies=list(policies),
        parser=aiw_parser,
        prompter=AIWPrompter(),
        seed=seed,
        telemetry=telemetry,
        run_id=name,
    )
    correct = first_correct = contradictions = first_invalid = executed_invalid = 0
    interventions = calls = changed = 0
    outputs: list[str] = []
    started = time.perf_counter()
    for index, item in enumerate(items):
        prompt = aiw_prompt(item.n_brothers, item.m_sisters, few_shot=few_shot)
        try:
            result = guard.step(agent, prompt, episode=f"{name}-{index}")
        except NoLegalActionError as error:
            executed_invalid += 1
            first_invalid += 1
            calls += error.attempts
            outputs.append(str(error.last_output))
            if progress is not None:
                progress(index + 1)
            continue
        first = result.first_decision
        first_text = str(first.raw)
        outputs.append(first_text)
        contradictions += check_answer(first_text).contradiction
        first_invalid += first.action is None
        first_correct += first.action == str(item.answer)
        correct += result.action == str(item.answer)
        interventions += sum(1 for c in result.corrections if c.applied and c.kind != "fallback")
        calls += result.agent_calls
        changed += changed_by_guard(result)
        if progress is not None:
            progress(index + 1)
    n = max(len(items), 1)
    return AIWRunSummary(
        name=name,
        questions=len(items),
        accuracy=correct / n,
        first_accuracy=first_correct / n,
        contradiction_rate=contradictions / n,
        first_invalid_rate=first_invalid / n,
        executed_invalid_rate=executed_invalid / n,
        interventions_per_question=interventions / n,
        agent_calls_per_question=calls / n,
        wall_seconds=time.perf_counter() - started,
        outputs=tuple(outputs),
        changed_steps=changed,
        extra_calls=calls - len(items),
    )
