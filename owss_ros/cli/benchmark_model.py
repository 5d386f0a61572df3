"""The weights the benchmark commands time: the requested file, the bundled model, or random weights."""

from __future__ import annotations

from pathlib import Path

DEFAULT_MODEL = Path("models/default/model.safetensors")


def benchmark_model(requested: str | Path | None, scratch: Path) -> tuple[Path, str]:
    """(absolute weights path, label for the report). Without ``requested`` and without
    :data:`DEFAULT_MODEL`, a seeded random-weights fast_scnn DMLNet is written to ``scratch``:
    latency does not depend on the weights' values."""
    if requested:
        return Path(requested).resolve(), str(requested)
    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL.resolve(), str(DEFAULT_MODEL)
    import torch

    from owss_ros.core.checkpoint import ModelSpec, build_model, save_model

    torch.manual_seed(0)
    path = Path(scratch) / "random_fast_scnn.safetensors"
    save_model(path, build_model(ModelSpec()), ModelSpec())
    return path.resolve(), f"random-weights fast_scnn ({DEFAULT_MODEL} not found)"
