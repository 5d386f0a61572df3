"""Why does NPM reach the IoU it reaches? Eq. 11-12 variants for one taught class, side by side.

    python scripts/npm_diagnosis.py --model models/base16/model.safetensors \
        --known-pixels models/base16/known_pixels.safetensors --class car --draws 2 --images 60

For each draw of k shots (the few-shot benchmark's shot sampler, TRAIN split) the class is taught
by NPM with the radius lambda_novel chosen three ways - the benchmark's (the shots' 0.95 quantile
capped by the guard of :mod:`owss_ros.core.novel_guard`), the shots' quantile alone, and no radius
(Eq. 12's nearest-prototype test only) - and, beyond the paper, with k-means sub-prototypes of the
shot pixels (each with its own 0.95 quantile; capped variant: the guard at quantile / k each).
Scored on the first ``--images`` images of the CALIBRATION split's val images (never the test
split): IoU, precision, recall of the class, the share of other pixels it takes, and which ground-
truth classes those false positives are. Classes the base never learned and that are not the
taught one are left out of the negatives (the 16+1 protocol). Dev tool; no ROS.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from owss_ros.core.checkpoint import load_model
from owss_ros.core.novel_guard import KnownPixelSample
from owss_ros.core.npm import novel_prototype
from owss_ros.core.prototypes import one_hot_squared_distances, squared_distances, upsample
from owss_ros.data.class_presence import ClassPresence
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.evaluation.few_shot_benchmark import ValSet
from owss_ros.evaluation.novel_threshold import shot_distance_quantile
from owss_ros.evaluation.shot_sampler import draw_shots, load_shots

QUANTILE = 0.95


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/base16/model.safetensors")
    parser.add_argument("--known-pixels", default="models/base16/known_pixels.safetensors")
    parser.add_argument("--data", default="data/synthetic", help="root with the TRAIN split (shots)")
    parser.add_argument("--calibration", default="data/synthetic_calibration", help="root scored on (val)")
    parser.add_argument("--class", dest="class_name", default="car")
    parser.add_argument("--shots", type=int, default=5)
    parser.add_argument("--draws", type=int, default=2)
    parser.add_argument("--images", type=int, default=60)
    parser.add_argument("--guard-quantiles", type=float, nargs="*", default=[],
                        help="extra guard quantiles to compare with the sample's own (e.g. 0.005 0.02)")
    parser.add_argument("--kmeans", type=int, nargs="*", default=[3, 6])
    return parser.parse_args(argv)


def kmeans(points: torch.Tensor, k: int, iterations: int = 20, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(k, C) centres and (P,) assignment of Lloyd's k-means from k random points."""
    generator = torch.Generator().manual_seed(seed)
    centres = points[torch.randperm(len(points), generator=generator)[:k]].clone()
    for _ in range(iterations):
        assignment = torch.cdist(points, centres).argmin(1)
        for j in range(k):
            if bool((assignment == j).any()):
                centres[j] = points[assignment == j].mean(0)
    return centres, torch.cdist(points, centres).argmin(1)


def variants(model, shots, guard: KnownPixelSample | None, ks,
             guard_quantiles=()) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{name: ((P, C) prototypes, (P,) radii)} for one draw."""
    with torch.no_grad():
        embeddings = model(shots.images)
    prototype, _ = novel_prototype(embeddings, shots.masks)
    spread = shot_distance_quantile(embeddings, shots.masks, QUANTILE)
    bound = guard.distance_quantile(prototype) if guard is not None else float("inf")
    out = {"NPM, radius capped by the guard": ([prototype], [min(spread, bound)]),
           "NPM, shots' radius only": ([prototype], [spread]),
           "NPM, no radius (nearest only)": ([prototype], [float("inf")])}
    if guard is not None:
        for q in guard_quantiles:
            out[f"NPM, guard at {100 * q:g}%"] = ([prototype], [min(spread, guard.distance_quantile(prototype, q))])
    pixels = upsample(embeddings, tuple(shots.masks.shape[-2:])).permute(0, 2, 3, 1)[shots.masks].float()
    pixels = pixels[torch.randperm(len(pixels), generator=torch.Generator().manual_seed(0))[:20000]]
    for k in ks:
        centres, assignment = kmeans(pixels, k)
        radii = [float(torch.quantile(((pixels[assignment == j] - centres[j]) ** 2).sum(1), QUANTILE))
                 for j in range(k)]
        capped = [min(r, guard.distance_quantile(centres[j], guard.guard_quantile / k)) if guard else r
                  for j, r in enumerate(radii)]
        out[f"{k} k-means sub-prototypes, capped"] = (list(centres), capped)
        out[f"{k} k-means sub-prototypes, uncapped"] = (list(centres), radii)
    return {name: (torch.stack(p), torch.tensor(r)) for name, (p, r) in out.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    model, spec = load_model(args.model)
    model.eval()
    train = CityscapesDataset(args.data, "train")
    names = list(train.class_names)
    taught = names.index(args.class_name)
    ignored = [names.index(n) for n in names if n not in spec.class_names and n != args.class_name]
    guard = KnownPixelSample.load(args.known_pixels) if args.known_pixels else None
    presence = ClassPresence.scan(train)
    val = ValSet(args.calibration, "val", args.images)
    counts: dict[str, np.ndarray] = {}
    for seed in range(args.draws):
        shots = load_shots(train, taught, draw_shots(presence, taught, args.shots, seed))
        taught_variants = variants(model, shots, guard, args.kmeans, args.guard_quantiles)
        for index in range(len(val)):
            image, label = val[index]
            with torch.no_grad():
                embedding = upsample(model(image), tuple(image.shape[-2:]))
            nearest_base = one_hot_squared_distances(embedding, spec.temperature).amin(1)
            label = torch.as_tensor(label)[None]
            scored = (label < 255) & ~torch.isin(label, torch.tensor(ignored, dtype=label.dtype))
            positive = label == taught
            for name, (prototypes, radii) in taught_variants.items():
                d, nearest = squared_distances(embedding, prototypes).min(1)
                predicted = (d < radii[nearest]) & (d < nearest_base) & scored
                tally = counts.setdefault(name, np.zeros(4 + len(names)))
                tally[:4] += [float((predicted & positive).sum()), float((predicted & ~positive).sum()),
                              float((~predicted & positive & scored).sum()), float((scored & ~positive).sum())]
                tally[4:] += np.bincount(label[predicted & ~positive].numpy(), minlength=len(names))[:len(names)]
    print(f"{args.class_name}, {args.shots} shots x {args.draws} draws, {len(val)} calibration images")
    print(f"{'variant':38} {'IoU':>6} {'prec':>6} {'recall':>6} {'FP share':>9}  top false-positive classes")
    for name, tally in counts.items():
        tp, fp, fn, negatives = tally[:4]
        top = np.argsort(-tally[4:])[:3]
        print(f"{name:38} {100 * tp / (tp + fp + fn):6.1f} {100 * tp / max(tp + fp, 1):6.1f} "
              f"{100 * tp / (tp + fn):6.1f} {100 * fp / negatives:8.2f}%  "
              + ", ".join(f"{names[t]} {100 * tally[4 + t] / max(fp, 1):.0f}%" for t in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
