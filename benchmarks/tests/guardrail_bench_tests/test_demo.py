"""`guardrail demo`: unguarded, the correction and the full plan on the same bandits, with UCB as reference."""

from __future__ import annotations

from pathlib import Path

import pytest

from guardrail.cli import main


def test_demo_prints_three_columns_and_ucb_and_report_prints_the_same_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A small demo run prints its three configurations beside UCB, one cost line each; `guardrail report
    --by agent` on its telemetry prints the same summary."""
    events = tmp_path / "demo.jsonl"
    assert main(["demo", "--bandits", "3", "--horizon", "12", "--telemetry", str(events)]) == 0
    demo_output = capsys.readouterr().out
    header = next(line for line in demo_output.splitlines() if "unguarded" in line and "UCB (reference)" in line)
    assert header.split() == ["unguarded", "correction", "full", "plan", "UCB", "(reference)"]
    assert "cumulative regret" in demo_output
    assert "rationale-action agreement" in demo_output
    for name in ("unguarded:", "correction:", "full plan:", "UCB:"):
        assert any(line.strip().startswith(name) for line in demo_output.splitlines()), name
    assert "agent calls per step" in demo_output
    assert events.exists()
    assert main(["report", str(events), "--by", "agent"]) == 0
    report_output = capsys.readouterr().out.strip()
    assert report_output
    assert report_output in demo_output


def test_simulated_27b_agent_keeps_agreement_with_the_adaptive_reask() -> None:
    """The 27B knowing-doing profile behind the adaptive ReAsk (the default) and OverrideToRationale agrees with
    its rationale on >= 99% of steps, unguarded < 60%; the adaptive re-ask spends no more calls than always
    re-asking."""
    from guardrail import Guard, Observe, OverrideToRationale, ReAsk
    from guardrail_bench.envs import BanditSpec
    from guardrail_bench.runner import BanditPrompter, SimulatedBanditAgent, run_bandits
    from guardrail_bench.simulators import KnowingDoingProfile

    spec = BanditSpec(k=10, horizon=50)
    profile = KnowingDoingProfile()
    plans = {
        "unguarded": [Observe()],
        "adaptive": [ReAsk(max_attempts=2), OverrideToRationale()],
        "always": [ReAsk(max_attempts=2, adaptive=None), OverrideToRationale()],
    }
    results = {}
    for name, policies in plans.items():
        results[name], _ = run_bandits(
            name=name,
            make_guard=lambda policies=policies: Guard(  # type: ignore[misc]
                spec.arm_names, policies=policies, fallback="random", seed=0, prompter=BanditPrompter()
            ),
            make_agent=lambda i, rng: SimulatedBanditAgent(profile, rng),
            spec=spec,
            n_bandits=8,
            seed=0,
        )
    assert results["adaptive"].kd_agreement is not None
    assert results["adaptive"].kd_agreement >= 0.99
    assert results["unguarded"].kd_agreement is not None
    assert results["unguarded"].kd_agreement < 0.6
    assert results["adaptive"].agent_calls_per_step <= results["always"].agent_calls_per_step
