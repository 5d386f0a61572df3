"""Which ground-truth classes the background-prototype cells of few-shot draws are (dev tool, no ROS).

    python scripts/background_cells.py --data /tmp/fs_calib --class-name car --draws 3

For each draw of the few-shot benchmark (the same shots, :mod:`owss_ros.evaluation.shot_sampler`),
the shots' feature cells that :func:`owss_ros.core.npm.background_prototypes` would cluster (flagged
unknown by the base model's calibrated scoring, outside the masks and their 1-cell band) are looked up
in the label maps (nearest cell), and the share of each class is printed, pooled over the draws.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from owss_ros.core.calibration import load_calibration
from owss_ros.core.classes import CITYSCAPES_NAMES, train_id_by_name
from owss_ros.core.npm import pooled_mask
from owss_ros.core.open_set import unknown_cells
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.data.image_io import read_label
from owss_ros.evaluation.networks import load_network
from owss_ros.evaluation.shot_sampler import ClassPresence, draw_shots, load_shots


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="models/base16/model.safetensors")
    p.add_argument("--calibration", default="models/base16/calibration.yaml")
    p.add_argument("--data", required=True, help="Cityscapes-layout root; shots from its train split")
    p.add_argument("--class-name", default="car")
    p.add_argument("--shots", type=int, default=5)
    p.add_argument("--draws", type=int, default=3)
    p.add_argument("--min-shot-pixels", type=int, default=100)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    base = load_network(args.model).model.eval()
    config = load_calibration(args.calibration).scoring_config()
    train = CityscapesDataset(args.data, "train")
    presence = ClassPresence.scan(train, False)
    class_id = train_id_by_name(args.class_name)
    counts = np.zeros(256)
    for seed in range(args.draws):
        indices = draw_shots(presence, class_id, args.shots, seed, args.min_shot_pixels)
        shots = load_shots(train, class_id, indices)
        with torch.no_grad():
            embeddings = base(shots.images)
        h, w = embeddings.shape[-2:]
        near_mask = torch.nn.functional.max_pool2d((pooled_mask(shots.masks.float(), (h, w)) > 0)[:, None].float(),
                                                   3, stride=1, padding=1)[:, 0] > 0
        cells = (unknown_cells(embeddings, config) & ~near_mask).numpy()
        for q, index in enumerate(indices):
            paths = train.samples[index]
            label = train.decode_maps(read_label(paths.label), paths)["label"]
            step_y, step_x = label.shape[0] // h, label.shape[1] // w
            on_grid = label[step_y // 2::step_y, step_x // 2::step_x][:h, :w].astype(np.int64)
            counts += np.bincount(on_grid[cells[q]], minlength=256)[:256]
    share = counts / max(counts.sum(), 1)
    print(f"{int(counts.sum())} background cells over {args.draws} draws of {args.shots} {args.class_name} shots")
    for c in np.argsort(-share)[:10]:
        print(f"  {CITYSCAPES_NAMES[c] if c < len(CITYSCAPES_NAMES) else f'id {c}'}: {share[c]:.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
