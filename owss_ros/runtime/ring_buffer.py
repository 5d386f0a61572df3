"""Recent camera frames with their stamps, for teaching a class by frame stamp.

A teaching request may name frames by stamp instead of sending them: the engine looks them up
here. A stamp matches a buffered frame exactly, or the nearest one within a tolerance; stamp 0
(ROS: {sec: 0, nanosec: 0}) means the newest buffered frame. Frames are stored as received (no
copy, no decoding - :class:`owss_ros.runtime.frames.Frame` decodes lazily): a lookup is rare, a
frame arrives at camera rate.

The ring is bounded three ways: it keeps the frames that arrived in the last ``max_age_s``
seconds (an operator needs seconds to read a stamp and call a service, whatever the camera
rate), at most ``max_frames`` of them, and at most ``max_bytes`` of message data (a 1080p rgb8
frame is 6 MB). A frame can also be *pinned* (:meth:`pin_newest`): it then survives eviction
until it is released after teaching, ``pin_timeout_s`` passes, or ``max_pinned`` newer pins
push it out.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

NEWEST_FRAME_STAMP_NS = 0  # {sec: 0, nanosec: 0} in AddClass.frame_stamps
DEFAULT_MAX_BYTES = 256 * 1024 * 1024


def format_stamp_ns(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


class FrameNotBufferedError(LookupError):
    """No buffered frame matches a requested stamp; the message says what is buffered."""


@dataclass(frozen=True)
class _Held:
    stamp_ns: int
    frame: Any
    nbytes: int
    at: float  # clock() when it arrived (ring) or was pinned (pins)


class FrameRingBuffer:
    """Thread-safe ring of ``(stamp_ns, frame)`` plus pinned frames; ``max_frames`` 0 or
    ``max_age_s`` 0 keeps nothing."""

    def __init__(self, max_frames: int, max_bytes: int = DEFAULT_MAX_BYTES, max_age_s: float = float("inf"),
                 max_pinned: int = 8, pin_timeout_s: float = 300.0, clock: Callable[[], float] = time.monotonic):
        if max_frames < 0 or max_bytes < 0 or max_age_s < 0 or max_pinned < 0 or pin_timeout_s < 0:
            raise ValueError("ring buffer limits must be >= 0, got "
                             f"{max_frames} frames, {max_bytes} bytes, {max_age_s} s, {max_pinned} pins, "
                             f"{pin_timeout_s} s pin timeout")
        self.max_frames, self.max_bytes, self.max_age_s = max_frames, max_bytes, max_age_s
        self.max_pinned, self.pin_timeout_s = max_pinned, pin_timeout_s
        self._clock = clock
        self._frames: collections.deque[_Held] = collections.deque()
        self._bytes = 0
        self._pins: collections.OrderedDict[int, _Held] = collections.OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_frames > 0 and self.max_age_s > 0 and self.max_bytes > 0

    def append(self, stamp_ns: int, frame: Any, nbytes: int = 0) -> bool:
        """Buffer a frame; False when it is not kept (ring disabled, or the frame alone exceeds max_bytes)."""
        if not self.enabled or nbytes > self.max_bytes:
            return False
        now = self._clock()
        with self._lock:
            self._frames.append(_Held(int(stamp_ns), frame, int(nbytes), now))
            self._bytes += int(nbytes)
            self._evict(now)
        return True

    def _evict(self, now: float) -> None:
        frames = self._frames
        while frames and (len(frames) > self.max_frames or self._bytes > self.max_bytes
                          or now - frames[0].at > self.max_age_s):
            self._bytes -= frames.popleft().nbytes
        for stamp in [s for s, held in self._pins.items() if now - held.at > self.pin_timeout_s]:
            del self._pins[stamp]

    def __len__(self) -> int:
        with self._lock:
            self._evict(self._clock())
            return len(self._frames)

    @property
    def nbytes(self) -> int:
        """Bytes of message data held by the ring (pins not counted)."""
        with self._lock:
            return self._bytes

    def pinned_stamps(self) -> list[int]:
        with self._lock:
            self._evict(self._clock())
            return list(self._pins)

    def pin_newest(self) -> tuple[int, Any]:
        """Pin the newest buffered frame and return ``(stamp_ns, frame)``; FrameNotBufferedError when
        there is none. Pinning more than ``max_pinned`` frames releases the oldest pin."""
        if self.max_pinned == 0:
            raise FrameNotBufferedError("pinning frames is disabled (pinned_frames 0)")
        now = self._clock()
        with self._lock:
            self._evict(now)
            if not self._frames:
                raise FrameNotBufferedError(self._empty_reason())
            newest = self._frames[-1]
            self._pins.pop(newest.stamp_ns, None)
            self._pins[newest.stamp_ns] = _Held(newest.stamp_ns, newest.frame, newest.nbytes, now)
            while len(self._pins) > self.max_pinned:
                self._pins.popitem(last=False)
            return newest.stamp_ns, newest.frame

    def release(self, stamps_ns) -> None:
        """Unpin frames (after they were taught from); unknown stamps are ignored."""
        with self._lock:
            for stamp in stamps_ns:
                self._pins.pop(int(stamp), None)

    def _empty_reason(self) -> str:
        if not self.enabled:
            return ("the frame ring buffer is disabled (ring_buffer_size, ring_buffer_seconds or "
                    "ring_buffer_max_bytes is 0): send the frames instead")
        return "no camera frame is buffered yet"

    def find(self, stamp_ns: int, tolerance_ns: int = 0):
        """The pinned or buffered frame at ``stamp_ns`` (0 = the newest buffered), or the nearest
        within the tolerance."""
        with self._lock:
            self._evict(self._clock())
            held = list(self._frames) + list(self._pins.values())
            newest = self._frames[-1].frame if self._frames else None
        if stamp_ns == NEWEST_FRAME_STAMP_NS:
            if newest is None:
                raise FrameNotBufferedError(self._empty_reason())
            return newest
        if not held:
            raise FrameNotBufferedError(self._empty_reason())
        best = min(held, key=lambda item: abs(item.stamp_ns - stamp_ns))
        if abs(best.stamp_ns - stamp_ns) <= tolerance_ns:
            return best.frame
        stamps = [item.stamp_ns for item in held]
        raise FrameNotBufferedError(
            f"no buffered frame at stamp {format_stamp_ns(stamp_ns)} (tolerance "
            f"{tolerance_ns / 1e9:g} s); the buffer holds {len(stamps)} frames from "
            f"{format_stamp_ns(min(stamps))} to {format_stamp_ns(max(stamps))}, nearest "
            f"{format_stamp_ns(best.stamp_ns)} (call snapshot_frame to pin a frame while you prepare its mask)")
