"""Match-preserving rewrites of sre parse trees, used by the rationale reader's scans (:mod:`guardrail.rationale`).

Nothing here knows about rationales or cues: these functions parse a pattern (``re``'s own parser), and rewrite its
parse tree into forms that sre runs faster but that match exactly where the pattern matches (same spans, same groups),
or, for the backward checks, into a reversed prefix that matches wherever the pattern's prefix does (and maybe more).
Each section says why its rewrite cannot change a match; the tests (tests/test_rationale_forms.py,
tests/test_rationale_factoring.py, tests/test_rationale_checks.py, tests/test_rationale_equivalence.py) compare the
forms with the patterns they come from.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from guardrail.actions import _fold

# Parsing. The patterns are parsed by re's own parser (re._parser, or sre_parse before Python 3.11); without one,
# every function here leaves its pattern alone.


def _parser_modules() -> tuple[Any, Any] | None:
    for parser, constants in (("re._parser", "re._constants"), ("sre_parse", "sre_constants")):
        try:
            return importlib.import_module(parser), importlib.import_module(constants)
        except ImportError:  # pragma: no cover - depends on the Python version
            continue
    return None  # pragma: no cover


_PARSER: Final = _parser_modules()


class _Form(NamedTuple):
    """A pattern not compiled: what the parse-tree rewrites read of one (compiling is the costly part)."""

    pattern: str
    flags: int
    groupindex: Mapping[str, int]


_Source = re.Pattern[str] | _Form  # a compiled pattern, or one to compile
_PARSED: dict[tuple[str, int], Any] = {}  # pattern source -> its parse tree (re.IGNORECASE does not change it)


def _parsed(pattern: _Source) -> Sequence[tuple[Any, Any]]:
    """The parsed top-level sequence of ``pattern``; only called when there is a parser."""
    assert _PARSER is not None
    key = (pattern.pattern, pattern.flags & re.VERBOSE)
    tree = _PARSED.get(key)
    if tree is None:
        tree = _PARSED[key] = _PARSER[0].parse(*key)
    return tree.data  # type: ignore[no-any-return]


# First characters. A match can only start at one of the characters that its first consuming item matches, so a
# look-ahead for them (``_fail_fast``) changes no match.


def _first_chars(items: Sequence[tuple[Any, Any]], constants: Any) -> tuple[frozenset[str] | None, bool]:
    """The characters a match of a parsed sequence can start with (None: any), and whether it can be empty."""
    c = constants
    repeats = tuple(getattr(c, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(c, name))
    zero_width = tuple(getattr(c, name) for name in ("AT", "ASSERT", "ASSERT_NOT") if hasattr(c, name))
    chars: set[str] = set()
    for op, av in items:
        if op in zero_width:  # consumes nothing: the next element starts the match
            continue
        if op is c.LITERAL:
            chars.add(chr(av))
            return frozenset(chars), False
        if op is c.IN:
            if not all(o is c.LITERAL for o, _ in av):
                return None, False
            chars.update(chr(v) for _, v in av)
            return frozenset(chars), False
        if op is c.SUBPATTERN:
            first, empty = _first_chars(av[3].data, c)
        elif op in repeats:
            first, empty = _first_chars(av[2].data, c)
            empty = empty or av[0] == 0
        elif op is c.BRANCH:
            first, empty = frozenset(), False
            for alternative in av[1]:
                alternative_first, alternative_empty = _first_chars(alternative.data, c)
                if alternative_first is None:
                    return None, False
                first, empty = first | alternative_first, empty or alternative_empty
        else:
            return None, False
        if first is None:
            return None, False
        chars.update(first)
        if not empty:
            return frozenset(chars), False
    return frozenset(chars), True


def _fail_fast(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """``pattern`` behind a look-ahead for its possible first characters, when that lets most positions fail at once.

    A match can only start at such a character, so the look-ahead changes no match; it spares the engine trying
    every alternative (and the look-behinds of ``_NOT_HYPOTHETICAL``) at every position. Patterns that start with
    the placeholder already have a literal prefix that the engine searches for, and are left as they are.
    """
    head = _fail_fast_head(pattern)
    if head is None:
        return pattern
    return re.compile(f"(?=[{''.join(map(re.escape, head))}])(?:{pattern.pattern})", pattern.flags)


def _fail_fast_head(pattern: _Source) -> str | None:
    """The characters of ``_fail_fast``'s look-ahead for ``pattern``, in order, or None where it adds none."""
    if _PARSER is None:  # pragma: no cover
        return None
    try:
        first, empty = _first_chars(_parsed(pattern), _PARSER[1])
    except Exception:  # pragma: no cover - an unexpected parse tree: leave the pattern alone
        return None
    if first is None or empty or not first or all(ch.lower() == ch.upper() for ch in first):
        return None
    return "".join(sorted(first))


