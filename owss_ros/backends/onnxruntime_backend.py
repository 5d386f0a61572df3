"""onnxruntime backend: the exported graph on CPU (default), CUDA or TensorRT execution providers.

``providers``:
  * ``"cpu"`` (default), ``"cuda"``, ``"tensorrt"``, a comma-separated list of those, or full
    onnxruntime provider names (``"CUDAExecutionProvider"``);
  * ``"auto"``: TensorrtExecutionProvider > CUDAExecutionProvider > CPUExecutionProvider, those
    present in ``onnxruntime.get_available_providers()`` (the GPU ones exist only in the
    onnxruntime-gpu wheel; never install it beside the CPU onnxruntime).
The CPU provider is always appended last, so nodes a GPU provider rejects still run.

Per frame only the three maps are fetched (``run`` with ``output_names``); the embedding is
fetched only by :meth:`embed`. Geometry and output resolution work as in the torch backend
(shared helpers in base.py).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from owss_ros.backends.base import (
    FrameResult,
    InferenceBackend,
    NovelClassTensors,
    check_output_resolution,
    embedding_to_frame,
    letterbox,
    maps_to_output,
)
from owss_ros.backends.onnx_metadata import GraphInfo
from owss_ros.backends.pipeline import OUTPUT_NAMES
from owss_ros.backends.score_params import pack_score_params
from owss_ros.core.open_set import ScoringConfig

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
        self._embed_inputs = NovelClassTensors(np.zeros((1, self.info.embedding_dim), np.float32),
                                               np.ones(1, np.float32), np.zeros(1, np.float32))
        self._embed_params = pack_score_params(ScoringConfig(), self.info.num_classes).numpy()

    def _feed(self, image: np.ndarray, novel: NovelClassTensors, params: np.ndarray) -> dict[str, np.ndarray]:
        feed = {"image": image,
                "novel_prototypes": np.ascontiguousarray(novel.prototypes, dtype=np.float32),
                "novel_thresholds": np.ascontiguousarray(novel.thresholds, dtype=np.float32),
                "novel_valid": np.ascontiguousarray(novel.valid, dtype=np.float32),
                "params": np.ascontiguousarray(np.asarray(params), dtype=np.float32)}
        self.info.check_inputs(feed["novel_prototypes"], feed["novel_thresholds"], feed["novel_valid"],
                               feed["params"])
        return feed

    def infer(self, frame: np.ndarray, novel: NovelClassTensors, params: np.ndarray) -> FrameResult:
        t0 = time.perf_counter()
        geometry, model_input = letterbox(frame, self.input_hw)
        feed = self._feed(model_input, novel, params)
        t1 = time.perf_counter()
        close, anomaly, open_labels = self.session.run(MAP_OUTPUTS, feed)
        t2 = time.perf_counter()
        maps = maps_to_output([close[0], anomaly[0], open_labels[0]], geometry, self.output_resolution)
        t3 = time.perf_counter()
        return FrameResult(*maps, timings_ms={"preprocess": 1e3 * (t1 - t0), "inference": 1e3 * (t2 - t1),
                                              "copy_out": 1e3 * (t3 - t2)})

    def embed(self, frame: np.ndarray) -> np.ndarray:
        geometry, model_input = letterbox(frame, self.input_hw)
        feed = self._feed(model_input, self._embed_inputs, self._embed_params)
        (embedding,) = self.session.run(["embedding"], feed)
        return embedding_to_frame(torch.from_numpy(embedding), geometry)

    def describe(self) -> dict:
        return {"backend": self.name, "onnx": str(self.onnx_path), "providers": self.session.get_providers(),
                "input_hw": list(self.input_hw), "output_resolution": self.output_resolution,
                "intra_op_threads": self.intra_op_threads, "max_prototypes": self.info.max_prototypes,
                "onnxruntime": ort.__version__}
