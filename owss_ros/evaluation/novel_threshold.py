"""lambda_novel of Eq. 12 from the shots alone: a label-light, stated rule.

Eq. 12 accepts a pixel as novel class k when ``||F - m_k||^2 < lambda_novel`` (and m_k is its
nearest prototype). lambda_novel is a squared Euclidean distance in the N-dimensional metric
space (the exponent of Eq. 2; base prototypes are 2 T^2 = 18 apart for T = 3). The paper gives
0.15 without units, the authors' code compares raw squared distances to 1.5 (project notes), so
the value is calibrated here instead of copied.

Rule ("leave-one-shot-out quantile"): for a novel class with Q annotated shots, lambda_novel is
the q-quantile (default q = 0.95) of ``||F_ij - m||^2`` over the annotated pixels of every shot,
where for each shot m is the Eq. 11 prototype of the OTHER Q - 1 shots. The held-out shot plays
the role of an unseen image of the class, so the radius covers a fraction of about q of the
class's pixels in new images - measured, not guessed, and using nothing but the operator's own
masks (no extra labels, no evaluation data). With Q = 1 no shot can be held out and the pixels
are measured against their own mean (in-sample, which underestimates the radius; stated in the
reports). Several classes or draws are combined by the mean of their values.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from owss_ros.core.npm import upsample_embedding

DEFAULT_NOVEL_QUANTILE = 0.95


def rule_description(quantile: float) -> str:
    return (f"leave-one-shot-out {quantile:g}-quantile of ||F - m||^2 over the annotated shot pixels "
            "(m = Eq. 11 prototype of the other shots; in-sample for 1 shot); squared embedding distance")


def _masked_features(embedding: Tensor, mask: Tensor) -> Tensor:
    """(C, P) embeddings of the P annotated pixels of one shot, upsampled to the mask size."""
    features = upsample_embedding(embedding[None], tuple(mask.shape[-2:]))[0]
    return features[:, mask.bool()]


@torch.no_grad()
def shot_distance_quantile(embeddings: Tensor, masks: Tensor, quantile: float = DEFAULT_NOVEL_QUANTILE) -> float:
    """The rule above for one class: ``embeddings`` (Q, C, h, w) of the shots, ``masks`` (Q, H, W)."""
    if not 0.0 < quantile <= 1.0:
        raise ValueError(f"quantile must be in (0, 1], got {quantile}")
    if embeddings.shape[0] != masks.shape[0] or embeddings.shape[0] == 0:
        raise ValueError("need one mask per shot embedding and at least one shot")
    per_shot = [_masked_features(e.double(), m) for e, m in zip(embeddings, masks)]
    counts = [f.shape[1] for f in per_shot]
    if min(counts) == 0:
        raise ValueError("every shot needs at least one annotated pixel")
    sums = [f.sum(dim=1) for f in per_shot]
    total_sum, total_count = torch.stack(sums).sum(dim=0), sum(counts)
    distances = []
    for features, shot_sum, count in zip(per_shot, sums, counts):
        if len(per_shot) == 1:
            prototype = shot_sum / count
        else:
            prototype = (total_sum - shot_sum) / (total_count - count)
        distances.append(((features - prototype[:, None]) ** 2).sum(dim=0).numpy())
    return float(np.quantile(np.concatenate(distances), quantile))
