"""CascadeReader: the primary reader first, the judge only where it abstains; cache, timeout, budget, counters."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from guardrail import (
    ActionSpace,
    CascadeReader,
    CascadeStats,
    ConfigurationError,
    Guard,
    JudgeBase,
    LexicalReader,
    RationaleReading,
)
from guardrail.rationale import NO_READING

TOOLS = ActionSpace(["search_docs", "send_email"])
CLEAR = "The docs answer this, so I will call search_docs."  # the lexical reader is sure: search_docs
VAGUE = "The answer is probably written down somewhere."  # no action named: the lexical reader abstains
TIMEOUT = 0.2  # seconds, for the hanging judges


class Judge:
    """A judge that answers ``answer`` (an action, None, or an exception to raise) and records every call."""

    def __init__(self, answer: str | BaseException | None = "search_docs", *, confidence: float = 0.7) -> None:
        self.answer = answer
        self.confidence = confidence
        self.calls: list[tuple[str, ActionSpace]] = []

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        self.calls.append((rationale, actions))
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer is None:
            return NO_READING
        return RationaleReading(action=self.answer, confidence=self.confidence, evidence="judge")


class HangingJudge:
    """A judge that blocks until ``release`` is set (then answers search_docs); counts calls started."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = 0
        self.lock = threading.Lock()

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        with self.lock:
            self.started += 1
        self.release.wait(30)
        return RationaleReading(action="search_docs", confidence=0.7)


@pytest.fixture
def hanging() -> Iterator[HangingJudge]:
    """A hanging judge, released when the test ends so its threads finish."""
    judge = HangingJudge()
    yield judge
    judge.release.set()


def cascade(judge: Any, **options: Any) -> CascadeReader:
    return CascadeReader(LexicalReader(), judge, **options)


# --- when the judge is asked ----------------------------------------------------------------------------------


def test_a_confident_primary_reading_is_returned_without_asking_the_judge() -> None:
    """The lexical reader is sure: its reading comes back as it is, and the judge is never called."""
    judge = Judge("send_email")
    reader = cascade(judge)
    reading = reader(CLEAR, TOOLS)
    assert reading == LexicalReader()(CLEAR, TOOLS)
    assert reading.judge_calls == 0
    assert judge.calls == []
    assert reader.stats == CascadeStats()


def test_where_the_primary_abstains_the_judges_verdict_is_returned_with_one_judge_call() -> None:
    """No lexical reading: the judge is asked with the rationale and the space; its verdict carries judge_calls=1."""
    judge = Judge("search_docs")
    reader = cascade(judge)
    reading = reader(VAGUE, TOOLS)
    assert (reading.action, reading.confidence, reading.evidence, reading.judge_calls) == (
        "search_docs",
        0.7,
        "judge",
        1,
    )
    assert judge.calls == [(VAGUE, TOOLS)]
    assert reader.stats == CascadeStats(calls=1)


def test_a_primary_reading_below_min_confidence_is_judged() -> None:
    """A primary reading with an action but less confidence than min_confidence sends the read to the judge."""

    def unsure(rationale: str, actions: ActionSpace) -> RationaleReading:
        return RationaleReading(action="send_email", confidence=0.4)

    judge = Judge("search_docs")
    reader = CascadeReader(unsure, judge, min_confidence=0.5)
    assert reader(VAGUE, TOOLS).action == "search_docs"
    assert CascadeReader(unsure, judge, min_confidence=0.4)(VAGUE, TOOLS).action == "send_email"
    assert len(judge.calls) == 1


def test_the_judges_none_is_an_answer_returned_and_cached() -> None:
    """A judge that sees no recommendation gives NO_READING (judge_calls=1), cached like any verdict."""
    judge = Judge(None)
    reader = cascade(judge)
    first = reader(VAGUE, TOOLS)
    assert (first.action, first.confidence, first.judge_calls) == (None, 0.0, 1)
    assert reader(VAGUE, TOOLS).judge_calls == 0
    assert len(judge.calls) == 1


def test_a_verdict_outside_the_space_is_read_as_none() -> None:
    """A judge naming an action the space does not have gives no reading: the cascade never returns it."""
    judge = Judge("teleport")
    reading = cascade(judge)(VAGUE, TOOLS)
    assert (reading.action, reading.judge_calls) == (None, 1)


@pytest.mark.parametrize("rationale", ["", "   \n\t"])
def test_a_blank_rationale_is_never_judged(rationale: str) -> None:
    """Nothing to read, nothing to ask: a blank rationale costs no judge call."""
    judge = Judge()
    assert cascade(judge)(rationale, TOOLS) == NO_READING
    assert judge.calls == []


