"""The rewritten forms of guardrail.rationale match exactly what the patterns match.

* Literal first: ``_literal_first`` moves the zero-width items in front of a pattern's first character behind it
  (``Z c R`` -> ``c (?<=Z c) R``) and splits leading alternatives, so that sre can search for the first character.
  Every match (span and groups) must be the same, on every scanned pattern and on hand-made patterns that exercise
  each rule, over the labelled rationales and arbitrary texts.
* ``_source`` writes a parse tree back as a regex: parsing it again gives the same tree.
* ``_valid_reading`` builds the same reading as the validating constructor.
"""

from __future__ import annotations

import math
import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrail import _regex_forms as regex_forms
from guardrail import rationale as fast
from guardrail.actions import ActionSpace
from guardrail.rationale import RationaleReading
from tests._rationale_checks import masked_labelled_texts

SLOT = fast._SLOT

# Hand-made patterns for each rule of the rewrite, including ones that must be refused.
RULES = [
    r"(?<!if\s)\bi(?P<a>x)",  # zero-width items before a literal
    r"\b(?:not|n't|never)\s+(?P<a>x)",  # ... distributed into alternatives
    r"(?:^|(?<=[.,]))(?:so|thus)\b\s*(?P<a>x)",  # alternatives of zero-width items are zero-width
    r"(?<!what\s)\b(?:(?:i|we)(?:\s+will)?|let(?:'s|\s+us))\s+(?P<a>x)",  # (?:a|b)T split into aT|bT
    r"(?:(?:ab|a)c|a)(?P<a>x)?",  # priority between alternatives that share a first character (sre factors it)
    r"\b[ab]c*(?P<a>x)",  # a class first
    r"\b(?:a|ab|c)(?P<a>b?)",  # the order of alternatives decides the groups (not factored by the parser)
    r"(?=[ia])(?:\bi|a)(?P<a>x)",  # a look-ahead first
    r"(?:(?P<b>y)|i)(?P<a>x)",  # a group in a leading alternative: its tail cannot be split
    r"(?:i|we)(?P<a>x)",  # ... nor when the group follows: (?:i|we) stays as it is
    r"[ \t]*(?P<a>x)",  # a repeat first: not rewritten
]
ALPHABET = "iwe xabcyltsuo'.,\n" + SLOT


def _regs(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], ...]]:
    return [m.regs for m in pattern.finditer(text)]


def _rewritten(source: str, flags: int = re.MULTILINE) -> tuple[re.Pattern[str], re.Pattern[str] | None]:
    pattern = re.compile(source, flags)
    return pattern, regex_forms._literal_first(pattern)


def test_the_rules_rewrite_what_they_should() -> None:
    outcomes = {source: _rewritten(source)[1] for source in RULES}
    for source in (*RULES[:4], *RULES[5:8]):
        rewritten = outcomes[source]
        assert rewritten is not None, source
        first = rewritten.pattern.lstrip("(?:")[:1]
        assert first.isalpha() or first == "[", (source, rewritten.pattern)  # a literal or a class: searched for
    assert outcomes[RULES[3]] is not None
    assert "(?:i" not in outcomes[RULES[3]].pattern.replace("(?:i(?<=", "")  # (?:i|we) was split
    assert outcomes[RULES[8]] is None
    assert outcomes[RULES[10]] is None
    rewritten = outcomes[RULES[9]]
    assert rewritten is None or "(?:i|we)" in rewritten.pattern


@settings(max_examples=400, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=30), ignorecase=st.booleans())
@example(text="so i will x, if i x. what i x; we x. let's x", ignorecase=False)
@example(text="I x. never x, NOT x. acx ax abcx ab", ignorecase=True)
def test_the_rules_keep_every_match(text: str, ignorecase: bool) -> None:
    flags = re.MULTILINE | (re.IGNORECASE if ignorecase else 0)
    for source in RULES:
        pattern, rewritten = _rewritten(source, flags)
        if rewritten is not None:
            assert _regs(rewritten, text) == _regs(pattern, text), (source, text)
            assert rewritten.groupindex == pattern.groupindex


