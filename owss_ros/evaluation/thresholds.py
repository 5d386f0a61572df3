"""Score thresholds chosen on a CALIBRATION split (never on the split being evaluated).

Two uses:

* binarising anomaly scores for the SegmentMeIfYouCan component metrics: per method, either the
  threshold maximising the pooled pixel F1 on the calibration split (``best-f1``, the benchmark's
  choice, :attr:`AnomalyMetrics.best_f1_threshold`) or the highest threshold reaching the target
  TPR there (``tpr``, :attr:`AnomalyMetrics.threshold_at_tpr`); a pixel is anomalous when
  ``score >= threshold`` (the metrics package convention);
* lambda_out of Eq. 1, where a pixel is C_anomaly when ``P > lambda_out`` (strict): see
  :func:`strictly_below` and :func:`lambda_out_for_target_fpr`.

Both go through :class:`~owss_ros.core.metrics.ExactPooledAnomalyMeter` (exact, bounded memory).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from owss_ros.core.metrics import AnomalyMetrics, ExactPooledAnomalyMeter

THRESHOLD_RULES = ("best-f1", "tpr")
DEFAULT_CHUNK_PIXELS = 1 << 22  # 32 MiB of float64 per meter before it spills to disk


def pooled_meter(tpr_target: float = 0.95, chunk_pixels: int = DEFAULT_CHUNK_PIXELS, curve_points: int = 0,
                 spill_dir: str | None = None) -> ExactPooledAnomalyMeter:
    return ExactPooledAnomalyMeter(tpr_target, chunk_pixels=chunk_pixels, curve_points=curve_points,
                                   spill_dir=spill_dir)


@dataclass(frozen=True)
class CalibratedThreshold:
    """A binarisation threshold (``score >= threshold``) and the calibration metrics it came from."""

    rule: str
    threshold: float
    calibration_metrics: AnomalyMetrics

    def as_dict(self) -> dict:
        return {"rule": self.rule, "threshold": self.threshold,
                "calibration_pooled_metrics": self.calibration_metrics.as_dict()}


def threshold_from_metrics(metrics: AnomalyMetrics, rule: str) -> CalibratedThreshold:
    """The ``best-f1`` or ``tpr`` threshold of pooled calibration metrics (ValueError if undefined)."""
    if rule == "best-f1":
        value = metrics.best_f1_threshold
    elif rule == "tpr":
        value = metrics.threshold_at_tpr
    else:
        raise ValueError(f"unknown threshold rule {rule!r}; choose from {THRESHOLD_RULES}")
    if not math.isfinite(value):
        raise ValueError(f"the calibration split gives no {rule} threshold (does it hold anomaly and inlier pixels?)")
    return CalibratedThreshold(rule, float(value), metrics)


def strictly_below(threshold: float) -> float:
    """The largest float32 number below ``threshold`` (a float32 value, as scores are float32).

    For float32 scores P: ``P > strictly_below(t)`` exactly when ``P >= t``, so the pixels that Eq. 1
    (strict ``>``) flags are those the meter counted at threshold t. The result is representable
    in float32, so a float32 comparison (the node, ONNX / TensorRT graphs) does not round it.
    """
    return float(np.nextafter(np.float32(threshold), np.float32(-np.inf)))


def lambda_out_for_target_tpr(metrics: AnomalyMetrics) -> float:
    """lambda_out with ``TPR(P > lambda_out) >= target`` and the largest such value (fewest false
    positives), from the pooled metrics of the anomaly probability P on the calibration split."""
    if not math.isfinite(metrics.threshold_at_tpr):
        raise ValueError("the calibration split has no anomaly or no inlier pixel: no TPR threshold")
    return max(0.0, strictly_below(metrics.threshold_at_tpr))


def inverted_labels(anomaly: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """Swap anomaly (1) and inlier (0) labels, keeping void: used to threshold on the inliers."""
    anomaly = np.asarray(anomaly)
    return np.where(anomaly == ignore_index, ignore_index, 1 - np.clip(anomaly, 0, 1)).astype(np.uint8)


def lambda_out_for_target_fpr(inlier_metrics: AnomalyMetrics) -> float:
    """lambda_out with ``FPR(P > lambda_out) <= target`` and the smallest such value (most true positives).

    ``inlier_metrics`` must come from a pooled meter fed with the NEGATED scores ``-P`` and
    :func:`inverted_labels`, created with ``tpr_target = 1 - target_fpr``: its TPR is then the
    fraction of inliers with ``P <= lambda``, so its TPR threshold t' gives ``lambda_out = -t'``.
    """
    if not math.isfinite(inlier_metrics.threshold_at_tpr):
        raise ValueError("the calibration split has no anomaly or no inlier pixel: no FPR threshold")
    return min(1.0, max(0.0, -inlier_metrics.threshold_at_tpr))
