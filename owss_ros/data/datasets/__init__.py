"""torch ``Dataset`` loaders for segmentation and anomaly-segmentation formats on disk."""

from owss_ros.data.datasets.anomaly_masks import AnomalyMaskDataset
from owss_ros.data.datasets.base import MissingLabelError, PairedSegmentationDataset
from owss_ros.data.datasets.bdd100k import BDD100KDataset
from owss_ros.data.datasets.cityscapes import CityscapesDataset
from owss_ros.data.datasets.streethazards import STREETHAZARDS_CLASSES, StreetHazardsDataset

__all__ = [
    "AnomalyMaskDataset",
    "BDD100KDataset",
    "CityscapesDataset",
    "MissingLabelError",
    "PairedSegmentationDataset",
    "STREETHAZARDS_CLASSES",
    "StreetHazardsDataset",
]
