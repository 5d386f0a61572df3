"""The small interface every inference backend implements, and the frame geometry they share.

A backend runs :class:`~owss_ros.backends.pipeline.FramePipeline` (as an exported graph or in
eager torch) on one camera frame:

    backend.infer(frame, inputs) -> FrameResult    # per frame; inputs = GraphInputs.build(class_set, config)
    backend.embed(frame) -> (C, h, w) embedding     # when a class is taught (NPM, Eq. 11)
    backend.describe() -> dict                       # for logs and diagnostics

Every backend shares one template (:class:`InferenceBackend`): encode (letterbox the frame
into the model input) -> run (the backend's own ``_run_maps`` / ``_run_embedding``) -> decode
(crop / resize the maps to model or camera resolution), timed per stage.

Aspect-ratio policy (no silent stretch): the frame is scaled, keeping its aspect ratio, to fit
inside the model input size, and the remainder is zero-padded (letterbox) at the bottom/right.
Outputs are cropped back to the scaled frame, and returned at model resolution (the scaled
frame size) or resized to camera resolution (labels nearest, anomaly bilinear) by option.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.core.prototypes import upsample

OUTPUT_RESOLUTIONS = ("model", "camera")


@dataclass
class FrameResult:
    close_labels: np.ndarray  # (H, W) uint8 base class ids (Eq. 5)
    anomaly: np.ndarray  # (H, W) float32 anomaly probability in [0, 1]
    open_labels: np.ndarray  # (H, W) uint8 class ids, novel ids, UNKNOWN_ID
    timings_ms: dict[str, float] = field(default_factory=dict)  # preprocess, inference, copy_out
    scaled_frame: np.ndarray | None = None  # (sh, sw, 3) the frame as scaled into the model input (a view)


@dataclass(frozen=True)
class FrameGeometry:
    """How a camera frame maps onto the model input (aspect kept, letterboxed)."""

    camera_hw: tuple[int, int]
    scaled_hw: tuple[int, int]  # the frame after aspect-preserving scaling
    input_hw: tuple[int, int]  # the model input (scaled frame + padding)

    @classmethod
    def fit(cls, camera_hw: tuple[int, int], model_hw: tuple[int, int]) -> "FrameGeometry":
        ch, cw = camera_hw
        mh, mw = model_hw
        if ch <= 0 or cw <= 0:
            raise ValueError(f"empty frame {cw}x{ch}")
        scale = min(mh / ch, mw / cw)
        scaled = (max(1, min(mh, round(ch * scale))), max(1, min(mw, round(cw * scale))))
        return cls((ch, cw), scaled, (mh, mw))

    def to_model_input(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 camera frame -> (1, mh, mw, 3) uint8 letterboxed model input."""
        sh, sw = self.scaled_hw
        if (sh, sw) != tuple(frame.shape[:2]):
            frame = np.asarray(Image.fromarray(frame).resize((sw, sh), Image.BILINEAR))
        if (sh, sw) == self.input_hw:
            return frame[None]
        out = np.zeros((1, *self.input_hw, 3), dtype=np.uint8)
        out[0, :sh, :sw] = frame
        return out

    def crop(self, model_map: np.ndarray) -> np.ndarray:
        """Drop the letterbox padding from a (mh, mw) output map."""
        return model_map[: self.scaled_hw[0], : self.scaled_hw[1]]

    def to_camera(self, scaled_map: np.ndarray, nearest: bool) -> np.ndarray:
        """Resize a cropped map to camera resolution (labels: nearest, scores: bilinear)."""
        ch, cw = self.camera_hw
        if tuple(scaled_map.shape) == (ch, cw):
            return scaled_map
        resample = Image.NEAREST if nearest else Image.BILINEAR
        return np.asarray(Image.fromarray(scaled_map).resize((cw, ch), resample))


def check_output_resolution(output_resolution: str) -> str:
    if output_resolution not in OUTPUT_RESOLUTIONS:
        raise ValueError(f"output_resolution must be one of {OUTPUT_RESOLUTIONS}, got {output_resolution!r}")
    return output_resolution


