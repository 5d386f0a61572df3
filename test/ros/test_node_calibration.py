"""The node scores with the scoring its calibration was made for (issue 10's bug), on the real node.

A calibration holding lambda_out fixes score_mode / eds_normalization / eds_range / beta / gamma:
they become the parameters' defaults, a parameter file asking for another scoring stops the node
with both named, and a `ros2 param set` of another scoring is refused; lambda_out itself may be
overridden. Before issue 10 the node read only lambda_out / lambda_novel / eds_range from the file
and scored with the parameter file's eds_normalization.
"""

from __future__ import annotations

import pytest
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.parameter import Parameter, parameter_value_to_python

from owss_ros.core.calibration import Calibration, ScoringDefinition, write_calibration
from owss_ros.core.checkpoint import file_fingerprint
from owss_ros.core.scoring import EDSNormalization, ScoreMode
from perception_node_harness import (
    NodeProcess,
    RosTestClient,
    connect_to_node,
    fast_node_parameters,
    write_params_file,
    write_test_model,
)

NAMESPACE = "/test_calibration"
NODE = f"{NAMESPACE}/perception_node"
CALIBRATED = ScoringDefinition(ScoreMode.EDS_MMSP, EDSNormalization.FIXED, (150.0, 330.0), 15.0, 0.7, 3.0)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("calibration")


@pytest.fixture(scope="module")
def model_path(work_dir):
    model = write_test_model(work_dir / "model.safetensors", seed=4)
    write_calibration(work_dir / "calibration.yaml", Calibration(  # beside the model: found by default
        scoring=CALIBRATED, lambda_out=0.35, lambda_novel=2.5, model_fingerprint=file_fingerprint(model)))
    return model


@pytest.fixture(scope="module")
def client(ros_context, work_dir, model_path):
    params = write_params_file(work_dir / "params.yaml", **fast_node_parameters(model_path, work_dir))
    process = NodeProcess(params, NAMESPACE, work_dir / "node.log").start()
    client = RosTestClient(ros_context)
    connect_to_node(client, process, NAMESPACE)
    yield client
    client.close()
    assert process.stop() == 0, process.log()


def get_parameters(client, *names):
    response = client.call(GetParameters, f"{NODE}/get_parameters", GetParameters.Request(names=list(names)))
    values = [parameter_value_to_python(v) for v in response.values]
    return [list(v) if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else v for v in values]


def set_parameters(client, **values):
    request = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
    return client.call(SetParameters, f"{NODE}/set_parameters", request).results


def test_the_node_scores_with_the_calibrated_scoring(client):
    assert get_parameters(client, "score_mode", "eds_normalization", "eds_range", "beta", "gamma",
                          "lambda_out", "lambda_novel") == [
        "eds_mmsp", "fixed", [150.0, 330.0], 15.0, 0.7, pytest.approx(0.35), pytest.approx(2.5)]


def test_another_scoring_at_runtime_is_refused_naming_both(client):
    result = set_parameters(client, eds_normalization="image_max")[0]
    assert not result.successful
    assert "eds_normalization fixed" in result.reason and "eds_normalization image_max" in result.reason
    result = set_parameters(client, score_mode="mmsp")[0]
    assert not result.successful and "score_mode: eds_mmsp vs mmsp" in result.reason
    assert get_parameters(client, "eds_normalization", "score_mode") == ["fixed", "eds_mmsp"]


def test_lambda_out_alone_may_be_overridden(client):
    assert set_parameters(client, lambda_out=0.2)[0].successful
    assert get_parameters(client, "lambda_out") == [pytest.approx(0.2)]


def test_a_parameter_file_asking_for_another_scoring_stops_the_node(work_dir, model_path):
    params = write_params_file(work_dir / "mismatch.yaml", **fast_node_parameters(
        model_path, work_dir, eds_normalization="image_max", class_store_path=""))
    process = NodeProcess(params, "/test_calibration_mismatch", work_dir / "mismatch.log").start()
    try:
        assert process.wait_exit(60) == 1
    finally:
        process.stop()
    log = process.log()
    assert "eds_normalization fixed" in log and "eds_normalization image_max" in log, log


def test_calibration_path_none_runs_uncalibrated(work_dir, model_path, ros_context):
    params = write_params_file(work_dir / "none.yaml", **fast_node_parameters(
        model_path, work_dir, calibration_path="none", eds_normalization="image_max", class_store_path=""))
    process = NodeProcess(params, "/test_calibration_none", work_dir / "none.log").start()
    client = RosTestClient(ros_context, "calibration_none_client")
    try:
        connect_to_node(client, process, "/test_calibration_none")
        response = client.call(GetParameters, "/test_calibration_none/perception_node/get_parameters",
                               GetParameters.Request(names=["eds_normalization", "lambda_out"]))
        assert [parameter_value_to_python(v) for v in response.values] == ["image_max", pytest.approx(0.5)]
    finally:
        client.close()
        assert process.stop() == 0, process.log()
