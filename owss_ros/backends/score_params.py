"""Runtime scoring parameters packed into one float tensor, a graph input of the exported model.

Packing lambda_out, beta, gamma, the score mode and the EDS normalisation into an input (rather
than constants baked into the graph) lets an operator change them with ``ros2 param set``
without re-exporting the ONNX file or rebuilding a TensorRT engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from owss_ros.core.open_set import ScoringConfig
from owss_ros.core.scoring import NORMALIZATION_ORDER, SCORE_MODE_ORDER

PARAM_NAMES = (
    "lambda_out", "beta", "gamma",
    "mode_eds_mmsp", "mode_eds", "mode_mmsp",
    "eds_image_max", "eds_image_minmax", "eds_fixed",
    "eds_low", "eds_high",
)
NUM_PARAMS = len(PARAM_NAMES)


def pack_score_params(config: ScoringConfig, num_classes: int) -> torch.Tensor:
    """(NUM_PARAMS,) float32 tensor in :data:`PARAM_NAMES` order."""
    low, high = config.resolved_eds_range(num_classes)
    modes = [config.score_mode is m for m in SCORE_MODE_ORDER]
    norms = [config.eds_normalization is n for n in NORMALIZATION_ORDER]
    values = [config.lambda_out, config.beta, config.gamma, *map(float, modes), *map(float, norms), low, high]
    return torch.tensor(values, dtype=torch.float32)


@dataclass(frozen=True)
class UnpackedParams:
    lambda_out: torch.Tensor
    beta: torch.Tensor
    gamma: torch.Tensor
    mode_weights: torch.Tensor  # (3,) eds_mmsp, eds, mmsp
    norm_weights: torch.Tensor  # (3,) image_max, image_minmax, fixed
    eds_low: torch.Tensor
    eds_high: torch.Tensor


def unpack_score_params(params: torch.Tensor) -> UnpackedParams:
    return UnpackedParams(params[0], params[1], params[2], params[3:6], params[6:9], params[9], params[10])
