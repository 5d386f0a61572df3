"""Approximate pooled pixel-level anomaly metrics from fixed score histograms (O(num_bins) memory).

Scores are clamped into ``score_range = (low, high)`` and counted per label in ``num_bins``
equal-width bins; bin ``i`` covers ``[low + i w, low + (i + 1) w)`` with ``w = (high - low) /
num_bins`` (the last bin also holds ``high``). The metrics are then the *exact* metrics of the
quantised scores "lower edge of the pixel's bin": the candidate thresholds are the bin lower
edges, and all pixels of one bin form one tie group.

Approximation (relative to the exact metrics of the raw scores, for scores inside the range):

* AUROC: a positive/negative pair in the same bin counts 1/2 instead of 0 or 1, so
  ``|AUROC_hist - AUROC_exact| <= 0.5 * sum_b p_b n_b / (P N)``
  (:meth:`HistogramPooledAnomalyMeter.auroc_error_bound`).
* FPR@TPR: the threshold is the lower edge of the bin holding the exact threshold, so the value
  can only be *higher*, by at most the fraction of negatives in that bin.
* AUPR: precision is evaluated per bin instead of per distinct score; the error vanishes as bins
  stop containing mixed labels.
* scores outside the range are clamped to it (``num_clamped`` counts them): choose the range to
  cover the score distribution (e.g. ``(0, 1)`` for probabilities).

The default of 1,000,000 bins (16 MB of int64 counters) resolves 1e-6 of the range.
"""

from __future__ import annotations

import math

import numpy as np

from .anomaly_results import AnomalyCurves, AnomalyMetrics
from ._arrays import VOID_LABEL, valid_scores_and_labels
from .threshold_sweep import ThresholdSweep, validate_tpr_target

DEFAULT_NUM_BINS = 1_000_000
DEFAULT_SCORE_RANGE = (0.0, 1.0)


class HistogramPooledAnomalyMeter:
    """Streaming approximate AUROC / FPR@TPR / AUPR over all pixels, constant memory."""

    def __init__(self, tpr_target: float = 0.95, *, num_bins: int = DEFAULT_NUM_BINS,
                 score_range: tuple[float, float] = DEFAULT_SCORE_RANGE, curve_points: int = 1000,
                 ignore_index: int = VOID_LABEL):
        low, high = float(score_range[0]), float(score_range[1])
        if not (math.isfinite(low) and math.isfinite(high) and high > low):
            raise ValueError(f"score_range must be finite with high > low, got {score_range}")
        if num_bins < 1:
            raise ValueError("num_bins must be >= 1")
        self.tpr_target = validate_tpr_target(tpr_target)
        self.num_bins = int(num_bins)
        self.score_range = (low, high)
        self.curve_points = curve_points
        self.ignore_index = ignore_index
        self.positive_counts = np.zeros(self.num_bins, dtype=np.int64)
        self.negative_counts = np.zeros(self.num_bins, dtype=np.int64)
        self.num_clamped = 0
        self.num_images = 0

    @property
    def bin_lower_edges(self) -> np.ndarray:
        low, high = self.score_range
        return low + np.arange(self.num_bins, dtype=np.float64) * ((high - low) / self.num_bins)

    def bin_index(self, scores: np.ndarray) -> np.ndarray:
        """Bin of each score after clamping into ``score_range``."""
        low, high = self.score_range
        clamped = np.clip(scores, low, high)
        index = np.floor((clamped - low) * (self.num_bins / (high - low))).astype(np.int64)
        return np.minimum(index, self.num_bins - 1)

    def update(self, scores, labels) -> None:
        """Add one image (any shape): ``labels`` 1 = anomaly, 0 = inlier, ``ignore_index`` = void."""
        values, is_anomaly = valid_scores_and_labels(scores, labels, self.ignore_index)
        low, high = self.score_range
        self.num_clamped += int(np.count_nonzero((values < low) | (values > high)))
        index = self.bin_index(values)
        self.positive_counts += np.bincount(index[is_anomaly], minlength=self.num_bins)
        self.negative_counts += np.bincount(index[~is_anomaly], minlength=self.num_bins)
        self.num_images += 1

    def _sweep(self) -> ThresholdSweep:
        sweep = ThresholdSweep(int(self.positive_counts.sum()), int(self.negative_counts.sum()),
                               self.tpr_target, self.curve_points)
        occupied = (self.positive_counts + self.negative_counts) > 0
        sweep.add_groups(self.bin_lower_edges[occupied], self.positive_counts[occupied],
                         self.negative_counts[occupied])
        return sweep

    def compute(self) -> AnomalyMetrics:
        return self._sweep().result()

    def curves(self) -> AnomalyCurves:
        if not self.curve_points:
            raise RuntimeError("created with curve_points=0")
        return self._sweep().curves()

    def auroc_error_bound(self) -> float:
        """Upper bound on ``|AUROC_hist - AUROC_exact|`` for in-range scores (NaN if undefined)."""
        num_pos, num_neg = int(self.positive_counts.sum()), int(self.negative_counts.sum())
        if num_pos == 0 or num_neg == 0:
            return math.nan
        shared_pairs = int(np.dot(self.positive_counts, self.negative_counts))
        return 0.5 * shared_pairs / (num_pos * num_neg)

    def reset(self) -> None:
        self.positive_counts[:] = 0
        self.negative_counts[:] = 0
        self.num_clamped = 0
        self.num_images = 0

    def close(self) -> None:
        self.reset()

    def __enter__(self) -> "HistogramPooledAnomalyMeter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
