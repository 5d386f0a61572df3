import math

import numpy as np
import pytest
import torch
import yaml

from owss_ros.cli.main import main
from owss_ros.core.checkpoint import file_fingerprint
from owss_ros.core.open_set import ScoringConfig, anomaly_probability
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.networks import load_network
from owss_ros.core.calibration import load_calibration
from owss_ros.core.dmlnet import upsampled_output


def pooled_probabilities(model_path, split_path, config):
    network = load_network(model_path, "dml")
    split = AnomalySplit(split_path)
    scores, labels = [], []
    with torch.no_grad():
        for index in range(len(split)):
            sample = split[index]
            distances = network.model.base_distances(upsampled_output(network.model, sample.image))
            scores.append(anomaly_probability(distances, config)[0].numpy())
            labels.append(sample.anomaly)
    return np.stack(scores), np.stack(labels)


def test_calibrate_writes_a_file_the_node_reads_and_lambda_out_reaches_the_target(tmp_path, tiny_models,
                                                                                  calibration_data):
    out = tmp_path / "models" / "default" / "calibration.yaml"
    assert main(["calibrate", "--model", str(tiny_models["dml"]), "--calibration-data", str(calibration_data[0]),
                 "--target-tpr", "0.9", "--score-mode", "eds_mmsp", "--eds-normalization", "fixed",
                 "--novel-shots", "2", "--novel-draws", "2", "--min-shot-pixels", "5", "--out", str(out),
                 "--no-progress"]) == 0
    text = out.read_text()
    assert text.startswith("# Written by `owss_ros calibrate`")
    assert f"# command: python -m owss_ros.cli calibrate --model {tiny_models['dml']}" in text
    calibration = load_calibration(out)
    assert calibration.scoring.eds_range == (162.0, 324.0) and calibration.lambda_novel > 0
    assert calibration.model_fingerprint == file_fingerprint(tiny_models["dml"])
    document = yaml.safe_load(text)
    assert document["score_mode"] == "eds_mmsp" and document["eds_normalization"] == "fixed"
    assert document["temperature"] == 3.0 and document["format_version"] == 2
    assert (document["beta"], document["gamma"], document["provenance"]["target_tpr"]) == (20.0, 0.8, 0.9)

    scores, labels = pooled_probabilities(tiny_models["dml"], calibration_data[0],
                                          ScoringConfig(eds_normalization="fixed"))
    lam = np.float32(calibration.lambda_out)
    anomaly, inlier = labels == 1, labels == 0
    tpr = np.count_nonzero((scores > lam) & anomaly) / np.count_nonzero(anomaly)
    fpr = np.count_nonzero((scores > lam) & inlier) / np.count_nonzero(inlier)
    assert tpr >= 0.9 and tpr == pytest.approx(calibration.provenance["achieved_tpr"]) and fpr == pytest.approx(
        calibration.provenance["achieved_fpr"])
    higher = np.nextafter(lam, np.float32(2))  # the largest such threshold: one step up misses the target
    assert np.count_nonzero((scores > higher) & anomaly) / np.count_nonzero(anomaly) < 0.9


def test_calibrate_for_a_target_fpr(tmp_path, tiny_models, calibration_data):
    out = tmp_path / "calibration.yaml"
    assert main(["calibrate", "--model", str(tiny_models["dml"]), "--calibration-data", str(calibration_data[1]),
                 "--target-fpr", "0.1", "--score-mode", "mmsp", "--novel-shots", "1", "--novel-draws", "1",
                 "--min-shot-pixels", "5", "--out", str(out), "--no-progress"]) == 0
    document = yaml.safe_load(out.read_text())
    provenance = document["provenance"]
    assert provenance["target_fpr"] == 0.1 and "target_tpr" not in provenance
    scores, labels = pooled_probabilities(tiny_models["dml"], calibration_data[1], ScoringConfig(score_mode="mmsp"))
    inlier = labels == 0
    fpr = np.count_nonzero((scores > np.float32(document["lambda_out"])) & inlier) / np.count_nonzero(inlier)
    assert fpr <= 0.1 and fpr == pytest.approx(provenance["achieved_fpr"])
    lower = np.nextafter(np.float32(document["lambda_out"]), np.float32(-1))
    assert np.count_nonzero((scores > lower) & inlier) / np.count_nonzero(inlier) > 0.1
    assert math.isfinite(document["lambda_novel"])


def test_lambda_novel_on_classes_the_model_does_not_know(tmp_path, tiny_data, tiny_models, calibration_data):
    out = tmp_path / "calibration.yaml"
    assert main(["calibrate", "--model", str(tiny_models["dml16"]), "--calibration-data",
                 str(calibration_data[0]), "--novel-data", str(tiny_data), "--novel-classes", "car", "bus",
                 "--novel-shots", "2", "--novel-draws", "2", "--min-shot-pixels", "20", "--out", str(out),
                 "--no-progress"]) == 0
    document = yaml.safe_load(out.read_text())
    draws = document["provenance"]["lambda_novel_per_draw"]
    values = [d["value"] for d in draws]
    assert [d["class"] for d in draws] == ["car", "car", "bus", "bus"]
    assert document["lambda_novel"] == pytest.approx(np.mean(values))
    assert document["eds_range"] == [9.0 * 15, 18.0 * 15]  # T^2 (N-1), 2 T^2 (N-1) for N = 16
    with pytest.raises(ValueError, match="classes of the model"):
        main(["calibrate", "--model", str(tiny_models["dml"]), "--calibration-data", str(calibration_data[0]),
              "--novel-data", str(tiny_data), "--out", str(out), "--no-progress"])
