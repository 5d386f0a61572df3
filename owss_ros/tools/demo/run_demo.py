"""The main job: the node on the bundled model, fed a drive from an MCAP bag, taught a class mid-way.

1. the camera: the sample drive (an animal / lost cargo / ... in the lane: a kind never trained
   on) written to an MCAP bag and read back, or a user's bag (``bag=``);
2. start the perception node as its own process (config/perception.yaml + demo overrides, the
   large-image Fast DDS profile; this process uses it too);
3. replay the drive and collect ~/open_set, ~/anomaly and ~/overlay for every frame (and write
   them with the camera frames to an MCAP bag when ``record=`` is given);
4. call ~/add_class with the operator mask on the operator frame, re-sent just before so the node
   buffers it (the ``frame_stamps`` + ``mask_paths`` form a fleet operator would type by hand);
5. replay again: the object is now labelled as the new class instead of unknown;
6. write overlay frames, a picture strip and a one-page summary, and print where they are.
A user's bag without ``mask=`` gets pass 1 only.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.tools.demo.camera_source import CameraSource, bag_source, sample_drive_source
from owss_ros.tools.node_process import NODE_NAME, REPO_ROOT, NodeProcess
from owss_ros.tools.ros_env import write_params_file
from owss_ros.transport.fastdds import apply_large_image_profile, transport_warnings

NAMESPACE = "/owss_demo"
NODE_PATH = f"{NAMESPACE}/{NODE_NAME}"  # outputs and services are the node's own (~/)
CAMERA_TOPIC = "/owss_demo/camera/image_raw"
RECORDED_OUTPUTS = {"open_set": "mono8", "anomaly": "32FC1", "overlay": "rgb8"}


@dataclass
class PassRecord:
    unknown_overall: list[float] = field(default_factory=list)
    new_class_overall: list[float] = field(default_factory=list)
    unknown_on_object: list[float] = field(default_factory=list)
    unknown_elsewhere: list[float] = field(default_factory=list)  # pixels off the object called unknown
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
        "mask_directory": str(out_dir / "masks"), "cache_directory": str(out_dir / "cache"),
    }
    return write_params_file(out_dir / "demo_params.yaml", **values)


class OutputRecorder:
    """Camera frames and the node's outputs into one MCAP bag (``--record``)."""

    def __init__(self, path: Path):
        from owss_ros.bag import ImageBagWriter

        self.writer = ImageBagWriter(path)
        self.writer.open()
        self.path = path

    def write(self, stamp_ns: int, frame: np.ndarray, outputs: dict) -> None:
        from owss_ros.ros.image_conversion import image_to_array

        self.writer.write_image(CAMERA_TOPIC, frame, stamp_ns, encoding="rgb8", frame_id="demo_camera")
        for name, msg in outputs.items():
            self.writer.write_image(f"{NODE_PATH}/{name}", image_to_array(msg, copy=True), stamp_ns,
                                    encoding=RECORDED_OUTPUTS[name], frame_id=msg.header.frame_id)

    def close(self) -> None:
        self.writer.close()


def frame_message(frame: np.ndarray, stamp_ns: int):
    from owss_ros.ros.image_conversion import rgb_to_image

    msg = rgb_to_image(frame)
    msg.header.frame_id = "demo_camera"
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    return msg


def send_frame(client, frame: np.ndarray, stamp_ns: int) -> dict:
    """Publish one frame until its outputs are back; the output messages by name."""
    msg = frame_message(frame, stamp_ns)
    same = lambda m, s=msg.header.stamp: m.header.stamp.sec == s.sec and m.header.stamp.nanosec == s.nanosec
    outputs = {"open_set": client.publish_until(CAMERA_TOPIC, msg, f"{NODE_PATH}/open_set", same,
                                                timeout=60.0, period=1.0)}
    for name in ("anomaly", "overlay"):
        outputs[name] = client.wait_for_message(f"{NODE_PATH}/{name}", same, timeout=30.0)
    return outputs