# --- the cache ------------------------------------------------------------------------------------------------


def test_a_repeated_rationale_is_answered_from_the_cache_without_a_call() -> None:
    """The second read of the same rationale and space is the cached verdict, with judge_calls=0."""
    judge = Judge("search_docs")
    reader = cascade(judge)
    first, second = reader(VAGUE, TOOLS), reader(VAGUE, TOOLS)
    assert dataclasses.replace(first, judge_calls=0) == second
    assert second.judge_calls == 0
    assert len(judge.calls) == 1
    assert reader.stats == CascadeStats(calls=1, cache_hits=1)


def test_the_cache_is_keyed_by_the_action_space_too() -> None:
    """The same rationale against other names, aliases or descriptions is a new question for the judge."""
    judge = Judge(None)
    reader = cascade(judge)
    spaces = [
        TOOLS,
        ActionSpace(["search_docs", "send_mail"]),
        ActionSpace(["search_docs", "send_email"], aliases={"docs": "search_docs"}),
        ActionSpace(["search_docs", "send_email"], descriptions={"search_docs": "Search the documentation."}),
    ]
    for space in spaces:
        reader(VAGUE, space)
    assert len(judge.calls) == len(spaces)
    reader(VAGUE, ActionSpace(["search_docs", "send_email"]))  # an equal space: a hit
    assert reader.stats.cache_hits == 1


def test_the_cache_is_bounded_and_forgets_the_least_recently_used_verdict() -> None:
    """With room for two verdicts, a third evicts the one read least recently, which is then asked again."""
    judge = Judge(None)
    reader = cascade(judge, cache_size=2)
    first, second, third = (f"Rationale number {n} recommends nothing in particular." for n in (1, 2, 3))
    reader(first, TOOLS)
    reader(second, TOOLS)
    reader(first, TOOLS)  # first is now the most recently used
    reader(third, TOOLS)  # evicts second
    reader(first, TOOLS)
    reader(second, TOOLS)
    assert [rationale for rationale, _ in judge.calls] == [first, second, third, second]
    assert reader.stats == CascadeStats(calls=4, cache_hits=2)


def test_a_cache_size_of_zero_remembers_nothing() -> None:
    """cache_size=0: every abstained read asks the judge."""
    judge = Judge()
    reader = cascade(judge, cache_size=0)
    reader(VAGUE, TOOLS)
    reader(VAGUE, TOOLS)
    assert len(judge.calls) == 2
    assert reader.stats.cache_hits == 0


# --- timeouts -------------------------------------------------------------------------------------------------


def test_a_hanging_judge_times_out_to_the_primary_reading(hanging: HangingJudge) -> None:
    """A judge that never answers costs the read at most ``timeout``: the primary's reading, one timeout counted."""
    reader = cascade(hanging, timeout=TIMEOUT)
    started = time.monotonic()
    reading = reader(VAGUE, TOOLS)
    elapsed = time.monotonic() - started
    assert elapsed < TIMEOUT + 1.0
    assert (reading.action, reading.judge_calls) == (None, 1)  # the call was made, and counts
    assert reader.stats == CascadeStats(calls=1, timeouts=1)


def test_a_timed_out_read_is_not_cached(hanging: HangingJudge) -> None:
    """After a timeout the judge is asked again on the next read of the same rationale."""
    reader = cascade(hanging, timeout=TIMEOUT)
    reader(VAGUE, TOOLS)
    hanging.release.set()
    assert reader(VAGUE, TOOLS).action == "search_docs"
    assert reader.stats == CascadeStats(calls=2, timeouts=1)


def test_judges_hung_on_every_thread_still_never_block_a_read(hanging: HangingJudge) -> None:
    """Past the pool's threads, a call waits in the queue, times out like the others, and is cancelled: it never
    runs later."""
    reader = cascade(hanging, timeout=TIMEOUT, cache_size=0)
    started = time.monotonic()
    readings = [reader(f"Rationale {n} with no clear choice.", TOOLS) for n in range(6)]
    assert time.monotonic() - started < 6 * TIMEOUT + 2.0
    assert all(reading.action is None for reading in readings)
    assert reader.stats.timeouts == 6
    hanging.release.set()
    time.sleep(0.3)
    assert hanging.started == 4  # the two queued calls were cancelled, not run after their timeout


# --- errors ---------------------------------------------------------------------------------------------------


