"""OTelSink: spans under the caller's span with GenAI attributes, findings as evaluation events, metrics."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from guardrail import Guard, OverrideToRationale, parse
from guardrail.exceptions import MissingDependencyError, NoLegalActionError
from guardrail.telemetry import OTelSink, StepEvent
from guardrail.testing import ScriptedAgent

from .conftest import AGREE_RED, COLOURS, GAP, INVALID, run_guard


@pytest.fixture
def otel() -> Iterator[tuple[OTelSink, InMemorySpanExporter, InMemoryMetricReader, TracerProvider]]:
    """An OTelSink on private SDK providers with in-memory span and metric exporters (nothing global)."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield OTelSink(tracer_provider=tracer_provider, meter_provider=meter_provider), exporter, reader, tracer_provider
    meter_provider.shutdown()
    tracer_provider.shutdown()


def _step_spans(exporter: InMemorySpanExporter) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")]


def _evaluation_spans(exporter: InMemorySpanExporter) -> list[Any]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("run_guardrail")]


def _metrics(reader: InMemoryMetricReader) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    assert data is not None
    found: dict[str, list[Any]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                found[metric.name] = list(metric.data.data_points)
    return found


def test_one_span_per_step_under_the_callers_span(otel: Any) -> None:
    """Each guarded step is one span, a child of the span current when the step ran, timed like the step."""
    sink, exporter, _, provider = otel
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("handle-request") as parent:
        events = run_guard([GAP, AGREE_RED], sinks=[sink], policies=[OverrideToRationale()], agent_name="bandit")
    spans = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")]
    assert [s.name for s in spans] == ["invoke_agent bandit", "invoke_agent bandit"]
    steps = [e for e in events if isinstance(e, StepEvent)]
    for span, event in zip(spans, steps, strict=True):
        assert span.parent is not None
        assert span.parent.span_id == parent.get_span_context().span_id
        assert span.context.trace_id == parent.get_span_context().trace_id
        assert span.end_time == int(event.timestamp * 1e9)
        duration = (span.end_time - span.start_time) / 1e9
        assert duration == pytest.approx(event.agent_latency_s + event.guard_latency_s, abs=1e-6)
    attributes = dict(spans[0].attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.agent.name"] == "bandit"
    assert attributes["gen_ai.conversation.id"] == "ep-1"
    assert attributes["guardrail.run_id"] == "run-1"
    assert attributes["guardrail.step"] == 0
    assert attributes["guardrail.parsed_action"] == "blue"
    assert attributes["guardrail.rationale_action"] == "red"
    assert attributes["guardrail.action"] == "red"
    assert attributes["guardrail.intervened"] is True
    assert attributes["guardrail.finding.kinds"] == ("knowing_doing_gap",)
    assert "guardrail.rationale" not in attributes  # content only with record_content=True


def test_each_finding_is_a_gen_ai_evaluation_result_event(otel: Any) -> None:
    """Findings become gen_ai.evaluation.result span events with name, score value, label and explanation."""
    sink, exporter, _, _ = otel
    run_guard([GAP], sinks=[sink], policies=[OverrideToRationale()])
    (span,) = _step_spans(exporter)
    evaluations = [e for e in span.events if e.name == "gen_ai.evaluation.result"]
    assert len(evaluations) == 1
    attributes = dict(evaluations[0].attributes or {})
    assert attributes["gen_ai.evaluation.name"] == "knowing_doing_gap"
    expected = parse(GAP, COLOURS).rationale_confidence  # the finding's score is the reading's
    assert attributes["gen_ai.evaluation.score.value"] == pytest.approx(expected)
    assert attributes["gen_ai.evaluation.score.label"] == "detected"
    assert "recommends 'red'" in str(attributes["gen_ai.evaluation.explanation"])
    corrections = [e for e in span.events if e.name == "guardrail.correction"]
    assert dict(corrections[0].attributes or {})["guardrail.correction.to_action"] == "red"


def test_failed_step_span_has_error_status(otel: Any) -> None:
    """A step whose agent raised ends its span with ERROR status and error.type."""
    sink, exporter, _, _ = otel
    with Guard(["red", "blue"], telemetry=[sink]) as guard, pytest.raises(RuntimeError):
        guard.step(ScriptedAgent([RuntimeError("model down")]), "pick")
    (span,) = _step_spans(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "RuntimeError"


def test_counters_and_histograms(otel: Any) -> None:
    """Steps, findings, interventions and agent calls are counted; guard latency is a histogram."""
    sink, _, reader, _ = otel
    run_guard([GAP, INVALID, AGREE_RED], sinks=[sink], policies=[OverrideToRationale()], rewards=[1.0, 0.0])
    metrics = _metrics(reader)
    assert sum(p.value for p in metrics["guardrail.steps"]) == 3
    findings = {p.attributes["guardrail.finding.kind"]: p.value for p in metrics["guardrail.findings"]}
    assert findings == {"knowing_doing_gap": 1, "invalid_action": 1}
    interventions = {p.attributes["guardrail.correction.policy"]: p.value for p in metrics["guardrail.interventions"]}
    assert interventions["OverrideToRationale"] == 1
    assert sum(p.value for p in metrics["guardrail.agent.calls"]) == 3
    (latency,) = metrics["guardrail.guard.duration"]
    assert latency.count == 3
    (reward,) = metrics["guardrail.reward"]
    assert reward.count == 2
    assert reward.sum == pytest.approx(1.0)
    for points in metrics.values():
        for point in points:
            assert "guardrail.run_id" not in point.attributes  # no high-cardinality metric attributes


def test_record_content_adds_the_logged_rationale(otel: Any) -> None:
    """With record_content=True the (already redacted) rationale and raw output are span attributes."""
    _, exporter, _, provider = otel
    sink = OTelSink(tracer_provider=provider, record_content=True)
    run_guard([GAP], sinks=[sink])
    attributes = dict(_step_spans(exporter)[0].attributes or {})
    assert attributes["guardrail.rationale"] == "Red looks best, so I should choose red."


def test_missing_opentelemetry_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without opentelemetry installed, OTelSink() raises MissingDependencyError naming the `otel` extra."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(MissingDependencyError, match=r"guardrail-core\[otel\]") as info:
        OTelSink()
    assert info.value.extra == "otel"
    assert info.value.package == "opentelemetry-sdk"


def test_each_step_has_one_guard_evaluation_span_with_its_verdict_and_action(otel: Any) -> None:
    """A run_guardrail span per step, child of the step's span: allow/allow for a consistent step, modify/override
    for a corrected gap, with one gen_ai.security.finding event per finding."""
    sink, exporter, _, _ = otel
    run_guard([AGREE_RED, GAP], sinks=[sink], policies=[OverrideToRationale()], agent_name="bandit")
    steps, evaluations = _step_spans(exporter), _evaluation_spans(exporter)
    assert [s.name for s in evaluations] == ["run_guardrail guardrail"] * 2
    for step, evaluation in zip(steps, evaluations, strict=True):
        assert evaluation.parent is not None
        assert evaluation.parent.span_id == step.context.span_id
        assert evaluation.end_time == step.end_time
        assert step.start_time <= evaluation.start_time <= evaluation.end_time
    consistent, corrected = (dict(s.attributes or {}) for s in evaluations)
    assert consistent["gen_ai.operation.name"] == "run_guardrail"
    assert consistent["gen_ai.security.guardrail.name"] == "guardrail"
    assert consistent["gen_ai.security.target.type"] == "llm_output"
    assert (consistent["gen_ai.security.verdict.type"], consistent["gen_ai.security.action.type"]) == ("allow", "allow")
    assert (corrected["gen_ai.security.verdict.type"], corrected["gen_ai.security.action.type"]) == (
        "modify",
        "override",
    )
    assert (corrected["guardrail.parsed_action"], corrected["guardrail.action"]) == ("blue", "red")
    (finding,) = evaluations[1].events
    assert finding.name == "gen_ai.security.finding"
    assert dict(finding.attributes or {})["gen_ai.security.risk.finding"] == "knowing_doing_gap"
    assert evaluations[0].events == ()


def test_a_finding_left_alone_is_a_warn_and_no_legal_action_a_deny(otel: Any) -> None:
    """Without policies a gap is a warn that allows the step; an illegal action with fallback "raise" is denied
    and blocked, with an error status."""
    sink, exporter, _, _ = otel
    run_guard([GAP], sinks=[sink])
    warned = dict(_evaluation_spans(exporter)[0].attributes or {})
    assert (warned["gen_ai.security.verdict.type"], warned["gen_ai.security.action.type"]) == ("warn", "allow")
    exporter.clear()
    guard = Guard(COLOURS, telemetry=[sink])
    with pytest.raises(NoLegalActionError):
        guard.step(ScriptedAgent(outputs=[INVALID]), "pick")
    (denied,) = _evaluation_spans(exporter)
    attributes = dict(denied.attributes or {})
    assert (attributes["gen_ai.security.verdict.type"], attributes["gen_ai.security.action.type"]) == (
        "deny",
        "block",
    )
    assert denied.status.status_code == StatusCode.ERROR
