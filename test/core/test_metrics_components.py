"""SegmentMeIfYouCan component metrics on hand-built masks with hand-computed values."""

import math

import numpy as np
import pytest
import torch

from owss_ros.core.metrics import (
    SIOU_THRESHOLDS,
    SMIYC_ANOMALY_TRACK,
    ComponentMetricsMeter,
    image_component_scores,
)
from owss_ros.core.metrics.components import FOUR_CONNECTIVITY

NO_SIZE_LIMITS = {"min_gt_component_size": 0, "min_pred_component_size": 0}


def shifted_square():
    """GT 4x4 square at rows 2-5, cols 2-5; prediction 4x4 at rows 2-5, cols 4-7."""
    gt = np.zeros((12, 12), dtype=np.uint8)
    gt[2:6, 2:6] = 1
    scores = np.zeros((12, 12))
    scores[2:6, 4:8] = 0.9
    return scores, gt


def bridge_over_two_objects():
    """Two GT 2x4 blocks (cols 0-3 and 6-9) covered by one 2x10 predicted component."""
    gt = np.zeros((6, 12), dtype=np.uint8)
    gt[0:2, 0:4] = 1
    gt[0:2, 6:10] = 1
    scores = np.zeros((6, 12))
    scores[0:2, 0:10] = 1.0
    return scores, gt


def test_thresholds_are_exact_decimals():
    assert SIOU_THRESHOLDS == (0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75)


def test_siou_and_ppv_of_partial_overlap():
    scores, gt = shifted_square()
    result = image_component_scores(scores, gt, 0.5, **NO_SIZE_LIMITS)
    # intersection 8, union 16 + 8 predicted pixels off the anomaly = 24
    np.testing.assert_allclose(result.siou_gt, [8 / 24])
    np.testing.assert_allclose(result.ppv_pred, [8 / 16])


def test_other_gt_components_are_not_counted_in_the_union():
    scores, gt = bridge_over_two_objects()
    result = image_component_scores(scores, gt, 0.5, **NO_SIZE_LIMITS)
    # each object: 8 / (8 + 4 gap pixels); a plain IoU would be 8 / 20
    np.testing.assert_allclose(result.siou_gt, [8 / 12, 8 / 12])
    np.testing.assert_allclose(result.ppv_pred, [16 / 20])


def test_f1_over_thresholds_single_image():
    meter = ComponentMetricsMeter(0.5, **NO_SIZE_LIMITS)
    meter.update(*shifted_square())
    metrics = meter.compute()
    # sIoU 1/3 > tau only for 0.25, 0.30; PPV 0.5 <= tau for tau >= 0.5
    assert metrics.tp_per_threshold == (1, 1) + (0,) * 9
    assert metrics.fn_per_threshold == (0, 0) + (1,) * 9
    assert metrics.fp_per_threshold == (0,) * 5 + (1,) * 6
    assert metrics.f1_per_threshold == (1.0, 1.0) + (0.0,) * 9
    assert metrics.mean_f1 == pytest.approx(2 / 11)
    assert metrics.mean_siou_gt == pytest.approx(1 / 3)
    assert metrics.mean_ppv == pytest.approx(0.5)
    assert (metrics.num_gt_components, metrics.num_pred_components, metrics.num_images) == (1, 1, 1)


def test_pooling_over_images():
    meter = ComponentMetricsMeter(0.5, **NO_SIZE_LIMITS)
    meter.update(*shifted_square())
    meter.update(*bridge_over_two_objects())
    metrics = meter.compute()
    assert metrics.mean_siou_gt == pytest.approx((1 / 3 + 2 / 3 + 2 / 3) / 3)
    assert metrics.mean_ppv == pytest.approx((0.5 + 0.8) / 2)
    # tau .25,.30: TP 3 -> 1; .35-.45: TP 2 FN 1 -> 4/5; .50-.65: TP 2 FN 1 FP 1 -> 2/3; .70,.75: 0
    expected = [1.0] * 2 + [0.8] * 3 + [2 / 3] * 4 + [0.0] * 2
    np.testing.assert_allclose(metrics.f1_per_threshold, expected)
    assert metrics.mean_f1 == pytest.approx(sum(expected) / 11)


