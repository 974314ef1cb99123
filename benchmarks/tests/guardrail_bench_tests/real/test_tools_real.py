"""The tool benchmark's real agent: Gemma 3 270M behind llama_cpp.server, real ``tool_calls``, a guarded task.

One short task (two steps at most), greedy decoding; run with ``make test-real`` (``pytest -m real``). llama.cpp's
function calling generates a call's arguments with no token limit, so each call takes some seconds on 2 cores.
"""

from __future__ import annotations

import json

import pytest

from guardrail.arguments import argument_errors
from guardrail_bench.llama_server import SERVER_MODEL_ALIAS
from guardrail_bench.tool_agents import ToolChatAgent
from guardrail_bench.tools_env import ANSWER_ACTION, make_tasks
from guardrail_bench.tools_runner import GUARDS, play_tool_episode, tool_guard

pytestmark = pytest.mark.real


def test_the_real_model_plays_a_guarded_tool_task_with_real_tool_calls(llama_tools_server: str) -> None:
    """Every executed call is one the server returned, on a tool of the task, with arguments its schema accepts,
    and its outcome reaches the guard's history."""
    task = make_tasks(2, seed=0)[1]  # a devops task: get_pod_status(service) first
    agent = ToolChatAgent(llama_tools_server, SERVER_MODEL_ALIAS, temperature=0.0, max_tokens=64, seed=0, timeout=300)
    guard = tool_guard(task, GUARDS["guarded"][1](), seed=0, run_id="real-tools")
    record = play_tool_episode(guard, agent, task, episode="real", step_cap=2)
    assert 1 <= record.steps <= 2
    assert record.agent_calls >= record.steps
    names = {tool.name for tool in task.tools}
    for text in record.calls:
        name, _, rest = text.partition("(")
        tool = task.tool(name)
        assert name in names
        assert tool is not None
        assert argument_errors(json.loads(rest[:-1]), tool.parameters) == ()
    executed = [c for c in guard.view("real").calls if c.name != ANSWER_ACTION]
    assert len(executed) == len(record.calls)
    assert all(c.outcome is not None or c.error is not None for c in executed)
