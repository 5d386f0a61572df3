"""The whole per-frame computation as one module, the graph every backend runs.

uint8 RGB frame (1, H, W, 3)  ->  normalise  ->  DMLNet embedding  ->  distances  ->
close-set labels (Eq. 5), anomaly probability (Eq. 6-10), open-set labels (Eq. 1 + NPM Eq. 12).

Inputs besides the frame (all graph inputs, so nothing is re-exported when they change):
  novel_prototypes (K, C), novel_thresholds (K,), novel_valid (K,)  the NPM classes (K >= 1;
      unused slots have valid = 0), and params (NUM_PARAMS,)  see :mod:`score_params`.
Outputs: close_labels (1, H', W') uint8, anomaly (1, H', W') float32, open_labels uint8 (the
label maps are int32 with ``label_dtype=torch.int32``, the variant built for TensorRT, which
accepts uint8 only as a network input/output type and not on the ArgMin -> Cast chain), and
embedding (1, C, h, w) float32 at feature resolution (fetched only when a class is taught).
(H', W') is the frame size with ``score_resolution="input"`` and the feature size (1/8) with
``"feature"`` (cheaper; callers upsample the maps).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from owss_ros.backends.score_params import unpack_score_params
from owss_ros.core.dmlnet import DMLNet
from owss_ros.core.model import ImageNormalizer
from owss_ros.core.open_set import open_world_maps
from owss_ros.core.prototypes import upsample

INPUT_NAMES = ("image", "novel_prototypes", "novel_thresholds", "novel_valid", "params")
OUTPUT_NAMES = ("close_labels", "anomaly", "open_labels", "embedding")
SCORE_RESOLUTIONS = ("input", "feature")
LABEL_DTYPES = {"uint8": torch.uint8, "int32": torch.int32}


class ScoringStage(nn.Module):
    """Embeddings at scoring resolution -> (close, anomaly, open) maps: the core's
    :func:`~owss_ros.core.open_set.open_world_maps` with the run-time ``params`` input unpacked.
    Nothing is computed here that the core does not define (tested against it, exported)."""

    def __init__(self, temperature: float, label_dtype: str = "uint8"):
        super().__init__()
        if label_dtype not in LABEL_DTYPES:
            raise ValueError(f"label_dtype must be one of {tuple(LABEL_DTYPES)}, got {label_dtype!r}")
        self.temperature = float(temperature)
        self.label_dtype = label_dtype

    def forward(self, scored: Tensor, novel_prototypes: Tensor, novel_thresholds: Tensor, novel_valid: Tensor,
                params: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        p = unpack_score_params(params)
        maps = open_world_maps(scored, self.temperature, p.norm_weights, (p.eds_low, p.eds_high), p.beta, p.gamma,
                               p.mode_weights, p.lambda_out, novel_prototypes, novel_thresholds, novel_valid)
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
                novel_valid: Tensor, params: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        embedding = self.model(self.normalizer(image))
        scored = upsample(embedding, image.shape[1:3]) if self.score_resolution == "input" else embedding
        close, anomaly, open_labels = self.scoring(scored, novel_prototypes, novel_thresholds, novel_valid, params)
        return close, anomaly, open_labels, embedding
