"""The tool-use environment of ``guardrail bench --env tools``: multi-step tasks with deterministic tools.

A task is a user request, a set of tools (each with a JSON schema of its arguments, some required), and a known
solution path whose last call is the task's final action. Three families, generated from a seed:

- ``support``: ``find_order(email)`` -> ``get_refund_policy(order_id)`` -> ``refund_order(order_id, amount)`` when
  the order is within the policy, else ``escalate_ticket(order_id, reason)``; distractors ``search_kb``,
  ``send_email``.
- ``devops``: ``get_pod_status(service)`` -> ``read_logs(pod)`` -> ``restart_pod(pod)`` for a transient crash,
  else ``rollback_deployment(service, revision)`` for a bad release; distractors ``list_services``,
  ``get_metrics``.
- ``sql``: ``list_tables(database)`` -> ``describe_table(table)`` -> ``run_query(sql)`` ->
  ``submit_answer(answer)``; distractors ``search_docs``, ``export_csv``.

Every tool is a pure function of the task's data and the call's arguments. One call of the path (not the final
one, chosen by the seed) fails once with a retryable ``503`` error, then answers. A task succeeds when its final
action is executed with the right arguments within the step cap; executing another final action (a refund that
should have been an escalation), answering without a call, or running out of steps fails it.

Agents answer a :class:`ToolPrompt` with a tool call as a dict, ``{"rationale", "action", "arguments"}`` (the way
an agent's message carries text and a call); ``action="final_answer"`` is a message with no call, which ends the
agent's turn. The simulated profiles are in :mod:`guardrail_bench.tool_agents`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from guardrail import ActionSpace, ConfigurationError, Decision, parse

__all__ = [
    "ANSWER_ACTION",
    "FAMILIES",
    "TRANSIENT_ERROR",
    "Call",
    "Outcome",
    "Tool",
    "ToolEpisode",
    "ToolPrompt",
    "ToolPrompter",
    "ToolTask",
    "Turn",
    "make_tasks",
    "tool_action_space",
    "tool_parser",
]

#: The action a message without a tool call counts as: the agent's final answer to the user.
ANSWER_ACTION = "final_answer"

#: The error a transient failure returns once (a retry succeeds).
TRANSIENT_ERROR = "503 Service Unavailable: the backend timed out; the request can be retried"


#: The longest string argument a tool accepts. Bounded, as real APIs bound them; a grammar-constrained model
#: (llama.cpp's function calling generates arguments with no token limit) then cannot write one without end.
MAX_STRING = 48


def _schema(required: Sequence[str], **properties: str) -> dict[str, Any]:
    """A JSON schema of string/number arguments: ``name="string"`` etc."""

    def prop(kind: str) -> dict[str, Any]:
        return {"type": kind, "maxLength": MAX_STRING} if kind == "string" else {"type": kind}

    return {
        "type": "object",
        "properties": {name: prop(kind) for name, kind in properties.items()},
        "required": list(required),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool:
    """A tool an agent can call: its name, one line saying what it does, its arguments' JSON schema.

    ``final`` tools end the task when executed (the task's final action, or a wrong final action).
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    final: bool = False

    def openai(self) -> dict[str, Any]:
        """The tool as an OpenAI ``tools`` entry."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": dict(self.parameters)},
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """One tool call: the tool's name and its arguments."""

    tool: str
    arguments: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.tool}({json.dumps(dict(self.arguments), sort_keys=True)})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What a call got back: a result, or an error."""

    result: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Turn:
    """One executed call and its outcome, as the agent sees it in its transcript."""

    call: Call
    outcome: Outcome


# ================================================================================================ tasks

_Respond = Callable[[Mapping[str, Any], Call], Outcome]


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolTask:
    """One task: the request, the tools, the solution path and the data its tools answer from.

    Attributes:
        task_id: ``"<family>-<index>"``.
        family: ``"support"``, ``"devops"`` or ``"sql"``.
        request: the user's message.
        tools: every tool offered (the path's, other final actions, distractors).
        solution: the known path; its last call is the final action. Arguments listed in ``checked`` are the
            ones a call must match (``escalate_ticket``'s free-text ``reason`` is not checked).
        checked: per solution call, the argument names compared.
        transient: the index in ``solution`` of the call that fails once with :data:`TRANSIENT_ERROR`.
        data: the facts the tools answer from.
        why: per tool, the reason an agent would give for calling it (the simulated rationales use it).
    """

    task_id: str
    family: str
    request: str
    tools: tuple[Tool, ...]
    solution: tuple[Call, ...]
    checked: tuple[tuple[str, ...], ...]
    transient: int
    data: Mapping[str, Any]
    why: Mapping[str, str]
    respond: _Respond = field(repr=False, compare=False)

    def tool(self, name: str) -> Tool | None:
        """The tool called ``name``, or None."""
        return next((t for t in self.tools if t.name == name), None)

    def matches(self, call: Call, index: int) -> bool:
        """Whether ``call`` is the solution's call ``index`` (same tool, the checked arguments equal)."""
        expected = self.solution[index]
        if call.tool != expected.tool:
            return False
        return all(_same(call.arguments.get(name), expected.arguments.get(name)) for name in self.checked[index])

    def progress(self, transcript: Sequence[Turn]) -> int:
        """How many calls of the path the transcript has made, in order and successfully."""
        done = 0
        for turn in transcript:
            if done < len(self.solution) and turn.outcome.error is None and self.matches(turn.call, done):
                done += 1
        return done

    def next_call(self, transcript: Sequence[Turn]) -> Call:
        """The path's next call after ``transcript`` (its last call once the path is done)."""
        return self.solution[min(self.progress(transcript), len(self.solution) - 1)]


def _same(given: Any, expected: Any) -> bool:
    if isinstance(given, str) and isinstance(expected, str):
        return given.strip().lower() == expected.strip().lower()
    if isinstance(given, (int, float)) and isinstance(expected, (int, float)) and not isinstance(given, bool):
        return abs(float(given) - float(expected)) < 1e-6
    return bool(given == expected)


def _error(text: str) -> Outcome:
    return Outcome(error=text)


def _ok(text: str) -> Outcome:
    return Outcome(result=text)


# -- support ----------------------------------------------------------------------------------------------

_SUPPORT_TOOLS = (
    Tool(
        name="find_order",
        description="Find a customer's latest order by email.",
        parameters=_schema(["email"], email="string"),
    ),
    Tool(
        name="get_refund_policy",
        description="Read the refund policy that applies to an order.",
        parameters=_schema(["order_id"], order_id="string"),
    ),
    Tool(
        name="refund_order",
        description="Refund an order to the customer.",
        parameters=_schema(["order_id", "amount"], order_id="string", amount="number"),
        final=True,
    ),
    Tool(
        name="escalate_ticket",
        description="Escalate the ticket to a human agent with a reason.",
        parameters=_schema(["order_id", "reason"], order_id="string", reason="string"),
        final=True,
    ),
    Tool(
        name="search_kb", description="Search the help-centre articles.", parameters=_schema(["query"], query="string")
    ),
    Tool(
        name="send_email",
        description="Send an email to a customer.",
        parameters=_schema(["to", "body"], to="string", body="string"),
    ),
)


def _support_respond(data: Mapping[str, Any], call: Call) -> Outcome:
    args = call.arguments
    order = data["order_id"]
    if call.tool == "find_order":
        if not _same(args.get("email"), data["email"]):
            return _error(f"no order found for {args.get('email')!r}")
        return _ok(
            f"order {order}: {data['items']} item(s), total {data['amount']:.2f} USD, delivered {data['days']} days ago"
        )
    if call.tool == "get_refund_policy":
        if not _same(args.get("order_id"), order):
            return _error(f"unknown order {args.get('order_id')!r}")
        verdict = "eligible for a refund" if data["eligible"] else "not eligible for an automatic refund: escalate it"
        return _ok(f"refunds within 30 days of delivery and up to 200.00 USD; order {order} is {verdict}")
    if call.tool == "refund_order":
        if not _same(args.get("order_id"), order):
            return _error(f"unknown order {args.get('order_id')!r}")
        return _ok(f"refunded {args.get('amount')} USD on order {order}")
    if call.tool == "escalate_ticket":
        if not _same(args.get("order_id"), order):
            return _error(f"unknown order {args.get('order_id')!r}")
        return _ok(f"ticket for order {order} escalated to a human agent")
    if call.tool == "search_kb":
        return _ok("3 articles: 'How refunds work', 'Shipping times', 'Contact us'")
    if call.tool == "send_email":
        return _ok(f"email sent to {args.get('to')}")
    return _error(f"unknown tool {call.tool!r}")


def _support_task(index: int, rng: np.random.Generator) -> ToolTask:
    name = ("ana", "bo", "chen", "dara", "eli", "fay", "gus", "hana")[int(rng.integers(8))]
    email = f"{name}{int(rng.integers(10, 99))}@example.com"
    order = f"A-{int(rng.integers(1000, 9999))}"
    amount = round(float(rng.uniform(15, 320)), 2)
    days = int(rng.integers(2, 60))
    eligible = days <= 30 and amount <= 200
    final = (
        Call(tool="refund_order", arguments={"order_id": order, "amount": amount})
        if eligible
        else Call(tool="escalate_ticket", arguments={"order_id": order, "reason": "outside the refund policy"})
    )
    return ToolTask(
        task_id=f"support-{index}",
        family="support",
        request=f"Customer {email} asks for a refund of their latest order. Handle it according to the refund policy.",
        tools=_SUPPORT_TOOLS,
        solution=(
            Call(tool="find_order", arguments={"email": email}),
            Call(tool="get_refund_policy", arguments={"order_id": order}),
            final,
        ),
        checked=(("email",), ("order_id",), ("order_id", "amount") if eligible else ("order_id",)),
        transient=int(rng.integers(2)),
        data={
            "email": email,
            "order_id": order,
            "amount": amount,
            "days": days,
            "items": int(rng.integers(1, 4)),
            "eligible": eligible,
        },
        why={
            "find_order": f"I need the order of {email} first",
            "get_refund_policy": f"I have order {order}; now I need the refund policy for it",
            "refund_order": f"The policy allows it, so I refund order {order}",
            "escalate_ticket": f"The policy does not allow an automatic refund, so I escalate order {order}",
            "search_kb": "The help centre may explain refunds",
            "send_email": "I should tell the customer",
        },
        respond=_support_respond,
    )


# -- devops -----------------------------------------------------------------------------------------------

_DEVOPS_TOOLS = (
    Tool(
        name="get_pod_status",
        description="Get the status of a service's pods.",
        parameters=_schema(["service"], service="string"),
    ),
    Tool(name="read_logs", description="Read the recent logs of a pod.", parameters=_schema(["pod"], pod="string")),
    Tool(name="restart_pod", description="Restart a pod.", parameters=_schema(["pod"], pod="string"), final=True),
    Tool(
        name="rollback_deployment",
        description="Roll a service back to an earlier revision.",
        parameters=_schema(["service", "revision"], service="string", revision="integer"),
        final=True,
    ),
    Tool(name="list_services", description="List the services of the cluster.", parameters=_schema([])),
    Tool(
        name="get_metrics",
        description="Get a service's request rate and latency.",
        parameters=_schema(["service"], service="string"),
    ),
)

_SERVICES = ("checkout", "search", "billing", "auth", "catalog", "gateway")


def _devops_respond(data: Mapping[str, Any], call: Call) -> Outcome:
    args = call.arguments
    service, pod = data["service"], data["pod"]
    if call.tool == "get_pod_status":
        if not _same(args.get("service"), service):
            return _error(f"service {args.get('service')!r} not found")
        return _ok(
            f"pod {pod}: CrashLoopBackOff, {data['restarts']} restarts; running revision {data['revision']} "
            f"(previous revision {data['revision'] - 1})"
        )
    if call.tool == "read_logs":
        if not _same(args.get("pod"), pod):
            return _error(f"pod {args.get('pod')!r} not found")
        if data["bad_release"]:
            return _ok(
                f"panic: nil pointer dereference in handler.go:88 (revision {data['revision']}, since the deploy)"
            )
        return _ok("connection reset by peer: cache unreachable during node drain; the cache is healthy again")
    if call.tool == "restart_pod":
        if not _same(args.get("pod"), pod):
            return _error(f"pod {args.get('pod')!r} not found")
        return _ok(f"pod {pod} restarted")
    if call.tool == "rollback_deployment":
        if not _same(args.get("service"), service):
            return _error(f"service {args.get('service')!r} not found")
        return _ok(f"{service} rolled back to revision {args.get('revision')}")
    if call.tool == "list_services":
        return _ok(", ".join(_SERVICES))
    if call.tool == "get_metrics":
        return _ok("error rate 34%, p99 latency 2.1 s")
    return _error(f"unknown tool {call.tool!r}")


def _devops_task(index: int, rng: np.random.Generator) -> ToolTask:
    service = _SERVICES[int(rng.integers(len(_SERVICES)))]
    pod = f"{service}-{int(rng.integers(16**4)):04x}"
    revision = int(rng.integers(3, 40))
    bad_release = bool(rng.random() < 0.5)
    final = (
        Call(tool="rollback_deployment", arguments={"service": service, "revision": revision - 1})
        if bad_release
        else Call(tool="restart_pod", arguments={"pod": pod})
    )
    return ToolTask(
        task_id=f"devops-{index}",
        family="devops",
        request=f"The {service} service is failing. Find out why and fix it.",
        tools=_DEVOPS_TOOLS,
        solution=(
            Call(tool="get_pod_status", arguments={"service": service}),
            Call(tool="read_logs", arguments={"pod": pod}),
            final,
        ),
        checked=(("service",), ("pod",), ("service", "revision") if bad_release else ("pod",)),
        transient=int(rng.integers(2)),
        data={
            "service": service,
            "pod": pod,
            "revision": revision,
            "bad_release": bad_release,
            "restarts": int(rng.integers(3, 30)),
        },
        why={
            "get_pod_status": f"First I check the status of the {service} pods",
            "read_logs": f"Pod {pod} is crashing; I need to read its logs",
            "restart_pod": f"The crash was transient, so I restart pod {pod}",
            "rollback_deployment": f"The new release crashes, so I roll {service} back to revision {revision - 1}",
            "list_services": "I could list the services",
            "get_metrics": f"The metrics of {service} may help",
        },
        respond=_devops_respond,
    )


# -- sql --------------------------------------------------------------------------------------------------

_SQL_TOOLS = (
    Tool(
        name="list_tables",
        description="List the tables of a database.",
        parameters=_schema(["database"], database="string"),
    ),
    Tool(
        name="describe_table",
        description="Describe a table's columns.",
        parameters=_schema(["table"], table="string"),
    ),
    Tool(name="run_query", description="Run a read-only SQL query.", parameters=_schema(["sql"], sql="string")),
    Tool(
        name="submit_answer",
        description="Submit the final numeric answer to the question.",
        parameters=_schema(["answer"], answer="number"),
        final=True,
    ),
    Tool(
        name="search_docs",
        description="Search the data team's documentation.",
        parameters=_schema(["query"], query="string"),
    ),
    Tool(
        name="export_csv",
        description="Export a table to a CSV file.",
        parameters=_schema(["table"], table="string"),
    ),
)

_SQL_QUESTIONS = (
    ("sales", "orders", "amount", "total order amount"),
    ("sales", "refunds", "amount", "total refunded amount"),
    ("hr", "salaries", "salary", "total salary bill"),
    ("ops", "incidents", "minutes", "total incident minutes"),
)


def _sql_respond(data: Mapping[str, Any], call: Call) -> Outcome:
    args = call.arguments
    table, column = data["table"], data["column"]
    if call.tool == "list_tables":
        if not _same(args.get("database"), data["database"]):
            return _error(f"database {args.get('database')!r} does not exist")
        return _ok(", ".join(data["tables"]))
    if call.tool == "describe_table":
        if str(args.get("table", "")).lower() not in data["tables"]:
            return _error(f"table {args.get('table')!r} does not exist")
        return _ok(
            f"id integer, {column} numeric, created_at timestamp"
            if _same(args.get("table"), table)
            else "id integer, name text"
        )
    if call.tool == "run_query":
        sql = " ".join(str(args.get("sql", "")).lower().split())
        if f"from {table}" not in sql or column not in sql:
            return _error("query failed: column or table not found")
        return _ok(f"sum = {data['answer']}")
    if call.tool == "submit_answer":
        return _ok(f"answer {args.get('answer')} submitted")
    if call.tool == "search_docs":
        return _ok("the warehouse is documented in 'Data dictionary'")
    if call.tool == "export_csv":
        return _ok(f"exported {args.get('table')} to /tmp/{args.get('table')}.csv")
    return _error(f"unknown tool {call.tool!r}")


def _sql_task(index: int, rng: np.random.Generator) -> ToolTask:
    database, table, column, what = _SQL_QUESTIONS[int(rng.integers(len(_SQL_QUESTIONS)))]
    answer = int(rng.integers(100, 100_000))
    tables = sorted({table, "customers", "audit_log", "events"})
    sql = f"SELECT SUM({column}) FROM {table}"
    return ToolTask(
        task_id=f"sql-{index}",
        family="sql",
        request=f"What is the {what} in the {database} database? Submit the number.",
        tools=_SQL_TOOLS,
        solution=(
            Call(tool="list_tables", arguments={"database": database}),
            Call(tool="describe_table", arguments={"table": table}),
            Call(tool="run_query", arguments={"sql": sql}),
            Call(tool="submit_answer", arguments={"answer": answer}),
        ),
        checked=(("database",), ("table",), (), ("answer",)),
        transient=int(rng.integers(3)),
        data={"database": database, "table": table, "column": column, "answer": answer, "tables": tables},
        why={
            "list_tables": f"I need to know which tables the {database} database has",
            "describe_table": f"The {table} table looks right; I need its columns",
            "run_query": f"I can sum the {column} column of {table} now",
            "submit_answer": f"The query returned {answer}, so I submit it",
            "search_docs": "The documentation may say where this lives",
            "export_csv": f"I could export {table}",
        },
        respond=_sql_respond,
    )


#: Task families by name: ``name -> task(index, rng)``.
FAMILIES: dict[str, Callable[[int, np.random.Generator], ToolTask]] = {
    "support": _support_task,
    "devops": _devops_task,
    "sql": _sql_task,
}


def make_tasks(n: int, *, seed: int, families: Sequence[str] = tuple(FAMILIES)) -> list[ToolTask]:
    """``n`` tasks, the families in turn, each drawn from its own generator spawned from ``seed``.

    Task ``i`` depends only on ``(seed, i)``, so a shorter run is a prefix of a longer one.
    """
    if n < 1:
        raise ConfigurationError(f"the number of tasks must be an int >= 1; got {n!r}")
    unknown = [f for f in families if f not in FAMILIES]
    if unknown or not families:
        raise ConfigurationError(f"unknown task families {unknown or families!r}; choose from {', '.join(FAMILIES)}")
    children = np.random.SeedSequence(seed).spawn(n)
    return [FAMILIES[families[i % len(families)]](i, np.random.default_rng(children[i])) for i in range(n)]


# ============================================================================================== episodes


class ToolEpisode:
    """One task being played: executes calls deterministically and knows when the task is done.

    Args:
        task: the task.
        step_cap: agent steps allowed (each step executes at most one call).
    """

    def __init__(self, task: ToolTask, *, step_cap: int) -> None:
        if step_cap < 1:
            raise ConfigurationError(f"step_cap must be >= 1; got {step_cap}")
        self.task = task
        self.step_cap = step_cap
        self.transcript: list[Turn] = []
        self.finished = False
        self.success = False
        self._transient_spent = False

    @property
    def progress(self) -> int:
        """Calls of the solution path made so far, in order."""
        return self.task.progress(self.transcript)

    def execute(self, call: Call) -> Outcome:
        """Run ``call``; a final tool ends the task (a success when it is the solution's final call)."""
        if self.finished:
            raise ConfigurationError(f"task {self.task.task_id} is finished; no more calls")
        task = self.task
        progress = self.progress
        tool = task.tool(call.tool)
        outcome: Outcome
        if tool is None:
            outcome = _error(f"unknown tool {call.tool!r}")
        elif (
            not self._transient_spent
            and progress == task.transient
            and progress < len(task.solution) - 1
            and task.matches(call, progress)
        ):
            self._transient_spent = True
            outcome = _error(TRANSIENT_ERROR)
        else:
            outcome = task.respond(task.data, call)
        self.transcript.append(Turn(call=call, outcome=outcome))
        if tool is not None and tool.final and outcome.error is None:
            self.finished = True
            last = len(task.solution) - 1
            self.success = progress == last and task.matches(call, last)
        return outcome

    def answer(self) -> None:
        """The agent answered without a call: its turn, and the task, end here."""
        self.finished = True


# ================================================================================================ prompts


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolPrompt:
    """What a tool agent sees at one step: the task, the calls made and their outcomes, and any feedback.

    ``feedback`` is the guard's re-ask feedback (None on a first answer); ``last_output`` the answer it is about.
    """

    task: ToolTask
    transcript: tuple[Turn, ...]
    feedback: str | None = None
    last_output: Any = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolPrompter:
    """The guard's prompter for tool agents: a re-ask is the same prompt with the feedback and the failed answer."""

    def reask(self, observation: Any, last_output: Any, feedback: str) -> ToolPrompt:
        """The prompt again, with ``feedback`` about ``last_output``."""
        prompt = _as_prompt(observation)
        return dataclasses.replace(prompt, feedback=feedback, last_output=last_output)

    def annotate(self, observation: Any, note: str) -> ToolPrompt:
        """The prompt with ``note`` added."""
        prompt = _as_prompt(observation)
        return dataclasses.replace(prompt, notes=(*prompt.notes, note))


def _as_prompt(observation: Any) -> ToolPrompt:
    if not isinstance(observation, ToolPrompt):
        raise ConfigurationError(f"ToolPrompter needs a ToolPrompt observation; got {type(observation).__name__}")
    return observation


def tool_action_space(tools: Sequence[Tool]) -> ActionSpace:
    """The tools' names plus :data:`ANSWER_ACTION`, with their descriptions and argument schemas."""
    answer = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": []}
    return ActionSpace(
        [*(t.name for t in tools), ANSWER_ACTION],
        descriptions={**{t.name: t.description for t in tools}, ANSWER_ACTION: "answer the user without a tool call"},
        schemas={**{t.name: t.parameters for t in tools}, ANSWER_ACTION: answer},
    )


def tool_parser(output: Any, actions: ActionSpace) -> Decision:
    """Read an agent's ``{"rationale", "action", "arguments"}``; a message with no call is an answer step.

    As a tool-calling adapter does, a message without a call is read as :data:`ANSWER_ACTION` with format
    ``"answer"``, so :class:`~guardrail.UnexecutedIntent` sees a step that carries no call.
    """
    decision = parse(output, actions)
    if decision.action == ANSWER_ACTION:
        return decision.model_copy(update={"format": "answer"})
    return decision
