"""Class definitions shared by the data, scoring and ROS layers.

The 19 Cityscapes train classes (ids 0..18) are the default base classes. Ground truth
uses 255 for void / ignore. Predicted open-set maps use :data:`UNKNOWN_ID` (also 255) for
"anomaly" (C_anomaly in Eq. 1): void never appears in a prediction, so the two cannot clash,
and the id survives a mono8 image.
"""

from __future__ import annotations

from dataclasses import dataclass

IGNORE_INDEX = 255
UNKNOWN_ID = 255
MAX_CLASS_ID = 254  # novel class ids are allocated below UNKNOWN_ID


@dataclass(frozen=True)
class ClassInfo:
    train_id: int
    name: str
    label_id: int  # Cityscapes *_labelIds.png value
    color: tuple[int, int, int]


CITYSCAPES_CLASSES: tuple[ClassInfo, ...] = (
    ClassInfo(0, "road", 7, (128, 64, 128)),
    ClassInfo(1, "sidewalk", 8, (244, 35, 232)),
    ClassInfo(2, "building", 11, (70, 70, 70)),
    ClassInfo(3, "wall", 12, (102, 102, 156)),
    ClassInfo(4, "fence", 13, (190, 153, 153)),
    ClassInfo(5, "pole", 17, (153, 153, 153)),
    ClassInfo(6, "traffic light", 19, (250, 170, 30)),
    ClassInfo(7, "traffic sign", 20, (220, 220, 0)),
    ClassInfo(8, "vegetation", 21, (107, 142, 35)),
    ClassInfo(9, "terrain", 22, (152, 251, 152)),
    ClassInfo(10, "sky", 23, (70, 130, 180)),
    ClassInfo(11, "person", 24, (220, 20, 60)),
    ClassInfo(12, "rider", 25, (255, 0, 0)),
    ClassInfo(13, "car", 26, (0, 0, 142)),
    ClassInfo(14, "truck", 27, (0, 0, 70)),
    ClassInfo(15, "bus", 28, (0, 60, 100)),
    ClassInfo(16, "train", 31, (0, 80, 100)),
    ClassInfo(17, "motorcycle", 32, (0, 0, 230)),
    ClassInfo(18, "bicycle", 33, (119, 11, 32)),
)

CITYSCAPES_NAMES: tuple[str, ...] = tuple(c.name for c in CITYSCAPES_CLASSES)
NUM_CITYSCAPES_CLASSES = len(CITYSCAPES_CLASSES)

# Paper Table 4 split: car, truck and bus are held out of base training (16 + 3).
FEW_SHOT_NOVEL_NAMES: tuple[str, ...] = ("car", "truck", "bus")


def label_id_to_train_id_lut() -> list[int]:
    """A 256-entry lookup table from Cityscapes labelIds to train ids (255 = ignore)."""
    lut = [IGNORE_INDEX] * 256
    for c in CITYSCAPES_CLASSES:
        lut[c.label_id] = c.train_id
    return lut


def train_id_by_name(name: str) -> int:
    for c in CITYSCAPES_CLASSES:
        if c.name == name:
            return c.train_id
    raise KeyError(f"unknown Cityscapes class {name!r}; known: {', '.join(CITYSCAPES_NAMES)}")
