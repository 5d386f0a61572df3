"""StreetHazards (Hendrycks et al., "Scaling Out-of-Distribution Detection for Real-World Settings").

Layout of the two released archives, extracted side by side under ``root``::

    root/train/images/training/t1-3/*.png      root/train/annotations/training/t1-3/*.png
    root/train/images/validation/t4/*.png      root/train/annotations/validation/t4/*.png
    root/test/images/test/t5,t6/*.png          root/test/annotations/test/t5,t6/*.png

Annotation files are single-channel PNGs storing ``class index + 1``: raw 0 is not a class
(void), raw 1..13 are the 13 known classes below (index 0..12, "unlabeled" counts as a known
class as in the reference training code, which trains 13 outputs) and raw 14 is the anomaly
(index 13 after the -1 shift). Source: the benchmark's reference code
(github.com/hendrycks/anomaly-seg: ``dataset.py`` subtracts 1; ``create_dataset.py`` lists the
colours/classes and the folder names above).

The synthetic generator writes the same layout with the 19 Cityscapes classes
(raw = train id + 1, raw 20 = anomaly); read it with
``StreetHazardsDataset(root, "test", class_names=CITYSCAPES_NAMES)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.data.datasets.base import (
    JointTransform,
    PairedSegmentationDataset,
    SamplePaths,
    as_int64,
    pair_samples,
    require_dir,
)

STREETHAZARDS_CLASSES: tuple[str, ...] = (
    "unlabeled",
    "building",
    "fence",
    "other",
    "pedestrian",
    "pole",
    "road line",
    "road",
    "sidewalk",
    "vegetation",
    "car",
    "wall",
    "traffic sign",
)
STREETHAZARDS_ANOMALY_INDEX = 13  # after the -1 shift; raw value 14

# split name -> (archive folder, sub-folder under images/ and annotations/)
SPLIT_FOLDERS = {
    "training": ("train", "training"),
    "train": ("train", "training"),
    "validation": ("train", "validation"),
    "val": ("train", "validation"),
    "test": ("test", "test"),
}


class StreetHazardsDataset(PairedSegmentationDataset):
    """StreetHazards images with close-set labels and the anomaly mask.

    Sample maps:
        ``label``: known class index 0..K-1; the anomaly and void (raw 0) are 255.
        ``anomaly``: 1 on anomaly pixels, 0 on known-class pixels, 255 on void.

    Args:
        class_names: the known classes, in raw order (raw = index + 1); the anomaly raw value
            is ``len(class_names) + 1``. Defaults to the 13 StreetHazards classes.
        unlabeled_is_void: treat known class ``"unlabeled"`` (index 0) as void in both maps.
        missing_label: ``"error"`` or ``"skip"``.
    """

    dataset_name = "StreetHazards"

    def __init__(
        self,
        root: str | Path,
        split: str = "training",
        transform: JointTransform | None = None,
        class_names: Sequence[str] = STREETHAZARDS_CLASSES,
        unlabeled_is_void: bool = False,
        missing_label: str = "error",
    ):
        if split not in SPLIT_FOLDERS:
            raise ValueError(f"unknown StreetHazards split {split!r}; choose from {sorted(SPLIT_FOLDERS)}")
        self.root = Path(root)
        self.split = split
        self.class_names = tuple(class_names)
        self.anomaly_raw_value = len(self.class_names) + 1
        self._label_lut, self._anomaly_lut = self._build_luts(unlabeled_is_void)
        archive, sub = SPLIT_FOLDERS[split]
        image_root = require_dir(self.root / archive / "images" / sub, self.dataset_name)
        label_root = self.root / archive / "annotations" / sub
        samples = pair_samples(
            ((f"{image.parent.name}/{image.stem}", image, label_root / image.parent.name / image.name)
             for image in sorted(image_root.glob("*/*.png"))),
            self.dataset_name, missing_label)
        super().__init__(samples, transform)

    @property
    def num_known_classes(self) -> int:
        return len(self.class_names)

    def _build_luts(self, unlabeled_is_void: bool) -> tuple[np.ndarray, np.ndarray]:
        label = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        anomaly = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        for index in range(len(self.class_names)):
            if unlabeled_is_void and self.class_names[index] == "unlabeled":
                continue
            label[index + 1] = index
            anomaly[index + 1] = 0
        anomaly[self.anomaly_raw_value] = 1
        return label, anomaly

    def decode_maps(self, raw_label: np.ndarray, paths: SamplePaths) -> dict[str, np.ndarray]:
        return {"label": as_int64(self._label_lut[raw_label]), "anomaly": self._anomaly_lut[raw_label]}
