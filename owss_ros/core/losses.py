"""DMLNet training losses: DCE (Eq. 3), VL (Eq. 4) and their hybrid L = DCE + lambda_VL * VL.

The paper writes both as sums over pixels; here both are means over the valid (non-ignored)
pixels, so lambda_VL keeps its meaning whatever the crop size or batch. (The authors' code
divides the mean cross-entropy by the batch size a second time, which makes its effective
lambda_VL about 0.08 rather than 0.01; see the project notes.)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from owss_ros.core.classes import IGNORE_INDEX

DEFAULT_LAMBDA_VL = 0.01


def _check(distances: Tensor, target: Tensor) -> None:
    if distances.dim() != 4 or target.dim() != 3:
        raise ValueError(
            f"expected distances (B, K, H, W) and target (B, H, W), got "
            f"{tuple(distances.shape)} and {tuple(target.shape)}"
        )
    if distances.shape[0] != target.shape[0] or distances.shape[2:] != target.shape[1:]:
        raise ValueError(
            f"distances {tuple(distances.shape)} and target {tuple(target.shape)} disagree"
        )


def dce_loss(distances: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Discriminative cross-entropy, Eq. 3: cross-entropy on the logits -||f - m_t||^2."""
    _check(distances, target)
    if not bool((target != ignore_index).any()):
        return distances.sum() * 0.0
    return F.cross_entropy(-distances, target.long(), ignore_index=ignore_index)


def variance_loss(distances: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Variance loss, Eq. 4: the squared distance of each pixel to its own class prototype."""
    _check(distances, target)
    valid = target != ignore_index
    if not bool(valid.any()):
        return distances.sum() * 0.0
    safe_target = torch.where(valid, target.long(), torch.zeros_like(target, dtype=torch.long))
    own = distances.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    return own[valid].mean()


class DMLLoss(nn.Module):
    """Hybrid loss L = DCE + lambda_VL * VL (paper Sec. 4.1, lambda_VL = 0.01)."""

    def __init__(self, lambda_vl: float = DEFAULT_LAMBDA_VL, ignore_index: int = IGNORE_INDEX):
        super().__init__()
        if lambda_vl < 0:
            raise ValueError(f"lambda_vl must be >= 0, got {lambda_vl}")
        self.lambda_vl = float(lambda_vl)
        self.ignore_index = ignore_index

    def forward(self, distances: Tensor, target: Tensor) -> Tensor:
        loss = dce_loss(distances, target, self.ignore_index)
        if self.lambda_vl > 0:
            loss = loss + self.lambda_vl * variance_loss(distances, target, self.ignore_index)
        return loss
