"""The perception node as a process: every output, its encoding, size, stamp, frame_id and values.

One node process serves the whole module (start-up costs seconds). Expected values come from
the same torch backend run in the test process on the same model file.
"""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray
from PIL import Image as PILImage
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from owss_ros.core.checkpoint import file_fingerprint
from owss_ros.core.class_set import ClassSet
from owss_ros.core.classes import CITYSCAPES_CLASSES, UNKNOWN_ID
from owss_ros.msg import ClassInfo, ClassList
from owss_ros.ros.image_conversion import (
    array_to_compressed_png,
    image_to_array,
    image_to_float32,
    image_to_mono8,
    mono8_to_image,
)
from owss_ros.runtime.overlay import palette_lut, render_overlay
from perception_node_harness import (
    RELIABLE_LATCHED,
    SCALED_HW,
    NodeProcess,
    RosTestClient,
    connect_to_node,
    fast_node_parameters,
    has_stamp,
    local_backend,
    local_infer,
    rgb_frame_message,
    write_params_file,
    write_test_model,
)

NAMESPACE = "/test_outputs"
NODE = f"{NAMESPACE}/perception_node"
MAP_TOPICS = {name: f"{NODE}/{name}" for name in ("labels", "anomaly", "open_set", "overlay")}
INFO_TOPIC = f"{NODE}/camera_info"


