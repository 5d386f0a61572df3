"""Pyramid pooling module of PSPNet (Zhao et al., 2017, Sec. 3.2), also used by Fast-SCNN.

For each bin count b in (1, 2, 3, 6): adaptive average pool to b x b, 1x1 conv to
``in_channels / len(bins)`` channels, BN, ReLU, bilinear upsample back to the input size; the
input and the four branches are concatenated (``2 * in_channels`` channels with the default
branch width). The pooling is :func:`.adaptive_pooling.adaptive_avg_pool2d` so the module
exports to ONNX with dynamic input sizes.

Note: like the original, the b=1 branch applies BatchNorm to a 1x1 map, so training needs a
batch of at least 2 (PyTorch raises otherwise); inference is unaffected.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .adaptive_pooling import ExportableAdaptiveAvgPool2d
from .layers import ConvBNReLU

PSP_BINS: tuple[int, ...] = (1, 2, 3, 6)


class PyramidPoolingBranch(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, bins: int) -> None:
        super().__init__()
        self.pool = ExportableAdaptiveAvgPool2d(bins)
        self.project = ConvBNReLU(in_channels, out_channels, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = self.project(self.pool(x))
        return F.interpolate(pooled, size=x.shape[-2:], mode="bilinear", align_corners=False)


class PyramidPoolingModule(nn.Module):
    """Returns ``cat([x, branch_1(x), ..., branch_n(x)])`` with ``out_channels`` channels."""

    def __init__(
        self, in_channels: int, bins: tuple[int, ...] = PSP_BINS, branch_channels: int | None = None
    ) -> None:
        super().__init__()
        if branch_channels is None:
            branch_channels = in_channels // len(bins)
        self.branches = nn.ModuleList(PyramidPoolingBranch(in_channels, branch_channels, b) for b in bins)
        self.out_channels = in_channels + branch_channels * len(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x] + [branch(x) for branch in self.branches], dim=1)
