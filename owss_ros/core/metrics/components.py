"""SegmentMeIfYouCan component-level anomaly metrics: sIoU (gt), PPV (pred), mean F1.

Definitions (Chan et al., "SegmentMeIfYouCan: A Benchmark for Anomaly Segmentation", NeurIPS
2021 Datasets and Benchmarks, Sec. "component-level metrics", after Rottmann et al.'s MetaSeg
adjusted IoU). ``K`` = connected components of the ground-truth anomaly mask, ``K_hat`` = those
of the predicted anomaly mask (``score >= threshold``, void pixels removed before labelling):

* ``sIoU(k) = |k ∩ K_hat(k)| / |(k ∪ K_hat(k)) \\ A(k)|`` for ``k`` in ``K``, where ``K_hat(k)``
  is the union of the predicted components intersecting ``k`` and ``A(k)`` the pixels of the
  other ground-truth components (a prediction that also covers another anomaly is not
  penalised for it). ``sIoU(k) = 0`` when nothing predicted touches ``k``.
* ``PPV(k_hat) = |k_hat ∩ K(k_hat)| / |k_hat|`` (component-wise precision), ``K(k_hat)`` the
  union of ground-truth components intersecting ``k_hat``.
* for ``tau`` in ``{0.25, 0.30, ..., 0.75}``: ``k`` is a true positive if ``sIoU(k) > tau``,
  otherwise a false negative; ``k_hat`` is a false positive if ``PPV(k_hat) <= tau``;
  ``F1(tau) = 2 TP / (2 TP + FN + FP)`` with TP, FN, FP summed over all images of the data set;
  the reported F1 is the mean of ``F1(tau)`` over the 11 thresholds. Mean sIoU and mean PPV are
  averaged over all components of the data set (not per image).

Details taken from the benchmark's public evaluation code (road-anomaly-benchmark), stated here
because the paper leaves them open:

* connected components use 8-connectivity (a 3x3 structuring element);
* ground-truth components smaller than ``min_gt_component_size`` pixels are turned into void
  (removed from the region of interest, together with any prediction on them); predicted
  components smaller than ``min_pred_component_size`` pixels are discarded (set to background).
  The benchmark uses 100 / 500 pixels for the Anomaly Track and 10 / 50 for the Obstacle Track;
* component sizes are measured before this restriction; the region of interest excludes void.

Deliberate differences from that code (documented choices): prediction uses ``score >=
threshold`` (the ROC / PR threshold convention of this package; the benchmark uses ``>``), the
paper's strict ``sIoU > tau`` / ``PPV <= tau`` comparisons are used (the code uses ``>=`` and
``<``), and the false-positive criterion is the paper's PPV (the code instead computes a
reverse sIoU of each predicted component and reports it under that name).

The benchmark binarises the scores at the pixel-level threshold maximising F1 on the pooled PR
curve (:attr:`AnomalyMetrics.best_f1_threshold`).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ._arrays import VOID_LABEL, to_numpy

SIOU_THRESHOLDS = tuple(round(0.25 + 0.05 * i, 2) for i in range(11))  # 0.25, 0.30, ..., 0.75
EIGHT_CONNECTIVITY = np.ones((3, 3), dtype=bool)
FOUR_CONNECTIVITY = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class ComponentSizeLimits:
    """Minimum component sizes (pixels) of a SegmentMeIfYouCan track."""

    min_gt_component_size: int
    min_pred_component_size: int


SMIYC_ANOMALY_TRACK = ComponentSizeLimits(min_gt_component_size=100, min_pred_component_size=500)
SMIYC_OBSTACLE_TRACK = ComponentSizeLimits(min_gt_component_size=10, min_pred_component_size=50)


@dataclass(frozen=True)
class ImageComponentScores:
    """sIoU of each ground-truth component and PPV of each predicted component of one image."""

    siou_gt: np.ndarray
    ppv_pred: np.ndarray


@dataclass(frozen=True)
class ComponentMetrics:
    """Component-level metrics pooled over a data set (see the module docstring)."""

    mean_siou_gt: float
    mean_ppv: float
    mean_f1: float
    siou_thresholds: tuple[float, ...]
    f1_per_threshold: tuple[float, ...]
    tp_per_threshold: tuple[int, ...]
    fn_per_threshold: tuple[int, ...]
    fp_per_threshold: tuple[int, ...]
    num_gt_components: int
    num_pred_components: int
    num_images: int

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _drop_small_components(labels: np.ndarray, count: int, min_size: int) -> np.ndarray:
    """Boolean per component id (index 0 = background, never small): size < ``min_size``."""
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    small = sizes < min_size
    small[0] = False
    return small


def image_component_scores(score_map, gt, threshold: float, *,
                           min_gt_component_size: int = SMIYC_ANOMALY_TRACK.min_gt_component_size,
                           min_pred_component_size: int = SMIYC_ANOMALY_TRACK.min_pred_component_size,
                           ignore_index: int = VOID_LABEL,
                           structure: np.ndarray = EIGHT_CONNECTIVITY) -> ImageComponentScores:
    """sIoU per ground-truth component and PPV per predicted component of one H x W image.

    ``gt``: 1 = anomaly, 0 = in-distribution, ``ignore_index`` = void. Components are listed in
    scipy's labelling order; components without a pixel in the region of interest are left out.
    """
    scores = to_numpy(score_map).astype(np.float64, copy=False)
    labels = to_numpy(gt)
    if scores.shape != labels.shape or scores.ndim != 2:
        raise ValueError(f"score map {scores.shape} and gt {labels.shape} must be equal 2-D shapes")
    void = labels == ignore_index
    gt_ids, num_gt = ndimage.label(labels == 1, structure=structure)
    pred_ids, num_pred = ndimage.label((scores >= threshold) & ~void, structure=structure)

    pred_ids[_drop_small_components(pred_ids, num_pred, min_pred_component_size)[pred_ids]] = 0
    small_gt = _drop_small_components(gt_ids, num_gt, min_gt_component_size)
    roi = ~void & ~small_gt[gt_ids]
    g = gt_ids[roi]
    p = pred_ids[roi]

    gt_size = np.bincount(g, minlength=num_gt + 1)
    pred_size = np.bincount(p, minlength=num_pred + 1)
    overlap = (g > 0) & (p > 0)
    pair_key, pair_count = np.unique(g[overlap].astype(np.int64) * (num_pred + 1) + p[overlap],
                                     return_counts=True)
    pair_gt = pair_key // (num_pred + 1)
    pair_pred = pair_key % (num_pred + 1)

    pred_on_gt = np.bincount(pair_pred, weights=pair_count, minlength=num_pred + 1)  # |k_hat ∩ K(k_hat)|
    pred_off_gt = pred_size - pred_on_gt  # predicted pixels on no anomaly
    intersection = np.bincount(pair_gt, weights=pair_count, minlength=num_gt + 1)  # |k ∩ K_hat(k)|
    # |(k ∪ K_hat(k)) \ A(k)| = |k| + sum of |k_hat \ all anomaly| over predicted k_hat touching k
    union = gt_size + np.bincount(pair_gt, weights=pred_off_gt[pair_pred], minlength=num_gt + 1)

    kept_gt = np.flatnonzero(gt_size[1:] > 0) + 1
    kept_pred = np.flatnonzero(pred_size[1:] > 0) + 1
    return ImageComponentScores(
        siou_gt=intersection[kept_gt] / union[kept_gt],
        ppv_pred=pred_on_gt[kept_pred] / pred_size[kept_pred],
    )


class ComponentMetricsMeter:
    """Streams images and pools SegmentMeIfYouCan component metrics over the data set.

    Memory: one float per component. Undefined values are NaN and never raise: mean sIoU with no
    ground-truth component, mean PPV with no predicted component, ``F1(tau)`` when there is
    neither (then the mean F1 is NaN too).
    """

    def __init__(self, threshold: float, *,
                 min_gt_component_size: int = SMIYC_ANOMALY_TRACK.min_gt_component_size,
                 min_pred_component_size: int = SMIYC_ANOMALY_TRACK.min_pred_component_size,
                 siou_thresholds: tuple[float, ...] = SIOU_THRESHOLDS, ignore_index: int = VOID_LABEL,
                 structure: np.ndarray = EIGHT_CONNECTIVITY):
        self.threshold = float(threshold)
        self.min_gt_component_size = int(min_gt_component_size)
        self.min_pred_component_size = int(min_pred_component_size)
        self.siou_thresholds = tuple(float(t) for t in siou_thresholds)
        self.ignore_index = ignore_index
        self.structure = structure
        self.reset()

    def reset(self) -> None:
        self._siou: list[np.ndarray] = []
        self._ppv: list[np.ndarray] = []
        self.num_images = 0

    def update(self, score_map, gt) -> ImageComponentScores:
        scores = image_component_scores(
            score_map, gt, self.threshold, min_gt_component_size=self.min_gt_component_size,
            min_pred_component_size=self.min_pred_component_size, ignore_index=self.ignore_index,
            structure=self.structure)
        self._siou.append(scores.siou_gt)
        self._ppv.append(scores.ppv_pred)
        self.num_images += 1
        return scores

    def compute(self) -> ComponentMetrics:
        siou = np.concatenate(self._siou) if self._siou else np.zeros(0)
        ppv = np.concatenate(self._ppv) if self._ppv else np.zeros(0)
        tps, fns, fps, f1s = [], [], [], []
        for tau in self.siou_thresholds:
            tp = int(np.count_nonzero(siou > tau))
            fn = len(siou) - tp
            fp = int(np.count_nonzero(ppv <= tau))
            denominator = 2 * tp + fn + fp
            tps.append(tp)
            fns.append(fn)
            fps.append(fp)
            f1s.append(2 * tp / denominator if denominator else math.nan)
        return ComponentMetrics(
            mean_siou_gt=float(siou.mean()) if len(siou) else math.nan,
            mean_ppv=float(ppv.mean()) if len(ppv) else math.nan,
            mean_f1=float(np.mean(f1s)) if f1s else math.nan,
            siou_thresholds=self.siou_thresholds,
            f1_per_threshold=tuple(f1s),
            tp_per_threshold=tuple(tps),
            fn_per_threshold=tuple(fns),
            fp_per_threshold=tuple(fps),
            num_gt_components=len(siou),
            num_pred_components=len(ppv),
            num_images=self.num_images,
        )
