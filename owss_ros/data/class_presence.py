"""How many pixels of each class every image of a split holds (labels only are read).

Used to draw few-shot images that contain a class (:mod:`owss_ros.evaluation.shot_sampler`) and
to weight the training loss by class frequency (:func:`owss_ros.core.losses.log_inverse_class_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from owss_ros.data.datasets.base import PairedSegmentationDataset
from owss_ros.data.image_io import read_label


@dataclass(frozen=True)
class ClassPresence:
    """Pixel count of every class in every scanned image of a split."""

    sample_names: tuple[str, ...]
    pixel_counts: np.ndarray  # (num_images, num_classes) int64

    @classmethod
    def scan(cls, dataset: PairedSegmentationDataset, progress: bool = False, every: int = 1) -> "ClassPresence":
        """Every ``every``-th image of ``dataset`` (all by default), in its class ids (``class_names``)."""
        if every < 1:
            raise ValueError(f"every must be >= 1, got {every}")
        num_classes = len(dataset.class_names)
        samples = dataset.samples[::every]
        counts = np.zeros((len(samples), num_classes), dtype=np.int64)
        for index, paths in enumerate(tqdm(samples, desc="scan classes", unit="img", disable=not progress,
                                           leave=False)):
            label = dataset.decode_maps(read_label(paths.label), paths)["label"]
            counts[index] = np.bincount(label[label < num_classes].ravel(), minlength=num_classes)
        return cls(tuple(p.name for p in samples), counts)

    def images_with(self, class_id: int, min_pixels: int = 1) -> np.ndarray:
        """Indices (ascending) of the images holding at least ``min_pixels`` pixels of ``class_id``."""
        return np.flatnonzero(self.pixel_counts[:, class_id] >= max(1, min_pixels))

    def pixel_frequencies(self) -> np.ndarray:
        """(num_classes,) share of the labelled pixels that belong to each class (sums to 1)."""
        totals = self.pixel_counts.sum(axis=0).astype(np.float64)
        if totals.sum() == 0:
            raise ValueError("the scanned images hold no labelled pixel")
        return totals / totals.sum()
