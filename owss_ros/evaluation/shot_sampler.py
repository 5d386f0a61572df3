"""Few-shot draws for incremental learning (paper Sec. 4.3, Sec. 5.2, Table 4).

The authors did not record which images were their shots, so shots are drawn by seed (project
notes): for novel class c and draw ``seed``, the images of the split that contain at least
``min_pixels`` pixels of c are put in a random order by ``numpy.random.default_rng([seed, c])``
and the first k are the k shots. Draws are therefore deterministic per (seed, class) and nested
(the 1-shot image is the first of the 5 shots of the same draw).

Operator masks follow the paper's assumption 1: only the new class is annotated - the mask of a
shot is that class's ground-truth pixels; every other pixel is unannotated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from owss_ros.data.class_presence import ClassPresence
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.data.image_io import read_label, read_rgb
from owss_ros.training.transforms import to_tensors

DEFAULT_MIN_SHOT_PIXELS = 100


def draw_shots(presence: ClassPresence, class_id: int, shots: int, seed: int,
               min_pixels: int = DEFAULT_MIN_SHOT_PIXELS) -> list[int]:
    """The ``shots`` image indices of draw ``seed`` for ``class_id`` (see the module docstring)."""
    candidates = presence.images_with(class_id, min_pixels)
    if len(candidates) < shots:
        raise ValueError(f"class {class_id}: only {len(candidates)} images hold >= {min_pixels} of its pixels, "
                         f"{shots} shots requested")
    order = np.random.default_rng([seed, class_id]).permutation(len(candidates))
    return [int(candidates[i]) for i in order[:shots]]


@dataclass
class ShotSet:
    """The annotated shots of one novel class: normalised images and binary operator masks."""

    class_id: int  # the class id in the dataset's label space (Cityscapes train id)
    class_name: str
    images: torch.Tensor  # (Q, 3, H, W) float32, normalised
    masks: torch.Tensor  # (Q, H, W) bool, True = the novel class
    sample_names: list[str]

    @property
    def num_shots(self) -> int:
        return self.images.shape[0]


def load_shots(dataset: CityscapesDataset, class_id: int, indices: list[int]) -> ShotSet:
    """Images and operator masks (that class's GT pixels) of ``indices``; equal image sizes required."""
    images, masks = [], []
    for index in indices:
        paths = dataset.samples[index]
        label = dataset.decode_maps(read_label(paths.label), paths)["label"]
        image, _ = to_tensors(read_rgb(paths.image), label)
        images.append(image)
        masks.append(torch.from_numpy(label == class_id))
    return ShotSet(class_id, dataset.class_names[class_id], torch.stack(images), torch.stack(masks),
                   [dataset.samples[i].name for i in indices])
