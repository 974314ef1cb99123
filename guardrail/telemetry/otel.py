"""``OTelSink``: guarded steps as OpenTelemetry spans, findings as evaluation events, and metrics.

Needs the ``otel`` extra (``pip install 'guardrail-core[otel]'``); :mod:`opentelemetry` is imported only when an
``OTelSink`` is built. The sink uses the tracer and meter providers you pass, or the global ones; it never
configures an exporter, so nothing leaves the process unless your OpenTelemetry setup sends it.

What is recorded (GenAI semantic conventions where they define a name, ``guardrail.*`` for the rest):

- one span per guarded step, a child of the span current when the step ran, named
  ``invoke_agent {agent}``, with its real start and end (the event is written when the step ends, so the start
  is ``timestamp - agent_latency_s - guard_latency_s``). Attributes: ``gen_ai.operation.name``
  (``invoke_agent``), ``gen_ai.agent.name``, ``gen_ai.conversation.id`` (the episode),
  ``gen_ai.usage.input_tokens`` / ``output_tokens``, ``error.type``; and ``guardrail.run_id``,
  ``guardrail.step``, ``guardrail.status``, ``guardrail.action``, ``guardrail.parsed_action``,
  ``guardrail.rationale_action``, ``guardrail.final_rationale_action``, ``guardrail.agrees``,
  ``guardrail.intervened``, ``guardrail.agent_calls``, ``guardrail.coverage``, ``guardrail.finding.kinds``,
  ``guardrail.correction.policies``, latencies and the event id. The (already redacted) rationale and raw
  output are added only with ``record_content=True``.
- one ``gen_ai.evaluation.result`` span event per finding: ``gen_ai.evaluation.name`` (the finding kind),
  ``gen_ai.evaluation.score.value`` (its score), ``gen_ai.evaluation.score.label`` (``"budget_exhausted"`` when a
  spent budget kept a policy from answering it, else ``"detected"``), ``gen_ai.evaluation.explanation`` (the
  detail), plus ``guardrail.finding.attempt`` and ``guardrail.finding.actions``.
- one ``guardrail.correction`` span event per correction (policy, kind, from/to action, applied).
- one guard evaluation span per step, a child of the step's span, shaped after the GenAI guardrail conventions
  under discussion (open-telemetry/semantic-conventions-genai#427, "run guardrail span and security finding"; not
  yet released, so the names may move): named ``run_guardrail guardrail``, kind internal, timed over the guard's
  own latency at the end of the step. Attributes: ``gen_ai.operation.name`` (``run_guardrail``),
  ``gen_ai.security.guardrail.name`` (``guardrail``) and ``.version``, ``gen_ai.security.target.type``
  (``tool_call`` for a tool call, else ``llm_output``), ``gen_ai.security.verdict.type`` (see ``verdict_of``),
  ``gen_ai.security.action.type`` (see ``enforced_action_of``), and ``guardrail.*`` for the rest (finding kinds,
  applied policies, step, action before and after). One ``gen_ai.security.finding`` event per finding:
  ``gen_ai.security.risk.finding`` (the kind), ``gen_ai.security.risk.score`` (its score) and
  ``guardrail.finding.detail``.
- metrics (low-cardinality attributes only; never the run or episode): counters ``guardrail.steps``
  (status, agent), ``guardrail.findings`` (kind, agent), ``guardrail.interventions`` (policy, kind, applied),
  ``guardrail.agent.calls`` (agent); histograms ``guardrail.guard.duration`` and ``guardrail.agent.duration``
  (seconds) and ``guardrail.reward``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from guardrail._version import __version__
from guardrail.exceptions import MissingDependencyError
from guardrail.telemetry.events import RewardEvent, StepEvent

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["OTelSink", "enforced_action_of", "verdict_of"]

_SCOPE = "guardrail"
_NS = 1_000_000_000


class OTelSink:
    """Records guarded steps as OpenTelemetry spans and metrics (see the module docstring for the names).

    Args:
        tracer_provider: where spans go (default: the global provider, a no-op until you configure one).
        meter_provider: where metrics go (default: the global provider).
        record_content: also put the logged rationale and raw output on the span (off by default; what is
            logged is already limited by the guard's ``Redaction``).

    Raises:
        MissingDependencyError: the ``otel`` extra (opentelemetry-api/sdk) is not installed.
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        record_content: bool = False,
    ) -> None:
        try:
            from opentelemetry import metrics, trace
        except ImportError as exc:
            raise MissingDependencyError(package="opentelemetry-sdk", extra="otel", feature="OTelSink") from exc
        from guardrail._version import __version__

        self._trace = trace
        self.tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider=tracer_provider)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider=meter_provider)
        self.record_content = record_content
        self._steps = meter.create_counter("guardrail.steps", unit="{step}", description="Guarded steps")
        self._findings = meter.create_counter(
            "guardrail.findings", unit="{finding}", description="Findings raised by the detectors"
        )
        self._interventions = meter.create_counter(
            "guardrail.interventions", unit="{correction}", description="Corrections proposed by policies"
        )
        self._calls = meter.create_counter(
            "guardrail.agent.calls", unit="{call}", description="Agent calls, re-asks and samples included"
        )
        self._guard_duration = meter.create_histogram(
            "guardrail.guard.duration", unit="s", description="Time the guard itself spent on a step"
        )
        self._agent_duration = meter.create_histogram(
            "guardrail.agent.duration", unit="s", description="Time spent in agent calls per step"
        )
        self._reward = meter.create_histogram("guardrail.reward", description="Rewards recorded for steps")

    def emit(self, event: StepEvent | RewardEvent) -> None:
        """Record the event: a span (step) or a reward measurement."""
        if isinstance(event, RewardEvent):
            self._reward.record(event.reward)
            return
        self._span(event)
        self._metrics(event)

    def _span(self, event: StepEvent) -> None:
        end = int(event.timestamp * _NS)
        start = end - int((event.agent_latency_s + event.guard_latency_s) * _NS)
        agent = event.agent or "agent"
        span = self.tracer.start_span(
            f"invoke_agent {agent}",
            kind=self._trace.SpanKind.INTERNAL,
            attributes=_span_attributes(event, self.record_content),
            start_time=start,
        )
        for finding in event.findings:
            span.add_event(
                "gen_ai.evaluation.result",
                attributes={
                    "gen_ai.evaluation.name": finding.kind,
                    "gen_ai.evaluation.score.value": finding.score,
                    "gen_ai.evaluation.score.label": "budget_exhausted" if finding.budget_exhausted else "detected",
                    "gen_ai.evaluation.explanation": finding.detail,
                    "guardrail.finding.attempt": finding.attempt,
                    "guardrail.finding.actions": list(finding.actions),
                },
                timestamp=end,
            )
        for correction in event.corrections:
            attributes: dict[str, Any] = {
                "guardrail.correction.policy": correction.policy,
                "guardrail.correction.kind": correction.kind,
                "guardrail.correction.applied": correction.applied,
                "guardrail.correction.attempts": correction.attempts,
            }
            if correction.from_action is not None:
                attributes["guardrail.correction.from_action"] = correction.from_action
            if correction.to_action is not None:
                attributes["guardrail.correction.to_action"] = correction.to_action
            span.add_event("guardrail.correction", attributes=attributes, timestamp=end)
        self._evaluation_span(event, span, end)
        if event.status != "ok":
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, event.error or event.status))
        span.end(end_time=end)

    def _evaluation_span(self, event: StepEvent, parent: Any, end: int) -> None:
        """The guard's evaluation of the step, as a ``run_guardrail`` span under the step's span."""
        context = self._trace.set_span_in_context(parent)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "run_guardrail",
            "gen_ai.security.guardrail.name": _SCOPE,
            "gen_ai.security.guardrail.version": __version__,
            "gen_ai.security.target.type": "tool_call" if event.format == "tool_call" else "llm_output",
            "gen_ai.security.verdict.type": verdict_of(event),
            "gen_ai.security.action.type": enforced_action_of(event),
            "guardrail.step": event.step,
            "guardrail.finding.kinds": sorted(event.kinds),
            "guardrail.correction.policies": [c.policy for c in event.corrections if c.applied],
            "guardrail.agent_calls": event.agent_calls,
        }
        for key, value in (("guardrail.parsed_action", event.parsed_action), ("guardrail.action", event.final_action)):
            if value is not None:
                attributes[key] = value
        span = self.tracer.start_span(
            f"run_guardrail {_SCOPE}",
            context=context,
            kind=self._trace.SpanKind.INTERNAL,
            attributes=attributes,
            start_time=end - int(event.guard_latency_s * _NS),
        )
        for finding in event.findings:
            span.add_event(
                "gen_ai.security.finding",
                attributes={
                    "gen_ai.security.risk.finding": finding.kind,
                    "gen_ai.security.risk.score": finding.score,
                    "guardrail.finding.detail": finding.detail,
                },
                timestamp=end,
            )
        if event.status != "ok":
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, event.error or event.status))
        span.end(end_time=end)

    def _metrics(self, event: StepEvent) -> None:
        agent = event.agent or "agent"
        self._steps.add(1, {"guardrail.status": event.status, "gen_ai.agent.name": agent})
        for finding in event.findings:
            self._findings.add(1, {"guardrail.finding.kind": finding.kind, "gen_ai.agent.name": agent})
        for correction in event.corrections:
            self._interventions.add(
                1,
                {
                    "guardrail.correction.policy": correction.policy,
                    "guardrail.correction.kind": correction.kind,
                    "guardrail.correction.applied": correction.applied,
                },
            )
        if event.agent_calls:
            self._calls.add(event.agent_calls, {"gen_ai.agent.name": agent})
        self._guard_duration.record(event.guard_latency_s, {"gen_ai.agent.name": agent})
        self._agent_duration.record(event.agent_latency_s, {"gen_ai.agent.name": agent})

    def close(self) -> None:
        """Nothing to release: the providers belong to the caller (flush them at shutdown)."""

    def __repr__(self) -> str:
        return "OTelSink()"


