"""The gated reader of guardrail.rationale reads exactly what the full scan of every pattern reads.

``tests/_rationale_reference.py`` is a frozen copy of the reader before the gates (every pattern run over every
rationale, case-insensitively). The optimised reader must give the same (action, confidence, evidence, span) on
every labelled item and on arbitrary texts, over several action spaces and reader settings, including upper- and
mixed-case text (which it scans case-folded, case-sensitively) and the characters that case folding treats
specially. The pieces the speed-ups rest on are also checked one by one: gates, folded forms (over every code
point), backward checks, mention finding, factors and sentence bounds.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrail import _regex_forms as regex_forms
from guardrail import rationale as fast
from guardrail.actions import ActionSpace, normalise_key
from tests._rationale_checks import assert_reads_as_reference, labelled_items

SLOT = fast._SLOT

SPACES = [
    ActionSpace(["blue", "green", "red", "yellow", "purple"]),
    ActionSpace([f"arm_{i}" for i in range(1, 21)]),
    ActionSpace(["search", "search_docs", "web_search", "send_email", "calculator", "read_file", "finish"]),
    ActionSpace(["top_left", "top", "center", "bottom_right", "x", "o"]),
]
SETTINGS = [{}, {"min_confidence": 0.0}, {"use_evidence": False}, {"max_chars": 40}]


def test_labelled_items_read_exactly_as_the_full_scan() -> None:
    items = labelled_items()
    assert len(items) >= 221
    for item in items:
        text = str(item["rationale"])
        own = ActionSpace(item["actions"])  # type: ignore[arg-type]
        for kwargs in SETTINGS:
            assert_reads_as_reference(text, own, **kwargs)
        for space in SPACES:
            assert_reads_as_reference(text, space)


# Texts made of the words the cues are built from, action names, markup and arbitrary characters.
WORDS = sorted(
    {
        w
        for w in re.findall(
            r"[a-z]+",
            " ".join(p.pattern for p in fast._GATED).replace(r"\s", " ").replace(r"\b", " ").replace(r"\w", " "),
        )
        if len(w) > 1
    }
    | {"I", "I'll", "I'd", "we're", "let's", "don't", "isn't", "Step", "UCB", "If", "what", "not", "no", "so"}
)
NAMES = ["blue", "Red", "green", "arm_1", "arm 10", "arm_2", "search", "search_docs", "finish", "center", "x", "o"]
PUNCT = [".", ",", ";", ":", "!", "?", "\n", " - ", "**", "`", "'", '"', "(", ")", " -> ", "—", " = ", "\ue000"]
TOKENS = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(NAMES),
    st.sampled_from(PUNCT),
    st.text(max_size=4),
    st.sampled_from(["\u0130", "\u0131", "\u017f", "\u212a", "é", "ß", "选择", "0.42", "3"]),
)
TEXTS = st.lists(st.tuples(TOKENS, st.sampled_from([" ", " ", " ", "", "\n", "  "])), max_size=40).map(
    lambda parts: "".join(a + b for a, b in parts)
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, space=st.sampled_from(SPACES), kwargs=st.sampled_from(SETTINGS))
def test_arbitrary_texts_read_exactly_as_the_full_scan(
    text: str, space: ActionSpace, kwargs: dict[str, object]
) -> None:
    assert_reads_as_reference(text, space, **kwargs)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), space=st.sampled_from(SPACES))
def test_random_unicode_reads_exactly_as_the_full_scan(text: str, space: ActionSpace) -> None:
    assert_reads_as_reference(text, space)


# The same, in upper, title and mixed case, with the characters that re.IGNORECASE folds specially (Turkish
# dotted and dotless i, long s, Kelvin sign), other non-ASCII letters, CJK, emoji and the placeholder itself.
ODD = ["\u0130", "\u0131", "\u017f", "\u212a", "ß", "ẞ", "é", "É", "Ω", "\u2126", "ǅ", "ﬁ", "选择", "我选", "😀", SLOT]
CASES = [str.lower, str.upper, str.title, str.swapcase, str.capitalize]
CASED = st.builds(lambda word, case: case(word), st.sampled_from(WORDS + NAMES), st.sampled_from(CASES))
CASED_TEXTS = st.lists(
    st.tuples(
        st.one_of(CASED, CASED, CASED, st.sampled_from(PUNCT), st.sampled_from(ODD), st.text(max_size=3)),
        st.sampled_from([" ", " ", "", "\n", "  "]),
    ),
    max_size=40,
).map(lambda parts: "".join(a + b for a, b in parts))
ASCII_CASED_TEXTS = st.lists(
    st.tuples(st.one_of(CASED, CASED, st.sampled_from(PUNCT)), st.sampled_from([" ", " ", "", "\n"])), max_size=40
).map(lambda parts: "".join(a + b for a, b in parts))
ODD_SPACE = ActionSpace(["Café", "straße", "\u0131i", "\u212a-9", "x", "选择"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(CASED_TEXTS, ASCII_CASED_TEXTS),
    space=st.sampled_from([*SPACES, ODD_SPACE]),
    kwargs=st.sampled_from(SETTINGS),
)
def test_cased_and_non_ascii_texts_read_exactly_as_the_full_scan(
    text: str, space: ActionSpace, kwargs: dict[str, object]
) -> None:
    assert_reads_as_reference(text, space, **kwargs)


CASE_EXAMPLES = [
    "Looking at the history, A7 has the best Upper Confidence Bound, so I SHOULD CHOOSE a7.",
    "I WILL PICK BLUE. Red is WORSE than blue.",
    "\u0130 will p\u0131ck blue.",  # dotted and dotless i: matched as i by re.IGNORECASE
    "I will pic\u212a blue, not red.",  # Kelvin sign: matched as k
    "I \u017fhould choose blue.",  # long s: matched as s
    "Stra\u00dfe: I will pick blue.",
    "我选 blue。",
    "I will pick blue \U0001f600",
    "I will pick \ue000 blue",
    "Step 3: BLUE gave 0.4\nSo I choose RED.",
    "So I choose blue.\nStep 3: red gave 0.4",  # a history line after the decision's line
    "- Round 2: I will pick blue\n- round 3: I will pick red\nI will pick green",
    "\u039f\u03a3 I will pick blue \u03a3.",  # capital sigma, folded to a final or a medial sigma
]


@pytest.mark.parametrize("text", CASE_EXAMPLES)
def test_case_and_folding_examples_read_exactly_as_the_full_scan(text: str) -> None:
    for space in [*SPACES, ODD_SPACE]:
        for kwargs in SETTINGS:
            assert_reads_as_reference(text, space, **kwargs)


def _scanned_patterns() -> list[re.Pattern[str]]:
    return [*(cue.pattern for cue in fast._POSITIVE_CUES), *fast._NEGATIONS, fast._HISTORY_LINE]


def _same_matches(pattern: re.Pattern[str], text: str, expected: list[tuple[tuple[int, int], ...]]) -> None:
    assert [m.regs for m in pattern.finditer(text)] == expected, (pattern.pattern[:60], text)


def _check_forms(text: str) -> None:
    """Each scanned pattern's forms find exactly its matches, and its gate and backward check never skip one."""
    present = fast._present(text)
    for pattern in _scanned_patterns():
        matches = [m.regs for m in pattern.finditer(text)]
        if matches:
            assert fast._may_match(fast._GATES[pattern], present), (pattern.pattern[:60], text)
        for scan, subject in (
            (fast._scan(pattern, folded=False), text),
            (fast._scan(pattern, folded=True), fast._fold(text)),
        ):
            _same_matches(scan.forward, subject, matches)
            if matches and scan.backward is not None:
                assert scan.backward.search(subject[::-1]) is not None, (pattern.pattern[:60], text)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(TEXTS, CASED_TEXTS, ASCII_CASED_TEXTS))
