"""The last N camera messages with their header stamps, for teaching a class by frame stamp.

AddClass may name frames by ``frame_stamps`` instead of sending them: the node looks them up
here. A stamp matches a buffered frame exactly, or the nearest one within a tolerance; the
stamp {sec: 0, nanosec: 0} means the newest buffered frame. Messages are stored as received
(no copy, no decoding): a lookup is rare, a frame arrives at camera rate.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

NEWEST_FRAME_STAMP_NS = 0  # {sec: 0, nanosec: 0} in AddClass.frame_stamps


def stamp_to_ns(stamp) -> int:
    """builtin_interfaces/Time -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def format_stamp_ns(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


class FrameNotBufferedError(LookupError):
    """No buffered frame matches a requested stamp; the message says what is buffered."""


class FrameRingBuffer:
    """Thread-safe ring of ``(stamp_ns, message)``; ``capacity`` 0 keeps nothing."""

    def __init__(self, capacity: int):
        if capacity < 0:
            raise ValueError(f"ring buffer capacity must be >= 0, got {capacity}")
        self.capacity = capacity
        self._frames: collections.deque[tuple[int, Any]] = collections.deque(maxlen=max(capacity, 1))
        self._lock = threading.Lock()

    def append(self, message) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._frames.append((stamp_to_ns(message.header.stamp), message))

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def find(self, stamp_ns: int, tolerance_ns: int = 0):
        """The buffered message at ``stamp_ns`` (0 = newest), or nearest within the tolerance."""
        with self._lock:
            frames = list(self._frames)
        if not frames:
            raise FrameNotBufferedError(
                "no camera frame is buffered yet" if self.capacity else
                "the frame ring buffer is disabled (ring_buffer_size 0): send images instead")
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
