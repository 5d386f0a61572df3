"""BDD100K semantic segmentation (10K images), labels already in the 19 train ids.

Layout (official ``bdd100k`` download)::

    root/images/10k/{train,val}/<name>.jpg
    root/labels/sem_seg/masks/{train,val}/<name>.png      # 0..18, 255 = unknown

The folders and the label file suffix are arguments, so the older ``seg/images`` +
``seg/labels/<name>_train_id.png`` release reads with
``image_dir="seg/images", label_dir="seg/labels", label_suffix="_train_id.png"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from owss_ros.core.classes import CITYSCAPES_NAMES
from owss_ros.data.datasets.base import (
    JointTransform,
    SamplePaths,
    SelectedClassesDataset,
    as_int64,
    pair_samples,
    require_dir,
)
from owss_ros.data.label_maps import ClassSelection

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")


class BDD100KDataset(SelectedClassesDataset):
    """BDD100K ``sem_seg`` masks; same class-exclusion options as :class:`CityscapesDataset`."""

    dataset_name = "BDD100K"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: JointTransform | None = None,
        exclude_classes: Iterable[str | int] = (),
        contiguous: bool = False,
        missing_label: str = "error",
        image_dir: str = "images/10k",
        label_dir: str = "labels/sem_seg/masks",
        label_suffix: str = ".png",
    ):
        self.root = Path(root)
        self.split = split
        self.selection = ClassSelection.build(CITYSCAPES_NAMES, exclude_classes, contiguous)
        image_root = require_dir(self.root / image_dir / split, self.dataset_name)
        label_root = self.root / label_dir / split
        images = sorted(p for p in image_root.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        samples = pair_samples(((image.stem, image, label_root / f"{image.stem}{label_suffix}") for image in images),
                               self.dataset_name, missing_label)
        super().__init__(samples, transform)

    def decode_maps(self, raw_label: np.ndarray, paths: SamplePaths) -> dict[str, np.ndarray]:
        return {"label": as_int64(self.selection.lut[raw_label])}
