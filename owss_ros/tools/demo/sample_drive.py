"""A short synthetic sample drive with an object of a kind the model has never seen.

One scene is rendered at twice the camera resolution with a foreign object (animal, cargo,
tyre, machine, ...) in the ego lane; the drive "moves forward" by cropping an ever smaller
window around the vanishing point and resizing it to the camera size, so the object grows
as the vehicle approaches. The object's mask follows the same transform, and one frame's
mask is saved as the operator mask used to teach the class (``/add_class``).

Deterministic for a seed; no ROS here (the replay is in :mod:`owss_ros.tools.demo.run_demo`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from owss_ros.data.synthetic.scene import render_scene
from owss_ros.data.synthetic.seeding import scene_rng

CAMERA_SIZE = (512, 256)  # width, height


@dataclass(frozen=True)
class SampleDrive:
    frames: list[Path]
    object_masks: list[Path]  # ground-truth mask of the foreign object, per frame
    operator_mask: Path  # the mask an operator draws on ``operator_frame``
    operator_frame: int
    object_kind: str


def _pick_scene(seed: int, width: int, height: int, tries: int = 40):
    """The first scene (by seed order) whose foreign object is large and central enough."""
    best = None
    for index in range(tries):
        scene = render_scene(scene_rng(seed, "sample_drive", index), width, height, anomalies=1,
                             ego_vehicle_probability=0.0)
        mask = scene.anomaly == 1
        rows, cols = np.nonzero(mask)
        if len(rows) == 0:
            continue
        centred = abs(cols.mean() / width - 0.5) < 0.2
        score = mask.mean() if centred else 0.0
        if best is None or score > best[0]:
            best = (score, scene)
        if score > 0.004:
            break
    return best[1]


def _window(width: int, height: int, focus: tuple[float, float], zoom: float) -> tuple[int, int, int, int]:
    w, h = width / zoom, height / zoom
    left = min(max(focus[0] - w / 2, 0), width - w)
    top = min(max(focus[1] - h / 2, 0), height - h)
    return round(left), round(top), round(left + w), round(top + h)


def make_sample_drive(out_dir: str | Path, num_frames: int = 24, seed: int = 7,
                      operator_frame: int | None = None) -> SampleDrive:
    out_dir = Path(out_dir)
    (out_dir / "frames").mkdir(parents=True, exist_ok=True)
    (out_dir / "object_masks").mkdir(parents=True, exist_ok=True)
    cam_w, cam_h = CAMERA_SIZE
    scene = _pick_scene(seed, 2 * cam_w, 2 * cam_h)
    image = Image.fromarray(scene.image)
    mask = Image.fromarray(((scene.anomaly == 1) * 255).astype(np.uint8))
    rows, cols = np.nonzero(scene.anomaly == 1)
    focus = (float(cols.mean()), float(rows.mean()))
    frames, masks = [], []
    for i in range(num_frames):
        zoom = 1.0 + 0.9 * i / max(1, num_frames - 1)  # the object roughly doubles in size
        box = _window(2 * cam_w, 2 * cam_h, focus, zoom)
        frame = image.crop(box).resize((cam_w, cam_h), Image.BILINEAR)
        object_mask = mask.crop(box).resize((cam_w, cam_h), Image.NEAREST)
        frames.append(out_dir / "frames" / f"frame_{i:03d}.png")
        masks.append(out_dir / "object_masks" / f"frame_{i:03d}.png")
        frame.save(frames[-1])
        object_mask.save(masks[-1])
    operator_frame = num_frames // 2 if operator_frame is None else operator_frame
    operator_mask = out_dir / "operator_mask.png"
    Image.open(masks[operator_frame]).save(operator_mask)
    kind = next((k.split(":", 1)[1] for k in scene.object_kinds if k.startswith("anomaly:")), "object")
    drive = SampleDrive(frames, masks, operator_mask, operator_frame, kind)
    (out_dir / "drive.json").write_text(json.dumps({
        "frames": [p.name for p in frames], "operator_frame": operator_frame,
        "object_kind": kind, "seed": seed, "camera_size": list(CAMERA_SIZE)}, indent=1))
    return drive