def replay(client, source: CameraSource, out_dir: Path, tag: str, new_class_id: int | None,
           stamp_offset_ns: int, recorder: OutputRecorder | None = None) -> PassRecord:
    from owss_ros.ros.image_conversion import image_to_float32, image_to_mono8, image_to_rgb

    record = PassRecord()
    (out_dir / "overlays").mkdir(exist_ok=True)
    for index, frame in enumerate(source.frames):
        stamp_ns = source.stamps_ns[index] + stamp_offset_ns
        started = time.monotonic()
        outputs = send_frame(client, frame, stamp_ns)
        record.latency_ms.append(1e3 * (time.monotonic() - started))
        if recorder is not None:
            recorder.write(stamp_ns, frame, outputs)
        open_labels, anomaly = image_to_mono8(outputs["open_set"]), image_to_float32(outputs["anomaly"])
        record.unknown_overall.append(float((open_labels == UNKNOWN_ID).mean()))
        if new_class_id is not None:
            record.new_class_overall.append(float((open_labels == new_class_id).mean()))
        if source.object_masks is not None:
            on_object = source.object_masks[index]
            record.unknown_on_object.append(float((open_labels[on_object] == UNKNOWN_ID).mean()))
            record.unknown_elsewhere.append(float((open_labels[~on_object] == UNKNOWN_ID).mean()))
            record.anomaly_on_object.append(float(anomaly[on_object].mean()))
            record.anomaly_elsewhere.append(float(anomaly[~on_object].mean()))
            if new_class_id is not None:
                record.new_class_on_object.append(float((open_labels[on_object] == new_class_id).mean()))
                record.new_class_elsewhere.append(float((open_labels[~on_object] == new_class_id).mean()))
        overlay_path = out_dir / "overlays" / f"{tag}_{index:03d}.png"
        Image.fromarray(image_to_rgb(outputs["overlay"], copy=True)).save(overlay_path)
        record.overlays.append(overlay_path)
    return record


def picture_strip(source: CameraSource, passes: list[PassRecord], path: Path, columns: int = 4) -> None:
    """Rows: camera frames, then the overlays of each pass."""
    picks = np.linspace(0, len(source.frames) - 1, min(columns, len(source.frames))).round().astype(int)
    rows = [[Image.fromarray(source.frames[i]) for i in picks]]
    rows += [[Image.open(record.overlays[i]).convert("RGB") for i in picks] for record in passes]
    w, h = rows[0][0].size
    strip = Image.new("RGB", (w * len(picks), h * len(rows)), "white")
    for r, row in enumerate(rows):
        for c, picture in enumerate(row):
            strip.paste(picture.resize((w, h)), (c * w, r * h))
    strip.save(path)


def _object_table(b: dict, a: dict, class_name: str) -> str:
    pct = lambda x: f"{100 * x:.1f}%"
    return f"""| | before teaching | after teaching |
|---|---|---|
| object pixels labelled **unknown** | {pct(b['unknown_on_object'])} | {pct(a['unknown_on_object'])} |
| other pixels labelled **unknown** (false alarms) | {pct(b['unknown_elsewhere'])} | {pct(a['unknown_elsewhere'])} |
| object pixels labelled **{class_name}** | - | {pct(a['new_class_on_object'])} |
| other pixels labelled {class_name} (false positives) | - | {pct(a['new_class_elsewhere'])} |
| mean anomaly probability on the object / elsewhere | {b['anomaly_on_object']:.2f} / {b['anomaly_elsewhere']:.2f} | {a['anomaly_on_object']:.2f} / {a['anomaly_elsewhere']:.2f} |
| frame round trip (publish -> all outputs), mean | {b['latency_ms']:.0f} ms | {a['latency_ms']:.0f} ms |
"""


