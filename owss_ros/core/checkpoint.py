"""Model weights on disk: one safetensors file whose metadata carries the model spec.

safetensors holds tensors only, so loading a file can never execute code (unlike pickle).
Plain PyTorch state dicts are accepted too, read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from owss_ros.core.atomic_file import atomic_write_bytes
from owss_ros.core.classes import CITYSCAPES_NAMES
from owss_ros.core.dmlnet import CrossEntropyNet, DMLNet
from owss_ros.core.prototypes import DEFAULT_TEMPERATURE

SPEC_KEY = "owss_ros.model_spec"


@dataclass
class ModelSpec:
    """Everything needed to rebuild a network before loading its weights."""

    backbone: str = "fast_scnn"
    kind: str = "dml"  # "dml" (DMLNet, DCE + VL) or "ce" (cross-entropy twin)
    class_names: list[str] = field(default_factory=lambda: list(CITYSCAPES_NAMES))
    temperature: float = DEFAULT_TEMPERATURE

    def __post_init__(self) -> None:
        if self.kind not in ("dml", "ce"):
            raise ValueError(f"model kind must be 'dml' or 'ce', got {self.kind!r}")

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def build_model(spec: ModelSpec, pretrained_backbone: str | None = None) -> nn.Module:
    from owss_ros.core.model import build_segmentation_net

    net = build_segmentation_net(spec.backbone, spec.num_classes, pretrained_backbone)
    if spec.kind == "dml":
        return DMLNet(net, spec.num_classes, spec.temperature)
    return CrossEntropyNet(net, spec.num_classes)


def save_model(path: str | Path, model: nn.Module, spec: ModelSpec) -> None:
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, safetensors_bytes(state, metadata={SPEC_KEY: json.dumps(asdict(spec))}))


def read_spec(path: str | Path) -> ModelSpec:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if SPEC_KEY not in metadata:
        raise ValueError(f"{path}: safetensors file has no {SPEC_KEY!r} metadata; not an owss_ros model")
    return ModelSpec(**json.loads(metadata[SPEC_KEY]))


def load_model(path: str | Path, spec: ModelSpec | None = None) -> tuple[nn.Module, ModelSpec]:
    """Rebuild and load a model. ``spec`` is required for plain ``.pt`` state dicts."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model weights not found: {path}")
    if path.suffix == ".safetensors":
        spec = spec or read_spec(path)
        state = load_file(str(path))
    else:
        if spec is None:
            raise ValueError(f"{path}: a plain state dict needs an explicit ModelSpec")
        state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(spec)
    model.load_state_dict(state)
    return model.eval(), spec


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file: identifies the exact weights a class store belongs to."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