# Reversal, for backward checks. The reversed prefix of a pattern (up to the group it stops at) matches the reversed
# text wherever the pattern matches the text: look-behinds become look-aheads and fixed-width look-aheads look-behinds,
# and anything that cannot be reversed (an anchor without a mirror image, a look-ahead of variable width) is dropped,
# which only lets the check find more. So where the check finds nothing, the pattern finds nothing.


class _Irreversible(Exception):
    """A construct the reversal does not handle: that pattern gets no backward check."""


def _reversed_source(items: Sequence[tuple[Any, Any]], constants: Any) -> str:
    """Source of a regex matching the reverse of every string that the parsed sequence matches (and maybe more)."""
    return "".join(_reversed_item(op, av, constants) for op, av in reversed(items))


def _leaf_source(op: Any, av: Any, constants: Any) -> str | None:
    """The source of a one-character item (the same read forwards or backwards), or None for anything else."""
    c = constants
    if op is c.LITERAL:
        return re.escape(chr(av))
    if op is c.NOT_LITERAL:
        return f"[^{re.escape(chr(av))}]"
    if op is c.ANY:
        return "."
    if op is c.IN:
        return _class_source(av, c)
    return None


def _repeat_source(op: Any, av: Any, body: str, constants: Any) -> str:
    """The source of a repeat of ``av``'s item, whose own source is ``body``."""
    c = constants
    low, high, sub = av
    if not (len(sub.data) == 1 and sub.data[0][0] in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN)):
        body = f"(?:{body})"
    bounds = f"{{{low},}}" if high == c.MAXREPEAT else f"{{{low},{high}}}"
    return body + bounds + ("?" if op is c.MIN_REPEAT else "")


def _reversed_item(op: Any, av: Any, constants: Any) -> str:
    c = constants
    leaf = _leaf_source(op, av, c)
    if leaf is not None:
        return leaf
    if op is c.SUBPATTERN:
        _, add_flags, del_flags, sub = av
        if add_flags or del_flags:
            raise _Irreversible(op)
        return f"(?:{_reversed_source(sub.data, c)})"
    if op is c.BRANCH:
        return "(?:" + "|".join(_reversed_source(alternative.data, c) for alternative in av[1]) + ")"
    if op is c.MAX_REPEAT or op is c.MIN_REPEAT:
        return _repeat_source(op, av, _reversed_source(av[2].data, c), c)
    if op is c.AT:
        mirrored = {
            c.AT_BEGINNING: "$",  # the patterns are multi-line (checked by _backward): line start and end swap
            c.AT_END: "^",
            c.AT_BEGINNING_STRING: r"\Z",
            c.AT_END_STRING: r"\A",
            c.AT_BOUNDARY: r"\b",
            c.AT_NON_BOUNDARY: r"\B",
        }
        return mirrored.get(av, "")  # an anchor without a mirror image is dropped: the check finds more
    if op is c.ASSERT or op is c.ASSERT_NOT:
        direction, sub = av
        low, high = sub.getwidth()
        if direction > 0 and low != high:
            return ""  # a look-ahead of variable width cannot become a look-behind: dropped, the check finds more
        kind = "=" if op is c.ASSERT else "!"
        return f"({'?' if direction < 0 else '?<'}{kind}{_reversed_source(sub.data, c)})"
    raise _Irreversible(op)


