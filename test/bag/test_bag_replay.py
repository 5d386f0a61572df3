"""The demo and the node benchmark with an MCAP bag as the camera, outputs recorded to MCAP
(issue 12, "rosbag2 replay"). Real node processes on real rclpy / Fast DDS, small generated bags,
a random-weights model at a small input size (the bundled model is not needed for the plumbing).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("rosbags")
pytest.importorskip("rclpy")

from owss_ros.bag import BagError, image_topics, read_image_frames  # noqa: E402
from owss_ros.bag.sample_bag import write_sample_bag  # noqa: E402
from owss_ros.cli.main import main as cli_main  # noqa: E402
from owss_ros.core.checkpoint import ModelSpec, build_model, save_model  # noqa: E402
from owss_ros.tools.demo.camera_source import DRIVE_TOPIC, bag_source  # noqa: E402
from owss_ros.tools.demo.run_demo import CAMERA_TOPIC, NODE_PATH, run_demo  # noqa: E402
from owss_ros.tools.node_benchmark import BenchmarkSettings, load_camera_frames  # noqa: E402
from owss_ros.tools.ros_env import isolated_ros_environment  # noqa: E402

SMALL_INPUT_HW = (64, 128)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "random_fast_scnn.safetensors"
    save_model(path, build_model(ModelSpec()), ModelSpec())
    return path


@pytest.fixture()
def ros_domain():
    with isolated_ros_environment() as domain_id:
        yield domain_id


def test_demo_replays_a_bag_teaches_from_a_mask_and_records_mcap(tmp_path, model, ros_domain):
    bag = tmp_path / "camera_bag"
    stamps = write_sample_bag(bag, frames=3, width=128, height=64, seed=2)
    mask = np.zeros((64, 128), np.uint8)
    mask[20:50, 30:90] = 255
    Image.fromarray(mask).save(tmp_path / "rock.png")
    record = tmp_path / "recorded"
    summary = run_demo(tmp_path / "out", model, "torch", frames=3, input_hw=SMALL_INPUT_HW, class_name="rock",
                       bag=bag, mask=tmp_path / "rock.png", mask_frame=1, record=record)
    document = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert document["add_class"]["success"], document["add_class"]
    assert document["taught_class"] == "rock" and document["frames"] == 3
    assert document["after"]["new_class_overall"] > 0  # the taught class shows up in pass 2
    assert "replayed" not in summary.read_text() and "rock" in summary.read_text()
    assert (tmp_path / "out" / "strip.png").is_file()

    outputs = {f"{NODE_PATH}/{name}": kind for name, kind in
               (("open_set", "sensor_msgs/msg/Image"), ("anomaly", "sensor_msgs/msg/Image"),
                ("overlay", "sensor_msgs/msg/Image"))}
    assert image_topics(record) == {CAMERA_TOPIC: "sensor_msgs/msg/Image", **outputs}
    camera = list(read_image_frames(record, CAMERA_TOPIC))
    source = list(read_image_frames(bag))
    assert len(camera) == 6  # both passes
    assert [f.stamp_ns for f in camera[:3]] == stamps  # pass 1 keeps the bag's stamps
    assert min(f.stamp_ns for f in camera[3:]) > max(stamps)
    for recorded, original in zip(camera[:3], source):
        np.testing.assert_array_equal(recorded.rgb, original.rgb)
    overlays = list(read_image_frames(record, f"{NODE_PATH}/overlay"))
    assert [f.stamp_ns for f in overlays] == [f.stamp_ns for f in camera]
    assert overlays[0].rgb.shape == (64, 128, 3)  # output_resolution camera


def test_default_demo_replays_its_sample_drive_from_a_generated_bag(tmp_path, model, ros_domain):
    summary = run_demo(tmp_path / "out", model, "torch", frames=2, input_hw=SMALL_INPUT_HW)
    bag = tmp_path / "out" / "drive_bag"
    assert image_topics(bag) == {DRIVE_TOPIC: "sensor_msgs/msg/Image"}
    drive_frames = sorted((tmp_path / "out" / "drive" / "frames").glob("*.png"))
    for frame, path in zip(read_image_frames(bag), drive_frames, strict=True):
        np.testing.assert_array_equal(frame.rgb, np.asarray(Image.open(path).convert("RGB")))
    document = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert document["add_class"]["success"], document["add_class"]
    assert "object pixels labelled **unknown**" in summary.read_text()  # ground truth of the drive
    assert "other pixels labelled **unknown**" in summary.read_text()
    for phase in ("before", "after"):  # the false-alarm rate off the object, a fraction
        assert 0.0 <= document[phase]["unknown_elsewhere"] <= 1.0


def test_demo_without_a_mask_replays_once(tmp_path, model, ros_domain):
    bag = tmp_path / "camera_bag"
    write_sample_bag(bag, frames=2, width=128, height=64)
    summary = run_demo(tmp_path / "out", model, "torch", frames=5, input_hw=SMALL_INPUT_HW, bag=bag)
    document = json.loads(summary.with_suffix(".json").read_text())
    assert document["after"] is None and document["frames"] == 2
    assert "a drive replayed" in summary.read_text()


def test_demo_refuses_bad_bag_arguments_clearly(tmp_path, capsys):
    with pytest.raises(SystemExit, match="go with --bag"):
        cli_main(["demo", "--mask", str(tmp_path / "m.png")])
    with pytest.raises(SystemExit, match="does not exist"):
        cli_main(["demo", "--bag", str(tmp_path / "missing"), "--out", str(tmp_path / "out")])
    write_sample_bag(tmp_path / "b", frames=2, width=64, height=32)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(SystemExit, match="is 10x10, frame 0 is 64x32"):
        cli_main(["demo", "--bag", str(tmp_path / "b"), "--mask", str(tmp_path / "small.png"), "--mask-frame", "0",
                  "--out", str(tmp_path / "out")])
    with pytest.raises(BagError, match="--mask-frame 5: the bag gave 2 frames"):
        bag_source(tmp_path / "b", mask_frame=5)


def test_node_benchmark_takes_its_frames_from_a_bag(tmp_path, model):
    bag = tmp_path / "camera_bag"
    write_sample_bag(bag, frames=5, width=96, height=48, seed=4)
    settings = BenchmarkSettings(model_path=model, bag_path=bag, drive_frames=3)
    frames = load_camera_frames(settings, tmp_path)
    expected = [f.rgb for f in read_image_frames(bag, limit=3)]
    assert len(frames) == 3
    for frame, original in zip(frames, expected):
        np.testing.assert_array_equal(frame, original)


def test_short_node_benchmark_run_on_a_bag(tmp_path, model, capsys):
    bag = tmp_path / "camera_bag"
    write_sample_bag(bag, frames=3, width=160, height=80, seed=5)
    report_path = tmp_path / "bench.json"
    assert cli_main([
        "benchmark-node", "--model", str(model), "--backend", "torch", "--rate", "5", "--duration", "2",
        "--input-size", "64x128", "--cpu-threads", "1", "--bare-frames", "3", "--warmup-frames", "2",
        "--rss-period", "1", "--bag", str(bag), "--bag-frames", "3", "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["settings"]["camera_size_wh"] == [160, 80]
    assert report["settings"]["bag_path"] == str(bag.resolve())
    assert report["node"]["received"]["count"] > 0
    assert f"camera 160x80 rgb8 from {bag.resolve()}" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="does not exist"):
        cli_main(["benchmark-node", "--model", str(model), "--bag", str(tmp_path / "missing")])
