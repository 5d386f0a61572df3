"""Helpers shared by the backend tests (small models, frames, parameters)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.core.checkpoint import ModelSpec, build_model, save_model
from owss_ros.core.open_set import ScoringConfig

BUNDLED_MODEL = Path(__file__).resolve().parents[2] / "models" / "default" / "model.safetensors"
SMALL_SIZES = ((64, 128), (128, 256))
TEST_MAX_PROTOTYPES = 4


def save_random_model(path: Path, seed: int, backbone: str = "fast_scnn") -> Path:
    """Random weights; a fast_scnn_s4 model's refiner residual is drawn too, so it changes the outputs."""
    torch.manual_seed(seed)
    spec = ModelSpec(backbone=backbone)
    model = build_model(spec)
    last = [m for m in model.net.head.modules() if isinstance(m, nn.Conv2d)][-1]
    with torch.no_grad():
        last.weight.normal_(0.0, 0.5)
        if model.refiner is not None:
            model.refiner.residual.weight.normal_(0.0, 0.1)
    save_model(path, model, spec)
    return path


def structured_frame(hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A frame with regions (16-pixel blocks) and texture, like a camera image is."""
    rng = np.random.default_rng(seed)
    h, w = hw
    blocks = rng.integers(0, 256, (-(-h // 16), -(-w // 16), 3), dtype=np.uint8)
    frame = np.kron(blocks, np.ones((16, 16, 1), np.uint8))[:h, :w].astype(np.int16)
    frame += rng.integers(-20, 21, frame.shape, dtype=np.int16)
    return np.clip(frame, 0, 255).astype(np.uint8)


def graph_inputs(slots: int = TEST_MAX_PROTOTYPES, class_set=None, **scoring) -> GraphInputs:
    """Inputs scoring with ``ScoringConfig(**scoring)``: ``class_set``'s taught classes, or
    ``slots`` unused slots."""
    config = ScoringConfig(**scoring)
    if class_set is not None:
        return GraphInputs.build(class_set, config)
    return GraphInputs.unused_slots(slots, 19, config, 19)
