"""Builds a :class:`SegmentationNet` by backbone name.

=================  ===============================================  ===============
name               design                                            encoder output
=================  ===============================================  ===============
pspnet_resnet50    PSPNet (Zhao et al., 2017), dilated ResNet-50     512 ch, 1/8
pspnet_resnet18    PSPNet with dilated ResNet-18 (basic blocks)      512 ch, 1/8
fast_scnn          Fast-SCNN (Poudel et al., 2019), real-time        128 ch, 1/8
fast_scnn_s4       Fast-SCNN + a stride-4 output refiner             128 ch, 1/8 (outputs 1/4)
=================  ===============================================  ===============
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch import nn

from .imagenet_weights import load_backbone_checkpoint
from .fast_scnn import FastSCNNEncoder
from .heads import build_head
from .pspnet import PSPNetEncoder
from .refinement import StrideFourRefiner
from .resnet import DilatedResNet, dilated_resnet18, dilated_resnet50
from .segmentation_net import SegmentationNet

_RESNETS: dict[str, Callable[[], DilatedResNet]] = {
    "pspnet_resnet50": dilated_resnet50,
    "pspnet_resnet18": dilated_resnet18,
}
_BACKBONES: tuple[str, ...] = ("pspnet_resnet50", "pspnet_resnet18", "fast_scnn", "fast_scnn_s4")


def available_backbones() -> tuple[str, ...]:
    return _BACKBONES


def build_segmentation_net(
    name: str,
    num_outputs: int,
    pretrained_backbone: str | Path | None = None,
    head_hidden_channels: int | None = None,
    head_dropout: float = 0.1,
) -> SegmentationNet:
    """Builds the named network with a fresh head of ``num_outputs`` channels.

    ``pretrained_backbone`` is an optional local ImageNet ResNet checkpoint (torchvision key
    layout, ``.pth``/``.pt`` or ``.safetensors``) loaded into the ResNet of the PSPNet variants;
    Fast-SCNN has no ImageNet trunk and rejects it.
    """
    encoder: nn.Module
    if name in _RESNETS:
        resnet = _RESNETS[name]()
        if pretrained_backbone is not None:
            load_backbone_checkpoint(resnet, pretrained_backbone, strict=True)
        encoder = PSPNetEncoder(resnet)
        design = "pspnet"
    elif name in ("fast_scnn", "fast_scnn_s4"):
        if pretrained_backbone is not None:
            raise ValueError(
                "fast_scnn has no ImageNet ResNet backbone, so pretrained_backbone is not supported; "
                "train it from scratch or load a full fast_scnn state dict with load_state_dict()"
            )
        encoder = FastSCNNEncoder()
        design = "fast_scnn"
    else:
        raise ValueError(f"unknown backbone {name!r}; available: {', '.join(_BACKBONES)}")
    head_options = {"hidden_channels": head_hidden_channels, "dropout": head_dropout}
    head = build_head(encoder.out_channels, num_outputs, design, **head_options)
    refiner = StrideFourRefiner(num_outputs) if name == "fast_scnn_s4" else None
    return SegmentationNet(encoder, head, encoder.out_channels, backbone_name=name, head_options=head_options,
                           refiner=refiner)