def _class_source(items: Sequence[tuple[Any, Any]], constants: Any) -> str:
    c = constants
    categories = {
        c.CATEGORY_DIGIT: r"\d",
        c.CATEGORY_NOT_DIGIT: r"\D",
        c.CATEGORY_SPACE: r"\s",
        c.CATEGORY_NOT_SPACE: r"\S",
        c.CATEGORY_WORD: r"\w",
        c.CATEGORY_NOT_WORD: r"\W",
    }
    parts: list[str] = []
    for op, av in items:
        if op is c.NEGATE:
            parts.append("^")
        elif op is c.LITERAL:
            parts.append(re.escape(chr(av)))
        elif op is c.RANGE:
            parts.append(f"{re.escape(chr(av[0]))}-{re.escape(chr(av[1]))}")
        elif op is c.CATEGORY and av in categories:
            parts.append(categories[av])
        else:
            raise _Irreversible(op)
    return f"[{''.join(parts)}]"


def _backward_source(pattern: _Source, name: str) -> str | None:
    """The source of the backward check of ``pattern``: its prefix up to and including the top-level group ``name``,
    reversed; or None."""
    if _PARSER is None or name not in pattern.groupindex or not pattern.flags & re.MULTILINE:
        return None
    c = _PARSER[1]
    items = _parsed(pattern)
    group = pattern.groupindex[name]
    end = next((i for i, (op, av) in enumerate(items) if op is c.SUBPATTERN and av[0] == group), None)
    if end is None or all(op in (c.AT, c.ASSERT, c.ASSERT_NOT) for op, _ in items[:end]):
        return None  # the group is nested (not handled), or the pattern starts with it: nothing to gain
    try:
        return _reversed_source(items[: end + 1], c)
    except _Irreversible:
        return None


# Literal-first forward forms. sre finds where a match may start fast when a pattern starts with a literal, a class, or
# alternatives that each start with one (it scans for those characters in C), and skips an alternative that starts
# with a literal on its first character; a pattern that starts with look-behinds or ``\b`` gets neither: every
# position runs the whole prefix, and each alternative after ``\b`` is entered. So the forward form moves the
# zero-width items in front of the first character behind it: ``Z c R`` becomes ``c (?<=Z c) R`` (at the position
# after ``c``, the look-behind, one character wide, checks ``Z`` and ``c`` exactly where they were checked before),
# ``Z (?:A|B) R`` becomes ``(?:Z A|Z B) R``, and an alternative that itself starts with alternatives, ``(?:a|b)T``,
# becomes ``aT|bT`` when ``T`` holds no group. Each step keeps the order in which sre tries the alternatives, so
# every match is the same match, groups included (tests/test_rationale_forms.py compares them). Patterns that start
# otherwise (a repeat, the placeholder) keep ``_fail_fast`` or their own literal prefix.


class _Seq(NamedTuple):
    """A parsed sequence built here (the parser's own has the same ``data``)."""

    data: list[tuple[Any, Any]]


def _source(items: Sequence[tuple[Any, Any]], constants: Any, names: dict[int, str]) -> str:
    """Source of a regex for the parsed sequence (groups by their names): the inverse of parsing."""
    return "".join(_item_source(op, av, constants, names) for op, av in items)


