"""Segmentation networks for DMLNet (Cen et al., ICCV 2021): PSPNet (Zhao et al., 2017) with a
dilated ResNet-50/18, and the real-time Fast-SCNN (Poudel et al., 2019).

Public API::

    build_segmentation_net(name, num_outputs, pretrained_backbone=None) -> SegmentationNet
    available_backbones() -> tuple[str, ...]
    build_head(in_channels, num_outputs, design="pspnet", hidden_channels=None, dropout=0.1)
    SegmentationNet.encoder / .head / .encoder_channels / .new_head(n) / .freeze(parts) / .freeze_encoder()
    ImageNormalizer(input_layout="NHWC", channel_order="RGB"), IMAGENET_MEAN, IMAGENET_STD
    adaptive_avg_pool2d(x, bins)  # ONNX-exportable with dynamic sizes
"""

from .adaptive_pooling import ExportableAdaptiveAvgPool2d, adaptive_avg_pool2d
from .imagenet_weights import CheckpointLoadReport, load_backbone_checkpoint
from .heads import HEAD_DESIGNS, SegmentationHead, build_head
from .normalization import IMAGENET_MEAN, IMAGENET_STD, ImageNormalizer, normalize_image
from .registry import available_backbones, build_segmentation_net
from .segmentation_net import SegmentationNet

__all__ = [
    "HEAD_DESIGNS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CheckpointLoadReport",
    "ExportableAdaptiveAvgPool2d",
    "ImageNormalizer",
    "SegmentationHead",
    "SegmentationNet",
    "adaptive_avg_pool2d",
    "available_backbones",
    "build_head",
    "build_segmentation_net",
    "load_backbone_checkpoint",
    "normalize_image",
]
