"""Pixel-level anomaly metrics: AUROC, FPR at a TPR target (FPR95), AUPR (average precision).

Conventions (see :mod:`.anomaly_results` for the exact definitions and the NaN rules): label 1 =
anomaly = POSITIVE, 0 = in-distribution, 255 = void (excluded); higher score = more anomalous.

Two evaluation protocols are used in the field (notes "Evaluation protocols"):

* pooled over the whole data set (Fishyscapes, Lost and Found, SegmentMeIfYouCan):
  :class:`ExactPooledAnomalyMeter` (exact, bounded RAM, spills to disk) or
  :class:`HistogramPooledAnomalyMeter` (binned approximation, constant memory), both created by
  :func:`make_pooled_anomaly_meter`;
* per image, averaged over images that contain anomaly pixels (StreetHazards, DMLNet Table 1):
  :class:`PerImageAnomalyMeter`.

:func:`anomaly_metrics` / :func:`anomaly_curves` evaluate arrays that fit in memory at once.
"""

from __future__ import annotations

import math

import numpy as np

from .anomaly_results import AnomalyCurves, AnomalyMetrics, PerImageAnomalyMetrics
from ._arrays import VOID_LABEL, valid_scores_and_labels
from .pooled_exact import ExactPooledAnomalyMeter
from .pooled_histogram import HistogramPooledAnomalyMeter
from .sorted_runs import SortedRun, merge_sorted_runs
from .threshold_sweep import ThresholdSweep, validate_tpr_target

__all__ = [
    "AnomalyCurves", "AnomalyMetrics", "PerImageAnomalyMetrics", "ExactPooledAnomalyMeter",
    "HistogramPooledAnomalyMeter", "PerImageAnomalyMeter", "anomaly_metrics", "anomaly_curves",
    "make_pooled_anomaly_meter",
]


def _sweep_in_memory(scores, labels, tpr_target, curve_points, ignore_index) -> ThresholdSweep:
    values, is_anomaly = valid_scores_and_labels(scores, labels, ignore_index)
    positives = np.sort(values[is_anomaly])
    negatives = np.sort(values[~is_anomaly])
    sweep = ThresholdSweep(len(positives), len(negatives), tpr_target, curve_points)
    runs = [SortedRun(True, len(positives), array=positives), SortedRun(False, len(negatives), array=negatives)]
    for groups in merge_sorted_runs(runs, budget_pixels=2 * max(len(values), 1)):
        sweep.add_groups(*groups)
    return sweep


def anomaly_metrics(scores, labels, tpr_target: float = 0.95, *, ignore_index: int = VOID_LABEL) -> AnomalyMetrics:
    """Exact AUROC, FPR@``tpr_target`` and AUPR of arrays held in memory (any equal shapes)."""
    return _sweep_in_memory(scores, labels, tpr_target, 0, ignore_index).result()


def anomaly_curves(scores, labels, max_points: int | None = None, *,
                   ignore_index: int = VOID_LABEL) -> AnomalyCurves:
    """ROC and PR curves of in-memory arrays; all thresholds when ``max_points`` is None."""
    return _sweep_in_memory(scores, labels, 0.95, max_points, ignore_index).curves()


def make_pooled_anomaly_meter(mode: str = "exact", tpr_target: float = 0.95, **options):
    """Pooled (data-set level) meter: ``mode="exact"`` or ``"histogram"``; ``options`` go to its class."""
    if mode == "exact":
        return ExactPooledAnomalyMeter(tpr_target, **options)
    if mode == "histogram":
        return HistogramPooledAnomalyMeter(tpr_target, **options)
    raise ValueError(f"unknown pooled meter mode {mode!r}; expected 'exact' or 'histogram'")


class PerImageAnomalyMeter:
    """Per-image exact metrics averaged over images (StreetHazards protocol, DMLNet Table 1).

    Following Hendrycks et al.'s anomaly-segmentation evaluation, an image without any anomaly
    pixel is skipped (its AUROC / AUPR are undefined). An image without any in-distribution
    pixel is skipped too (AUROC and FPR are undefined there); both are counted. The reported
    values are plain means over the used images; ``per_image`` keeps each used image's metrics.
    """

    def __init__(self, tpr_target: float = 0.95, *, ignore_index: int = VOID_LABEL):
        self.tpr_target = validate_tpr_target(tpr_target)
        self.ignore_index = ignore_index
        self.reset()

    def reset(self) -> None:
        self.per_image: list[AnomalyMetrics] = []
        self.num_images_seen = 0
        self.num_skipped_no_anomaly = 0
        self.num_skipped_no_inlier = 0

    def update(self, scores, labels) -> AnomalyMetrics | None:
        """Evaluate one image; returns its metrics, or None when the image is skipped."""
        self.num_images_seen += 1
        metrics = anomaly_metrics(scores, labels, self.tpr_target, ignore_index=self.ignore_index)
        if metrics.num_positive == 0:
            self.num_skipped_no_anomaly += 1
            return None
        if metrics.num_negative == 0:
            self.num_skipped_no_inlier += 1
            return None
        self.per_image.append(metrics)
        return metrics

    def compute(self) -> PerImageAnomalyMetrics:
        def mean(name: str) -> float:
            return float(np.mean([getattr(m, name) for m in self.per_image])) if self.per_image else math.nan

        return PerImageAnomalyMetrics(
            auroc=mean("auroc"), fpr_at_tpr=mean("fpr_at_tpr"), aupr=mean("aupr"),
            tpr_target=self.tpr_target, num_images_used=len(self.per_image),
            num_images_seen=self.num_images_seen, num_skipped_no_anomaly=self.num_skipped_no_anomaly,
            num_skipped_no_inlier=self.num_skipped_no_inlier,
        )
