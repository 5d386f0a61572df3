"""PLM segmenters on disk: encoder + base head + branch heads in one safetensors file.

Format (``format_version`` 1)::

    <name>.safetensors   tensors: PLMSegmenter.state_dict() -
                           encoder.*          the DMLNet's encoder (frozen during PLM)
                           base_head.*        the DMLNet's head h_in (N outputs)
                           branch_heads.<t>.* branch head h_out,t+1 (N + t + 1 outputs), t = 0..k-1
                         header metadata "owss_ros.plm_segmenter": the JSON document below
    <name>.json          the same JSON document, for people (not read back)

JSON document: ``format``, ``format_version``, ``base_spec`` (the base DMLNet's
:class:`~owss_ros.core.checkpoint.ModelSpec`, so the network is rebuilt before the weights are
loaded), ``num_base``, ``temperature``, ``class_names`` (base classes then the taught ones, in id
order: taught class t has id N + t), ``branch_heads`` (per head: ``class_name``, ``num_outputs``,
``training`` record) and ``base_model_fingerprint`` (sha256 of the base weights file).
safetensors holds tensors only, so loading never executes code.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from owss_ros.core.checkpoint import ModelSpec, build_model, load_model
from owss_ros.core.atomic_file import atomic_write_bytes
from owss_ros.core.dmlnet import DMLNet
from owss_ros.core.plm import PLMSegmenter

PLM_KEY = "owss_ros.plm_segmenter"
FORMAT_VERSION = 1


def segmenter_from_model(model: DMLNet) -> PLMSegmenter:
    """A PLM segmenter with no branch head yet, sharing ``model``'s encoder and head."""
    return PLMSegmenter(model.encoder, model.head, model.num_classes, model.temperature, model.refiner)


def is_plm_checkpoint(path: str | Path) -> bool:
    with safe_open(str(path), framework="pt") as f:
        return PLM_KEY in (f.metadata() or {})


def save_plm_segmenter(path: str | Path, segmenter: PLMSegmenter, base_spec: ModelSpec, branch_heads: list[dict],
                       base_model_fingerprint: str = "") -> dict:
    """Write ``path`` (+ ``path`` with suffix ``.json``); ``branch_heads`` describes each head in order."""
    if len(branch_heads) != len(segmenter.branch_heads):
        raise ValueError("one description per branch head is required")
    document = {
        "format": PLM_KEY, "format_version": FORMAT_VERSION, "base_spec": asdict(base_spec),
        "num_base": segmenter.num_base, "temperature": segmenter.temperature,
        "class_names": list(base_spec.class_names) + [h["class_name"] for h in branch_heads],
        "branch_heads": [{**h, "num_outputs": segmenter.num_base + t + 1} for t, h in enumerate(branch_heads)],
        "base_model_fingerprint": base_model_fingerprint,
    }
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in segmenter.state_dict().items()}
    atomic_write_bytes(path, safetensors_bytes(state, metadata={PLM_KEY: json.dumps(document)}))
    atomic_write_bytes(path.with_suffix(".json"), json.dumps(document, indent=1).encode())
    return document


def load_plm_segmenter(path: str | Path) -> tuple[PLMSegmenter, dict, DMLNet]:
    """(segmenter in eval mode, JSON document, the base DMLNet it shares modules with)."""
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata() or {}
    if PLM_KEY not in metadata:
        raise ValueError(f"{path}: not a PLM segmenter file (no {PLM_KEY!r} metadata)")
    document = json.loads(metadata[PLM_KEY])
    if document.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{path}: unsupported PLM format version {document.get('format_version')}")
    spec = ModelSpec(**document["base_spec"])
    base = build_model(spec)
    segmenter = segmenter_from_model(base)
    for head in document["branch_heads"]:
        segmenter.branch_heads.append(base.net.new_head(head["num_outputs"]))
    segmenter.load_state_dict(load_file(str(path)), strict=True)
    return segmenter.eval(), document, base.eval()


def load_plm_or_base(path: str | Path) -> tuple[PLMSegmenter, dict, DMLNet]:
    """A PLM file as saved, or a plain DMLNet file as a segmenter with no branch head."""
    if is_plm_checkpoint(path):
        return load_plm_segmenter(path)
    model, spec = load_model(path)
    if not isinstance(model, DMLNet):
        raise ValueError(f"{path}: PLM needs a DMLNet, the file holds a {spec.kind!r} model")
    from owss_ros.core.checkpoint import file_fingerprint

    document = {"format": PLM_KEY, "format_version": FORMAT_VERSION, "base_spec": asdict(spec),
                "num_base": spec.num_classes, "temperature": spec.temperature,
                "class_names": list(spec.class_names), "branch_heads": [],
                "base_model_fingerprint": file_fingerprint(path)}
    return segmenter_from_model(model).eval(), document, model
