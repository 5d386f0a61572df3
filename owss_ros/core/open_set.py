"""The per-frame open-world decision: embeddings -> close-set labels, anomaly map, open-set map.

Precedence in the open-set map (this project's rule; the paper defines each part alone):
  1. a taught class (NPM, Eq. 12) wins where its criterion holds - the operator taught it
     precisely because the base classes called it unknown;
  2. otherwise C_anomaly (:data:`UNKNOWN_ID`) where the anomaly probability > lambda_out (Eq. 1);
  3. otherwise the close-set base label (Eq. 5).
Novel prototype slot k is reported as class id ``num_base_classes + k``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.npm import NO_NOVEL_CLASS, novel_class_index
from owss_ros.core.prototypes import one_hot_squared_distances, squared_distances
from owss_ros.core.scoring import (
    EDSNormalization,
    ScoreMode,
    close_set_labels,
    default_eds_range,
    distance_sum,
    eds_mmsp_mixture,
    eds_probability,
    mmsp,
)


@dataclass
class ScoringConfig:
    """Hyper-parameters of the open-set decision (paper defaults, Sec. 5.1 and 5.2)."""

    temperature: float = 3.0  # T, base prototypes T * e_t
    beta: float = 20.0  # Eq. 10
    gamma: float = 0.8  # Eq. 10
    lambda_out: float = 0.5  # Eq. 1; calibrate for a target TPR on held-out data
    lambda_novel: float = 4.0  # Eq. 12, squared-distance units; calibrate (paper: 0.15)
    score_mode: ScoreMode = ScoreMode.EDS_MMSP
    eds_normalization: EDSNormalization = EDSNormalization.IMAGE_MAX
    eds_range: tuple[float, float] | None = None  # for FIXED; None = geometric default

    def __post_init__(self) -> None:
        self.score_mode = ScoreMode(self.score_mode)
        self.eds_normalization = EDSNormalization(self.eds_normalization)
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.lambda_out <= 1.0:
            raise ValueError(f"lambda_out must be in [0, 1], got {self.lambda_out}")
        if self.lambda_novel <= 0:
            raise ValueError(f"lambda_novel must be > 0, got {self.lambda_novel}")
        if self.eds_range is not None and not self.eds_range[0] < self.eds_range[1]:
            raise ValueError(f"eds_range must be (low, high) with low < high, got {self.eds_range}")

    def replaced(self, **changes) -> "ScoringConfig":
        """A copy with ``changes`` applied; None values keep the current one."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def resolved_eds_range(self, num_classes: int) -> tuple[float, float]:
        if self.eds_range is not None:
            return tuple(self.eds_range)
        return default_eds_range(num_classes, self.temperature)


@dataclass
class OpenSetMaps:
    close_labels: Tensor  # (B, H, W) int64, base ids (Eq. 5)
    anomaly: Tensor  # (B, H, W) float in [0, 1] (Eq. 6-10)
    open_labels: Tensor  # (B, H, W) int64, base / novel ids or UNKNOWN_ID (Eq. 1, 12)


def anomaly_probability(base_distances: Tensor, config: ScoringConfig) -> Tensor:
    """The anomaly probability map selected by ``config.score_mode`` (Eq. 6-10)."""
    if config.score_mode is ScoreMode.MMSP:
        return mmsp(base_distances)
    s_low, s_high = config.resolved_eds_range(base_distances.shape[1])
    p_eds = eds_probability(distance_sum(base_distances), config.eds_normalization, s_low, s_high)
    if config.score_mode is ScoreMode.EDS:
        return p_eds
    return eds_mmsp_mixture(p_eds, mmsp(base_distances), config.beta, config.gamma)


def open_set_maps(
    embedding: Tensor,
    config: ScoringConfig,
    novel_prototypes: Tensor | None = None,
    novel_thresholds: Tensor | None = None,
    novel_valid: Tensor | None = None,
) -> OpenSetMaps:
    """All per-pixel outputs from (B, C, H, W) embeddings (scored at their resolution).

    ``novel_prototypes`` (K, C), ``novel_thresholds`` (K,) (per-class lambda_novel; default
    ``config.lambda_novel``) and ``novel_valid`` (K,) describe the NPM classes.
    """
    base_distances = one_hot_squared_distances(embedding, config.temperature)
    close = close_set_labels(base_distances)
    anomaly = anomaly_probability(base_distances, config)
    novel = None
    if novel_prototypes is not None and novel_prototypes.shape[0] > 0:
        novel_d = squared_distances(embedding, novel_prototypes)
        thresholds = config.lambda_novel if novel_thresholds is None else novel_thresholds
        novel = novel_class_index(novel_d, base_distances, thresholds, novel_valid)
    num_base = base_distances.shape[1]
    return OpenSetMaps(close, anomaly, combine_open_set(close, anomaly, config.lambda_out, novel, num_base))


def combine_open_set(close: Tensor, anomaly: Tensor, lambda_out, novel: Tensor | None, num_base: int) -> Tensor:
    """The precedence rule of the module docstring: taught class > unknown (Eq. 1) > base label.

    ``novel`` is the Eq. 12 slot index per pixel (-1 for none); slot k becomes id ``num_base + k``.
    """
    open_labels = torch.where(anomaly > lambda_out, torch.full_like(close, UNKNOWN_ID), close)
    if novel is None:
        return open_labels
    return torch.where(novel != NO_NOVEL_CLASS, novel + num_base, open_labels)


class OpenSetHead(nn.Module):
    """:func:`open_set_maps` as a module (for composing into exported graphs)."""

    def __init__(self, config: ScoringConfig):
        super().__init__()
        self.config = config

    def forward(self, embedding: Tensor, novel_prototypes: Tensor, novel_thresholds: Tensor,
                novel_valid: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        maps = open_set_maps(embedding, self.config, novel_prototypes, novel_thresholds, novel_valid)
        return maps.close_labels, maps.anomaly, maps.open_labels
