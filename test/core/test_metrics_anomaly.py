"""Pixel-level anomaly metrics against scikit-learn, hand values and memory bounds."""

import math
import os

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from owss_ros.core.metrics import (
    ExactPooledAnomalyMeter,
    HistogramPooledAnomalyMeter,
    PerImageAnomalyMeter,
    anomaly_curves,
    anomaly_metrics,
    make_pooled_anomaly_meter,
)

TOL = 1e-6


def sklearn_reference(scores, labels, tpr_target=0.95):
    scores, labels = np.ravel(scores), np.ravel(labels)
    valid = labels != 255
    y, s = labels[valid], scores[valid]
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    return {"auroc": roc_auc_score(y, s), "aupr": average_precision_score(y, s),
            "fpr_at_tpr": fpr[np.searchsorted(tpr, tpr_target, side="left")]}


def assert_matches(metrics, reference):
    assert metrics.auroc == pytest.approx(reference["auroc"], abs=TOL)
    assert metrics.aupr == pytest.approx(reference["aupr"], abs=TOL)
    assert metrics.fpr_at_tpr == reference["fpr_at_tpr"]  # same float divisions: bit-identical


def make_case(name, rng, size=6000):
    labels = (rng.random(size) < 0.2).astype(np.uint8)
    if name == "continuous":
        scores = rng.normal(size=size) + 0.8 * labels
    elif name == "heavy_ties":
        scores = rng.integers(0, 4, size).astype(np.float64) + (labels & (rng.random(size) < 0.5))
    elif name == "quantised_float16":
        scores = (rng.random(size) * 0.5 + 0.3 * labels).astype(np.float16)
    elif name == "with_void":
        scores = rng.random(size) + 0.2 * labels
        labels[rng.random(size) < 0.3] = 255
    elif name == "constant_block":  # a huge tie spanning many runs and merge windows
        scores = np.where(rng.random(size) < 0.7, 0.5, rng.random(size)) + 0.01 * labels
    else:
        raise ValueError(name)
    return scores, labels


CASES = ["continuous", "heavy_ties", "quantised_float16", "with_void", "constant_block"]


def feed(meter, scores, labels, images=13):
    for part in np.array_split(np.arange(len(scores)), images):
        meter.update(scores[part], labels[part])
    return meter


@pytest.mark.parametrize("case", CASES)
def test_in_memory_and_exact_pooled_match_sklearn(case, tmp_path):
    scores, labels = make_case(case, np.random.default_rng(CASES.index(case)))
    reference = sklearn_reference(scores, labels)
    assert_matches(anomaly_metrics(scores, labels), reference)

    no_spill = feed(ExactPooledAnomalyMeter(), scores, labels).compute()
    spilled_meter = ExactPooledAnomalyMeter(chunk_pixels=97, merge_budget_pixels=64, min_window_pixels=3,
                                            spill_dir=str(tmp_path))
    spilled = feed(spilled_meter, scores, labels).compute()
    assert spilled_meter.num_spilled_runs > 50
    assert_matches(spilled, reference)
    assert_matches(no_spill, reference)
    assert spilled.auroc == no_spill.auroc  # exact integer numerator in both
    assert spilled.aupr == pytest.approx(no_spill.aupr, abs=1e-12)
    assert (spilled.num_positive, spilled.num_negative) == (no_spill.num_positive, no_spill.num_negative)
    assert spilled.best_f1_threshold == no_spill.best_f1_threshold
    spilled_meter.close()


def test_hand_computed_values():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 0, 1, 1, 0, 0])
    metrics = anomaly_metrics(scores, labels)
    assert metrics.auroc == pytest.approx(7 / 9)
    assert metrics.aupr == pytest.approx((1 + 2 / 3 + 3 / 4) / 3)
    assert metrics.fpr_at_tpr == pytest.approx(1 / 3)
    assert metrics.threshold_at_tpr == 0.6
    assert metrics.best_f1 == pytest.approx(6 / 7)
    assert metrics.best_f1_threshold == 0.6
    assert (metrics.num_positive, metrics.num_negative) == (3, 3)
    assert metrics.as_dict()["auroc"] == metrics.auroc


def test_fpr_uses_full_curve_not_thinned_one():
    # 100 thresholds holding one anomaly and one inlier each: the ROC is a straight line that
    # roc_curve's default drop_intermediate=True thins to its two ends.
    scores = np.repeat(np.arange(100.0), 2)
    labels = np.tile([1, 0], 100)
    metrics = anomaly_metrics(scores, labels)
    assert metrics.fpr_at_tpr == pytest.approx(0.95)
    fpr_thin, tpr_thin, _ = roc_curve(labels, scores)
    assert fpr_thin[np.searchsorted(tpr_thin, 0.95)] == 1.0
    assert metrics.auroc == pytest.approx(0.5)