def letterbox(frame: np.ndarray, input_hw: tuple[int, int]) -> tuple[FrameGeometry, np.ndarray]:
    """Check an (H, W, 3) uint8 RGB frame and letterbox it: (geometry, (1, mh, mw, 3) uint8)."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {frame.dtype} {tuple(frame.shape)}")
    geometry = FrameGeometry.fit(frame.shape[:2], tuple(input_hw))
    return geometry, geometry.to_model_input(frame)


def _resize_map(model_map: np.ndarray, hw: tuple[int, int], nearest: bool) -> np.ndarray:
    resample = Image.NEAREST if nearest else Image.BILINEAR
    return np.asarray(Image.fromarray(model_map).resize((hw[1], hw[0]), resample))


def maps_to_output(maps: Sequence[np.ndarray], geometry: FrameGeometry, output_resolution: str) -> list[np.ndarray]:
    """(h, w) graph output maps -> maps at model (letterbox cropped) or camera resolution.

    Label maps (any integer dtype; values are class ids <= 255) come back as uint8, score maps
    as float32. Maps scored at feature resolution (``score_resolution="feature"``) are first
    resized to the model input (labels nearest, scores bilinear), then cropped like the others.
    """
    out = []
    for m in maps:
        nearest = np.issubdtype(m.dtype, np.integer)
        m = m.astype(np.uint8, copy=False) if nearest else m.astype(np.float32, copy=False)
        if tuple(m.shape) != geometry.input_hw:
            m = _resize_map(m, geometry.input_hw, nearest)
        m = geometry.crop(m)
        if output_resolution == "camera":
            m = geometry.to_camera(m, nearest=nearest)
        out.append(m)
    return out


def embedding_to_frame(embedding: torch.Tensor, geometry: FrameGeometry) -> np.ndarray:
    """(1, C, h, w) feature-resolution embedding -> (C, sh, sw) float32 numpy array: bilinearly
    upsampled to the model input (as the graph does for scoring), letterbox padding cropped."""
    up = upsample(embedding.float(), geometry.input_hw)
    sh, sw = geometry.scaled_hw
    return up[0, :, :sh, :sw].cpu().numpy()


class InferenceBackend(abc.ABC):
    """One way of running the per-frame graph. Instances are not thread-safe.

    Subclasses set ``input_hw`` and ``output_resolution`` and implement the run step only.
    """

    name: str = "abstract"
    input_hw: tuple[int, int]
    output_resolution: str = "model"

    def infer(self, frame: np.ndarray, inputs: GraphInputs) -> FrameResult:
        """(H, W, 3) uint8 RGB frame -> maps at model or camera resolution (see the module docstring)."""
        t0 = time.perf_counter()
        geometry, model_input = letterbox(frame, self.input_hw)
        t1 = time.perf_counter()
        maps = self._run_maps(model_input, inputs)
        t2 = time.perf_counter()
        maps = maps_to_output(maps, geometry, self.output_resolution)
        t3 = time.perf_counter()
        sh, sw = geometry.scaled_hw
        return FrameResult(*maps, timings_ms={"preprocess": 1e3 * (t1 - t0), "inference": 1e3 * (t2 - t1),
                                              "copy_out": 1e3 * (t3 - t2)}, scaled_frame=model_input[0, :sh, :sw])

    def embed(self, frame: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame -> (C, sh, sw) float32 embedding, bilinearly upsampled to
        the scaled frame (model resolution, letterbox cropped): the pixels that masks for NPM
        (Eq. 11) are resized onto."""
        embedding, geometry = self.embed_features(frame)
        return embedding_to_frame(embedding, geometry)

    def embed_features(self, frame: np.ndarray) -> tuple[torch.Tensor, FrameGeometry]:
        """(H, W, 3) uint8 RGB frame -> ((1, C, h, w) embedding at feature resolution over the whole
        model input, letterbox padding included; the frame's geometry): what teaching averages
        with the mask pooled onto the feature grid (:func:`owss_ros.core.npm.novel_prototype`)."""
        geometry, model_input = letterbox(frame, self.input_hw)
        return self._run_embedding(model_input), geometry

    @abc.abstractmethod
    def _run_maps(self, model_input: np.ndarray, inputs: GraphInputs) -> list[np.ndarray]:
        """(1, mh, mw, 3) uint8 model input -> [close_labels, anomaly, open_labels], each (h, w), on the host."""

    @abc.abstractmethod
    def _run_embedding(self, model_input: np.ndarray) -> torch.Tensor:
        """(1, mh, mw, 3) uint8 model input -> (1, C, h, w) embedding at feature resolution."""

    def describe(self) -> dict:
        return {"backend": self.name}
