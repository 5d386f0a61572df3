"""Plan a time-budgeted schedule from a probe: how many iterations the rest of a budget holds.

    python -m owss_ros.tools.plan_schedule WORK_DIR PROBE_ITERATIONS SECONDS_LEFT RUN [RUN ...]

Each ``WORK_DIR/RUN`` holds the ``checkpoint_last.pt`` of a run paused at the probe (``train
--stop-at PROBE``). Prints ``ITERATIONS MINUTES``: the iteration count the poly schedule should span
(the same for every run, from the slowest rate) and the ``--minutes`` cap of the resumed runs
(``--minutes`` counts training wall time across ``--resume``: the probe's plus what is left).
``scripts/gpu_train.sh`` uses it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# On the lent H200 the probe's rate ran 8-28% above the whole run's (loader workers restart each
# epoch, the first batches come from prefetched queues): plan on 0.8 of it.
RATE_SAFETY = 0.8


def probe_rate(history: list[dict], probe: int) -> tuple[float, float]:
    """(iterations/s, training wall seconds) of a probe's step log, skipping its warm-up steps."""
    steps = [h for h in history if "loss" in h and "wall_s" in h]
    if len(steps) < 2:
        raise ValueError(f"the probe logged {len(steps)} timed steps; it needs at least 2 (raise PROBE)")
    later = [h for h in steps if h["iteration"] >= min(20, probe // 2)]
    if len(later) >= 2:
        steps = later
    first, last = steps[0], steps[-1]
    rate = (last["iteration"] - first["iteration"]) / max(last["wall_s"] - first["wall_s"], 1e-6)
    return rate, last["wall_s"]


def plan(histories: list[list[dict]], probe: int, seconds_left: float,
         safety: float = RATE_SAFETY) -> tuple[int, float]:
    """(schedule iterations, --minutes cap) for runs resumed together after the probe."""
    return plan_from_rates([probe_rate(h, probe) for h in histories], probe, seconds_left, safety)


def plan_from_rates(measured: list[tuple[float, float]], probe: int, seconds_left: float,
                    safety: float = RATE_SAFETY) -> tuple[int, float]:
    """``plan`` from each run's ``probe_rate``."""
    rates, walls = zip(*measured)
    left = max(0.0, seconds_left)
    iterations = probe + int(safety * min(rates) * left)
    return iterations, max(0.1, (min(walls) + left) / 60)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("work_dir", type=Path)
    cli.add_argument("probe", type=int)
    cli.add_argument("seconds_left", type=float)
    cli.add_argument("runs", nargs="+")
    args = cli.parse_args(argv)
    import torch

    histories = [json.loads(torch.load(args.work_dir / run / "checkpoint_last.pt", weights_only=True)["history_json"])
                 for run in args.runs]
    measured = [probe_rate(h, args.probe) for h in histories]
    iterations, minutes = plan_from_rates(measured, args.probe, args.seconds_left)
    rates = " / ".join(f"{rate:.2f}" for rate, _ in measured)
    print(f"probe: {rates} it/s ({' / '.join(args.runs)}) together; {args.seconds_left:.0f} s left", file=sys.stderr)
    print(iterations, f"{minutes:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
