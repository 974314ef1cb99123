"""ActionSpace: the finite set of legal actions, and how free text maps onto it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

from guardrail.exceptions import ConfigurationError

__all__ = ["ActionSpace", "Mention", "normalise_key"]

_SEPARATORS = re.compile(r"[\s_\-]+")
# Characters a model wraps an action in: markdown emphasis, quotes, brackets, trailing punctuation.
_WRAPPERS = "*_`'\"“”‘’«»()[]{}<>.,;:!?~ \t\r\n"
# Labels a model puts in front of the action itself ("Action: red", "ACTION=red", "final answer - red").
_LABEL = re.compile(
    r"^\s*(?:\*\*|__)?\s*(?:final\s+)?(?:action|answer|choice|decision|tool|button|arm|move)"
    r"(?:\s*\(.*?\))?\s*(?:\*\*|__)?\s*[:=\-]\s*",
    re.IGNORECASE,
)


_SPELLINGS_CACHE_SIZE = 4096  # distinct spellings of mentions remembered per action space
# The only characters that re.IGNORECASE matches to an ASCII letter without lower-casing to it (U+0130 also
# lower-cases to two characters); checked over every code point by the tests.
_FOLD = (("\u0130", "i"), ("\u0131", "i"), ("\u017f", "s"), ("\u212a", "k"))


def _fold(text: str) -> str:
    """``text`` with the characters of ``_FOLD`` replaced, then lower-cased: the same length, character for character.

    re.IGNORECASE matches a character to an ASCII letter (and to the other literals of the reader's patterns)
    exactly when the character folds to it; the tests check it over every code point.
    """
    if not text.isascii():
        for special, letter in _FOLD:
            text = text.replace(special, letter)  # str.translate looks every character up: many times slower
    return text.lower()


def _key_pattern(key: str) -> str:
    """A normalised name (or its tail) as a pattern: any run of separators where the name has ``_``."""
    return "[\\s_\\-]+".join(re.escape(piece) for piece in key.split("_"))


def normalise_key(text: str) -> str:
    """The comparison key of an action name: NFKC, case-folded, separators folded to one ``_``."""
    return _SEPARATORS.sub("_", unicodedata.normalize("NFKC", text).strip().casefold()).strip("_")


@dataclass(frozen=True, slots=True)
class Mention:
    """One place an action is named in a text: ``text[start:end]`` names ``action``."""

    action: str
    start: int
    end: int


class ActionSpace:
    """The legal actions of an agent, with the spellings that resolve to each.

    >>> space = ActionSpace(["red", "green", "blue"])
    >>> space.resolve("Action: **Red**.")
    'red'
    >>> ActionSpace(["arm_1", "arm_10"], aliases={"1": "arm_1", "10": "arm_10"}).resolve("10")
    'arm_10'
    >>> ActionSpace(["search_docs"], descriptions={"search_docs": "Search the documentation."}).descriptions
    {'search_docs': 'Search the documentation.'}

    Matching ignores case, surrounding whitespace, quotes, brackets, markdown and punctuation, and treats
    spaces, ``_`` and ``-`` inside a name alike ("arm 1" is "arm_1"). Aliases apply only where declared.
    """

    __slots__ = ("__dict__", "_aliases", "_by_key", "_descriptions", "_names")

    def __init__(
        self,
        actions: Iterable[str],
        *,
        aliases: Mapping[str, str] | None = None,
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        if isinstance(actions, str):
            raise ConfigurationError("ActionSpace takes a sequence of action names, not one string")
        names = tuple(actions)
        if not names:
            raise ConfigurationError("ActionSpace needs at least one action; got an empty sequence")
        by_key: dict[str, str] = {}
        for name in names:
            if not isinstance(name, str):
                raise ConfigurationError(f"action names must be strings; got {name!r}")
            key = normalise_key(name)
            if not key:
                raise ConfigurationError(f"action name {name!r} is empty once whitespace is removed")
            if key in by_key:
                raise ConfigurationError(
                    f"duplicate action: {name!r} and {by_key[key]!r} are the same action once case and "
                    "separators are ignored"
                )
            by_key[key] = name
        alias_map: dict[str, str] = {}
        for alias, target in (aliases or {}).items():
            if target not in names:
                raise ConfigurationError(f"alias {alias!r} points to {target!r}, which is not an action")
            key = normalise_key(alias)
            if not key:
                raise ConfigurationError(f"alias {alias!r} is empty")
            if key in by_key and by_key[key] != target:
                raise ConfigurationError(f"alias {alias!r} collides with action {by_key[key]!r}")
            alias_map[alias] = target
            by_key[key] = target
        description_map: dict[str, str] = {}
        for name, description in (descriptions or {}).items():
            if name not in names:
                raise ConfigurationError(f"description given for {name!r}, which is not an action")
            if not isinstance(description, str):
                raise ConfigurationError(f"the description of {name!r} must be a string; got {description!r}")
            description_map[name] = description
        self._names = names
        self._descriptions = description_map
        self._aliases = alias_map
        self._by_key = by_key

    @classmethod
    def of(cls, actions: ActionSpace | Iterable[str]) -> ActionSpace:
        """Accept either an ActionSpace or a plain sequence of names."""
        return actions if isinstance(actions, ActionSpace) else cls(actions)

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical action names, in the order given."""
        return self._names

    @property
    def aliases(self) -> Mapping[str, str]:
        """Declared aliases, alias -> action."""
        return dict(self._aliases)

    @property
    def descriptions(self) -> Mapping[str, str]:
        """One-line descriptions of the actions that have one, action -> description (empty when none)."""
        return dict(self._descriptions)

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActionSpace):
            return NotImplemented
        return self._names == other._names and self._aliases == other._aliases

    def __hash__(self) -> int:
        return hash((self._names, tuple(sorted(self._aliases.items()))))

    def __repr__(self) -> str:
        return f"ActionSpace({list(self._names)!r})"

    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self._names)}

    def index(self, name: str) -> int:
        """Position of a canonical action name (0-based); raises KeyError for anything else."""
        return self._index[name]

    def resolve(self, text: object) -> str | None:
        """The action that ``text`` names, or None. Never returns a name outside the space."""
        if not isinstance(text, str) or len(text) > 1000:
            return None
        # An agent writes its few spellings of the actions over and over: remember each one's answer.
        resolved = self._resolved
        known = resolved.get(text)
        if known is not None:
            return known or None
        found = self._resolve(text)
        if len(resolved) >= _SPELLINGS_CACHE_SIZE:
            resolved.clear()
        resolved[text] = found or ""
        return found

    @cached_property
    def _resolved(self) -> dict[str, str]:
        # text given to resolve() -> its action, or "" for none (a bounded cache)
        return {}

    def _resolve(self, text: str) -> str | None:
        candidate = text.strip()
        for _ in range(3):  # "**Action:** `red`." needs label and wrapper stripping in turn
            candidate = _LABEL.sub("", candidate).strip(_WRAPPERS)
            found = self._by_key.get(normalise_key(candidate))
            if found is not None:
                return found
        return None

    @cached_property
    def _mention_pattern(self) -> re.Pattern[str]:
        # Longest names first so "search docs" wins over "search" at the same position; the lookarounds stop
        # "arm_1" matching inside "arm_10" or "red" inside "reddish".
        return re.compile(r"(?<![\w\-])(" + "|".join(map(_key_pattern, self._keys)) + r")(?![\w]|-\w)", re.IGNORECASE)

    @cached_property
    def _keys(self) -> list[str]:
        return sorted({normalise_key(n) for n in self._names}, key=len, reverse=True)

    @cached_property
    def _folded_mention_pattern(self) -> re.Pattern[str] | None:
        """The mention pattern for the folded text (see ``_fold``), case-sensitive; None unless every name is ASCII.

        ASCII names, lower-case once normalised, match the folded text exactly where the re.IGNORECASE pattern
        matches the text. They are grouped by first character, in their order within each group, with the
        look-behind after that character (looking at the one before it): only names with the same first character
        can match at the same position, so the same name wins, and the pattern starts with a character set, which
        sre searches for instead of trying the whole pattern at every position.
        """
        if not all(key.isascii() for key in self._keys):
            return None
        groups: dict[str, list[str]] = {}
        for key in self._keys:
            groups.setdefault(key[0], []).append(_key_pattern(key[1:]) if len(key) > 1 else "")
        alternatives = [rf"{re.escape(first)}(?<![\w\-].)(?:{'|'.join(rests)})" for first, rests in groups.items()]
        return re.compile(r"(" + "|".join(alternatives) + r")(?![\w]|-\w)")

    def find_mentions(self, text: str) -> list[Mention]:
        """Every place ``text`` names an action (by its name, not its aliases), in order."""
        return [Mention(action, start, end) for action, start, end in self._mention_spans(text)]

    @cached_property
    def _spellings(self) -> dict[str, str]:
        # matched spelling -> its action, or "" for none: normalise_key is the costly part of finding mentions
        return {}

    def _mention_spans(self, text: str, folded: str | None = None) -> list[tuple[str, int, int]]:
        """``find_mentions`` as ``(action, start, end)`` tuples, for callers that only need the offsets.

        ``folded`` is ``_fold(text)``, for a caller that has it already (it is not folded again).
        """
        pattern = self._folded_mention_pattern
        if pattern is None:
            pattern, scanned = self._mention_pattern, text
        else:
            scanned = _fold(text) if folded is None else folded  # the same offsets as the text
        spans: list[tuple[str, int, int]] = []
        spellings = self._spellings
        for match in pattern.finditer(scanned):
            start, end = match.span(1)
            spelling = text[start:end]
            action = spellings.get(spelling)
            if action is None:
                action = self._by_key.get(normalise_key(spelling), "")
                if len(spellings) >= _SPELLINGS_CACHE_SIZE:
                    spellings.clear()
                spellings[spelling] = action
            if action:
                spans.append((action, start, end))
        return spans