def test_a_gate_never_skips_a_pattern_that_matches(text: str) -> None:
    """Directly: whenever a gated pattern matches, its gate lets it run, its fail-fast form finds the same, and so
    do its folded form and backward check (for the patterns that have them)."""
    present = fast._present(text)
    for pattern in fast._GATED:
        matches = [m.regs for m in pattern.finditer(text)]
        if matches:
            assert fast._may_match(fast._GATES[pattern], present), (pattern.pattern[:60], text)
        _same_matches(regex_forms._fail_fast(pattern), text, matches)
    _check_forms(text)


def test_forms_and_checks_on_the_labelled_rationales() -> None:
    """On real rationales, masked as the reader masks them, where the cues do match (random text rarely does)."""
    checked = 0
    for item in labelled_items():
        for space in [ActionSpace(item["actions"]), *SPACES]:  # type: ignore[arg-type]
            masked = fast._Masked(str(item["rationale"]), space, 0)
            for text in (masked.text, masked.text.upper(), masked.text.title()):
                _check_forms(text)
                checked += 1
    assert checked > 2000


def test_backward_checks_exist_and_skip() -> None:
    """The checks are in use: every pattern that does not start with the placeholder has one (but those that reach
    it through _DET and start with a literal, whose check would cost more than their scan, unless they reach it
    through _GAP and do not start with a subject: those get a loosened check), and they reject."""
    for folded in (False, True):
        for pattern in _scanned_patterns():
            scan = fast._scan(pattern, folded=folded)
            starts_with_it = pattern.pattern.startswith("(?P<a>")
            through_det = fast._DET in pattern.pattern and regex_forms._literal_first(fast._scan_form(pattern, folded))
            loosened = fast._GAP in pattern.pattern and not pattern.pattern.startswith(fast._NOT_HYPOTHETICAL)
            expected_none = starts_with_it or pattern is fast._HISTORY_LINE or (bool(through_det) and not loosened)
            assert (scan.backward is None) == expected_none, pattern.pattern[:60]
    assert fast._scan(fast._POSITIVE_CUES[1].pattern, folded=True).backward is None  # "should": through _DET
    verb = fast._scan(fast._POSITIVE_CUES[2].pattern, folded=True)  # "intent-verb"
    assert verb.backward is not None
    assert verb.backward.search(f"so I should {SLOT}."[::-1].lower()) is not None
    assert verb.backward.search(f"if I should {SLOT}."[::-1].lower()) is None  # look-behind, mirrored
    assert verb.backward.search(f"so I should choose {SLOT}."[::-1].lower()) is None


