"""One entry point that turns a backend name and a model into a ready :class:`InferenceBackend`.

    backend = create_backend("auto", model_path="models/default/model.safetensors", input_hw=(512, 1024))

Names: ``torch`` (eager reference), ``onnxruntime``, ``tensorrt``, and ``auto``, which takes
the first that works of
  1. tensorrt     - the tensorrt package imports and a CUDA GPU is visible;
  2. onnxruntime  - with the CUDA execution provider (onnxruntime-gpu installed);
  3. onnxruntime  - CPU;
  (4. torch       - only if onnxruntime itself is missing).
With ``auto`` any failure of a choice (import, ONNX export, engine build, load, or its first
inference on a blank frame) is logged with its reason and the next one is tried; a named backend
raises :class:`BackendUnavailableError` with what to do instead.

Graph backends need an ONNX file. Without ``onnx_path`` it is exported on the fly into
``<cache_dir>/onnx/`` under a name built from the weights' sha256 and the export options,
and reused while the weights are unchanged (the file's metadata fingerprint is checked).
A given ``onnx_path`` must have been exported from ``model_path`` (when both are given).
TensorRT engines are cached in ``<cache_dir>/engines/`` (see engine_cache.py).
The cache folder is ``$OWSS_ROS_CACHE_DIR``, else ``$XDG_CACHE_HOME/owss_ros``, else
``~/.cache/owss_ros``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from owss_ros.backends.base import InferenceBackend
from owss_ros.backends.engine_cache import DEFAULT_WORKSPACE_BYTES
from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, GraphMetadataError
from owss_ros.core.npm import DEFAULT_GRAPH_SLOTS

log = logging.getLogger(__name__)

BACKEND_NAMES = ("auto", "tensorrt", "onnxruntime", "torch")


class BackendUnavailableError(RuntimeError):
    """The requested backend cannot run here; the message says why and what to use instead."""


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: str


def default_cache_dir() -> Path:
    if os.environ.get("OWSS_ROS_CACHE_DIR"):
        return Path(os.environ["OWSS_ROS_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "owss_ros"


def onnxruntime_providers() -> list[str] | None:
    """onnxruntime's available providers, or None when onnxruntime is not importable."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    return list(ort.get_available_providers())


def backend_availability() -> dict[str, Availability]:
    """Which concrete backends can run here, and why (not)."""
    from owss_ros.backends.tensorrt_build import tensorrt_availability

    trt_ok, trt_reason = tensorrt_availability()
    providers = onnxruntime_providers()
    if providers is None:
        ort = Availability(False, "onnxruntime is not installed (pip install onnxruntime, or onnxruntime-gpu)")
    else:
        ort = Availability(True, f"providers {providers}")
    return {"torch": Availability(True, "always (eager PyTorch)"), "onnxruntime": ort,
            "tensorrt": Availability(trt_ok, trt_reason)}


def auto_candidates() -> list[tuple[str, str | None]]:
    """(backend, onnxruntime providers) in the order 'auto' tries them, on this machine."""
    availability = backend_availability()
    candidates: list[tuple[str, str | None]] = []
    if availability["tensorrt"].available:
        candidates.append(("tensorrt", None))
    providers = onnxruntime_providers()
    if providers is not None:
        if "CUDAExecutionProvider" in providers:
            candidates.append(("onnxruntime", "cuda"))
        candidates.append(("onnxruntime", "cpu"))
    else:
        candidates.append(("torch", None))
    return candidates


def ensure_onnx(model_path: str | Path, cache_dir: str | Path, label_dtype: str = "uint8",
                max_prototypes: int = DEFAULT_GRAPH_SLOTS, score_resolution: str = DEFAULT_SCORE_RESOLUTION) -> Path:
    """The cached dynamic-size ONNX export of ``model_path``, exported first when missing."""
    from owss_ros.backends.onnx_export import ExportOptions, export_onnx, read_graph_info
    from owss_ros.core.checkpoint import file_fingerprint

    model_path = _existing_model(model_path)
    options = ExportOptions(max_prototypes=max_prototypes, score_resolution=score_resolution, label_dtype=label_dtype)
    fingerprint = file_fingerprint(model_path)
    shipped = _matching_shipped_onnx(model_path, fingerprint, options)
    if shipped is not None:
        return shipped
    path = Path(cache_dir) / "onnx" / f"{model_path.stem}-{fingerprint[:16]}-{options.cache_tag()}.onnx"
    if path.is_file():
        try:
            if read_graph_info(path).model_fingerprint == fingerprint:
                log.info("using cached ONNX export %s", path)
                return path
        except (GraphMetadataError, OSError, ValueError) as error:
            log.warning("cached ONNX %s is unusable (%s); exporting again", path, error)
    log.info("exporting %s to ONNX (%s) at %s", model_path, options.cache_tag(), path)
    export_onnx(model_path, path, options)
    return path