def test_a_judge_that_raises_gives_the_primary_reading_and_counts_an_error() -> None:
    """An exception in the judge is never raised to the step: the primary's reading, errors=1, nothing cached."""
    judge = Judge(ConnectionError("the model server is down"))
    reader = cascade(judge)
    reading = reader(VAGUE, TOOLS)
    assert (reading.action, reading.judge_calls) == (None, 1)
    reader(VAGUE, TOOLS)
    assert len(judge.calls) == 2  # not cached: asked again
    assert reader.stats == CascadeStats(calls=2, errors=2)


def test_a_judge_returning_something_other_than_a_reading_is_an_error() -> None:
    """A judge answering with a string instead of a RationaleReading is counted as an error."""
    reader = cascade(lambda rationale, actions: "search_docs")
    assert reader(VAGUE, TOOLS).action is None
    assert reader.stats == CascadeStats(calls=1, errors=1)


class SwallowingJudge:
    """Like the adapters' JudgeReader: ``__call__`` never raises, ``ask`` raises what the model raised."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        try:
            return self.ask(rationale, actions)
        except OSError:
            return NO_READING

    def ask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        self.asked += 1
        raise OSError("connection refused")

    async def aread(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        try:
            return await self.aask(rationale, actions)
        except OSError:
            return NO_READING

    async def aask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        self.asked += 1
        raise OSError("connection refused")


def test_the_cascade_calls_the_judges_raising_ask_so_a_failure_is_counted_not_cached() -> None:
    """A judge with ``ask``: the cascade uses it, so a network failure is an error, never a cached 'none'."""
    judge = SwallowingJudge()
    reader = cascade(judge)
    assert judge(VAGUE, TOOLS) == NO_READING  # on its own, the judge never raises
    reader(VAGUE, TOOLS)
    reader(VAGUE, TOOLS)
    assert judge.asked == 3
    assert reader.stats == CascadeStats(calls=2, errors=2)


async def test_the_async_path_calls_the_judges_raising_aask() -> None:
    """aread prefers the judge's ``aask`` to its ``aread``: the failure is counted as an error."""
    judge = SwallowingJudge()
    reader = cascade(judge)
    assert (await reader.aread(VAGUE, TOOLS)).action is None
    assert reader.stats == CascadeStats(calls=1, errors=1)


# --- the budget -----------------------------------------------------------------------------------------------


def test_after_max_judge_calls_no_more_calls_are_made_and_reads_are_counted_over_budget() -> None:
    """Two calls allowed: the third new rationale gets the primary's reading, without a call, counted."""
    judge = Judge("search_docs")
    reader = cascade(judge, max_judge_calls=2)
    readings = [reader(f"Rationale {n}: it is written down somewhere.", TOOLS) for n in range(3)]
    assert [reading.action for reading in readings] == ["search_docs", "search_docs", None]
    assert readings[2].judge_calls == 0
    assert len(judge.calls) == 2
    assert reader(CLEAR, TOOLS).action == "search_docs"  # a confident lexical reading never needs the budget
    assert reader("Rationale 0: it is written down somewhere.", TOOLS).action == "search_docs"  # cache hits are free
    assert reader.stats == CascadeStats(calls=2, cache_hits=1, over_budget=1)


def test_a_budget_of_zero_never_calls_the_judge() -> None:
    """max_judge_calls=0: the cascade is the primary reader alone, counting what it would have asked."""
    judge = Judge()
    reader = cascade(judge, max_judge_calls=0)
    assert reader(VAGUE, TOOLS) == NO_READING
    assert judge.calls == []
    assert reader.stats == CascadeStats(over_budget=1)


def test_failed_calls_count_against_the_budget(hanging: HangingJudge) -> None:
    """A call that timed out was made: it spends the budget like one that answered."""
    reader = cascade(hanging, timeout=TIMEOUT, max_judge_calls=1)
    reader(VAGUE, TOOLS)
    reader(VAGUE, TOOLS)
    assert reader.stats == CascadeStats(calls=1, timeouts=1, over_budget=1)


def test_concurrent_reads_never_exceed_the_budget_and_judge_calls_sum_to_the_calls() -> None:
    """Sixteen threads read distinct rationales against a budget of five: exactly five calls, the rest over
    budget, and the readings' judge_calls add up to stats.calls."""
    judge = Judge("search_docs")
    reader = cascade(judge, max_judge_calls=5)
    readings: list[RationaleReading] = []
    lock = threading.Lock()

    def read(n: int) -> None:
        reading = reader(f"Rationale {n}: perhaps somewhere else.", TOOLS)
        with lock:
            readings.append(reading)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stats = reader.stats
    assert (stats.calls, stats.over_budget) == (5, 11)
    assert sum(reading.judge_calls for reading in readings) == stats.calls == len(judge.calls)


