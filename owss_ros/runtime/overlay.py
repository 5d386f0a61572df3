"""The colour overlay for RViz: class colours blended over the frame, unknown hatched magenta.

Pixels of a known class (base or taught) get ``alpha`` of their class colour; unknown
(C_anomaly, id 255) pixels get diagonal stripes alternating solid magenta and a blend, so they
stand out from every class colour, including a magenta-ish one.
"""

from __future__ import annotations

import numpy as np

from owss_ros.core.class_set import ClassSet
from owss_ros.core.classes import UNKNOWN_ID

UNKNOWN_COLOR = (255, 0, 255)
HATCH_PERIOD = 8  # pixels per stripe pair


def palette_lut(class_set: ClassSet) -> np.ndarray:
    """(256, 3) uint8: colour per label value; unknown = magenta, unused ids black."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    for entry in class_set.entries:
        lut[entry.class_id] = entry.color
    lut[UNKNOWN_ID] = UNKNOWN_COLOR
    return lut


def _hatch(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.indices(shape, sparse=True)
    return ((rows + cols) % HATCH_PERIOD) < HATCH_PERIOD // 2


def render_overlay(frame: np.ndarray, open_labels: np.ndarray, lut: np.ndarray, alpha: float) -> np.ndarray:
    """(H, W, 3) uint8 RGB; ``frame`` must already have the label map's size."""
    if frame.shape[:2] != open_labels.shape:
        raise ValueError(f"frame {frame.shape[:2]} and labels {open_labels.shape} differ in size")
    colors = lut[open_labels].astype(np.float32)
    out = (1.0 - alpha) * frame.astype(np.float32) + alpha * colors
    unknown = open_labels == UNKNOWN_ID
    if unknown.any():
        solid = unknown & _hatch(open_labels.shape)
        out[solid] = UNKNOWN_COLOR
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
