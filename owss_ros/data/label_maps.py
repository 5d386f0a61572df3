"""Look-up tables between label spaces: Cityscapes labelIds, train ids, and class subsets.

All tables are 256-entry ``uint8`` arrays so that a label image is remapped with a single
``lut[label]`` indexing operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from owss_ros.core.classes import (
    CITYSCAPES_CLASSES,
    CITYSCAPES_NAMES,
    IGNORE_INDEX,
    label_id_to_train_id_lut,
    train_id_by_name,
)


def cityscapes_label_id_lut() -> np.ndarray:
    """labelId -> train id (255 for every labelId outside the 19 train classes)."""
    return np.asarray(label_id_to_train_id_lut(), dtype=np.uint8)


def train_id_to_label_id_lut() -> np.ndarray:
    """train id -> Cityscapes labelId; 255 (ignore) maps to labelId 0 ("unlabeled")."""
    lut = np.zeros(256, dtype=np.uint8)
    for c in CITYSCAPES_CLASSES:
        lut[c.train_id] = c.label_id
    return lut


def train_id_palette() -> np.ndarray:
    """(256, 3) uint8 colours for train ids; ignore and unknown ids are black."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for c in CITYSCAPES_CLASSES:
        palette[c.train_id] = c.color
    return palette


def label_id_palette() -> np.ndarray:
    """(256, 3) uint8 colours for Cityscapes labelIds (the 19 train classes; others black)."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    for c in CITYSCAPES_CLASSES:
        palette[c.label_id] = c.color
    return palette


def colorize_train_ids(train_ids: np.ndarray) -> np.ndarray:
    """HxW train-id map -> HxWx3 uint8 Cityscapes colours (ignore = black)."""
    return train_id_palette()[np.asarray(train_ids, dtype=np.uint8)]


def colorize_label_ids(label_ids: np.ndarray) -> np.ndarray:
    """HxW Cityscapes labelId map -> HxWx3 uint8 colours (non-train labelIds = black)."""
    return label_id_palette()[np.asarray(label_ids, dtype=np.uint8)]


@dataclass(frozen=True)
class ClassSelection:
    """Which of a dataset's classes are kept, and which id each kept class gets.

    ``lut`` maps a source class id (0..255) to the output id; excluded classes and the
    source ignore value map to :data:`IGNORE_INDEX`. ``mapping`` is ``{source_id: output_id}``
    for the kept classes and ``names`` lists the output classes in output-id order.
    """

    lut: np.ndarray
    mapping: dict[int, int]
    names: tuple[str, ...]

    @classmethod
    def build(
        cls,
        class_names: Sequence[str] = CITYSCAPES_NAMES,
        exclude: Iterable[str | int] = (),
        contiguous: bool = False,
    ) -> "ClassSelection":
        """Exclude classes (by name or id) and optionally renumber the rest 0..K-1 in order.

        Without ``contiguous`` the kept classes keep their ids (gaps where excluded ones were).
        """
        excluded = {_class_index(item, class_names) for item in exclude}
        lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
        mapping: dict[int, int] = {}
        names: list[str] = []
        for source_id, name in enumerate(class_names):
            if source_id in excluded:
                continue
            output_id = len(names) if contiguous else source_id
            lut[source_id] = output_id
            mapping[source_id] = output_id
            names.append(name)
        if not contiguous:
            names = [name if i not in excluded else f"<excluded {name}>" for i, name in enumerate(class_names)]
        return cls(lut=lut, mapping=mapping, names=tuple(names))

    def apply(self, ids: np.ndarray) -> np.ndarray:
        return self.lut[ids]


def _class_index(item: str | int, class_names: Sequence[str]) -> int:
    if isinstance(item, (int, np.integer)):
        if not 0 <= int(item) < len(class_names):
            raise ValueError(f"class id {item} outside 0..{len(class_names) - 1}")
        return int(item)
    if tuple(class_names) == CITYSCAPES_NAMES:
        return train_id_by_name(item)
    try:
        return list(class_names).index(item)
    except ValueError:
        raise KeyError(f"unknown class {item!r}; known: {', '.join(class_names)}") from None
