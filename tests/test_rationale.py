"""Behaviour of guardrail.rationale: which action a rationale recommends."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from guardrail.actions import ActionSpace
from guardrail.exceptions import ConfigurationError
from guardrail.rationale import NO_READING, LexicalReader, RationaleReading, read_rationale

COLOURS = ActionSpace(["blue", "green", "red", "yellow", "purple"])
ARMS = ActionSpace([f"arm_{i}" for i in range(1, 21)])
TOOLS = ActionSpace(["search", "search_docs", "web_search", "send_email", "calculator", "read_file", "finish"])
DATA = Path(__file__).parent / "data" / "rationales.jsonl"


def _eval_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "eval_rationale", Path(__file__).parent.parent / "scripts" / "eval_rationale.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("eval_rationale", module)  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


def action(text: str, space: ActionSpace = COLOURS) -> str | None:
    return read_rationale(text, space).action


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so I should choose blue.", "blue"),
        ("I will pick red.", "red"),
        ("purple is the best option to try next.", "purple"),
        ("Based on the averages, the next action should be green.", "green"),
        ("Let's go with yellow.", "yellow"),
        ("The best arm is red.", "red"),
        ("I recommend blue.", "blue"),
        ("My choice: green", "green"),
        ("red averaged 0.2, green 0.7. Therefore green.", "green"),
        ("Blue it is.", "blue"),
        ("We just need blue now.", "blue"),
        ("The fastest way to fix this is to press red.", "red"),
        ("Better to press red today and blue later.", "red"),
        ("The user asked me to press red before anything else.", "red"),
        ("Blue has to go in first; red can follow.", "blue"),
        ("No rule says so, but as a courtesy I'd still press green right now.", "green"),
        ("Press blue now, add red after.", "blue"),
        ("The owner asked if the rabies shot is due — let me press red.", "red"),  # "asked if" is no condition
        ("It must be backed up first. So: blue, then red.", "blue"),
        ("merge the two 64s - swipe blue", "blue"),
    ],
)
def test_decision_cues_name_the_recommended_action(text: str, expected: str) -> None:
    """Each family of decision cue (choose/pick, best option, next action, recommend, label, therefore) reads."""
    assert action(text) == expected


@pytest.mark.parametrize("x", ["red", "blue", "purple"])
def test_simulator_templates_read_correctly(x: str) -> None:
    """The benchmark simulators' four phrasings give the action they were written for."""
    listing = "red: mean 0.40, UCB 1.23; blue: untried, UCB inf; green: mean 0.91, UCB 1.60."
    templates = [
        f"{listing} The highest UCB value is {x}, so I should choose {x}.",
        f"Exploring matters: {x} is the best option to try next.",
        f"Based on the averages, the next action should be {x}.",
        f"{x} has the best average reward so far, so I will pick {x}.",
    ]
    for text in templates:
        assert action(text) == x, text


def test_paper_style_ucb_rationale() -> None:
    """A UCB listing that ends "The highest UCB is X, so I choose X" reads X, though others have higher means."""
    text = (
        "red: mean 0.40, UCB 1.23; blue: untried, UCB inf; green: mean 0.91, UCB 1.60. "
        "The highest UCB is blue, so I choose blue."
    )
    reading = read_rationale(text, COLOURS)
    assert reading.action == "blue"
    assert reading.evidence is not None
    assert reading.span is not None
    assert text[reading.span[0] : reading.span[1]] == reading.evidence


