"""rosbag2 MCAP replay / recording (issue 12, "What users expect"): real bags, written and read."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rosbags")

from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

from owss_ros.bag import BagError, ImageBagWriter, image_topics, read_image_frames  # noqa: E402
from owss_ros.bag.mcap_bag import NS  # noqa: E402
from owss_ros.bag.sample_bag import START_STAMP_NS, main as sample_bag_main, write_sample_bag  # noqa: E402
from owss_ros.data.synthetic import render_scene, scene_rng  # noqa: E402

TS = get_typestore(Stores.ROS2_KILTED)


def test_sample_bag_round_trip_raw_and_compressed(tmp_path):
    bag = tmp_path / "drive"
    stamps = write_sample_bag(bag, frames=4, width=128, height=64, seed=3, rate_hz=20, compressed=True)
    assert stamps == [START_STAMP_NS + i * NS // 20 for i in range(4)]
    assert (bag / "metadata.yaml").is_file() and list(bag.glob("*.mcap"))
    assert image_topics(bag) == {"/camera/image_raw": "sensor_msgs/msg/Image",
                                 "/camera/image_raw/compressed": "sensor_msgs/msg/CompressedImage"}
    raw = list(read_image_frames(bag, "/camera/image_raw"))
    jpeg = list(read_image_frames(bag, "/camera/image_raw/compressed"))
    assert [f.stamp_ns for f in raw] == stamps == [f.stamp_ns for f in jpeg]
    for i, (r, j) in enumerate(zip(raw, jpeg)):
        expected = render_scene(scene_rng(3, "bag", i), 128, 64, anomalies=1).image
        assert r.encoding == "rgb8" and r.frame_id == "camera" and r.rgb.dtype == np.uint8
        np.testing.assert_array_equal(r.rgb, expected)
        assert j.encoding == "jpeg" and j.rgb.shape == expected.shape
        assert np.abs(j.rgb.astype(int) - expected).mean() < 10
    assert raw[1].stamp == divmod(stamps[1], NS)
    assert len(list(read_image_frames(bag, "/camera/image_raw", limit=2))) == 2


def test_bgr8_sample_bag_reads_back_as_rgb(tmp_path):
    write_sample_bag(tmp_path / "b", frames=1, width=64, height=32, encoding="bgr8")
    (frame,) = read_image_frames(tmp_path / "b")  # the only image topic
    assert frame.encoding == "bgr8"
    np.testing.assert_array_equal(frame.rgb, render_scene(scene_rng(7, "bag", 0), 64, 32, anomalies=1).image)


def _write_raw_images(path, messages, topic="/cam"):
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection(topic, "sensor_msgs/msg/Image", typestore=TS)
        for i, msg in enumerate(messages):
            writer.write(conn, 1000 + i, TS.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def _image(h, w, encoding, data, step, sec=0, nanosec=0):
    t = TS.types
    header = t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec), frame_id="f")
    return t["sensor_msgs/msg/Image"](header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                                      step=step, data=np.asarray(data, np.uint8).ravel())


def test_reader_handles_mono8_bgra8_row_padding_and_zero_stamps(tmp_path):
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    padded_bgr = np.zeros((2, 12), np.uint8)  # step 12 > 3 * 3: rows padded
    padded_bgr[:, :9] = rgb[..., ::-1].reshape(2, 9)
    bgra = np.concatenate([rgb[..., ::-1], np.full((2, 3, 1), 255, np.uint8)], axis=2)
    mono = np.array([[1, 2, 3], [4, 5, 6]], np.uint8)
    _write_raw_images(tmp_path / "b", [_image(2, 3, "bgr8", padded_bgr, 12, sec=5, nanosec=7),
                                       _image(2, 3, "bgra8", bgra, 12), _image(2, 3, "mono8", mono, 3)])
    f_bgr, f_bgra, f_mono = read_image_frames(tmp_path / "b", "/cam")
    np.testing.assert_array_equal(f_bgr.rgb, rgb)
    np.testing.assert_array_equal(f_bgra.rgb, rgb)
    np.testing.assert_array_equal(f_mono.rgb, np.repeat(mono[..., None], 3, axis=2))
    assert f_bgr.stamp_ns == 5 * NS + 7
    assert f_bgra.stamp_ns == f_bgra.log_time_ns == 1001  # zero header stamp: the log time


def test_output_topics_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 256, (48, 96), dtype=np.uint8)
    anomaly = rng.random((48, 96), dtype=np.float32)
    overlay = rng.integers(0, 256, (48, 96, 3), dtype=np.uint8)
    with ImageBagWriter(tmp_path / "out") as bag:
        for k in range(3):
            stamp = START_STAMP_NS + k * 100_000_000
            bag.write_image("/perception_node/open_set", labels, stamp, encoding="mono8")
            bag.write_image("/perception_node/anomaly", anomaly + k, stamp, encoding="32FC1")
            bag.write_image("/perception_node/overlay", overlay, stamp, encoding="rgb8")
    with Reader(tmp_path / "out") as reader:
        assert reader.message_count == 9
        seen = {}
        for conn, _, raw in reader.messages():
            msg = TS.deserialize_cdr(raw, conn.msgtype)
            seen.setdefault(conn.topic, []).append(msg)
    (open_set, anomaly_msgs, overlay_msgs) = (seen[f"/perception_node/{t}"] for t in ("open_set", "anomaly", "overlay"))
    m = open_set[0]
    assert (m.encoding, m.height, m.width, m.step) == ("mono8", 48, 96, 96)
    np.testing.assert_array_equal(np.asarray(m.data).reshape(48, 96), labels)
    for k, a in enumerate(anomaly_msgs):
        assert (a.encoding, a.step, a.is_bigendian) == ("32FC1", 96 * 4, 0)
        np.testing.assert_array_equal(np.frombuffer(bytes(a.data), "<f4").reshape(48, 96), anomaly + k)
        assert a.header.stamp.sec == START_STAMP_NS // NS and a.header.stamp.nanosec == k * 100_000_000
    np.testing.assert_array_equal(np.asarray(overlay_msgs[2].data).reshape(48, 96, 3), overlay)
    # and the output bag replays as camera input (the overlay topic is rgb8)
    frames = list(read_image_frames(tmp_path / "out", "/perception_node/overlay"))
    assert len(frames) == 3 and np.array_equal(frames[0].rgb, overlay)


def test_clear_errors(tmp_path):
    with pytest.raises(BagError, match="does not exist"):
        list(read_image_frames(tmp_path / "missing"))
    (tmp_path / "plain").mkdir()
    with pytest.raises(BagError, match="not a rosbag2 bag"):
        list(read_image_frames(tmp_path / "plain"))
    write_sample_bag(tmp_path / "b", frames=1, width=32, height=16, compressed=True)
    with pytest.raises(BagError, match="has 2 image topics"):
        list(read_image_frames(tmp_path / "b"))
    with pytest.raises(BagError, match="no Image or CompressedImage topic '/nope'"):
        list(read_image_frames(tmp_path / "b", "/nope"))
    with pytest.raises(BagError, match="exists"):
        ImageBagWriter(tmp_path / "b")
    _write_raw_images(tmp_path / "u16", [_image(1, 1, "16UC1", [0, 0], 2)])
    with pytest.raises(BagError, match="'16UC1' is not supported"):
        list(read_image_frames(tmp_path / "u16"))
    _write_raw_images(tmp_path / "short", [_image(4, 4, "rgb8", np.zeros(10), 12)])
    with pytest.raises(BagError, match="too short"):
        list(read_image_frames(tmp_path / "short"))
    with ImageBagWriter(tmp_path / "w") as bag:
        with pytest.raises(BagError, match="32FC1 needs a"):
            bag.write_image("/a", np.zeros((2, 2), np.float64), 0, encoding="32FC1")
        with pytest.raises(BagError, match="cannot write encoding"):
            bag.write_image("/a", np.zeros((2, 2), np.uint16), 0, encoding="16UC1")
        bag.write_image("/a", np.zeros((2, 2), np.uint8), 0, encoding="mono8")
        with pytest.raises(BagError, match="already carries"):
            bag.write_compressed("/a", np.zeros((2, 2, 3), np.uint8), 0)


def test_sample_bag_command(tmp_path, capsys):
    assert sample_bag_main(["--out", str(tmp_path / "c"), "--frames", "2", "--size", "64x32"]) == 0
    assert "wrote 2 frames of 64x32" in capsys.readouterr().out
    assert len(list(read_image_frames(tmp_path / "c"))) == 2


def test_messages_are_the_real_ros_types(tmp_path):
    """The CDR in our bags is what rclpy reads and writes (skipped without ROS)."""
    serialization = pytest.importorskip("rclpy.serialization")
    Image = pytest.importorskip("sensor_msgs.msg").Image
    write_sample_bag(tmp_path / "b", frames=1, width=32, height=16)
    with Reader(tmp_path / "b") as reader:
        (_, _, raw), = reader.messages()
    msg = serialization.deserialize_message(raw, Image)
    assert (msg.width, msg.height, msg.encoding, msg.header.stamp.sec) == (32, 16, "rgb8", START_STAMP_NS // NS)
    # an rclpy-serialised bgr8 frame, as `ros2 bag record` stores it, reads back as RGB
    rgb = np.random.default_rng(1).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    ros_msg = Image(height=4, width=5, encoding="bgr8", step=15, data=rgb[..., ::-1].tobytes())
    ros_msg.header.stamp.sec, ros_msg.header.stamp.nanosec = 9, 10
    with Writer(tmp_path / "r", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        conn = writer.add_connection("/cam", "sensor_msgs/msg/Image", typestore=TS)
        writer.write(conn, 1, serialization.serialize_message(ros_msg))
    (frame,) = read_image_frames(tmp_path / "r")
    assert frame.stamp_ns == 9 * NS + 10
    np.testing.assert_array_equal(frame.rgb, rgb)
