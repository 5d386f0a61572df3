"""What an exported graph was built from, stored in the ONNX file's ``metadata_props``.

Backends read it to check their inputs (prototype count, embedding size, parameter order)
and their input size policy before the first frame, so a mismatch fails with a message at
start-up instead of a shape error deep inside a runtime.

Input size policy: a *dynamic* export accepts any model input size (the backend's
``input_hw`` must then be given); a *fixed-size* export accepts only the size it was
exported for (``input_hw`` may be omitted, and any other value is refused with a message).
Camera frames of any size are letterboxed into the model input either way (base.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

# Where the per-frame graph scores: the input size; labels at the input size with the scores formed
# at 1/2 (half_scores); everything at 1/2, 1/4, or the feature size (1/8). See backends.pipeline.
SCORE_RESOLUTIONS = ("input", "half_scores", "half", "quarter", "feature")
# The fastest with >= 99% open-set agreement with "input" on the sample drive (benchmark-scoring: 99.5%).
DEFAULT_SCORE_RESOLUTION = "half_scores"

FORMAT_VERSION = 2  # 2: input "params" renamed "score_params"; closed-form scoring; half / quarter resolutions
KEY_PREFIX = "owss_ros."
DYNAMIC_SIZE = "dynamic"


class GraphMetadataError(ValueError):
    """An ONNX file lacks owss_ros metadata or was written by an incompatible version."""


def format_hw(hw: tuple[int, int] | None) -> str:
    return DYNAMIC_SIZE if hw is None else f"{hw[0]}x{hw[1]}"


def parse_hw(text: str) -> tuple[int, int] | None:
    """``"HxW"`` -> (H, W); ``"dynamic"`` -> None."""
    if text == DYNAMIC_SIZE:
        return None
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ValueError(f"expected a size as HxW (e.g. 512x1024), got {text!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {text!r}")
    return h, w


@dataclass(frozen=True)
class GraphInfo:
    model_fingerprint: str  # sha256 of the weights file the graph was exported from
    class_names: tuple[str, ...]
    embedding_dim: int
    max_prototypes: int  # K range accepted: 1..max_prototypes
    input_hw: tuple[int, int] | None  # None = dynamic H, W
    score_resolution: str  # one of SCORE_RESOLUTIONS
    param_names: tuple[str, ...]  # order of the ``score_params`` input
    label_dtype: str  # "uint8" (default) or "int32" (TensorRT variant)
    backbone: str = ""
    format_version: int = FORMAT_VERSION

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_metadata(self) -> dict[str, str]:
        values = {
            "format_version": str(self.format_version),
            "model_fingerprint": self.model_fingerprint,
            "class_names": json.dumps(list(self.class_names)),
            "embedding_dim": str(self.embedding_dim),
            "max_prototypes": str(self.max_prototypes),
            "input_size": format_hw(self.input_hw),
            "score_resolution": self.score_resolution,
            "param_names": json.dumps(list(self.param_names)),
            "label_dtype": self.label_dtype,
            "backbone": self.backbone,
        }
        return {KEY_PREFIX + k: v for k, v in values.items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], source: str = "ONNX file") -> "GraphInfo":
        values = {k[len(KEY_PREFIX):]: v for k, v in metadata.items() if k.startswith(KEY_PREFIX)}
        if "format_version" not in values:
            raise GraphMetadataError(f"{source} has no owss_ros metadata; export it with `owss_ros export`")
        version = int(values["format_version"])
        if version != FORMAT_VERSION:
            raise GraphMetadataError(f"{source} has metadata format {version}, this code reads {FORMAT_VERSION}; "
                                     "re-export it with `owss_ros export`")
        try:
            return cls(
                model_fingerprint=values["model_fingerprint"],
                class_names=tuple(json.loads(values["class_names"])),
                embedding_dim=int(values["embedding_dim"]),
                max_prototypes=int(values["max_prototypes"]),
                input_hw=parse_hw(values["input_size"]),
                score_resolution=values["score_resolution"],
                param_names=tuple(json.loads(values["param_names"])),
                label_dtype=values["label_dtype"],
                backbone=values.get("backbone", ""),
                format_version=version,
            )
        except KeyError as missing:
            raise GraphMetadataError(f"{source} metadata lacks {KEY_PREFIX}{missing.args[0]}") from None

    def resolve_input_hw(self, requested: tuple[int, int] | None) -> tuple[int, int]:
        """The model input size a backend should use, by the policy in the module docstring."""
        if self.input_hw is None:
            if requested is None:
                raise ValueError("this ONNX export has a dynamic input size: give the model input size "
                                 "(input_hw, e.g. 512x1024)")
            return tuple(requested)
        if requested is not None and tuple(requested) != self.input_hw:
            raise ValueError(
                f"this ONNX export has a fixed input size {format_hw(self.input_hw)} and cannot run at "
                f"{format_hw(tuple(requested))}: re-export with `owss_ros export --fixed-size "
                f"{format_hw(tuple(requested))}` (or without --fixed-size for a dynamic graph); camera "
                "frames of any size are letterboxed into the model input")
        return self.input_hw

    def check_inputs(self, prototypes: np.ndarray, thresholds: np.ndarray, valid: np.ndarray,
                     params: np.ndarray) -> None:
        """Raise ValueError unless the per-frame inputs fit this graph."""
        if prototypes.ndim != 2 or prototypes.shape[1] != self.embedding_dim:
            raise ValueError(f"novel prototypes must be (K, {self.embedding_dim}), got {tuple(prototypes.shape)}")
        k = prototypes.shape[0]
        if not 1 <= k <= self.max_prototypes:
            raise ValueError(f"{k} novel prototype slots given; this graph was exported for 1..{self.max_prototypes} "
                             "(re-export with a larger --max-prototypes)")
        if thresholds.shape != (k,) or valid.shape != (k,):
            raise ValueError(f"thresholds and valid must be ({k},), got {tuple(thresholds.shape)} and "
                             f"{tuple(valid.shape)}")
        if params.shape != (len(self.param_names),):
            raise ValueError(f"params must be ({len(self.param_names)},) in the order {self.param_names}, "
                             f"got shape {tuple(params.shape)}")