def _leaf_source(op: object, av: object, constants: object) -> str | None:
    """A one-character regex for a parsed leaf (literal, class, any), written independently of the module."""
    c: Any = constants
    if op is c.LITERAL:
        return re.escape(chr(av))  # type: ignore[arg-type]
    if op is c.NOT_LITERAL:
        return f"[^{re.escape(chr(av))}]"  # type: ignore[arg-type]
    if op is c.ANY:
        return "."
    if op is c.IN:
        categories = {c.CATEGORY_DIGIT: r"\d", c.CATEGORY_SPACE: r"\s", c.CATEGORY_WORD: r"\w"}
        categories |= {c.CATEGORY_NOT_DIGIT: r"\D", c.CATEGORY_NOT_SPACE: r"\S", c.CATEGORY_NOT_WORD: r"\W"}
        parts = []
        for o, v in av:  # type: ignore[attr-defined]
            if o is c.NEGATE:
                parts.append("^")
            elif o is c.LITERAL:
                parts.append(re.escape(chr(v)))
            elif o is c.RANGE:
                parts.append(f"{re.escape(chr(v[0]))}-{re.escape(chr(v[1]))}")
            else:
                parts.append(categories[v])
        return f"[{''.join(parts)}]"
    return None


def _leaves(items: Any, constants: Any) -> Any:
    c = constants
    for op, av in items:
        if op is c.SUBPATTERN:
            yield from _leaves(av[3].data, c)
        elif op is c.BRANCH:
            for alternative in av[1]:
                yield from _leaves(alternative.data, c)
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.ASSERT, c.ASSERT_NOT):
            yield from _leaves(av[-1].data, c)
        else:
            assert op is c.AT or _leaf_source(op, av, c) is not None, op
            yield op, av


