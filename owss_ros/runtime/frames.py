"""A camera frame as the engine sees it: a stamp, and pixels decoded only when needed.

The engine never knows where a frame came from (a ROS message, a file, a test): the caller
wraps it in a :class:`Frame` whose ``decode`` returns the (H, W, 3) uint8 RGB pixels (or raises
:class:`FrameRejectedError` with the reason) and whose ``size`` returns (H, W) from the header
alone (doing every check that needs no decoding: the engine calls it before a frame is buffered)
and ``nbytes`` is what holding it costs. Frames nobody needs are never decoded; a frame taught
from later is decoded then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


class FrameRejectedError(ValueError):
    """A frame cannot be used; the message says why."""


@dataclass(frozen=True)
class Frame:
    stamp_ns: int
    decode: Callable[[], np.ndarray]  # -> (H, W, 3) uint8 RGB, or FrameRejectedError
    size: Callable[[], tuple[int, int]]  # -> (H, W) without decoding, or FrameRejectedError
    source: Any = field(default=None, compare=False)  # handed back with the outputs (e.g. a header)
    nbytes: int = 0  # memory the frame holds while buffered (e.g. len(message.data))

    @classmethod
    def of_array(cls, pixels: np.ndarray, stamp_ns: int = 0, source: Any = None) -> "Frame":
        """A frame that is already decoded."""
        return cls(int(stamp_ns), lambda: pixels, lambda: tuple(pixels.shape[:2]), source, int(pixels.nbytes))
