"""Closed-set semantic segmentation metrics: streaming confusion matrix, per-class IoU, mIoU,
and the old / novel / harmonic-mean summary of incremental few-shot segmentation.

* ``IoU_c = TP_c / (TP_c + FP_c + FN_c)`` over all pixels of the data set (Everingham et al.,
  PASCAL VOC; Cordts et al., Cityscapes), NaN when class ``c`` appears neither in the ground
  truth nor in the predictions (0 / 0).
* ``mIoU`` = mean of the defined (non-NaN) per-class IoUs.
* DMLNet paper, Table 4 (incremental few-shot): mIoU over the old (base) classes, mIoU over the
  novel classes and their harmonic mean ``H = 2 o n / (o + n)``.

Ground-truth pixels equal to ``ignore_index`` (255) are skipped. A predicted id outside
``[0, num_classes)`` — e.g. 255 = "unknown" in an open-set map — matches no class: it is a false
negative for the pixel's ground-truth class and a false positive for no class. Such pixels are
counted in an extra last column of the confusion matrix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from ._arrays import VOID_LABEL, to_numpy


@dataclass(frozen=True)
class SegmentationMetrics:
    """Per-class IoU (NaN = class absent from ground truth and prediction), mIoU, pixel accuracy."""

    iou_per_class: np.ndarray
    miou: float
    pixel_accuracy: float
    num_pixels: int

    def as_dict(self) -> dict:
        return {"iou_per_class": self.iou_per_class.tolist(), "miou": self.miou,
                "pixel_accuracy": self.pixel_accuracy, "num_pixels": self.num_pixels}


class ConfusionMatrixMeter:
    """Streaming int64 confusion matrix: rows = ground truth, columns = prediction.

    Shape ``(num_classes, num_classes + 1)``; the last column counts predictions outside
    ``[0, num_classes)``.
    """

    def __init__(self, num_classes: int, *, ignore_index: int = VOID_LABEL):
        if num_classes < 1:
            raise ValueError("num_classes must be >= 1")
        self.num_classes = int(num_classes)
        self.ignore_index = ignore_index
        self.matrix = np.zeros((self.num_classes, self.num_classes + 1), dtype=np.int64)

    def reset(self) -> None:
        self.matrix[:] = 0

    def update(self, pred, gt) -> None:
        """Add one prediction / ground-truth pair of equal shape (ValueError on a bad gt id)."""
        pred_ids = to_numpy(pred).astype(np.int64, copy=False).ravel()
        gt_ids = to_numpy(gt).astype(np.int64, copy=False).ravel()
        if pred_ids.shape != gt_ids.shape:
            raise ValueError(f"prediction and ground truth sizes differ: {pred_ids.size} vs {gt_ids.size}")
        keep = gt_ids != self.ignore_index
        pred_ids, gt_ids = pred_ids[keep], gt_ids[keep]
        if len(gt_ids) and (gt_ids.min() < 0 or gt_ids.max() >= self.num_classes):
            bad = np.unique(gt_ids[(gt_ids < 0) | (gt_ids >= self.num_classes)])[:5].tolist()
            raise ValueError(f"ground truth ids {bad} outside [0, {self.num_classes}) and not {self.ignore_index}")
        columns = self.num_classes + 1
        pred_ids = np.where((pred_ids >= 0) & (pred_ids < self.num_classes), pred_ids, self.num_classes)
        self.matrix += np.bincount(gt_ids * columns + pred_ids, minlength=self.num_classes * columns
                                   ).reshape(self.num_classes, columns)

    def iou_per_class(self) -> np.ndarray:
        true_positive = np.diag(self.matrix[:, :self.num_classes]).astype(np.float64)
        gt_total = self.matrix.sum(axis=1)  # includes pixels predicted outside the class range
        pred_total = self.matrix[:, :self.num_classes].sum(axis=0)
        union = (gt_total + pred_total - true_positive).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, true_positive / union, np.nan)

    def compute(self) -> SegmentationMetrics:
        iou = self.iou_per_class()
        total = int(self.matrix.sum())
        correct = int(np.trace(self.matrix[:, :self.num_classes]))
        return SegmentationMetrics(iou_per_class=iou, miou=nan_mean(iou),
                                   pixel_accuracy=correct / total if total else math.nan, num_pixels=total)


def nan_mean(values) -> float:
    """Mean of the non-NaN entries; NaN (without a warning) when there is none."""
    values = np.asarray(values, dtype=np.float64)
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else math.nan


class OldNovelHarmonic(NamedTuple):
    miou_old: float
    miou_novel: float
    harmonic: float


def old_novel_harmonic(iou_per_class, old_ids: Sequence[int], novel_ids: Sequence[int]) -> OldNovelHarmonic:
    """(mIoU old, mIoU novel, ``2 o n / (o + n)``) as in DMLNet Table 4.

    Each mIoU is the NaN-ignoring mean over its ids; the harmonic mean is NaN when either mIoU is
    NaN and 0.0 when both are 0.
    """
    iou = np.asarray(to_numpy(iou_per_class), dtype=np.float64)
    old = nan_mean(iou[np.asarray(old_ids, dtype=np.int64)])
    novel = nan_mean(iou[np.asarray(novel_ids, dtype=np.int64)])
    if math.isnan(old) or math.isnan(novel):
        harmonic = math.nan
    elif old + novel == 0:
        harmonic = 0.0
    else:
        harmonic = 2.0 * old * novel / (old + novel)
    return OldNovelHarmonic(old, novel, harmonic)
