"""Novel Prototype Method (paper Sec. 4.3): add a class from a few masks, with no training.

Eq. 11: the novel prototype is the mean embedding over the annotated pixels of Q shots.
Eq. 12: a pixel belongs to novel class k when ||F - m_k||^2 < lambda_novel and m_k is
strictly the nearest of all prototypes (base and novel).

lambda_novel is in the units of the metric space: a squared Euclidean distance, the same
quantity as the exponent of Eq. 2 (base prototypes are 2 T^2 = 18 apart for T = 3).
"""

from __future__ import annotations

import torch
from torch import Tensor

from owss_ros.core.prototypes import bilinear_weights, upsample
from owss_ros.core.scoring import Scalar

NO_NOVEL_CLASS = -1
MAX_BACKGROUND_PER_CLASS = 4  # background prototypes one taught class may hold (graph slots: see GraphInputs)
DEFAULT_BACKGROUND_PROTOTYPES = 4  # per taught class, chosen on calibration sample drives (scripts/teaching_probe.py)
DEFAULT_MAX_NOVEL_CLASSES = 16


def graph_slots_for(max_novel_classes: int) -> int:
    """Novel slots a graph must accept: each class slot and up to MAX_BACKGROUND_PER_CLASS backgrounds."""
    return max_novel_classes * (1 + MAX_BACKGROUND_PER_CLASS)


DEFAULT_GRAPH_SLOTS = graph_slots_for(DEFAULT_MAX_NOVEL_CLASSES)
_FAR = 1.0e30  # distance given to unused prototype slots; finite so exported graphs stay NaN-free