@pytest.mark.parametrize("target", [0.5, 0.8, 0.99, 1.0])
def test_tpr_target_parameter(target):
    scores, labels = make_case("heavy_ties", np.random.default_rng(7), 3000)
    metrics = anomaly_metrics(scores, labels, tpr_target=target)
    assert metrics.tpr_target == target
    assert metrics.fpr_at_tpr == sklearn_reference(scores, labels, target)["fpr_at_tpr"]
    with pytest.raises(ValueError):
        anomaly_metrics(scores, labels, tpr_target=0.0)


def test_degenerate_inputs_give_documented_nans():
    only_negative = anomaly_metrics(np.array([0.1, 0.5]), np.array([0, 0]))
    assert math.isnan(only_negative.auroc) and math.isnan(only_negative.aupr)
    assert math.isnan(only_negative.fpr_at_tpr) and only_negative.num_negative == 2
    only_positive = anomaly_metrics(np.array([0.1, 0.5, 0.5]), np.array([1, 1, 255]))
    assert math.isnan(only_positive.auroc) and math.isnan(only_positive.fpr_at_tpr)
    assert only_positive.aupr == 1.0 and only_positive.num_positive == 2
    all_void = ExactPooledAnomalyMeter()
    all_void.update(np.ones((4, 4)), np.full((4, 4), 255))
    empty = all_void.compute()
    assert math.isnan(empty.auroc) and math.isnan(empty.aupr) and empty.num_positive == 0
    constant = anomaly_metrics(np.zeros(10), np.array([1] * 3 + [0] * 7))
    assert constant.auroc == 0.5 and constant.aupr == pytest.approx(0.3) and constant.fpr_at_tpr == 1.0


def test_invalid_inputs_raise():
    with pytest.raises(ValueError):
        anomaly_metrics(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError):
        anomaly_metrics(np.array([0.0, np.nan]), np.array([0, 1]))
    with pytest.raises(ValueError):
        anomaly_metrics(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError):
        make_pooled_anomaly_meter("sampling")


def test_torch_tensors_are_accepted():
    scores, labels = make_case("with_void", np.random.default_rng(3), 500)
    metrics = anomaly_metrics(torch.from_numpy(scores).float(), torch.from_numpy(labels))
    assert_matches(metrics, sklearn_reference(scores.astype(np.float32), labels))


