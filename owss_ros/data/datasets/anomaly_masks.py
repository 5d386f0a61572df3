"""Anomaly benchmarks stored as image + binary mask pairs (Fishyscapes, Lost and Found,
Road Anomaly, SegmentMeIfYouCan, and the synthetic anomaly split).

Default layout (Fishyscapes-style)::

    root/images/<stem>.png|.jpg
    root/labels_masks/<stem>.png        # 0 in-distribution, 1 anomaly, 255 void

Folder names, the mask file name pattern and a raw-value mapping are arguments; presets:
:meth:`AnomalyMaskDataset.road_anomaly` (``frames/<stem>.jpg`` +
``frames/<stem>.labels/labels_semantic.png``, anomaly stored as 2, 0/1 in-distribution) and
:meth:`AnomalyMaskDataset.segment_me_if_you_can` (``labels_masks/<stem>_labels_semantic.png``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.data.datasets.base import (
    JointTransform,
    MissingLabelError,
    PairedSegmentationDataset,
    SamplePaths,
    as_int64,
    pair_samples,
    require_dir,
)
from owss_ros.data.image_io import read_label

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")


class AnomalyMaskDataset(PairedSegmentationDataset):
    """Image + anomaly mask pairs.

    Sample maps:
        ``anomaly``: 0 in-distribution, 1 anomaly, 255 void (after ``mask_value_map``; any value
        other than 0/1 left after the mapping becomes 255).
        ``label``: the close-set train-id map from ``closed_label_dir`` when given (same
        ``<stem>`` + ``closed_label_suffix``), otherwise all 255 (unknown).

    Args:
        image_dir, mask_dir: folders relative to ``root``.
        mask_name: file name pattern of the mask inside ``mask_dir``; ``{stem}`` is the image stem.
        mask_value_map: raw mask value -> output value applied before validation (e.g. ``{2: 1}``).
    """

    dataset_name = "anomaly masks"

    def __init__(
        self,
        root: str | Path,
        transform: JointTransform | None = None,
        image_dir: str = "images",
        mask_dir: str = "labels_masks",
        mask_name: str = "{stem}.png",
        mask_value_map: Mapping[int, int] | None = None,
        closed_label_dir: str | None = None,
        closed_label_suffix: str = ".png",
        missing_label: str = "error",
    ):
        self.root = Path(root)
        self._mask_lut = _mask_lut(mask_value_map or {})
        self._closed_root = self.root / closed_label_dir if closed_label_dir else None
        self._closed_suffix = closed_label_suffix
        image_root = require_dir(self.root / image_dir, self.dataset_name)
        mask_root = self.root / mask_dir
        images = sorted(p for p in image_root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        samples = pair_samples(((image.stem, image, mask_root / mask_name.format(stem=image.stem)) for image in images),
                               self.dataset_name, missing_label)
        super().__init__(samples, transform)

    @classmethod
    def road_anomaly(cls, root: str | Path, **kwargs) -> "AnomalyMaskDataset":
        """Road Anomaly (Lis et al.): ``frames/<id>.jpg`` + ``labels_semantic.png`` (anomaly 2; 0/1 known)."""
        kwargs.setdefault("mask_value_map", {1: 0, 2: 1})
        return cls(root, image_dir="frames", mask_dir="frames", mask_name="{stem}.labels/labels_semantic.png", **kwargs)

    @classmethod
    def segment_me_if_you_can(cls, root: str | Path, **kwargs) -> "AnomalyMaskDataset":
        """SegmentMeIfYouCan / RoadAnomaly21 / LostAndFound re-releases: ``*_labels_semantic.png`` masks."""
        return cls(root, mask_name="{stem}_labels_semantic.png", **kwargs)

    def decode_maps(self, raw_label: np.ndarray, paths: SamplePaths) -> dict[str, np.ndarray]:
        anomaly = self._mask_lut[raw_label]
        if self._closed_root is None:
            label = np.full(anomaly.shape, IGNORE_INDEX, dtype=np.int64)
        else:
            path = self._closed_root / f"{paths.name}{self._closed_suffix}"
            if not path.is_file():
                raise MissingLabelError(
                    f"{self.dataset_name}: no close-set label for {paths.image}\n  expected: {path}"
                )
            label = as_int64(read_label(path))
            if label.shape != anomaly.shape:
                raise ValueError(f"{self.dataset_name}: size mismatch between {path} and {paths.label}")
        return {"label": label, "anomaly": anomaly}


def _mask_lut(value_map: Mapping[int, int]) -> np.ndarray:
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    lut[0], lut[1] = 0, 1
    for raw, value in value_map.items():
        lut[int(raw)] = int(value)
    invalid = (lut != 0) & (lut != 1)
    lut[invalid] = IGNORE_INDEX
    return lut