def _span_attributes(event: StepEvent, record_content: bool) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.conversation.id": event.episode,
        "guardrail.schema_version": event.schema_version,
        "guardrail.event_id": event.event_id,
        "guardrail.run_id": event.run_id,
        "guardrail.step": event.step,
        "guardrail.status": event.status,
        "guardrail.agent_calls": event.agent_calls,
        "guardrail.intervened": event.intervened,
        "guardrail.agent_latency_s": event.agent_latency_s,
        "guardrail.guard_latency_s": event.guard_latency_s,
        "guardrail.rationale_confidence": event.rationale_confidence,
        "guardrail.finding.kinds": sorted(event.kinds),
        "guardrail.correction.policies": [c.policy for c in event.corrections if c.applied],
    }
    optional: dict[str, Any] = {
        "gen_ai.agent.name": event.agent,
        "gen_ai.usage.input_tokens": event.input_tokens,
        "gen_ai.usage.output_tokens": event.output_tokens,
        "error.type": _error_type(event),
        "guardrail.format": event.format,
        "guardrail.action": event.final_action,
        "guardrail.parsed_action": event.parsed_action,
        "guardrail.rationale_action": event.rationale_action,
        "guardrail.final_rationale_action": event.final_rationale_action,
        "guardrail.agrees": event.agrees,
        "guardrail.coverage": event.coverage,
        "guardrail.policies": list(event.policies) or None,
    }
    if record_content:
        optional["guardrail.rationale"] = event.rationale
        optional["guardrail.raw"] = event.raw
    attributes.update({k: v for k, v in optional.items() if v is not None})
    return attributes


def verdict_of(event: StepEvent) -> str:
    """The guard's verdict on a step, in the proposed ``gen_ai.security.verdict.type`` values: ``deny`` (no legal
    action, or the agent failed), ``modify`` (an applied correction changed the step), ``warn`` (findings, nothing
    changed), ``allow`` (no finding)."""
    if event.status != "ok":
        return "deny"
    if event.intervened:
        return "modify"
    return "warn" if event.findings else "allow"


def enforced_action_of(event: StepEvent) -> str:
    """What the guard enforced (``gen_ai.security.action.type``): ``block`` (no action was let through), the kind of
    the last applied correction (``reask``, ``override``, ``explore``, ``vote``, ``fallback``), else ``allow``."""
    if event.status != "ok":
        return "block"
    applied = [c.kind for c in event.corrections if c.applied]
    return applied[-1] if applied else "allow"


def _error_type(event: StepEvent) -> str | None:
    if event.status == "ok":
        return None
    if event.error:
        return event.error.split(":", 1)[0]
    return event.status
