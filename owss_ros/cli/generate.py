"""``owss_ros generate``: write a synthetic driving-scene dataset (and/or a preview grid).

Example::

    python -m owss_ros.cli generate --out data/synth --train 500 --val 100 --anomaly 100 \\
        --hazards 100 --size 512x256 --seed 0 --workers 2
"""

from __future__ import annotations

import argparse
import sys


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 512x256, got {text!r}") from None
    if width < 32 or height < 32:
        raise argparse.ArgumentTypeError("size must be at least 32x32")
    return width, height


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="render a synthetic driving-scene dataset",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", help="output folder (Cityscapes layout + anomaly splits + manifest.json)")
    parser.add_argument("--train", type=non_negative, default=500, help="training images (default 500)")
    parser.add_argument("--val", type=non_negative, default=100, help="validation images (default 100)")
    parser.add_argument("--anomaly", type=non_negative, default=0, help="Fishyscapes-style anomaly images (default 0)")
    parser.add_argument(
        "--hazards", type=non_negative, default=0, help="StreetHazards-style anomaly images (default 0)",
    )
    parser.add_argument("--size", type=parse_size, default=(512, 256), help="WIDTHxHEIGHT (default 512x256)")
    parser.add_argument(
        "--seed", type=int, default=0, help="base seed; image i of a split depends only on (seed, split, i)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (output is identical for any value)")
    parser.add_argument("--preview", metavar="PNG", help="also write a preview grid of images and labels to this file")
    parser.add_argument("--preview-count", type=int, default=8, help="scenes in the preview grid (default 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from owss_ros.data.synthetic import generate_dataset, write_preview

    width, height = args.size
    if args.out is None and args.preview is None:
        print("generate: give --out and/or --preview", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("generate: --workers must be >= 1", file=sys.stderr)
        return 2
    if args.preview:
        path = write_preview(args.preview, count=args.preview_count, seed=args.seed, width=width, height=height)
        print(f"preview written to {path}")
    if args.out is None:
        return 0
    counts = {"train": args.train, "val": args.val, "anomaly": args.anomaly, "hazards": args.hazards}
    counts = {split: n for split, n in counts.items() if n > 0}
    progress = None
    if not args.quiet:
        from tqdm import tqdm

        progress = lambda total: tqdm(total=total, unit="img", desc="generate")  # noqa: E731
    manifest = generate_dataset(args.out, counts, width, height, args.seed, args.workers, progress)
    rate = manifest["images_per_second"]
    print(f"wrote {sum(counts.values())} images to {args.out} ({rate} images/s with {args.workers} worker(s))")
    print(f"manifest: {args.out}/manifest.json")
    return 0
