import json

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from owss_ros.cli.main import main
from owss_ros.core.metrics import ComponentMetricsMeter, PerImageAnomalyMeter, anomaly_metrics
from owss_ros.core.open_set import ScoringConfig, anomaly_probability
from owss_ros.evaluation.anomaly_benchmark import scaled_component_limits
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.networks import load_network
from owss_ros.core.dmlnet import upsampled_output


def run_evaluate(out, tiny_data, tiny_models, calibration, *extra, anomaly=("anomaly", "streethazards")):
    argv = ["evaluate", "--dml-model", str(tiny_models["dml"]), "--out", str(out), "--no-progress",
            "--calibration-data", str(calibration), "--examples", "2", *extra]
    for name in anomaly:
        argv += ["--anomaly-data", str(tiny_data / name)]
    assert main(argv) == 0
    return json.loads((out / "anomaly_results.json").read_text())


def eds_mmsp_maps(network, split):
    config = ScoringConfig(temperature=network.spec.temperature, eds_normalization="fixed")
    with torch.no_grad():
        for index in range(len(split)):
            sample = split[index]
            distances = network.model.base_distances(upsampled_output(network.model, sample.image))
            yield anomaly_probability(distances, config)[0].numpy(), sample.anomaly


@pytest.fixture(scope="module")
def full_run(tmp_path_factory, tiny_data, tiny_models, calibration_data):
    out = tmp_path_factory.mktemp("evaluate_full")
    document = run_evaluate(out, tiny_data, tiny_models, calibration_data[0], "--ce-model",
                            str(tiny_models["ce"]), "--val-data", str(tiny_data))
    return out, document


def test_evaluate_writes_tables_json_and_figures(full_run, capsys):
    out, document = full_run
    for name in ("anomaly", "streethazards"):
        for suffix in ("_roc.png", "_pr.png", "_curves.json"):
            assert (out / f"{name}{suffix}").stat().st_size > 1000
        panels = sorted((out / f"{name}_examples").glob("*.png"))
        assert len(panels) == 2 and all(p.stat().st_size > 1000 for p in panels)
        rows = document["splits"][name]["methods"]
        assert [r["label"] for r in rows.values()] == ["MSP", "MaxLogit", "Energy", "DML-MMSP", "DML-EDS",
                                                       "DML-EDS+MMSP"]
        for row in rows.values():
            for protocol in ("pooled", "per_image"):
                assert 0.0 <= row[protocol]["auroc"] <= 1.0 and 0.0 <= row[protocol]["aupr"] <= 1.0
            assert row["components"]["num_gt_components"] > 0
    assert document["splits"]["streethazards"]["split"]["layout"] == "streethazards"
    for kind in ("dml", "ce"):
        assert 0.0 <= document["close_set_miou_val"][kind]["miou"] <= 1.0
        assert len(document["close_set_miou_val"][kind]["iou_per_class"]) == 19
        assert 0.0 <= document["splits"]["anomaly"]["close_set_miou"][kind]["miou"] <= 1.0
    assert document["scoring"]["eds_normalization"] == "fixed"
    assert document["scoring"]["eds_range"] == [162.0, 324.0]  # T^2 (N-1), 2 T^2 (N-1) for N = 19, T = 3
    tables = (out / "tables.md").read_text()
    assert "| DML-EDS+MMSP | dml |" in tables and "sIoU gt" in tables


def test_evaluate_numbers_equal_a_direct_computation_with_the_meters(full_run, tiny_data, tiny_models,
                                                                     calibration_data):
    _, document = full_run
    network = load_network(tiny_models["dml"], "dml")
    calibration = list(eds_mmsp_maps(network, AnomalySplit(calibration_data[0])))
    threshold = anomaly_metrics(np.stack([s for s, _ in calibration]),
                                np.stack([a for _, a in calibration])).best_f1_threshold
    test = list(eds_mmsp_maps(network, AnomalySplit(tiny_data / "anomaly")))
    scores, labels = np.stack([s for s, _ in test]), np.stack([a for _, a in test])
    row = document["splits"]["anomaly"]["methods"]["dml_eds_mmsp"]

    pooled = anomaly_metrics(scores, labels, 0.95)
    for key in ("auroc", "fpr_at_tpr", "aupr", "num_positive", "num_negative"):
        assert row["pooled"][key] == pytest.approx(getattr(pooled, key), rel=1e-12, abs=1e-12)
    valid = labels != 255
    assert row["pooled"]["auroc"] == pytest.approx(roc_auc_score(labels[valid], scores[valid]), abs=1e-9)
    assert row["pooled"]["aupr"] == pytest.approx(average_precision_score(labels[valid], scores[valid]), abs=1e-9)

    per_image = PerImageAnomalyMeter(0.95)
    components = ComponentMetricsMeter(threshold, **scaled_component_limits(64, 128).__dict__)
    for score, anomaly in test:
        per_image.update(score, anomaly)
        components.update(score, anomaly)
    expected = per_image.compute()
    for key in ("auroc", "fpr_at_tpr", "aupr", "num_images_used"):
        assert row["per_image"][key] == pytest.approx(getattr(expected, key), abs=1e-12)
    assert row["components"]["threshold"]["threshold"] == threshold
    expected = components.compute()
    for key in ("mean_siou_gt", "mean_ppv", "mean_f1", "num_gt_components", "num_pred_components"):
        assert row["components"][key] == pytest.approx(getattr(expected, key), abs=1e-12)


def test_component_thresholds_come_from_the_calibration_split_only(full_run, tmp_path, tiny_data, tiny_models,
                                                                  calibration_data):
    _, document = full_run
    reference = document["component_thresholds"]["per_method"]
    other_test = run_evaluate(tmp_path / "a", tiny_data, tiny_models, calibration_data[0], "--max-images", "2",
                              "--min-pred-component", "40", anomaly=("streethazards",))
    limits = other_test["splits"]["streethazards"]["component_size_limits"]
    assert limits == {"min_gt_component_size": 1, "min_pred_component_size": 40}
    assert other_test["component_thresholds"]["source"] == "calibration split"
    for key, value in other_test["component_thresholds"]["per_method"].items():
        assert value["threshold"] == reference[key]["threshold"]  # the test split changed, the thresholds not
    other_calibration = run_evaluate(tmp_path / "b", tiny_data, tiny_models, calibration_data[1],
                                     anomaly=("streethazards",))
    changed = [other_calibration["component_thresholds"]["per_method"][k]["threshold"] != reference[k]["threshold"]
               for k in other_calibration["component_thresholds"]["per_method"]]
    assert any(changed)


def test_component_sizes_scale_with_the_frame_area():
    limits = scaled_component_limits(256, 512)  # 16x fewer pixels than SegmentMeIfYouCan's 2048x1024
    assert (limits.min_gt_component_size, limits.min_pred_component_size) == (6, 31)
    assert scaled_component_limits(1024, 2048).min_pred_component_size == 500


def test_without_calibration_data_no_component_metrics(tmp_path, tiny_data, tiny_models):
    assert main(["evaluate", "--ce-model", str(tiny_models["ce"]), "--anomaly-data", str(tiny_data / "anomaly"),
                 "--out", str(tmp_path), "--no-progress", "--examples", "0"]) == 0
    document = json.loads((tmp_path / "anomaly_results.json").read_text())
    assert document["component_thresholds"] is None
    assert document["splits"]["anomaly"]["methods"]["msp"]["components"] is None
