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
(H', W') is the output resolution: the frame size with ``score_resolution="input"`` and with
``"half_scores"`` (labels at the frame size, anomaly and taught classes formed at 1/2 and resized in
the graph), 1/2 or 1/4 of it with ``"half"`` / ``"quarter"``, the feature size (1/8; 1/4 for ``fast_scnn_s4``) with
``"feature"`` (cheaper; callers resize the maps: labels nearest, scores bilinear). Scoring never
forms a 19- or K-channel distance or softmax tensor at that resolution (the core's closed forms,
:func:`open_world_maps`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, SCORE_RESOLUTIONS
from owss_ros.backends.score_params import unpack_score_params
from owss_ros.core.dmlnet import DMLNet
from owss_ros.core.model import ImageNormalizer
from owss_ros.core.open_set import open_world_maps

INPUT_NAMES = ("image", "novel_prototypes", "novel_thresholds", "novel_valid", "score_params")
OUTPUT_NAMES = ("close_labels", "anomaly", "open_labels", "embedding")
# score_resolution -> (divisor of the output maps, divisor the scores are formed at); None = the
# feature size for the maps, the maps' own size for the scores.
_DIVISORS = {"input": (1, None), "half_scores": (1, 2), "half": (2, None), "quarter": (4, None),
             "feature": (None, None)}
FULL_SIZE_MAPS = tuple(r for r, (maps, _) in _DIVISORS.items() if maps == 1)  # maps at the input size
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
                score_params: Tensor, size: tuple[int, int] | None = None,
                score_size: tuple[int, int] | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Maps of the (1, C, h, w) ``embedding`` at ``size`` (None: at its own resolution), the scores
        formed at ``score_size`` (None: ``size``; see :func:`~owss_ros.core.open_set.open_world_maps`)."""
        p = unpack_score_params(score_params)
        maps = open_world_maps(embedding, self.temperature, p.norm_weights, (p.eds_low, p.eds_high), p.beta, p.gamma,
                               p.mode_weights, p.lambda_out, novel_prototypes, novel_thresholds, novel_valid, size,
                               score_size, torch.int32)  # int32, not int64, through the precedence rule; uint8
        labels = LABEL_DTYPES[self.label_dtype]  # only at the end (TensorRT takes it as a network output alone)
        return maps.close_labels.to(labels), maps.anomaly, maps.open_labels.to(labels)


class FramePipeline(nn.Module):
    def __init__(self, model: DMLNet, score_resolution: str = DEFAULT_SCORE_RESOLUTION, label_dtype: str = "uint8"):
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
        size, score_size = scoring_sizes(normalized.shape[2], normalized.shape[3], self.score_resolution)
        close, anomaly, open_labels = self.scoring(embedding, novel_prototypes, novel_thresholds, novel_valid,
                                                   score_params, size, score_size)
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


def scoring_sizes(height, width, score_resolution: str):
    """((H', W') of the output maps, (H'', W'') the scores are formed at) for an H x W input.

    None for the first = the embedding's own (feature) size; None for the second = the first.
    ``half_scores``: maps at input size, scores at 1/2 (labels exact; see ``open_world_maps``)."""
    maps, scores = _DIVISORS[score_resolution]
    return tuple(None if d is None else (height // d, width // d) for d in (maps, scores))
