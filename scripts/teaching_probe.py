"""Teaching from one mask on sample drives of CALIBRATION seeds: NPM variants side by side.

    python scripts/teaching_probe.py --seeds 100 101 102 103 104 105 106 107 --negatives 0 1 2 4

For each seed a synthetic sample drive (``owss_ros.tools.demo.sample_drive``; the demo uses seed 7,
which is left out here so nothing is chosen on it) is scored by the bundled model with the node's
scoring (calibrated lambda_out, ``half_scores``); its foreign object is then taught from the
operator mask of one frame (Eq. 11) with the NPM guard's radius, and every frame is scored again.
Reported, pooled over all frames of all drives: the share of the object's pixels that are unknown
before / get the new class after, and the share of all other pixels that do.

Variant (beyond the paper): ``--negatives k`` adds k background prototypes
(:func:`owss_ros.core.npm.background_prototypes`: k-means centres of the shot's feature cells that
the model flags unknown outside the operator mask, dilated by ``--band`` cells): the operator has
said they are not the class. A background slot has lambda 0, so it never labels a pixel, but a
pixel nearer to it than to the taught prototype is no longer taken by the class. k = 0 is the
paper's NPM. ``--guard-quantiles``: the NPM guard's share of calibration known pixels.
``--grow-factors f``: also hysteresis growth (the class's pixels at f x the radius, connected to its
pixels at the radius), to see whether the radius or the metric space limits the object's coverage.
Dev tool; no ROS.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from owss_ros.backends.factory import create_backend
from owss_ros.core.calibration import load_calibration
from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.novel_guard import KnownPixelSample
from owss_ros.core.npm import background_prototypes
from owss_ros.core.open_set import open_set_maps, unknown_cells
from owss_ros.runtime.teaching import prototype_from_embeddings
from owss_ros.tools.demo.sample_drive import make_sample_drive


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/default/model.safetensors")
    p.add_argument("--calibration", default="models/default/calibration.yaml")
    p.add_argument("--known-pixels", default="models/default/known_pixels.safetensors")
    p.add_argument("--seeds", type=int, nargs="+", default=list(range(100, 108)))
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--negatives", type=int, nargs="+", default=[0, 1, 2, 4])
    p.add_argument("--guard-quantiles", type=float, nargs="+", default=[0.01],
                   help="radius = min(calibrated lambda_novel, this quantile of the guard sample's distances)")
    p.add_argument("--band", type=int, default=1, help="feature cells around the mask left out")
    p.add_argument("--max-mask-shares", type=float, nargs="+", default=[1.0],
                   help="drop a background prototype that takes more than this share of the shot's own masked "
                        "cells (nearer to it than to the taught prototype); 1 = keep all")
    p.add_argument("--breakdown", action="store_true",
                   help="also say why the object's pixels that do not get the class miss it (on the upsampled "
                        "embedding): outside the radius, nearer a base prototype, or nearer a background")
    p.add_argument("--grow-factors", type=float, nargs="*", default=[],
                   help="also grow the taught class by hysteresis: the pixels the class would take with this "
                        "factor x the radius, in 8-connected regions that hold a pixel it takes with the radius")
    return p.parse_args(argv)


class Drive:
    def __init__(self, seed: int, frames: int, root: Path):
        drive = make_sample_drive(root / f"drive_{seed}", num_frames=frames, seed=seed)
        self.kind = drive.object_kind
        self.frames = [np.asarray(Image.open(p).convert("RGB")) for p in drive.frames]
        self.objects = np.stack([np.asarray(Image.open(p)) > 0 for p in drive.object_masks])
        self.operator_frame = drive.operator_frame
        self.operator_mask = np.asarray(Image.open(drive.operator_mask)) > 0


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(1)
    calibration = load_calibration(args.calibration)
    backend = create_backend("torch", model_path=args.model, input_hw=(256, 512))
    config = calibration.scoring_config()
    guard = KnownPixelSample.load(args.known_pixels)
    base = 19
    variants = [(k, q, share) for k in args.negatives for q in args.guard_quantiles for share in args.max_mask_shares]
    totals = {v: np.zeros(4) for v in variants}  # taught on object, object px, taught elsewhere, other px
    misses = {v: np.zeros(3) for v in variants}  # object px outside the radius, nearer a base, nearer a background
    grow_totals = {(*v, factor): np.zeros(2) for v in variants for factor in args.grow_factors}  # on object, elsewhere
    before = np.zeros(4)  # unknown on object, object px, unknown elsewhere, other px
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        for seed in args.seeds:
            drive = Drive(seed, args.frames, Path(tmp))
            features = [backend.embed_features(f) for f in drive.frames]
            embedding = torch.cat([f for f, _ in features])
            hw = drive.frames[0].shape[:2]
            score_hw = (hw[0] // 2, hw[1] // 2)
            maps = open_set_maps(embedding, config, size=hw, score_size=score_hw)
            unknown = (maps.open_labels == UNKNOWN_ID).numpy()
            objects, others = drive.objects, ~drive.objects
            before += [unknown[objects].sum(), objects.sum(), unknown[others].sum(), others.sum()]
            shot = drive.operator_frame
            prototype, _ = prototype_from_embeddings([features[shot][0][0].numpy()], [drive.operator_mask])
            prototype = torch.from_numpy(prototype)
            shot_features = embedding[shot:shot + 1]
            shot_mask = torch.from_numpy(drive.operator_mask)[None]
            shot_unknown = unknown_cells(shot_features, config)
            line = [f"seed {seed} {drive.kind:9s} before {unknown[objects].mean():.3f}/{unknown[others].mean():.4f}"]
            for k, q, share in variants:
                radius = min(config.lambda_novel, guard.distance_quantile(prototype, q))
                prototypes, thresholds = [prototype], [radius]
                centres = background_prototypes(shot_features, shot_mask, shot_unknown, k, band_cells=args.band)
                centres = centres_consistent_with_mask(centres, shot_features, shot_mask, prototype, share)
                prototypes += list(centres)
                thresholds += [0.0] * len(centres)
                after = open_set_maps(embedding, config, torch.stack(prototypes), torch.tensor(thresholds),
                                      size=hw, score_size=score_hw)
                taught = (after.open_labels == base).numpy()
                for factor in args.grow_factors:
                    weak = open_set_maps(embedding, config, torch.stack(prototypes), torch.tensor(thresholds) * factor,
                                         size=hw, score_size=score_hw).open_labels == base
                    grown = grown_regions(taught, weak.numpy())
                    grow_totals[k, q, share, factor] += [grown[objects].sum(), grown[others].sum()]
                totals[k, q, share] += [taught[objects].sum(), objects.sum(), taught[others].sum(), others.sum()]
                if args.breakdown:
                    misses[k, q, share] += miss_reasons(embedding, hw, prototype, radius, centres, objects & ~taught)
                line.append(f"k={k}({len(centres)}) q={q} s={share}: {taught[objects].mean():.3f}/{taught[others].mean():.4f}")
            print(f"{'  '.join(line)}  ({int(shot_unknown.sum())} unknown cells in the shot)", flush=True)
    print(f"pooled before: unknown on object {before[0] / before[1]:.1%}, elsewhere {before[2] / before[3]:.2%}")
    for (k, q, share), t in totals.items():
        print(f"pooled negatives k={k} guard quantile {q} max mask share {share}: new class on object {t[0] / t[1]:.1%}, elsewhere {t[2] / t[3]:.2%}")
        if args.breakdown:
            m = misses[k, q, share] / t[1]
            print(f"  object pixels missed: outside the radius {m[0]:.1%}, nearer a base prototype {m[1]:.1%}, "
                  f"nearer a background {m[2]:.1%}")
        for factor in args.grow_factors:
            g = grow_totals[k, q, share, factor]
            print(f"  grown by hysteresis to {factor} x the radius: new class on object {g[0] / t[1]:.1%}, "
                  f"elsewhere {g[1] / t[3]:.2%}")
    return 0


def grown_regions(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Per frame, the 8-connected regions of ``weak | strong`` that hold a ``strong`` pixel."""
    from scipy import ndimage

    grown = np.zeros_like(strong)
    for i, (s, w) in enumerate(zip(strong, weak | strong)):
        regions, _ = ndimage.label(w, structure=np.ones((3, 3), bool))
        seeds = np.unique(regions[s])
        grown[i] = np.isin(regions, seeds[seeds > 0])
    return grown


