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
from torch import Tensor

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.npm import NO_NOVEL_CLASS, novel_class_beside_base, novel_class_index
from owss_ros.core.prototypes import (
    expanded_squared_distances,
    one_hot_squared_distances,
    prototype_products,
    squared_distances,
    upsample,
    upsample_channels_last,
    upsample_matmul,
)
from owss_ros.core.scoring import (
    EDSNormalization,
    OneHotStatistics,
    Scalar,
    ScoreMode,
    close_set_labels,
    default_eds_range,
    dml_scores,
    eds_from_distances,
    mmsp,
    select_score,
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
    if config.score_mode is ScoreMode.EDS:
        s_low, s_high = config.resolved_eds_range(base_distances.shape[1])
        return eds_from_distances(base_distances, config.eds_normalization, s_low, s_high)
    return select_score(scores_of(base_distances, config), config.score_mode)


def unknown_cells(embedding: Tensor, config: ScoringConfig) -> Tensor:
    """(B, h, w) bool: Eq. 1's unknown test on (B, C, h, w) embeddings at their own resolution (the
    background cells of :func:`owss_ros.core.npm.background_prototypes`)."""
    return anomaly_probability(one_hot_squared_distances(embedding, config.temperature), config) > config.lambda_out


def scores_of(base_distances: Tensor, config: ScoringConfig) -> dict[ScoreMode, Tensor]:
    """All three DMLNet scores (:func:`owss_ros.core.scoring.dml_scores`) with ``config``'s parameters."""
    s_low, s_high = config.resolved_eds_range(base_distances.shape[1])
    return dml_scores(base_distances, config.eds_normalization, s_low, s_high, config.beta, config.gamma)


def open_world_maps(
    embedding: Tensor,
    temperature: float,
    normalization: EDSNormalization | Tensor,
    eds_range: tuple[Scalar, Scalar],
    beta: Scalar,
    gamma: Scalar,
    mode: ScoreMode | Tensor,
    lambda_out: Scalar,
    novel_prototypes: Tensor | None = None,
    novel_thresholds: Tensor | Scalar | None = None,
    novel_valid: Tensor | None = None,
    size: tuple[int, int] | None = None,
    score_size: tuple[int, int] | None = None,
    label_dtype: torch.dtype = torch.int64,
) -> OpenSetMaps:
    """THE per-frame decision on (B, C, h, w) embeddings, scored at ``size`` (None: as given,
    else bilinearly upsampled there first, :func:`~owss_ros.core.prototypes.upsample`): close-set
    labels (Eq. 5), the anomaly probability of ``mode`` (Eq. 6-10), NPM (Eq. 12) and the precedence
    rule (:func:`combine_open_set`).

    ``score_size`` (coarser than ``size``; None: ``size``) splits the resolutions: the close-set
    labels stay exact at ``size``, the anomaly probability and the NPM decision are formed at
    ``score_size`` and brought to ``size`` (anomaly bilinear, the one upsampling rule; the taught-slot
    index nearest), and the precedence rule runs at ``size``. Labels are what changes at every class
    boundary; the scores are smooth, so this keeps almost every open-set pixel of the full form for
    a fraction of the softmax / norm work (measured: ``owss_ros benchmark-scoring``).
    ``label_dtype``: the integer type of both label maps (the exported graph's uint8 / int32; the
    precedence rule then runs on that type instead of int64).

    Computed in the closed forms of :class:`~owss_ros.core.scoring.OneHotStatistics`; like its linear
    parts, the novel cross terms f . m_k are formed before upsampling (exact: bilinear interpolation
    is linear), K channels at feature resolution. :func:`reference_open_world_maps` is the literal
    distance form it equals (tested).
    ``normalization`` / ``mode`` are enums, or one-hot (3,) weight tensors when they are run-time
    inputs of the exported graph (:mod:`owss_ros.backends.pipeline` calls this function;
    :func:`open_set_maps` is the same with a :class:`ScoringConfig`).
    """
    scored_at = size if score_size is None else score_size
    stats = OneHotStatistics.of(embedding, temperature, scored_at)
    anomaly = select_score(stats.scores(normalization, eds_range[0], eds_range[1], beta, gamma), mode)
    novel = None
    if novel_prototypes is not None and novel_prototypes.shape[0] > 0:
        cross = upsample_channels_last(prototype_products(embedding, novel_prototypes), scored_at)
        novel_distances = expanded_squared_distances(stats.squared_norm, cross.permute(0, 3, 1, 2), novel_prototypes)
        novel = novel_class_beside_base(novel_distances, stats.nearest_distance, novel_thresholds, novel_valid)
    labels = stats.labels
    if score_size is not None:
        labels = upsample_matmul(embedding, size).argmax(dim=1)  # Eq. 5: argmin d = argmax f
        anomaly = upsample_matmul(anomaly, size)
        if novel is not None:
            novel = nearest_resize(novel, size)
    labels = labels.to(label_dtype)
    return OpenSetMaps(labels, anomaly, combine_open_set(labels, anomaly, lambda_out, novel, embedding.shape[1]))


def nearest_resize(index_map: Tensor, size: tuple[int, int]) -> Tensor:
    """(B, h, w) slot-index map resized to ``size`` by nearest neighbour (an index has no in-between),
    returned as float32 (exact for slot indices; :func:`combine_open_set` takes it as is, so no
    full-size int64 map is formed)."""
    return torch.nn.functional.interpolate(index_map[:, None].to(torch.float32), size=size, mode="nearest")[:, 0]


def reference_open_world_maps(
    embedding: Tensor,
    temperature: float,
    normalization: EDSNormalization | Tensor,
    eds_range: tuple[Scalar, Scalar],
    beta: Scalar,
    gamma: Scalar,
    mode: ScoreMode | Tensor,
    lambda_out: Scalar,
    novel_prototypes: Tensor | None = None,
    novel_thresholds: Tensor | Scalar | None = None,
    novel_valid: Tensor | None = None,
    size: tuple[int, int] | None = None,
) -> OpenSetMaps:
    """:func:`open_world_maps` in the paper's literal forms on the (B, N, H, W) base distance tensor
    (Eq. 2, 5-10, 12): the specification the closed forms are tested against and benchmarked beside."""
    scored = embedding if size is None else upsample(embedding, size)
    base_distances = one_hot_squared_distances(scored, temperature)
    close = close_set_labels(base_distances)
    anomaly = select_score(dml_scores(base_distances, normalization, eds_range[0], eds_range[1], beta, gamma), mode)
    novel = None
    if novel_prototypes is not None and novel_prototypes.shape[0] > 0:
        novel = novel_class_index(squared_distances(scored, novel_prototypes), base_distances, novel_thresholds,
                                  novel_valid)
    return OpenSetMaps(close, anomaly, combine_open_set(close, anomaly, lambda_out, novel, base_distances.shape[1]))


def open_set_maps(
    embedding: Tensor,
    config: ScoringConfig,
    novel_prototypes: Tensor | None = None,
    novel_thresholds: Tensor | None = None,
    novel_valid: Tensor | None = None,
    size: tuple[int, int] | None = None,
    score_size: tuple[int, int] | None = None,
) -> OpenSetMaps:
    """All per-pixel outputs from (B, C, h, w) embeddings, scored at ``size`` (None: as given;
    ``score_size`` as in :func:`open_world_maps`).

    ``novel_prototypes`` (K, C), ``novel_thresholds`` (K,) (per-class lambda_novel; default
    ``config.lambda_novel``) and ``novel_valid`` (K,) describe the NPM classes.
    """
    thresholds = config.lambda_novel if novel_thresholds is None else novel_thresholds
    return open_world_maps(embedding, config.temperature, config.eds_normalization,
                           config.resolved_eds_range(embedding.shape[1]), config.beta, config.gamma,
                           config.score_mode, config.lambda_out, novel_prototypes, thresholds, novel_valid, size,
                           score_size)


def combine_open_set(close: Tensor, anomaly: Tensor | None, lambda_out, novel: Tensor | None,
                     num_base: int) -> Tensor:
    """The precedence rule of the module docstring: taught class > unknown (Eq. 1) > base label.

    ``novel`` is the Eq. 12 slot index per pixel (-1 for none); slot k becomes id ``num_base + k``.
    The result has ``close``'s integer type.
    With ``anomaly`` None there is no unknown step (close-set + taught classes, paper Table 4).
    """
    open_labels = close
    if anomaly is not None:
        open_labels = torch.where(anomaly > lambda_out, torch.full_like(close, UNKNOWN_ID), close)
    if novel is None:
        return open_labels
    taught = (novel + num_base).to(close.dtype)  # in the label type: no int64 map at full size
    return torch.where(novel != NO_NOVEL_CLASS, taught, open_labels)
