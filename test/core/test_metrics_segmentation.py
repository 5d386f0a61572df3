"""Confusion matrix, per-class IoU, mIoU and the old / novel harmonic mean on hand cases."""

import math

import numpy as np
import pytest
import torch

from owss_ros.core.metrics import ConfusionMatrixMeter, nan_mean, old_novel_harmonic

GT = np.array([0, 0, 1, 1, 2, 255])
PRED = np.array([0, 1, 1, 255, 2, 0])  # 255 = unknown in an open-set map


def test_confusion_matrix_counts_unknown_predictions_as_misses():
    meter = ConfusionMatrixMeter(3)
    meter.update(PRED, GT)
    expected = np.array([[1, 1, 0, 0],
                         [0, 1, 0, 1],
                         [0, 0, 1, 0]])
    np.testing.assert_array_equal(meter.matrix, expected)
    assert meter.matrix.dtype == np.int64
    metrics = meter.compute()
    # class 0: TP 1, union 2; class 1: TP 1, gt 2 + pred 2 - 1 = 3; class 2: 1 / 1
    np.testing.assert_allclose(metrics.iou_per_class, [0.5, 1 / 3, 1.0])
    assert metrics.miou == pytest.approx((0.5 + 1 / 3 + 1.0) / 3)
    assert metrics.pixel_accuracy == pytest.approx(3 / 5)
    assert metrics.num_pixels == 5


def test_absent_class_is_nan_and_ignored_by_miou():
    meter = ConfusionMatrixMeter(4)
    meter.update(PRED, GT)
    iou = meter.iou_per_class()
    assert math.isnan(iou[3])
    assert meter.compute().miou == pytest.approx((0.5 + 1 / 3 + 1.0) / 3)


def test_class_only_predicted_has_zero_iou_and_negative_ids_are_unknown():
    meter = ConfusionMatrixMeter(3)
    meter.update(np.array([[2, -1]]), np.array([[0, 0]]))
    iou = meter.iou_per_class()
    assert iou[0] == 0.0 and iou[2] == 0.0 and math.isnan(iou[1])
    assert meter.matrix[0, 3] == 1


def test_streaming_equals_single_update_and_accepts_tensors():
    rng = np.random.default_rng(0)
    gt = rng.integers(0, 5, (2, 16, 16))
    gt[:, :2] = 255
    pred = rng.integers(0, 6, (2, 16, 16))  # id 5 is outside the 5 classes
    whole = ConfusionMatrixMeter(5)
    whole.update(pred, gt)
    streamed = ConfusionMatrixMeter(5)
    streamed.update(torch.from_numpy(pred[0]), torch.from_numpy(gt[0]))
    streamed.update(pred[1], gt[1])
    np.testing.assert_array_equal(whole.matrix, streamed.matrix)
    assert whole.matrix.sum() == np.count_nonzero(gt != 255)
    streamed.reset()
    assert streamed.matrix.sum() == 0


def test_invalid_ground_truth_raises():
    meter = ConfusionMatrixMeter(3)
    with pytest.raises(ValueError):
        meter.update(np.array([0, 1]), np.array([0, 3]))
    with pytest.raises(ValueError):
        meter.update(np.array([0, 1, 2]), np.array([0, 1]))


def test_old_novel_harmonic():
    iou = np.array([0.6, 0.4, np.nan, 0.2])
    old, novel, harmonic = old_novel_harmonic(iou, old_ids=[0, 1, 2], novel_ids=[3])
    assert old == pytest.approx(0.5) and novel == pytest.approx(0.2)
    assert harmonic == pytest.approx(2 * 0.5 * 0.2 / 0.7)
    assert old_novel_harmonic(iou, [0], [3]).harmonic == pytest.approx(2 * 0.6 * 0.2 / 0.8)
    assert math.isnan(old_novel_harmonic(iou, [0], [2]).harmonic)
    assert old_novel_harmonic(np.zeros(2), [0], [1]) == (0.0, 0.0, 0.0)
    assert math.isnan(nan_mean([np.nan]))