@pytest.mark.skipif(sys.maxunicode < 0x10FFFF, reason="narrow build")
def test_folded_forms_match_folded_text_as_ignorecase_matches_text() -> None:
    """Exhaustively, over every code point, leaf by leaf: each literal or class of the scanned patterns matches the
    folded character case-sensitively iff it matches the character case-insensitively, and folding keeps every
    character one character (anchors look at \\w and line breaks, checked as leaves too)."""
    assert fast._FOLDED
    assert regex_forms._PARSER is not None
    parser, constants = regex_forms._PARSER
    everything = "".join(chr(code) for code in range(0x110000) if not 0xD800 <= code <= 0xDFFF)
    folded = fast._fold(everything)
    assert len(folded) == len(everything)
    assert len(fast._fold("a".join(everything))) == 2 * len(everything) - 1  # between cased letters (final sigma)
    sources = {r"\w", r"\n"} | {re.escape(chr(code)) for code in range(128) if not chr(code).isupper()}  # names'
    for pattern in _scanned_patterns():
        for op, av in _leaves(parser.parse(pattern.pattern).data, constants):
            source = _leaf_source(op, av, constants)
            if source is not None:
                sources.add(source)
    assert len(sources) > 50
    for source in sources:
        case_insensitive = [m.start() for m in re.finditer(source, everything, re.IGNORECASE)]
        assert [m.start() for m in re.finditer(source, folded)] == case_insensitive, source
        assert bool(re.fullmatch(source, "\u03c3")) == bool(re.fullmatch(source, "\u03c2"))  # Σ folds to either


def test_the_module_refuses_literals_that_would_not_fold() -> None:
    assert regex_forms._PARSER is not None
    parser, constants = regex_forms._PARSER

    def foldable(source: str) -> bool:
        return regex_forms._foldable(parser.parse(source).data, constants)

    assert foldable("(?<!if\\s)\\bi\\s+[^\\W\\d]\\w*[“”]w[äa]hle|wei[ßs]|选择")
    assert not foldable("I will")  # upper case: never in the folded text
    assert not foldable("[a-z]|\u212a")  # Kelvin sign: folds to k
    assert not foldable("[\u0100-\u0200]")  # holds U+0130 and U+017F
    assert not foldable("\u03c3")  # sigma: re.IGNORECASE also matches final sigma, which folds to itself
    assert not foldable("\u00c4")
    assert not foldable("(?P<a>x)(?P=a)")  # anything unexpected


def test_the_unfolded_forms_read_exactly_as_the_full_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the folded forms cannot be used, the re.IGNORECASE forms are, with the same gates and checks."""
    monkeypatch.setattr(fast, "_FOLDED", False)
    for item in labelled_items():
        text = str(item["rationale"])
        for variant in (text, text.upper()):
            assert_reads_as_reference(variant, ActionSpace(item["actions"]))  # type: ignore[arg-type]
    for text in CASE_EXAMPLES:
        assert_reads_as_reference(text, SPACES[0])


@pytest.mark.skipif(sys.maxunicode < 0x10FFFF, reason="narrow build")
def test_case_folding_table_covers_every_code_point() -> None:
    """Every character that re.IGNORECASE matches to an ASCII letter folds to that letter in the gate's text."""
    letter = re.compile("[a-z]", re.IGNORECASE)
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue
        ch = chr(code)
        if letter.fullmatch(ch):
            folded = fast._fold(ch)
            assert len(folded) == 1, hex(code)
            assert "a" <= folded <= "z", hex(code)
            assert re.fullmatch(folded, ch, re.IGNORECASE), hex(code)


def _reference_mentions(space: ActionSpace, text: str) -> list[tuple[str, int, int]]:
    """ActionSpace.find_mentions as it was before the speed-ups (the frozen reader relies on the current one)."""
    keys = sorted({normalise_key(n) for n in space.names}, key=len, reverse=True)
    parts = ["[\\s_\\-]+".join(re.escape(piece) for piece in key.split("_")) for key in keys]
    pattern = re.compile(r"(?<![\w\-])(" + "|".join(parts) + r")(?![\w]|-\w)", re.IGNORECASE)
    found = []
    for match in pattern.finditer(text):
        action = space._by_key.get(normalise_key(match.group(1)))
        if action is not None:
            found.append((action, match.start(1), match.end(1)))
    return found


