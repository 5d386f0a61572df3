import json

import numpy as np
import torch

from owss_ros.cli.main import main
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.metric_space import metric_space_report
from owss_ros.evaluation.networks import load_network
from owss_ros.core.dmlnet import upsampled_output


def test_report_means_match_a_direct_computation(tiny_data, tiny_models):
    network = load_network(tiny_models["dml"])
    split = AnomalySplit(tiny_data / "anomaly")
    report = metric_space_report(network, split, max_images=2)
    norms, sums = [], []
    for i in range(2):
        sample = split[i]
        with torch.no_grad():
            f = upsampled_output(network.model, sample.image)[0]
            d = network.model.base_distances(f[None])[0]
        anomaly = torch.from_numpy(sample.anomaly) == 1
        norms.append(f.norm(dim=0)[anomaly])
        sums.append(d.sum(dim=0)[anomaly])
    assert report["pixels"]["anomaly"] == sum(len(x) for x in norms) > 0
    np.testing.assert_allclose(report["means"]["anomaly"]["norm"], float(torch.cat(norms).double().mean()), rtol=1e-5)
    # EDS identity: sum_t d_t = N ||f - c||^2 + T^2 (N - 1)
    centroid = report["means"]["anomaly"]["centroid"]
    np.testing.assert_allclose(19 * centroid + 9 * 18, float(torch.cat(sums).double().mean()), rtol=1e-4)
    assert set(report["own_per_class"]) <= set(network.spec.class_names) and report["own_per_class"]


def test_cli_prints_the_table_and_writes_the_json(tiny_data, tiny_models, capsys, tmp_path):
    assert main(["metric-space", "--model", str(tiny_models["dml"]), "--data", str(tiny_data / "anomaly"),
                 "--max-images", "1", "--json", str(tmp_path / "space.json")]) == 0
    assert "centroid" in capsys.readouterr().out
    assert "own_per_class" in json.loads((tmp_path / "space.json").read_text())
