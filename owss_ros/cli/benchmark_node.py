"""``owss_ros benchmark-node``: the perception node as a ROS process vs its bare backend.

    owss_ros benchmark-node --model models/default/model.safetensors --backend auto --rate 30 \\
        --duration 60 --input-size 256x512 --json node_bench.json

First the bare backend (built as the node builds it: same backend, model, input size,
cpu_threads, cache) times ``infer()`` on the sample drive frames in this process, paced at
--rate like the node's input; then the node
runs as its own process on an isolated ROS domain, fed the same frames (512x256 rgb8, cycled)
at --rate for --duration. Printed: sent vs received rate, frames dropped (sent - processed and
the node's own counter), end-to-end latency (stamp -> all subscribed outputs back) p50/p99/max,
the node's stage latencies from /diagnostics, the ratio to the bare backend, and the node's RSS
(after warm-up, every --rss-period s, at the end). The two phases never run at the same time.
Without --model and without models/default/model.safetensors a random-weights fast_scnn is used
(latency does not depend on the weights' values). --bag sends the frames of a rosbag2 (MCAP)
bag instead of the sample drive (at most --bag-frames of them, cycled, at the bag's resolution).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from owss_ros.cli.benchmark_model import DEFAULT_MODEL, benchmark_model


NEEDS_ROS = ("error: benchmark-node runs the ROS 2 node, which `pip install .` does not install: "
             "use the ROS package (bash scripts/setup.sh, or a colcon build)")


def register(subparsers) -> None:
    import importlib.util

    p = subparsers.add_parser("benchmark-node", help="rate, drops, latency and memory of the node process",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    if any(importlib.util.find_spec(name) is None for name in ("owss_ros.ros", "owss_ros.tools.node_benchmark")):
        p.set_defaults(func=lambda args: sys.exit(NEEDS_ROS))  # the pip-installed library: no node
        return
    from owss_ros.tools.node_benchmark import DEFAULT_OUTPUTS, OUTPUT_NAMES

    p.add_argument("--model", type=Path,
                   help=f"weights (.safetensors); default {DEFAULT_MODEL} if present, else random weights")
    p.add_argument("--backend", default="auto", choices=("auto", "onnxruntime", "torch", "tensorrt"))
    p.add_argument("--rate", type=float, default=30.0, help="camera frames per second sent to the node")
    p.add_argument("--duration", type=float, default=60.0, help="seconds of sending")
    p.add_argument("--input-size", default="256x512", help="model input size HxW (node input_height x input_width)")
    p.add_argument("--outputs", default=",".join(DEFAULT_OUTPUTS),
                   help=f"node outputs to subscribe, comma-separated, from {','.join(OUTPUT_NAMES)}")
    p.add_argument("--cpu-threads", type=int, default=0,
                   help="node parameter cpu_threads, also used for the bare backend (0: library default)")
    p.add_argument("--executor-threads", type=int, default=1,
                   help="node parameter executor_threads (1: SingleThreadedExecutor, the default; more: multi-threaded)")
    p.add_argument("--bare-frames", type=int, default=200, help="frames timed on the bare backend")
    p.add_argument("--warmup-frames", type=int, default=40,
                   help="frames sent one by one before the run (more than the node's 30-frame ring buffer)")
    p.add_argument("--rss-period", type=float, default=5.0, help="seconds between RSS samples of the node")
    p.add_argument("--cache-dir", default="", help="ONNX / engine cache (default: the node's default cache)")
    p.add_argument("--bag", type=Path, help="rosbag2 (MCAP) bag whose camera frames are sent (default: the sample drive)")
    p.add_argument("--bag-topic", help="its image topic (default: the bag's only one)")
    p.add_argument("--bag-frames", type=int, default=24, help="frames taken from --bag (cycled)")
    p.add_argument("--teach-shots", type=int, default=5,
                   help="after the timed run, /add_class with this many drive frames + masks while frames flow "
                        "(round trip and frames missed; 0 = skip; skipped with --bag)")
    p.add_argument("--work-dir", type=Path, help="keep the sample drive, params and node.log here (default: temporary)")
    p.add_argument("--json", dest="json_path", type=Path, help="also write the results as JSON here")
    p.set_defaults(func=run)


def run(args) -> int:
    import tempfile

    from owss_ros.core.atomic_file import atomic_write_text
    from owss_ros.backends.onnx_metadata import parse_hw
    from owss_ros.tools.node_benchmark import OUTPUT_NAMES, BenchmarkSettings, format_report, run_node_benchmark

    outputs = tuple(name.strip() for name in args.outputs.split(",") if name.strip())
    unknown = [name for name in outputs if name not in OUTPUT_NAMES]
    if not outputs or unknown:
        raise SystemExit(f"error: --outputs must name some of {OUTPUT_NAMES}, got {args.outputs!r}")
    if args.rate <= 0 or args.duration <= 0:
        raise SystemExit("error: --rate and --duration must be positive")
    if args.bag is not None and not args.bag.exists():
        raise SystemExit(f"error: bag {args.bag} does not exist")
    if args.executor_threads < 1:
        raise SystemExit("error: --executor-threads must be >= 1")
    if args.bag_frames <= 0:
        raise SystemExit("error: --bag-frames must be positive")
    bag = {"bag_path": args.bag.resolve(), "bag_topic": args.bag_topic, "drive_frames": args.bag_frames} if args.bag else {}
    with tempfile.TemporaryDirectory(prefix="owss_node_bench_model_") as scratch:
        model_path, model_label = benchmark_model(args.model, Path(scratch))
        if not model_path.is_file():
            raise SystemExit(f"error: model not found: {model_path}")
        settings = BenchmarkSettings(
            model_path=model_path, backend=args.backend, rate_hz=args.rate, duration_s=args.duration,
            input_hw=parse_hw(args.input_size), outputs=outputs, cpu_threads=args.cpu_threads,
            executor_threads=args.executor_threads, cache_directory=args.cache_dir, bare_frames=args.bare_frames, warmup_frames=args.warmup_frames,
            rss_period_s=args.rss_period, teach_shots=args.teach_shots, **bag)
        print(f"[benchmark-node] model: {model_label}; bare backend first (paced at the rate), then the node for {args.duration:g} s "
              f"at {args.rate:g} Hz")
        result = run_node_benchmark(settings, args.work_dir.resolve() if args.work_dir else None)
    result["settings"]["model_label"] = model_label
    print(format_report(result))
    if args.json_path:
        atomic_write_text(args.json_path, json.dumps(result, indent=1))
        print(f"wrote {args.json_path}")
    return 0
