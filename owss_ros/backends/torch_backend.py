"""Eager PyTorch backend (CPU or CUDA): the reference for the others."""

from __future__ import annotations

import numpy as np
import torch

from owss_ros.backends.base import InferenceBackend, check_output_resolution
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.pipeline import FramePipeline


class TorchBackend(InferenceBackend):
    name = "torch"

    def __init__(self, pipeline: FramePipeline, input_hw: tuple[int, int], device: str = "cpu",
                 output_resolution: str = "model"):
        self.output_resolution = check_output_resolution(output_resolution)
        self.device = torch.device(device)
        self.pipeline = pipeline.to(self.device).eval()
        self.input_hw = tuple(input_hw)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.require(array, requirements=("C", "W"))).to(self.device)  # read-only: copied

    @torch.inference_mode()
    def _run_maps(self, model_input: np.ndarray, inputs: GraphInputs) -> list[np.ndarray]:
        feed = inputs.feed()
        close, anomaly, open_labels, _ = self.pipeline(
            self._tensor(model_input), self._tensor(feed["novel_prototypes"]), self._tensor(feed["novel_thresholds"]),
            self._tensor(feed["novel_valid"]), self._tensor(feed["score_params"]))
        return [m[0].cpu().numpy() for m in (close, anomaly, open_labels)]  # .cpu() synchronises CUDA

    @torch.inference_mode()
    def _run_embedding(self, model_input: np.ndarray) -> torch.Tensor:
        return self.pipeline.model(self.pipeline.normalizer(self._tensor(model_input)))

    def describe(self) -> dict:
        return {"backend": self.name, "device": str(self.device), "input_hw": list(self.input_hw),
                "output_resolution": self.output_resolution, "score_resolution": self.pipeline.score_resolution,
                "torch": torch.__version__}
