import math

import pytest
import torch

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.open_set import ScoringConfig, anomaly_probability, open_set_maps
from owss_ros.core.prototypes import one_hot_prototypes, one_hot_squared_distances, squared_distances
from owss_ros.core.scoring import (
    EDSNormalization,
    ScoreMode,
    close_set_labels,
    close_set_probabilities,
    default_eds_range,
    distance_sum,
    eds_mmsp_mixture,
    eds_probability,
    energy_anomaly,
    max_logit_anomaly,
    mixture_weight,
    mmsp,
    msp_anomaly,
    open_set_labels,
)

N, T = 19, 3.0


def brute_distances(embedding, prototypes):
    diff = embedding[:, None] - prototypes[None, :, :, None, None]
    return (diff**2).sum(dim=2)


def test_squared_distances_match_brute_force():
    torch.manual_seed(0)
    emb = torch.randn(2, 5, 4, 6) * 3
    protos = torch.randn(7, 5)
    torch.testing.assert_close(squared_distances(emb, protos), brute_distances(emb, protos), atol=1e-4, rtol=1e-5)


def test_one_hot_distances_equal_general_form():
    torch.manual_seed(1)
    emb = torch.randn(2, N, 3, 5) * 2
    torch.testing.assert_close(one_hot_squared_distances(emb, T), squared_distances(emb, one_hot_prototypes(N, T)),
                               atol=1e-4, rtol=1e-5)


def test_squared_distances_rejects_mismatched_dims():
    with pytest.raises(ValueError, match="prototypes must be"):
        squared_distances(torch.zeros(1, 3, 2, 2), torch.zeros(4, 5))


def embedding_at(points):
    """(P, C) points -> (1, C, 1, P) embedding map."""
    return points.T[None, :, None, :]


def test_close_set_eq2_eq5_on_prototypes():
    emb = embedding_at(one_hot_prototypes(N, T))  # pixel k sits on prototype k
    d = one_hot_squared_distances(emb, T)
    assert torch.equal(close_set_labels(d)[0, 0], torch.arange(N))
    p = close_set_probabilities(d)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(1, 1, N))
    # on a prototype: d_own = 0 and every other d = 2 T^2 = 18
    expected_max = 1.0 / (1.0 + (N - 1) * math.exp(-2 * T * T))
    torch.testing.assert_close(p.amax(dim=1), torch.full((1, 1, N), expected_max))
    torch.testing.assert_close(mmsp(d), torch.full((1, 1, N), 1 - expected_max))


def test_eds_identity_and_geometric_range():
    centroid = torch.full((1, N), T / N)
    s_centroid = distance_sum(one_hot_squared_distances(embedding_at(centroid), T))
    s_proto = distance_sum(one_hot_squared_distances(embedding_at(one_hot_prototypes(N, T)[:1]), T))
    low, high = default_eds_range(N, T)
    assert (low, high) == (T * T * (N - 1), 2 * T * T * (N - 1)) == (162.0, 324.0)
    torch.testing.assert_close(s_centroid, torch.tensor([[[low]]]))
    torch.testing.assert_close(s_proto, torch.tensor([[[high]]]))
    # S = N ||f - centroid||^2 + T^2 (N - 1) for any f
    torch.manual_seed(2)
    f = torch.randn(6, N) * 2
    s = distance_sum(one_hot_squared_distances(embedding_at(f), T))[0, 0]
    torch.testing.assert_close(s, N * ((f - centroid) ** 2).sum(1) + low, rtol=1e-5, atol=1e-3)


def test_eds_normalisations():
    s = torch.tensor([[[162.0, 243.0, 324.0, 400.0]]])
    torch.testing.assert_close(eds_probability(s, "image_max"), 1 - s / 400.0)
    torch.testing.assert_close(eds_probability(s, "image_minmax"), 1 - (s - 162.0) / (400.0 - 162.0))
    torch.testing.assert_close(eds_probability(s, EDSNormalization.FIXED, 162.0, 324.0),
                               torch.tensor([[[1.0, 0.5, 0.0, 0.0]]]))
    # per image: the second image's max does not leak into the first
    two = torch.stack([s[0], s[0] * 2])
    torch.testing.assert_close(eds_probability(two, "image_max")[1], 1 - two[1] / 800.0)


