"""`guardrail demo`: unguarded vs guarded on the same bandits, and its telemetry reads back the same."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrail.cli import main


def test_demo_prints_the_table_and_report_prints_the_same_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A small demo run prints its table; `guardrail report --by agent` on its telemetry prints the same summary."""
    events = tmp_path / "demo.jsonl"
    assert main(["demo", "--bandits", "3", "--horizon", "12", "--telemetry", str(events)]) == 0
    demo_output = capsys.readouterr().out
    assert "cumulative regret" in demo_output
    assert "rationale-action agreement" in demo_output
    assert events.exists()
    assert main(["report", str(events), "--by", "agent"]) == 0
    report_output = capsys.readouterr().out.strip()
    assert report_output
    assert report_output in demo_output


def test_demo_guarded_agent_follows_its_rationale() -> None:
    """With the same seed, the guarded simulated agent agrees with its rationale on >= 99% of steps."""
    from guardrail import Guard, Observe, OverrideToRationale, ReAsk
    from guardrail.bench.envs import BanditSpec
    from guardrail.bench.runner import BanditPrompter, SimulatedBanditAgent, run_bandits
    from guardrail.bench.simulators import KnowingDoingProfile

    spec = BanditSpec(k=10, horizon=30)
    profile = KnowingDoingProfile()
    results = {}
    for name, policies in (("unguarded", [Observe()]), ("guarded", [ReAsk(max_attempts=2), OverrideToRationale()])):
        results[name], _ = run_bandits(
            name=name,
            make_guard=lambda policies=policies: Guard(
                spec.arm_names, policies=policies, fallback="random", seed=0, prompter=BanditPrompter()
            ),
            make_agent=lambda i, rng: SimulatedBanditAgent(profile, rng),
            spec=spec,
            n_bandits=8,
            seed=0,
        )
    assert results["guarded"].kd_agreement is not None
    assert results["guarded"].kd_agreement >= 0.99
    assert results["unguarded"].kd_agreement is not None
    assert results["unguarded"].kd_agreement < 0.6
