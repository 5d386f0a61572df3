"""PSPNet encoder (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017).

Dilated ResNet (output stride 8, see :mod:`.resnet`) -> pyramid pooling module with bins
(1, 2, 3, 6) (:mod:`.pyramid_pooling`) -> 3x3 conv + BN + ReLU reducing the concatenation
(``2 * C`` channels) to 512. The classifier part of PSPNet is the ``"pspnet"`` head in
:mod:`.heads`. DMLNet (Cen et al., ICCV 2021) uses PSPNet as its feature extractor.
PSPNet's auxiliary loss on layer3 is not part of this module.
"""

from __future__ import annotations

import torch
from torch import nn

from .initialization import init_module_weights
from .layers import ConvBNReLU
from .pyramid_pooling import PSP_BINS, PyramidPoolingModule
from .resnet import DilatedResNet

PSP_REDUCED_CHANNELS = 512


class PSPNetEncoder(nn.Module):
    """Image (B, 3, H, W) -> features (B, 512, ceil(H/8), ceil(W/8))."""

    def __init__(
        self, backbone: DilatedResNet, bins: tuple[int, ...] = PSP_BINS, out_channels: int = PSP_REDUCED_CHANNELS
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.ppm = PyramidPoolingModule(backbone.out_channels, bins)
        self.reduce = ConvBNReLU(self.ppm.out_channels, out_channels, kernel_size=3)
        self.out_channels = out_channels
        init_module_weights(self.ppm)
        init_module_weights(self.reduce)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reduce(self.ppm(self.backbone(x)))
