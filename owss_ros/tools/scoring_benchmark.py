"""Graph variants of the per-frame computation, measured side by side on the sample drive.

Every variant is exported to ONNX the way the node's graph is and run in onnxruntime on one
thread, interleaved (frame i on every variant, then frame i+1), so a shared machine's drifts hit
all alike and the ratios are fair:

  reference     the paper's literal forms (19-channel distances, softmax, Eq. 12 on K-channel
                distances) at input resolution, fed all ``slots`` novel slots - the previous graph;
  input K=...   the core's closed forms (:class:`~owss_ros.core.scoring.OneHotStatistics`),
                at input resolution, with all slots or only the used ones (dynamic K);
  half_scores   labels at input resolution, anomaly and taught classes formed at 1/2 and resized
                in the graph (the split of :func:`~owss_ros.core.open_set.open_world_maps`);
  half, quarter, feature   the closed forms scored at 1/2, 1/4, 1/8 resolution, maps resized after;
  network       the embedding alone (what teaching runs).

Agreement is the fraction of open-set pixels equal to the reference's (and the mean absolute
anomaly difference), over the drive's frames with the model's calibrated scoring and one class
taught from the drive's operator mask. The floor is this machine's measured single-thread fp32
GFLOP/s against the network's multiply-accumulates.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import Tensor, nn

from owss_ros.backends.base import FrameGeometry, maps_to_output
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.onnx_export import OPSET
from owss_ros.backends.onnx_metadata import SCORE_RESOLUTIONS
from owss_ros.backends.pipeline import INPUT_NAMES, OUTPUT_NAMES, EmbeddingNetwork, FramePipeline
from owss_ros.backends.score_params import pack_score_params, unpack_score_params
from owss_ros.core.dmlnet import DMLNet
from owss_ros.core.model import ImageNormalizer
from owss_ros.core.open_set import ScoringConfig, reference_open_world_maps

MAP_INPUTS = INPUT_NAMES
MAP_OUTPUTS = OUTPUT_NAMES[:3]


class ReferencePipeline(nn.Module):
    """The previous graph: network, upsampling of the embedding, then the literal distance forms."""

    def __init__(self, model: DMLNet):
        super().__init__()
        self.normalizer = ImageNormalizer("NHWC", "RGB")
        self.model = model.eval()

    def forward(self, image: Tensor, novel_prototypes: Tensor, novel_thresholds: Tensor, novel_valid: Tensor,
                params: Tensor):
        p = unpack_score_params(params)
        maps = reference_open_world_maps(self.model(self.normalizer(image)), self.model.temperature, p.norm_weights,
                                         (p.eds_low, p.eds_high), p.beta, p.gamma, p.mode_weights, p.lambda_out,
                                         novel_prototypes, novel_thresholds, novel_valid, tuple(image.shape[1:3]))
        return maps.close_labels.to(torch.uint8), maps.anomaly, maps.open_labels.to(torch.uint8)


@dataclass(frozen=True)
class Variant:
    name: str
    session: ort.InferenceSession
    slots: int | None  # novel slots fed; None = the used ones (dynamic K); 0 = network only


@dataclass
class VariantResult:
    name: str
    median_ms: float
    p90_ms: float
    agreement: float | None  # open-set pixels equal to the reference's
    anomaly_mae: float | None


def export_session(module: nn.Module, example: tuple, input_names, output_names) -> ort.InferenceSession:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=list(input_names), output_names=list(output_names), do_constant_folding=True,
                          dynamic_axes={n: {0: "prototypes"} for n in input_names if n.startswith("novel_")})
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])


def build_variants(model: DMLNet, hw: tuple[int, int], slots: int) -> list[Variant]:
    c = model.num_classes
    example = (torch.zeros(1, *hw, 3, dtype=torch.uint8), torch.zeros(2, c), torch.ones(2), torch.zeros(2),
               pack_score_params(ScoringConfig(), c))
    variants = [Variant("reference", export_session(ReferencePipeline(model), example, MAP_INPUTS, MAP_OUTPUTS),
                        slots)]
    for resolution in SCORE_RESOLUTIONS:
        session = export_session(_MapsOnly(FramePipeline(model, resolution)), example, MAP_INPUTS, MAP_OUTPUTS)
        if resolution == "input":
            variants.append(Variant(f"input K={slots}", session, slots))
        variants.append(Variant(f"{resolution} K=used", session, None))
    variants.append(Variant("network", export_session(EmbeddingNetwork(model), example[:1], ["image"],
                                                      ["embedding"]), 0))
    return variants


class _MapsOnly(nn.Module):
    def __init__(self, pipeline: FramePipeline):
        super().__init__()
        self.pipeline = pipeline

    def forward(self, *inputs):
        return self.pipeline(*inputs)[:3]


def padded_inputs(inputs: GraphInputs, slots: int) -> GraphInputs:
    """``inputs`` with unused slots appended up to ``slots`` (what the node fed before dynamic K)."""
    k, c = inputs.novel_prototypes.shape
    extra = max(0, slots - k)
    return GraphInputs(np.concatenate([inputs.novel_prototypes, np.zeros((extra, c), np.float32)]),
                       np.concatenate([inputs.novel_thresholds, np.full(extra, inputs.novel_thresholds[0],
                                                                        np.float32)]),
                       np.concatenate([inputs.novel_valid, np.zeros(extra, np.float32)]), inputs.score_vector)


def run_variants(variants: list[Variant], frames: list[np.ndarray], inputs: GraphInputs, hw: tuple[int, int],
                 repeats: int, warmup: int = 2) -> list[VariantResult]:
    """Interleaved timing, then agreement of every map variant with the reference."""
    feeds = {v.name: ({"image": None} if v.slots == 0 else
                      {"image": None, **(padded_inputs(inputs, v.slots) if v.slots else inputs).feed()})
             for v in variants}
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    outputs: dict[str, list] = {v.name: [] for v in variants}
    for r in range(warmup + repeats):
        for i, frame in enumerate(frames):
            for v in variants:
                feed = dict(feeds[v.name], image=frame[None])
                start = time.perf_counter()
                result = v.session.run(None, feed)
                elapsed = 1e3 * (time.perf_counter() - start)
                if r >= warmup:
                    times[v.name].append(elapsed)
                if r == warmup and v.slots != 0:
                    geometry = FrameGeometry.fit(hw, hw)
                    outputs[v.name].append(maps_to_output([m[0] for m in result], geometry, "model"))
    reference = outputs["reference"]
    results = []
    for v in variants:
        agreement = mae = None
        if v.slots != 0:
            agreement = float(np.mean([(o[2] == ref[2]).mean() for o, ref in zip(outputs[v.name], reference)]))
            mae = float(np.mean([np.abs(o[1] - ref[1]).mean() for o, ref in zip(outputs[v.name], reference)]))
        values = np.asarray(times[v.name])
        results.append(VariantResult(v.name, float(np.median(values)), float(np.percentile(values, 90)), agreement,
                                     mae))
    return results


def network_macs(model: DMLNet, hw: tuple[int, int]) -> int:
    """Multiply-accumulates of the network on one (1, 3, H, W) input (Conv2d and Linear layers)."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            total += int(output.numel()) * per_output
        elif isinstance(module, nn.Linear):
            total += int(output.numel()) * module.in_features

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.inference_mode():
        model(torch.zeros(1, 3, *hw))
    for h in hooks:
        h.remove()
    return total