def test_highest_ucb_statement_alone_counts_as_evidence() -> None:
    """With no explicit decision, "X has the highest UCB" still recommends X, less confidently than a decision."""
    evidence = read_rationale("Looking at the bounds, yellow has the highest UCB.", COLOURS)
    decision = read_rationale("I will pick yellow.", COLOURS)
    assert evidence.action == "yellow"
    assert 0.5 <= evidence.confidence < decision.confidence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Avoid red. Its average is only 0.12.", None),
        ("Red is not a good option: it returned negative rewards twice.", None),
        ("I should not pick red again. Blue is much higher, so I will go with blue.", "blue"),
        ("Rather than red, choose blue this time.", "blue"),
        ("Instead of pressing red again, I'll try yellow.", "yellow"),
        ("Not red but green: green hasn't been explored at all.", "green"),
        ("Choose green, not red.", "green"),
    ],
)
def test_negated_mentions_are_never_the_recommendation(text: str, expected: str | None) -> None:
    """Negation ("avoid X", "X is not a good option", "rather than X", "not X but Y") never recommends X."""
    assert action(text) == expected


def test_recommending_then_negating_the_same_action_gives_none() -> None:
    """A rationale that picks X and then rules X out contradicts itself: no reading."""
    assert action("I'll choose red. On reflection, avoid red.") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Blue is better than red based on the rewards so far.", "blue"),
        ("Red is worse than green on average (0.3 vs 0.8).", "green"),
        ("purple beats yellow by a wide margin.", "purple"),
        ("Green looks better than blue, and blue looks better than red.", "green"),
    ],
)
def test_comparisons_favour_the_winner(text: str, expected: str) -> None:
    """ "X is better than Y", "Y is worse than X" and "X beats Y" all favour X."""
    assert action(text) == expected


def test_concluding_recommendation_wins_over_earlier_ones() -> None:
    """When the rationale changes its mind, the last decision counts."""
    text = "I'll choose red. Actually, wait - red's mean is mediocre. Let me choose purple instead."
    assert action(text) == "purple"


def test_history_recap_is_not_a_recommendation() -> None:
    """Lines recapping history ("Step 3: red gave 0.4", "Step=1 Action=red") are not recommendations."""
    assert action("Step 1: red gave 0.4.\nStep 2: blue gave 1.2.\nStep 3: red gave 0.1.") is None
    assert action("Answer:\n1. Red -> reward 1.0\n2. Blue -> reward 0.7\n3. Red -> reward 0.0") is None
    assert action("Step=1 Action=red Reward=0.42\nStep=2 Action=blue Reward=1.10") is None
    assert action("Step=1 Action=red Reward=0.42\nStep=2 Action=blue Reward=1.10\nI will press yellow.") == "yellow"


@pytest.mark.parametrize(
    "text",
    [
        "I am not sure between blue and green; both look similar.",
        "Either green or yellow could work here.",
        "red: mean 0.40 (3 pulls); blue: mean 0.81 (1 pull); green: untried.",
        "Should I choose red? It has the lowest average so far.",
        "I could pick red or green; I can't decide.",
        "I'll choose red or blue.",
        "I'll pick blue. But honestly I'm not sure.",
        "If I take red, the next round gets harder.",
        "I'm pulling the purple, yellow, and green arms.",
        "Nice red for the team!",
        "Red is the best one to pull next. Blue is the best one to pull next. Green is the best one to pull next."
        " Yellow is the best one to pull next.",
        "",
        "   ",
    ],
)
def test_hedged_or_absent_recommendations_give_none(text: str) -> None:
    """Hedges, questions, alternatives, conditionals, bare listings and empty text give NO_READING."""
    assert read_rationale(text, COLOURS) == NO_READING


def test_a_rationale_stuck_repeating_itself_recommends_nothing() -> None:
    """A small model in a repetition loop (one line three times or more) makes no choice; twice is still a choice."""
    line = "The backup is the first step, then press red.\n"
    assert action(line * 3) is None
    assert action(line * 2) == "red"


