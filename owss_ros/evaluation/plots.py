"""Figures of the anomaly evaluation: ROC and PR curves (all methods on one figure each) and
qualitative panels (input, ground truth, each method's score map)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from owss_ros.evaluation.anomaly_benchmark import QualitativeExample  # noqa: E402
from owss_ros.evaluation.anomaly_scores import AnomalyMethod  # noqa: E402
from owss_ros.evaluation.report_io import percent  # noqa: E402


def plot_roc_curves(methods: Sequence[AnomalyMethod], curves: Mapping[str, dict], pooled: Mapping[str, dict],
                    path: str | Path, title: str) -> Path:
    """Pooled ROC curves; the legend gives each method's AUROC and FPR95."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for method in methods:
        c, m = curves[method.key], pooled[method.key]
        ax.plot(c["fpr"], c["tpr"], label=f"{method.label} (AUROC {percent(m['auroc'])}, "
                                          f"FPR95 {percent(m['fpr_at_tpr'])})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_pr_curves(methods: Sequence[AnomalyMethod], curves: Mapping[str, dict], pooled: Mapping[str, dict],
                   path: str | Path, title: str) -> Path:
    """Pooled precision-recall curves; the legend gives each method's AUPR."""
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for method in methods:
        c, m = curves[method.key], pooled[method.key]
        ax.plot(c["recall"], c["precision"], label=f"{method.label} (AUPR {percent(m['aupr'])})")
    ax.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def plot_qualitative_panel(example: QualitativeExample, methods: Sequence[AnomalyMethod], path: str | Path,
                           thresholds: Mapping[str, float] | None = None) -> Path:
    """Input, ground truth (white anomaly, grey void), each score map (its own colour
    range, printed in the title); with ``thresholds`` the calibrated binarisation is outlined."""
    panels = 2 + len(methods)
    columns = min(4, panels)
    rows = -(-panels // columns)
    height, width = example.anomaly.shape
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, rows * (3.2 * height / width + 0.5)))
    axes = np.atleast_1d(axes).ravel()
    axes[0].imshow(example.rgb)
    axes[0].set_title(example.name, fontsize=7)
    gt = np.where(example.anomaly == 255, 0.5, example.anomaly.astype(float))
    axes[1].imshow(gt, cmap="gray", vmin=0, vmax=1)
    axes[1].set_title("ground truth", fontsize=7)
    for ax, method in zip(axes[2:], methods):
        score = example.scores[method.key]
        low, high = float(score.min()), float(score.max())
        ax.imshow(score, cmap="inferno", vmin=low, vmax=high if high > low else low + 1)
        if thresholds is not None and method.key in thresholds:
            ax.contour(score >= thresholds[method.key], levels=[0.5], colors="cyan", linewidths=0.6)
        ax.set_title(f"{method.label}\n[{low:.3g}, {high:.3g}]", fontsize=7)
    for ax in axes:
        ax.axis("off")
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
