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
import torch.nn.functional as F
from torch import Tensor, nn

from owss_ros.backends.score_params import unpack_score_params
from owss_ros.core.dmlnet import DMLNet
from owss_ros.core.model import ImageNormalizer
from owss_ros.core.npm import novel_class_index
from owss_ros.core.open_set import combine_open_set
from owss_ros.core.prototypes import one_hot_squared_distances, squared_distances
from owss_ros.core.scoring import (
    close_set_labels,
    distance_sum,
    eds_mmsp_mixture,
    eds_probability,
    mmsp,
)

INPUT_NAMES = ("image", "novel_prototypes", "novel_thresholds", "novel_valid", "params")
OUTPUT_NAMES = ("close_labels", "anomaly", "open_labels", "embedding")
SCORE_RESOLUTIONS = ("input", "feature")
LABEL_DTYPES = {"uint8": torch.uint8, "int32": torch.int32}


class FramePipeline(nn.Module):
    def __init__(self, model: DMLNet, score_resolution: str = "input", label_dtype: str = "uint8"):
        super().__init__()
        if not isinstance(model, DMLNet):
            raise TypeError("FramePipeline needs a DMLNet (the cross-entropy twin has no prototypes)")
        if score_resolution not in SCORE_RESOLUTIONS:
            raise ValueError(f"score_resolution must be one of {SCORE_RESOLUTIONS}, got {score_resolution!r}")
        if label_dtype not in LABEL_DTYPES:
            raise ValueError(f"label_dtype must be one of {tuple(LABEL_DTYPES)}, got {label_dtype!r}")
        self.normalizer = ImageNormalizer("NHWC", "RGB")
        self.model = model.eval()
        self.num_classes = model.num_classes
        self.temperature = model.temperature
        self.score_resolution = score_resolution
        self.label_dtype = label_dtype

    def forward(self, image: Tensor, novel_prototypes: Tensor, novel_thresholds: Tensor,
                novel_valid: Tensor, params: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        p = unpack_score_params(params)
        embedding = self.model(self.normalizer(image))
        scored = embedding
        if self.score_resolution == "input":
            scored = F.interpolate(embedding, size=image.shape[1:3], mode="bilinear", align_corners=False)
        base_d = one_hot_squared_distances(scored, self.temperature)
        close = close_set_labels(base_d)
        anomaly = self._anomaly(base_d, p)
        novel = novel_class_index(squared_distances(scored, novel_prototypes), base_d, novel_thresholds, novel_valid)
        open_labels = combine_open_set(close, anomaly, p.lambda_out, novel, self.num_classes)
        labels = LABEL_DTYPES[self.label_dtype]
        return close.to(labels), anomaly, open_labels.to(labels), embedding

    @staticmethod
    def _anomaly(base_d: Tensor, p) -> Tensor:
        """Eq. 6-10 with the score mode and EDS normalisation chosen by weights in ``params``."""
        p_mmsp = mmsp(base_d)
        s = distance_sum(base_d)
        p_eds = (p.norm_weights[0] * eds_probability(s, "image_max")
                 + p.norm_weights[1] * eds_probability(s, "image_minmax")
                 + p.norm_weights[2] * eds_probability(s, "fixed", p.eds_low, p.eds_high))
        p_mix = eds_mmsp_mixture(p_eds, p_mmsp, p.beta, p.gamma)
        w = p.mode_weights
        return w[0] * p_mix + w[1] * p_eds + w[2] * p_mmsp