# --- the async path -------------------------------------------------------------------------------------------


class AsyncJudge:
    """A judge with an async ``aread`` (and a sync ``__call__`` that must not be used by ``aread``)."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.async_calls = 0
        self.sync_calls = 0

    def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        self.sync_calls += 1
        return RationaleReading(action="send_email", confidence=0.7)

    async def aread(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        self.async_calls += 1
        await asyncio.sleep(self.delay)
        return RationaleReading(action="search_docs", confidence=0.7)


async def test_aread_awaits_the_judges_async_path() -> None:
    """A judge with ``aread``: the async read awaits it and never calls the sync one."""
    judge = AsyncJudge()
    reader = cascade(judge)
    reading = await reader.aread(VAGUE, TOOLS)
    assert (reading.action, reading.judge_calls) == ("search_docs", 1)
    assert (judge.async_calls, judge.sync_calls) == (1, 0)


async def test_aread_runs_a_sync_judge_off_the_event_loop() -> None:
    """A judge without an async path runs on a thread: the loop keeps running while it works."""
    ticks = 0

    def slow_judge(rationale: str, actions: ActionSpace) -> RationaleReading:
        time.sleep(0.2)
        return RationaleReading(action="search_docs", confidence=0.7)

    async def tick() -> None:
        nonlocal ticks
        for _ in range(10):
            await asyncio.sleep(0.01)
            ticks += 1

    reading, _ = await asyncio.gather(cascade(slow_judge).aread(VAGUE, TOOLS), tick())
    assert reading.action == "search_docs"
    assert ticks == 10


async def test_aread_shares_the_cache_budget_and_counters_with_the_sync_path() -> None:
    """A verdict read asynchronously is a cache hit for a sync read, and the budget is one budget."""
    judge = AsyncJudge()
    reader = cascade(judge, max_judge_calls=1)
    await reader.aread(VAGUE, TOOLS)
    assert reader(VAGUE, TOOLS).judge_calls == 0
    assert (await reader.aread("Another vague one, about nothing in particular.", TOOLS)).action is None
    assert reader.stats == CascadeStats(calls=1, cache_hits=1, over_budget=1)


async def test_an_async_judge_that_hangs_times_out_and_is_cancelled() -> None:
    """A hung async judge costs the read ``timeout`` seconds; it is cancelled and counted as a timeout."""
    cancelled = asyncio.Event()

    class Hung:
        def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
            raise AssertionError("the sync path is not used")

        async def aread(self, rationale: str, actions: ActionSpace) -> RationaleReading:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise
            raise AssertionError("unreachable")

    reader = cascade(Hung(), timeout=TIMEOUT)
    started = time.monotonic()
    reading = await reader.aread(VAGUE, TOOLS)
    assert time.monotonic() - started < TIMEOUT + 1.0
    assert reading.action is None
    await asyncio.wait_for(cancelled.wait(), 1.0)
    assert reader.stats == CascadeStats(calls=1, timeouts=1)


async def test_a_sync_judge_that_hangs_times_out_on_the_async_path(hanging: HangingJudge) -> None:
    """The sync judge on its thread hangs: the async read returns after ``timeout`` with the primary's reading."""
    reader = cascade(hanging, timeout=TIMEOUT)
    reading = await reader.aread(VAGUE, TOOLS)
    assert reading.action is None
    assert reader.stats == CascadeStats(calls=1, timeouts=1)


async def test_an_async_judge_that_raises_is_counted_as_an_error() -> None:
    """An exception from the async judge is counted and swallowed: the primary's reading."""

    class Failing:
        def __call__(self, rationale: str, actions: ActionSpace) -> RationaleReading:
            return NO_READING

        async def aread(self, rationale: str, actions: ActionSpace) -> RationaleReading:
            raise TimeoutError("the judge's own client timed out")

    reader = cascade(Failing())
    assert (await reader.aread(VAGUE, TOOLS)).action is None
    assert reader.stats == CascadeStats(calls=1, errors=1)


# --- the rest of the contract ---------------------------------------------------------------------------------


