"""Cityscapes fine annotations (``leftImg8bit`` + ``gtFine`` labelIds), also the synthetic layout.

Layout::

    root/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
    root/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png

labelIds are mapped to the 19 train ids (255 ignore) with
:func:`owss_ros.core.classes.label_id_to_train_id_lut`, then through a :class:`ClassSelection`
(exclusion, e.g. the paper's 16+3 split with car/truck/bus -> 255, and optional renumbering).
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
from owss_ros.data.label_maps import ClassSelection, cityscapes_label_id_lut

IMAGE_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"


class CityscapesDataset(SelectedClassesDataset):
    """Cityscapes ``gtFine`` labelIds -> train ids.

    Args:
        root: folder holding ``leftImg8bit/`` and ``gtFine/``.
        split: ``train``, ``val``, ``test`` or any split folder name.
        transform: joint ``transform(image, label) -> (image, label)``.
        exclude_classes: train-class names or ids mapped to 255 (e.g. ``("car", "truck", "bus")``).
        contiguous: renumber the kept classes 0..K-1; ``class_mapping`` gives old -> new ids.
        missing_label: ``"error"`` (default) or ``"skip"`` images whose label file is absent.
    """

    dataset_name = "Cityscapes"

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        transform: JointTransform | None = None,
        exclude_classes: Iterable[str | int] = (),
        contiguous: bool = False,
        missing_label: str = "error",
    ):
        self.root = Path(root)
        self.split = split
        self.selection = ClassSelection.build(CITYSCAPES_NAMES, exclude_classes, contiguous)
        self._lut = self.selection.lut[cityscapes_label_id_lut()]
        super().__init__(self._find_samples(missing_label), transform)

    def _find_samples(self, missing_label: str) -> list[SamplePaths]:
        image_root = require_dir(self.root / "leftImg8bit" / self.split, self.dataset_name)
        label_root = self.root / "gtFine" / self.split
        samples = pair_samples(
            ((f"{image.parent.name}/{stem}", image, label_root / image.parent.name / f"{stem}{LABEL_SUFFIX}")
             for image in sorted(image_root.glob(f"*/*{IMAGE_SUFFIX}"))
             for stem in [image.name[: -len(IMAGE_SUFFIX)]]),
            self.dataset_name, missing_label)
        if not samples:
            raise FileNotFoundError(f"{self.dataset_name}: no *{IMAGE_SUFFIX} files under {image_root}/<city>/")
        return samples

    def decode_maps(self, raw_label: np.ndarray, paths: SamplePaths) -> dict[str, np.ndarray]:
        return {"label": as_int64(self._lut[raw_label])}
