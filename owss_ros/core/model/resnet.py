"""Dilated ResNet backbones for PSPNet (He et al., 2016; dilation as in Zhao et al., 2017).

* ResNet-18 (basic blocks, [2, 2, 2, 2]) and ResNet-50 (bottlenecks, [3, 4, 6, 3]); the
  bottleneck puts its stride on the 3x3 convolution ("ResNet v1.5").
* Output stride 8: layer3 and layer4 keep stride 1 and use dilation 2 and 4 in every 3x3
  convolution of the stage (including the first block), as PSPNet does. Output size is
  ``ceil(H / 8) x ceil(W / 8)``.
* Standard stem (7x7/2 conv, BN, ReLU, 3x3/2 max-pool), NOT PSPNet's deep 3x3 stem, so that
  common ImageNet checkpoints in the torchvision key layout load unchanged.
* Parameter and buffer names follow that layout (``conv1``, ``bn1``, ``layer1.0.conv1``,
  ``layer2.0.downsample.0`` ...); there is no ``fc`` layer.
"""

from __future__ import annotations

import torch
from torch import nn

from .initialization import init_module_weights


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation, bias=False)


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(in_channels, planes, stride, dilation)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, 1, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self, in_channels: int, planes: int, stride: int = 1, dilation: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride, dilation)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class DilatedResNet(nn.Module):
    """ResNet trunk with output stride 8 (stage strides 1, 2, 1, 1; dilations 1, 1, 2, 4)."""

    STAGE_PLANES = (64, 128, 256, 512)
    STAGE_STRIDES = (1, 2, 1, 1)
    STAGE_DILATIONS = (1, 1, 2, 4)
    output_stride = 8

    def __init__(
        self, block: type[BasicBlock] | type[Bottleneck], blocks_per_stage: tuple[int, int, int, int],
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self._in_channels = 64
        stages = []
        for planes, count, stride, dilation in zip(
            self.STAGE_PLANES, blocks_per_stage, self.STAGE_STRIDES, self.STAGE_DILATIONS
        ):
            stages.append(self._make_stage(block, planes, count, stride, dilation))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.out_channels = 512 * block.expansion
        init_module_weights(self)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(m.last_bn().weight)

    def _make_stage(self, block, planes: int, count: int, stride: int, dilation: int) -> nn.Sequential:
        out_channels = planes * block.expansion
        downsample = None
        if stride != 1 or self._in_channels != out_channels:
            downsample = nn.Sequential(_conv1x1(self._in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
        layers = [block(self._in_channels, planes, stride, dilation, downsample)]
        self._in_channels = out_channels
        layers += [block(out_channels, planes, 1, dilation) for _ in range(count - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))


def dilated_resnet18(zero_init_residual: bool = True) -> DilatedResNet:
    return DilatedResNet(BasicBlock, (2, 2, 2, 2), zero_init_residual)


def dilated_resnet50(zero_init_residual: bool = True) -> DilatedResNet:
    return DilatedResNet(Bottleneck, (3, 4, 6, 3), zero_init_residual)
