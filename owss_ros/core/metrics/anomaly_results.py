"""Result types of the pixel-level anomaly metrics.

Definitions (binary task, anomaly = positive, a pixel is called anomalous at threshold ``t`` when
its score is ``>= t``, the convention of scikit-learn's ``roc_curve``):

* AUROC: area under the ROC curve (TPR against FPR), trapezoidal rule over all distinct
  thresholds, equal to ``sklearn.metrics.roc_auc_score``.
* FPR at ``tpr_target`` TPR: the FPR at the *highest* threshold whose TPR is ``>= tpr_target``,
  i.e. ``fpr[np.searchsorted(tpr, tpr_target, side="left")]`` on the full (not thinned)
  ``roc_curve(..., drop_intermediate=False)`` output.
* AUPR: average precision, the step-wise sum ``sum_n (R_n - R_{n-1}) P_n`` over the distinct
  thresholds in decreasing order, equal to ``sklearn.metrics.average_precision_score`` (no
  trapezoidal interpolation).
* best F1: ``max_t 2 TP(t) / (TP(t) + FP(t) + num_positive)``, the pixel F1 maximised over the
  thresholds; SegmentMeIfYouCan uses its threshold to binarise scores for the component metrics.

Degenerate data never raises; undefined values are NaN:

* no positive pixel: AUROC, FPR@TPR, AUPR and best F1 are NaN (TPR and recall are 0/0);
* no negative pixel: AUROC and FPR@TPR are NaN (FPR is 0/0); AUPR is 1.0 (every precision is 1);
* no pixel at all: everything is NaN.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AnomalyMetrics:
    """Pixel-level anomaly metrics of one pool of pixels (one image or a whole data set)."""

    auroc: float
    fpr_at_tpr: float
    aupr: float
    tpr_target: float
    num_positive: int
    num_negative: int
    threshold_at_tpr: float = math.nan  # the score threshold that realises ``fpr_at_tpr``
    best_f1: float = math.nan
    best_f1_threshold: float = math.nan

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AnomalyCurves:
    """ROC and precision-recall curves, possibly downsampled, ready for plotting.

    ROC arrays run from threshold ``+inf`` (FPR = TPR = 0) down to the lowest score
    (FPR = TPR = 1), like ``sklearn.metrics.roc_curve``. PR arrays run from the lowest threshold
    (recall 1) up to the highest one and end with the conventional point recall 0, precision 1
    (no threshold), like ``sklearn.metrics.precision_recall_curve``. A downsampled curve keeps
    the exact (FPR, TPR, precision, recall) of a subset of the thresholds, never interpolated
    values. Undefined rates (no positive or no negative pixel) are NaN.
    """

    fpr: np.ndarray
    tpr: np.ndarray
    roc_thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    pr_thresholds: np.ndarray

    def as_dict(self) -> dict[str, list[float]]:
        return {field.name: getattr(self, field.name).tolist() for field in dataclasses.fields(self)}


@dataclass(frozen=True)
class PerImageAnomalyMetrics:
    """Per-image anomaly metrics averaged over the images used (StreetHazards protocol).

    ``auroc``, ``fpr_at_tpr`` and ``aupr`` are plain means over the ``num_images_used`` images;
    NaN when no image was used.
    """

    auroc: float
    fpr_at_tpr: float
    aupr: float
    tpr_target: float
    num_images_used: int
    num_images_seen: int
    num_skipped_no_anomaly: int
    num_skipped_no_inlier: int

    def as_dict(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)
