"""``owss_ros export``: write the per-frame graph (DMLNet + open-set scoring) as validated ONNX.

Example::

    owss_ros export --model models/default/model.safetensors --out models/default/model.onnx

The prototype count K is dynamic (1..--max-prototypes), the image size dynamic unless
--fixed-size is given. Use --label-dtype int32 for graphs meant for TensorRT (the factory
and `owss_ros build-engine --model` do this themselves).
"""

from __future__ import annotations

import argparse
import json

from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, SCORE_RESOLUTIONS
from owss_ros.core.npm import DEFAULT_GRAPH_SLOTS


def register(subparsers) -> None:
    p = subparsers.add_parser("export", help="export the per-frame graph to ONNX", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="DMLNet weights (.safetensors)")
    p.add_argument("--out", required=True, help="ONNX file to write (atomically)")
    p.add_argument("--fixed-size", metavar="HxW", help="fix the model input size (default: dynamic)")
    p.add_argument("--max-prototypes", type=int, default=DEFAULT_GRAPH_SLOTS,
                   help="largest number of novel slots K (taught classes and their background prototypes)")
    p.add_argument("--score-resolution", choices=SCORE_RESOLUTIONS, default=DEFAULT_SCORE_RESOLUTION,
                   help="score at input resolution, 1/2, 1/4 or 1/8 (cheaper; maps are resized afterwards)")
    p.add_argument("--label-dtype", choices=("uint8", "int32"), default="uint8",
                   help="dtype of the label outputs (int32: the TensorRT variant)")
    p.set_defaults(func=run)


def run(args) -> int:
    from owss_ros.backends.onnx_export import ExportOptions, export_onnx
    from owss_ros.backends.onnx_metadata import parse_hw

    fixed = parse_hw(args.fixed_size) if args.fixed_size else None
    options = ExportOptions(max_prototypes=args.max_prototypes, fixed_hw=fixed,
                            score_resolution=args.score_resolution, label_dtype=args.label_dtype)
    report = export_onnx(args.model, args.out, options)
    print(f"wrote {report.path} in {report.seconds:.1f} s")
    print(f"checker: {report.checker}")
    print(f"size: {report.size_bytes} bytes ({report.size_bytes / 1e6:.2f} MB)")
    print(f"sha256: {report.sha256}")
    print("metadata: " + json.dumps(report.info.to_metadata(), sort_keys=True))
    return 0