def _matching_shipped_onnx(model_path: Path, fingerprint: str, options) -> Path | None:
    """``<model>.onnx`` beside the weights (as bundled in models/default), if it is this model's
    export with these options: a node then starts without exporting anything."""
    from owss_ros.backends.onnx_export import read_graph_info

    candidate = model_path.with_suffix(".onnx")
    if not candidate.is_file():
        return None
    try:
        info = read_graph_info(candidate)
    except (GraphMetadataError, OSError, ValueError) as error:
        log.warning("ignoring %s beside the model (%s)", candidate, error)
        return None
    wanted = (fingerprint, options.max_prototypes, None, options.score_resolution, options.label_dtype)
    if (info.model_fingerprint, info.max_prototypes, info.input_hw, info.score_resolution, info.label_dtype) != wanted:
        return None
    log.info("using the ONNX export shipped beside the model: %s", candidate)
    return candidate


def _existing_model(model_path: str | Path | None) -> Path:
    if model_path is None:
        raise ValueError("no model: give model_path (a .safetensors file from `owss_ros train`) or onnx_path")
    path = Path(model_path)
    if not path.is_file():
        raise FileNotFoundError(f"model weights not found: {path} (train one with `owss_ros train`, or set the "
                                "model path parameter to an existing .safetensors file)")
    return path


def _check_onnx_matches_model(onnx_path: Path, model_path: str | Path | None) -> None:
    from owss_ros.backends.onnx_export import read_graph_info
    from owss_ros.core.checkpoint import file_fingerprint

    if not onnx_path.is_file():
        raise FileNotFoundError(f"ONNX file not found: {onnx_path} (create it with `owss_ros export`)")
    if model_path is None:
        return
    exported_from = read_graph_info(onnx_path).model_fingerprint
    if exported_from != file_fingerprint(_existing_model(model_path)):
        raise ValueError(f"{onnx_path} was exported from other weights than {model_path} (fingerprint "
                         f"{exported_from[:16]}...): re-export it with `owss_ros export --model {model_path} "
                         f"--out {onnx_path}` or drop onnx_path to export on the fly")


def _create(name: str, *, model_path, onnx_path, input_hw, output_resolution, torch_device, providers,
            intra_op_threads, cache_dir: Path, max_prototypes, score_resolution, precision, workspace_bytes,
            device_index) -> InferenceBackend:
    if name == "torch":
        from owss_ros.backends.pipeline import FramePipeline
        from owss_ros.backends.torch_backend import TorchBackend
        from owss_ros.core.checkpoint import load_model

        if input_hw is None:
            raise ValueError("the torch backend needs input_hw (the model input size, e.g. (512, 1024))")
        model, _ = load_model(_existing_model(model_path))
        return TorchBackend(FramePipeline(model, score_resolution), input_hw, torch_device, output_resolution)
    if name == "onnxruntime":
        if onnxruntime_providers() is None:
            raise BackendUnavailableError("backend 'onnxruntime' requested but onnxruntime is not installed: "
                                          "pip install onnxruntime (CPU) or onnxruntime-gpu, or use backend 'torch'")
        from owss_ros.backends.onnxruntime_backend import OnnxRuntimeBackend

        onnx = Path(onnx_path) if onnx_path else ensure_onnx(model_path, cache_dir, "uint8", max_prototypes,
                                                             score_resolution)
        if onnx_path:
            _check_onnx_matches_model(onnx, model_path)
        return OnnxRuntimeBackend(onnx, input_hw, output_resolution, providers or "cpu", intra_op_threads,
                                  device_index, tensorrt_cache_dir=cache_dir / "ort-tensorrt",
                                  tensorrt_fp16=precision == "fp16")
    if name == "tensorrt":
        from owss_ros.backends.tensorrt_build import TensorRTUnavailableError, tensorrt_availability

        ok, reason = tensorrt_availability(device_index)
        if not ok:
            raise BackendUnavailableError(f"backend 'tensorrt' unavailable: {reason}")
        from owss_ros.backends.tensorrt_backend import TensorRTBackend, prepare_engine

        onnx = Path(onnx_path) if onnx_path else ensure_onnx(model_path, cache_dir, "int32", max_prototypes,
                                                             score_resolution)
        if onnx_path:
            _check_onnx_matches_model(onnx, model_path)
        try:
            cached, info = prepare_engine(onnx, input_hw, cache_dir / "engines", precision, workspace_bytes,
                                          device_index)
        except TensorRTUnavailableError as error:
            raise BackendUnavailableError(str(error)) from error
        return TensorRTBackend(cached.path, info, input_hw, output_resolution, device_index)
    raise ValueError(f"unknown backend {name!r}; choose one of {BACKEND_NAMES}")


