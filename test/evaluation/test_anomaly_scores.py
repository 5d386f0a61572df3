import pytest
import torch
import torch.nn.functional as F

from owss_ros.core.open_set import ScoringConfig, anomaly_probability
from owss_ros.core.scoring import energy_anomaly, max_logit_anomaly, msp_anomaly
from owss_ros.evaluation.anomaly_scores import (
    ALL_METHODS,
    DML_SCORE_MODES,
    baseline_anomaly_scores,
    dml_anomaly_scores,
    methods_for_networks,
)
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.networks import load_network, run_network


@pytest.mark.parametrize("normalization", ["fixed", "image_max", "image_minmax"])
def test_dml_scores_equal_the_core_anomaly_probability_of_each_mode(normalization):
    torch.manual_seed(0)
    distances = torch.rand(2, 19, 6, 7) * 40
    config = ScoringConfig(eds_normalization=normalization, eds_range=(150.0, 330.0) if normalization == "fixed"
                           else None, beta=13.0, gamma=0.6)
    scores = dml_anomaly_scores(distances, config)
    for key, mode in DML_SCORE_MODES.items():
        expected = anomaly_probability(distances, ScoringConfig(**{**config.__dict__, "score_mode": mode}))
        torch.testing.assert_close(scores[key], expected, rtol=0, atol=0)


def test_baseline_formulas():
    logits = torch.tensor([[[[2.0]], [[0.0]], [[-1.0]]]])  # one pixel, three classes
    scores = baseline_anomaly_scores(logits)
    softmax_max = 1.0 / (1.0 + torch.exp(torch.tensor(-2.0)) + torch.exp(torch.tensor(-3.0)))
    assert scores["msp"].item() == pytest.approx(1.0 - softmax_max.item(), abs=1e-6)
    assert scores["max_logit"].item() == pytest.approx(-2.0)
    assert scores["energy"].item() == pytest.approx(-torch.logsumexp(logits, 1).item(), abs=1e-6)


def test_network_pass_gives_the_core_scores_of_upsampled_outputs(tiny_data, tiny_models):
    sample = AnomalySplit(tiny_data / "anomaly")[0]
    config = ScoringConfig()
    ce, dml = load_network(tiny_models["ce"], "ce"), load_network(tiny_models["dml"], "dml")
    with torch.no_grad():
        logits = F.interpolate(ce.model(sample.image), size=sample.anomaly.shape, mode="bilinear",
                               align_corners=False)
        embedding = F.interpolate(dml.model(sample.image), size=sample.anomaly.shape, mode="bilinear",
                                  align_corners=False)
    out = run_network(ce, sample.image, config)
    torch.testing.assert_close(out.scores["msp"], msp_anomaly(logits))
    torch.testing.assert_close(out.scores["max_logit"], max_logit_anomaly(logits))
    torch.testing.assert_close(out.scores["energy"], energy_anomaly(logits))
    assert torch.equal(out.close_labels, logits.argmax(1))
    out = run_network(dml, sample.image, config)
    distances = dml.model.base_distances(embedding)
    torch.testing.assert_close(out.scores["dml_eds_mmsp"], anomaly_probability(distances, config))
    assert torch.equal(out.close_labels, distances.argmin(1))
    assert out.scores["dml_eds"].shape == (1, *sample.anomaly.shape)


def test_methods_follow_the_networks_given(tiny_models):
    assert [m.label for m in methods_for_networks({"ce"})] == ["MSP", "MaxLogit", "Energy"]
    assert [m.label for m in methods_for_networks({"dml", "ce"})] == [m.label for m in ALL_METHODS]
    with pytest.raises(ValueError, match="expected a 'dml' model"):
        load_network(tiny_models["ce"], "dml")
