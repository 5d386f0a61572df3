"""The DMLNet library core: model, losses, scoring, prototypes, incremental learning, metrics.

Pure PyTorch / NumPy: nothing here imports ROS, so it runs in training jobs and notebooks.
"""

from owss_ros.core.class_set import ClassEntry, ClassOrigin, ClassSet, ClassSetError
from owss_ros.core.class_store import ClassStoreError, load_class_set, save_class_set
from owss_ros.core.classes import CITYSCAPES_CLASSES, IGNORE_INDEX, UNKNOWN_ID
from owss_ros.core.dmlnet import CrossEntropyNet, DMLNet
from owss_ros.core.losses import DMLLoss, dce_loss, variance_loss
from owss_ros.core.npm import novel_class_index, novel_prototype
from owss_ros.core.open_set import OpenSetMaps, ScoringConfig, open_set_maps
from owss_ros.core.prototypes import one_hot_prototypes, squared_distances
from owss_ros.core.scoring import EDSNormalization, ScoreMode

__all__ = [
    "CITYSCAPES_CLASSES", "IGNORE_INDEX", "UNKNOWN_ID", "ClassEntry", "ClassOrigin", "ClassSet",
    "ClassSetError", "ClassStoreError", "CrossEntropyNet", "DMLLoss", "DMLNet", "EDSNormalization",
    "OpenSetMaps", "ScoreMode", "ScoringConfig", "dce_loss", "load_class_set", "novel_class_index",
    "novel_prototype", "one_hot_prototypes", "open_set_maps", "save_class_set", "squared_distances",
    "variance_loss",
]