def test_the_judge_runs_in_the_callers_context() -> None:
    """Context variables set by the caller (LangChain's run tree, tracing) are visible to the judge's thread."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")
    seen: list[str] = []

    def judge(rationale: str, actions: ActionSpace) -> RationaleReading:
        seen.append(request_id.get())
        return NO_READING

    request_id.set("step-7")
    cascade(judge)(VAGUE, TOOLS)
    assert seen == ["step-7"]


def test_a_guard_reads_rationales_through_the_cascade() -> None:
    """Guard(reader=cascade): an abstained rationale is judged; the gap is flagged at the judge's confidence (0.7),
    and overridden only by a policy that trusts that confidence (OverrideToRationale's default needs 0.8)."""
    from guardrail import OverrideToRationale

    def step(policy: OverrideToRationale) -> tuple[str | None, set[str]]:
        guard = Guard(["search_docs", "send_email"], reader=cascade(Judge("search_docs")), policies=[policy])
        result = guard.step(lambda prompt: f"{VAGUE}\nACTION=send_email", "Which tool?")
        assert result.first_decision.rationale_action == "search_docs"
        return result.action, {finding.kind for finding in result.findings}

    assert step(OverrideToRationale()) == ("send_email", {"knowing_doing_gap"})
    assert step(OverrideToRationale(min_confidence=0.7)) == ("search_docs", {"knowing_doing_gap"})


def test_stats_are_a_frozen_snapshot() -> None:
    """cascade.stats is a value: it cannot be changed, and later reads do not change an earlier snapshot."""
    reader = cascade(Judge())
    before = reader.stats
    reader(VAGUE, TOOLS)
    assert before == CascadeStats()
    assert reader.stats.calls == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        before.calls = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"min_confidence": 1.5}, "min_confidence"),
        ({"min_confidence": True}, "min_confidence"),
        ({"cache_size": -1}, "cache_size"),
        ({"cache_size": 2.0}, "cache_size"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": None}, "timeout"),
        ({"max_judge_calls": -1}, "max_judge_calls"),
        ({"max_judge_calls": 1.5}, "max_judge_calls"),
    ],
)
def test_bad_options_are_configuration_errors_naming_the_value(options: dict[str, Any], named: str) -> None:
    """Every option is checked when the cascade is built, and the error names the option and the value."""
    with pytest.raises(ConfigurationError, match=named) as raised:
        cascade(Judge(), **options)
    assert repr(next(iter(options.values()))) in str(raised.value)


def test_the_readers_must_be_callable() -> None:
    """A primary or judge that is not a callable reader is refused at construction."""
    with pytest.raises(ConfigurationError, match="primary"):
        CascadeReader("lexical", Judge())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="judge"):
        CascadeReader(LexicalReader(), None)  # type: ignore[arg-type]


def test_the_options_are_keyword_only() -> None:
    """min_confidence and the rest cannot be passed by position."""
    with pytest.raises(TypeError):
        CascadeReader(LexicalReader(), Judge(), 0.5)  # type: ignore[call-arg]


@pytest.mark.parametrize("judge_calls", [-1, True, 1.0])
def test_a_readings_judge_calls_is_a_count(judge_calls: object) -> None:
    """RationaleReading.judge_calls is an integer >= 0 (0 by default)."""
    assert RationaleReading(action="red", confidence=1.0).judge_calls == 0
    with pytest.raises(ConfigurationError, match="judge_calls"):
        RationaleReading(action="red", confidence=1.0, judge_calls=judge_calls)  # type: ignore[arg-type]


# --- the judge's question -------------------------------------------------------------------------------------

DESCRIBED = ActionSpace(
    ["search_docs", "send_email"],
    descriptions={"search_docs": "Search the documentation.", "send_email": "Send an email\n to a user."},
)


def test_the_question_lists_the_actions_with_their_descriptions_then_the_rationale() -> None:
    """One user message: each action with its one-line description, the rationale, then the question."""
    from guardrail import JudgeQuestion

    prompt = JudgeQuestion("The docs should say how.", DESCRIBED).prompt()
    assert prompt.index("- search_docs: Search the documentation.") < prompt.index("- send_email: Send an email to")
    assert prompt.index("send_email") < prompt.index("The docs should say how.") < prompt.index("Which action")
    assert "immediate next step" in prompt
    assert "or none if" in prompt
    assert "JSON" not in prompt
    assert '{"action": "<one name from the list, or none>"}' in JudgeQuestion("x", DESCRIBED).prompt(json_answer=True)


