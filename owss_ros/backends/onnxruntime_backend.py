"""onnxruntime backend: the exported graph on CPU (default), CUDA or TensorRT execution providers.

``providers``:
  * ``"cpu"`` (default), ``"cuda"``, ``"tensorrt"``, a comma-separated list of those, or full
    onnxruntime provider names (``"CUDAExecutionProvider"``);
  * ``"auto"``: TensorrtExecutionProvider > CUDAExecutionProvider > CPUExecutionProvider, those
    present in ``onnxruntime.get_available_providers()`` (the GPU ones exist only in the
    onnxruntime-gpu wheel; never install it beside the CPU onnxruntime).
The CPU provider is always appended last, so nodes a GPU provider rejects still run.

Per frame only the three maps are fetched (``run`` with ``output_names``). onnxruntime runs the
whole graph whatever is fetched, so :meth:`embed` (teaching) uses a second session on the
network alone - the image -> embedding subgraph extracted from the same ONNX file (same weights,
no scoring), created with the first (so the first taught class does not wait for it). Geometry
and output resolution work as in the torch backend (shared helpers in base.py).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnx.utils
import onnxruntime as ort
import torch

from owss_ros.backends.base import InferenceBackend, check_output_resolution
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.onnx_metadata import GraphInfo
from owss_ros.backends.pipeline import OUTPUT_NAMES

log = logging.getLogger(__name__)

MAP_OUTPUTS = list(OUTPUT_NAMES[:3])
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
PROVIDER_PREFERENCE = (TENSORRT, CUDA, CPU)
PROVIDER_ALIASES = {"cpu": CPU, "cuda": CUDA, "tensorrt": TENSORRT}


def resolve_providers(providers: str | list[str] = "cpu", available: list[str] | None = None) -> list[str]:
    """Provider names to use, in priority order, CPU last. Raises ValueError when one is missing."""
    available = list(ort.get_available_providers() if available is None else available)
    if providers == "auto":
        chosen = [p for p in PROVIDER_PREFERENCE if p in available]
    else:
        requested = providers.split(",") if isinstance(providers, str) else list(providers)
        chosen = [PROVIDER_ALIASES.get(p.strip().lower(), p.strip()) for p in requested if p.strip()]
        missing = [p for p in chosen if p not in available]
        if missing:
            hint = (" GPU providers need the onnxruntime-gpu package (instead of onnxruntime) and a "
                    "matching CUDA / TensorRT install." if set(missing) & {CUDA, TENSORRT} else "")
            raise ValueError(f"onnxruntime provider(s) {missing} not available here; available: {available}.{hint} "
                             "Use providers='auto' to pick the best available one.")
    if CPU not in chosen:
        chosen.append(CPU)
    return chosen


def _provider_entries(names: list[str], device_id: int, tensorrt_cache_dir: str | None,
                      tensorrt_fp16: bool) -> list:
    entries: list = []
    for name in names:
        if name == TENSORRT:
            options = {"device_id": device_id, "trt_fp16_enable": tensorrt_fp16}
            if tensorrt_cache_dir:
                Path(tensorrt_cache_dir).mkdir(parents=True, exist_ok=True)
                options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(tensorrt_cache_dir))
            entries.append((name, options))
        elif name == CUDA:
            entries.append((name, {"device_id": device_id}))
        else:
            entries.append(name)
    return entries


class OnnxRuntimeBackend(InferenceBackend):
    name = "onnxruntime"

    def __init__(self, onnx_path: str | Path, input_hw: tuple[int, int] | None = None,
                 output_resolution: str = "model", providers: str | list[str] = "cpu",
                 intra_op_threads: int | None = None, device_id: int = 0,
                 tensorrt_cache_dir: str | Path | None = None, tensorrt_fp16: bool = True):
        check_output_resolution(output_resolution)
        self.onnx_path = Path(onnx_path)
        if not self.onnx_path.is_file():
            raise FileNotFoundError(f"ONNX file not found: {self.onnx_path} (create it with `owss_ros export`)")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.inter_op_num_threads = 1
        if intra_op_threads:
            options.intra_op_num_threads = int(intra_op_threads)
        self.requested_providers = resolve_providers(providers)
        entries = _provider_entries(self.requested_providers, device_id,
                                    str(tensorrt_cache_dir) if tensorrt_cache_dir else None, tensorrt_fp16)
        log.info("onnxruntime session for %s with %s", self.onnx_path, self.requested_providers)
        if TENSORRT in self.requested_providers:
            log.warning("onnxruntime's TensorRT provider builds its engines during the first frame of each new "
                        "input shape (minutes on a Jetson)%s", f"; cached in {tensorrt_cache_dir}"
                        if tensorrt_cache_dir else " and does not cache them (no tensorrt_cache_dir)")
        self.session = ort.InferenceSession(str(self.onnx_path), options, providers=entries)
        self.info = GraphInfo.from_metadata(self.session.get_modelmeta().custom_metadata_map, str(self.onnx_path))
        self.input_hw = self.info.resolve_input_hw(input_hw)
        self.output_resolution = output_resolution
        self.intra_op_threads = intra_op_threads
        network = network_subgraph(onnx.load(str(self.onnx_path)))
        # taught shots are rare: this session's threads must not spin after a run (onnxruntime's
        # default), where they would take the 2 cores from the next frame and the teaching callback
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._embedding_session = ort.InferenceSession(network.SerializeToString(), options, providers=entries)

    def _feed(self, image: np.ndarray, inputs: GraphInputs) -> dict[str, np.ndarray]:
        feed = {"image": image, **inputs.feed()}
        self.info.check_inputs(feed["novel_prototypes"], feed["novel_thresholds"], feed["novel_valid"],
                               feed["score_params"])
        return feed

    def _run_maps(self, model_input: np.ndarray, inputs: GraphInputs) -> list[np.ndarray]:
        close, anomaly, open_labels = self.session.run(MAP_OUTPUTS, self._feed(model_input, inputs))
        return [close[0], anomaly[0], open_labels[0]]

    def _run_embedding(self, model_input: np.ndarray) -> torch.Tensor:
        (embedding,) = self._embedding_session.run(["embedding"], {"image": model_input})
        return torch.from_numpy(embedding)

    def describe(self) -> dict:
        return {"backend": self.name, "onnx": str(self.onnx_path), "providers": self.session.get_providers(),
                "input_hw": list(self.input_hw), "output_resolution": self.output_resolution,
                "score_resolution": self.info.score_resolution,
                "intra_op_threads": self.intra_op_threads, "max_prototypes": self.info.max_prototypes,
                "onnxruntime": ort.__version__}


def network_subgraph(model: onnx.ModelProto) -> onnx.ModelProto:
    """The image -> embedding part of the per-frame graph (the network, without scoring)."""
    network = onnx.utils.Extractor(model).extract_model(["image"], ["embedding"])
    del network.metadata_props[:]
    network.metadata_props.extend(model.metadata_props)
    return network
