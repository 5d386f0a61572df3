import numpy as np
import pytest

from owss_ros.core.metrics import anomaly_metrics
from owss_ros.evaluation.thresholds import (
    inverted_labels,
    lambda_out_for_target_fpr,
    lambda_out_for_target_tpr,
    strictly_below,
    threshold_from_metrics,
)


def scores_and_labels(seed=0, n=4000):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.2).astype(np.uint8)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.15), 0, 1).astype(np.float32)
    scores[:50] = scores[50:100]  # ties
    labels[rng.random(n) < 0.05] = 255  # void
    return scores, labels


def rates(scores, labels, lambda_out):
    flagged = scores > np.float32(lambda_out)
    tpr = np.count_nonzero(flagged & (labels == 1)) / np.count_nonzero(labels == 1)
    fpr = np.count_nonzero(flagged & (labels == 0)) / np.count_nonzero(labels == 0)
    return tpr, fpr


def test_strictly_below_turns_score_ge_t_into_score_gt_lambda():
    scores, _ = scores_and_labels()
    for t in scores[:200]:
        lam = strictly_below(float(t))
        assert np.array_equal(scores > np.float32(lam), scores >= t)
        assert np.float32(lam) == lam  # representable in float32: no rounding in a float32 graph


@pytest.mark.parametrize("target", [0.5, 0.9, 0.95])
def test_lambda_out_reaches_the_target_tpr_and_is_the_largest_such_value(target):
    scores, labels = scores_and_labels()
    lam = lambda_out_for_target_tpr(anomaly_metrics(scores, labels, target))
    tpr, _ = rates(scores, labels, lam)
    assert tpr >= target
    next_up = np.nextafter(np.float32(lam), np.float32(2))
    assert rates(scores, labels, next_up)[0] < target  # one float32 step higher misses the target


@pytest.mark.parametrize("target", [0.0, 0.05, 0.2])
def test_lambda_out_for_a_target_fpr_is_the_smallest_value_within_budget(target):
    scores, labels = scores_and_labels(1)
    lam = lambda_out_for_target_fpr(anomaly_metrics(-scores, inverted_labels(labels), 1.0 - target))
    _, fpr = rates(scores, labels, lam)
    assert fpr <= target
    next_down = np.nextafter(np.float32(lam), np.float32(-1))
    assert rates(scores, labels, next_down)[1] > target


def test_inverted_labels_keep_void():
    assert inverted_labels(np.array([0, 1, 255], np.uint8)).tolist() == [1, 0, 255]


def test_threshold_rules():
    scores, labels = scores_and_labels()
    metrics = anomaly_metrics(scores, labels, 0.95)
    assert threshold_from_metrics(metrics, "best-f1").threshold == metrics.best_f1_threshold
    assert threshold_from_metrics(metrics, "tpr").threshold == metrics.threshold_at_tpr
    with pytest.raises(ValueError, match="unknown threshold rule"):
        threshold_from_metrics(metrics, "median")
    with pytest.raises(ValueError, match="no best-f1 threshold"):
        threshold_from_metrics(anomaly_metrics(scores, np.zeros_like(labels)), "best-f1")
