"""Side-by-side latency of inference backends on the same frames.

Backends are run interleaved (frame i on every backend, then frame i+1), so slow drifts of a
shared machine (other processes, clocks) hit all of them alike and their ratio is fair.
Each backend reports per-stage times in ``FrameResult.timings_ms``:
  preprocess  letterbox + input preparation (host side),
  inference   graph execution including scoring (and host<->device upload for GPUs),
  copy_out    fetching the three maps and cropping / resizing them;
warm-up frames are run first and excluded.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np

from owss_ros.backends.base import InferenceBackend
from owss_ros.backends.graph_inputs import GraphInputs

STAGES = ("preprocess", "inference", "copy_out", "total")


@dataclass(frozen=True)
class StageStats:
    median_ms: float
    p99_ms: float


@dataclass(frozen=True)
class BackendTiming:
    backend: str
    input_hw: tuple[int, int]
    frames: int
    stages: dict[str, StageStats]
    fps: float  # frames / summed total time (sequential throughput)
    details: dict


def stage_stats(values_ms: list[float]) -> StageStats:
    values = np.asarray(values_ms, dtype=np.float64)
    return StageStats(float(np.median(values)), float(np.percentile(values, 99)))


def synthetic_frames(hw: tuple[int, int], count: int = 4, seed: int = 0) -> list[np.ndarray]:
    """A few smooth random RGB frames (a camera stand-in; the cost does not depend on content)."""
    rng = np.random.default_rng(seed)
    h, w = hw
    coarse = rng.integers(0, 256, (count, -(-h // 16), -(-w // 16), 3), dtype=np.uint8)
    return [np.ascontiguousarray(np.kron(c, np.ones((16, 16, 1), np.uint8))[:h, :w]) for c in coarse]


def time_backends(backends: dict[str, InferenceBackend], frames: list[np.ndarray], inputs: GraphInputs,
                  measured: int, warmup: int) -> dict[str, BackendTiming]:
    """Run every backend on the same frames, interleaved; stats over the ``measured`` frames."""
    samples: dict[str, dict[str, list[float]]] = {n: {s: [] for s in STAGES} for n in backends}
    for i in range(warmup + measured):
        frame = frames[i % len(frames)]
        for name, backend in backends.items():
            start = time.perf_counter()
            result = backend.infer(frame, inputs)
            total = 1e3 * (time.perf_counter() - start)
            if i < warmup:
                continue
            for stage in STAGES[:3]:
                samples[name][stage].append(result.timings_ms.get(stage, float("nan")))
            samples[name]["total"].append(total)
    timings = {}
    for name, backend in backends.items():
        stats = {s: stage_stats(v) for s, v in samples[name].items()}
        fps = 1e3 * measured / float(np.sum(samples[name]["total"]))
        description = backend.describe()
        timings[name] = BackendTiming(name, tuple(description.get("input_hw", frames[0].shape[:2])), measured,
                                      stats, fps, description)
    return timings


def format_table(rows: list[BackendTiming], skipped: dict[str, str], ratios: dict[str, dict[str, float]]) -> str:
    header = (f"{'backend':<12} {'size':>9} | " + " | ".join(f"{s + ' med/p99 ms':>22}" for s in STAGES)
              + f" | {'fps':>6}")
    lines = [header, "-" * len(header)]
    for r in rows:
        cells = " | ".join(f"{r.stages[s].median_ms:>10.2f} /{r.stages[s].p99_ms:>9.2f}" for s in STAGES)
        lines.append(f"{r.backend:<12} {r.input_hw[0]:>4}x{r.input_hw[1]:<4} | {cells} | {r.fps:>6.1f}")
    for size, ratio in ratios.items():
        lines.append(f"onnxruntime/torch at {size}: total {ratio['total']:.2f}x, inference {ratio['inference']:.2f}x "
                     "(median latency ratio; < 1 means onnxruntime is faster)")
    for name, reason in skipped.items():
        lines.append(f"skipped {name}: {reason}")
    return "\n".join(lines)


def timing_to_json(timing: BackendTiming) -> dict:
    data = asdict(timing)
    data["input_hw"] = list(timing.input_hw)
    return data
