"""``LoggingSink``: telemetry through the standard :mod:`logging` module, with the event as structured extras."""

from __future__ import annotations

import logging
from typing import Any

from guardrail.exceptions import ConfigurationError
from guardrail.telemetry.events import RewardEvent, StepEvent

__all__ = ["LoggingSink"]


class LoggingSink:
    """Logs one record per event on a stdlib logger; the whole event is in the record's extras.

    Each record carries ``record.guardrail`` (the event as a dict, ``None`` fields left out) and
    ``record.guardrail_type`` (``"step"`` or ``"reward"``), so a JSON formatter (e.g. python-json-logger) or a
    handler can ship the fields without parsing the message. The message is a short human line::

        guardrail step run=3f2a episode=ep-1 step=4 action=red findings=knowing_doing_gap corrections=ReAsk

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


def _message(event: StepEvent | RewardEvent) -> str:
    head = f"guardrail {event.type} run={event.run_id} episode={event.episode} step={event.step}"
    if isinstance(event, RewardEvent):
        return f"{head} reward={event.reward:g}"
    parts = [head, f"action={event.final_action}"]
    if event.status != "ok":
        parts.append(f"status={event.status}")
    if event.findings:
        parts.append("findings=" + ",".join(sorted(event.kinds)))
    applied = [c.policy for c in event.corrections if c.applied]
    if applied:
        parts.append("corrections=" + ",".join(applied))
    return " ".join(parts)
