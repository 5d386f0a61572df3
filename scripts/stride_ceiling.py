"""How much mIoU can a network reach whose outputs live on a grid of stride s?

    python scripts/stride_ceiling.py --data data/synthetic_calibration --split val --strides 8 4 2

An oracle that is perfect at 1/s resolution - the one-hot ground truth averaged over each s x s cell -
bilinearly upsampled (as every owss_ros output is) and argmax-ed, scored against the full-resolution
labels. It bounds what the output stride alone allows, whatever the training; on the synthetic
calibration split: 80.8 mIoU at stride 8 (bicycle 6.9), 90.4 at 4, 96.6 at 2 - the reason for
``fast_scnn_s4`` (owss_ros/core/model/refinement.py). Dev tool; no model, no ROS.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.core.metrics import ConfusionMatrixMeter
from owss_ros.data.datasets import CityscapesDataset


def oracle_labels(label: np.ndarray, num_classes: int, stride: int) -> np.ndarray:
    """The argmax of the bilinearly upsampled cell means of the one-hot labels (void counts for no class)."""
    target = torch.from_numpy(np.where(label == IGNORE_INDEX, num_classes, label))
    one_hot = F.one_hot(target, num_classes + 1).permute(2, 0, 1)[None, :num_classes].float()
    coarse = F.avg_pool2d(one_hot, stride, ceil_mode=True)
    return F.interpolate(coarse, size=label.shape, mode="bilinear", align_corners=False)[0].argmax(0).numpy()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="data/synthetic_calibration")
    parser.add_argument("--split", default="val")
    parser.add_argument("--strides", type=int, nargs="+", default=[8, 4, 2])
    args = parser.parse_args(argv)
    dataset = CityscapesDataset(args.data, args.split)
    names = dataset.class_names
    meters = {s: ConfusionMatrixMeter(len(names)) for s in args.strides}
    for index in range(len(dataset)):
        label = dataset[index]["label"]
        for stride, meter in meters.items():
            meter.update(oracle_labels(label, len(names), stride), label)
    print(f"{len(dataset)} label maps of {args.data}/{args.split}")
    for stride, meter in meters.items():
        metrics = meter.compute()
        worst = sorted(zip(metrics.iou_per_class, names))[:5]
        print(f"stride {stride}: ceiling mIoU {100 * metrics.miou:.1f}; lowest: "
              + ", ".join(f"{name} {100 * iou:.1f}" for iou, name in worst))


if __name__ == "__main__":
    main()
