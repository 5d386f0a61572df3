"""The main job: the node on the bundled model, fed a sample drive, taught a class mid-way.

1. make the sample drive (an animal / lost cargo / ... in the lane: a kind never trained on);
2. start the perception node as its own process (config/perception.yaml + demo overrides);
3. replay the drive and record ~/open_set, ~/anomaly and ~/overlay for every frame;
4. call /add_class with the bundled operator mask on a frame the node still buffers
   (the ``frame_stamps`` + ``mask_paths`` form a fleet operator would type by hand);
5. replay again: the object is now labelled as the new class instead of unknown;
6. write overlay frames, a picture strip and a one-page summary, and print where they are.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.tools.demo.sample_drive import SampleDrive, make_sample_drive
from owss_ros.tools.node_process import REPO_ROOT, NodeProcess
from owss_ros.tools.ros_env import write_params_file

NAMESPACE = "/owss_demo"
CAMERA_TOPIC = "/owss_demo/camera/image_raw"


@dataclass
class PassRecord:
    unknown_on_object: list[float] = field(default_factory=list)
    new_class_on_object: list[float] = field(default_factory=list)
    new_class_elsewhere: list[float] = field(default_factory=list)
    anomaly_on_object: list[float] = field(default_factory=list)
    anomaly_elsewhere: list[float] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    overlays: list[Path] = field(default_factory=list)

    def summary(self) -> dict:
        return {k: round(float(np.mean(v)), 4) for k, v in vars(self).items() if k != "overlays" and v}


def write_demo_params(out_dir: Path, model: Path, backend: str, input_hw: tuple[int, int]) -> Path:
    values = {
        "model_path": str(model), "backend": backend, "input_height": input_hw[0], "input_width": input_hw[1],
        "output_resolution": "camera", "class_store_path": str(out_dir / "class_store.json"),
        "mask_directory": str(out_dir / "drive"), "ring_buffer_size": 64, "cache_directory": str(out_dir / "cache"),
    }
    return write_params_file(out_dir / "demo_params.yaml", **values)


def replay(client, drive: SampleDrive, out_dir: Path, tag: str, new_class_id: int | None,
           stamp_base: int) -> tuple[PassRecord, list]:
    from owss_ros.ros.image_conversion import image_to_float32, image_to_mono8, image_to_rgb, rgb_to_image

    record = PassRecord()
    stamps = []
    (out_dir / "overlays").mkdir(exist_ok=True)
    for index, (frame_path, mask_path) in enumerate(zip(drive.frames, drive.object_masks)):
        frame = np.asarray(Image.open(frame_path).convert("RGB"))
        msg = rgb_to_image(frame)
        msg.header.frame_id = "demo_camera"
        msg.header.stamp.sec, msg.header.stamp.nanosec = stamp_base + index, 0
        stamps.append(msg.header.stamp)
        same = lambda m, s=msg.header.stamp: m.header.stamp.sec == s.sec and m.header.stamp.nanosec == s.nanosec
        started = time.monotonic()
        open_msg = client.publish_until(CAMERA_TOPIC, msg, f"{NAMESPACE}/perception_node/open_set", same,
                                        timeout=60.0, period=1.0)
        anomaly_msg = client.wait_for_message(f"{NAMESPACE}/perception_node/anomaly", same, timeout=30.0)
        overlay_msg = client.wait_for_message(f"{NAMESPACE}/perception_node/overlay", same, timeout=30.0)
        record.latency_ms.append(1e3 * (time.monotonic() - started))
        on_object = np.asarray(Image.open(mask_path)) > 0
        open_labels, anomaly = image_to_mono8(open_msg), image_to_float32(anomaly_msg)
        record.unknown_on_object.append(float((open_labels[on_object] == UNKNOWN_ID).mean()))
        record.anomaly_on_object.append(float(anomaly[on_object].mean()))
        record.anomaly_elsewhere.append(float(anomaly[~on_object].mean()))
        if new_class_id is not None:
            record.new_class_on_object.append(float((open_labels[on_object] == new_class_id).mean()))
            record.new_class_elsewhere.append(float((open_labels[~on_object] == new_class_id).mean()))
        overlay_path = out_dir / "overlays" / f"{tag}_{index:03d}.png"
        Image.fromarray(image_to_rgb(overlay_msg, copy=True)).save(overlay_path)
        record.overlays.append(overlay_path)
    return record, stamps


def picture_strip(drive: SampleDrive, before: PassRecord, after: PassRecord, path: Path, columns: int = 4) -> None:
    picks = np.linspace(0, len(drive.frames) - 1, columns).round().astype(int)
    rows = [[drive.frames[i] for i in picks], [before.overlays[i] for i in picks], [after.overlays[i] for i in picks]]
    w, h = Image.open(drive.frames[0]).size
    strip = Image.new("RGB", (w * columns, h * 3), "white")
    for r, row in enumerate(rows):
        for c, p in enumerate(row):
            strip.paste(Image.open(p).convert("RGB"), (c * w, r * h))
    strip.save(path)


def write_summary(out_dir: Path, drive: SampleDrive, before: PassRecord, after: PassRecord,
                  response, class_name: str, model: Path, backend: str) -> Path:
    b, a = before.summary(), after.summary()
    document = {"model": str(model), "backend_requested": backend, "object_kind": drive.object_kind,
                "frames": len(drive.frames), "taught_class": class_name, "class_id": int(response.class_id),
                "add_class": {"success": bool(response.success), "pixels_used": int(response.pixels_used),
                              "nearest_prototype_distance": float(response.nearest_prototype_distance),
                              "nearest_class_name": response.nearest_class_name, "message": response.message},
                "before": b, "after": a}
    (out_dir / "summary.json").write_text(json.dumps(document, indent=1))
    pct = lambda x: f"{100 * x:.1f}%"
    article = "an" if drive.object_kind[:1] in "aeiou" else "a"
    text = f"""# owss_ros demo: teaching a new class while driving