def _item_source(op: Any, av: Any, constants: Any, names: dict[int, str]) -> str:
    c = constants
    leaf = _leaf_source(op, av, c)
    if leaf is not None:
        return leaf
    if op is c.SUBPATTERN:
        group, add_flags, del_flags, sub = av
        if add_flags or del_flags or (group is not None and group not in names):
            raise _Irreversible(op)
        opening = "(?:" if group is None else f"(?P<{names[group]}>"
        return f"{opening}{_source(sub.data, c, names)})"
    if op is c.BRANCH:
        return "(?:" + "|".join(_source(alternative.data, c, names) for alternative in av[1]) + ")"
    if op is c.MAX_REPEAT or op is c.MIN_REPEAT:
        return _repeat_source(op, av, _source(av[2].data, c, names), c)
    if op is c.AT:
        anchors = {
            c.AT_BEGINNING: "^",
            c.AT_END: "$",
            c.AT_BEGINNING_STRING: r"\A",
            c.AT_END_STRING: r"\Z",
            c.AT_BOUNDARY: r"\b",
            c.AT_NON_BOUNDARY: r"\B",
        }
        if av not in anchors:
            raise _Irreversible(op)
        return anchors[av]
    if op is c.ASSERT or op is c.ASSERT_NOT:
        direction, sub = av
        kind = "=" if op is c.ASSERT else "!"
        return f"({'?' if direction > 0 else '?<'}{kind}{_source(sub.data, c, names)})"
    raise _Irreversible(op)


def _has_group(items: Sequence[tuple[Any, Any]], constants: Any) -> bool:
    c = constants
    for op, av in items:
        if op is c.SUBPATTERN and (av[0] is not None or _has_group(av[3].data, c)):
            return True
        if op is c.BRANCH and any(_has_group(alternative.data, c) for alternative in av[1]):
            return True
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, c.ASSERT, c.ASSERT_NOT) and _has_group(av[-1].data, c):
            return True
    return False


def _zero_width(op: Any, av: Any, constants: Any) -> bool:
    """An anchor, a look-around, or alternatives of those: a test of the position that consumes nothing."""
    c = constants
    if op is c.AT or op is c.ASSERT or op is c.ASSERT_NOT:
        return True
    return op is c.BRANCH and all(all(_zero_width(o, a, c) for o, a in alt.data) for alt in av[1])


def _hoisted(
    items: Sequence[tuple[Any, Any]], constants: Any, zero: Sequence[tuple[Any, Any]] = ()
) -> list[tuple[Any, Any]] | None:
    """``zero`` (zero-width items) then ``items``, rewritten to start with a literal or class, or with alternatives
    that each start with one; None when the first consuming item is anything else (a repeat, say)."""
    c = constants
    items = list(items)
    zero = list(zero)
    while items and _zero_width(*items[0], c):
        if _has_group([items[0]], c):
            return None
        zero.append(items.pop(0))
    if not items:
        return None
    (op, av), rest = items[0], items[1:]
    if op is c.LITERAL or op is c.IN:
        # Tests of one position commute: the anchors (\b, one comparison) go before the look-behinds.
        zero.sort(key=lambda item: item[0] is not c.AT)
        return [(op, av), (c.ASSERT, (-1, _Seq([*zero, (op, av)]))), *rest] if zero else items
    if op is c.SUBPATTERN and av[0] is None and not av[1] and not av[2]:
        return _hoisted(list(av[3].data) + rest, c, zero)
    if op is not c.BRANCH:
        return None
    alternatives: list[_Seq] = []
    for alternative in av[1]:
        new = _hoisted(alternative.data, c, zero)
        if new is None:
            return None
        first, tail = new[0], new[1:]
        if first[0] is c.BRANCH:  # (?:a|b)T: aT|bT, if T holds no group (a group cannot be written twice)
            if _has_group(tail, c):
                return None
            alternatives.extend(_Seq([*inner.data, *tail]) for inner in first[1][1])
        else:
            alternatives.append(_Seq(new))
    return [(c.BRANCH, (None, alternatives)), *rest]