def test_strict_comparisons_at_tau():
    gt = np.zeros((4, 8), dtype=np.uint8)
    gt[0:2, 0:2] = 1  # 4 pixels
    scores = np.zeros((4, 8))
    scores[0:2, 0:4] = 1.0  # 8 predicted pixels: sIoU = 4 / 8 = 0.5, PPV = 0.5
    meter = ComponentMetricsMeter(0.5, **NO_SIZE_LIMITS)
    meter.update(scores, gt)
    metrics = meter.compute()
    at_half = SIOU_THRESHOLDS.index(0.5)
    assert metrics.tp_per_threshold[at_half] == 0 and metrics.fn_per_threshold[at_half] == 1
    assert metrics.fp_per_threshold[at_half] == 1
    assert metrics.tp_per_threshold[at_half - 1] == 1 and metrics.fp_per_threshold[at_half - 1] == 0


def test_void_small_components_and_threshold_semantics():
    gt = np.zeros((20, 20), dtype=np.uint8)
    gt[0:10, 0:10] = 1  # 100-pixel object: kept
    gt[15:17, 15:17] = 1  # 4-pixel object: below 5 -> void, prediction on it ignored
    gt[:, 12] = 255  # void column
    scores = np.zeros((20, 20))
    scores[0:10, 0:10] = 0.7  # exactly at the threshold: predicted (score >= threshold)
    scores[:, 12] = 1.0  # prediction on void: removed before labelling
    scores[15:17, 15:17] = 1.0  # prediction on the small object: outside the region of interest
    scores[19, 0:2] = 1.0  # 2-pixel predicted blob: below 3 -> discarded
    result = image_component_scores(scores, gt, 0.7, min_gt_component_size=5, min_pred_component_size=3)
    np.testing.assert_allclose(result.siou_gt, [1.0])
    np.testing.assert_allclose(result.ppv_pred, [1.0])
    kept_small = image_component_scores(scores, gt, 0.7, **NO_SIZE_LIMITS)
    np.testing.assert_allclose(kept_small.siou_gt, [1.0, 1.0])
    np.testing.assert_allclose(kept_small.ppv_pred, [1.0, 1.0, 0.0])
    above = image_component_scores(scores, gt, 0.71, min_gt_component_size=5, min_pred_component_size=3)
    np.testing.assert_allclose(above.siou_gt, [0.0])
    assert len(above.ppv_pred) == 0


def test_eight_connectivity_by_default():
    gt = np.zeros((5, 5), dtype=np.uint8)
    gt[0, 0] = gt[1, 1] = gt[2, 2] = 1  # a diagonal line
    scores = gt.astype(float)
    assert len(image_component_scores(scores, gt, 0.5, **NO_SIZE_LIMITS).siou_gt) == 1
    four = image_component_scores(scores, gt, 0.5, structure=FOUR_CONNECTIVITY, **NO_SIZE_LIMITS)
    np.testing.assert_allclose(four.siou_gt, [1.0, 1.0, 1.0])


def test_default_limits_are_smiyc_anomaly_track_and_empty_cases_are_nan():
    meter = ComponentMetricsMeter(0.5)
    assert (meter.min_gt_component_size, meter.min_pred_component_size) == (100, 500)
    assert SMIYC_ANOMALY_TRACK.min_pred_component_size == 500
    meter.update(*shifted_square())  # both components are too small under the default limits
    metrics = meter.compute()
    assert metrics.num_gt_components == 0 and metrics.num_pred_components == 0
    assert math.isnan(metrics.mean_siou_gt) and math.isnan(metrics.mean_ppv) and math.isnan(metrics.mean_f1)


def test_missed_object_and_false_alarm():
    gt = np.zeros((10, 10), dtype=np.uint8)
    gt[0:3, 0:3] = 1
    scores = np.zeros((10, 10))
    scores[6:9, 6:9] = 1.0  # predicted away from the object
    meter = ComponentMetricsMeter(0.5, **NO_SIZE_LIMITS)
    scores_out = meter.update(torch.from_numpy(scores), torch.from_numpy(gt))
    np.testing.assert_allclose(scores_out.siou_gt, [0.0])
    np.testing.assert_allclose(scores_out.ppv_pred, [0.0])
    metrics = meter.compute()
    assert metrics.f1_per_threshold == (0.0,) * 11
    with pytest.raises(ValueError):
        meter.update(np.zeros((3, 3)), np.zeros((3, 4)))
