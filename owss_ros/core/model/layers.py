"""Small convolution building blocks shared by the PSPNet and Fast-SCNN designs."""

from __future__ import annotations

from torch import nn


class ConvBNReLU(nn.Sequential):
    """Conv2d (no bias) -> BatchNorm2d -> optional ReLU; 'same' padding for odd kernels."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        relu: bool = True,
    ) -> None:
        padding = dilation * (kernel_size - 1) // 2
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class DepthwiseSeparableConv(nn.Sequential):
    """Fast-SCNN 'DSConv' (Poudel et al., 2019, following MobileNet): depthwise 3x3 -> BN ->
    pointwise 1x1 -> BN -> ReLU, with no non-linearity between depthwise and pointwise."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__(
            ConvBNReLU(in_channels, in_channels, 3, stride=stride, groups=in_channels, relu=False),
            ConvBNReLU(in_channels, out_channels, 1, relu=True),
        )