@pytest.mark.parametrize(
    ("text", "space", "expected"),
    [
        ("arm_1: mean 0.2, arm_10: mean 0.9. The best arm is arm_10.", ARMS, "arm_10"),
        ("arm 10 has the highest UCB value, so I should choose arm 1 anyway.", ARMS, "arm_1"),
        ("I will pick arm_1.", ARMS, "arm_1"),
        ("Instead of search_docs, I'll run a plain search.", TOOLS, "search"),
        ("search is too broad; search_docs is better than search here.", TOOLS, "search_docs"),
        ("The best tool for this is web_search.", TOOLS, "web_search"),
    ],
)
def test_names_that_contain_other_names(text: str, space: ActionSpace, expected: str) -> None:
    """arm_1/arm_10 and search/search_docs/web_search are told apart, with any separator."""
    assert action(text, space) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Scroll down to the pricing table.", "scroll"),
        ("Scrolling down should bring the table into view.", "scroll"),
        ("Scroll is down for maintenance, so click the link.", "click"),
    ],
)
def test_a_particle_after_a_verb_is_not_a_rejection(text: str, expected: str) -> None:
    """ "scroll down" is an order; "scroll is down" says the tool is broken."""
    assert action(text, ActionSpace(["scroll", "click", "type_text"])) == expected


def test_a_number_that_starts_an_order_is_its_argument_not_a_listing() -> None:
    """ "book 2:40 with dr kim" is an order; "red 0.4 (3)" and "red 0.4" are listings."""
    space = ActionSpace(["book_appt", "cancel_appt"])
    assert action("book 2:40 with dr kim for biscuit", space) == "book_appt"
    assert action("red 0.4 (3 pulls)") is None
    assert action("red 0.4") is None


def test_an_email_address_in_an_order_is_text_not_a_mention() -> None:
    """The "@" of an address does not read as another action's mention."""
    assert action("send_email to j.kim@example.org about the refund.", ActionSpace(["send_email", "search"])) == (
        "send_email"
    )


def test_actions_that_are_verbs() -> None:
    """An action named like a verb ("finish", "search") reads after an intent: "I will finish"."""
    assert action("The report is written. I will finish.", TOOLS) == "finish"


def test_confidence_is_in_range_and_zero_without_action() -> None:
    """Confidence is in [0, 1], at least min_confidence when there is an action, and 0 when there is none."""
    for text in ["I will pick red.", "Blue is better than red.", "Maybe red, maybe blue.", "nothing here"]:
        reading = read_rationale(text, COLOURS)
        assert 0.0 <= reading.confidence <= 1.0
        if reading.action is None:
            assert reading.confidence == 0.0
        else:
            assert reading.confidence >= LexicalReader().min_confidence


def test_min_confidence_trades_recall_for_precision() -> None:
    """A stricter reader drops evidence-only readings but keeps explicit decisions."""
    strict = LexicalReader(min_confidence=0.8)
    assert read_rationale("Blue is better than red.", COLOURS, strict) == NO_READING
    assert read_rationale("I will pick blue.", COLOURS, strict).action == "blue"
    assert read_rationale("Blue is better than red.", COLOURS, LexicalReader(use_evidence=False)) == NO_READING


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_confidence": -0.1},
        {"min_confidence": 1.5},
        {"min_confidence": "high"},
        {"max_chars": 0},
        {"max_chars": 2.5},
        {"use_evidence": "yes"},
    ],
)
def test_bad_reader_configuration_raises_configuration_error(kwargs: dict[str, object]) -> None:
    """Invalid knobs fail at construction with ConfigurationError."""
    with pytest.raises(ConfigurationError):
        LexicalReader(**kwargs)  # type: ignore[arg-type]


def test_reading_validates_its_fields() -> None:
    """A RationaleReading with confidence outside [0, 1], or a confidence without an action, is refused."""
    with pytest.raises(ConfigurationError):
        RationaleReading(action="red", confidence=1.5)
    with pytest.raises(ConfigurationError):
        RationaleReading(action=None, confidence=0.3)


def test_custom_reader_answering_outside_the_space_is_ignored() -> None:
    """read_rationale never returns an action outside the space, whatever the reader says."""

    def rogue(rationale: str, actions: ActionSpace) -> RationaleReading:
        return RationaleReading(action="teleport", confidence=1.0)

    assert read_rationale("I will pick red.", COLOURS, rogue) == NO_READING


