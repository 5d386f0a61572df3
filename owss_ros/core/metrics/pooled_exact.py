"""Exact pixel-level anomaly metrics pooled over a whole data set, in bounded memory.

The protocol of Fishyscapes, Lost and Found and SegmentMeIfYouCan: every non-void pixel of every
image enters one ROC / PR computation. Scores are buffered (at most ``chunk_pixels`` in RAM),
spilled as sorted runs and k-way merged at :meth:`ExactPooledAnomalyMeter.compute` (see
:mod:`.sorted_runs`); the merged tie groups feed a :class:`.threshold_sweep.ThresholdSweep`, so
the results equal scikit-learn's ``roc_auc_score`` / ``average_precision_score`` / ``roc_curve``
on the concatenated pixels up to float rounding (FPR@TPR bit-identical).
"""

from __future__ import annotations

from .anomaly_results import AnomalyCurves, AnomalyMetrics
from ._arrays import VOID_LABEL, valid_scores_and_labels
from .sorted_runs import SortedRunSpiller, merge_sorted_runs
from .threshold_sweep import ThresholdSweep, validate_tpr_target

DEFAULT_CHUNK_PIXELS = 1 << 24  # 16.8 M pixels = 128 MiB float64 buffer (~32 images of 512x1024)
DEFAULT_MERGE_BUDGET_PIXELS = 1 << 20  # merge windows of all runs together (8 MiB of float64)
DEFAULT_CURVE_POINTS = 1000


class ExactPooledAnomalyMeter:
    """Streaming exact AUROC / FPR@TPR / AUPR over all pixels of all images.

    Memory: ``8 * chunk_pixels`` bytes of buffer, plus during :meth:`compute` the merge windows
    (``merge_budget_pixels`` float64 values shared by all runs, at least ``min_window_pixels``
    per run) and the per-round sort temporaries (a few times that). Disk: 8 bytes per
    non-void pixel, in a temporary directory under ``spill_dir`` (default: the system temp dir),
    deleted by :meth:`reset`, :meth:`close`, the ``with`` block or garbage collection.

    :meth:`compute` does not consume the data: more images may be added afterwards.
    """

    def __init__(self, tpr_target: float = 0.95, *, chunk_pixels: int = DEFAULT_CHUNK_PIXELS,
                 merge_budget_pixels: int = DEFAULT_MERGE_BUDGET_PIXELS, min_window_pixels: int = 1024,
                 spill_dir: str | None = None,
                 curve_points: int = DEFAULT_CURVE_POINTS, ignore_index: int = VOID_LABEL):
        self.tpr_target = validate_tpr_target(tpr_target)
        self.merge_budget_pixels = int(merge_budget_pixels)
        self.min_window_pixels = int(min_window_pixels)
        self.curve_points = curve_points
        self.ignore_index = ignore_index
        self._spiller = SortedRunSpiller(chunk_pixels, spill_dir)
        self.num_positive = 0
        self.num_negative = 0
        self.num_images = 0
        self._cached: tuple[AnomalyMetrics, AnomalyCurves | None] | None = None

    @property
    def chunk_pixels(self) -> int:
        return self._spiller.capacity

    @property
    def buffered_pixels(self) -> int:
        """Pixels currently held in the RAM buffer (always ``<= chunk_pixels``)."""
        return self._spiller.buffered_pixels

    @property
    def peak_buffered_pixels(self) -> int:
        return self._spiller.peak_buffered_pixels

    @property
    def num_spilled_runs(self) -> int:
        return self._spiller.num_spilled_runs

    def update(self, scores, labels) -> None:
        """Add one image (any shape): ``labels`` 1 = anomaly, 0 = inlier, ``ignore_index`` = void."""
        values, is_anomaly = valid_scores_and_labels(scores, labels, self.ignore_index)
        positives = values[is_anomaly]
        self._spiller.add(positives, values[~is_anomaly])
        self.num_positive += len(positives)
        self.num_negative += len(values) - len(positives)
        self.num_images += 1
        self._cached = None

    def _sweep(self) -> tuple[AnomalyMetrics, AnomalyCurves | None]:
        if self._cached is None:
            sweep = ThresholdSweep(self.num_positive, self.num_negative, self.tpr_target, self.curve_points)
            batches = merge_sorted_runs(self._spiller.runs(), self.merge_budget_pixels, self.min_window_pixels)
            for values, pos_counts, neg_counts in batches:
                sweep.add_groups(values, pos_counts, neg_counts)
            curves = sweep.curves() if self.curve_points else None
            self._cached = (sweep.result(), curves)
        return self._cached

    def compute(self) -> AnomalyMetrics:
        """Exact metrics of every pixel added so far (one merge pass, cached until the next update)."""
        return self._sweep()[0]

    def curves(self) -> AnomalyCurves:
        """ROC and PR curves with at most ``curve_points`` points each (computed with :meth:`compute`)."""
        if not self.curve_points:
            raise RuntimeError("created with curve_points=0")
        return self._sweep()[1]

    def reset(self) -> None:
        """Forget all images and delete the spilled runs."""
        self._spiller.clear()
        self.num_positive = self.num_negative = self.num_images = 0
        self._cached = None

    def close(self) -> None:
        """:meth:`reset` and release the buffer."""
        self.reset()
        self._spiller.close()

    def __enter__(self) -> "ExactPooledAnomalyMeter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