MENTION_SPACES = [
    *SPACES,
    ODD_SPACE,
    ActionSpace(["arm 1", "ARM_10", "Arm-100", "a", "a b", "A-B-C", "b_c", "*star*", "x.y", "skip it", "z"]),
]
SPELLINGS = [
    case(piece)
    for name in ("arm 1", "arm_10", "arm-100", "a b", "a-b-c", "b c", "*star*", "x.y", "search docs", "café", "straße")
    for piece in (name, name.replace(" ", "  "), name.replace("-", " "), name.replace("_", "-"))
    for case in CASES
] + [  # names spelt with the characters that fold specially: found as re.IGNORECASE finds them, or not
    "s\u212aip it",
    "\u017fkip \u0130T",
    "skip \u0131t",
    "SKIP-\u0130T",
    "\u017ftar",
    "*\u017ftar*",
    "Z",
]


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.sampled_from(SPELLINGS), st.sampled_from(NAMES), st.sampled_from(PUNCT + ODD), st.text(max_size=3)
        ),
        max_size=20,
    ).map(lambda parts: "".join(parts) if len(parts) % 2 else " ".join(parts)),
    space=st.sampled_from(MENTION_SPACES),
)
@example(text=" / ".join(SPELLINGS[-7:]), space=MENTION_SPACES[-1])
def test_mentions_are_found_as_before(text: str, space: ActionSpace) -> None:
    want = _reference_mentions(space, text)
    assert [(m.action, m.start, m.end) for m in space.find_mentions(text)] == want
    assert [(m.action, m.start, m.end) for m in space.find_mentions(text)] == want  # again, from the cache


def test_mentions_use_the_folded_pattern_only_for_ascii_names() -> None:
    assert MENTION_SPACES[-1]._folded_mention_pattern is not None
    assert ODD_SPACE._folded_mention_pattern is None


OLD_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=".!?\n \t\u3000\u2029\x1cax" + SLOT, max_size=30))
def test_sentence_bounds_are_as_before(text: str) -> None:
    for position in range(len(text) + 1):
        start = 0
        for match in OLD_SENTENCE_END.finditer(text, 0, position):
            start = match.end()
        end_match = OLD_SENTENCE_END.search(text, position)
        assert fast._sentence_start(text, position) == start, (text, position)
        assert fast._sentence_end(text, position) == (end_match.end() if end_match else len(text)), (text, position)


@settings(max_examples=300, deadline=None)
@given(text=st.one_of(st.text(max_size=200), TEXTS, CASED_TEXTS))
@example(text="a" * 40 + "z" + "b" * 10)  # a run over _LONG_RUN letters, split if any letter were left out
@example(text="I will p\u0131ck the be\u017ft, \u212aeep \u0130t")
@example(text="don’t pick it, isn't it, 'quoted', ~tilde~, 选择 and wähle ich, \ud800, step 12, a\ue000b, call(x)")
def test_factors_are_those_of_the_letter_runs(text: str) -> None:
    """The factor mask is that of each run of a-z, apostrophes, parentheses, _DIGIT and _OTHER in the folded text,
    with ’ read as ', digits as _DIGIT, the placeholder as a space and every other character that is not ASCII as
    _OTHER (as a findall finds them)."""
    low = fast._fold(text).replace("’", "'").replace(fast._OTHER, " ").replace(fast._DIGIT, "1").replace(SLOT, " ")
    low = re.sub("[0-9]", fast._DIGIT, re.sub(r"[^\x00-\x7f]", fast._OTHER, low))
    want = 0
    for run in set(re.findall("[a-z'~0()]+", low)):
        if len(run) > fast._LONG_RUN:
            want |= fast._ALL_FACTORS
        else:
            want |= sum(bit for factor, bit in fast._FACTOR_BITS.items() if factor in run)
    assert fast._present(text) == want


def test_lone_surrogates_do_not_break_the_reader() -> None:
    text = "so I choose blue \ud800 and not red\udfff."
    assert fast._present(text) == fast._present(text.replace("\ud800", "\u00e9").replace("\udfff", "\u00e9"))
    assert_reads_as_reference(text, SPACES[0])