* model: `{model}`; backend requested: `{backend}`; {len(drive.frames)} frames of a synthetic drive with
  {article} **{drive.object_kind}** in the lane (a kind of object the model was never trained on)
* `/add_class` "{class_name}" from one operator mask on frame {drive.operator_frame} (by stamp,
  `mask_paths` form): success={response.success}, class id {response.class_id},
  {response.pixels_used} pixels, nearest prototype "{response.nearest_class_name}" at squared
  distance {response.nearest_prototype_distance:.2f}. {response.message}

| | before teaching | after teaching |
|---|---|---|
| object pixels labelled **unknown** | {pct(b['unknown_on_object'])} | {pct(a['unknown_on_object'])} |
| object pixels labelled **{class_name}** | - | {pct(a['new_class_on_object'])} |
| other pixels labelled {class_name} (false positives) | - | {pct(a['new_class_elsewhere'])} |
| mean anomaly probability on the object / elsewhere | {b['anomaly_on_object']:.2f} / {b['anomaly_elsewhere']:.2f} | {a['anomaly_on_object']:.2f} / {a['anomaly_elsewhere']:.2f} |
| frame round trip (publish -> all outputs), mean | {b['latency_ms']:.0f} ms | {a['latency_ms']:.0f} ms |

![strip](strip.png)

Rows: camera frames; overlays before teaching (unknown highlighted); overlays after teaching.
Overlay frames: `overlays/`. Figures: `summary.json`. Node log: `node.log`.
"""
    path = out_dir / "summary.md"
    path.write_text(text)
    return path


def run_demo(out_dir: Path, model: Path, backend: str = "auto", frames: int = 24, seed: int = 7,
             input_hw: tuple[int, int] = (256, 512), class_name: str | None = None) -> Path:
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image as ImageMsg

    from owss_ros.tools.ros_client import RosClient
    from owss_ros.srv import AddClass, ListClasses

    model = model if model.is_absolute() else REPO_ROOT / model
    if not model.is_file():
        raise FileNotFoundError(f"model not found: {model} (the bundled model lives in models/default/)")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("class_store.json", "node.log"):
        (out_dir / stale).unlink(missing_ok=True)
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(100, 200)))  # keep the demo to itself
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    print(f"[demo] sample drive -> {out_dir / 'drive'}")
    drive = make_sample_drive(out_dir / "drive", frames, seed)
    class_name = class_name or drive.object_kind
    params = write_demo_params(out_dir, model, backend, input_hw)
    node = NodeProcess([REPO_ROOT / "config" / "perception.yaml", params], NAMESPACE, out_dir / "node.log",
                       remappings={"image": CAMERA_TOPIC}).start()
    rclpy.init()
    client = RosClient(rclpy.get_default_context(), "owss_demo_player")
    try:
        print("[demo] waiting for the node (model load, graph export on first run)...")
        client.warm_up(ListClasses, f"{NAMESPACE}/list_classes", ListClasses.Request(), timeout=180.0)
        for name in ("open_set", "anomaly", "overlay"):
            client.subscribe(f"{NAMESPACE}/perception_node/{name}", ImageMsg)
        client.publisher(CAMERA_TOPIC, ImageMsg, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        print(f"[demo] pass 1: {len(drive.frames)} frames with an unknown {drive.object_kind}")
        before, stamps = replay(client, drive, out_dir, "before", None, stamp_base=1000)
        request = AddClass.Request(class_name=class_name, mask_paths=[drive.operator_mask.name],
                                   frame_stamps=[stamps[drive.operator_frame]])
        response = client.call(AddClass, f"{NAMESPACE}/add_class", request, timeout=120.0)
        print(f"[demo] /add_class {class_name!r}: success={response.success} id={response.class_id} "
              f"({response.message})")
        if not response.success:
            raise RuntimeError(f"add_class failed: {response.message}")
        print("[demo] pass 2: the same drive after teaching")
        after, _ = replay(client, drive, out_dir, "after", int(response.class_id), stamp_base=2000)
        picture_strip(drive, before, after, out_dir / "strip.png")
        return write_summary(out_dir, drive, before, after, response, class_name, model, backend)
    finally:
        client.close()
        rclpy.shutdown()
        node.stop()
