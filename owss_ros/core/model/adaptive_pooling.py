"""Adaptive average pooling written with shape-independent ops, so it exports to ONNX with
dynamic input sizes.

PSPNet's pyramid pooling (Zhao et al., 2017) pools the feature map into b x b bins for
b in (1, 2, 3, 6). ``nn.AdaptiveAvgPool2d`` exports only when the bin count divides the
feature size seen at export time (it becomes a fixed-kernel AveragePool), so an ONNX model
exported at one size is refused or silently wrong at another. Here the pooling is a pair of
averaging matrices built at run time from the actual size:

    start_i = floor(i * H / b),  end_i = ceil((i + 1) * H / b)      (the AdaptiveAvgPool2d rule)
    P_h[i, j] = 1 / (end_i - start_i)  if start_i <= j < end_i else 0
    pooled = P_h @ x @ P_w^T

which equals ``nn.AdaptiveAvgPool2d`` for every size and is only Shape/CumSum/Floor/Ceil/
MatMul in ONNX.
"""

from __future__ import annotations

import torch
from torch import nn


def averaging_matrix(positions_template: torch.Tensor, bins: int) -> torch.Tensor:
    """Returns the ``(bins, L)`` adaptive-average matrix for a length-``L`` axis.

    ``positions_template`` is any 1-D float tensor of length ``L``; only its length is used,
    through ``ones_like`` so that ``L`` stays symbolic when traced for ONNX export.
    """
    ones = torch.ones_like(positions_template)
    length = ones.sum()
    positions = torch.cumsum(ones, dim=0) - 1.0  # 0 .. L-1
    bin_index = torch.arange(bins, dtype=ones.dtype, device=ones.device)
    start = torch.floor(bin_index * length / bins)
    end = torch.ceil((bin_index + 1.0) * length / bins)
    inside = (positions.unsqueeze(0) >= start.unsqueeze(1)) & (positions.unsqueeze(0) < end.unsqueeze(1))
    weights = inside.to(ones.dtype)
    return weights / weights.sum(dim=1, keepdim=True)


def adaptive_avg_pool2d(x: torch.Tensor, bins: int) -> torch.Tensor:
    """ONNX-friendly equivalent of ``F.adaptive_avg_pool2d(x, bins)`` for ``(B, C, H, W)`` input."""
    row_template = x[0, 0, :, 0].detach()
    col_template = x[0, 0, 0, :].detach()
    pool_h = averaging_matrix(row_template, bins)  # (bins, H)
    pool_w = averaging_matrix(col_template, bins)  # (bins, W)
    return torch.matmul(torch.matmul(pool_h, x), pool_w.transpose(0, 1))


class ExportableAdaptiveAvgPool2d(nn.Module):
    """Drop-in for ``nn.AdaptiveAvgPool2d(bins)`` (square output) that exports with dynamic H, W."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        if bins < 1:
            raise ValueError(f"bins must be >= 1, got {bins}")
        self.bins = int(bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return adaptive_avg_pool2d(x, self.bins)

    def extra_repr(self) -> str:
        return f"bins={self.bins}"