def test_the_questions_answers_are_the_names_and_a_none_word_that_is_no_action() -> None:
    """The legal answers are the names plus "none"; when an action is called "none", another word is used."""
    from guardrail import JudgeQuestion

    assert JudgeQuestion("x", TOOLS).choices == ("search_docs", "send_email", "none")
    odd = JudgeQuestion("x", ActionSpace(["None", "wait"]))
    assert odd.choices == ("None", "wait", "no_action")
    assert "or no_action if" in odd.prompt()


def test_a_long_rationale_is_cut_to_its_last_characters() -> None:
    """Only the last max_chars characters reach the prompt (the conclusion is at the end)."""
    from guardrail import JudgeQuestion

    rationale = "x" * 5000 + " so I will search the docs."
    prompt = JudgeQuestion(rationale, TOOLS, max_chars=100).prompt()
    assert "so I will search the docs." in prompt
    assert "x" * 101 not in prompt


@pytest.mark.parametrize(
    ("answer", "action"),
    [
        ("search_docs", "search_docs"),
        ("  `Search_Docs`.", "search_docs"),
        ("Action: send_email", "send_email"),
        ('{"action": "send email"}', "send_email"),
        ({"action": "search_docs"}, "search_docs"),
        ("search_docs\nBecause the docs have it.", "search_docs"),
        ("none", None),
        ('{"action": "none"}', None),
        ("teleport", None),
        ("search_docs or send_email", None),
        ('{"action": ', None),
        ('{"answer": "search_docs"}', None),
        ("", None),
        (None, None),
        (42, None),
        ({"action": ["search_docs"]}, None),
    ],
)
def test_a_judges_answer_is_read_strictly_and_never_raises(answer: object, action: str | None) -> None:
    """A name (in any spelling resolve accepts), {"action": name} or a first line naming one action is that action;
    "none", unknown names, two names, broken JSON and non-strings are no action. Either way, judge_calls=1."""
    from guardrail import JudgeQuestion

    reading = JudgeQuestion("x", TOOLS).read(answer, confidence=0.7, evidence="judge")
    assert reading.action == action
    assert reading.confidence == (0.7 if action else 0.0)
    assert reading.judge_calls == 1


def test_the_cascade_modules_examples_run() -> None:
    """The docstring examples of CascadeReader and JudgeQuestion are true."""
    import doctest

    import guardrail.rationale._cascade

    failures, tried = doctest.testmod(guardrail.rationale._cascade)
    assert tried > 0
    assert failures == 0


def test_a_decision_carries_the_judge_calls_its_rationale_cost() -> None:
    """parse() with a cascade records on the Decision how many judge calls reading the rationale took."""
    from guardrail import parse

    def judge(rationale: str, actions: ActionSpace) -> RationaleReading:
        return RationaleReading(action="blue", confidence=0.7, judge_calls=1)

    cascade = CascadeReader(LexicalReader(), judge)
    asked = parse("Hard to say.\nACTION=red", ["red", "blue"], reader=cascade)
    sure = parse("I will pick red.\nACTION=red", ["red", "blue"], reader=cascade)
    assert (asked.rationale_action, asked.rationale_judge_calls) == ("blue", 1)
    assert (sure.rationale_action, sure.rationale_judge_calls) == ("red", 0)


class _FailingJudge(JudgeBase):
    """A judge whose model is down."""

    def ask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        raise ConnectionError("the model server is down")

    async def aask(self, rationale: str, actions: ActionSpace) -> RationaleReading:
        raise ConnectionError("the model server is down")


def test_a_judge_whose_request_fails_gives_no_reading_and_counts_the_call(caplog: pytest.LogCaptureFixture) -> None:
    """JudgeBase: calling the judge (sync or async) never raises; the failure is a warning and one judge call."""
    judge = _FailingJudge(confidence=0.7, max_tokens=16, max_chars=100)
    space = ActionSpace(["red", "blue"])
    with caplog.at_level("WARNING", logger="guardrail.judge"):
        assert (judge("blue?", space).action, judge("blue?", space).judge_calls) == (None, 1)
        assert asyncio.run(judge.aread("blue?", space)).judge_calls == 1
    assert "the model server is down" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"confidence": 0.0, "max_tokens": 16, "max_chars": 100}, "confidence"),
        ({"confidence": True, "max_tokens": 16, "max_chars": 100}, "confidence"),
        ({"confidence": 0.7, "max_tokens": 0, "max_chars": 100}, "max_tokens"),
        ({"confidence": 0.7, "max_tokens": None, "max_chars": "100"}, "max_chars"),
    ],
)
def test_a_judge_with_bad_settings_is_a_configuration_error(kwargs: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        _FailingJudge(**kwargs)