def measured_gflops(size: int = 1024, repeats: int = 10) -> float:
    """Single-thread fp32 matrix-multiply throughput of this machine (GFLOP/s, best of ``repeats``)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 2 * size**3 / best / 1e9


def format_results(results: list[VariantResult]) -> str:
    reference = next(r for r in results if r.name == "reference")
    lines = [f"{'variant':<18} {'median ms':>10} {'p90 ms':>8} {'x reference':>12} {'open-set agree':>15} "
             f"{'anomaly MAE':>12}"]
    for r in results:
        agree = "-" if r.agreement is None else f"{100 * r.agreement:.3f}%"
        mae = "-" if r.anomaly_mae is None else f"{r.anomaly_mae:.2e}"
        lines.append(f"{r.name:<18} {r.median_ms:>10.2f} {r.p90_ms:>8.2f} {r.median_ms / reference.median_ms:>12.3f} "
                     f"{agree:>15} {mae:>12}")
    return "\n".join(lines)


def fastest_agreeing(results: list[VariantResult], minimum: float = 0.99) -> VariantResult:
    """The fastest map variant whose open-set agreement with the reference is >= ``minimum``."""
    candidates = [r for r in results if r.agreement is not None and r.agreement >= minimum and r.name != "reference"]
    return min(candidates, key=lambda r: r.median_ms)


def load_frames(paths: list[Path]) -> list[np.ndarray]:
    from PIL import Image  # noqa: PLC0415
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]