def _frame_table(b: dict, a: dict | None, class_name: str | None) -> str:
    pct = lambda x: f"{100 * x:.1f}%"
    if a is None:
        return f"""| | replay |
|---|---|
| pixels labelled **unknown** | {pct(b['unknown_overall'])} |
| frame round trip (publish -> all outputs), mean | {b['latency_ms']:.0f} ms |
"""
    return f"""| | before teaching | after teaching |
|---|---|---|
| pixels labelled **unknown** | {pct(b['unknown_overall'])} | {pct(a['unknown_overall'])} |
| pixels labelled **{class_name}** | - | {pct(a['new_class_overall'])} |
| frame round trip (publish -> all outputs), mean | {b['latency_ms']:.0f} ms | {a['latency_ms']:.0f} ms |
"""


def write_summary(out_dir: Path, source: CameraSource, before: PassRecord, after: PassRecord | None,
                  response, class_name: str | None, model: Path, backend: str, record: Path | None) -> Path:
    b, a = before.summary(), (after.summary() if after else None)
    document = {"model": str(model), "backend_requested": backend, "camera": source.description,
                "object_kind": source.object_kind, "frames": len(source.frames), "taught_class": class_name,
                "recorded_bag": str(record) if record else None, "before": b, "after": a}
    lines = [f"# owss_ros demo: {'teaching a new class while driving' if after else 'a drive replayed'}", ""]
    if source.object_kind:
        article = "an" if source.object_kind[:1] in "aeiou" else "a"
        lines.append(f"* model: `{model}`; backend requested: `{backend}`; {len(source.frames)} frames of a synthetic "
                     f"drive with {article} **{source.object_kind}** in the lane (a kind of object the model was "
                     f"never trained on), replayed from the MCAP bag `drive_bag/`")
    else:
        lines.append(f"* model: `{model}`; backend requested: `{backend}`; camera: {source.description}")
    if response is not None:
        document |= {"class_id": int(response.class_id),
                     "add_class": {"success": bool(response.success), "pixels_used": int(response.pixels_used),
                                   "nearest_prototype_distance": float(response.nearest_prototype_distance),
                                   "nearest_class_name": response.nearest_class_name, "message": response.message}}
        lines.append(f"* `~/add_class` \"{class_name}\" from one operator mask on frame {source.operator_frame} "
                     f"(by stamp, `mask_paths` form): success={response.success}, class id {response.class_id}, "
                     f"{response.pixels_used} pixels, nearest prototype \"{response.nearest_class_name}\" at squared "
                     f"distance {response.nearest_prototype_distance:.2f}. {response.message}")
    if record:
        lines.append(f"* camera frames and outputs recorded to the MCAP bag `{record}` (`ros2 bag play` replays it)")
    lines.append("")
    lines.append(_object_table(b, a, class_name) if source.object_masks is not None and a else
                 _frame_table(b, a, class_name))
    lines += ["![strip](strip.png)", "",
              f"Rows: camera frames; overlays{' before teaching (unknown highlighted); overlays after teaching' if a else ''}.",
              "Overlay frames: `overlays/`. Figures: `summary.json`. Node log: `node.log`.", ""]
    (out_dir / "summary.json").write_text(json.dumps(document, indent=1))
    path = out_dir / "summary.md"
    path.write_text("\n".join(lines))
    return path


def camera_source(out_dir: Path, frames: int, seed: int, bag: Path | None, bag_topic: str | None,
                  mask: Path | None, mask_frame: int | None) -> CameraSource:
    if bag is None:
        print(f"[demo] sample drive -> {out_dir / 'drive'}, as an MCAP bag -> {out_dir / 'drive_bag'}")
        return sample_drive_source(out_dir, frames, seed)
    source = bag_source(bag, bag_topic, limit=frames, mask=mask, mask_frame=mask_frame)
    print(f"[demo] camera: {source.description}")
    return source


