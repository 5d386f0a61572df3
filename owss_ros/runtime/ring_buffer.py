"""The last N camera frames with their stamps, for teaching a class by frame stamp.

A teaching request may name frames by stamp instead of sending them: the engine looks them up
here. A stamp matches a buffered frame exactly, or the nearest one within a tolerance; stamp 0
(ROS: {sec: 0, nanosec: 0}) means the newest buffered frame. Frames are stored as received (no
copy, no decoding - :class:`owss_ros.runtime.frames.Frame` decodes lazily): a lookup is rare, a
frame arrives at camera rate.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

NEWEST_FRAME_STAMP_NS = 0  # {sec: 0, nanosec: 0} in AddClass.frame_stamps


def format_stamp_ns(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


class FrameNotBufferedError(LookupError):
    """No buffered frame matches a requested stamp; the message says what is buffered."""


class FrameRingBuffer:
    """Thread-safe ring of ``(stamp_ns, frame)``; ``capacity`` 0 keeps nothing."""

    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError(f"ring buffer capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._frames: collections.deque[tuple[int, Any]] = collections.deque(maxlen=max(capacity, 1))
        self._lock = threading.Lock()

    def append(self, stamp_ns: int, frame: Any) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._frames.append((int(stamp_ns), frame))

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def find(self, stamp_ns: int, tolerance_ns: int = 0):
        """The buffered frame at ``stamp_ns`` (0 = newest), or nearest within the tolerance."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            raise FrameNotBufferedError(
                "no camera frame is buffered yet" if self.capacity else
                "the frame ring buffer is disabled (ring_buffer_size 0): send the frames instead")
        if stamp_ns == NEWEST_FRAME_STAMP_NS:
            return frames[-1][1]
        best_ns, best = min(frames, key=lambda item: abs(item[0] - stamp_ns))
        if abs(best_ns - stamp_ns) <= tolerance_ns:
            return best
        stamps = [ns for ns, _ in frames]
        raise FrameNotBufferedError(
            f"no buffered frame at stamp {format_stamp_ns(stamp_ns)} (tolerance "
            f"{tolerance_ns / 1e9:g} s); the buffer holds {len(stamps)} frames from "
            f"{format_stamp_ns(min(stamps))} to {format_stamp_ns(max(stamps))}, nearest "
            f"{format_stamp_ns(best_ns)}")
