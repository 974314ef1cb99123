"""The real-model agents against Gemma 3 270M: in-process llama.cpp and llama_cpp.server over HTTP.

Quick by design (a few short generations); run with ``make test-real`` (``pytest -m real``).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from guardrail.decision import Usage
from guardrail.exceptions import AgentTimeoutError
from guardrail_bench.llama_server import SERVER_MODEL_ALIAS
from guardrail_bench.llm import ANSWER_LINE, LlamaCppAgent, OpenAICompatibleAgent
from guardrail_bench.prompts import aiw_prompt, bandit_prompt

pytestmark = pytest.mark.real

ARMS = ("red", "blue", "green", "yellow", "purple")
HISTORY = [("red", 0.42), ("blue", 1.31), ("red", 0.10), ("green", -0.35), ("blue", 0.97)]
PROMPT = bandit_prompt(ARMS, HISTORY)


@pytest.fixture(scope="module")
def greedy_agent(gemma_model_path: str) -> Iterator[LlamaCppAgent]:
    """One greedy (temperature 0) local agent shared by the module, so the model loads once."""
    agent = LlamaCppAgent(model_path=gemma_model_path, seed=0, temperature=0.0, max_tokens=48)
    yield agent
    agent.close()


def test_llama_agent_answers_the_bandit_prompt_with_text_and_records_usage(
    greedy_agent: LlamaCppAgent,
) -> None:
    """The local model completes the bandit prompt with non-empty text; the call's token usage is recorded."""
    text = greedy_agent(PROMPT)
    assert isinstance(text, str)
    assert text.strip()
    usage = greedy_agent.last_usage
    assert isinstance(usage, Usage)
    assert usage.input_tokens > 100  # the prompt with its few-shot examples
    assert 0 < usage.output_tokens <= greedy_agent.max_tokens
    assert greedy_agent.last_elapsed > 0


def test_llama_agent_is_deterministic_at_temperature_zero(greedy_agent: LlamaCppAgent, gemma_model_path: str) -> None:
    """Greedy decoding gives the same completion for the same prompt, across calls and across agents."""
    first = greedy_agent(PROMPT)
    assert greedy_agent(PROMPT) == first
    other = LlamaCppAgent(model_path=gemma_model_path, seed=123, temperature=0.0, max_tokens=48)
    try:
        assert other(PROMPT) == first
    finally:
        other.close()


def test_llama_agent_sampling_is_reproducible_from_its_seed(gemma_model_path: str) -> None:
    """At temperature > 0, two agents with the same seed produce the same sequence of completions."""
    outputs = []
    for _ in range(2):
        agent = LlamaCppAgent(model_path=gemma_model_path, seed=7, temperature=0.9, max_tokens=32)
        try:
            outputs.append([agent(PROMPT), agent(PROMPT)])
        finally:
            agent.close()
    assert outputs[0] == outputs[1]


def test_llama_agent_stops_after_the_answer_line(greedy_agent: LlamaCppAgent) -> None:
    """Generation ends at the first completed ACTION= / ### Answer: line: nothing follows it."""
    for prompt in (PROMPT, aiw_prompt(3, 2)):
        text = greedy_agent(prompt)
        match = re.search(ANSWER_LINE, text + "\n", re.IGNORECASE)
        if match is not None:
            assert text[match.end() :] == ""
        assert "\n\n" not in text


async def test_llama_agent_acall_matches_the_sync_call(greedy_agent: LlamaCppAgent) -> None:
    """``await agent.acall(prompt)`` runs the same greedy generation in a worker thread."""
    assert await greedy_agent.acall(PROMPT) == greedy_agent(PROMPT)


def test_openai_compatible_agent_chat_returns_text_and_usage(llama_server: str) -> None:
    """A chat request to the real llama_cpp.server returns the message text and records token usage."""
    agent = OpenAICompatibleAgent(llama_server, SERVER_MODEL_ALIAS, temperature=0.0, max_tokens=24)
    text = agent("Name one colour.")
    assert isinstance(text, str)
    assert agent.last_usage.input_tokens > 0
    assert 0 < agent.last_usage.output_tokens <= 24


def test_openai_compatible_agent_completion_mode_follows_the_bandit_format(llama_server: str) -> None:
    """With ``chat=False`` the raw few-shot prompt is completed and cut after the answer line."""
    agent = OpenAICompatibleAgent(
        llama_server,
        SERVER_MODEL_ALIAS,
        chat=False,
        temperature=0.0,
        max_tokens=48,
        stop_after_line=ANSWER_LINE,
    )
    text = agent(PROMPT)
    assert text.strip()
    assert "\n\n" not in text
    assert agent.last_usage.input_tokens > 100
    assert agent.last_usage.output_tokens > 0


async def test_openai_compatible_agent_acall_returns_text(llama_server: str) -> None:
    """The async twin answers too, and concurrent calls each get a reply."""
    agent = OpenAICompatibleAgent(llama_server, SERVER_MODEL_ALIAS, chat=False, temperature=0.0, max_tokens=16, seed=1)
    replies = await asyncio.gather(agent.acall(PROMPT), agent.acall(aiw_prompt(2, 4)))
    assert all(isinstance(reply, str) for reply in replies)


def test_openai_compatible_agent_times_out_with_agent_timeout_error(llama_server: str) -> None:
    """A reply slower than ``timeout`` raises AgentTimeoutError carrying the timeout, not a socket error."""
    agent = OpenAICompatibleAgent(
        llama_server, SERVER_MODEL_ALIAS, chat=False, temperature=0.0, max_tokens=256, timeout=0.05
    )
    with pytest.raises(AgentTimeoutError) as caught:
        agent("Write a long story about buttons.\n\nStory:")
    assert caught.value.timeout == pytest.approx(0.05)