def run_demo(out_dir: Path, model: Path, backend: str = "auto", frames: int = 24, seed: int = 7,
             input_hw: tuple[int, int] = (256, 512), class_name: str | None = None, *,
             bag: Path | None = None, bag_topic: str | None = None, mask: Path | None = None,
             mask_frame: int | None = None, record: Path | None = None) -> Path:
    """Runs the demo into ``out_dir``; returns the summary's path (see the module docstring)."""
    model = model if model.is_absolute() else REPO_ROOT / model
    if not model.is_file():
        raise FileNotFoundError(f"model not found: {model} (the bundled model lives in models/default/)")
    if record is not None and Path(record).exists():
        raise FileExistsError(f"{record} exists; --record writes a new bag folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in ("class_store.json", "node.log"):
        (out_dir / stale).unlink(missing_ok=True)
    source = camera_source(out_dir, frames, seed, bag, bag_topic, mask, mask_frame)
    teach = source.operator_mask is not None
    class_name = class_name or source.object_kind or "new_object"
    (out_dir / "masks").mkdir(exist_ok=True)
    if teach:
        shutil.copyfile(source.operator_mask, out_dir / "masks" / "operator_mask.png")
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(100, 200)))  # keep the demo to itself
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    apply_large_image_profile()  # before rclpy starts: this process publishes the camera frames
    for warning in transport_warnings():
        print(f"[demo] warning: {warning}")
    params = write_demo_params(out_dir, model, backend, input_hw)
    node = NodeProcess([REPO_ROOT / "config" / "perception.yaml", params], NAMESPACE, out_dir / "node.log",
                       remappings={"image": CAMERA_TOPIC}).start()
    return _drive(node, out_dir, source, teach, class_name, model, backend, record)


def _drive(node: NodeProcess, out_dir: Path, source: CameraSource, teach: bool, class_name: str, model: Path,
           backend: str, record: Path | None) -> Path:
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image as ImageMsg

    from owss_ros.srv import AddClass, ListClasses
    from owss_ros.tools.ros_client import RosClient

    rclpy.init()
    client = RosClient(rclpy.get_default_context(), "owss_demo_player")
    recorder = OutputRecorder(Path(record)) if record else None
    try:
        print("[demo] waiting for the node (model load, graph export on first run)...")
        client.warm_up(ListClasses, f"{NODE_PATH}/list_classes", ListClasses.Request(), timeout=180.0)
        for name in RECORDED_OUTPUTS:
            client.subscribe(f"{NODE_PATH}/{name}", ImageMsg)
        client.publisher(CAMERA_TOPIC, ImageMsg, QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
        what = f"with an unknown {source.object_kind}" if source.object_kind else "from the bag"
        print(f"[demo] pass 1: {len(source.frames)} frames {what}")
        before = replay(client, source, out_dir, "before", None, 0, recorder)
        after, response = None, None
        if teach:
            span_ns = source.stamps_ns[-1] - source.stamps_ns[0]
            teach_stamp_ns = source.stamps_ns[-1] + 1_000_000_000
            # the operator frame again, just before the call: the node buffers it whatever its ring's length
            send_frame(client, source.frames[source.operator_frame], teach_stamp_ns)
            sec, nanosec = divmod(teach_stamp_ns, 1_000_000_000)
            request = AddClass.Request(class_name=class_name, mask_paths=["operator_mask.png"],
                                       frame_stamps=[Time(sec=sec, nanosec=nanosec)])
            response = client.call(AddClass, f"{NODE_PATH}/add_class", request, timeout=120.0)
            print(f"[demo] ~/add_class {class_name!r} on stamp {sec}.{nanosec:09d}: success={response.success} "
                  f"id={response.class_id} ({response.message})")
            if not response.success:
                raise RuntimeError(f"add_class failed: {response.message}")
            print("[demo] pass 2: the same drive after teaching")
            after = replay(client, source, out_dir, "after", int(response.class_id),
                           span_ns + 2_000_000_000, recorder)
        picture_strip(source, [before] + ([after] if after else []), out_dir / "strip.png")
        return write_summary(out_dir, source, before, after, response, class_name, model, backend, record)
    finally:
        if recorder is not None:
            recorder.close()
        client.close()
        rclpy.shutdown()
        node.stop()