def create_backend(name: str = "auto", model_path: str | Path | None = None, onnx_path: str | Path | None = None,
                   input_hw: tuple[int, int] | None = None, output_resolution: str = "model",
                   torch_device: str = "cpu", providers: str | None = None, intra_op_threads: int | None = None,
                   cache_dir: str | Path | None = None, max_prototypes: int = DEFAULT_GRAPH_SLOTS,
                   score_resolution: str = DEFAULT_SCORE_RESOLUTION,
                   precision: str = "fp16", workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
                   device_index: int = 0) -> InferenceBackend:
    """A ready backend (see the module docstring for names, 'auto' order, caches).

    ``providers`` applies to onnxruntime: None = CUDA when 'auto' picked it, else CPU; or
    'cpu', 'cuda', 'tensorrt', 'auto' (see onnxruntime_backend.resolve_providers).
    ``precision`` ('fp16' / 'fp32') applies to TensorRT engines.
    """
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKEND_NAMES}")
    common = dict(model_path=model_path, onnx_path=onnx_path, input_hw=tuple(input_hw) if input_hw else None,
                  output_resolution=output_resolution, torch_device=torch_device, intra_op_threads=intra_op_threads,
                  cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(), max_prototypes=max_prototypes,
                  score_resolution=score_resolution, precision=precision, workspace_bytes=workspace_bytes,
                  device_index=device_index)
    if name != "auto":
        return _create(name, providers=providers, **common)
    failures = []
    for candidate, candidate_providers in auto_candidates():
        try:  # any failure of a candidate (import, export, build, load, first frame) moves on to the next
            backend = _create(candidate, providers=providers or candidate_providers, **common)
            _first_inference(backend)
        except Exception as error:  # noqa: BLE001 - e.g. an AttributeError from an incompatible TensorRT
            reason = f"{type(error).__name__}: {error}"
            log.error("backend 'auto': %s (%s) failed: %s; trying the next one", candidate,
                      candidate_providers or "-", reason)
            failures.append(f"{candidate}: {reason}")
            continue
        log.info("backend 'auto' chose %s", backend.describe())
        return backend
    raise BackendUnavailableError("backend 'auto' found no working backend: " + " | ".join(failures))


def _first_inference(backend: InferenceBackend) -> None:
    """Run one blank frame through a candidate of 'auto', so a backend that loads but cannot
    run (wrong engine, missing kernel, CUDA error) is refused before it is handed out."""
    import numpy as np

    from owss_ros.backends.graph_inputs import GraphInputs

    info = getattr(backend, "info", None)
    if info is not None:
        embedding_dim, slots, num_classes = info.embedding_dim, info.max_prototypes, info.num_classes
    else:  # eager torch: the pipeline knows its class count
        num_classes = embedding_dim = backend.pipeline.num_classes
        slots = 1
    frame = np.zeros((*backend.input_hw, 3), np.uint8)
    result = backend.infer(frame, GraphInputs.unused_slots(slots, embedding_dim, num_classes=num_classes))
    if result.close_labels.shape != result.anomaly.shape or not np.isfinite(result.anomaly).all():
        raise RuntimeError(f"first inference gave inconsistent or non-finite maps ({backend.describe()})")
