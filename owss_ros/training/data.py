"""Datasets for training and evaluation, built from a :class:`DataConfig`."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from owss_ros.data.datasets import BDD100KDataset, CityscapesDataset, StreetHazardsDataset
from owss_ros.training.config import DataConfig


def build_segmentation_dataset(config: DataConfig, split: str):
    """The raw dataset (uint8 images, int64 labels) of ``config.format`` for ``split``."""
    exclude = list(config.exclude_classes)
    # excluded classes are renumbered away: a 16-class model has a 16-d metric space (paper 5.2)
    if config.format == "cityscapes":
        return CityscapesDataset(config.root, split, exclude_classes=exclude, contiguous=bool(exclude))
    if config.format == "bdd100k":
        return BDD100KDataset(config.root, split, exclude_classes=exclude, contiguous=bool(exclude))
    if config.format == "streethazards":
        if exclude:
            raise ValueError("exclude_classes is not supported for StreetHazards")
        return StreetHazardsDataset(config.root, split)
    raise ValueError(f"unknown data.format {config.format!r}: cityscapes | bdd100k | streethazards")


def dataset_class_names(dataset) -> list[str]:
    return list(dataset.class_names)


class AugmentedDataset(Dataset):
    """Applies a transform with a per-sample generator seeded by (seed, epoch, index)."""

    def __init__(self, dataset, transform, seed: int = 0):
        self.dataset = dataset
        self.transform = transform
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        sample = self.dataset[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        return self.transform(sample["image"], sample["label"], rng)
