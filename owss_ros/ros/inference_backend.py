"""The one place where the perception node chooses and builds its inference backend.

It delegates to :func:`owss_ros.backends.factory.create_backend` ('auto' tries TensorRT, then
onnxruntime with CUDA, then onnxruntime on CPU; graph backends export / cache the ONNX file).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from owss_ros.backends.base import InferenceBackend
from owss_ros.backends.factory import create_backend


@dataclass(frozen=True)
class BackendRequest:
    name: str  # auto | torch | onnxruntime | tensorrt
    model_path: Path
    input_hw: tuple[int, int]
    output_resolution: str  # model | camera
    device: str = "auto"  # torch device; auto = cuda when available
    cpu_threads: int = 0  # 0 = the library's default
    novel_slots: int = 16  # prototype slots the graph must accept
    onnx_path: str = ""  # "" = export on the fly into the cache
    cache_directory: str = ""  # "" = $OWSS_ROS_CACHE_DIR or ~/.cache/owss_ros
    tensorrt_precision: str = "fp16"


def torch_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def create_inference_backend(request: BackendRequest) -> InferenceBackend:
    """The backend for ``request``; raises with the reason when it cannot run here."""
    backend = create_backend(
        request.name, model_path=request.model_path, onnx_path=request.onnx_path or None,
        input_hw=request.input_hw, output_resolution=request.output_resolution,
        torch_device=torch_device(request.device), intra_op_threads=request.cpu_threads or None,
        cache_dir=Path(request.cache_directory).expanduser() if request.cache_directory else None,
        max_prototypes=request.novel_slots, precision=request.tensorrt_precision)
    graph_slots = backend.describe().get("max_prototypes")
    if graph_slots is not None and int(graph_slots) < request.novel_slots:
        raise ValueError(f"the {backend.name} graph accepts {graph_slots} novel prototype slots, fewer than "
                         f"max_novel_classes {request.novel_slots}: re-export it with --max-prototypes "
                         f"{request.novel_slots} or lower max_novel_classes")
    return backend
