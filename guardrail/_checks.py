"""Argument checks shared by the dataclasses users build (policies, detectors): a wrong type, named."""

from __future__ import annotations

from guardrail.exceptions import ConfigurationError

__all__ = ["require_number"]


def require_number(owner: str, name: str, value: object, *, integer: bool = False) -> None:
    """Raise ConfigurationError naming ``owner(name)`` and ``value`` unless it is a number (an int, if ``integer``).

    A bool is refused: ``ReAsk(max_attempts=True)`` is a mistake, not 1.
    """
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ConfigurationError(f"{owner}({name}) must be {'an int' if integer else 'a number'}, got {value!r}")
