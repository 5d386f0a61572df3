"""DMLNet training losses: DCE (Eq. 3), VL (Eq. 4) and their hybrid L = DCE + lambda_VL * VL,
plus an optional outlier-exposure term (beyond the paper; see ``centroid_pull``).

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
OUTLIER_TARGET = 254  # training-target value of pasted outlier-exposure pixels (never a class id)


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


def dce_loss(distances: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX,
             class_weights: Tensor | None = None) -> Tensor:
    """Discriminative cross-entropy, Eq. 3: cross-entropy on the logits -||f - m_t||^2.

    ``class_weights`` (K,): a weighted mean over the valid pixels instead (beyond the paper; see
    :func:`log_inverse_class_weights`), so the loss keeps the scale of the unweighted one."""
    _check(distances, target)
    if not bool((target != ignore_index).any()):
        return distances.sum() * 0.0
    return F.cross_entropy(-distances, target.long(), weight=class_weights, ignore_index=ignore_index)


def log_inverse_class_weights(frequencies, c: float = 1.02) -> Tensor:
    """w_k = 1 / ln(c + p_k) for class pixel frequencies p_k (ENet's class weighting; Paszke et al.,
    2016): rare classes (thin poles, distant bicycles) count more, bounded by 1 / ln(c) (~50 for
    c = 1.02) however rare a class is. Beyond the paper, which weights every pixel alike."""
    p = torch.as_tensor(frequencies, dtype=torch.float32)
    if p.dim() != 1 or bool((p < 0).any()) or not c > 1.0:
        raise ValueError(f"expected (K,) frequencies >= 0 and c > 1, got shape {tuple(p.shape)}, c = {c}")
    return 1.0 / torch.log(c + p)


def variance_loss(distances: Tensor, target: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Variance loss, Eq. 4: the squared distance of each pixel to its own class prototype."""
    _check(distances, target)
    valid = target != ignore_index
    if not bool(valid.any()):
        return distances.sum() * 0.0
    safe_target = torch.where(valid, target.long(), torch.zeros_like(target, dtype=torch.long))
    own = distances.gather(1, safe_target.unsqueeze(1)).squeeze(1)
    return own[valid].mean()


def centroid_pull(distances: Tensor, outlier: Tensor, temperature: float) -> Tensor:
    """Mean squared distance ||f - c||^2 of outlier pixels to the prototype centroid c = (T/N) 1.

    From the distances alone: ||f - c||^2 = mean_t d_t - T^2 (N - 1) / N (expand both squares).
    At f = c all N distances are equal, so MMSP (Eq. 6) is 1/N and the EDS sum (Eq. 7) is at
    its minimum: the embedding sits exactly where both scores say "unknown".
    """
    n = distances.shape[1]
    to_centroid = distances.mean(dim=1) - temperature ** 2 * (n - 1) / n
    if not bool(outlier.any()):
        return distances.sum() * 0.0
    return to_centroid[outlier].mean()


def uniform_posterior_loss(logits: Tensor, outlier: Tensor) -> Tensor:
    """Outlier exposure for a softmax classifier (Hendrycks et al., 2019): cross-entropy of the
    outlier pixels' posterior to the uniform distribution."""
    if not bool(outlier.any()):
        return logits.sum() * 0.0
    return -F.log_softmax(logits, dim=1).mean(dim=1)[outlier].mean()


def split_outliers(target: Tensor, ignore_index: int = IGNORE_INDEX) -> tuple[Tensor, Tensor]:
    """(known-class target with outlier pixels ignored, boolean outlier mask)."""
    outlier = target == OUTLIER_TARGET
    return torch.where(outlier, torch.full_like(target, ignore_index), target), outlier


class DMLLoss(nn.Module):
    """Hybrid loss L = DCE + lambda_VL * VL (paper Sec. 4.1, lambda_VL = 0.01), plus
    lambda_OE * centroid_pull on pixels labelled OUTLIER_TARGET (0 = the paper's setting) and
    optional per-class DCE weights (None = the paper's setting)."""

    def __init__(self, lambda_vl: float = DEFAULT_LAMBDA_VL, ignore_index: int = IGNORE_INDEX,
                 lambda_oe: float = 0.0, temperature: float = 3.0, class_weights: Tensor | None = None):
        super().__init__()
        if lambda_vl < 0 or lambda_oe < 0:
            raise ValueError(f"lambda_vl and lambda_oe must be >= 0, got {lambda_vl}, {lambda_oe}")
        self.lambda_vl = float(lambda_vl)
        self.lambda_oe = float(lambda_oe)
        self.temperature = float(temperature)
        self.ignore_index = ignore_index
        self.class_weights = class_weights  # DCE only: VL pulls every pixel to its prototype alike

    def forward(self, distances: Tensor, target: Tensor) -> Tensor:
        known, outlier = split_outliers(target, self.ignore_index)
        loss = dce_loss(distances, known, self.ignore_index, self.class_weights)
        if self.lambda_vl > 0:
            loss = loss + self.lambda_vl * variance_loss(distances, known, self.ignore_index)
        if self.lambda_oe > 0:
            loss = loss + self.lambda_oe * centroid_pull(distances, outlier, self.temperature)
        return loss
