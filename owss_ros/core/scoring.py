"""Open-set scoring: close-set labels, anomaly probabilities and the open-set map.

All functions are batched torch ops on (B, K, H, W) distance maps or (B, N, H, W) logits,
with no Python loop over pixels, so they run inside an exported ONNX / TensorRT graph.
Threshold-like arguments accept a float or a 0-d tensor (a graph input, so thresholds can
change at runtime without re-exporting).

DMLNet criteria (paper Sec. 4.2), on squared distances d_t = ||f - m_t||^2 to the N base
prototypes:
  Eq. 2  p_t = softmax_t(-d_t)
  Eq. 5  close-set label = argmax_t p_t = argmin_t d_t
  Eq. 6  P_MMSP = 1 - max_t p_t
  Eq. 7  S = sum_t d_t                         (Euclidean distance sum, EDS)
  Eq. 8  P_EDS = 1 - S / max S(X)               (see :class:`EDSNormalization` for variants)
  Eq. 9  P = alpha P_EDS + (1 - alpha) P_MMSP
  Eq. 10 alpha = sigmoid(beta (P_EDS - gamma))
  Eq. 1  open-set label = C_anomaly if P > lambda_out else close-set label

Baselines for a conventionally trained (cross-entropy) twin, as anomaly scores where higher
means more anomalous: MSP (1 - max softmax), MaxLogit (-max logit), Energy (-logsumexp).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torch
from torch import Tensor

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.prototypes import upsample_channels_last, upsample_matmul

Scalar = float | Tensor


class ScoreMode(str, enum.Enum):
    """Which anomaly probability feeds Eq. 1."""

    EDS_MMSP = "eds_mmsp"  # Eq. 9-10, the paper's full method
    EDS = "eds"  # Eq. 8 alone (what the authors' released numbers use)
    MMSP = "mmsp"  # Eq. 6 alone


class EDSNormalization(str, enum.Enum):
    """How the distance sum S (Eq. 7) becomes a probability P_EDS in [0, 1].

    * ``image_max`` - Eq. 8 as printed: 1 - S / max S over the image. Because
      S >= T^2 (N - 1) everywhere (S = N ||f - centroid||^2 + T^2 (N - 1)), P_EDS stays
      below 1 - T^2 (N-1) / max S (about 0.5) and Eq. 10's gamma = 0.8 is rarely reached.
    * ``image_minmax`` - the authors' code: per-image min-max of S. Every frame gets a
      "most anomalous" region even when it holds no anomaly.
    * ``fixed`` - vehicle-safe: 1 - clamp((S - s_low) / (s_high - s_low), 0, 1) with a range
      fixed in advance (calibrated on data, or by default from the geometry: s_low = T^2 (N-1)
      at the prototype centroid, s_high = 2 T^2 (N-1) on a prototype). A frame with no
      anomaly then has no forced high-score region.
    """

    IMAGE_MAX = "image_max"
    IMAGE_MINMAX = "image_minmax"
    FIXED = "fixed"


def default_eds_range(num_classes: int, temperature: float) -> tuple[float, float]:
    """(S at the prototype centroid, S on a prototype) for N one-hot prototypes scaled by T."""
    s_low = temperature**2 * (num_classes - 1)
    return s_low, 2.0 * s_low


def close_set_probabilities(distances: Tensor) -> Tensor:
    """Eq. 2: p_t = exp(-d_t) / sum_t' exp(-d_t'). (B, N, H, W) -> (B, N, H, W)."""
    return torch.softmax(-distances, dim=1)


def close_set_labels(distances: Tensor) -> Tensor:
    """Eq. 5: argmax_t p_t, which is the nearest prototype. (B, N, H, W) -> (B, H, W) int64."""
    return torch.argmin(distances, dim=1)


def mmsp(distances: Tensor) -> Tensor:
    """Eq. 6: metric-based maximum softmax probability, P_MMSP = 1 - max_t p_t."""
    return 1.0 - close_set_probabilities(distances).amax(dim=1)


def distance_sum(distances: Tensor) -> Tensor:
    """Eq. 7: S = sum_t ||f - m_t||^2 over the base prototypes. -> (B, H, W)."""
    return distances.sum(dim=1)


def eds_probability(
    s: Tensor,
    normalization: EDSNormalization | str = EDSNormalization.IMAGE_MAX,
    s_low: Scalar = 0.0,
    s_high: Scalar = 1.0,
) -> Tensor:
    """Eq. 8 (and variants): anomaly probability from the distance sum S, (B, H, W).

    ``s_low`` / ``s_high`` are used only by the ``fixed`` normalisation.
    """
    normalization = EDSNormalization(normalization)
    eps = torch.finfo(s.dtype).eps
    if normalization is EDSNormalization.IMAGE_MAX:
        s_max = s.flatten(1).amax(dim=1)[:, None, None]
        return (1.0 - s / s_max.clamp_min(eps)).clamp(0.0, 1.0)
    if normalization is EDSNormalization.IMAGE_MINMAX:
        flat = s.flatten(1)
        s_min = flat.amin(dim=1)[:, None, None]
        s_max = flat.amax(dim=1)[:, None, None]
        return 1.0 - (s - s_min) / (s_max - s_min).clamp_min(eps)
    span = torch.as_tensor(s_high, dtype=s.dtype) - torch.as_tensor(s_low, dtype=s.dtype)
    return 1.0 - ((s - s_low) / span.clamp_min(eps)).clamp(0.0, 1.0)


NORMALIZATION_ORDER = (EDSNormalization.IMAGE_MAX, EDSNormalization.IMAGE_MINMAX, EDSNormalization.FIXED)
SCORE_MODE_ORDER = (ScoreMode.EDS_MMSP, ScoreMode.EDS, ScoreMode.MMSP)


def eds_from_sum(s: Tensor, normalization: EDSNormalization | str | Tensor,
                 s_low: Scalar = 0.0, s_high: Scalar = 1.0) -> Tensor:
    """P_EDS (Eq. 8) of a (B, H, W) distance sum S (Eq. 7).

    ``normalization`` is an :class:`EDSNormalization`, or - inside the exported graph, where it
    is a run-time input - a (3,) one-hot weight tensor in :data:`NORMALIZATION_ORDER`.
    """
    if not isinstance(normalization, Tensor):
        return eds_probability(s, normalization, s_low, s_high)
    return sum(normalization[i] * eds_probability(s, n, s_low, s_high) for i, n in enumerate(NORMALIZATION_ORDER))


def eds_from_distances(distances: Tensor, normalization: EDSNormalization | str | Tensor,
                       s_low: Scalar = 0.0, s_high: Scalar = 1.0) -> Tensor:
    """P_EDS (Eq. 7-8) of (B, N, H, W) distances (see :func:`eds_from_sum`)."""
    return eds_from_sum(distance_sum(distances), normalization, s_low, s_high)


def dml_scores(distances: Tensor, normalization: EDSNormalization | str | Tensor, s_low: Scalar, s_high: Scalar,
               beta: Scalar, gamma: Scalar) -> dict[ScoreMode, Tensor]:
    """The three DMLNet anomaly probabilities from ONE distance tensor: P_MMSP (Eq. 6), P_EDS
    (Eq. 7-8) and their mixture (Eq. 9-10), keyed by the :class:`ScoreMode` each one is."""
    return mixed_scores(mmsp(distances), eds_from_distances(distances, normalization, s_low, s_high), beta, gamma)


def mixed_scores(p_mmsp: Tensor, p_eds: Tensor, beta: Scalar, gamma: Scalar) -> dict[ScoreMode, Tensor]:
    """P_MMSP, P_EDS and their Eq. 9-10 mixture, keyed by :class:`ScoreMode`."""
    return {ScoreMode.EDS_MMSP: eds_mmsp_mixture(p_eds, p_mmsp, beta, gamma), ScoreMode.EDS: p_eds,
            ScoreMode.MMSP: p_mmsp}


@dataclass
class OneHotStatistics:
    """Per-pixel quantities of an embedding f that every DMLNet score needs, for the fixed
    prototypes m_t = T e_t, in closed form (no (B, N, H, W) distance tensor is formed):

      d_t = ||f||^2 - 2 T f_t + T^2, so
      Eq. 5   argmin_t d_t = argmax_t f_t,     min_t d_t = ||f||^2 - 2 T max_t f_t + T^2
      Eq. 6   max_t p_t = max_t softmax_t(2 T f)     (the ||f||^2 + T^2 part of -d_t cancels)
      Eq. 7   S = N ||f||^2 - 2 T sum_t f_t + N T^2
    Equal to the distance forms (:func:`close_set_labels`, :func:`mmsp`, :func:`distance_sum`)
    up to float rounding (tested).
    """

    labels: Tensor  # (B, H, W) int64, Eq. 5
    squared_norm: Tensor  # (B, H, W) ||f||^2
    nearest_distance: Tensor  # (B, H, W) min_t d_t
    max_probability: Tensor  # (B, H, W) max_t p_t
    distance_sum: Tensor  # (B, H, W) S, Eq. 7

    @classmethod
    def of(cls, embedding: Tensor, temperature: float, size: tuple[int, int] | None = None) -> "OneHotStatistics":
        """Statistics of (B, N, h, w) ``embedding`` bilinearly upsampled to ``size`` (None: as given).

        The linear parts (the 2T scale, sum_t f_t) are formed before upsampling, which is exact
        because bilinear interpolation is linear. At ``size`` the N channels are upsampled once,
        channels-last (:func:`~owss_ros.core.prototypes.upsample_channels_last`), then reduced:
        max / argmax, a softmax over the last axis (max_t p_t = max of softmax(2T f)), an L2 norm."""
        t = float(temperature)
        n = embedding.shape[1]
        scaled = upsample_channels_last(2.0 * t * embedding, size)  # g = 2T f, (B, H, W, N)
        g_max, labels = scaled.max(dim=-1)
        max_probability = torch.softmax(scaled, dim=-1).amax(dim=-1)
        squared_norm = torch.linalg.vector_norm(scaled, dim=-1).square() / (4.0 * t * t)
        f_sum = upsample_matmul(embedding.sum(dim=1), size)
        nearest = (squared_norm - g_max + t * t).clamp_min(0.0)
        s = (n * squared_norm - 2.0 * t * f_sum + n * t * t).clamp_min(0.0)
        return cls(labels, squared_norm, nearest, max_probability, s)

    def scores(self, normalization: EDSNormalization | str | Tensor, s_low: Scalar, s_high: Scalar,
               beta: Scalar, gamma: Scalar) -> dict[ScoreMode, Tensor]:
        """The three DMLNet scores (as :func:`dml_scores` of the distances)."""
        return mixed_scores(1.0 - self.max_probability, eds_from_sum(self.distance_sum, normalization, s_low, s_high),
                            beta, gamma)


def select_score(scores: dict[ScoreMode, Tensor], mode: ScoreMode | str | Tensor) -> Tensor:
    """The score of ``mode``: a :class:`ScoreMode`, or a (3,) one-hot weight tensor in
    :data:`SCORE_MODE_ORDER` (the exported graph's run-time input)."""
    if not isinstance(mode, Tensor):
        return scores[ScoreMode(mode)]
    return sum(mode[i] * scores[m] for i, m in enumerate(SCORE_MODE_ORDER))


def mixture_weight(p_eds: Tensor, beta: Scalar = 20.0, gamma: Scalar = 0.8) -> Tensor:
    """Eq. 10: alpha = 1 / (1 + exp(-beta (P_EDS - gamma)))."""
    return torch.sigmoid(beta * (p_eds - gamma))


def eds_mmsp_mixture(p_eds: Tensor, p_mmsp: Tensor, beta: Scalar = 20.0, gamma: Scalar = 0.8) -> Tensor:
    """Eq. 9: P = alpha P_EDS + (1 - alpha) P_MMSP, alpha from Eq. 10."""
    alpha = mixture_weight(p_eds, beta, gamma)
    return alpha * p_eds + (1.0 - alpha) * p_mmsp


def open_set_labels(
    close_labels: Tensor, anomaly: Tensor, lambda_out: Scalar, unknown_id: int = UNKNOWN_ID
) -> Tensor:
    """Eq. 1: C_anomaly where P > lambda_out, the close-set label elsewhere."""
    unknown = torch.full_like(close_labels, unknown_id)
    return torch.where(anomaly > lambda_out, unknown, close_labels)


def msp_anomaly(logits: Tensor) -> Tensor:
    """Maximum softmax probability baseline (Hendrycks & Gimpel), as 1 - max softmax."""
    return 1.0 - torch.softmax(logits, dim=1).amax(dim=1)


def max_logit_anomaly(logits: Tensor) -> Tensor:
    """MaxLogit baseline (Hendrycks et al.), as the negated maximum logit."""
    return -logits.amax(dim=1)


def energy_anomaly(logits: Tensor, temperature: float = 1.0) -> Tensor:
    """Energy baseline (Liu et al. 2020): E = -T logsumexp(logits / T); higher = anomalous."""
    return -temperature * torch.logsumexp(logits / temperature, dim=1)