def _literal_first(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    """``pattern`` rewritten to start with a literal or class (see above), or None where that is not possible."""
    items = _literal_first_items(pattern)
    if items is None:
        return None
    try:
        return _compiled(items, pattern.flags, pattern.groupindex, factor=False)
    except (_Irreversible, re.error):  # pragma: no cover - an unexpected parse tree: leave the pattern alone
        return None


def _literal_first_items(pattern: _Source) -> list[tuple[Any, Any]] | None:
    """The parse tree of ``_literal_first(pattern)``, or None."""
    if _PARSER is None:  # pragma: no cover
        return None
    try:
        items = _hoisted(_parsed(pattern), _PARSER[1])
    except _Irreversible:  # pragma: no cover - an unexpected parse tree: leave the pattern alone
        return None
    return None if items is None or list(items) == list(_parsed(pattern)) else items


def _compiled(
    items: Sequence[tuple[Any, Any]], flags: int, groups: Mapping[str, int], *, factor: bool = True
) -> re.Pattern[str]:
    """A parse tree compiled with these flags and group names (name -> number), factored first (see below) if asked."""
    assert _PARSER is not None
    c = _PARSER[1]
    if factor:
        items = _factor_items(items, c, not flags & re.IGNORECASE)
    return re.compile(_source(items, c, {number: name for name, number in groups.items()}), flags)


# Factored forms. sre tries the alternatives of a branch one by one; it skips one that starts with a literal after
# comparing one character, but enters every other, and a bounded repeat of a sequence (``(?:just\s+){0,2}``) runs
# through its general repeat machinery. Two rewrites of the parse tree spare that work and keep every match (span and
# groups; tests/test_rationale_factoring.py compares them):
# * Alternatives that start with the same literal are merged behind it: ``ca|x|cb`` becomes ``c(?:a|b)|x``. Matching
#   ``c`` leaves no choice, so ``c(?:a|b)`` tries what ``ca|cb`` tries, in the same order; and moving ``cb`` before
#   ``x`` changes nothing, as both start with a literal and no text position can match two different ones. An
#   alternative that does not start with a literal (a class, a repeat, a look-around, nothing) is a barrier that no
#   alternative is moved across. Only without re.IGNORECASE (the folded forms), where a literal is one character.
# * A repeat of at most two copies, ``X{0,2}``, is unrolled into nested alternatives ``(?:X(?:X|)|)`` (lazy:
#   ``(?:|X(?:|X))``): the same attempts in the same order, one more copy or stopping, as sre's repeat makes them.
#   Only for a body that holds no group and cannot match empty (where sre's repeat stops early).

_UNROLLED: Final = 2  # the largest repeat count unrolled


def _factor_items(items: Sequence[tuple[Any, Any]], constants: Any, cased: bool) -> list[tuple[Any, Any]]:
    c = constants
    out: list[tuple[Any, Any]] = []
    for op, av in items:
        if op is c.SUBPATTERN:
            out.append((op, (av[0], av[1], av[2], _Seq(_factor_items(av[3].data, c, cased)))))
        elif op is c.ASSERT or op is c.ASSERT_NOT:
            out.append((op, (av[0], _Seq(_factor_items(av[1].data, c, cased)))))
        elif op is c.BRANCH:
            alternatives = [_factor_items(alternative.data, c, cased) for alternative in av[1]]
            merged = _merged(alternatives, c) if cased else alternatives
            out.append((op, (None, [_Seq(alternative) for alternative in merged])))
        elif op is c.MAX_REPEAT or op is c.MIN_REPEAT:
            low, high, sub = av
            body = _factor_items(sub.data, c, cased)
            single = len(body) == 1 and body[0][0] in (c.LITERAL, c.NOT_LITERAL, c.ANY, c.IN)
            if single or high > _UNROLLED or _has_group(body, c) or sub.getwidth()[0] == 0:
                out.append((op, (low, high, _Seq(body))))
                continue
            out.extend(body * low)
            optional: list[tuple[Any, Any]] = []
            for _ in range(high - low):
                more, stop = _Seq([*body, *optional]), _Seq([])
                optional = [(c.BRANCH, (None, [more, stop] if op is c.MAX_REPEAT else [stop, more]))]
            out.extend(optional)
        else:
            out.append((op, av))
    return out


def _merged(alternatives: list[list[tuple[Any, Any]]], constants: Any) -> list[list[tuple[Any, Any]]]:
    """Alternatives (parsed sequences) with those that start with the same literal merged behind it (see above)."""
    c = constants
    groups: list[tuple[int | None, list[list[tuple[Any, Any]]]]] = []  # (first literal or None: a barrier, members)
    for alternative in alternatives:
        first = alternative[0][1] if alternative and alternative[0][0] is c.LITERAL else None
        group = None
        if first is not None:
            for literal, members in reversed(groups):
                if literal is None:
                    break
                if literal == first:
                    group = members
                    break
        if group is None:
            groups.append((first, [alternative]))
        else:
            group.append(alternative)
    out: list[list[tuple[Any, Any]]] = []
    for literal, members in groups:
        if literal is None or len(members) == 1:
            out.append(members[0])
            continue
        rests = _merged([member[1:] for member in members], c)
        tail = rests[0] if len(rests) == 1 else [(c.BRANCH, (None, [_Seq(rest) for rest in rests]))]
        out.append([(c.LITERAL, literal), *tail])
    return out


def _factored(pattern: _Source, items: Sequence[tuple[Any, Any]] | None = None) -> re.Pattern[str]:
    """``pattern`` (or the parse tree ``items``, with its flags and group names) with its branches merged and its
    small repeats unrolled (see above), compiled; ``pattern`` as it is if that fails."""
    try:
        if _PARSER is not None:
            return _compiled(_parsed(pattern) if items is None else items, pattern.flags, pattern.groupindex)
    except (_Irreversible, re.error):  # pragma: no cover - an unexpected parse tree: leave the pattern alone
        pass
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern.pattern, pattern.flags)


