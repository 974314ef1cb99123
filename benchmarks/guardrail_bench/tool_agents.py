"""Agents for the tool-use environment: seeded simulated profiles, and a real model behind an OpenAI-compatible server.

**The profiles are simulations, not language models.** Each knows the task's solution path (it is given the
task, as a competent agent would work it out) and, per step, writes what a tool agent writes: a one-sentence
rationale naming the tool it means to call ("... Let me call get_refund_policy."), then a call with arguments.
Their failure modes, and how they react to the guard's feedback, are the assumptions every guarded figure of
``guardrail bench --env tools`` rests on (docs/benchmarks.md states them):

=============================== ================================================================================
``competent``                   follows the path; retries a call that failed (the transient error) once.
``loop-prone``                  as competent, but enters a loop with probability ``p_loop`` at a step (0.15), or
                                ``p_loop_after_error`` (0.5) right after an error: it repeats its last call, or
                                ping-pongs between its last two (one or the other, 50/50). In a loop it leaves on
                                its own with probability ``p_escape`` per step (0.1). Feedback naming the loop: a
                                nudge gets it out with probability ``p_nudge`` (0.6), a block (the call forbidden)
                                with ``p_block`` (0.8); otherwise it repeats the loop's call.
``intent-not-emitted``          with probability ``p_no_call`` (0.3) at a step, writes "Let me call X" and emits no
                                call (a message, which ends its turn); a re-ask saying so gets the call with
                                probability ``p_fix`` (0.8).
``wrong-tool-despite-rationale`` with probability ``p_wrong`` (0.3) at a step, its rationale names the right tool
                                and the call is another of the task's tools, uniformly (a distractor, or another
                                final action, which fails the task); a re-ask naming the contradiction gets the
                                right call with probability ``p_fix`` (0.7), else a fresh draw.
=============================== ================================================================================

Feedback is read the way a model reads it, from its text: ``nudge:`` and ``block:`` open the escalation's
feedback, "made no call" the unexecuted-intent re-ask, "Your reasoning recommends" the knowing-doing re-ask.
Every draw comes from the generator the agent was built with, so an episode is reproducible from its seed.

:class:`ToolChatAgent` sends the prompt to ``{base_url}/chat/completions`` with the tools, ``tool_choice="auto"``,
and returns the server's first tool call (or its message, as :data:`~guardrail_bench.tools_env.ANSWER_ACTION`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from guardrail.exceptions import ConfigurationError, GuardrailRuntimeError
from guardrail_bench.llm import OpenAICompatibleAgent, _usage_from
from guardrail_bench.simulators import check_probability
from guardrail_bench.tools_env import ANSWER_ACTION, Call, ToolPrompt, ToolTask

__all__ = [
    "TOOL_PROFILES",
    "CompetentProfile",
    "IntentNotEmittedProfile",
    "LoopProneProfile",
    "SimulatedToolAgent",
    "ToolChatAgent",
    "ToolProfile",
    "WrongToolProfile",
    "parse_tool_agent",
    "render_messages",
]

Answer = dict[str, Any]


def _call_answer(task: ToolTask, rationale_tool: str, call: Call, *, again: bool = False) -> Answer:
    why = task.why.get(rationale_tool, "This is the next step")
    return {
        "rationale": f"{why}. Let me call {rationale_tool}{' again' if again else ''}.",
        "action": call.tool,
        "arguments": dict(call.arguments),
    }


def _feedback_kind(feedback: str | None) -> str | None:
    if feedback is None:
        return None
    for prefix, kind in (("nudge:", "nudge"), ("block:", "block")):
        if feedback.startswith(prefix):
            return kind
    if "made no call" in feedback:
        return "intent"
    if "Your reasoning recommends" in feedback:
        return "gap"
    return "other"


def _next(prompt: ToolPrompt) -> Answer:
    call = prompt.task.next_call(prompt.transcript)
    last = prompt.transcript[-1] if prompt.transcript else None
    again = last is not None and last.outcome.error is not None and last.call == call
    return _call_answer(prompt.task, call.tool, call, again=again)


class ToolProfile(Protocol):
    """A simulated tool agent's behaviour: ``answer(prompt, rng, memory)``, ``memory`` its per-episode state."""

    def answer(self, prompt: ToolPrompt, rng: np.random.Generator, memory: dict[str, Any]) -> Answer:
        """One answer to ``prompt``, drawing from ``rng``."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class CompetentProfile:
    """Follows the solution path and retries a failed call."""

    def answer(self, prompt: ToolPrompt, rng: np.random.Generator, memory: dict[str, Any]) -> Answer:
        """The path's next call, with its rationale."""
        return _next(prompt)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoopProneProfile:
    """Repeats a call, or ping-pongs between two, after an error or at random; see the module docstring."""

    p_loop: float = 0.15
    p_loop_after_error: float = 0.5
    p_escape: float = 0.1
    p_nudge: float = 0.6
    p_block: float = 0.8

    def __post_init__(self) -> None:
        for name in ("p_loop", "p_loop_after_error", "p_escape", "p_nudge", "p_block"):
            check_probability(name, getattr(self, name))

    def answer(self, prompt: ToolPrompt, rng: np.random.Generator, memory: dict[str, Any]) -> Answer:
        """The loop's next call while looping, else the path's next call."""
        transcript = prompt.transcript
        kind = _feedback_kind(prompt.feedback)
        mode = memory.get("loop")
        if kind in ("nudge", "block") and mode is not None:
            if rng.random() < (self.p_nudge if kind == "nudge" else self.p_block):
                memory["loop"] = None
                return _next(prompt)
        elif kind is None and transcript:
            if mode is None:
                p = self.p_loop_after_error if transcript[-1].outcome.error is not None else self.p_loop
                if rng.random() < p:
                    distinct = len({str(t.call) for t in transcript[-2:]}) == 2
                    mode = "ping_pong" if distinct and rng.random() < 0.5 else "repeat"
                    memory["loop"] = mode
            elif rng.random() < self.p_escape:
                memory["loop"] = mode = None
        elif kind is not None:
            return _next(prompt)
        if mode is None or not transcript:
            return _next(prompt)
        call = transcript[-2].call if mode == "ping_pong" and len(transcript) >= 2 else transcript[-1].call
        return _call_answer(prompt.task, call.tool, call, again=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntentNotEmittedProfile:
    """Writes "Let me call X" and emits no call, with probability ``p_no_call``; see the module docstring."""

    p_no_call: float = 0.3
    p_fix: float = 0.8

    def __post_init__(self) -> None:
        check_probability("p_no_call", self.p_no_call)
        check_probability("p_fix", self.p_fix)

    def answer(self, prompt: ToolPrompt, rng: np.random.Generator, memory: dict[str, Any]) -> Answer:
        """The path's next call, or its rationale alone."""
        answer = _next(prompt)
        kind = _feedback_kind(prompt.feedback)
        p_silent = (1.0 - self.p_fix) if kind == "intent" else self.p_no_call
        if rng.random() < p_silent:
            return {"rationale": answer["rationale"], "action": ANSWER_ACTION, "arguments": {}}
        return answer


@dataclass(frozen=True, slots=True, kw_only=True)
class WrongToolProfile:
    """Names the right tool and calls another, with probability ``p_wrong``; see the module docstring."""

    p_wrong: float = 0.3
    p_fix: float = 0.7

    def __post_init__(self) -> None:
        check_probability("p_wrong", self.p_wrong)
        check_probability("p_fix", self.p_fix)

    def answer(self, prompt: ToolPrompt, rng: np.random.Generator, memory: dict[str, Any]) -> Answer:
        """The path's next call, or another tool's call under the right tool's rationale."""
        answer = _next(prompt)
        kind = _feedback_kind(prompt.feedback)
        p_wrong = (1.0 - self.p_fix) if kind == "gap" else self.p_wrong
        if rng.random() >= p_wrong:
            return answer
        task = prompt.task
        others = [t for t in task.tools if t.name != answer["action"]]
        tool = others[int(rng.integers(len(others)))]
        arguments = {name: _plausible(task, name) for name in tool.parameters.get("required", ())}
        return {"rationale": answer["rationale"], "action": tool.name, "arguments": arguments}


def _plausible(task: ToolTask, name: str) -> Any:
    """An argument value the agent would fill in for ``name`` from what it knows of the task."""
    data = task.data
    values: dict[str, Any] = {
        "order_id": data.get("order_id"),
        "amount": data.get("amount"),
        "reason": "customer request",
        "email": data.get("email"),
        "to": data.get("email"),
        "body": "We are looking into your request.",
        "query": task.request[:40],
        "service": data.get("service"),
        "pod": data.get("pod"),
        "revision": data.get("revision"),
        "table": data.get("table"),
        "database": data.get("database"),
        "sql": "SELECT * FROM events",
        "answer": 0,
    }
    return values.get(name) if values.get(name) is not None else "unknown"


#: The simulated profiles by agent name: ``name -> (description, profile factory)``.
TOOL_PROFILES: dict[str, tuple[str, Callable[[], ToolProfile]]] = {
    "competent": ("follows the solution path, retries a failed call", CompetentProfile),
    "loop-prone": (
        "repeats or ping-pongs calls (p 0.15 per step, 0.5 after an error; leaves a loop w.p. 0.1 per step, "
        "0.6 after a nudge, 0.8 after a block)",
        LoopProneProfile,
    ),
    "intent-not-emitted": (
        "says 'Let me call X' and makes no call w.p. 0.3 per step; a re-ask saying so gets the call w.p. 0.8",
        IntentNotEmittedProfile,
    ),
    "wrong-tool-despite-rationale": (
        "names the right tool, calls another w.p. 0.3 per step; a re-ask naming the gap fixes it w.p. 0.7",
        WrongToolProfile,
    ),
}


class SimulatedToolAgent:
    """A profile playing one episode: ``agent(prompt) -> answer``, drawing from its own generator."""

    def __init__(self, profile: ToolProfile, rng: np.random.Generator, *, name: str) -> None:
        self.profile = profile
        self.rng = rng
        self.__name__ = name
        self._memory: dict[str, Any] = {}

    def __call__(self, prompt: ToolPrompt) -> Answer:
        """One answer to ``prompt``."""
        if not isinstance(prompt, ToolPrompt):
            raise ConfigurationError(f"a tool agent takes a ToolPrompt; got {type(prompt).__name__}")
        return self.profile.answer(prompt, self.rng, self._memory)


# ============================================================================================= real model

SYSTEM_PROMPT = (
    "You are an agent that completes the user's task with the tools. Call exactly one tool per turn, with "
    "every required argument, using the facts in the results so far. When the task is done, answer briefly."
)


def render_messages(prompt: ToolPrompt) -> list[dict[str, str]]:
    """The chat messages for ``prompt``: the system prompt, then one user message with the task, the calls made
    and their results (as text: llama.cpp's function-calling format does not render ``tool`` messages), and the
    guard's feedback when it re-asks."""
    lines = [f"Task: {prompt.task.request}"]
    if prompt.transcript:
        lines.append("Calls so far:")
        for number, turn in enumerate(prompt.transcript, 1):
            outcome = turn.outcome
            got = f"error: {outcome.error}" if outcome.error is not None else str(outcome.result)
            lines.append(f"{number}. {turn.call} -> {got}")
    lines.extend(prompt.notes)
    messages = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": "\n".join(lines)}]
    if prompt.feedback is not None:
        last = prompt.last_output if isinstance(prompt.last_output, Mapping) else {}
        made = last.get("action")
        said = f"You answered with {made}({json.dumps(last.get('arguments') or {})})." if made else ""
        messages.append({"role": "user", "content": f"{said} {prompt.feedback}".strip()})
    return messages


class ToolChatAgent(OpenAICompatibleAgent):
    """A real model with real tool calls: ``/chat/completions`` with the task's tools and ``tool_choice="auto"``.

    Returns ``{"rationale": message text, "action": tool, "arguments": {...}}`` for the server's first tool call,
    or ``{"rationale": text, "action": "final_answer"}`` for a message without one. Settings as
    :class:`~guardrail_bench.llm.OpenAICompatibleAgent` (``chat`` is always on).
    """

    def __init__(self, base_url: str, model: str, **options: Any) -> None:
        options["chat"] = True
        super().__init__(base_url, model, **options)

    def answer(self, prompt: ToolPrompt) -> Answer:
        """One request; the answer as a dict."""
        body = self._body("")
        body["messages"] = render_messages(prompt)
        body["tools"] = [tool.openai() for tool in prompt.task.tools]
        body["tool_choice"] = "auto"
        started = time.perf_counter()
        payload = self._post(body)
        self.last_elapsed = time.perf_counter() - started
        self.last_usage = _usage_from(payload)
        try:
            message = payload["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as error:
            raise GuardrailRuntimeError(f"{self.endpoint} returned no message: {json.dumps(payload)[:300]}") from error
        text = str(message.get("content") or "")
        calls = message.get("tool_calls") or []
        if not calls:
            return {"rationale": text, "action": ANSWER_ACTION, "arguments": {"answer": text}}
        function = calls[0].get("function", {})
        raw = function.get("arguments") or "{}"
        try:
            arguments = json.loads(raw) if isinstance(raw, str) else dict(raw)
        except ValueError:
            arguments = {"_unparsed": str(raw)[:200]}  # bad model output is data: the tool will reject it
        if not isinstance(arguments, dict):
            arguments = {"_unparsed": str(arguments)[:200]}
        return {"rationale": text, "action": str(function.get("name", "")), "arguments": arguments}

    def __call__(self, prompt: Any) -> Any:
        """``answer(prompt)`` for a :class:`ToolPrompt` (the guard calls the agent with one)."""
        if not isinstance(prompt, ToolPrompt):
            raise ConfigurationError(f"ToolChatAgent takes a ToolPrompt; got {type(prompt).__name__}")
        return self.answer(prompt)


def parse_tool_agent(value: str) -> Any:
    """Read one ``--agent`` value of ``--env tools``: a profile of :data:`TOOL_PROFILES`, ``gemma`` (Gemma 3 270M
    behind a llama_cpp.server started for the run), or the base URL of a running OpenAI-compatible server."""
    from guardrail_bench.suites import AgentSpec

    text = value.strip()
    if text in TOOL_PROFILES:
        return AgentSpec(kind="simulated", name=text, description=f"simulated: {TOOL_PROFILES[text][0]}")
    if text == "gemma":
        return AgentSpec(
            kind="gemma",
            name="gemma",
            description="Gemma 3 270M (Q4_K_M) via llama_cpp.server, chatml-function-calling, real tool calls",
        )
    if text.startswith(("http://", "https://")):
        return AgentSpec(kind="openai", name="openai", description=f"OpenAI-compatible server at {text}", url=text)
    raise ConfigurationError(
        f"unknown agent {value!r} for --env tools; choose from {', '.join(TOOL_PROFILES)}, gemma, http(s)://HOST/v1"
    )
