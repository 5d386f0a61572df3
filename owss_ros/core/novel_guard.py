"""A bound on lambda_novel (Eq. 12) from known-class pixels, so a taught class cannot swallow them.

Eq. 12 accepts a pixel as novel class k when ``||F - m_k||^2 < lambda_novel`` and m_k is its
nearest prototype. A radius chosen from the operator's shots alone (their spread) says nothing
about what ELSE lies within that radius: with a loose metric space a new prototype can sit
between "sidewalk" and "building" and take both. The guard measures exactly that, before the
class goes live: over a sample of known-class pixel embeddings of a calibration split (stored
beside the model), the ``quantile`` (default 1%) of their squared distances to the new prototype
is the largest radius that admits at most that share of known pixels. The class then uses

    lambda_k = min(lambda_novel, bound_k)

(and Eq. 12's nearest-prototype condition only removes more pixels), so at most about
``quantile`` of calibration known-class pixels are taken by the new class - a false-positive
budget stated in advance, like lambda_out's target FPR.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save
from torch import Tensor

from owss_ros.core.atomic_file import atomic_write_bytes

DEFAULT_GUARD_QUANTILE = 0.01
FORMAT_VERSION = 1
_FORMAT = "owss_ros.known_pixels"


@dataclass(frozen=True)
class KnownPixelSample:
    """Embeddings (P, C) of known-class pixels of a calibration split, for one model."""

    embeddings: Tensor
    model_fingerprint: str
    source: str = ""
    guard_quantile: float = DEFAULT_GUARD_QUANTILE

    def __post_init__(self):
        if self.embeddings.dim() != 2 or self.embeddings.shape[0] == 0:
            raise ValueError(f"expected a non-empty (P, C) sample, got {tuple(self.embeddings.shape)}")
        if not 0.0 < self.guard_quantile < 1.0:
            raise ValueError(f"guard_quantile must be in (0, 1), got {self.guard_quantile}")

    def _distances(self, prototype: Tensor) -> Tensor:
        """(P,) squared distances ||e - m||^2 of the sample to prototype ``m`` (C,)."""
        if prototype.shape != self.embeddings.shape[1:]:
            raise ValueError(f"prototype of {tuple(prototype.shape)} vs a {self.embeddings.shape[1]}-d sample")
        return ((self.embeddings.float() - prototype.float()[None]) ** 2).sum(dim=1)

    def distance_quantile(self, prototype: Tensor, quantile: float | None = None) -> float:
        """The ``quantile`` of ||e - m||^2 over the sample for prototype ``m`` (C,)."""
        q = self.guard_quantile if quantile is None else quantile
        return float(torch.quantile(self._distances(prototype), q))

    def share_within(self, prototype: Tensor, radius: float) -> float:
        """The share of sample pixels with ||e - m||^2 < radius (what Eq. 12's first test admits)."""
        return float((self._distances(prototype) < radius).float().mean())

    def bounded_lambda(self, lambda_novel: float, prototype: Tensor) -> tuple[float, float]:
        """(min(lambda_novel, bound), bound) for a new prototype."""
        bound = self.distance_quantile(prototype)
        return min(float(lambda_novel), bound), bound

    def save(self, path: str | Path) -> None:
        metadata = {"format": _FORMAT, "version": str(FORMAT_VERSION), "model_fingerprint": self.model_fingerprint,
                    "source": self.source, "guard_quantile": repr(self.guard_quantile)}
        data = save({"embeddings": self.embeddings.to(torch.float16).contiguous()}, metadata=metadata)
        atomic_write_bytes(Path(path), data)

    @classmethod
    def load(cls, path: str | Path, expected_fingerprint: str | None = None) -> "KnownPixelSample":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        if metadata.get("format") != _FORMAT or metadata.get("version") != str(FORMAT_VERSION):
            raise ValueError(f"{path} is not a version-{FORMAT_VERSION} known-pixel sample "
                             f"(metadata {json.dumps(metadata)[:200]})")
        fingerprint = metadata.get("model_fingerprint", "")
        if expected_fingerprint is not None and fingerprint != expected_fingerprint:
            raise ValueError(f"{path} was sampled with model {fingerprint[:12]}, not {expected_fingerprint[:12]}: "
                             "re-run `owss_ros sample-known-pixels` for this model")
        embeddings = load_file(str(path))["embeddings"].float()
        return cls(embeddings, fingerprint, metadata.get("source", ""), float(metadata["guard_quantile"]))