def upsample_embedding(embedding: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear upsampling of (B, C, h, w) embeddings to (H, W): :func:`owss_ros.core.prototypes.upsample`."""
    return upsample(embedding, size)


def novel_prototype(embeddings: Tensor, masks: Tensor) -> tuple[Tensor, int]:
    """Eq. 11: m_{N+k} = sum_q sum_ij F_ij Y_ij / sum_q sum_ij Y_ij.

    Args:
        embeddings: (Q, C, h, w) embeddings of the Q annotated images, at any resolution;
            F is their bilinear upsampling to the mask resolution (:func:`upsample_embedding`).
        masks: (Q, H, W) binary masks (non-zero = the novel class).
    Returns:
        The (C,) prototype and the number of pixels it was averaged over.

    The upsampled F is never formed when the sizes differ: upsampling is linear, F = W_h f W_w^T
    per channel, so sum_ij F_ij Y_ij = sum_ab f_ab (W_h^T Y W_w)_ab - the mask is pooled down to
    the embedding's grid instead (exact; tested against the upsampled form).
    """
    if embeddings.dim() != 4 or masks.dim() != 3 or embeddings.shape[0] != masks.shape[0]:
        raise ValueError(
            f"expected embeddings (Q, C, h, w) and masks (Q, H, W) with the same Q, got "
            f"{tuple(embeddings.shape)} and {tuple(masks.shape)}"
        )
    weights = (masks != 0).to(embeddings.dtype)
    pixels = int(weights.sum().item())
    if pixels == 0:
        raise ValueError("the masks select no pixel: a novel prototype needs at least one")
    if tuple(embeddings.shape[-2:]) != tuple(masks.shape[-2:]):
        weights = pooled_mask(weights, tuple(embeddings.shape[-2:]))
    total = (embeddings * weights[:, None]).sum(dim=(0, 2, 3))
    return total / pixels, pixels


def pooled_mask(weights: Tensor, size: tuple[int, int]) -> Tensor:
    """(Q, H, W) pixel weights -> (Q, h, w) weights on an embedding grid of ``size``: W_h^T Y W_w
    with the bilinear weights of :func:`owss_ros.core.prototypes.upsample` (its adjoint), so that
    sum(f * pooled) = sum(upsample(f) * Y)."""
    height, width = weights.shape[-2:]
    w_h = bilinear_weights(height, size[0], weights.dtype)  # (H, h)
    w_w = bilinear_weights(width, size[1], weights.dtype)  # (W, w)
    return torch.matmul(torch.matmul(w_h.transpose(0, 1), weights), w_w)


def novel_class_index(
    novel_distances: Tensor,
    base_distances: Tensor,
    lambda_novel: Scalar | Tensor,
    novel_valid: Tensor | None = None,
) -> Tensor:
    """Eq. 12 for K novel prototypes at once.

    Args:
        novel_distances: (B, K, H, W) squared distances to the novel prototypes.
        base_distances: (B, N, H, W) squared distances to the base prototypes.
        lambda_novel: a scalar, or a (K,) tensor with one threshold per novel prototype.
        novel_valid: optional (K,) mask (bool or 0/1) of the slots in use.
    Returns:
        (B, H, W) int64: the index k of the novel class each pixel belongs to, or -1.
        A pixel equidistant from two nearest prototypes belongs to neither (Eq. 12 is strict).
    """
    return novel_class_beside_base(novel_distances, base_distances.amin(dim=1), lambda_novel, novel_valid)


def novel_class_beside_base(
    novel_distances: Tensor,
    nearest_base_distance: Tensor,
    lambda_novel: Scalar | Tensor,
    novel_valid: Tensor | None = None,
) -> Tensor:
    """:func:`novel_class_index` given only the (B, H, W) distance to the nearest base prototype."""
    if novel_distances.shape[1] == 0:
        return torch.full_like(nearest_base_distance, NO_NOVEL_CLASS, dtype=torch.long)
    d = novel_distances
    if novel_valid is not None:
        valid = novel_valid.to(torch.bool)[None, :, None, None]
        d = torch.where(valid, d, torch.full_like(d, _FAR))
    d_min, nearest_novel = d.min(dim=1)
    threshold = torch.as_tensor(lambda_novel, dtype=d.dtype, device=d.device)
    if threshold.dim() == 1:  # lambda of the nearest slot, read off without a per-pixel gather
        threshold = threshold[None, :, None, None]
    nearest = d <= d_min[:, None]
    unique_nearest = nearest.to(d.dtype).sum(dim=1) < 1.5  # a float count: no int64 map
    inside = (nearest & (d < threshold)).any(dim=1)
    is_novel = inside & unique_nearest & (d_min < nearest_base_distance)
    return torch.where(is_novel, nearest_novel, torch.full_like(nearest_novel, NO_NOVEL_CLASS))


def background_prototypes(embeddings: Tensor, masks: Tensor, unknown: Tensor, count: int,
                          band_cells: int = 1, min_cells: int = 8, seed: int = 0) -> Tensor:
    """Beyond the paper: up to ``count`` prototypes of what the shots show the class is *not*.

    Few-shot segmenters take a background prototype from the support image beside the foreground
    one (PANet, Wang et al., ICCV 2019). Here the base prototypes already stand for the known
    classes, so only the shots' feature cells the model flags unknown (Eq. 1) *outside* the masks
    are used: outlier exposure puts every foreign thing near the prototype centroid, the taught
    prototype included, and these are the anomaly detector's false positives the new class would
    otherwise take. Their k-means centres become slots with lambda 0 (:func:`novel_class_beside_base`:
    never a label, but a pixel nearer to one than to the taught prototype is not the class).

    Args:
        embeddings: (Q, C, h, w) feature-resolution embeddings of the shots.
        masks: (Q, H, W) binary masks at any resolution (pooled onto the grid like Eq. 11).
        unknown: (Q, h, w) bool, the cells flagged unknown.
        count: k-means centres wanted; 0 = none (the paper's NPM).
        band_cells: cells around the mask left out (the upsampled boundary belongs to neither).
        min_cells: fewer qualifying cells than this give no background prototype.
    Returns:
        (J, C) with J = 0 or min(count, qualifying cells).
    """
    if not 0 <= count <= MAX_BACKGROUND_PER_CLASS:
        raise ValueError(f"count must be in 0..{MAX_BACKGROUND_PER_CLASS}, got {count}")
    empty = embeddings.new_zeros((0, embeddings.shape[1]))
    if count == 0:
        return empty
    weights = (masks != 0).to(embeddings.dtype)
    if tuple(weights.shape[-2:]) != tuple(embeddings.shape[-2:]):
        weights = pooled_mask(weights, tuple(embeddings.shape[-2:]))
    near_mask = weights[:, None] > 0
    if band_cells > 0:
        near_mask = torch.nn.functional.max_pool2d(near_mask.to(embeddings.dtype), 2 * band_cells + 1,
                                                   stride=1, padding=band_cells) > 0
    cells = embeddings.permute(0, 2, 3, 1)[unknown.to(torch.bool) & ~near_mask[:, 0]]
    if len(cells) < max(min_cells, 1):
        return empty
    return kmeans_centres(cells.float(), min(count, len(cells)), seed=seed).to(embeddings.dtype)


def kmeans_centres(points: Tensor, count: int, iterations: int = 20, seed: int = 0) -> Tensor:
    """(count, C) centres of (P, C) points: k-means++ seeding from a fixed seed, then Lloyd steps."""
    generator = torch.Generator().manual_seed(seed)
    centres = points[torch.randint(len(points), (1,), generator=generator)]
    while len(centres) < count:
        nearest = torch.cdist(points, centres).amin(dim=1) ** 2
        if float(nearest.sum()) == 0.0:  # fewer distinct points than centres
            break
        pick = torch.multinomial(nearest / nearest.sum(), 1, generator=generator)
        centres = torch.cat([centres, points[pick]])
    for _ in range(iterations):  # Lloyd steps as two scatter-adds (no per-centre Python loop: teaching runs
        assignment = torch.cdist(points, centres).argmin(dim=1)  # beside the frame loop, GIL shared)
        counts = torch.bincount(assignment, minlength=len(centres)).to(points.dtype)[:, None]
        sums = torch.zeros_like(centres).index_add_(0, assignment, points)
        moved = torch.where(counts > 0, sums / counts.clamp(min=1), centres)
        if torch.equal(moved, centres):
            break
        centres = moved
    return centres
