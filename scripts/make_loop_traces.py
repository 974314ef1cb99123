"""Write the labelled dev set of tool-call traces for loop detection (tests/data/loop_traces/dev.jsonl).

Each trace is built around one pattern placed on purpose, so its label (``loop``, ``loop_step``) comes from the
construction, not from the detector: the conventions are docs/policies.md's ("Loops and escalation"). Seeded:

    python scripts/make_loop_traces.py --seed 13 --out tests/data/loop_traces/dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path
from typing import Any

DOMAINS: dict[str, list[str]] = {
    "support": ["crm__find_customer", "orders.lookup", "get_refund_policy", "createTicket", "kb_search"],
    "coding": ["fs.read_file", "run_tests", "git__diff", "grep_repo", "editFile"],
    "browsing": ["browser__navigate", "web.search", "extract_text", "clickLink"],
    "sql": ["db.query", "list_tables", "describeTable"],
    "devops": ["k8s__get_pods", "logs.tail", "deploy_status", "restartService"],
    "email/calendar": ["gmail__search", "calendar.list_events", "sendEmail", "create_event"],
    "commerce": ["catalog.search", "inventory__check", "cart_add", "getShipping"],
    "games": ["game.move", "get_board", "hint"],
}
WORDS = "alpha bravo refund invoice login timeout shipping latency billing quota cache router parser queue".split()


class Writer:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.serial = 0

    def uid(self) -> str:
        self.serial += 1
        return f"{self.rng.randrange(16**6):06x}{self.serial}"

    def productive(self, tools: list[str]) -> dict[str, Any]:
        """A call with fresh arguments and a fresh result."""
        tool = self.rng.choice(tools)
        args: dict[str, Any] = {"query": f"{self.rng.choice(WORDS)} {self.uid()}"}
        if self.rng.random() < 0.4:
            args["limit"] = self.rng.choice([5, 10, 20])
        if self.rng.random() < 0.3:
            result = json.dumps(
                {"items": [{"id": self.uid(), "name": self.rng.choice(WORDS)} for _ in range(self.rng.randint(2, 6))]}
            )
        else:
            result = f"{tool}: found {self.rng.randint(1, 40)} records, first is {self.uid()}"
        return {"type": "call", "tool": tool, "args": args, "result": result, "error": None}

    def prefix(self, tools: list[str], n: int) -> list[dict[str, Any]]:
        return [self.productive(tools) for _ in range(n)]

    def variant(self, args: dict[str, Any]) -> dict[str, Any]:
        """The same arguments written differently: key order, whitespace, 1 vs 1.0."""
        items = list(args.items())
        self.rng.shuffle(items)
        out: dict[str, Any] = {}
        for key, value in items:
            if isinstance(value, str) and self.rng.random() < 0.4:
                value = f"  {value} " if self.rng.random() < 0.5 else value.replace(" ", "  ")
            elif isinstance(value, int) and not isinstance(value, bool) and self.rng.random() < 0.5:
                value = float(value)
            out[key] = value
        return out


def call(tool: str, args: dict[str, Any], result: str | None = None, error: str | None = None) -> dict[str, Any]:
    return {"type": "call", "tool": tool, "args": args, "result": result, "error": error}


def calls_in(events: list[dict[str, Any]]) -> int:
    return sum(1 for e in events if e["type"] == "call")


def trace(
    tid: str, kind: str, domain: str, events: list[dict[str, Any]], step: int | None, note: str
) -> dict[str, Any]:
    return {
        "id": tid,
        "kind": kind,
        "domain": domain,
        "events": [{"type": "user", "text": "Please help with my request."}, *events],
        "loop": step is not None,
        "loop_step": step,
        "note": note,
    }


def identical(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    tool = w.rng.choice(tools)
    args = {"id": w.rng.randint(100, 999), "query": f"{w.rng.choice(WORDS)} status"}
    stamp = w.rng.random() < 0.3
    body = json.dumps({"status": "pending", "owner": w.uid(), "notes": ["no change"] * w.rng.randint(1, 8)})
    events = w.prefix(tools, w.rng.randint(0, 9))
    step = None
    repeats = w.rng.randint(3, 5)
    for r in range(repeats):
        result = body + (f" (fetched 2026-03-0{r + 1}T10:0{r}:00Z)" if stamp else "")
        events.append(call(tool, w.variant(args), result))
        if r == 2:
            step = calls_in(events) - 1
        if r < repeats - 1 and w.rng.random() < 0.3:
            events.append(w.productive([t for t in tools if t != tool]))
    events += w.prefix(tools, w.rng.randint(0, 2))
    return trace(f"d-identical-{i:02d}", "identical", domain, events, step, "the same call got the same result 3 times")


def same_error(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    tool = w.rng.choice(tools)
    args = {"path": f"/{w.rng.choice(WORDS)}/{w.rng.randint(1, 9)}"}
    events = w.prefix(tools, w.rng.randint(0, 8))
    step = None
    template = w.rng.choice(
        [
            "ValidationError: field 'query' is required (request_id={rid})",
            "Error 503: upstream timed out at {ts} (trace {rid})",
            "PermissionDenied: token lacks scope repo:write [{rid}]",
        ]
    )
    repeats = w.rng.randint(3, 5)
    for r in range(repeats):
        error = template.format(rid=w.uid(), ts=f"2026-01-0{r + 1} 12:0{r}:1{r}")
        events.append(call(tool, w.variant(args), error=error))
        if r == 2:
            step = calls_in(events) - 1
        if r < repeats - 1 and w.rng.random() < 0.3:
            events.append(w.productive([t for t in tools if t != tool]))
    return trace(
        f"d-same_error-{i:02d}", "same_error", domain, events, step, "the same call failed the same way 3 times"
    )


def ping_pong(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    a, b = w.rng.sample(tools, 2)
    args_a = {"target": w.rng.choice(WORDS)}
    args_b = {"id": w.rng.randint(1, 50), "verbose": True}
    result_a, result_b = f"{a} ok: {w.uid()}", json.dumps({"state": "unchanged", "ref": w.uid()})
    events = w.prefix(tools, w.rng.randint(0, 8))
    start = calls_in(events)
    length = w.rng.choice([6, 6, 7, 8])
    for r in range(length):
        events.append(call(a, w.variant(args_a), result_a) if r % 2 == 0 else call(b, w.variant(args_b), result_b))
    return trace(f"d-ping_pong-{i:02d}", "ping_pong", domain, events, start + 5, "A-B-A-B-A-B with nothing changing")


def no_progress(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    events = w.prefix(tools, w.rng.randint(0, 8))
    error = w.rng.random() < 0.4
    observation = w.rng.choice(["No results found.", "[]", "404 Not Found", "Error: no such table"])
    start = calls_in(events)
    length = w.rng.randint(4, 6)
    for r in range(length):
        tool = w.rng.choice(tools)
        args = {"query": f"{w.rng.choice(WORDS)} {w.rng.choice(WORDS)} v{r}"}
        events.append(call(tool, args, error=observation) if error else call(tool, args, observation))
    return trace(
        f"d-no_progress-{i:02d}", "no_progress", domain, events, start + 3, "every variant gets the same observation"
    )


def polling(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(["devops", "coding", "commerce", "sql"])
    tools = DOMAINS[domain]
    tool = w.rng.choice(["job.status", "deploy_status", "queue__position"])
    job = w.uid()
    events = w.prefix(tools, w.rng.randint(0, 5))
    polls = w.rng.randint(3, 10)
    progress = sorted(w.rng.sample(range(1, 100), polls))
    for r, percent in enumerate(progress):
        result = f"job {job}: running {percent}%" if tool != "queue__position" else f"position {polls - r} in queue"
        events.append(call(tool, w.variant({"job_id": job}), result))
        if w.rng.random() < 0.2:
            events.append(w.productive(tools))
    events.append(call(tool, {"job_id": job}, f"job {job}: done"))
    return trace(f"d-polling-{i:02d}", "polling", domain, events, None, "the polled result changes every time")


def paging(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    tool = w.rng.choice(tools)
    events = w.prefix(tools, w.rng.randint(0, 5))
    pages = w.rng.randint(3, 9)
    style = w.rng.choice(["page", "cursor", "offset"])
    cursor = w.uid()
    for p in range(pages):
        if style == "page":
            args: dict[str, Any] = {"query": "open tickets", "page": p + 1}
        elif style == "cursor":
            args = {"query": "open tickets", "cursor": cursor}
        else:
            args = {"query": "open tickets", "offset": 50 * p, "limit": 50}
        nxt = w.uid()
        items = [w.uid() for _ in range(3)]
        events.append(call(tool, args, json.dumps({"items": items, "next": nxt})))
        cursor = nxt
    return trace(f"d-paging-{i:02d}", "paging", domain, events, None, "the arguments move on and the results change")


def retry_success(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    events = w.prefix(tools, w.rng.randint(0, 4))
    for attempt in range(w.rng.randint(1, 2)):
        tool = w.rng.choice(tools)
        args = {"id": w.uid()}
        for _ in range(w.rng.randint(1, 2)):
            events.append(call(tool, w.variant(args), error=f"Error 503: service unavailable (request {w.uid()})"))
        events.append(call(tool, args, f"{tool} ok: {w.uid()}"))
        events += w.prefix(tools, w.rng.randint(1, 3))
        del attempt
    return trace(f"d-retry_success-{i:02d}", "retry_success", domain, events, None, "transient failures, then success")


def varied(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    events = w.prefix(tools, w.rng.randint(3, 14))
    if w.rng.random() < 0.5:  # a call made twice on purpose (re-reading a file): twice is no loop
        again = dict(events[w.rng.randrange(len(events))])
        events.append({**again, "args": w.variant(again["args"])})
        events += w.prefix(tools, w.rng.randint(1, 3))
    return trace(f"d-varied-{i:02d}", "varied", domain, events, None, "ordinary varied work")


def reset(w: Writer, i: int) -> dict[str, Any]:
    domain = w.rng.choice(list(DOMAINS))
    tools = DOMAINS[domain]
    tool = w.rng.choice(tools)
    args = {"query": f"{w.rng.choice(WORDS)} report"}
    result = f"report {w.uid()}: nothing new"
    events = w.prefix(tools, w.rng.randint(0, 4))
    events += [call(tool, w.variant(args), result) for _ in range(2)]
    events.append({"type": "user", "text": "Can you check that again?"})
    after = 3 if i % 4 == 3 else 2
    step = None
    for r in range(after):
        events.append(call(tool, w.variant(args), result))
        if r == 2:
            step = calls_in(events) - 1
    events += w.prefix(tools, w.rng.randint(0, 2))
    note = "three identical calls after the user message" if step is not None else "the user message splits the run"
    return trace(f"d-reset-{i:02d}", "reset", domain, events, step, note)


KINDS = [
    (identical, 10),
    (same_error, 9),
    (ping_pong, 8),
    (no_progress, 9),
    (polling, 8),
    (paging, 8),
    (retry_success, 8),
    (varied, 8),
    (reset, 8),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=Path("tests/data/loop_traces/dev.jsonl"))
    args = parser.parse_args()
    writer = Writer(args.seed)
    traces = [make(writer, i) for make, n in KINDS for i in range(n)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("".join(json.dumps(t) + "\n" for t in traces), encoding="utf-8")
    print(f"{len(traces)} traces -> {args.out}")


if __name__ == "__main__":
    main()