def test_custom_reader_is_used() -> None:
    """A plain function with the reader's signature is accepted as a reader."""

    def always_green(rationale: str, actions: ActionSpace) -> RationaleReading:
        return RationaleReading(action="green", confidence=0.7, evidence="stub")

    assert read_rationale("I will pick red.", COLOURS, always_green).action == "green"


def test_huge_and_unusual_input_is_fast_and_safe() -> None:
    """1 MB of text, non-ASCII, private-use characters and lone surrogates neither raise nor take long."""
    text = ("red gave 0.4 and blue 0.9 — très bien, 很好. " * 25_000)[:1_000_000] + " I will pick blue."
    start = time.perf_counter()
    reading = read_rationale(text, COLOURS)
    assert time.perf_counter() - start < 2.0
    assert reading.action == "blue"
    assert reading.span is not None
    assert text[reading.span[0] : reading.span[1]] == reading.evidence
    assert read_rationale("\ue000 I will pick red \ue000", COLOURS).action == "red"
    assert read_rationale("\x00\ud800 choose", COLOURS) == NO_READING


NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


@st.composite
def spaces(draw: st.DrawFn) -> ActionSpace:
    names = draw(st.lists(NAMES, min_size=1, max_size=6))
    try:
        return ActionSpace(names)
    except ConfigurationError:
        return ActionSpace(["fallback"])


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400), space=spaces())
def test_arbitrary_text_and_spaces_never_raise(text: str, space: ActionSpace) -> None:
    """On any text and any small action space: no exception, action in the space or None, confidence in [0, 1]."""
    reading = read_rationale(text, space)
    assert reading.action is None or reading.action in space.names
    assert 0.0 <= reading.confidence <= 1.0


@settings(max_examples=200, deadline=None)
@given(
    template=st.sampled_from(
        [
            "I will pick {a}.",
            "Rather than {a}, choose {b}.",
            "{a} is better than {b}.",
            "The highest UCB is {b}, so I choose {b}.",
            "I am not sure between {a} and {b}.",
            "Avoid {a}. Let's go with {c}.",
            "{a}: mean 0.4; {b}: untried.",
        ]
    ),
    words=st.lists(
        st.sampled_from(["red", "blue", "green", "search", "arm_1", "arm 10"]), min_size=3, max_size=3, unique=True
    ),
    filler=st.text(alphabet=st.characters(codec="ascii", categories=["L", "N", "P", "Zs"]), max_size=40),
)
def test_templates_with_noise_stay_in_space(template: str, words: list[str], filler: str) -> None:
    """Recommendation templates with random prose around them read an action of the space or nothing."""
    space = ActionSpace(["red", "blue", "green", "search", "arm_1", "arm_10"])
    text = filler + " " + template.format(a=words[0], b=words[1], c=words[2])
    reading = read_rationale(text, space)
    assert reading.action is None or reading.action in space.names


def _relabel(text: str, space: ActionSpace, mapping: dict[str, str]) -> str:
    out: list[str] = []
    cursor = 0
    for mention in space.find_mentions(text):
        out.append(text[cursor : mention.start])
        out.append(mapping[mention.action])
        cursor = mention.end
    out.append(text[cursor:])
    return "".join(out)