def test_exact_buffer_never_exceeds_chunk_and_runs_are_cleaned(tmp_path):
    rng = np.random.default_rng(11)
    chunk = 5000
    meter = ExactPooledAnomalyMeter(chunk_pixels=chunk, spill_dir=str(tmp_path))
    all_scores, all_labels = [], []
    for _ in range(60):
        labels = (rng.random((48, 64)) < 0.05).astype(np.uint8)
        labels[:4] = 255
        scores = rng.random((48, 64), dtype=np.float32) + 0.5 * labels
        meter.update(scores, labels)
        assert meter.buffered_pixels <= chunk
        assert meter._spiller._buffer.size == chunk
        all_scores.append(scores)
        all_labels.append(labels)
    assert meter.peak_buffered_pixels == chunk
    assert meter.num_spilled_runs >= 2 * (60 * 44 * 64 // chunk) - 1
    run_dir = meter._spiller.directory
    stored_pixels = sum(os.path.getsize(os.path.join(run_dir, f)) for f in os.listdir(run_dir)) // 8
    assert stored_pixels + meter.buffered_pixels == 60 * 44 * 64
    assert_matches(meter.compute(), sklearn_reference(np.stack(all_scores), np.stack(all_labels)))
    meter.close()
    assert not os.path.exists(run_dir)


def test_compute_then_more_images():
    scores, labels = make_case("continuous", np.random.default_rng(5), 4000)
    meter = ExactPooledAnomalyMeter(chunk_pixels=300, min_window_pixels=4)
    feed(meter, scores[:2000], labels[:2000], images=4)
    assert_matches(meter.compute(), sklearn_reference(scores[:2000], labels[:2000]))
    feed(meter, scores[2000:], labels[2000:], images=4)
    assert_matches(meter.compute(), sklearn_reference(scores, labels))
    meter.reset()
    assert meter.num_positive == 0 and meter.buffered_pixels == 0
    meter.close()


def test_full_curves_equal_sklearn():
    scores, labels = make_case("heavy_ties", np.random.default_rng(2), 2000)
    curves = anomaly_curves(scores, labels)
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(curves.fpr, fpr, atol=1e-12)
    np.testing.assert_allclose(curves.tpr, tpr, atol=1e-12)
    np.testing.assert_array_equal(curves.roc_thresholds[1:], thresholds[1:])
    precision, recall, pr_thresholds = precision_recall_curve(labels, scores)
    np.testing.assert_allclose(curves.precision, precision, atol=1e-12)
    np.testing.assert_allclose(curves.recall, recall, atol=1e-12)
    np.testing.assert_array_equal(curves.pr_thresholds, pr_thresholds)


def test_downsampled_pooled_curves_are_exact_points_of_the_full_curve():
    scores, labels = make_case("continuous", np.random.default_rng(4), 20000)
    meter = feed(ExactPooledAnomalyMeter(chunk_pixels=3000, curve_points=101), scores, labels)
    curves = meter.curves()
    assert 50 <= len(curves.fpr) <= 101 and len(curves.precision) <= 101
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    index = np.searchsorted(-thresholds, -curves.roc_thresholds)  # thresholds are decreasing
    np.testing.assert_array_equal(thresholds[index], curves.roc_thresholds)
    np.testing.assert_allclose(curves.fpr, fpr[index], atol=1e-12)
    np.testing.assert_allclose(curves.tpr, tpr[index], atol=1e-12)
    assert (curves.fpr[0], curves.tpr[0], curves.fpr[-1], curves.tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.max(np.diff(curves.tpr)) <= 2 * 2 / (101 - 3) + 1e-9  # spread along the TPR axis
    assert np.max(np.diff(curves.fpr)) <= 2 * 2 / (101 - 3) + 1e-9
    assert curves.recall[0] == 1.0 and curves.precision[-1] == 1.0 and curves.recall[-1] == 0.0
    meter.close()


def test_histogram_mode_within_stated_tolerance():
    rng = np.random.default_rng(9)
    labels = (rng.random(200_000) < 0.1).astype(np.uint8)
    scores = np.clip(rng.normal(0.4, 0.15, labels.size) + 0.15 * labels, 0.0, 1.0)
    exact = anomaly_metrics(scores, labels)
    meter = feed(make_pooled_anomaly_meter("histogram"), scores, labels, images=5)
    approx = meter.compute()
    bound = meter.auroc_error_bound()
    assert 0 < bound < 1e-4
    assert abs(approx.auroc - exact.auroc) <= bound + 1e-12
    assert abs(approx.aupr - exact.aupr) < 1e-3
    assert exact.fpr_at_tpr <= approx.fpr_at_tpr < exact.fpr_at_tpr + 1e-3
    assert (approx.num_positive, approx.num_negative) == (exact.num_positive, exact.num_negative)
    assert len(meter.curves().fpr) <= 1000


def test_histogram_is_exact_for_scores_at_bin_centres_and_clamps():
    rng = np.random.default_rng(10)
    labels = (rng.random(5000) < 0.3).astype(np.uint8)
    scores = (rng.integers(0, 50, labels.size) + 10 * labels + 0.5) / 64.0  # centres of 64 bins on [0,1)
    meter = HistogramPooledAnomalyMeter(num_bins=64, score_range=(0.0, 1.0))
    meter.update(scores, labels)
    assert_matches(meter.compute(), sklearn_reference(scores, labels))
    assert meter.num_clamped == 0
    meter.update(np.array([-3.0, 7.0]), np.array([0, 1]))
    assert meter.num_clamped == 2
    assert meter.negative_counts[0] >= 1 and meter.positive_counts[-1] >= 1
    with pytest.raises(ValueError):
        HistogramPooledAnomalyMeter(score_range=(1.0, 1.0))


def test_per_image_protocol_matches_per_image_sklearn_loop():
    rng = np.random.default_rng(12)
    meter = PerImageAnomalyMeter()
    references = []
    for index in range(12):
        labels = np.zeros((30, 40), dtype=np.uint8)
        if index % 4 != 0:  # every 4th image has no anomaly
            labels[5:5 + index, 10:20] = 1
        labels[:3] = 255
        if index == 6:  # anomaly and void only
            labels[labels == 0] = 255
        scores = rng.random(labels.shape) + 0.3 * (labels == 1)
        result = meter.update(scores, labels)
        valid = labels != 255
        if (labels == 1).any() and (labels[valid] == 0).any():
            references.append(sklearn_reference(scores, labels))
            assert result is not None
        else:
            assert result is None
    summary = meter.compute()
    assert summary.num_images_used == len(references) == 8
    assert (summary.num_skipped_no_anomaly, summary.num_skipped_no_inlier, summary.num_images_seen) == (3, 1, 12)
    for name in ("auroc", "aupr", "fpr_at_tpr"):
        assert getattr(summary, name) == pytest.approx(np.mean([r[name] for r in references]), abs=TOL)
    assert math.isnan(PerImageAnomalyMeter().compute().auroc)
