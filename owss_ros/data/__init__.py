"""Data layer: dataset loaders for on-disk formats and the synthetic driving-scene generator
(:mod:`owss_ros.data.synthetic`). Nothing in this package imports ROS."""

from owss_ros.data.datasets import (
    AnomalyMaskDataset,
    BDD100KDataset,
    CityscapesDataset,
    MissingLabelError,
    StreetHazardsDataset,
)
from owss_ros.data.label_maps import ClassSelection, colorize_label_ids, colorize_train_ids

__all__ = [
    "AnomalyMaskDataset",
    "BDD100KDataset",
    "CityscapesDataset",
    "ClassSelection",
    "MissingLabelError",
    "StreetHazardsDataset",
    "colorize_label_ids",
    "colorize_train_ids",
]
