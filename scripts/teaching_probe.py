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
    variants = [(k, q) for k in args.negatives for q in args.guard_quantiles]
    totals = {v: np.zeros(4) for v in variants}  # taught on object, object px, taught elsewhere, other px
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
            for k, q in variants:
                radius = min(config.lambda_novel, guard.distance_quantile(prototype, q))
                prototypes, thresholds = [prototype], [radius]
                centres = background_prototypes(shot_features, shot_mask, shot_unknown, k, band_cells=args.band)
                prototypes += list(centres)
                thresholds += [0.0] * len(centres)
                after = open_set_maps(embedding, config, torch.stack(prototypes), torch.tensor(thresholds),
                                      size=hw, score_size=score_hw)
                taught = (after.open_labels == base).numpy()
                totals[k, q] += [taught[objects].sum(), objects.sum(), taught[others].sum(), others.sum()]
                line.append(f"k={k} q={q}: {taught[objects].mean():.3f}/{taught[others].mean():.4f}")
            print(f"{'  '.join(line)}  ({int(shot_unknown.sum())} unknown cells in the shot)", flush=True)
    print(f"pooled before: unknown on object {before[0] / before[1]:.1%}, elsewhere {before[2] / before[3]:.2%}")
    for (k, q), t in totals.items():
        print(f"pooled negatives k={k} guard quantile {q}: new class on object {t[0] / t[1]:.1%}, elsewhere {t[2] / t[3]:.2%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
