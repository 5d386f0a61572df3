"""Training runs side by side at equal training time: a markdown table and a curve plot.

    python -m owss_ros.tools.compare_runs runs/cmp_a runs/cmp_b --plot docs/results/equal_time.png

Each argument is a trainer output folder (its ``history.json``) or ``NAME=FOLDER``. The table gives,
per run, the validation mIoU of the trainer's subset at each evaluation with the minutes it came
at, the iterations reached and the mean iterations/s, so recipes with different step costs compare
at the same minute rather than the same iteration.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunSummary:
    name: str
    evaluations: list[tuple[float, int, float]]  # (minutes, iteration, val mIoU %)
    iterations: int
    minutes: float
    iterations_per_s: float


def summarize_run(name: str, history: list[dict]) -> RunSummary:
    steps = [h for h in history if "loss" in h and "wall_s" in h]
    evals = [(h["wall_s"] / 60, h["iteration"], 100 * h["val_miou"])
             for h in history if "val_miou" in h and "wall_s" in h]
    if not steps:
        raise ValueError(f"run {name!r} has no timed training steps in its history")
    last = max(steps[-1]["wall_s"], evals[-1][0] * 60 if evals else 0.0)
    return RunSummary(name, evals, steps[-1]["iteration"], last / 60, steps[-1]["iteration"] / max(last, 1e-9))


def markdown_table(runs: list[RunSummary]) -> str:
    lines = ["| run | iterations | minutes | it/s | val mIoU at (minute, iteration) |", "|---|---|---|---|---|"]
    for run in runs:
        curve = ", ".join(f"{miou:.1f} ({minutes:.0f}', {iteration})" for minutes, iteration, miou in run.evaluations)
        lines.append(f"| {run.name} | {run.iterations} | {run.minutes:.1f} | {run.iterations_per_s:.2f} | {curve} |")
    return "\n".join(lines)


def _named_folder(argument: str) -> tuple[str, Path]:
    name, sep, folder = argument.partition("=")
    return (name, Path(folder)) if sep else (Path(argument).name, Path(argument))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="trainer output folders, or NAME=FOLDER")
    parser.add_argument("--plot", type=Path, help="write validation mIoU against minutes as a PNG here")
    args = parser.parse_args(argv)
    histories = {}
    for name, folder in map(_named_folder, args.runs):
        path = folder / "history.json"
        if not path.is_file():
            raise SystemExit(f"{path} not found: the run has not finished or paused with --minutes yet")
        histories[name] = json.loads(path.read_text())
    print(markdown_table([summarize_run(name, history) for name, history in histories.items()]))
    if args.plot is not None:
        from owss_ros.training.curves import plot_runs_against_time

        plot_runs_against_time(histories, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
