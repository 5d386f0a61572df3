"""An AddClass request -> the shots (frame + mask pairs) it names, or a TeachingError.

Masks come inline (``masks``, mono8 / 8UC1) or as PNG files inside the mask directory
(``mask_paths``); frames inline (``images``) or by header stamp from the node's ring buffer
(``frame_stamps``; {0, 0} = the newest frame). The i-th mask belongs to the i-th frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import Image

from owss_ros.ros.class_teaching import TeachingError, TeachingShot
from owss_ros.ros.frame_ring_buffer import FrameRingBuffer, stamp_to_ns
from owss_ros.ros.image_conversion import image_to_mono8
from owss_ros.ros.input_frames import FrameRejectedError, frame_from_message
from owss_ros.ros.mask_files import read_mask_png, resolve_mask_path


def request_lambda_novel(value: float) -> float | None:
    """The request's lambda_novel; None (follow the node's parameter) when it is <= 0."""
    if not math.isfinite(value):
        raise TeachingError(f"lambda_novel must be a finite number, got {value}")
    return None if value <= 0 else float(value)


@dataclass
class ShotReader:
    ring: FrameRingBuffer
    mask_directory: str
    max_pixels: int
    max_shots: int
    stamp_tolerance_ns: int

    def shots(self, request) -> list[TeachingShot]:
        if bool(request.masks) == bool(request.mask_paths):
            raise TeachingError("give the masks either inline (masks) or as files (mask_paths), not "
                                f"both or neither (got {len(request.masks)} masks, "
                                f"{len(request.mask_paths)} mask_paths)")
        if bool(request.images) == bool(request.frame_stamps):
            raise TeachingError("give the frames either inline (images) or by stamp (frame_stamps), not "
                                f"both or neither (got {len(request.images)} images, "
                                f"{len(request.frame_stamps)} frame_stamps)")
        mask_sources = list(request.masks) or list(request.mask_paths)
        frame_sources = list(request.images) or list(request.frame_stamps)
        if len(mask_sources) != len(frame_sources):
            raise TeachingError(f"{len(mask_sources)} masks for {len(frame_sources)} frames: the i-th mask "
                                "belongs to the i-th frame, so the counts must be equal")
        if len(mask_sources) > self.max_shots:
            raise TeachingError(f"{len(mask_sources)} shots; at most max_shots {self.max_shots}")
        return [self._shot(i, mask_source, frame_source)
                for i, (mask_source, frame_source) in enumerate(zip(mask_sources, frame_sources))]

    def _shot(self, i: int, mask_source, frame_source) -> TeachingShot:
        if isinstance(mask_source, str):
            label = f"shot {i} (mask_paths[{i}] {mask_source!r})"
            mask = read_mask_png(resolve_mask_path(self.mask_directory, mask_source), self.max_pixels)
        else:
            label = f"shot {i}"
            mask = self._inline_mask(mask_source, label)
        if isinstance(frame_source, Image):
            frame_message = frame_source
        else:
            frame_message = self.ring.find(stamp_to_ns(frame_source), self.stamp_tolerance_ns)
        try:
            frame = frame_from_message(frame_message, self.max_pixels)
        except FrameRejectedError as error:
            raise TeachingError(f"{label}: frame refused: {error}") from error
        return TeachingShot(frame, mask, label)

    def _inline_mask(self, message: Image, label: str) -> np.ndarray:
        if int(message.width) * int(message.height) > self.max_pixels:
            raise TeachingError(f"{label}: the mask is larger than max_image_pixels")
        try:
            return image_to_mono8(message)
        except ValueError as error:
            raise TeachingError(f"{label}: unusable mask: {error}") from error
