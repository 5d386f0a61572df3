"""Shared machinery for paired image / label-map datasets.

Every dataset returns a ``dict`` per sample (collates with torch's default collate):

``image``  HxWx3 uint8 RGB numpy array (or whatever the transform returns),
``label``  HxW int64 close-set class ids, 255 = ignore,
``name``   a stable sample name (file stem, city-relative for Cityscapes),
``image_path`` the image file as a string,

plus dataset-specific maps (``anomaly``: 1 anomaly / 0 known / 255 void).

``transform`` is a joint callable ``transform(image, *maps) -> (image, *maps)`` receiving the
image followed by every label map of the sample in a fixed order (``label`` first, then
``anomaly`` where present); geometric operations must use nearest-neighbour on the maps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from owss_ros.data.image_io import read_label, read_rgb
from owss_ros.data.label_maps import ClassSelection

JointTransform = Callable[..., tuple]


@dataclass(frozen=True)
class SamplePaths:
    name: str
    image: Path
    label: Path


class MissingLabelError(FileNotFoundError):
    """An image has no label file where the dataset layout says it must be."""


def pair_samples(candidates, dataset: str, missing_label: str = "error") -> list[SamplePaths]:
    """Samples from ``(name, image, label)`` candidates whose label file should exist.

    A missing label file raises :class:`MissingLabelError` naming the expected path, or, with
    ``missing_label="skip"``, drops that image.
    """
    if missing_label not in ("error", "skip"):
        raise ValueError(f"missing_label must be 'error' or 'skip', got {missing_label!r}")
    samples = []
    for name, image, label in candidates:
        if label.is_file():
            samples.append(SamplePaths(name=name, image=image, label=label))
        elif missing_label == "error":
            raise MissingLabelError(
                f"{dataset}: no label file for image {image}\n  expected: {label}\n"
                "  (check the dataset layout, or pass missing_label='skip' to drop unlabelled images)"
            )
    return samples


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: directory not found: {path}")
    return path


class PairedSegmentationDataset(Dataset):
    """Base class: holds a list of :class:`SamplePaths` and applies the joint transform."""

    dataset_name = "dataset"

    def __init__(self, samples: Sequence[SamplePaths], transform: JointTransform | None = None):
        if not samples:
            raise FileNotFoundError(f"{self.dataset_name}: no samples found")
        self.samples = list(samples)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def decode_maps(self, raw_label: np.ndarray, paths: SamplePaths) -> dict[str, np.ndarray]:
        """Raw label file -> ordered dict of maps; ``label`` first. Overridden per dataset."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict:
        paths = self.samples[index]
        image = read_rgb(paths.image)
        raw = read_label(paths.label)
        if raw.shape != image.shape[:2]:
            raise ValueError(
                f"{self.dataset_name}: size mismatch between {paths.image} {image.shape[1]}x{image.shape[0]} "
                f"and {paths.label} {raw.shape[1]}x{raw.shape[0]}"
            )
        maps = self.decode_maps(raw, paths)
        if self.transform is not None:
            image, *values = self.transform(image, *maps.values())
            maps = dict(zip(maps.keys(), values))
        sample = {"image": image, **maps, "name": paths.name, "image_path": str(paths.image)}
        return sample


class SelectedClassesDataset(PairedSegmentationDataset):
    """A dataset whose classes are ``self.selection``: the Cityscapes train classes after
    exclusion and optional renumbering (:class:`~owss_ros.data.label_maps.ClassSelection`)."""

    selection: ClassSelection

    @property
    def class_mapping(self) -> dict[int, int]:
        """Cityscapes train id -> output id for every kept class."""
        return dict(self.selection.mapping)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.selection.names


def as_int64(label: np.ndarray) -> np.ndarray:
    return label.astype(np.int64)