def test_mixture_eq9_eq10():
    p_eds = torch.tensor([0.8, 0.0, 1.0])
    p_mmsp = torch.tensor([0.2, 0.3, 0.1])
    alpha = mixture_weight(p_eds, 20.0, 0.8)
    torch.testing.assert_close(alpha[0], torch.tensor(0.5))
    expected = alpha * p_eds + (1 - alpha) * p_mmsp
    torch.testing.assert_close(eds_mmsp_mixture(p_eds, p_mmsp, 20.0, 0.8), expected)
    assert abs(float(alpha[1]) - 1 / (1 + math.exp(16))) < 1e-9


def test_open_set_eq1():
    close = torch.tensor([[[1, 2, 3]]])
    anomaly = torch.tensor([[[0.2, 0.5, 0.9]]])
    assert open_set_labels(close, anomaly, 0.5).tolist() == [[[1, 2, UNKNOWN_ID]]]


def test_baselines():
    logits = torch.tensor([[2.0, 0.0, -1.0]])[..., None, None]
    p = torch.softmax(torch.tensor([2.0, 0.0, -1.0]), 0)
    torch.testing.assert_close(msp_anomaly(logits)[0, 0, 0], 1 - p.max())
    assert float(max_logit_anomaly(logits)) == -2.0
    expected_energy = -math.log(math.exp(2) + 1 + math.exp(-1))
    assert abs(float(energy_anomaly(logits)) - expected_energy) < 1e-6


def test_open_set_maps_precedence():
    """Base pixel -> its class, centroid pixel -> unknown, pixel on a novel prototype -> novel id."""
    protos = one_hot_prototypes(N, T)
    centroid = torch.full((N,), T / N)
    novel = centroid.clone()
    novel[0] += 1.0  # a novel prototype off the centroid
    points = torch.stack([protos[4], centroid, novel, protos[7]])
    emb = embedding_at(points)
    config = ScoringConfig(lambda_out=0.5, score_mode=ScoreMode.EDS, eds_normalization="fixed", lambda_novel=0.5)
    plain = open_set_maps(emb, config)
    assert plain.close_labels[0, 0].tolist()[0] == 4
    assert plain.open_labels[0, 0].tolist() == [4, UNKNOWN_ID, UNKNOWN_ID, 7]
    taught = open_set_maps(emb, config, novel[None], torch.tensor([0.5]), torch.tensor([1.0]))
    assert taught.open_labels[0, 0].tolist() == [4, UNKNOWN_ID, N + 0, 7]
    # close-set and anomaly maps are unaffected by taught classes
    assert torch.equal(taught.close_labels, plain.close_labels)
    assert torch.equal(taught.anomaly, plain.anomaly)
    # an unused slot teaches nothing
    off = open_set_maps(emb, config, novel[None], torch.tensor([0.5]), torch.tensor([0.0]))
    assert torch.equal(off.open_labels, plain.open_labels)


@pytest.mark.parametrize("mode", list(ScoreMode))
def test_anomaly_probability_ranks_centroid_above_prototype(mode):
    points = torch.stack([one_hot_prototypes(N, T)[3], torch.full((N,), T / N)])
    config = ScoringConfig(score_mode=mode, eds_normalization="fixed")
    p = anomaly_probability(one_hot_squared_distances(embedding_at(points), T), config)[0, 0]
    assert 0.0 <= float(p[0]) < 0.01 and float(p[1]) > 0.9


def test_scoring_config_validation():
    with pytest.raises(ValueError, match="lambda_out"):
        ScoringConfig(lambda_out=1.5)
    with pytest.raises(ValueError):
        ScoringConfig(score_mode="nonsense")
    with pytest.raises(ValueError, match="eds_range"):
        ScoringConfig(eds_range=(5.0, 1.0))
