"""Runtime parameters over the node's real parameter services, and subscription behaviour.

rclpy has no `ros2 param` CLI here, so the test calls /<ns>/perception_node/set_parameters
and get_parameters (rcl_interfaces) itself, as `ros2 param set` would.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.open_set import ScoringConfig
from owss_ros.core.scoring import EDSNormalization, ScoreMode
from owss_ros.msg import ClassList
from owss_ros.ros.image_conversion import image_to_float32, image_to_mono8
from perception_node_harness import (
    BEST_EFFORT,
    RELIABLE_LATCHED,
    NodeProcess,
    RosTestClient,
    connect_to_node,
    fast_node_parameters,
    has_stamp,
    local_backend,
    local_infer,
    rectangle_frame,
    rgb_frame_message,
    write_params_file,
    write_test_model,
)

NAMESPACE = "/test_parameters"
NODE = f"{NAMESPACE}/perception_node"
FRAME = rectangle_frame((40, 90, 160), (240, 200, 30), (20, 70, 30, 120))[0]


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("parameters")


@pytest.fixture(scope="module")
def model_path(work_dir):
    return write_test_model(work_dir / "model.safetensors", seed=2)


@pytest.fixture(scope="module")
def node(ros_context, work_dir, model_path):
    params = write_params_file(work_dir / "params.yaml", **fast_node_parameters(
        model_path, work_dir, unsubscribe_when_idle=True, lambda_out=0.4))
    process = NodeProcess(params, NAMESPACE, work_dir / "node.log").start()
    yield process
    assert process.stop() == 0, process.log()


@pytest.fixture(scope="module")
def client(ros_context, node):
    client = RosTestClient(ros_context)
    connect_to_node(client, node, NAMESPACE)
    client.publisher(f"{NAMESPACE}/image", Image, BEST_EFFORT)
    yield client
    client.close()


@pytest.fixture(scope="module")
def backend(model_path):
    torch.set_num_threads(1)
    return local_backend(model_path)


def set_parameters(client, **values):
    request = SetParameters.Request(parameters=[Parameter(k, value=v).to_parameter_msg() for k, v in values.items()])
    return client.call(SetParameters, f"{NODE}/set_parameters", request).results


def get_parameters(client, *names):
    response = client.call(GetParameters, f"{NODE}/get_parameters", GetParameters.Request(names=list(names)))
    values = [parameter_value_to_python(v) for v in response.values]
    return [list(v) if not isinstance(v, (str, bytes)) and hasattr(v, "__len__") else v for v in values]


def image_subscriptions(client):
    return client.node.get_subscriptions_info_by_topic(f"{NAMESPACE}/image")


def outputs_for(client, sec):
    msg = rgb_frame_message(FRAME, sec)
    client.publish_until(f"{NAMESPACE}/image", msg, f"{NODE}/open_set", has_stamp(sec))
    return {name: client.wait_for_message(f"{NODE}/{name}", has_stamp(sec))
            for name in ("labels", "anomaly", "open_set")}


def test_camera_subscription_is_sensor_data_qos_and_dropped_while_idle(client):
    assert image_subscriptions(client) == []  # no output subscriber yet: no camera subscription
    for name in ("labels", "anomaly", "open_set"):
        client.subscribe(f"{NODE}/{name}", Image)
    client.wait_until(lambda: len(image_subscriptions(client)) == 1, what="the camera subscription")
    assert image_subscriptions(client)[0].qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT
    client.unsubscribe(f"{NODE}/labels")
    client.unsubscribe(f"{NODE}/anomaly")
    client.unsubscribe(f"{NODE}/open_set")
    client.wait_until(lambda: image_subscriptions(client) == [], what="the camera subscription to go")
    client.subscribe(f"{NODE}/open_set", Image)
    client.wait_until(lambda: len(image_subscriptions(client)) == 1, what="the camera subscription")


def test_parameter_file_value_overrides_the_default(client):
    assert get_parameters(client, "lambda_out", "score_mode") == [pytest.approx(0.4), "eds_mmsp"]


def test_valid_changes_are_accepted_and_take_effect(client, backend):
    for name in ("labels", "anomaly", "open_set"):
        client.subscribe(f"{NODE}/{name}", Image)
    client.subscribe(f"{NODE}/class_list", ClassList, RELIABLE_LATCHED)

    results = set_parameters(client, lambda_out=1.0)
    assert results[0].successful, results[0].reason
    client.wait_for_message(f"{NODE}/class_list", lambda m: m.threshold == pytest.approx(1.0))
    out = outputs_for(client, 10)
    assert (image_to_mono8(out["open_set"]) == image_to_mono8(out["labels"])).all()  # nothing is unknown

    assert set_parameters(client, lambda_out=0.05)[0].successful
    out = outputs_for(client, 11)
    anomaly, open_set = image_to_float32(out["anomaly"]), image_to_mono8(out["open_set"])
    assert (open_set == UNKNOWN_ID).any()
    np.testing.assert_array_equal(open_set == UNKNOWN_ID, anomaly > 0.05)

    results = set_parameters(client, score_mode="eds", eds_normalization="fixed", eds_range=[150.0, 400.0])
    assert all(r.successful for r in results), [r.reason for r in results]
    assert get_parameters(client, "score_mode", "eds_normalization", "eds_range") == ["eds", "fixed", [150.0, 400.0]]
    out = outputs_for(client, 12)
    config = ScoringConfig(lambda_out=0.05, score_mode=ScoreMode.EDS, eds_normalization=EDSNormalization.FIXED,
                           eds_range=(150.0, 400.0))
    np.testing.assert_allclose(image_to_float32(out["anomaly"]), local_infer(backend, FRAME, config=config).anomaly,
                               atol=1e-4)


@pytest.mark.parametrize("name, value, reason", [
    ("lambda_out", 1.5, ""),  # outside the descriptor's range: rclpy refuses it
    ("lambda_novel", -1.0, ""),
    ("gamma", float("nan"), ""),
    ("score_mode", "bogus", "score_mode 'bogus' is not one of eds_mmsp, eds, mmsp"),
    ("eds_normalization", "max", "eds_normalization"),
    ("eds_range", [5.0, 1.0], "eds_range"),
    ("eds_range", [1.0, 2.0, 3.0], "eds_range must be [low, high]"),
    ("lambda_out", "high", ""),  # wrong type
    ("model_path", "/tmp/other.safetensors", "read-only"),
    ("input_height", 128, "read-only"),
])
def test_invalid_values_are_refused_with_a_reason(client, name, value, reason):
    before = get_parameters(client, name)
    result = set_parameters(client, **{name: value})[0]
    assert not result.successful
    assert result.reason and reason in result.reason, result.reason
    assert get_parameters(client, name) == before


def test_node_keeps_working_after_refusals(client):
    out = outputs_for(client, 20)
    assert out["labels"].header.stamp.sec == 20
