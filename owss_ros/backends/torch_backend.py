"""Eager PyTorch backend (CPU or CUDA; optionally torch.compile): the reference for the others."""

from __future__ import annotations

import time

import numpy as np
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
from owss_ros.backends.pipeline import FramePipeline


class TorchBackend(InferenceBackend):
    name = "torch"

    def __init__(self, pipeline: FramePipeline, input_hw: tuple[int, int], device: str = "cpu",
                 output_resolution: str = "model", compile: bool = False):
        check_output_resolution(output_resolution)
        self.device = torch.device(device)
        self.pipeline = pipeline.to(self.device).eval()
        self.runner = torch.compile(self.pipeline) if compile else self.pipeline
        self.input_hw = tuple(input_hw)
        self.output_resolution = output_resolution
        self.compiled = compile

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device)

    @torch.inference_mode()
    def infer(self, frame: np.ndarray, novel: NovelClassTensors, params: np.ndarray) -> FrameResult:
        t0 = time.perf_counter()
        geometry, model_input = letterbox(frame, self.input_hw)
        image = self._tensor(model_input)
        t1 = time.perf_counter()
        close, anomaly, open_labels, _ = self.runner(
            image, self._tensor(novel.prototypes), self._tensor(novel.thresholds),
            self._tensor(novel.valid), self._tensor(params))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        maps = maps_to_output([m[0].cpu().numpy() for m in (close, anomaly, open_labels)], geometry,
                              self.output_resolution)
        t3 = time.perf_counter()
        return FrameResult(*maps, timings_ms={"preprocess": 1e3 * (t1 - t0), "inference": 1e3 * (t2 - t1),
                                              "copy_out": 1e3 * (t3 - t2)})

    @torch.inference_mode()
    def embed(self, frame: np.ndarray) -> np.ndarray:
        geometry, model_input = letterbox(frame, self.input_hw)
        embedding = self.pipeline.model(self.pipeline.normalizer(self._tensor(model_input)))
        return embedding_to_frame(embedding, geometry)

    def describe(self) -> dict:
        return {"backend": self.name, "device": str(self.device), "input_hw": list(self.input_hw),
                "output_resolution": self.output_resolution, "torch_compile": self.compiled,
                "torch": torch.__version__}
