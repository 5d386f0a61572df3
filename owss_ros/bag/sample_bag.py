"""A small camera bag from the project's synthetic scene generator (nothing is downloaded).

    python -m owss_ros.bag.sample_bag --out out/sample_bag --frames 24 --size 512x256

writes ``--topic`` (default /camera/image_raw, sensor_msgs/Image ``--encoding`` rgb8 or bgr8) at
``--rate`` Hz from a fixed start stamp and, with ``--compressed``, the same frames as JPEG on
``<topic>/compressed``. Frame i is scene i of split "bag" for ``--seed`` (deterministic), with
``--anomalies`` foreign objects per scene.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from owss_ros.bag.mcap_bag import NS, ImageBagWriter

START_STAMP_NS = 1_732_530_000 * NS  # a fixed, realistic epoch stamp: the same bag every run


def write_sample_bag(out: str | Path, frames: int = 24, width: int = 512, height: int = 256, *,
                     seed: int = 7, rate_hz: float = 10.0, topic: str = "/camera/image_raw",
                     encoding: str = "rgb8", compressed: bool = False, anomalies: int = 1,
                     frame_id: str = "camera") -> list[int]:
    """Writes the bag; returns the header stamps (ns) of its frames."""
    from owss_ros.data.synthetic import render_scene, scene_rng

    if encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"encoding {encoding!r}: rgb8 or bgr8")
    if frames <= 0 or rate_hz <= 0:
        raise ValueError("frames and rate must be positive")
    stamps = []
    with ImageBagWriter(out) as bag:
        for i in range(frames):
            scene = render_scene(scene_rng(seed, "bag", i), width, height, anomalies=anomalies)
            stamp = START_STAMP_NS + round(i * NS / rate_hz)
            image = scene.image if encoding == "rgb8" else scene.image[..., ::-1]
            bag.write_image(topic, image, stamp, encoding=encoding, frame_id=frame_id)
            if compressed:
                bag.write_compressed(topic.rstrip("/") + "/compressed", scene.image, stamp, frame_id=frame_id)
            stamps.append(stamp)
    return stamps


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m owss_ros.bag.sample_bag", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="new bag folder")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--size", default="512x256", help="WIDTHxHEIGHT")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rate", type=float, default=10.0, help="frame rate of the stamps (Hz)")
    parser.add_argument("--topic", default="/camera/image_raw")
    parser.add_argument("--encoding", choices=("rgb8", "bgr8"), default="rgb8")
    parser.add_argument("--compressed", action="store_true", help="also write <topic>/compressed (JPEG)")
    parser.add_argument("--anomalies", type=int, default=1, help="foreign objects per scene")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    stamps = write_sample_bag(args.out, args.frames, width, height, seed=args.seed, rate_hz=args.rate,
                              topic=args.topic, encoding=args.encoding, compressed=args.compressed,
                              anomalies=args.anomalies)
    print(f"wrote {len(stamps)} frames of {width}x{height} on {args.topic} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
