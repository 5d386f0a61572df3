"""Element-wise averages of trained weight sets ("model soups", Wortsman et al., ICML 2022).

Two runs from the same start that traded labels against the anomaly score (e.g. a frozen-encoder
refiner and a whole-network continuation) can be averaged into one network: every floating-point
tensor of the state dict (BatchNorm statistics included) is the weighted mean, integer buffers
(BatchNorm's step counters) are taken from the last model. Only models of one spec can be mixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch
from torch import Tensor

from owss_ros.core.checkpoint import ModelSpec, load_model, save_model


def normalised_weights(count: int, weights: Sequence[float] | None) -> list[float]:
    """``weights`` (None: equal) checked and scaled to sum to 1."""
    if count < 2:
        raise ValueError(f"averaging needs at least two models, got {count}")
    if weights is None:
        return [1.0 / count] * count
    if len(weights) != count:
        raise ValueError(f"{len(weights)} weights for {count} models")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be >= 0 with a positive sum, got {list(weights)}")
    total = float(sum(weights))
    return [float(w) / total for w in weights]


def average_state_dicts(states: Sequence[dict[str, Tensor]], weights: Sequence[float] | None = None
                        ) -> dict[str, Tensor]:
    """The weighted element-wise mean of state dicts with the same keys and shapes."""
    shares = normalised_weights(len(states), weights)
    keys = list(states[0])
    for i, state in enumerate(states[1:], start=1):
        if list(state) != keys:
            raise ValueError(f"state dict {i} has other keys than state dict 0")
    averaged = {}
    for key in keys:
        tensors = [state[key] for state in states]
        if any(t.shape != tensors[0].shape for t in tensors):
            raise ValueError(f"{key}: shapes differ {[tuple(t.shape) for t in tensors]}")
        if not tensors[0].is_floating_point():
            averaged[key] = tensors[-1].clone()
            continue
        mean = sum(share * t.double() for share, t in zip(shares, tensors))
        averaged[key] = mean.to(tensors[0].dtype)
    return averaged


def average_model_files(paths: Sequence[str | Path], out: str | Path,
                        weights: Sequence[float] | None = None) -> ModelSpec:
    """Average the ``.safetensors`` models at ``paths`` into ``out``; returns the shared spec."""
    models, specs = zip(*(load_model(path) for path in paths))
    for path, spec in zip(paths[1:], specs[1:]):
        if asdict(spec) != asdict(specs[0]):
            raise ValueError(f"{path}: model spec {asdict(spec)} differs from {paths[0]}'s {asdict(specs[0])}")
    model = models[0]
    with torch.no_grad():
        model.load_state_dict(average_state_dicts([m.state_dict() for m in models], weights))
    save_model(out, model, specs[0])
    return specs[0]
