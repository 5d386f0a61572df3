"""``owss_ros build-engine``: build (or find) the cached TensorRT engine before driving.

Building takes minutes on a Jetson; run this once after installing a model so the node
starts at once. The cache key covers the ONNX bytes, TensorRT version, GPU, precision,
profile shapes and workspace, so a node started with the same settings finds this engine.

    owss_ros build-engine --model models/default/model.safetensors --input-size 512x1024
    owss_ros build-engine --onnx model.onnx --input-size 512x1024 --fp32

With --model the ONNX is exported (or found) in the cache exactly as the node's factory
does, so pass the node's --cache-dir, --max-prototypes and --score-resolution if changed.
"""

from __future__ import annotations

import argparse
import sys

from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, SCORE_RESOLUTIONS
from owss_ros.core.npm import DEFAULT_GRAPH_SLOTS


def register(subparsers) -> None:
    p = subparsers.add_parser("build-engine", help="pre-build the TensorRT engine", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--onnx", help="ONNX file from `owss_ros export` (--label-dtype int32 advised)")
    source.add_argument("--model", help="weights (.safetensors): export to the cache as the factory does")
    p.add_argument("--input-size", metavar="HxW", help="model input size (required for a dynamic ONNX)")
    p.add_argument("--fp32", action="store_true", help="build in FP32 (default: FP16 network, FP32 scoring)")
    p.add_argument("--workspace-mib", type=int, default=1024, help="TensorRT workspace limit")
    p.add_argument("--cache-dir", help="cache folder (default: $OWSS_ROS_CACHE_DIR or ~/.cache/owss_ros)")
    p.add_argument("--max-prototypes", type=int, default=DEFAULT_GRAPH_SLOTS, help="K_max when exporting with --model")
    p.add_argument("--score-resolution", choices=SCORE_RESOLUTIONS, default=DEFAULT_SCORE_RESOLUTION,
                   help="score resolution when exporting with --model")
    p.add_argument("--device", type=int, default=0, help="CUDA device index")
    p.set_defaults(func=run)


def run(args) -> int:
    import logging
    from pathlib import Path

    from owss_ros.backends.factory import default_cache_dir, ensure_onnx
    from owss_ros.backends.onnx_metadata import parse_hw
    from owss_ros.backends.tensorrt_build import TensorRTUnavailableError, tensorrt_availability

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    ok, reason = tensorrt_availability()
    if not ok:
        print(f"error: cannot build a TensorRT engine here: {reason}", file=sys.stderr)
        return 2
    from owss_ros.backends.tensorrt_backend import prepare_engine

    cache_dir = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    onnx = Path(args.onnx) if args.onnx else ensure_onnx(args.model, cache_dir, "int32", args.max_prototypes,
                                                         args.score_resolution)
    input_hw = parse_hw(args.input_size) if args.input_size else None
    try:
        cached, info = prepare_engine(onnx, input_hw, cache_dir / "engines", "fp32" if args.fp32 else "fp16",
                                      args.workspace_mib << 20, args.device)
    except (TensorRTUnavailableError, ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    state = f"built in {cached.build_seconds:.1f} s" if cached.built else "already cached"
    print(f"engine: {cached.path} ({state})")
    print(f"key: {cached.key}")
    print(f"onnx: {onnx} (labels {info.label_dtype}, K 1..{info.max_prototypes})")
    return 0
