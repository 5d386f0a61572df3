"""The probe-based schedule planning of scripts/gpu_train.sh (owss_ros.tools.plan_schedule)."""

from __future__ import annotations

import json

import pytest
import torch

from owss_ros.tools import plan_schedule


def step_log(rate: float, probe: int = 100, warmup_s: float = 5.0) -> list[dict]:
    """A trainer step log (every 10 iterations) at ``rate`` it/s after a slow first step."""
    history = [{"iteration": 1, "loss": 1.0, "wall_s": warmup_s}]
    history += [{"iteration": i, "loss": 1.0, "wall_s": warmup_s + (i - 1) / rate} for i in range(10, probe + 1, 10)]
    return history


def test_rate_skips_the_warm_up_steps():
    rate, wall = plan_schedule.probe_rate(step_log(8.0), probe=100)
    assert rate == pytest.approx(8.0)
    assert wall == pytest.approx(5.0 + 99 / 8.0)


def test_plan_uses_the_slowest_run_and_the_safety_factor():
    iterations, minutes = plan_schedule.plan([step_log(10.0), step_log(5.0)], probe=100, seconds_left=300)
    assert iterations == 100 + int(plan_schedule.RATE_SAFETY * 5.0 * 300)
    # --minutes counts the probe's training wall time too (the faster run's is the shorter)
    assert minutes == pytest.approx((5.0 + 99 / 10.0 + 300) / 60)


def test_no_time_left_keeps_the_probe():
    iterations, minutes = plan_schedule.plan([step_log(10.0)], probe=100, seconds_left=-20)
    assert iterations == 100
    assert minutes == pytest.approx((5.0 + 9.9) / 60)


def test_a_probe_too_short_to_time_is_refused():
    with pytest.raises(ValueError, match="at least 2"):
        plan_schedule.probe_rate([{"iteration": 1, "loss": 1.0, "wall_s": 1.0}], probe=5)


def test_main_reads_the_paused_checkpoints(tmp_path, capsys):
    for run, rate in (("dml", 6.0), ("ce", 7.0)):
        (tmp_path / run).mkdir()
        torch.save({"history_json": json.dumps(step_log(rate))}, tmp_path / run / "checkpoint_last.pt")
    assert plan_schedule.main([str(tmp_path), "100", "200", "dml", "ce"]) == 0
    iterations, minutes = capsys.readouterr().out.split()
    assert int(iterations) == 100 + int(plan_schedule.RATE_SAFETY * 6.0 * 200)
    assert float(minutes) == pytest.approx((5.0 + 99 / 7.0 + 200) / 60, abs=1e-3)
