"""Class prototypes in the DMLNet metric space and squared Euclidean distances to them.

Base prototypes are fixed, never learned: m_t = T * e_t, a one-hot vector scaled by T
(paper Sec. 4.2, T = 3). Novel prototypes added by NPM (Eq. 11) are arbitrary vectors in
the same space. Distances use the expanded form ||f||^2 - 2 f.m + ||m||^2: the cross term is one
MatMul of the (K, C) prototypes with the (B, C, H*W) pixels, cheap, batched, and exportable to
ONNX / TensorRT with K known only at run time (a 1x1 Conv would need K, its output-channel
count, when TensorRT builds the engine).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

DEFAULT_TEMPERATURE = 3.0  # the non-zero element T of every base prototype


def one_hot_prototypes(num_classes: int, temperature: float = DEFAULT_TEMPERATURE) -> Tensor:
    """Fixed base prototypes ``T * I``: row t is m_t (paper Sec. 4.2). Shape (N, N)."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if temperature <= 0:
        raise ValueError(f"temperature T must be > 0, got {temperature}")
    return torch.eye(num_classes) * float(temperature)


def squared_distances(embedding: Tensor, prototypes: Tensor) -> Tensor:
    """||f_ij - m_k||^2 for every pixel and prototype (the exponent of Eq. 2).

    Args:
        embedding: (B, C, H, W) per-pixel embeddings f(X).
        prototypes: (K, C) prototypes.
    Returns:
        (B, K, H, W) non-negative squared distances.
    """
    if embedding.dim() != 4:
        raise ValueError(f"embedding must be (B, C, H, W), got shape {tuple(embedding.shape)}")
    if prototypes.dim() != 2 or prototypes.shape[1] != embedding.shape[1]:
        raise ValueError(
            f"prototypes must be (K, {embedding.shape[1]}), got {tuple(prototypes.shape)}"
        )
    prototypes = prototypes.to(embedding.dtype)
    f_sq = (embedding * embedding).sum(dim=1)
    return expanded_squared_distances(f_sq, prototype_products(embedding, prototypes), prototypes)


def expanded_squared_distances(squared_norm: Tensor, products: Tensor, prototypes: Tensor) -> Tensor:
    """||f||^2 - 2 f.m_k + ||m_k||^2 from (B, H, W) ||f||^2, (B, K, H, W) products f.m_k and (K, C)
    prototypes -> (B, K, H, W), clamped at 0 (float rounding)."""
    m_sq = (prototypes * prototypes).sum(dim=1)[None, :, None, None]
    return (squared_norm[:, None] - 2.0 * products + m_sq).clamp_min(0.0)


def prototype_products(embedding: Tensor, prototypes: Tensor) -> Tensor:
    """f . m_k for (B, C, H, W) embeddings and (K, C) prototypes: one MatMul -> (B, K, H, W)."""
    batch, _, height, width = embedding.shape
    return torch.matmul(prototypes.to(embedding.dtype), embedding.flatten(2)).reshape(batch, -1, height, width)


def upsample(embedding: Tensor, size: tuple[int, int]) -> Tensor:
    """The one rule that brings (B, C, h, w) embeddings (or logits) to a label / input size:
    bilinear, ``align_corners=False`` - used by NPM (Eq. 11), evaluation, calibration and the
    exported graph alike. Returns the input itself when it already has that size."""
    if not torch.jit.is_tracing() and tuple(embedding.shape[-2:]) == tuple(int(v) for v in size):
        return embedding
    return F.interpolate(embedding, size=size, mode="bilinear", align_corners=False)


def bilinear_weights(out_size, in_size, dtype: torch.dtype = torch.float32) -> Tensor:
    """(out_size, in_size) matrix W with W @ x = x resized along one axis by :func:`upsample`'s rule
    (bilinear, ``align_corners=False``: source coordinate (i + 0.5) in/out - 0.5, clamped to the
    edges). Sizes may be traced shape values, so the exported graph keeps dynamic H, W."""
    i = torch.arange(out_size, dtype=dtype)
    source = ((i + 0.5) * (in_size / out_size) - 0.5).clamp(min=0.0, max=in_size - 1)
    j = torch.arange(in_size, dtype=dtype)
    return (1.0 - (source[:, None] - j[None, :]).abs()).clamp(min=0.0)


def upsample_channels_last(x: Tensor, size: tuple[int, int] | None) -> Tensor:
    """:func:`upsample` of (B, C, h, w) ``x`` to ``size`` (None: no resize), returned channels-last
    (B, H, W, C), as two MatMuls with :func:`bilinear_weights` - equal to
    ``upsample(x, size).permute(0, 2, 3, 1)`` to float rounding (tested).

    Why: per-pixel reductions over the C channels (argmax, softmax, norms) then run over
    contiguous memory, and a MatMul beats a strided Resize; in onnxruntime on this CPU the
    full-resolution scoring of the exported graph got ~1.3x faster."""
    batch, channels, height, width = x.shape
    out = x.permute(0, 2, 3, 1)
    if size is None:
        return out
    out = torch.matmul(bilinear_weights(size[1], width, x.dtype), out)  # (B, h, W, C)
    out = torch.matmul(bilinear_weights(size[0], height, x.dtype), out.reshape(batch, height, -1))
    return out.reshape(batch, size[0], size[1], channels)


def upsample_matmul(x: Tensor, size: tuple[int, int] | None) -> Tensor:
    """:func:`upsample` of (..., h, w) maps to (..., *size) (None: no resize) as ``W_h @ (x @ W_w^T)``
    with :func:`bilinear_weights`, channels staying first: for single-channel maps (a channels-last
    MatMul over one channel is a batch of matrix-vector products, ~4x slower in onnxruntime here) and
    for a reduction over channels that needs no softmax (the close-set argmax)."""
    if size is None:
        return x
    height, width = x.shape[-2:]
    return torch.matmul(bilinear_weights(size[0], height, x.dtype),
                        torch.matmul(x, bilinear_weights(size[1], width, x.dtype).transpose(0, 1)))


def one_hot_squared_distances(embedding: Tensor, temperature: float) -> Tensor:
    """Squared distances to the base prototypes T*e_t without a matrix product.

    ||f - T e_t||^2 = ||f||^2 - 2 T f_t + T^2, so each channel is one fused elementwise op.
    Equal to ``squared_distances(embedding, one_hot_prototypes(C, T))``.
    """
    f_sq = (embedding * embedding).sum(dim=1, keepdim=True)
    return (f_sq - 2.0 * temperature * embedding + temperature * temperature).clamp_min(0.0)