def _scanned() -> list[re.Pattern[str]]:
    return [*(cue.pattern for cue in fast._POSITIVE_CUES), *fast._NEGATIONS, fast._HISTORY_LINE]


def test_the_cues_that_start_with_a_word_start_with_a_literal() -> None:
    """The rewrite is in use where it pays: the cues behind look-behinds and \\b, the first negation."""
    by_name = {cue.name: cue.pattern for cue in fast._POSITIVE_CUES}
    for name in ("intent", "should", "intent-verb", "worth-to", "label-best", "connective", "foreign", "ucb-says"):
        for folded in (False, True):
            assert regex_forms._literal_first(fast._scan_form(by_name[name], folded)) is not None, name
            scan = fast._scan(by_name[name], folded)
            assert not scan.forward.pattern.startswith("(?="), name  # not the look-ahead fallback
    assert regex_forms._literal_first(fast._NEGATIONS[0]) is not None


def test_literal_first_forms_match_as_the_patterns_on_the_labelled_rationales() -> None:
    texts = masked_labelled_texts(folded=True)
    assert len(texts) > 600
    rewritten = 0
    for pattern in _scanned():
        for folded in (False, True):
            form = fast._scan_form(pattern, folded)
            literal_first = regex_forms._literal_first(form)
            if literal_first is None:
                continue
            rewritten += 1
            assert literal_first.groupindex == form.groupindex
            matched = 0
            for text in texts:
                want = _regs(form, text)
                assert _regs(literal_first, text) == want, (pattern.pattern[:60], text)
                matched += bool(want)
            assert matched or pattern.pattern.startswith(r"(?:\b(?:elijo"), pattern.pattern[:60]
    assert rewritten >= 2 * 12


WORDS = ["i", "I", "we", "let's", "will", "should", "choose", "the", "not", "never", "so", "if", "what", "best"]
TEXTS = st.lists(
    st.one_of(st.sampled_from(WORDS), st.sampled_from([SLOT, ".", ",", "\n", "'", "**"]), st.text(max_size=3)),
    max_size=25,
).map(" ".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS)
def test_literal_first_forms_match_as_the_patterns_on_arbitrary_texts(text: str) -> None:
    for pattern in _scanned():
        for folded, subject in ((False, text), (True, fast._fold(text))):
            form = fast._scan_form(pattern, folded)
            literal_first = regex_forms._literal_first(form)
            if literal_first is not None:
                assert _regs(literal_first, subject) == _regs(form, subject), (pattern.pattern[:60], subject)


def test_source_writes_back_the_parse_tree() -> None:
    assert regex_forms._PARSER is not None
    parser, constants = regex_forms._PARSER
    for pattern in [*_scanned(), *fast._GATED, *(re.compile(source) for source in RULES)]:
        tree = parser.parse(pattern.pattern)
        names = {number: name for name, number in pattern.groupindex.items()}
        source = regex_forms._source(tree.data, constants, names)
        assert str(parser.parse(source).data) == str(tree.data), pattern.pattern[:60]


def test_valid_reading_is_the_reading_the_constructor_builds() -> None:
    for action, confidence, evidence, span in [("a7", 0.9, "so I choose a7", (3, 17)), ("x", 0.0, None, (0, 0))]:
        built = fast._valid_reading(action, confidence, evidence, span)
        want = RationaleReading(action=action, confidence=confidence, evidence=evidence, span=span)
        assert type(built) is RationaleReading
        assert built == want
        assert hash(built) == hash(want)
        assert repr(built) == repr(want)
    reading = fast.LexicalReader()("So I choose blue.", ActionSpace(["blue", "red"]))
    assert reading.action == "blue"
    assert 0.0 <= reading.confidence <= 1.0
    assert not math.isnan(reading.confidence)
