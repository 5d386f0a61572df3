"""Sampling known-class pixel embeddings of a calibration split for the NPM guard
(:mod:`owss_ros.core.novel_guard`).

Pixels are drawn uniformly among each image's labelled (non-void) pixels, the same number per
image, from embeddings upsampled to the label size - the resolution the node scores at - so the
guard's quantile is a share of known PIXELS, the unit of the false-positive rate it bounds.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.core.novel_guard import DEFAULT_GUARD_QUANTILE, KnownPixelSample
from owss_ros.evaluation.networks import LoadedNetwork
from owss_ros.core.dmlnet import upsampled_output


@torch.no_grad()
def image_known_pixels(network: LoadedNetwork, image: Tensor, label: Tensor, count: int,
                       rng: np.random.Generator) -> Tensor:
    """(<= count, C) embeddings of random labelled pixels of one (3, H, W) image."""
    embedding = upsampled_output(network.model, image[None])[0]
    valid = np.flatnonzero(label.numpy().reshape(-1) != IGNORE_INDEX)
    if valid.size == 0:
        return embedding.new_zeros((0, embedding.shape[0]))
    chosen = rng.choice(valid, size=min(count, valid.size), replace=False)
    return embedding.reshape(embedding.shape[0], -1)[:, torch.from_numpy(chosen)].T.contiguous()


def sample_known_pixels(network: LoadedNetwork, dataset, per_image: int = 200, max_images: int = 0,
                        seed: int = 0, guard_quantile: float = DEFAULT_GUARD_QUANTILE,
                        source: str = "") -> KnownPixelSample:
    """The guard's sample from a labelled split (items: normalised image tensor, label tensor)."""
    network.model.eval()
    rng = np.random.default_rng(seed)
    count = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    parts = [image_known_pixels(network, *dataset[i], per_image, rng) for i in range(count)]
    return KnownPixelSample(torch.cat(parts), network.fingerprint, source, guard_quantile)
