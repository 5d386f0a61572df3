"""The closed forms the graph computes equal the paper's literal distance forms (float rounding).

open_world_maps (OneHotStatistics, cross terms before upsampling, channels-last upsampling) vs
reference_open_world_maps (the (B, N, H, W) distance tensor, softmax, Eq. 12 on distances), for
every score mode x EDS normalisation, with taught classes, at feature and upsampled resolutions.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.open_set import open_world_maps, reference_open_world_maps
from owss_ros.core.prototypes import bilinear_weights, upsample, upsample_channels_last, upsample_matmul
from owss_ros.core.scoring import (
    EDSNormalization,
    OneHotStatistics,
    ScoreMode,
    close_set_labels,
    distance_sum,
    mmsp,
)
from owss_ros.core.prototypes import one_hot_squared_distances

N, T = 19, 3.0


def embedding(seed: int, hw=(9, 14)) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, N, (1, *hw), generator=g)
    near = T * torch.nn.functional.one_hot(labels, N).permute(0, 3, 1, 2).float()
    return near * torch.rand(1, 1, *hw, generator=g) + 0.7 * torch.randn(1, N, *hw, generator=g)


@pytest.mark.parametrize("size", [(9, 14), (36, 56), (23, 41), (5, 7)])
def test_channels_last_upsampling_is_the_upsample_rule(size):
    x = embedding(1)
    expected = upsample(x, size).permute(0, 2, 3, 1)
    torch.testing.assert_close(upsample_channels_last(x, size), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("size", [(9, 14), (36, 56), (23, 41), (5, 7)])
def test_channels_first_matmul_upsampling_is_the_upsample_rule(size):
    x = embedding(2)
    torch.testing.assert_close(upsample_matmul(x, size), upsample(x, size), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(upsample_matmul(x[:, 0], size), upsample(x[:, :1], size)[:, 0], atol=1e-5, rtol=1e-5)


def test_bilinear_weight_rows_sum_to_one():
    w = bilinear_weights(37, 8)
    torch.testing.assert_close(w.sum(dim=1), torch.ones(37))
    assert (w >= 0).all() and ((w > 0).sum(dim=1) <= 2).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_statistics_equal_the_distance_forms(seed):
    f = embedding(seed)
    d = one_hot_squared_distances(f, T)
    stats = OneHotStatistics.of(f, T)
    assert torch.equal(stats.labels, close_set_labels(d))
    torch.testing.assert_close(1.0 - stats.max_probability, mmsp(d), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(stats.distance_sum, distance_sum(d), atol=1e-3, rtol=1e-5)
    torch.testing.assert_close(stats.nearest_distance, d.amin(dim=1), atol=1e-4, rtol=1e-5)


def _taught(f: torch.Tensor):
    prototypes = torch.stack([f[0, :, 2, 3], f[0, :, 6, 10], f[0, :, 4, 4]]) + 0.05
    return prototypes, torch.tensor([3.0, 4.0, 5.0]), torch.tensor([1.0, 0.0, 1.0])


@pytest.mark.parametrize("mode,normalization", list(itertools.product(ScoreMode, EDSNormalization)))
@pytest.mark.parametrize("size", [None, (36, 56), (18, 28)])
def test_open_world_maps_equal_the_literal_forms(mode, normalization, size):
    f = embedding(4)
    prototypes, thresholds, valid = _taught(f)
    args = (f, T, normalization, (170.0, 330.0), 12.0, 0.6, mode)
    reference = reference_open_world_maps(*args, 0.0, prototypes, thresholds, valid, size)
    lambda_out = float(reference.anomaly.median())  # both unknown and known pixels
    reference = reference_open_world_maps(*args, lambda_out, prototypes, thresholds, valid, size)
    got = open_world_maps(*args, lambda_out, prototypes, thresholds, valid, size)
    torch.testing.assert_close(got.anomaly, reference.anomaly, atol=2e-5, rtol=1e-4)
    near_threshold = (reference.anomaly - lambda_out).abs() < 1e-4  # a float-rounding tie may flip
    assert torch.equal(got.close_labels, reference.close_labels)
    assert torch.equal(got.open_labels[~near_threshold], reference.open_labels[~near_threshold])
    assert (reference.open_labels == N).any() or (reference.open_labels == N + 2).any()  # a taught class shows


@pytest.mark.parametrize("mode", list(ScoreMode))
def test_split_resolution_keeps_labels_exact_and_resizes_the_scores(mode):
    """score_size: labels as at full size; the anomaly is the coarse one upsampled by the one rule;
    taught slots are the coarse decision resized nearest; the precedence rule runs at full size."""
    f = embedding(5)
    prototypes, thresholds, valid = _taught(f)
    size, score_size = (36, 56), (18, 28)
    args = (f, T, EDSNormalization.FIXED, (170.0, 330.0), 12.0, 0.6, mode)
    coarse = open_world_maps(*args, 0.0, prototypes, thresholds, valid, score_size)
    lambda_out = float(coarse.anomaly.median())
    coarse = open_world_maps(*args, lambda_out, prototypes, thresholds, valid, score_size)
    full = open_world_maps(*args, lambda_out, prototypes, thresholds, valid, size)
    split = open_world_maps(*args, lambda_out, prototypes, thresholds, valid, size, score_size, torch.uint8)
    assert split.close_labels.dtype == split.open_labels.dtype == torch.uint8
    assert torch.equal(split.close_labels.long(), full.close_labels)
    torch.testing.assert_close(split.anomaly, upsample(coarse.anomaly[:, None], size)[:, 0], atol=1e-5, rtol=1e-5)
    taught = torch.nn.functional.interpolate(coarse.open_labels[:, None].float(), size=size, mode="nearest")[:, 0]
    taught = (taught >= N) & (taught != UNKNOWN_ID)
    assert taught.any()
    near_threshold = (split.anomaly - lambda_out).abs() < 1e-4
    unknown = (split.anomaly > lambda_out) & ~taught
    open_labels = split.open_labels.long()
    assert torch.equal(open_labels[taught], torch.nn.functional.interpolate(
        coarse.open_labels[:, None].float(), size=size, mode="nearest")[:, 0].long()[taught])
    assert (open_labels[unknown & ~near_threshold] == UNKNOWN_ID).all()
    rest = ~taught & ~(split.anomaly > lambda_out) & ~near_threshold
    assert torch.equal(open_labels[rest], full.close_labels[rest])