def _items() -> list[dict[str, object]]:  # the first labelled set, for the relabelling property
    with DATA.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@settings(max_examples=150, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=10_000),
    seed=st.lists(
        st.from_regex(re.compile(r"[a-z]{2,6}", re.ASCII), fullmatch=True), min_size=20, max_size=20, unique=True
    ),
)
def test_relabelling_actions_consistently_renames_the_answer(index: int, seed: list[str]) -> None:
    """Renaming the actions consistently in text and space gives the renamed answer (for labelled rationales).

    Only where every action the text refers to is named: a phrase grounded by the name's parts ("email the summary"
    for send_email) rightly stops referring to it once the name changes; and the new names' parts are no words of
    the text (a name "zq_far_4" is rightly what "the best so far" refers to)."""
    items = _items()
    item = items[index % len(items)]
    names = [str(n) for n in item["actions"]]  # type: ignore[attr-defined]
    text = str(item["rationale"])
    words = re.findall(r"[a-z]+", text.lower())
    parts = [part for part in seed if not any(word.startswith(part) or part.startswith(word) for word in words)]
    assume(len(parts) >= len(names))
    space = ActionSpace(names)
    mapping = {name: f"zq_{parts[i]}_{i}" for i, name in enumerate(names)}
    renamed_space = ActionSpace([mapping[n] for n in names])
    before = read_rationale(text, space)
    named = {mention.action for mention in space.find_mentions(text)}
    assume(before.action is None or before.action in named)
    after = read_rationale(_relabel(text, space, mapping), renamed_space)
    assert after.action == (None if before.action is None else mapping[before.action])
    assert after.confidence == pytest.approx(before.confidence)


FROZEN_TEST_SPLIT = {  # written by separate writers who never saw the reader; never tuned on
    "bandit.jsonl": "77cae46ae4013e6bc32deec5ee85b9ae054753875f1a1ce1b51fc8dfc2d3ee1a",
    "gemma.jsonl": "aab7134e2e566bf0ab0549bec25a7a3ec923f904ed8f1e64be6d99381e0b9dad",
    "tools.jsonl": "ee458bef3665a64ce34a988ac235293272a9eef91f1d20fb965096e1ff09adae",
    "tools3.jsonl": "84b6117820ded8a03a37a8ff84a0a0c1141967ff29cd004474fb83615670693d",  # stop 13, a third writer
}
CORPUS = Path(__file__).parent / "data" / "rationale_corpus"


def test_the_test_split_is_frozen() -> None:
    """The blind test split is exactly the files its writers handed over (a changed byte fails)."""
    found = {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in (CORPUS / "test").glob("*.jsonl")}
    assert {name: found.get(name) for name in FROZEN_TEST_SPLIT} == FROZEN_TEST_SPLIT


def test_the_corpus_is_well_formed() -> None:
    """At least 600 items over dev and test; each label and taken action is in its space or null; ids unique."""
    module = _eval_module()
    items = module.load("dev") + module.load("test")
    assert len(items) >= 600
    assert len({item["id"] for item in items}) == len(items)
    for item in items:
        for field in ("expected", "taken"):
            assert item[field] is None or item[field] in item["actions"], (item["id"], field)
        assert set(item.get("descriptions") or {}) <= set(item["actions"]), item["id"]
    assert sum(item["expected"] is None for item in items) >= 0.15 * len(items)


def test_the_development_split_keeps_its_floor() -> None:
    """On the development split the reader keeps precision >= 0.90 and recall >= 0.60 (a regression floor)."""
    module = _eval_module()
    scores, _ = module.evaluate(module.load("dev"), LexicalReader())
    overall = scores["all"]
    assert overall.correct / overall.predicted >= 0.90
    assert overall.correct / overall.labelled >= 0.60


def test_the_first_labelled_sets_keep_their_floor() -> None:
    """The two earlier labelled sets (tuned on by the first reader) still read at precision >= 0.9, recall >= 0.8."""
    for path in (DATA, DATA.with_name("rationales_holdout.jsonl")):
        items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        readings = [read_rationale(item["rationale"], ActionSpace(item["actions"])).action for item in items]
        predicted = sum(got is not None for got in readings)
        correct = sum(got is not None and got == item["expected"] for got, item in zip(readings, items, strict=True))
        labelled = sum(item["expected"] is not None for item in items)
        assert correct / predicted >= 0.9, path.name
        assert correct / labelled >= 0.8, path.name


def test_eval_script_prints_command_and_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    """scripts/eval_rationale.py prints the command first, then precision and recall, and returns 0."""
    assert _eval_module().main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("$ .venv/bin/python scripts/eval_rationale.py")
    assert "precision" in out
    assert "recall" in out
    assert "dev " in out
    assert "test " in out
