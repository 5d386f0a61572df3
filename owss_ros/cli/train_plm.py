"""``owss_ros train-plm``: teach one class with the Pseudo Label Method (paper Sec. 4.3, Algorithm 1).

Trains a new branch head (N + k + 1 outputs) on the frozen encoder, with pseudo labels from the
base head and the older branch heads overwritten by the operator's masks, and saves the PLM
segmenter (encoder + all heads) as safetensors + JSON metadata
(format: owss_ros.evaluation.plm_checkpoint). Start from a DMLNet, or from a PLM file to add one
more class.

Shots: --shot IMAGE MASK (repeatable; mask PNG non-zero = the class), or --data ROOT
--data-class NAME --shots K --seed S (ground-truth pixels of that class in K train images that
contain it, drawn by seed as in `few-shot`).

Example::

    python -m owss_ros.cli train-plm --model runs/synthetic_fast_scnn_dml16/model_final.safetensors \\
        --class-name car --data data/synthetic --data-class car --shots 5 --seed 0 --out runs/plm/car.safetensors
    python -m owss_ros.cli train-plm --model runs/plm/car.safetensors --class-name truck \\
        --shot truck1.png truck1_mask.png --out runs/plm/car_truck.safetensors
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("train-plm", help="train a PLM branch head for one new class and save the segmenter",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="DMLNet .safetensors, or a PLM segmenter file to extend")
    p.add_argument("--class-name", help="name of the new class (default: --data-class)")
    p.add_argument("--shot", nargs=2, action="append", default=[], metavar=("IMAGE", "MASK"),
                   help="an annotated image: RGB image and mask PNG (non-zero = the class); repeatable")
    p.add_argument("--data", metavar="ROOT", help="Cityscapes-layout root to draw shots from")
    p.add_argument("--data-class", help="the ground-truth class whose pixels are the masks")
    p.add_argument("--split", default="train")
    p.add_argument("--shots", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="draw seed, also seeds the head initialisation")
    p.add_argument("--min-shot-pixels", type=int, default=100)
    p.add_argument("--steps", type=int, default=200, help="Adam steps (default 200)")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--lambda-vl", type=float, default=0.01)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--out", required=True, help="output .safetensors (a .json with the metadata is written beside)")
    p.set_defaults(func=run)


def _shots_from_files(pairs):
    import numpy as np
    import torch

    from owss_ros.data.image_io import read_label, read_rgb
    from owss_ros.training.transforms import to_tensors

    images, masks = [], []
    for image_path, mask_path in pairs:
        rgb, mask = read_rgb(image_path), read_label(mask_path) != 0
        if mask.shape != rgb.shape[:2]:
            raise ValueError(f"{mask_path}: mask size {mask.shape[::-1]} differs from the image {rgb.shape[1::-1]}")
        image, _ = to_tensors(rgb, np.zeros(mask.shape, np.int64))
        images.append(image)
        masks.append(torch.from_numpy(mask))
    if len({tuple(i.shape) for i in images}) != 1:
        raise ValueError("all shot images must have the same size")
    return torch.stack(images), torch.stack(masks), [str(p[0]) for p in pairs]


def run(args) -> int:
    import torch

    from owss_ros.core.classes import train_id_by_name
    from owss_ros.core.plm import train_branch_head
    from owss_ros.data.datasets import CityscapesDataset
    from owss_ros.evaluation.plm_checkpoint import load_plm_or_base, save_plm_segmenter
    from owss_ros.evaluation.shot_sampler import ClassPresence, draw_shots, load_shots

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if bool(args.shot) == bool(args.data):
        print("train-plm: give --shot IMAGE MASK pairs or --data ROOT --data-class NAME, not both", file=sys.stderr)
        return 2
    if args.data:
        if not args.data_class:
            print("train-plm: --data needs --data-class", file=sys.stderr)
            return 2
        dataset = CityscapesDataset(args.data, args.split)
        class_id = train_id_by_name(args.data_class)
        indices = draw_shots(ClassPresence.scan(dataset), class_id, args.shots, args.seed, args.min_shot_pixels)
        shot_set = load_shots(dataset, class_id, indices)
        images, masks, names = shot_set.images, shot_set.masks, shot_set.sample_names
    else:
        images, masks, names = _shots_from_files(args.shot)
    class_name = args.class_name or args.data_class
    if not class_name:
        print("train-plm: give --class-name", file=sys.stderr)
        return 2
    segmenter, document, base = load_plm_or_base(args.model)
    if class_name in document["class_names"]:
        print(f"train-plm: the model already has a class {class_name!r}", file=sys.stderr)
        return 2
    torch.manual_seed(args.seed)
    train_branch_head(segmenter, images, masks, base.net.new_head, steps=args.steps, lr=args.lr,
                      lambda_vl=args.lambda_vl)
    new_id = segmenter.num_classes - 1
    with torch.no_grad():
        predicted = segmenter(images) == new_id
    recall = float(predicted[masks].float().mean())
    record = {"class_name": class_name, "training": {
        "steps": args.steps, "lr": args.lr, "lambda_vl": args.lambda_vl, "seed": args.seed, "shots": names,
        "annotated_pixels": int(masks.sum()), "shot_mask_recall": recall}}
    from owss_ros.core.checkpoint import ModelSpec

    heads = [{k: v for k, v in h.items() if k != "num_outputs"} for h in document["branch_heads"]] + [record]
    saved = save_plm_segmenter(args.out, segmenter, ModelSpec(**document["base_spec"]), heads,
                               document["base_model_fingerprint"])
    print(f"taught {class_name!r} as id {new_id} from {len(names)} shot(s), {int(masks.sum())} annotated pixels; "
          f"{100 * recall:.1f}% of the annotated pixels are now labelled {class_name!r}")
    print(f"classes: {saved['class_names']}")
    print(f"written {args.out} (+ .json metadata)")
    return 0
