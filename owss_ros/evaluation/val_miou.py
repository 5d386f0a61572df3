"""Close-set mIoU of a network on a labelled split (paper Tables 1, 3: mIoU).

:func:`evaluate_miou` scores :func:`owss_ros.core.dmlnet.close_set_prediction` (Eq. 5 for a
DMLNet, argmax for the twin); the trainer's validation uses it too. On a Cityscapes-layout split
the labels are read in the network's own label space: classes the network does not know are
ignored (255) and the kept ones renumbered like the training data of that network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn
from tqdm import tqdm

from owss_ros.core.classes import CITYSCAPES_NAMES
from owss_ros.core.dmlnet import close_set_prediction
from owss_ros.core.metrics import ConfusionMatrixMeter, SegmentationMetrics
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.evaluation.anomaly_benchmark import miou_summary
from owss_ros.evaluation.networks import LoadedNetwork
from owss_ros.training.data import AugmentedDataset
from owss_ros.training.transforms import EvalTransform


@torch.no_grad()
def evaluate_miou(model: nn.Module, dataset, num_classes: int, device: torch.device,
                  max_images: int = 0) -> SegmentationMetrics:
    """mIoU over ``dataset`` (items: normalised image tensor, label tensor)."""
    was_training = model.training
    model.eval()
    meter = ConfusionMatrixMeter(num_classes)
    count = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    for index in range(count):
        image, label = dataset[index]
        pred = close_set_prediction(model, image[None].to(device))[0]
        meter.update(pred.cpu().numpy(), label.numpy())
    model.train(was_training)
    return meter.compute()


def cityscapes_split_for(class_names: Sequence[str], root: str | Path, split: str = "val") -> CityscapesDataset:
    """The split with labels in the id space of a network trained on ``class_names``."""
    unknown = [name for name in class_names if name not in CITYSCAPES_NAMES]
    if unknown:
        raise ValueError(f"the network's classes {unknown} are not Cityscapes classes: no Cityscapes-layout mIoU")
    exclude = [name for name in CITYSCAPES_NAMES if name not in class_names]
    dataset = CityscapesDataset(root, split, exclude_classes=exclude, contiguous=bool(exclude))
    if tuple(dataset.class_names) != tuple(class_names):
        raise ValueError(f"the network's class order {list(class_names)} is not the Cityscapes train-id order")
    return dataset


class _ProgressItems:
    """Indexable view that advances a tqdm bar on each item read."""

    def __init__(self, items, bar):
        self.items, self.bar = items, bar

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index):
        self.bar.update(1)
        return self.items[index]


def network_val_miou(network: LoadedNetwork, root: str | Path, split: str = "val", max_images: int = 0,
                     progress: bool = True) -> dict:
    """mIoU summary (see :func:`miou_summary`) of ``network`` on ``root``/``split``."""
    raw = cityscapes_split_for(network.spec.class_names, root, split)
    items = AugmentedDataset(raw, EvalTransform())
    count = len(items) if max_images <= 0 else min(max_images, len(items))
    with tqdm(total=count, desc=f"mIoU {network.kind}", unit="img", disable=not progress, leave=False) as bar:
        metrics = evaluate_miou(network.model, _ProgressItems(items, bar), len(raw.class_names),
                                torch.device("cpu"), max_images)
    summary = miou_summary(metrics, raw.class_names)
    summary.update(split=str(Path(root) / split), num_images=count)
    return summary
