"""``owss_ros average-weights``: the element-wise (weighted) mean of trained models of one spec.

How the bundled model was made from two training stages (models/default/MODEL_CARD.md). Choose the
mix on a calibration split, never on a test split.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("average-weights", help="average the weights of models of one spec",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="+", help="two or more .safetensors models of the same spec")
    p.add_argument("--weights", type=float, nargs="+", default=None,
                   help="one weight per model (scaled to sum to 1; default equal)")
    p.add_argument("--out", required=True, help="output .safetensors")
    p.set_defaults(func=run)


def run(args) -> int:
    from owss_ros.training.weight_average import average_model_files

    spec = average_model_files(args.models, args.out, args.weights)
    print(f"wrote the mean of {len(args.models)} {spec.backbone} {spec.kind} models to {args.out}")
    return 0
