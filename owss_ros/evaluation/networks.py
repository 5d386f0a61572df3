"""Loading the evaluated networks and running them once per image.

Distances are computed on embeddings bilinearly upsampled to the input size (the training
loss's choice and the authors' Cityscapes code's; see the project notes), with
:func:`owss_ros.core.dmlnet.upsampled_output`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from owss_ros.core.checkpoint import ModelSpec, file_fingerprint, load_model
from owss_ros.core.dmlnet import DMLNet, upsampled_output
from owss_ros.core.open_set import ScoringConfig
from owss_ros.core.scoring import close_set_labels
from owss_ros.evaluation.anomaly_scores import CE_NETWORK, DML_NETWORK, baseline_anomaly_scores, dml_anomaly_scores


@dataclass
class LoadedNetwork:
    """A network in eval mode with where it came from."""

    model: nn.Module
    spec: ModelSpec
    path: str
    fingerprint: str

    @property
    def kind(self) -> str:
        return self.spec.kind

    def describe(self) -> dict:
        return {"path": self.path, "sha256": self.fingerprint, "kind": self.spec.kind,
                "backbone": self.spec.backbone, "class_names": list(self.spec.class_names),
                "temperature": self.spec.temperature}


def load_network(path: str | Path, expected_kind: str | None = None) -> LoadedNetwork:
    """Load an owss_ros ``.safetensors`` model; ``expected_kind`` ``"dml"`` / ``"ce"`` is checked."""
    model, spec = load_model(path)
    if expected_kind is not None and spec.kind != expected_kind:
        raise ValueError(f"{path}: expected a {expected_kind!r} model, the file holds a {spec.kind!r} model")
    return LoadedNetwork(model.eval(), spec, str(path), file_fingerprint(path))


@dataclass
class NetworkOutput:
    """What one forward pass gives the evaluation: close-set labels and anomaly score maps."""

    close_labels: Tensor  # (B, H, W) int64, ids of the network's classes
    scores: dict[str, Tensor]  # method key -> (B, H, W) float32


@torch.no_grad()
def run_network(network: LoadedNetwork, images: Tensor, scoring: ScoringConfig) -> NetworkOutput:
    """One forward pass; all scores of the network's methods from that one output."""
    output = upsampled_output(network.model, images)
    if network.kind == DML_NETWORK:
        if not isinstance(network.model, DMLNet):
            raise TypeError("a 'dml' network must be a DMLNet")
        distances = network.model.base_distances(output)
        return NetworkOutput(close_set_labels(distances), dml_anomaly_scores(distances, scoring))
    if network.kind == CE_NETWORK:
        return NetworkOutput(output.argmax(dim=1), baseline_anomaly_scores(output))
    raise ValueError(f"unknown network kind {network.kind!r}")
