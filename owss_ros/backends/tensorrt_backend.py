"""TensorRT backend: a serialized engine run with the tensor-address API (TensorRT 10.x and 11.x).

    cached, info = prepare_engine("model.onnx", input_hw=(512, 1024), cache_dir=...)
    backend = TensorRTBackend(cached.path, info, input_hw=(512, 1024))

Device buffers are torch CUDA tensors (no pycuda): inputs are uploaded into them, their
``data_ptr()`` is bound with ``set_tensor_address``, and the engine runs with
``execute_async_v3`` on the backend's own CUDA stream. Buffers are reallocated only when
the input shapes change (another K or image size). Per frame only the three maps are copied
to the host; label maps produced as int32 (the TensorRT export variant, see pipeline.py)
are narrowed to uint8 on the GPU first, so the copy is one byte per pixel.

``tensorrt`` and CUDA are touched only when a backend is created, so this module imports
anywhere; without them the constructor raises :class:`TensorRTUnavailableError`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from owss_ros.backends.base import InferenceBackend, check_output_resolution
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.engine_cache import (
    DEFAULT_WORKSPACE_BYTES,
    CachedEngine,
    EngineBuildOptions,
    EngineCache,
    ImageProfile,
)
from owss_ros.backends.onnx_metadata import GraphInfo
from owss_ros.backends.pipeline import INPUT_NAMES, OUTPUT_NAMES
from owss_ros.backends.tensorrt_compat import torch_dtype_map
from owss_ros.backends.tensorrt_build import (
    TensorRTUnavailableError,
    build_serialized_engine,
    check_engine_io,
    current_build_environment,
    import_tensorrt,
    require_cuda_gpu,
)

log = logging.getLogger(__name__)

MAP_OUTPUTS = OUTPUT_NAMES[:3]
__all__ = ["TensorRTBackend", "TensorRTUnavailableError", "prepare_engine"]


TYPICAL_PROTOTYPES = 4  # the K engines are tuned for (dynamic K: slots up to the last taught class, then backgrounds)


def prepare_engine(onnx_path: str | Path, input_hw: tuple[int, int] | None, cache_dir: str | Path,
                   precision: str = "fp16", workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
                   device_index: int = 0, opt_prototypes: int | None = None) -> tuple[CachedEngine, GraphInfo]:
    """The cached engine for ``onnx_path`` on CUDA device ``device_index``, built first when
    missing (logged). ``opt_prototypes``: the K TensorRT tunes for; None = a few (the node feeds
    only the slots up to its last taught class, :class:`~owss_ros.backends.graph_inputs.GraphInputs`)."""
    from owss_ros.backends.onnx_export import read_graph_info

    info = read_graph_info(onnx_path)
    hw = info.resolve_input_hw(input_hw)
    options = EngineBuildOptions(
        precision=precision, workspace_bytes=workspace_bytes, max_prototypes=info.max_prototypes,
        opt_prototypes=opt_prototypes or min(TYPICAL_PROTOTYPES, info.max_prototypes),
        image=None if info.input_hw else ImageProfile.fixed(hw))
    environment = current_build_environment(device_index, precision)
    engine_cache = EngineCache(cache_dir)

    def build(path: Path, opts: EngineBuildOptions) -> bytes:
        return build_serialized_engine(path, opts, info, device_index, engine_cache.timing_cache_path(environment))

    return engine_cache.get_or_build(onnx_path, environment, options, build), info


def _torch_dtypes(trt) -> dict:
    return torch_dtype_map(trt)  # only the types this TensorRT has (int64 is guarded)


class TensorRTBackend(InferenceBackend):
    name = "tensorrt"

    def __init__(self, engine_path: str | Path, info: GraphInfo, input_hw: tuple[int, int] | None = None,
                 output_resolution: str = "model", device_index: int = 0):
        check_output_resolution(output_resolution)
        trt = import_tensorrt()
        require_cuda_gpu(device_index)
        self.trt_version = trt.__version__
        self.engine_path = Path(engine_path)
        self.info = info
        self.input_hw = info.resolve_input_hw(input_hw)
        self.output_resolution = output_resolution
        self.device = torch.device("cuda", device_index)
        self.stream = torch.cuda.Stream(self.device)
        self._logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(self.device):  # engine, context and buffers all on cuda:<device_index>
            self._runtime = trt.Runtime(self._logger)
            self.engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
            if self.engine is None:
                raise RuntimeError(f"TensorRT {trt.__version__} could not deserialize {self.engine_path} (built by "
                                   "another TensorRT version or for another GPU?): delete it and rebuild with "
                                   "`owss_ros build-engine`")
            check_engine_io(self.engine, trt, self.engine_path, info)  # names, shapes, dtypes, profile vs ONNX
            self.context = self.engine.create_execution_context()
        dtypes = _torch_dtypes(trt)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        if sorted(names) != sorted(INPUT_NAMES + OUTPUT_NAMES):
            raise RuntimeError(f"{self.engine_path} has tensors {names}, expected {INPUT_NAMES + OUTPUT_NAMES}")
        self.dtypes = {n: dtypes[self.engine.get_tensor_dtype(n)] for n in names}
        self._buffers: dict[str, torch.Tensor] = {}
        self._bound_shapes: dict[str, tuple[int, ...]] | None = None

    def _bind(self, shapes: dict[str, tuple[int, ...]]) -> None:
        """Set input shapes and (re)allocate and bind buffers when the shapes change."""
        if shapes == self._bound_shapes:
            return
        for name, shape in shapes.items():
            if not self.context.set_input_shape(name, shape):
                raise ValueError(f"input {name} shape {shape} is outside the engine's optimisation profile "
                                 f"(rebuild the engine for this size / K)")
        for name in INPUT_NAMES + OUTPUT_NAMES:
            shape = shapes[name] if name in shapes else tuple(self.context.get_tensor_shape(name))
            if any(d < 0 for d in shape):
                raise RuntimeError(f"TensorRT could not resolve the shape of {name}: {shape}")
            self._buffers[name] = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            self.context.set_tensor_address(name, self._buffers[name].data_ptr())
        self._bound_shapes = dict(shapes)

    def _run(self, model_input: np.ndarray, inputs: GraphInputs) -> None:
        host = {"image": model_input, **inputs.feed()}
        host = {k: np.ascontiguousarray(v, dtype=np.uint8 if k == "image" else np.float32) for k, v in host.items()}
        self.info.check_inputs(host["novel_prototypes"], host["novel_thresholds"], host["novel_valid"],
                               host["score_params"])
        self._bind({k: tuple(v.shape) for k, v in host.items()})
        for name, array in host.items():
            self._buffers[name].copy_(torch.from_numpy(array).to(self.dtypes[name]), non_blocking=False)
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed; see the TensorRT messages above")

    def _run_maps(self, model_input: np.ndarray, inputs: GraphInputs) -> list[np.ndarray]:
        with torch.cuda.stream(self.stream):
            self._run(model_input, inputs)
            self.stream.synchronize()
            maps = []
            for name in MAP_OUTPUTS:
                device_map = self._buffers[name][0]
                if device_map.dtype not in (torch.uint8, torch.float32):
                    device_map = device_map.to(torch.uint8 if name != "anomaly" else torch.float32)
                maps.append(device_map.cpu().numpy())
        return maps

    def _run_embedding(self, model_input: np.ndarray) -> torch.Tensor:
        k = self._bound_shapes["novel_prototypes"][0] if self._bound_shapes else 1  # keep the bound shapes
        with torch.cuda.stream(self.stream):
            self._run(model_input, GraphInputs.unused_slots(k, self.info.embedding_dim,
                                                            num_classes=self.info.num_classes))
            self.stream.synchronize()
            return self._buffers["embedding"].clone()

    def describe(self) -> dict:
        return {"backend": self.name, "engine": str(self.engine_path), "device": str(self.device),
                "gpu": torch.cuda.get_device_name(self.device), "input_hw": list(self.input_hw),
                "output_resolution": self.output_resolution, "score_resolution": self.info.score_resolution,
                "max_prototypes": self.info.max_prototypes,
                "label_dtype": self.info.label_dtype, "tensorrt": self.trt_version}
