"""The demo's camera: frames from a rosbag2 (MCAP) bag, and what is known about them.

The default demo writes its synthetic sample drive to an MCAP bag (``drive_bag/``, rgb8 on
/camera/image_raw) and replays that, so the demo and a user's own drive (``--bag``) go through
the same reader. Only the sample drive has ground-truth object masks (for the before / after
figures); for a user's bag the operator mask is optional (``--mask``). No ROS here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from owss_ros.bag import BagError, ImageBagWriter, read_image_frames
from owss_ros.tools.demo.sample_drive import make_sample_drive

DRIVE_TOPIC = "/camera/image_raw"
DRIVE_START_NS = 1_732_530_000 * 1_000_000_000
DRIVE_PERIOD_NS = 100_000_000  # 10 Hz


@dataclass(frozen=True)
class CameraSource:
    frames: list[np.ndarray]  # (H, W, 3) uint8 RGB
    stamps_ns: list[int]  # header stamps in the bag
    description: str
    object_masks: list[np.ndarray] | None = None  # ground truth per frame (sample drive only)
    object_kind: str | None = None
    operator_mask: Path | None = None  # the mask taught with /add_class, if any
    operator_frame: int = 0


def write_drive_bag(out_dir: Path, frames: int, seed: int) -> tuple[Path, object]:
    """The sample drive (``out_dir/drive``) and the same frames as an MCAP bag (``out_dir/drive_bag``)."""
    drive = make_sample_drive(out_dir / "drive", frames, seed)
    bag = out_dir / "drive_bag"
    shutil.rmtree(bag, ignore_errors=True)
    with ImageBagWriter(bag) as writer:
        for index, path in enumerate(drive.frames):
            rgb = np.asarray(Image.open(path).convert("RGB"))
            writer.write_image(DRIVE_TOPIC, rgb, DRIVE_START_NS + index * DRIVE_PERIOD_NS, encoding="rgb8",
                               frame_id="demo_camera")
    return bag, drive


def sample_drive_source(out_dir: Path, frames: int, seed: int) -> CameraSource:
    bag, drive = write_drive_bag(out_dir, frames, seed)
    source = bag_source(bag, DRIVE_TOPIC, limit=frames)
    masks = [np.asarray(Image.open(path)) > 0 for path in drive.object_masks]
    return CameraSource(source.frames, source.stamps_ns, f"synthetic sample drive (seed {seed}) via {bag}",
                        masks, drive.object_kind, drive.operator_mask, drive.operator_frame)


def bag_source(path: Path, topic: str | None = None, limit: int | None = None, mask: Path | None = None,
               mask_frame: int | None = None) -> CameraSource:
    """At most ``limit`` frames of the bag's image topic; ``mask`` is taught on ``mask_frame``
    (default: the middle frame) and must have that frame's size."""
    frames = list(read_image_frames(path, topic, limit=limit))
    if not frames:
        raise BagError(f"bag {path} has no frames on {topic or 'its image topic'}")
    operator_frame = len(frames) // 2 if mask_frame is None else mask_frame
    if not 0 <= operator_frame < len(frames):
        raise BagError(f"--mask-frame {operator_frame}: the bag gave {len(frames)} frames")
    if mask is not None:
        mask = Path(mask)
        if not mask.is_file():
            raise BagError(f"mask {mask} does not exist")
        with Image.open(mask) as image:
            size = image.size
        height, width = frames[operator_frame].rgb.shape[:2]
        if size != (width, height):
            raise BagError(f"mask {mask} is {size[0]}x{size[1]}, frame {operator_frame} is {width}x{height}")
    return CameraSource([f.rgb for f in frames], [f.stamp_ns for f in frames],
                        f"{len(frames)} frames of {frames[0].topic} from {path}", operator_mask=mask,
                        operator_frame=operator_frame)
