"""Argument checks for what users build (a Guard, policies, detectors): a wrong value is a ConfigurationError
naming it, raised when the object is built rather than at its first step."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from guardrail.actions import ActionSpace
from guardrail.exceptions import ConfigurationError

__all__ = [
    "Fallback",
    "checked_actions",
    "checked_fallback",
    "checked_seed",
    "of_type",
    "require_callable",
    "require_int",
    "require_number",
]

Fallback = Literal["raise", "random"] | str
"""What a step with no legal action does: ``"raise"`` NoLegalActionError, ``"random"`` (the paper's rule: a
seeded random legal action), or the name of a fixed default action."""


def require_number(
    owner: str,
    name: str,
    value: object,
    *,
    integer: bool = False,
    least: float | None = None,
    most: float | None = None,
) -> None:
    """Raise ConfigurationError naming ``owner(name)`` and ``value`` unless it is a number (an int, if ``integer``)
    in ``[least, most]`` (either bound optional).

    A bool is refused: ``ReAsk(max_attempts=True)`` is a mistake, not 1; so is NaN, which no bound admits.
    """
    if (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (isinstance(value, int) or not integer)
        and _within(float(value), least, most)
    ):
        return
    if least is not None and most is not None:
        bound = f" in [{least}, {most}]"
    elif least is not None:
        bound = f" >= {least}"
    elif most is not None:
        bound = f" <= {most}"
    else:
        bound = ""
    raise ConfigurationError(f"{owner}({name}) must be {'an int' if integer else 'a number'}{bound}, got {value!r}")


def _within(number: float, least: float | None, most: float | None) -> bool:
    return number == number and (least is None or number >= least) and (most is None or number <= most)  # not NaN


def require_int(owner: str, name: str, value: object, *, least: int = 0, most: int | None = None) -> None:
    """Raise ConfigurationError naming ``owner(name)`` and ``value`` unless it is an int in ``[least, most]``."""
    require_number(owner, name, value, integer=True, least=least, most=most)


def checked_actions(actions: ActionSpace | Iterable[str]) -> ActionSpace:
    """``Guard(actions=...)`` as an ActionSpace; one string is refused (it would be read as its letters)."""
    if isinstance(actions, str):
        raise ConfigurationError(f"actions must be a list of action names or an ActionSpace, got {actions!r}")
    return ActionSpace.of(actions)


def checked_fallback(fallback: object, actions: ActionSpace) -> str:
    """``Guard(fallback=...)``: ``"raise"``, ``"random"``, or a legal action, returned under its own name."""
    if isinstance(fallback, str) and fallback in ("raise", "random"):
        return fallback
    resolved = actions.resolve(fallback)
    if resolved is None:
        raise ConfigurationError(
            f"fallback must be 'raise', 'random' or a legal action; {fallback!r} is not one of {list(actions.names)}"
        )
    return resolved


def checked_seed(seed: object) -> int | None:
    """``Guard(seed=...)``: None or a non-negative int (not a bool, not a float)."""
    if seed is not None and (type(seed) is not int or seed < 0):
        raise ConfigurationError(f"seed must be a non-negative int, got {seed!r}")
    return seed


def require_callable(**values: object) -> None:
    """Raise ConfigurationError naming the first of ``values`` that is neither None nor callable."""
    for name, value in values.items():
        if value is not None and not callable(value):
            raise ConfigurationError(f"{name} must be callable, got {value!r}")


def of_type(name: str, value: Any, kind: type[Any]) -> Any:
    """``value`` unchanged when it is None or a ``kind``; else a ConfigurationError naming ``name``."""
    if value is not None and not isinstance(value, kind):
        raise ConfigurationError(f"{name} must be a {kind.__name__}, got {value!r}")
    return value
