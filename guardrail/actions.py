"""ActionSpace: the finite set of legal actions, and how free text maps onto it."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

from guardrail.exceptions import ConfigurationError

__all__ = ["ActionSpace", "Mention", "Token", "name_parts", "normalise_key", "stem", "tokenize"]

_SEPARATORS = re.compile(r"[\s_\-]+")
# Characters a model wraps an action in: markdown emphasis, quotes, brackets, trailing punctuation.
_WRAPPERS = "*_`'\"“”‘’«»()[]{}<>.,;:!?~ \t\r\n"
# Labels a model puts in front of the action itself ("Action: red", "ACTION=red", "final answer - red").
_LABEL = re.compile(
    r"^\s*(?:\*\*|__)?\s*(?:final\s+)?(?:action|answer|choice|decision|tool|button|arm|move)"
    r"(?:\s*\(.*?\))?\s*(?:\*\*|__)?\s*[:=\-]\s*",
    re.IGNORECASE,
)


_SPELLINGS_CACHE_SIZE = 4096  # distinct spellings remembered by resolve() per action space

# The parts of a name or a text: runs of digits (decimals kept whole, so "1.23" is not "1") or of letters; a run that
# mixes cases is then cut at its camel-case humps ("HTTPServer" is http, server). No branch backtracks.
_RUN = re.compile(r"\d+(?:\.\d+)*|[^\W\d_]+")
_HUMP = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[^\W\d_]+")
# What may stand between two parts of one name: nothing (camelCase, arm1), one or two spaces, or an identifier
# separator (snake_case, kebab-case, dotted, MCP's server__tool, paths, Rust-style ::).
_JOINER = re.compile(r"[ \t]{0,2}|[_\-./]{1,2}|::|, ?")
_TIGHT = re.compile(r"[_\-./]{0,2}|::")  # a joiner that glues two parts into one identifier
_OPENERS = "`'\"*[(#“‘"
# Names that are also everyday words, letters or numbers ("up", "A", "3") count as mentions only in context.
_COMMON_WORDS = frozenset(
    "a i o x an the it is be do go up down left right yes no none all any one two next back stop wait "
    "done end ok more less same other this that first last top bottom middle center centre".split()
)
_CONTEXT_WORDS = frozenset(
    "arm arms button option choice door cell square slot lever box position spot number machine tool "
    "action move card column row tile corner side pick picking choose choosing chose select selecting "
    "play playing press pressing pull pulling take taking try trying go going move moving head heading "
    "turn mark place put with for on at in to index than avoid not is be block blocking swipe swiping tap tapping "
    "scroll scrolling slide sliding".split()
)


def normalise_key(text: str) -> str:
    """The comparison key of an action name: NFKC, case-folded, separators folded to one ``_``."""
    return _SEPARATORS.sub("_", unicodedata.normalize("NFKC", text).strip().casefold()).strip("_")


@functools.lru_cache(maxsize=1 << 14)
def name_parts(text: str) -> tuple[str, ...]:
    """The lower-cased parts of a name: ``billing.get_customer``, ``BillingGetCustomer`` and ``billing get customer``
    all give ``("billing", "get", "customer")``; ``arm_1`` and ``Arm 1`` give ``("arm", "1")``."""
    return tuple(token.word for token in tokenize(unicodedata.normalize("NFKC", text)))


class Token(NamedTuple):
    """One part of a text (see :func:`name_parts`): ``text[start:end]``, lower-cased in ``word``."""

    word: str
    start: int
    end: int


_token = functools.partial(tuple.__new__, Token)  # Token(word, start, end) without the Python-level __new__


def tokenize(text: str) -> list[Token]:
    """The parts of ``text`` with their offsets, in order (linear time)."""
    tokens = []
    for run in _RUN.finditer(text):
        word = run.group()
        if word.islower() or word.isupper() or word.istitle() or word.isdigit() or "." in word:
            tokens.append(_token((word.lower(), *run.span())))
        else:  # camelCase, HTTPServer, McDonald: one token per hump
            start, humps = run.start(), _HUMP.finditer(word)
            tokens += [_token((hump.group().lower(), start + hump.start(), start + hump.end())) for hump in humps]
    return tokens


@functools.lru_cache(maxsize=1 << 16)
def stem(word: str) -> str:
    """A crude, stable stem: plurals, -ing/-ed/-er endings and a final e off ("updates", "updated" -> "updat")."""
    for _ in range(2):  # "filtered" -> "filter" -> "filt", as "filter" -> "filt"
        stripped = _strip_suffix(word)
        if stripped == word:
            break
        word = stripped
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


def _strip_suffix(word: str) -> str:
    if len(word) > 4 and word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith(("sses", "ches", "shes", "xes", "zes")):
        return word[:-2]
    if (len(word) > 5 and word.endswith("ing")) or (len(word) > 4 and word.endswith("ed")):
        word = word[:-3] if word.endswith("ing") else word[:-2]
        return word[:-1] if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz" else word
    if len(word) > 5 and word.endswith("er"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class Mention:
    """One place an action is named in a text: ``text[start:end]`` names ``action``."""

    action: str
    start: int
    end: int


class ActionSpace:
    """The legal actions of an agent, with the spellings that resolve to each and what each one does.

    >>> space = ActionSpace(["red", "green", "blue"])
    >>> space.resolve("Action: **Red**.")
    'red'
    >>> ActionSpace(["arm_1", "arm_10"], aliases={"1": "arm_1", "10": "arm_10"}).resolve("10")
    'arm_10'
    >>> [m.action for m in ActionSpace(["git_log", "CreateTicket"]).find_mentions("run git log, then createTicket")]
    ['git_log', 'CreateTicket']

    Matching ignores case, surrounding whitespace, quotes, brackets, markdown and punctuation, and reads a name in
    any of its spellings: ``arm 1`` is ``arm_1``, ``createTicket`` is ``CreateTicket``, ``billing get customer`` is
    ``billing.get_customer``. Aliases apply only where declared, in the action field and in the rationale alike.
    ``descriptions`` (action -> one line saying what it does) let the rationale reader ground a phrase such as
    "pull up the billing record" to the tool that does it; adapters fill them from tool descriptions.
    ``schemas`` (action -> the JSON schema of its arguments) let a correction check that a tool call it would emit
    has the arguments its tool needs (see :mod:`guardrail.arguments`); adapters fill them from the tools. They do
    not change how names or rationales are read, so they take no part in equality.
    """

    __slots__ = ("__dict__", "_aliases", "_by_key", "_descriptions", "_names", "_schemas")

    def __init__(
        self,
        actions: Iterable[str],
        *,
        aliases: Mapping[str, str] | None = None,
        descriptions: Mapping[str, str] | None = None,
        schemas: Mapping[str, Mapping[str, Any]] | None = None,
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
        described: dict[str, str] = {}
        for name, description in (descriptions or {}).items():
            if name not in names:
                raise ConfigurationError(f"description given for {name!r}, which is not an action")
            if not isinstance(description, str):
                raise ConfigurationError(f"the description of {name!r} must be a string; got {description!r}")
            if description.strip():
                described[name] = description.strip()
        checked: dict[str, Mapping[str, Any]] = {}
        for name, schema in (schemas or {}).items():
            if name not in names:
                raise ConfigurationError(f"argument schema given for {name!r}, which is not an action")
            if not isinstance(schema, Mapping):
                raise ConfigurationError(
                    f"the argument schema of {name!r} must be a mapping (JSON schema); got {schema!r}"
                )
            if schema:
                checked[name] = schema
        self._names = names
        self._aliases = alias_map
        self._by_key = by_key
        self._descriptions = described
        self._schemas = checked

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
        """Declared descriptions, action -> one line (actions without one are absent)."""
        return dict(self._descriptions)

    @property
    def schemas(self) -> Mapping[str, Mapping[str, Any]]:
        """Declared argument schemas, action -> JSON schema (actions without one are absent)."""
        return dict(self._schemas)

    def with_schemas(self, schemas: Mapping[str, Mapping[str, Any]]) -> ActionSpace:
        """This space with ``schemas`` added to (and replacing) its argument schemas."""
        return ActionSpace(
            self._names, aliases=self._aliases, descriptions=self._descriptions, schemas={**self._schemas, **schemas}
        )

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActionSpace):
            return NotImplemented
        return (self._names, self._aliases, self._descriptions) == (other._names, other._aliases, other._descriptions)

    def __hash__(self) -> int:
        return self._hash

    @cached_property
    def _hash(self) -> int:  # readers key their per-space caches by the space: hash it once
        return hash((self._names, tuple(sorted(self._aliases.items())), tuple(sorted(self._descriptions.items()))))

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
            found = self._by_key.get(normalise_key(candidate)) or self._by_parts.get(name_parts(candidate))
            if found:
                return found
        return None

    @cached_property
    def _by_parts(self) -> dict[tuple[str, ...], str]:
        # name parts -> action ("" where two names share their parts: neither is meant)
        table: dict[tuple[str, ...], str] = {}
        for spelling, action in (*((n, n) for n in self._names), *self._aliases.items()):
            parts = name_parts(spelling)
            if parts:
                table[parts] = action if table.get(parts, action) == action else ""
        return table

    @cached_property
    def _spoken_parts(self) -> dict[tuple[str, ...], str]:
        # the spellings a rationale may use: those of resolve(), and, where all names open alike, the rest alone
        # ("A" for show_banner_A among show_banner_B; "create pull request" for github__create_pull_request among
        # other github__ tools). An answer must still spell the name (resolve() does not take these).
        table = dict(self._by_parts)
        names = [name_parts(name) for name in self._names]
        # how many leading parts every name has alike
        shared = next(
            (k for k, column in enumerate(zip(*names, strict=False)) if len(set(column)) > 1), min(map(len, names))
        )
        if len(names) > 1 and shared and all(len(parts) > shared for parts in names):
            for name, parts in zip(self._names, names, strict=True):
                table.setdefault(parts[shared:], name)
        return table

    @cached_property
    def _trie(self) -> dict[str, Any]:
        # part -> subtree; the key "" holds the action a path spells ("" where two names share it)
        root: dict[str, Any] = {}
        for parts, action in self._spoken_parts.items():
            node = root
            for part in parts:
                node = node.setdefault(stem(part), {})  # "taking 2" names take_2, "getting pods" get_pods
            node[""] = action if node.get("", action) == action else ""
        return root

    def find_mentions(self, text: str, tokens: Sequence[Token] | None = None) -> list[Mention]:
        """Every place ``text`` names an action, by any spelling of its name or a declared alias, in order.

        The longest name wins at each place ("search docs" is ``search_docs``, not ``search``); a name inside a
        longer identifier ("search" in ``search_web``, ``arm_1`` in ``arm_10``) is not a mention, and neither is a
        name that is an everyday word, a letter or a number ("up", "A", "3") without context ("press A", "cell 3",
        "`up`"). ``tokens`` is ``tokenize(text)``, for a caller that has it. Linear in the text.
        """
        tokens = tokenize(text) if tokens is None else tokens
        mentions: list[Mention] = []
        trie = self._trie
        i = 0
        while i < len(tokens):
            found = self._longest_name_at(text, tokens, i) if stem(tokens[i].word) in trie else None
            if found is None:
                i += 1
                continue
            action, last = found
            mentions.append(Mention(action, tokens[i].start, tokens[last].end))
            i = last + 1
        return mentions

    def _longest_name_at(self, text: str, tokens: Sequence[Token], i: int) -> tuple[str, int] | None:
        if stem(tokens[i].word) not in self._trie or (i > 0 and _glued(text, tokens[i - 1], tokens[i])):
            return None  # the middle of an identifier
        node: dict[str, Any] = self._trie
        best: tuple[str, int] | None = None
        for j in range(i, min(len(tokens), i + 12)):  # names have at most a dozen parts
            if j > i and not _JOINER.fullmatch(text, tokens[j - 1].end, tokens[j].start):
                break
            child = node.get(stem(tokens[j].word))
            if child is None:
                break
            node = child
            if node.get("") and (j + 1 == len(tokens) or not _glued(text, tokens[j], tokens[j + 1])):
                best = (node[""], j)
        if best is None or (best[1] == i and _needs_context(tokens[i].word) and not _in_context(text, tokens, i)):
            return None
        return best


def _glued(text: str, left: Token, right: Token) -> bool:
    """Whether two parts belong to one identifier (``search_web``, ``createTicket``, ``arm1``), not two words."""
    if not _TIGHT.fullmatch(text, left.end, right.start):
        return False
    # "done.Next" ends a sentence; "billing.get" does not.
    return not (text[left.end : right.start] == "." and text[right.start].isupper())


def _needs_context(word: str) -> bool:
    return len(word) == 1 or word.isdigit() or word in _COMMON_WORDS


def _in_context(text: str, tokens: Sequence[Token], i: int) -> bool:
    """A weak name ("A", "3", "up") is a mention after a choice word or label ("press A", "cell 3"), in quotes or
    markdown, after "Action:" or "=", or as a capital letter that is not the English "A" or "I"."""
    token = tokens[i]
    before = text[max(0, token.start - 2) : token.start]
    if before and (before[-1] in _OPENERS or before.rstrip().endswith((":", "="))):
        return True
    previous = i - 1
    if previous > 0 and tokens[previous].word in ("the", "a", "an", "my", "our", "this", "that"):
        previous -= 1  # "take the center"
    if previous >= 0 and tokens[previous].word in _CONTEXT_WORDS:
        return True
    original = text[token.start : token.end]
    if len(original) != 1 or not original.isupper():
        return False
    # The English "A" and "I" are followed by a word; the letter as a name ends a clause ("Serve A.", "A, then B").
    return original not in "AI" or text[token.end : token.end + 1] in ("", ".", ",", ";", "!", "?", ")", ":")
