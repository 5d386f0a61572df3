"""``owss_ros sample-known-pixels``: the NPM guard's sample of known-class pixel embeddings.

A taught class's lambda_novel is capped by the guard quantile of these pixels' squared
distances to its prototype (``owss_ros.core.novel_guard``). Use a labelled calibration split,
never a test split.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    p = subparsers.add_parser("sample-known-pixels", help="sample known-class embeddings for the NPM guard",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="a DMLNet .safetensors")
    p.add_argument("--data", required=True, help="Cityscapes-layout root of the calibration split")
    p.add_argument("--split", default="val", help="split folder (default val)")
    p.add_argument("--per-image", type=int, default=200, help="pixels drawn per image (default 200)")
    p.add_argument("--max-images", type=int, default=0, help="0 = all images")
    p.add_argument("--guard-quantile", type=float, default=0.01,
                   help="share of known pixels a taught class may admit (default 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", required=True, help="output .safetensors (e.g. models/default/known_pixels.safetensors)")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from owss_ros.core.classes import CITYSCAPES_CLASSES
    from owss_ros.data.datasets import CityscapesDataset
    from owss_ros.evaluation.known_pixels import sample_known_pixels
    from owss_ros.evaluation.networks import load_network
    from owss_ros.training.data import AugmentedDataset
    from owss_ros.training.transforms import EvalTransform

    torch.set_num_threads(args.threads)
    network = load_network(args.model, expected_kind="dml")
    # only the model's own classes are known pixels (a 16-class base model has never seen car / truck / bus)
    unknown_to_model = [c.name for c in CITYSCAPES_CLASSES if c.name not in network.spec.class_names]
    dataset = AugmentedDataset(CityscapesDataset(args.data, args.split, exclude_classes=unknown_to_model),
                               EvalTransform())
    sample = sample_known_pixels(network, dataset, args.per_image, args.max_images, args.seed,
                                 args.guard_quantile, source=f"{args.data} ({args.split})")
    sample.save(args.out)
    excluded = f" (not {', '.join(unknown_to_model)})" if unknown_to_model else ""
    print(f"wrote {sample.embeddings.shape[0]} known-pixel embeddings of {args.data} ({args.split}){excluded} "
          f"for model {network.fingerprint[:12]} to {args.out}")
    return 0
