"""The adapter's errors (all are guardrail errors; see :mod:`guardrail.exceptions`)."""

from __future__ import annotations

from guardrail.exceptions import MissingDependencyError as _CoreMissingDependencyError

__all__ = ["MissingDependencyError"]


class MissingDependencyError(_CoreMissingDependencyError):
    """An optional part of guardrail-langchain was used without its extra installed (also an ImportError)."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        super().__init__(package, extra, feature)
        message = (
            f"{feature} needs the optional package {package!r}; install it with "
            f"`pip install 'guardrail-langchain[{extra}]'`"
        )
        self.args = (message,)
        self.msg = message
