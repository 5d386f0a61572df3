"""Bad input never takes the node down: each is refused with a clear reason, and afterwards the
node still answers list_classes and still publishes results for good frames."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
import torch
from diagnostic_msgs.msg import DiagnosticArray
from PIL import Image as PILImage
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from owss_ros.ros.image_conversion import mono8_to_image, rgb_to_image
from owss_ros.srv import AddClass, ListClasses, RemoveClass
from perception_node_harness import (
    CAMERA_HW,
    NodeProcess,
    RosTestClient,
    connect_to_node,
    fast_node_parameters,
    has_stamp,
    rectangle_frame,
    rgb_frame_message,
    stamp,
    write_params_file,
    write_test_model,
)

NAMESPACE = "/test_bad_input"
NODE = f"{NAMESPACE}/perception_node"
MAX_PIXELS = 20_000  # camera frames are 160 x 96 = 15360
FRAME, MASK = rectangle_frame((20, 20, 80), (250, 230, 0), (10, 50, 20, 70))
OTHER_FRAME, OTHER_MASK = rectangle_frame((20, 20, 80), (0, 200, 250), (40, 90, 90, 150))
ONE_PIXEL = np.zeros(CAMERA_HW, np.uint8)
ONE_PIXEL[30, 40] = 255


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("bad_input")
    masks = work_dir / "masks"
    masks.mkdir()
    PILImage.fromarray(MASK).save(masks / "good.png")
    PILImage.fromarray(MASK).save(work_dir / "outside.png")
    os.symlink(work_dir / "outside.png", masks / "link_to_outside.png")
    PILImage.fromarray(np.stack([MASK] * 3, axis=2)).save(masks / "not_a_png.png", format="JPEG")
    return work_dir


@pytest.fixture(scope="module")
def node(ros_context, work_dir):
    model_path = write_test_model(work_dir / "model.safetensors", seed=3)
    params = write_params_file(work_dir / "params.yaml", **fast_node_parameters(
        model_path, work_dir, subscribe_compressed=True, max_image_pixels=MAX_PIXELS, max_novel_classes=2,
        output_resolution="camera", backend="onnxruntime", cache_directory=str(work_dir / "cache")))
    process = NodeProcess(params, NAMESPACE, work_dir / "node.log").start()
    yield process
    assert process.stop() == 0, process.log()


@pytest.fixture(scope="module")
def client(ros_context, node):
    torch.set_num_threads(1)
    client = RosTestClient(ros_context)
    connect_to_node(client, node, NAMESPACE)
    client.publisher(f"{NAMESPACE}/image", Image)
    client.publisher(f"{NAMESPACE}/image/compressed", CompressedImage)
    client.subscribe(f"{NODE}/open_set", Image)
    client.subscribe("/diagnostics", DiagnosticArray)
    yield client
    client.close()


_next_sec = iter(range(100, 100_000))


def assert_still_working(client):
    response = client.call(ListClasses, f"{NODE}/list_classes", ListClasses.Request())
    assert len(response.classes.classes) >= 19
    sec = next(_next_sec)
    out = client.publish_until(f"{NAMESPACE}/image", rgb_frame_message(FRAME, sec), f"{NODE}/open_set",
                               has_stamp(sec))
    assert (out.height, out.width) == CAMERA_HW  # this module's node publishes at camera resolution


def node_status(client):
    for msg in reversed(client.messages("/diagnostics")):
        for status in msg.status:
            if status.name.startswith(NODE + ":"):
                return status, {v.key: int(v.value) for v in status.values if v.key.startswith("frames_")}
    return None, {}


def raw_image(width, height, encoding="rgb8", step=None, data_len=None) -> Image:
    step = width * 3 if step is None else step
    size = step * height if data_len is None else data_len
    return Image(width=width, height=height, encoding=encoding, step=step, data=bytes(size))


def png_bytes(width, height) -> bytes:
    buffer = io.BytesIO()
    PILImage.fromarray(np.zeros((height, width), np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


BAD_FRAMES = {
    "unsupported_encoding": (raw_image(160, 96, "16UC1", step=320), "unsupported image encoding '16UC1'"),
    "yuv422": (raw_image(160, 96, "yuv422", step=320), "unsupported image encoding 'yuv422'"),
    "zero_sized": (raw_image(0, 0), "zero-sized image 0x0"),
    "giant": (raw_image(200, 200), "more than max_image_pixels 20000"),
    "short_data": (raw_image(160, 96, data_len=100), "data length 100 does not match"),
    "step_too_small": (raw_image(160, 96, step=100), "step 100 is smaller than one row"),
    "compressed_garbage": (CompressedImage(format="jpeg", data=b"not an image at all"), "cannot read"),
    "compressed_empty": (CompressedImage(format="png", data=b""), "empty CompressedImage"),
    "compressed_giant": (CompressedImage(format="png", data=png_bytes(300, 300)), "more than max_image_pixels"),
}


@pytest.mark.parametrize("case", list(BAD_FRAMES))
def test_bad_frames_are_rejected_and_counted(client, case):
    msg, reason = BAD_FRAMES[case]
    msg.header.stamp = stamp(next(_next_sec))
    topic = f"{NAMESPACE}/image/compressed" if isinstance(msg, CompressedImage) else f"{NAMESPACE}/image"
    _, before = node_status(client)
    deadline = time.monotonic() + 20
    while True:  # publish until a report counts the rejection and names the reason
        client.publisher(topic, type(msg)).publish(msg)
        time.sleep(0.1)
        status, counts = node_status(client)
        if (status is not None and counts["frames_rejected"] > before.get("frames_rejected", 0)
                and reason in status.message):
            break
        assert time.monotonic() < deadline, f"no rejection reported; last status: {status}"
    assert status.level == status.WARN
    assert_still_working(client)


def add(client, **fields):
    return client.call(AddClass, f"{NODE}/add_class", AddClass.Request(**fields))


def good_frame():
    return rgb_frame_message(FRAME, 1)


BAD_REQUESTS = {
    "mask_wrong_size": (dict(class_name="a", images=[good_frame()],
                             masks=[mono8_to_image(np.ones((50, 50), np.uint8))]),
                        "the mask is 50x50, but its frame is 160x96 (or 107x64 at model resolution)"),
    "mask_empty": (dict(class_name="a", images=[good_frame()], masks=[mono8_to_image(np.zeros(CAMERA_HW, np.uint8))]),
                   "the mask is empty"),
    "mask_rgb": (dict(class_name="a", images=[good_frame()], masks=[rgb_to_image(FRAME)]),
                 "expected a mono8 image, got 'rgb8'"),
    "mask_zero_sized": (dict(class_name="a", images=[good_frame()], masks=[Image(encoding="mono8")]),
                        "zero-sized image"),
    "duplicate_name": (dict(class_name="road", images=[good_frame()], masks=[mono8_to_image(MASK)]),
                       "class_name 'road' is the model's base class 'road'"),
    "base_name_variant": (dict(class_name="traffic_light", images=[good_frame()], masks=[mono8_to_image(MASK)]),
                          "the model's base class 'traffic light'"),
    "empty_name": (dict(class_name="", images=[good_frame()], masks=[mono8_to_image(MASK)]), "class_name is empty"),
    "blank_name": (dict(class_name="  ", images=[good_frame()], masks=[mono8_to_image(MASK)]), "white space"),
    "huge_name": (dict(class_name="x" * 100_000, images=[good_frame()], masks=[mono8_to_image(MASK)]),
                  "is too long: 100000 characters, at most 64"),
    "newline_name": (dict(class_name="cone\nx", images=[good_frame()], masks=[mono8_to_image(MASK)]),
                     "not allowed"),
    "unknown_name": (dict(class_name="unknown", images=[good_frame()], masks=[mono8_to_image(MASK)]), "reserved"),
    "uppercase_name": (dict(class_name="Animal", images=[good_frame()], masks=[mono8_to_image(MASK)]),
                       "use 'animal'"),
    "path_name": (dict(class_name="a/b/../c", images=[good_frame()], masks=[mono8_to_image(MASK)]),
                  "characters that are not allowed ('.', '/')"),
    "one_pixel_mask": (dict(class_name="a", images=[good_frame()], masks=[mono8_to_image(ONE_PIXEL)]),
                       "at least 64 are needed"),
    "nanosec_overflow": (dict(class_name="a", frame_stamps=[stamp(7, 1_000_000_000)], masks=[mono8_to_image(MASK)]),
                         "frame_stamps[0]: nanosec must be in [0, 999999999], got 1000000000"),
    "path_dotdot": (dict(class_name="a", images=[good_frame()], mask_paths=["../outside.png"]),
                    "resolves outside the mask directory"),
    "path_absolute": (dict(class_name="a", images=[good_frame()], mask_paths=["/etc/hostname"]),
                      "resolves outside the mask directory"),
    "path_symlink_out": (dict(class_name="a", images=[good_frame()], mask_paths=["link_to_outside.png"]),
                         "resolves outside the mask directory"),
    "path_missing": (dict(class_name="a", images=[good_frame()], mask_paths=["missing.png"]), "does not exist"),
    "path_not_png": (dict(class_name="a", images=[good_frame()], mask_paths=["not_a_png.png"]), "not a PNG file"),
    "stamp_not_buffered": (dict(class_name="a", frame_stamps=[stamp(7, 7)], masks=[mono8_to_image(MASK)]),
                           "no buffered frame at stamp 7.000000007"),
    "masks_and_paths": (dict(class_name="a", images=[good_frame()], masks=[mono8_to_image(MASK)],
                             mask_paths=["good.png"]), "not both or neither"),
    "no_frames": (dict(class_name="a", masks=[mono8_to_image(MASK)]), "not both or neither"),
    "count_mismatch": (dict(class_name="a", images=[good_frame()], masks=[mono8_to_image(MASK)] * 2),
                       "2 masks for 1 frames"),
    "frame_bad_encoding": (dict(class_name="a", images=[raw_image(160, 96, "16UC1", step=320)],
                                masks=[mono8_to_image(MASK)]), "frame refused: unsupported image encoding"),
    "frame_giant": (dict(class_name="a", images=[raw_image(200, 200)], masks=[mono8_to_image(MASK)]),
                    "more than max_image_pixels"),
    "lambda_nan": (dict(class_name="a", images=[good_frame()], masks=[mono8_to_image(MASK)],
                        lambda_novel=float("nan")), "lambda_novel must be a finite number"),
}


def test_a_rejected_frame_never_enters_the_ring_buffer(client):
    sec = next(_next_sec)
    giant = raw_image(200, 200)
    giant.header.stamp = stamp(sec)
    deadline = time.monotonic() + 20
    while True:  # until the node has seen (and rejected) it
        _, before = node_status(client)
        client.publisher(f"{NAMESPACE}/image", Image).publish(giant)
        time.sleep(0.3)
        _, after = node_status(client)
        if after.get("frames_rejected", 0) > before.get("frames_rejected", 0):
            break
        assert time.monotonic() < deadline, "the giant frame was never rejected"
    response = add(client, class_name="from_giant", frame_stamps=[stamp(sec)], masks=[mono8_to_image(MASK)])
    assert not response.success and f"no buffered frame at stamp {sec}.000000000" in response.message
    assert after["frames_buffered"] >= 0 and after["frames_buffered_bytes"] <= after["frames_buffered"] * FRAME.nbytes
    assert_still_working(client)


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_add_class_requests_are_refused_with_a_reason(client, case):
    fields, reason = BAD_REQUESTS[case]
    response = add(client, **fields)
    assert not response.success
    assert response.class_id == 255
    assert reason in response.message, response.message
    assert_still_working(client)


def test_too_many_classes_and_one_prototype_under_two_names(client, work_dir):
    first = add(client, class_name="first", images=[good_frame()], mask_paths=["good.png"], lambda_novel=1.0)
    assert first.success, first.message
    store = (work_dir / "class_store.json").read_bytes()
    same = add(client, class_name="same_pixels", images=[good_frame()], masks=[mono8_to_image(MASK)])
    assert not same.success and "identical to that of the taught class 'first'" in same.message
    clash = add(client, class_name="First", images=[rgb_frame_message(OTHER_FRAME, 2)],
                masks=[mono8_to_image(OTHER_MASK)])
    assert not clash.success and "use 'first'" in clash.message
    assert (work_dir / "class_store.json").read_bytes() == store  # refusals leave the stored classes intact
    second = add(client, class_name="second", images=[rgb_frame_message(OTHER_FRAME, 2)],
                 masks=[mono8_to_image(OTHER_MASK)], lambda_novel=1.0)
    assert second.success, second.message
    third = add(client, class_name="third", images=[good_frame()], masks=[mono8_to_image(MASK)])
    assert not third.success and "all 2 novel class slots are in use" in third.message
    response = client.call(ListClasses, f"{NODE}/list_classes", ListClasses.Request())
    assert [c.name for c in response.classes.classes][19:] == ["first", "second"]
    assert_still_working(client)


@pytest.mark.parametrize("request_fields, reason", [
    (dict(class_name="road"), "'road' is a base class of the model and cannot be removed"),
    (dict(class_name="no_such_class"), "no class 'no_such_class'"),
    (dict(class_id=77), "no class 77"),
    (dict(), "give class_name, or class_id"),
])
def test_bad_remove_class_requests(client, request_fields, reason):
    response = client.call(RemoveClass, f"{NODE}/remove_class", RemoveClass.Request(**request_fields))
    assert not response.success
    assert reason in response.message, response.message
    assert_still_working(client)


def test_zero_sized_camera_info_is_ignored(client, node):
    publisher = client.publisher(f"{NAMESPACE}/camera_info", CameraInfo)
    client.wait_until(lambda: publisher.get_subscription_count() > 0, what="the node's camera_info subscription")
    client.wait_until(lambda: publisher.publish(CameraInfo()) or "camera_info ignored: zero size 0x0" in node.log(),
                      what="the warning")
    assert_still_working(client)
