"""Training curves (loss, learning rate, validation mIoU) as one PNG."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_training_curves(history: list[dict], path: str | Path) -> None:
    steps = [h for h in history if "loss" in h]
    evals = [h for h in history if "val_miou" in h]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.4))
    axes[0].plot([h["iteration"] for h in steps], [h["loss"] for h in steps])
    axes[0].set(title="training loss", xlabel="iteration", yscale="log")
    axes[1].plot([h["iteration"] for h in steps], [h["lr"] for h in steps])
    axes[1].set(title="learning rate", xlabel="iteration")
    axes[2].plot([h["iteration"] for h in evals], [100 * h["val_miou"] for h in evals], marker="o")
    axes[2].set(title="validation mIoU (%)", xlabel="iteration")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_runs_against_time(histories: dict[str, list[dict]], path: str | Path) -> None:
    """Validation mIoU against training minutes for several runs (comparisons at equal CPU time).

    Each history is a trainer history (``history.json``); runs continued from another run's weights
    can pass a ``(history, offset_s)`` pair to start at the parent's minutes.
    """
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, value in histories.items():
        history, offset = value if isinstance(value, tuple) else (value, 0.0)
        evals = [h for h in history if "val_miou" in h and "wall_s" in h]
        if evals:
            ax.plot([(offset + h["wall_s"]) / 60 for h in evals], [100 * h["val_miou"] for h in evals],
                    marker="o", label=name)
    ax.set(xlabel="training minutes (1 thread, 2-core machine shared with a second run)",
           ylabel="val mIoU (%)", title="validation mIoU vs training time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
