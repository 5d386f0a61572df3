"""Opening an anomaly test or calibration split whatever its on-disk layout.

Layouts (detected from the folder, or named):

* ``fishyscapes``: ``PATH/images`` + ``PATH/labels_masks`` (0 inlier, 1 anomaly, 255 void), with
  optional close-set train ids in ``PATH/labels_trainIds`` (the synthetic generator writes them);
  read with :class:`owss_ros.data.AnomalyMaskDataset`.
* ``streethazards``: ``PATH/test/images/test/...`` (and annotations); read with
  :class:`owss_ros.data.StreetHazardsDataset` whose known classes are the network's classes (raw
  value = class index + 1, anomaly = number of classes + 1; the synthetic generator writes the 19
  Cityscapes classes this way, the real benchmark its 13 classes).

Samples come back as (normalised image tensor, anomaly map, close-set label map, uint8 image).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from owss_ros.core.classes import CITYSCAPES_NAMES
from owss_ros.data.datasets import AnomalyMaskDataset, StreetHazardsDataset
from owss_ros.training.transforms import to_tensors

LAYOUTS = ("auto", "fishyscapes", "streethazards")
CLOSED_LABEL_DIR = "labels_trainIds"


def detect_layout(path: str | Path) -> str:
    """``fishyscapes`` or ``streethazards`` from the folder structure (FileNotFoundError otherwise)."""
    path = Path(path)
    if (path / "images").is_dir() and (path / "labels_masks").is_dir():
        return "fishyscapes"
    if (path / "test" / "images").is_dir():
        return "streethazards"
    raise FileNotFoundError(
        f"{path}: not an anomaly split: expected images/ + labels_masks/ (Fishyscapes style) or "
        "test/images/ (StreetHazards style)")


@dataclass
class AnomalySample:
    image: torch.Tensor  # (1, 3, H, W) normalised
    anomaly: np.ndarray  # (H, W) uint8: 0 inlier, 1 anomaly, 255 void
    label: np.ndarray  # (H, W) int64 close-set ids, 255 = unknown / void
    rgb: np.ndarray  # (H, W, 3) uint8, for the qualitative panels
    name: str


class AnomalySplit:
    """An anomaly split as a sequence of :class:`AnomalySample`.

    ``class_names`` is the close-set label space of ``label`` (None when the split has none).
    """

    def __init__(self, path: str | Path, layout: str = "auto", class_names: Sequence[str] = CITYSCAPES_NAMES,
                 max_images: int = 0):
        self.path = Path(path)
        self.layout = detect_layout(path) if layout == "auto" else layout
        if self.layout == "fishyscapes":
            has_closed = (self.path / CLOSED_LABEL_DIR).is_dir()
            self.dataset = AnomalyMaskDataset(self.path, closed_label_dir=CLOSED_LABEL_DIR if has_closed else None)
            self.class_names = tuple(CITYSCAPES_NAMES) if has_closed else None
        elif self.layout == "streethazards":
            self.dataset = StreetHazardsDataset(self.path, "test", class_names=class_names)
            self.class_names = tuple(class_names)
        else:
            raise ValueError(f"unknown anomaly split layout {layout!r}; choose from {LAYOUTS}")
        self.max_images = int(max_images)

    def __len__(self) -> int:
        total = len(self.dataset)
        return total if self.max_images <= 0 else min(self.max_images, total)

    def __getitem__(self, index: int) -> AnomalySample:
        if not 0 <= index < len(self):
            raise IndexError(index)
        sample = self.dataset[index]
        image, label = to_tensors(sample["image"], sample["label"])
        return AnomalySample(image[None], np.asarray(sample["anomaly"], dtype=np.uint8), label.numpy(),
                             sample["image"], sample["name"])

    def describe(self) -> dict:
        return {"path": str(self.path), "layout": self.layout, "num_images": len(self),
                "close_set_classes": list(self.class_names) if self.class_names else None}
