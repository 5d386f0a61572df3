"""Fast-SCNN encoder (Poudel, Liwicki, Cipolla, "Fast-SCNN: Fast Semantic Segmentation
Network", BMVC 2019, Table 1/2).

* Learning to down-sample: Conv3x3/2 (32) -> DSConv/2 (48) -> DSConv/2 (64)  -> 1/8.
* Global feature extractor: inverted-residual bottlenecks (expansion 6) 64x3 /2, 96x3 /2,
  128x3 /1 (-> 1/32), then the PSPNet pyramid pooling module (bins 1, 2, 3, 6) fused to 128.
* Feature fusion: high-res branch 1x1 conv; low-res branch upsampled to the 1/8 map, 3x3
  depthwise conv with dilation 4, 1x1 conv; sum, ReLU -> (B, 128, ceil(H/8), ceil(W/8)).
* The classifier (2 DSConv + 1x1 conv) is the ``"fast_scnn"`` head in :mod:`.heads`.

Why this is the real-time choice: 1.14 M parameters and 0.42 GMAC at 256x512, against
17.3 M / 36 GMAC for PSPNet-ResNet18 and 47.8 M / 91 GMAC for PSPNet-ResNet50 (19 outputs,
encoder + head). Measured on this project's shared 2-core CPU (torch 2.13, onnxruntime 1.32,
median, 1 thread; ``python -m owss_ros.core.model.benchmark``): at 256x512 onnxruntime
9.5 ms and torch eager 26 ms (2 threads: ~5 ms / ~13 ms when the cores are idle); at
512x1024 onnxruntime 38 ms and eager 107 ms. PSPNet-ResNet18 takes ~0.65 s and
PSPNet-ResNet50 ~1.9 s per 256x512 frame in eager mode on one thread. The paper reports
123.5 fps at 1024x2048 on a desktop GPU; being built from depthwise-separable convolutions
with the heavy global branch at 1/32 resolution, it also suits embedded GPUs (Jetson) and
TensorRT.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .initialization import init_module_weights
from .layers import ConvBNReLU, DepthwiseSeparableConv
from .pyramid_pooling import PSP_BINS, PyramidPoolingModule

FAST_SCNN_CHANNELS = 128


class InvertedResidual(nn.Module):
    """MobileNetV2 bottleneck (Sandler et al., 2018) as used by Fast-SCNN: 1x1 expand ->
    3x3 depthwise (stride) -> linear 1x1 project; residual when shapes match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expansion: int = 6) -> None:
        super().__init__()
        hidden = in_channels * expansion
        self.block = nn.Sequential(
            ConvBNReLU(in_channels, hidden, kernel_size=1),
            ConvBNReLU(hidden, hidden, kernel_size=3, stride=stride, groups=hidden),
            ConvBNReLU(hidden, out_channels, kernel_size=1, relu=False),
        )
        self.use_residual = stride == 1 and in_channels == out_channels

    def last_bn(self) -> nn.BatchNorm2d:
        return self.block[-1][1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


def _bottleneck_stage(in_channels: int, out_channels: int, count: int, stride: int) -> nn.Sequential:
    blocks = [InvertedResidual(in_channels, out_channels, stride)]
    blocks += [InvertedResidual(out_channels, out_channels, 1) for _ in range(count - 1)]
    return nn.Sequential(*blocks)


class LearningToDownsample(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(
            ConvBNReLU(3, 32, kernel_size=3, stride=2),
            DepthwiseSeparableConv(32, 48, stride=2),
            DepthwiseSeparableConv(48, 64, stride=2),
        )


class GlobalFeatureExtractor(nn.Module):
    def __init__(self, bins: tuple[int, ...] = PSP_BINS) -> None:
        super().__init__()
        self.bottlenecks = nn.Sequential(
            _bottleneck_stage(64, 64, 3, 2),
            _bottleneck_stage(64, 96, 3, 2),
            _bottleneck_stage(96, FAST_SCNN_CHANNELS, 3, 1),
        )
        self.ppm = PyramidPoolingModule(FAST_SCNN_CHANNELS, bins)
        self.fuse = ConvBNReLU(self.ppm.out_channels, FAST_SCNN_CHANNELS, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.ppm(self.bottlenecks(x)))


class FeatureFusion(nn.Module):
    def __init__(self, high_channels: int = 64, low_channels: int = FAST_SCNN_CHANNELS,
                 out_channels: int = FAST_SCNN_CHANNELS, low_dilation: int = 4) -> None:
        super().__init__()
        self.high = ConvBNReLU(high_channels, out_channels, kernel_size=1, relu=False)
        self.low = nn.Sequential(
            ConvBNReLU(low_channels, low_channels, kernel_size=3, dilation=low_dilation, groups=low_channels),
            ConvBNReLU(low_channels, out_channels, kernel_size=1, relu=False),
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, high: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        low = F.interpolate(low, size=high.shape[-2:], mode="bilinear", align_corners=False)
        return self.relu(self.high(high) + self.low(low))


class FastSCNNEncoder(nn.Module):
    """Image (B, 3, H, W) -> features (B, 128, ceil(H/8), ceil(W/8)).

    ``zero_init_residual`` zeroes the last BN of every residual bottleneck so each starts as
    the identity (Goyal et al., 2017), as for the ResNets.
    """

    output_stride = 8

    def __init__(self, zero_init_residual: bool = True) -> None:
        super().__init__()
        self.downsample = LearningToDownsample()
        self.global_features = GlobalFeatureExtractor()
        self.fusion = FeatureFusion()
        self.out_channels = FAST_SCNN_CHANNELS
        init_module_weights(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, InvertedResidual) and m.use_residual:
                    nn.init.zeros_(m.last_bn().weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        high = self.downsample(x)
        return self.fusion(high, self.global_features(high))
