"""The factored forms of guardrail.rationale match exactly what the patterns match.

``_factored`` merges alternatives that start with the same literal behind it (``ca|x|cb`` -> ``c(?:a|b)|x``, never
across an alternative that does not start with a literal, and only without re.IGNORECASE) and unrolls repeats of at
most two copies of a sequence (``(?:X){0,2}`` -> ``(?:X(?:X|)|)``). Every match (span and groups), found by search or
tried at one position, must be the same: on hand-made patterns that exercise each rule, on every pattern the reader
runs (forward forms, backward checks and the checks after the scans), over the labelled rationales and arbitrary
texts.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from guardrail import _regex_forms as regex_forms
from guardrail import rationale as fast
from tests._rationale_checks import masked_labelled_texts

SLOT = fast._SLOT

RULES = [
    r"ca|x|cb",  # merged behind c; cb moves before x (no position matches both)
    r"ab|x|ac|a",  # nested: a(?:b|c|)|x, in the same order
    r"cz|[cx]y?|cyy",  # a class is a barrier: cyy must not move before [cx]y? (on "cyy" that would change the match)
    r"cz|\s*cy?|cyy",  # so is a repeat
    r"cz|(?=c)cy?|cyy",  # and a look-ahead
    r"cz||cyy",  # and an empty alternative
    r"(?:the\s+){0,2}x",  # unrolled, greedy
    r"(?:the\s+){0,2}?x",  # unrolled, lazy
    r"(?:a|ab){1,2}b",  # at least one copy
    r"(?:ab|a){0,2}?(?:b|)c",  # lazy, with a choice inside
    r"(?P<g>a)(?:b|bc)(?P<h>c)?",  # groups are kept, numbered as before
    r"(?:(?P<g>a)b){0,2}",  # a group inside: not unrolled (it cannot be written twice)
    r"(?:a?){0,2}b",  # a body that can match empty: not unrolled (sre's repeat stops early there)
    r"(?:ab){0,3}",  # more than two copies: left as it is
]
ALPHABET = "abcxyzthe \t\n"


def _regs(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], ...]]:
    return [m.regs for m in pattern.finditer(text)]


def _at_each_position(pattern: re.Pattern[str], text: str) -> list[tuple[tuple[int, int], ...] | None]:
    return [None if (m := pattern.match(text, i)) is None else m.regs for i in range(len(text) + 1)]


def _same(pattern: re.Pattern[str], factored: re.Pattern[str], text: str) -> None:
    assert factored.groupindex == pattern.groupindex
    assert _regs(factored, text) == _regs(pattern, text), (pattern.pattern, factored.pattern, text)
    assert _at_each_position(factored, text) == _at_each_position(pattern, text), (pattern.pattern, text)


def test_the_rules_rewrite_what_they_should() -> None:
    forms = {source: regex_forms._factored(re.compile(source)).pattern for source in RULES}
    assert forms[RULES[0]].startswith("(?:c(?:a|b)|x)")
    assert forms[RULES[1]] == "(?:a(?:b|c|)|x)"
    for barrier in RULES[2:6]:
        assert forms[barrier].count("cyy") == 1, forms[barrier]
        assert forms[barrier].endswith("|cyy)"), forms[barrier]
    assert forms[RULES[6]] == r"(?:the[\s]{1,}(?:the[\s]{1,}|)|)x"  # unrolled
    assert forms[RULES[7]] == r"(?:|the[\s]{1,}(?:|the[\s]{1,}))x"  # lazy: stopping first
    assert "{0,2}" in forms[RULES[11]]
    assert "{0,2}" in forms[RULES[12]]
    assert "{0,3}" in forms[RULES[13]]
    # With re.IGNORECASE a literal matches more than itself: alternatives are not merged.
    assert regex_forms._factored(re.compile(RULES[0], re.IGNORECASE)).pattern == "(?:ca|x|cb)"


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=ALPHABET, max_size=24), ignorecase=st.booleans())
@example(text="cyy cz cb ca x", ignorecase=False)
@example(text="the the the x the x", ignorecase=False)
@example(text="abbc abababc ac c", ignorecase=False)
def test_the_rules_keep_every_match(text: str, ignorecase: bool) -> None:
    flags = re.MULTILINE | (re.IGNORECASE if ignorecase else 0)
    for source in RULES:
        pattern = re.compile(source, flags)
        _same(pattern, regex_forms._factored(pattern), text)
        _same(pattern, regex_forms._factored(pattern), text.upper())


def _run_forms() -> list[tuple[re.Pattern[str], re.Pattern[str], bool]]:
    """(pattern as written, its factored form as the reader runs it, whether it runs over reversed text)."""
    forms = []
    for pattern in [*(cue.pattern for cue in fast._POSITIVE_CUES), *fast._NEGATIONS, fast._HISTORY_LINE]:
        for folded in (False, True):
            scan = fast._scan(pattern, folded)
            form = fast._scan_form(pattern, folded)
            forms.append((form, scan.forward, False))
            if scan.backward is not None:
                backward = fast._backward(form)
                assert backward is not None
                forms.append((backward, scan.backward, True))
    for folded in (False, True):
        for pattern, factored in zip(fast._AFTER_SCANS, fast._after_forms(folded), strict=True):
            forms.append((fast._scan_form(pattern, folded), factored, False))
    return forms


def test_the_forms_the_reader_runs_are_factored() -> None:
    """Merging and unrolling are in use where the patterns are long: the verbs, the adverbs, the articles."""
    forms = _run_forms()
    assert len(forms) > 80
    intent = fast._scan(fast._POSITIVE_CUES[0].pattern, folded=True).forward.pattern
    assert "c(?:hoos" in intent  # choose|choosing|call|click|... merged behind c
    assert "{0,2}" not in intent  # the adverbs and articles unrolled
    assert "c(?:hoos" not in fast._scan(fast._POSITIVE_CUES[0].pattern, folded=False).forward.pattern


def test_factored_forms_match_as_the_patterns_on_the_labelled_rationales() -> None:
    texts = masked_labelled_texts(folded=False)
    assert len(texts) > 400
    matched = 0
    for pattern, factored, backward in _run_forms():
        for text in texts:
            subject = text[::-1] if backward else text
            if not pattern.flags & re.IGNORECASE:
                subject = fast._fold(subject)
            want = _regs(pattern, subject)
            assert _regs(factored, subject) == want, (pattern.pattern[:60], subject)
            matched += bool(want)
    assert matched > 1000
    # The checks after the scans run at one position (or up to one): the same there too.
    for folded in (False, True):
        for text in texts[::7]:
            subject = fast._fold(text) if folded else text
            for pattern, factored in zip(fast._AFTER_SCANS, fast._after_forms(folded), strict=True):
                form = fast._scan_form(pattern, folded)
                assert _at_each_position(factored, subject) == _at_each_position(form, subject), form.pattern[:60]
                for end in range(0, len(subject) + 1, 5):
                    want = form.search(subject, max(0, end - 40), end)
                    got = factored.search(subject, max(0, end - 40), end)
                    assert (got and got.regs) == (want and want.regs), (form.pattern[:60], subject, end)


WORDS = ["i", "I", "we", "will", "should", "choose", "pick", "the", "a", "button", "not", "so", "best", "just", "now"]
TEXTS = st.lists(
    st.one_of(st.sampled_from(WORDS), st.sampled_from([SLOT, ".", ",", "\n", "'", "**", " or "]), st.text(max_size=3)),
    max_size=25,
).map(" ".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS)
def test_factored_forms_match_as_the_patterns_on_arbitrary_texts(text: str) -> None:
    for pattern, factored, backward in _run_forms():
        subject = text[::-1] if backward else text
        if not pattern.flags & re.IGNORECASE:
            subject = fast._fold(subject)
        assert _regs(factored, subject) == _regs(pattern, subject), (pattern.pattern[:60], subject)
