"""Loads ImageNet ResNet weights (torchvision key layout) from a LOCAL file into a backbone.

PSPNet (Zhao et al., 2017) and therefore DMLNet start from an ImageNet-pretrained ResNet.
Nothing is downloaded: the caller passes a path to a ``.pth``/``.pt`` file (read with
``torch.load(..., weights_only=True)``) or a ``.safetensors`` file. Keys ``fc.*`` are ignored;
a ``module.`` prefix (DataParallel) and a ``state_dict``/``model`` wrapper are accepted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

_LOG = logging.getLogger(__name__)
_IGNORED_PREFIXES = ("fc.",)


@dataclass
class CheckpointLoadReport:
    path: str
    loaded: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"pretrained backbone checkpoint not found: {str(path)!r} (must be a local file)")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    for wrapper in ("state_dict", "model"):
        if isinstance(state, dict) and wrapper in state and isinstance(state[wrapper], dict):
            state = state[wrapper]
    if not isinstance(state, dict):
        raise ValueError(f"{str(path)!r} does not contain a state dict (got {type(state).__name__})")
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def load_backbone_checkpoint(backbone: nn.Module, path: str | Path, strict: bool = True) -> CheckpointLoadReport:
    """Copies matching tensors from ``path`` into ``backbone``.

    Raises ``FileNotFoundError`` if the file is missing, ``ValueError`` on a shape mismatch, when
    no key matches, or (``strict``) when backbone tensors are missing from the file. Missing
    ``num_batches_tracked`` counters (old checkpoints) are tolerated. Unexpected keys other
    than ``fc.*`` are logged as a warning and listed in the report.
    """
    source = read_state_dict(path)
    target = backbone.state_dict()
    report = CheckpointLoadReport(path=str(path))
    to_load: dict[str, torch.Tensor] = {}
    for key, value in source.items():
        if key.startswith(_IGNORED_PREFIXES):
            report.ignored.append(key)
        elif key not in target:
            report.unexpected.append(key)
        elif tuple(value.shape) != tuple(target[key].shape):
            raise ValueError(
                f"{str(path)!r}: shape mismatch for {key!r}: checkpoint {tuple(value.shape)} "
                f"vs backbone {tuple(target[key].shape)} (wrong ResNet depth?)"
            )
        else:
            to_load[key] = value
    report.missing = [k for k in target if k not in to_load and not k.endswith("num_batches_tracked")]
    report.loaded = sorted(to_load)
    if not to_load:
        raise ValueError(
            f"{str(path)!r}: no tensor matches the backbone (expected torchvision ResNet keys such as "
            f"'conv1.weight', 'layer1.0.conv1.weight'); first keys in file: {list(source)[:5]}"
        )
    if report.missing and strict:
        raise ValueError(
            f"{str(path)!r}: {len(report.missing)} backbone tensors missing from the checkpoint, "
            f"e.g. {report.missing[:5]} (wrong ResNet depth or key layout?)"
        )
    if report.missing:
        _LOG.warning("%s: %d backbone tensors missing, left at init: %s", path, len(report.missing), report.missing[:10])
    if report.unexpected:
        _LOG.warning("%s: %d unexpected keys ignored: %s", path, len(report.unexpected), report.unexpected[:10])
    current = backbone.state_dict()
    current.update(to_load)
    backbone.load_state_dict(current, strict=True)
    _LOG.info("%s: loaded %d tensors into the backbone", path, len(to_load))
    return report