# Foldability. Folding (``guardrail.actions._fold``: four special characters replaced, then lower-casing) maps a text
# character for character, keeps \w, \s, \d and line breaks as they are, and sends every character that re.IGNORECASE
# matches to a literal onto that literal, for the literals that ``_foldable_literal`` accepts. A pattern made only of
# those (``_foldable``), compiled without re.IGNORECASE, matches the folded text exactly where it matches the text
# with it.


def _case_partners() -> frozenset[str] | None:
    """The characters that re.IGNORECASE matches to more than their case pair (s and ſ, σ and ς, ...), if known."""
    for module, name in (("re._casefix", "_EXTRA_CASES"), ("sre_compile", "_ignorecase_fixes")):
        try:
            table = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):  # pragma: no cover - depends on the Python version
            continue
        return frozenset(chr(code) for code in table)
    return None  # pragma: no cover


_CASE_PARTNERS: Final = _case_partners()


def _foldable_literal(code: int) -> bool:
    """Whether re.IGNORECASE matches a character to this literal exactly when the character folds to it."""
    ch = chr(code)
    if _fold(ch) != ch:
        return False  # upper case, or one of the special characters: the folded text never holds it
    if ch.isascii():
        return True  # its other case partners (ı, ſ) fold to it
    if _CASE_PARTNERS is None:
        return ch.upper() == ch  # no case at all
    return ch not in _CASE_PARTNERS


def _foldable(items: Sequence[tuple[Any, Any]], constants: Any) -> bool:
    """Whether a parsed pattern, without re.IGNORECASE, matches folded text as it matches the text with it."""
    c = constants
    for op, av in items:
        if op is c.LITERAL or op is c.NOT_LITERAL:
            ranges = [(av, av)]
        elif op is c.IN:  # and categories, which folding keeps
            ranges = [(v, v) if o is c.LITERAL else v for o, v in av if o is c.LITERAL or o is c.RANGE]
        elif op is c.SUBPATTERN:
            if not _foldable(av[3].data, c):
                return False
            continue
        elif op is c.BRANCH:
            if not all(_foldable(alternative.data, c) for alternative in av[1]):
                return False
            continue
        elif op in (c.MAX_REPEAT, c.MIN_REPEAT, c.ASSERT, c.ASSERT_NOT):
            if not _foldable(av[-1].data, c):
                return False
            continue
        elif op is c.AT or op is c.ANY:  # they look at \w and line breaks only, which folding keeps
            continue
        else:
            return False  # not expected in these patterns: claim nothing
        for low, high in ranges:
            if high - low > 1000 or not all(_foldable_literal(code) for code in range(low, high + 1)):
                return False
    return True
