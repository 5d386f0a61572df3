"""Few-shot class teaching (Novel Prototype Method, paper Eq. 11) from operator masks.

Each shot is a camera frame and a mask drawn on it. The mask may have the frame's size
(camera resolution) or the size of the outputs at model resolution (the scaled frame, e.g. a
mask drawn on the node's ~/overlay); it is resized with nearest-neighbour onto the scaled frame
geometry, where :meth:`InferenceBackend.embed` returns the embedding. The prototype is the
mean embedding over all masked pixels of all shots (Eq. 11).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image as PILImage

from owss_ros.backends.base import FrameGeometry
from owss_ros.core.class_names import check_distinct_prototype_in, check_new_class_name_in
from owss_ros.core.class_set import ClassEntry, ClassSet
from owss_ros.core.npm import novel_prototype


class TeachingError(ValueError):
    """A teaching request cannot be carried out; the message says why."""


@dataclass(frozen=True)
class TeachingShot:
    frame: np.ndarray  # (H, W, 3) uint8 RGB camera frame
    mask: np.ndarray  # (h, w) uint8, non-zero = the class
    label: str  # for error messages, e.g. "shot 2 (mask_paths[2] 'cone.png')"


def mask_on_scaled_frame(mask: np.ndarray, geometry: FrameGeometry, label: str) -> np.ndarray:
    """The mask resized (nearest) onto ``geometry.scaled_hw``; refuses wrong sizes and empty masks (the
    minimum pixel count at model resolution is :func:`owss_ros.core.class_names.check_mask_pixels`)."""
    if mask.ndim != 2:
        raise TeachingError(f"{label}: the mask must be a single-channel image, got shape {mask.shape}")
    accepted = {tuple(geometry.camera_hw), tuple(geometry.scaled_hw)}
    if tuple(mask.shape) not in accepted:
        ch, cw = geometry.camera_hw
        sh, sw = geometry.scaled_hw
        raise TeachingError(
            f"{label}: the mask is {mask.shape[1]}x{mask.shape[0]}, but its frame is {cw}x{ch} "
            f"(or {sw}x{sh} at model resolution)")
    if not mask.any():
        raise TeachingError(f"{label}: the mask is empty (no non-zero pixel)")
    sh, sw = geometry.scaled_hw
    binary = (mask != 0).astype(np.uint8)
    if binary.shape != (sh, sw):
        binary = np.asarray(PILImage.fromarray(binary).resize((sw, sh), PILImage.NEAREST))
    return binary


def mask_on_model_input(scaled_mask: np.ndarray, geometry: FrameGeometry) -> np.ndarray:
    """A mask on the scaled frame placed on the whole model input (zero over the letterbox padding):
    the grid a feature-resolution embedding of that input covers."""
    canvas = np.zeros(geometry.input_hw, dtype=np.uint8)
    canvas[:scaled_mask.shape[0], :scaled_mask.shape[1]] = scaled_mask
    return canvas


def prototype_from_embeddings(embeddings: list[np.ndarray], masks: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Eq. 11 over shots of possibly different sizes: the pixel-weighted mean of per-shot means. Each
    (C, h, w) embedding may be coarser than its (H, W) mask (see ``novel_prototype``)."""
    total, pixels = None, 0
    for embedding, mask in zip(embeddings, masks, strict=True):
        shot_mask = torch.from_numpy(np.require(mask, requirements="W"))  # read-only arrays are copied
        features = torch.from_numpy(np.require(embedding, requirements="W"))[None]
        mean, count = novel_prototype(features, shot_mask[None])
        total = mean * count if total is None else total + mean * count
        pixels += count
    if total is None:
        raise TeachingError("no shots")
    return (total / pixels).numpy().astype(np.float32), pixels


def nearest_prototype(class_set: ClassSet, prototype: np.ndarray, temperature: float) -> tuple[str, float]:
    """(name, squared distance) of the prototype nearest to ``prototype``: base (T e_t) or novel."""
    candidates: list[tuple[str, np.ndarray]] = []
    for entry in class_set.entries:
        if entry.prototype is not None:
            candidates.append((entry.name, np.asarray(entry.prototype, dtype=np.float64)))
        elif entry.class_id < class_set.embedding_dim:  # base class t: the one-hot prototype T e_t
            base = np.zeros(class_set.embedding_dim)
            base[entry.class_id] = temperature
            candidates.append((entry.name, base))
    if not candidates:
        return "", 0.0
    p = prototype.astype(np.float64)
    distances = [(name, float(((p - m) ** 2).sum())) for name, m in candidates]
    return min(distances, key=lambda item: item[1])


def check_free_slot(class_set: ClassSet) -> None:
    if len(class_set.novel_entries) >= class_set.capacity:
        raise TeachingError(f"all {class_set.capacity} novel class slots are in use; remove a class first")


def with_imported(current: ClassSet, exported: ClassEntry, name: str = "") -> tuple[ClassSet, ClassEntry]:
    """``current`` plus an exported class (:func:`owss_ros.core.class_store.decode_taught_class`),
    under ``name`` or its own; the teaching rules apply as to a class taught here."""
    name = check_new_class_name_in(current, name or exported.name)
    check_free_slot(current)
    check_distinct_prototype_in(current, exported.prototype, name)
    return current.with_novel(name, exported.prototype, lambda_novel=exported.lambda_novel,
                              pixels=exported.pixels, shots=exported.shots, background=exported.background)
