"""Per-stage latency over a rolling window of frames (p50 / p99), thread-safe."""

from __future__ import annotations

import collections
import threading

import numpy as np


class StageLatencies:
    """Milliseconds per named stage for the last ``window`` frames."""

    def __init__(self, window: int = 300):
        self._window = max(1, int(window))
        self._samples: dict[str, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def record(self, timings_ms: dict[str, float]) -> None:
        with self._lock:
            for stage, ms in timings_ms.items():
                samples = self._samples.get(stage)
                if samples is None:
                    samples = self._samples[stage] = collections.deque(maxlen=self._window)
                samples.append(float(ms))

    def percentiles(self) -> dict[str, tuple[float, float, int]]:
        """stage -> (p50, p99, sample count), in the order the stages were first seen."""
        with self._lock:
            snapshot = {stage: np.fromiter(s, dtype=np.float64) for stage, s in self._samples.items()}
        return {stage: (float(np.percentile(v, 50)), float(np.percentile(v, 99)), v.size)
                for stage, v in snapshot.items() if v.size}
