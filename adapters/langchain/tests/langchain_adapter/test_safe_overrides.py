"""No override ever emits a tool call that fails its tool's argument schema (a property over generated tools)."""

from __future__ import annotations

from typing import Any, Literal

import pydantic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage
from langchain_core.tools import BaseTool, StructuredTool

from guardrail import OverrideToRationale, ReAsk
from guardrail_langchain import guard_runnable
from guardrail_langchain.testing import ScriptedChatModel, tool_answer

FIELD_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "list": list[str],
    "enum": Literal["a", "b"],
}
VALUES = st.one_of(
    st.text(max_size=5),
    st.integers(-5, 5),
    st.floats(allow_nan=False, width=32),
    st.booleans(),
    st.lists(st.text(max_size=3), max_size=2),
    st.sampled_from(["a", "b", "c"]),
    st.none(),
)
FIELD_NAMES = ["query", "to", "body", "limit", "page", "mode"]
TOOL_NAMES = ["search_docs", "send_email", "lookup_order", "refund"]


@st.composite
def toolsets(draw: st.DrawFn) -> list[tuple[str, dict[str, tuple[str, bool]]]]:
    """2-4 tools, each with 0-3 fields of a generated type, required or optional."""
    count = draw(st.integers(2, 4))
    tools = []
    for name in TOOL_NAMES[:count]:
        fields = draw(st.lists(st.sampled_from(FIELD_NAMES), max_size=3, unique=True))
        tools.append((name, {f: (draw(st.sampled_from(sorted(FIELD_TYPES))), draw(st.booleans())) for f in fields}))
    return tools


def _model(name: str, fields: dict[str, tuple[str, bool]]) -> type[pydantic.BaseModel]:
    spec: dict[str, Any] = {
        field: (FIELD_TYPES[kind], ...) if required else (FIELD_TYPES[kind] | None, None)
        for field, (kind, required) in fields.items()
    }
    return pydantic.create_model(f"{name}_args", **spec)


def _tool(name: str, model: type[pydantic.BaseModel]) -> BaseTool:
    return StructuredTool.from_function(
        func=lambda **kwargs: "ok", name=name, description=f"The {name} tool.", args_schema=model
    )


def _valid(model: type[pydantic.BaseModel], arguments: dict[str, Any]) -> bool:
    try:
        model.model_validate(arguments, strict=True)
    except pydantic.ValidationError:
        return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=toolsets(),
    arguments=st.dictionaries(st.sampled_from(FIELD_NAMES), VALUES, max_size=4),
    picks=st.tuples(st.integers(0, 3), st.integers(0, 3)),
    on_missing=st.sampled_from(["reask", "keep"]),
    with_reask=st.booleans(),
)
def test_no_override_emits_a_call_that_fails_its_tools_schema(
    spec: list[tuple[str, dict[str, tuple[str, bool]]]],
    arguments: dict[str, Any],
    picks: tuple[int, int],
    on_missing: Literal["reask", "keep"],
    with_reask: bool,
) -> None:
    """Whatever the tools, the call and the rationale: every call the guard writes that is not the model's own
    passes the tool's pydantic validation (strict); a re-ask, when made, names the recommended tool."""
    models = {name: _model(name, fields) for name, fields in spec}
    tools = [_tool(name, model) for name, model in models.items()]
    called, recommended = spec[picks[0] % len(spec)][0], spec[picks[1] % len(spec)][0]
    first = tool_answer(f"The task needs {recommended}, so I should call {recommended}.", called, arguments)
    fake = ScriptedChatModel.script([first, first, first])
    policies: list[Any] = [OverrideToRationale(on_missing_args=on_missing)]
    if with_reask:
        policies.insert(0, ReAsk(max_attempts=2))
    guarded = guard_runnable(fake.bind_tools(tools), policies=policies, fallback=called)
    step = guarded.step("Do the task.")
    message = step.message
    assert isinstance(message, AIMessage)
    (call,) = message.tool_calls
    own = (call["name"], call["args"]) == (called, arguments)
    assert own or _valid(models[call["name"]], call["args"]), (call, spec)
    for correction in step.result.corrections:
        if correction.kind == "reask" and correction.policy == "OverrideToRationale":
            assert f"call {recommended!r}" in correction.reason