def textured_frame(seed: int) -> np.ndarray:
    """A camera frame with blocks of random colour (varied labels and anomaly scores)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, size=(6, 10, 3), dtype=np.uint8)
    return np.repeat(np.repeat(blocks, 16, axis=0), 16, axis=1)  # 96 x 160


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("outputs")


@pytest.fixture(scope="module")
def model_path(work_dir):
    return write_test_model(work_dir / "model.safetensors")


@pytest.fixture(scope="module")
def node(ros_context, work_dir, model_path):
    params = write_params_file(work_dir / "params.yaml", **fast_node_parameters(
        model_path, work_dir, subscribe_compressed=True,
        # Reliable, deep input queue here, so that a burst reaches the node's callback intact and
        # the latest-frame-wins hand-over (not the DDS history) is what drops frames.
        image_qos_reliability="reliable", image_qos_depth=50))
    process = NodeProcess(params, NAMESPACE, work_dir / "node.log").start()
    yield process
    assert process.stop() == 0, process.log()


@pytest.fixture(scope="module")
def client(ros_context, node):
    client = RosTestClient(ros_context)
    connect_to_node(client, node, NAMESPACE)
    client.publisher(f"{NAMESPACE}/image", Image)
    client.publisher(f"{NAMESPACE}/image/compressed", CompressedImage)
    client.publisher(f"{NAMESPACE}/camera_info", CameraInfo)
    yield client
    client.close()


@pytest.fixture(scope="module")
def backend(model_path):
    torch.set_num_threads(1)
    return local_backend(model_path)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    assert a.shape == b.shape
    return float((a == b).mean())


def camera_info(frame_id="camera_test") -> CameraInfo:
    info = CameraInfo(width=160, height=96, distortion_model="plumb_bob")
    info.header.frame_id = frame_id
    info.k = [200.0, 0.0, 80.0, 0.0, 210.0, 48.0, 0.0, 0.0, 1.0]
    info.p = [200.0, 0.0, 80.0, -20.0, 0.0, 210.0, 48.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.d = [0.1, -0.05, 0.0, 0.0, 0.0]
    return info


def test_every_output_carries_stamp_frame_id_encoding_size_and_values(client, backend):
    for topic in MAP_TOPICS.values():
        client.subscribe(topic, Image)
    client.subscribe(INFO_TOPIC, CameraInfo)
    frame = textured_frame(1)
    msg = rgb_frame_message(frame, sec=1000, nanosec=5, frame_id="cam_front")
    info_publisher = client.publisher(f"{NAMESPACE}/camera_info", CameraInfo)

    def publish_info_and_wait():
        info_publisher.publish(camera_info())
        return client.publish_until(f"{NAMESPACE}/image", msg, INFO_TOPIC, has_stamp(1000, 5), timeout=3.0)

    for attempt in range(5):  # camera_info travels best effort: repeat until it is used
        try:
            info = publish_info_and_wait()
            break
        except TimeoutError:
            if attempt == 4:
                raise
    outputs = {name: client.wait_for_message(topic, has_stamp(1000, 5)) for name, topic in MAP_TOPICS.items()}
    h, w = SCALED_HW
    expected_encoding = {"labels": "mono8", "anomaly": "32FC1", "open_set": "mono8", "overlay": "rgb8"}
    bytes_per_pixel = {"labels": 1, "anomaly": 4, "open_set": 1, "overlay": 3}
    for name, out in outputs.items():
        assert out.header.frame_id == "cam_front", name
        assert out.encoding == expected_encoding[name], name
        assert (out.height, out.width, out.step) == (h, w, w * bytes_per_pixel[name]), name

    expected = local_infer(backend, frame)
    labels = image_to_mono8(outputs["labels"])
    assert agreement(labels, expected.close_labels) > 0.99
    open_set = image_to_mono8(outputs["open_set"])
    assert agreement(open_set, expected.open_labels) > 0.99
    assert UNKNOWN_ID in open_set and set(np.unique(open_set)) - {UNKNOWN_ID} <= set(range(19))
    anomaly = image_to_float32(outputs["anomaly"])
    assert anomaly.min() >= 0.0 and anomaly.max() <= 1.0
    np.testing.assert_allclose(anomaly, expected.anomaly, atol=1e-4)
    # The overlay: the frame scaled like the model input, class colours blended, unknown hatched.
    scaled = np.asarray(PILImage.fromarray(frame).resize((w, h), PILImage.BILINEAR))
    overlay = image_to_array(outputs["overlay"])
    expected_overlay = render_overlay(scaled, open_set, palette_lut(ClassSet.cityscapes()), 0.5)
    assert np.abs(overlay.astype(int) - expected_overlay).max() <= 1
    assert (overlay[open_set == UNKNOWN_ID] == (255, 0, 255)).all(axis=1).any()  # solid hatch stripes

    assert info.header.frame_id == "cam_front"
    assert (info.width, info.height) == (w, h)
    sx, sy = w / 160, h / 96
    np.testing.assert_allclose(info.k, [200 * sx, 0, 80.5 * sx - 0.5, 0, 210 * sy, 48.5 * sy - 0.5, 0, 0, 1])
    np.testing.assert_allclose(info.p[3], -20 * sx)
    np.testing.assert_allclose(info.d, [0.1, -0.05, 0.0, 0.0, 0.0])


@pytest.mark.parametrize("encoding", ["bgr8", "rgba8", "bgra8", "mono8"])
def test_every_input_encoding_gives_the_rgb_result(client, backend, encoding):
    labels_topic = MAP_TOPICS["labels"]
    client.subscribe(labels_topic, Image)
    frame = textured_frame(2)
    if encoding == "mono8":
        grey = frame[:, :, 1].copy()
        msg = mono8_to_image(grey)
        msg.header.stamp.sec, msg.header.frame_id = 2000, "cam_mono"
        frame = np.repeat(grey[:, :, None], 3, axis=2)
    else:
        msg = rgb_frame_message(frame, sec=2000, frame_id="cam_mono", encoding=encoding)
    msg.header.stamp.nanosec = {"bgr8": 1, "rgba8": 2, "bgra8": 3, "mono8": 4}[encoding]
    out = client.publish_until(f"{NAMESPACE}/image", msg, labels_topic,
                               has_stamp(2000, msg.header.stamp.nanosec))
    assert out.header.frame_id == "cam_mono"
    assert agreement(image_to_mono8(out), local_infer(backend, frame).close_labels) > 0.99


def test_compressed_png_and_jpeg_inputs(client, backend):
    labels_topic = MAP_TOPICS["labels"]
    client.subscribe(labels_topic, Image)
    frame = textured_frame(3)
    png = array_to_compressed_png(frame)
    png.header.stamp.sec, png.header.frame_id = 3000, "cam_png"
    out = client.publish_until(f"{NAMESPACE}/image/compressed", png, labels_topic, has_stamp(3000))
    assert out.header.frame_id == "cam_png" and (out.height, out.width) == SCALED_HW
    assert agreement(image_to_mono8(out), local_infer(backend, frame).close_labels) > 0.99  # lossless

    buffer = io.BytesIO()
    PILImage.fromarray(frame).save(buffer, format="JPEG", quality=90)
    jpeg = CompressedImage(format="jpeg", data=buffer.getvalue())
    jpeg.header.stamp.sec, jpeg.header.frame_id = 3001, "cam_jpeg"
    out = client.publish_until(f"{NAMESPACE}/image/compressed", jpeg, labels_topic, has_stamp(3001))
    assert out.header.frame_id == "cam_jpeg" and (out.height, out.width) == SCALED_HW


def test_class_list_is_latched_for_late_subscribers(client):
    topic = f"{NODE}/class_list"
    client.subscribe(topic, ClassList, RELIABLE_LATCHED)
    msg = client.wait_for_message(topic)
    assert [c.name for c in msg.classes] == [c.name for c in CITYSCAPES_CLASSES]
    assert [c.id for c in msg.classes] == list(range(19))
    assert [tuple(c.color) for c in msg.classes] == [c.color for c in CITYSCAPES_CLASSES]
    assert all(c.origin == ClassInfo.ORIGIN_BASE for c in msg.classes)
    assert msg.unknown_id == ClassList.UNKNOWN_ID == 255
    assert msg.threshold == pytest.approx(0.5) and msg.novel_threshold == pytest.approx(4.0)


def diagnostics_values(client, predicate=lambda values: True, timeout=20.0, while_waiting=None) -> dict[str, str]:
    """Key/values of the newest /diagnostics status of the node that satisfies ``predicate``."""
    client.subscribe("/diagnostics", DiagnosticArray)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if while_waiting is not None:
            while_waiting()
        for msg in reversed(client.messages("/diagnostics")):
            status = [s for s in msg.status if s.name.startswith(NODE + ":")]
            if status:
                values = {v.key: v.value for v in status[0].values}
                if predicate(values):
                    return values
                break
        time.sleep(0.1)
    raise TimeoutError("no matching /diagnostics report")


def test_diagnostics_report_latency_counters_backend_and_fingerprint(client, model_path):
    client.clear("/diagnostics")
    values = diagnostics_values(client, lambda v: int(v.get("frames_processed", 0)) > 0)
    assert values["model_fingerprint"] == file_fingerprint(model_path)
    assert values["backend.backend"] == "torch"
    for stage in ("queue_wait", "decode", "inference", "publish", "total"):
        p50, p99 = float(values[f"latency_ms.{stage}.p50"]), float(values[f"latency_ms.{stage}.p99"])
        assert 0.0 <= p50 <= p99, stage
    assert int(values["frames_received"]) >= int(values["frames_processed"]) > 0
    assert values["classes"] == "19"


def frames_accounted_for(values) -> bool:
    """Every received frame was processed, dropped, rejected or skipped: the worker is idle."""
    return int(values["frames_received"]) == sum(int(values[k]) for k in (
        "frames_processed", "frames_dropped", "frames_rejected", "frames_skipped_no_subscribers"))


def test_latest_frame_wins_under_a_burst(client):
    labels_topic = MAP_TOPICS["labels"]
    client.subscribe(labels_topic, Image)
    client.publish_until(f"{NAMESPACE}/image", rgb_frame_message(textured_frame(4), 3999), labels_topic,
                         has_stamp(3999))
    time.sleep(0.5)  # let repeats of frame 3999 still in flight arrive before counting
    client.clear("/diagnostics")
    before = diagnostics_values(client, frames_accounted_for)
    publisher = client.node.create_publisher(Image, f"{NAMESPACE}/image", QoSProfile(
        depth=100, reliability=ReliabilityPolicy.RELIABLE))  # keeps the whole burst until delivered
    client.wait_until(lambda: publisher.get_subscription_count() > 0, what="the node's subscription")
    for i in range(40):
        publisher.publish(rgb_frame_message(textured_frame(4), 4000, i))
    newest = client.wait_for_message(labels_topic, has_stamp(4000, 39))  # the newest frame is processed
    assert newest.header.stamp.nanosec == 39
    burst_outputs = [m for m in client.messages(labels_topic) if m.header.stamp.sec == 4000]
    assert len(burst_outputs) < 40  # no queue: frames that arrived while the model ran were dropped

    after = diagnostics_values(client, lambda v: frames_accounted_for(v) and (
        int(v["frames_received"]) >= int(before["frames_received"]) + 40))
    received, processed, dropped = (int(after[k]) - int(before[k]) for k in
                                    ("frames_received", "frames_processed", "frames_dropped"))
    print(f"burst of 40: received {received}, processed {processed}, dropped {dropped}")
    assert received == 40
    assert len(burst_outputs) <= processed < 40
    assert dropped == received - processed


def test_no_inference_without_output_subscribers(client):
    for topic in (*MAP_TOPICS.values(), INFO_TOPIC):
        client.unsubscribe(topic)
    publisher = client.publisher(f"{NAMESPACE}/image", Image)
    msg = rgb_frame_message(textured_frame(5), 5000)
    start = diagnostics_values(client)

    def skipped_since(reference, count):
        key = "frames_skipped_no_subscribers"
        return lambda v: int(v[key]) >= int(reference[key]) + count

    # Once the node has seen the subscriptions go, frames are counted as skipped, never processed.
    before = diagnostics_values(client, skipped_since(start, 1), while_waiting=lambda: publisher.publish(msg))
    after = diagnostics_values(client, skipped_since(before, 3), while_waiting=lambda: publisher.publish(msg))
    assert after["frames_processed"] == before["frames_processed"]
