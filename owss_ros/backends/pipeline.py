"""The whole per-frame computation as one module, the graph every backend runs.

uint8 RGB frame (1, H, W, 3)  ->  normalise  ->  DMLNet embedding  ->  distances  ->
close-set labels (Eq. 5), anomaly probability (Eq. 6-10), open-set labels (Eq. 1 + NPM Eq. 12).

Inputs besides the frame (all graph inputs, so nothing is re-exported when they change):
  novel_prototypes (K, C), novel_thresholds (K,), novel_valid (K,)  the NPM classes (K >= 1;
      unused slots have valid = 0), and score_params (NUM_PARAMS,)  see :mod:`score_params`.
Outputs: close_labels (1, H', W') uint8, anomaly (1, H', W') float32, open_labels uint8 (the
label maps are int32 with ``label_dtype=torch.int32``, the variant built for TensorRT, which
accepts uint8 only as a network input/output type and not on the ArgMin -> Cast chain), and
embedding (1, C, h, w) float32 at feature resolution (fetched only when a class is taught).
(H', W') is the scoring resolution: the frame size with ``score_resolution="input"``, 1/2 or 1/4 of
it with ``"half"`` / ``"quarter"``, the feature size (1/8) with ``"feature"`` (cheaper; callers
resize the maps: labels nearest, scores bilinear). Scoring never forms a 19- or K-channel distance
or softmax tensor at that resolution (the core's closed forms, :func:`open_world_maps`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from owss_ros.backends.onnx_metadata import SCORE_RESOLUTIONS
from owss_ros.backends.score_params import unpack_score_params
from owss_ros.core.dmlnet import DMLNet
from owss_ros.core.model import ImageNormalizer
from owss_ros.core.open_set import open_world_maps

INPUT_NAMES = ("image", "novel_prototypes", "novel_thresholds", "novel_valid", "score_params")
OUTPUT_NAMES = ("close_labels", "anomaly", "open_labels", "embedding")
_SCORE_DIVISORS = {"input": 1, "half": 2, "quarter": 4}
LABEL_DTYPES = {"uint8": torch.uint8, "int32": torch.int32}


class ScoringStage(nn.Module):
    """Embeddings at scoring resolution -> (close, anomaly, open) maps: the core's
    :func:`~owss_ros.core.open_set.open_world_maps` with the run-time ``score_params`` input unpacked.
    Nothing is computed here that the core does not define (tested against it, exported)."""

    def __init__(self, temperature: float, label_dtype: str = "uint8"):
        super().__init__()
        if label_dtype not in LABEL_DTYPES:
            raise ValueError(f"label_dtype must be one of {tuple(LABEL_DTYPES)}, got {label_dtype!r}")
        self.temperature = float(temperature)
        self.label_dtype = label_dtype

    def forward(self, embedding: Tensor, novel_prototypes: Tensor, novel_thresholds: Tensor, novel_valid: Tensor,
                score_params: Tensor, size: tuple[int, int] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Maps of the (1, C, h, w) ``embedding`` scored at ``size`` (None: at its own resolution)."""
        p = unpack_score_params(score_params)
        maps = open_world_maps(embedding, self.temperature, p.norm_weights, (p.eds_low, p.eds_high), p.beta, p.gamma,
                               p.mode_weights, p.lambda_out, novel_prototypes, novel_thresholds, novel_valid, size)
        labels = LABEL_DTYPES[self.label_dtype]
        return maps.close_labels.to(labels), maps.anomaly, maps.open_labels.to(labels)


class FramePipeline(nn.Module):
    def __init__(self, model: DMLNet, score_resolution: str = "input", label_dtype: str = "uint8"):
        super().__init__()
        if not isinstance(model, DMLNet):
            raise TypeError("FramePipeline needs a DMLNet (the cross-entropy twin has no prototypes)")
        if score_resolution not in SCORE_RESOLUTIONS:
            raise ValueError(f"score_resolution must be one of {SCORE_RESOLUTIONS}, got {score_resolution!r}")
        self.normalizer = ImageNormalizer("NHWC", "RGB")
        self.model = model.eval()
        self.scoring = ScoringStage(model.temperature, label_dtype)
        self.num_classes = model.num_classes
        self.temperature = model.temperature
        self.score_resolution = score_resolution
        self.label_dtype = label_dtype

    def forward(self, image: Tensor, novel_prototypes: Tensor, novel_thresholds: Tensor,
                novel_valid: Tensor, score_params: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        normalized = self.normalizer(image)
        embedding = self.model(normalized)
        # the size from the float image: TensorRT takes uint8 only as a network input/output, not into Shape
        size = scoring_size(normalized.shape[2], normalized.shape[3], self.score_resolution)
        close, anomaly, open_labels = self.scoring(embedding, novel_prototypes, novel_thresholds, novel_valid,
                                                   score_params, size)
        return close, anomaly, open_labels, embedding


class EmbeddingNetwork(nn.Module):
    """uint8 RGB frame (1, H, W, 3) -> (1, C, h, w) embedding: the network alone, no scoring -
    what teaching (NPM, Eq. 11) runs, at a fraction of a frame's cost."""

    def __init__(self, model: DMLNet):
        super().__init__()
        self.normalizer = ImageNormalizer("NHWC", "RGB")
        self.model = model.eval()

    def forward(self, image: Tensor) -> Tensor:
        return self.model(self.normalizer(image))


def scoring_size(height, width, score_resolution: str):
    """(H', W') the maps are scored at for an H x W input; None = the embedding's own (feature) size."""
    divisor = _SCORE_DIVISORS.get(score_resolution)
    return None if divisor is None else (height // divisor, width // divisor)
