"""``LoggingSink``: telemetry through the standard :mod:`logging` module, with the event as structured extras."""

from __future__ import annotations

import logging
from typing import Any, Final

from guardrail.exceptions import ConfigurationError
from guardrail.telemetry.events import RewardEvent, StepEvent

__all__ = ["LoggingSink", "log_value"]


class LoggingSink:
    """Logs one record per event on a stdlib logger; the whole event is in the record's extras.

    Each record carries ``record.guardrail`` (the event as a dict, ``None`` fields left out) and
    ``record.guardrail_type`` (``"step"`` or ``"reward"``), so a JSON formatter (e.g. python-json-logger) or a
    handler can ship the fields without parsing the message. The message is a short human line::

        guardrail step run=3f2a episode=ep-1 step=4 action=red findings=knowing_doing_gap corrections=ReAsk

    Values that are not plain printable tokens (spaces, quotes, ``=``, control characters such as newlines or
    ANSI escapes) are quoted and escaped by :func:`log_value`, so an id can neither split nor forge a line.

    Args:
        logger: a logger or its name (default ``"guardrail.telemetry"``).
        level: the level of ordinary events (default INFO).
        finding_level: the level of a step with findings or a status other than ``ok`` (default WARNING);
            None logs those at ``level`` too.
    """

    def __init__(
        self,
        logger: logging.Logger | str = "guardrail.telemetry",
        *,
        level: int | str = logging.INFO,
        finding_level: int | str | None = logging.WARNING,
    ) -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger
        self.level = _level(level)
        self.finding_level = self.level if finding_level is None else _level(finding_level)

    def emit(self, event: StepEvent | RewardEvent) -> None:
        """Log the event."""
        if isinstance(event, StepEvent):
            level = self.finding_level if (event.findings or event.status != "ok") else self.level
        else:
            level = self.level
        if not self.logger.isEnabledFor(level):
            return
        data: dict[str, Any] = event.model_dump(mode="json", exclude_none=True)
        self.logger.log(level, _message(event), extra={"guardrail": data, "guardrail_type": event.type})

    def close(self) -> None:
        """Nothing to release (handlers belong to the logging configuration)."""

    def __repr__(self) -> str:
        return f"LoggingSink({self.logger.name!r})"


def _level(level: int | str) -> int:
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ConfigurationError(f"unknown logging level {level!r}")
    return value


_PLAIN_SPECIALS: Final = frozenset(' "=\\')


def log_value(value: object) -> str:
    """``value`` as one safe token of a log line: bare when it is printable text without spaces, quotes, ``=``
    or backslashes; otherwise quoted, with backslashes, quotes and every non-printable character (control
    characters and ANSI escapes, newlines, DEL, C1 controls, line separators, lone surrogates) escaped.

    So an id such as ``"ep\\n2026 ERROR forged"`` or ``"\\x1b[2J"`` can neither split a log line, forge a
    ``key=value`` pair, nor reach a terminal as a control sequence.

    >>> log_value("ep-1")
    'ep-1'
    >>> log_value("a b\\n\\x1b[31m")
    '"a b\\\\n\\\\x1b[31m"'
    """
    text = str(value)
    if text and text.isprintable() and _PLAIN_SPECIALS.isdisjoint(text):
        return text
    out = ['"']
    for char in text:
        if char == "\\" or char == '"':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    out.append('"')
    return "".join(out)


def _message(event: StepEvent | RewardEvent) -> str:
    head = f"guardrail {event.type} run={log_value(event.run_id)} episode={log_value(event.episode)} step={event.step}"
    if isinstance(event, RewardEvent):
        return f"{head} reward={event.reward:g}"
    parts = [head, f"action={log_value(event.final_action)}"]
    if event.status != "ok":
        parts.append(f"status={event.status}")
    if event.findings:
        parts.append("findings=" + log_value(",".join(sorted(event.kinds))))
    applied = [c.policy for c in event.corrections if c.applied]
    if applied:
        parts.append("corrections=" + log_value(",".join(applied)))
    return " ".join(parts)