def centres_consistent_with_mask(centres, features, mask, prototype, max_share):
    """The centres that take at most ``max_share`` of the shot's masked cells from the prototype."""
    from owss_ros.core.npm import pooled_mask
    from owss_ros.core.prototypes import squared_distances

    if len(centres) == 0 or max_share >= 1.0:
        return centres
    weights = pooled_mask(mask.to(features.dtype), tuple(features.shape[-2:]))[0]
    to_class = squared_distances(features, prototype[None])[0, 0]
    to_centres = squared_distances(features, centres)[0]
    taken = ((to_centres <= to_class[None]).to(weights.dtype) * weights[None]).flatten(1).sum(1) / weights.sum()
    return centres[taken <= max_share]


def miss_reasons(embedding, hw, prototype, radius, centres, missed) -> np.ndarray:
    """Counts of the missed object pixels by the first NPM condition (Eq. 12 beside the base) they fail."""
    from owss_ros.core.prototypes import one_hot_squared_distances, squared_distances, upsample

    f = upsample(embedding, hw)
    to_class = squared_distances(f, prototype[None])[:, 0]
    to_base = one_hot_squared_distances(f, 3.0).amin(dim=1)
    to_background = (squared_distances(f, centres).amin(dim=1) if len(centres)
                     else torch.full_like(to_class, float("inf")))
    outside = (to_class >= radius).numpy()
    nearer_base = ~outside & (to_base <= to_class).numpy()
    nearer_background = ~outside & ~nearer_base & (to_background <= to_class).numpy()
    return np.array([(outside & missed).sum(), (nearer_base & missed).sum(), (nearer_background & missed).sum()])


if __name__ == "__main__":
    raise SystemExit(main())
