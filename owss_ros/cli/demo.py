"""``owss_ros demo``: the node on the bundled model over a drive from an MCAP bag, with ~/add_class mid-way.

Without --bag the drive is the synthetic sample drive, written to <out>/drive_bag (MCAP) and
replayed from there; --bag replays a rosbag2 bag of your own (its only image topic, or
--bag-topic), taught with --mask (a mask PNG of frame --mask-frame) when given. --record writes
the camera frames and the node's outputs to a new MCAP bag.
"""

from __future__ import annotations

from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser("demo", help="run the node demo (sample drive or a bag, teach a class, summary)",
                              description=__doc__)
    p.add_argument("--model", type=Path, default=Path("models/default/model.safetensors"))
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder")
    p.add_argument("--backend", default="auto", choices=("auto", "onnxruntime", "torch", "tensorrt"))
    p.add_argument("--frames", type=int, default=24, help="frames of the sample drive, or at most this many of --bag")
    p.add_argument("--seed", type=int, default=7, help="seed of the synthetic sample drive")
    p.add_argument("--bag", type=Path, help="rosbag2 bag (MCAP or SQLite3 folder) to replay as the camera")
    p.add_argument("--bag-topic", help="its sensor_msgs/Image or CompressedImage topic (default: the only one)")
    p.add_argument("--mask", type=Path, help="with --bag: operator mask (PNG, the frame's size) to teach")
    p.add_argument("--mask-frame", type=int, help="with --mask: index of the frame it belongs to (default: middle)")
    p.add_argument("--class-name", help="name of the taught class (default: the sample drive's object kind)")
    p.add_argument("--record", type=Path, help="write camera frames and outputs to this new MCAP bag folder")
    p.set_defaults(func=run)


def run(args) -> int:
    import importlib.util

    if importlib.util.find_spec("owss_ros.ros") is None:
        raise SystemExit("error: the demo runs the ROS 2 node, which `pip install .` does not install: "
                         "use the ROS package (bash scripts/setup.sh, or a colcon build)")
    if args.frames <= 0:
        raise SystemExit("error: --frames must be positive")
    if args.bag is None and (args.mask or args.bag_topic or args.mask_frame is not None):
        raise SystemExit("error: --bag-topic, --mask and --mask-frame go with --bag")
    from owss_ros.bag import BagError
    from owss_ros.tools.demo.run_demo import run_demo

    try:
        summary = run_demo(args.out.resolve(), args.model, args.backend, args.frames, args.seed,
                           class_name=args.class_name, bag=args.bag, bag_topic=args.bag_topic, mask=args.mask,
                           mask_frame=args.mask_frame, record=args.record.resolve() if args.record else None)
    except (BagError, FileExistsError, FileNotFoundError) as exc:
        raise SystemExit(f"error: {exc}") from None
    print(summary.read_text())
    print(f"[demo] summary: {summary}\n[demo] picture strip: {summary.parent / 'strip.png'}")
    return 0
