"""Camera messages -> RGB frames the backend accepts, refusing bad input with a reason.

Accepted: sensor_msgs/Image in rgb8, bgr8, rgba8, bgra8 or mono8 (8UC1 read as mono8), and
sensor_msgs/CompressedImage holding JPEG or PNG. :func:`message_header_size` checks everything
that needs no decoding (encoding, size against ``max_pixels``, step, data length; for
compressed images the file header), and the engine calls it before a frame enters its ring
buffer, so a giant, malformed or unsupported frame is refused at once and never held.
"""

from __future__ import annotations

import io

import numpy as np
from sensor_msgs.msg import CompressedImage, Image

from owss_ros.ros.image_conversion import compressed_image_to_rgb, image_to_rgb, pixel_layout
from owss_ros.runtime.frames import Frame, FrameRejectedError

INPUT_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8uc1")


def _check_size(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise FrameRejectedError(f"zero-sized image {width}x{height}")
    if width * height > max_pixels:
        raise FrameRejectedError(
            f"image {width}x{height} has {width * height} pixels, more than max_image_pixels "
            f"{max_pixels}")


def compressed_image_size(data) -> tuple[int, int]:
    """(width, height) from a JPEG / PNG header, without decoding the pixels."""
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(io.BytesIO(bytes(data))) as picture:
            return picture.size
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise FrameRejectedError(f"cannot read the compressed image header: {error}") from error


def message_header_size(message, max_pixels: int) -> tuple[int, int]:
    """(height, width) of an Image / CompressedImage after every check that needs no decoding,
    or FrameRejectedError with the reason."""
    if isinstance(message, CompressedImage):
        if len(message.data) == 0:
            raise FrameRejectedError("empty CompressedImage")
        width, height = compressed_image_size(message.data)
        _check_size(width, height, max_pixels)
        return height, width
    if not isinstance(message, Image):
        raise FrameRejectedError(f"not an image message: {type(message).__name__}")
    if message.encoding.lower() not in INPUT_ENCODINGS:
        raise FrameRejectedError(
            f"unsupported image encoding {message.encoding!r}; the node accepts "
            "rgb8, bgr8, rgba8, bgra8, mono8")
    width, height, step = int(message.width), int(message.height), int(message.step)
    _check_size(width, height, max_pixels)
    row_bytes = width * pixel_layout(message.encoding).bytes_per_pixel
    if step < row_bytes:
        raise FrameRejectedError(f"step {step} is smaller than one row of {width} {message.encoding} pixels "
                                 f"({row_bytes} bytes)")
    if len(message.data) != step * height:
        raise FrameRejectedError(f"data length {len(message.data)} does not match step * height = "
                                 f"{step} * {height} = {step * height}")
    return height, width


def frame_from_message(message, max_pixels: int) -> np.ndarray:
    """An (H, W, 3) uint8 RGB frame from an Image or CompressedImage, or FrameRejectedError."""
    message_header_size(message, max_pixels)
    try:
        if isinstance(message, CompressedImage):
            return compressed_image_to_rgb(message)
        return image_to_rgb(message)
    except ValueError as error:
        raise FrameRejectedError(str(error)) from error


def message_frame(message, max_pixels: int) -> Frame:
    """The engine's lazily decoded :class:`Frame` of a camera message (its header travels along)."""
    stamp = message.header.stamp
    return Frame(int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec),
                 lambda: frame_from_message(message, max_pixels), lambda: message_header_size(message, max_pixels),
                 message.header, len(message.data))
