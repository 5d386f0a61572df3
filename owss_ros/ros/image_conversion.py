"""sensor_msgs/Image and sensor_msgs/CompressedImage <-> numpy (replaces cv_bridge).

cv_bridge is not on PyPI, and the node needs only a few encodings:

* inputs: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``, ``mono8`` (``8UC1`` is read like mono8)
  and ``32FC1``; JPEG / PNG CompressedImage;
* outputs: ``mono8`` (label maps, masks), ``32FC1`` (distance / score maps), ``rgb8`` and the
  other colour encodings (colourised overlays), and PNG CompressedImage.

Decoding honours ``step`` (row padding) and ``is_bigendian`` and returns views of the
message buffer (``numpy.frombuffer``) whenever the result can be one: rgb8, rgba8 (alpha
dropped by slicing), mono8 and native-endian 32FC1. Such a view shares memory with
``msg.data``; pass ``copy=True`` for an independent, C-contiguous array. bgr8 / bgra8 to RGB
and mono8 to 3 channels always copy (a reversed-channel view has negative strides, which
torch.from_numpy refuses).

Every malformed message raises ValueError with the reason: unsupported encoding, zero
width or height, ``step`` smaller than a row, ``data`` length other than ``step * height``,
an array of the wrong shape or dtype for the requested encoding.
"""

from __future__ import annotations

import array
import io
import sys
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header


@dataclass(frozen=True)
class PixelLayout:
    """How one encoding lays out a pixel: channel count, channel dtype, RGB channel order."""

    channels: int
    dtype: np.dtype
    rgb_order: tuple[int, ...] | None  # indices of R, G, B; None for single-channel encodings

    @property
    def bytes_per_pixel(self) -> int:
        return self.channels * self.dtype.itemsize


_U8 = np.dtype(np.uint8)
_F32 = np.dtype(np.float32)

# Keys are lower-case; lookups lower-case the message's encoding ("32FC1" -> "32fc1").
PIXEL_LAYOUTS: dict[str, PixelLayout] = {
    "rgb8": PixelLayout(3, _U8, (0, 1, 2)),
    "bgr8": PixelLayout(3, _U8, (2, 1, 0)),
    "rgba8": PixelLayout(4, _U8, (0, 1, 2)),
    "bgra8": PixelLayout(4, _U8, (2, 1, 0)),
    "mono8": PixelLayout(1, _U8, None),
    "8uc1": PixelLayout(1, _U8, None),
    "32fc1": PixelLayout(1, _F32, None),
}
COLOR_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8")
SUPPORTED_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC1", "32FC1")


def pixel_layout(encoding: str) -> PixelLayout:
    layout = PIXEL_LAYOUTS.get(encoding.lower())
    if layout is None:
        raise ValueError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    return layout


# --------------------------------------------------------------------------- Image -> numpy


def _byte_view(data) -> np.ndarray:
    """The message's data as a 1-D uint8 array, without copying when it is a buffer."""
    try:
        return np.frombuffer(data, dtype=np.uint8)
    except TypeError:  # a plain list of ints, e.g. a message built by hand
        return np.asarray(data, dtype=np.uint8)


def image_to_array(msg: Image, *, copy: bool = False) -> np.ndarray:
    """The pixels of ``msg`` in the message's own channel order.

    Returns HxW for mono8 / 8UC1 (uint8) and 32FC1 (native-endian float32), HxWxC uint8 for
    the colour encodings (channels as in the encoding, e.g. B, G, R for bgr8).
    """
    layout = pixel_layout(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height == 0 or width == 0:
        raise ValueError(f"zero-sized image: {width}x{height}")
    row_bytes = width * layout.bytes_per_pixel
    if step < row_bytes:
        raise ValueError(
            f"step {step} is smaller than one row of {width} {msg.encoding} pixels"
            f" ({row_bytes} bytes)"
        )
    data = _byte_view(msg.data)
    if data.size != step * height:
        raise ValueError(
            f"data length {data.size} does not match step * height"
            f" = {step} * {height} = {step * height}"
        )
    rows = data.reshape(height, step)[:, :row_bytes]  # drops row padding, still a view
    if layout.dtype == _U8:
        pixels = rows if layout.channels == 1 else rows.reshape(height, width, layout.channels)
    else:
        stored = layout.dtype.newbyteorder(">" if msg.is_bigendian else "<")
        pixels = rows.view(stored)  # last axis is contiguous, so this stays a view
        if not stored.isnative:
            pixels = pixels.astype(layout.dtype)  # byte swap: necessarily a copy
            copy = False
    return pixels.copy() if copy else pixels


def image_to_rgb(msg: Image, *, mono_as_rgb: bool = True, copy: bool = False) -> np.ndarray:
    """A colour or mono8 image as RGB uint8.

    Colour encodings give HxWx3 in R, G, B order (alpha dropped). mono8 / 8UC1 gives HxWx3
    with the grey value in every channel, or HxW when ``mono_as_rgb`` is False.
    """
    layout = pixel_layout(msg.encoding)
    if layout.dtype != _U8:
        raise ValueError(f"image_to_rgb needs an 8-bit colour or mono8 image, got {msg.encoding!r}")
    pixels = image_to_array(msg)
    if layout.rgb_order is None:
        if not mono_as_rgb:
            return pixels.copy() if copy else pixels
        return np.repeat(pixels[:, :, np.newaxis], 3, axis=2)
    if layout.rgb_order == (0, 1, 2):
        rgb = pixels[:, :, :3]  # rgb8: the view itself; rgba8: alpha sliced off
        return rgb.copy() if copy else rgb
    return np.ascontiguousarray(pixels[:, :, list(layout.rgb_order)])


def image_to_mono8(msg: Image, *, copy: bool = False) -> np.ndarray:
    """A mono8 / 8UC1 image (e.g. an operator mask) as HxW uint8; other encodings raise."""
    if msg.encoding.lower() not in ("mono8", "8uc1"):
        raise ValueError(f"expected a mono8 image, got {msg.encoding!r}")
    return image_to_array(msg, copy=copy)


def image_to_float32(msg: Image, *, copy: bool = False) -> np.ndarray:
    """A 32FC1 image as HxW native-endian float32; other encodings raise."""
    if msg.encoding.lower() != "32fc1":
        raise ValueError(f"expected a 32FC1 image, got {msg.encoding!r}")
    return image_to_array(msg, copy=copy)


# --------------------------------------------------------------------------- numpy -> Image


def _bytes_for_message(pixels: np.ndarray) -> array.array:
    """One copy of the pixels into the array.array('B') that message fields store.

    Assigning bytes or a list instead makes the generated setter check every element in
    Python, which takes seconds for a camera frame.
    """
    out = array.array("B")
    out.frombytes(memoryview(np.ascontiguousarray(pixels)).cast("B"))
    return out


def _copy_header(header: Header | None) -> Header:
    if header is None:
        return Header()
    return Header(stamp=header.stamp, frame_id=header.frame_id)


def array_to_image(pixels: np.ndarray, encoding: str, *, header: Header | None = None) -> Image:
    """An Image of ``pixels`` already in ``encoding``'s layout (HxW or HxWxC), tightly packed.

    32FC1 is written in this machine's byte order (``is_bigendian`` says which).
    """
    layout = pixel_layout(encoding)
    pixels = np.asarray(pixels)
    if layout.channels == 1 and pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    expected_ndim = 2 if layout.channels == 1 else 3
    if pixels.ndim != expected_ndim or (expected_ndim == 3 and pixels.shape[2] != layout.channels):
        want = "HxW" if layout.channels == 1 else f"HxWx{layout.channels}"
        raise ValueError(f"{encoding} needs a {want} array, got shape {pixels.shape}")
    if pixels.dtype != layout.dtype:
        if layout.dtype == _F32 and np.issubdtype(pixels.dtype, np.floating):
            pixels = pixels.astype(np.float32)
        else:
            raise ValueError(f"{encoding} needs dtype {layout.dtype}, got {pixels.dtype}")
    height, width = pixels.shape[:2]
    if height == 0 or width == 0:
        raise ValueError(f"zero-sized image: {width}x{height}")
    pixels = pixels.astype(pixels.dtype.newbyteorder("="), copy=False)
    msg = Image()
    msg.header = _copy_header(header)
    msg.height, msg.width = int(height), int(width)
    msg.encoding = encoding
    msg.is_bigendian = int(layout.dtype.itemsize > 1 and sys.byteorder == "big")
    msg.step = int(width * layout.bytes_per_pixel)
    msg.data = _bytes_for_message(pixels)
    return msg


def rgb_to_image(rgb: np.ndarray, encoding: str = "rgb8", *, header: Header | None = None) -> Image:
    """An HxWx3 RGB uint8 array as an Image in any colour encoding (alpha = 255)."""
    if encoding.lower() not in COLOR_ENCODINGS:
        raise ValueError(f"rgb_to_image writes {', '.join(COLOR_ENCODINGS)}, not {encoding!r}")
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != _U8:
        raise ValueError(f"expected an HxWx3 uint8 RGB array, got {rgb.shape} {rgb.dtype}")
    layout = pixel_layout(encoding)
    pixels = np.empty(rgb.shape[:2] + (layout.channels,), dtype=np.uint8)
    pixels[:, :, list(layout.rgb_order)] = rgb
    if layout.channels == 4:
        pixels[:, :, 3] = 255
    return array_to_image(pixels, encoding.lower(), header=header)


def mono8_to_image(pixels: np.ndarray, *, header: Header | None = None) -> Image:
    """An HxW uint8 array (label map, mask) as a mono8 Image."""
    return array_to_image(pixels, "mono8", header=header)


def float32_to_image(pixels: np.ndarray, *, header: Header | None = None) -> Image:
    """An HxW float array (distance or score map) as a 32FC1 Image."""
    return array_to_image(pixels, "32FC1", header=header)


# --------------------------------------------------------------------- CompressedImage (PIL)

_DECODABLE_FORMATS = ("JPEG", "PNG")


def decode_image_bytes(data, *, mono_as_rgb: bool = True) -> np.ndarray:
    """JPEG or PNG bytes as RGB uint8 (HxWx3); greyscale pictures give HxW if not mono_as_rgb."""
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        picture = PILImage.open(io.BytesIO(bytes(data)))
        picture.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"cannot decode image data ({len(data)} bytes): {error}") from error
    if picture.format not in _DECODABLE_FORMATS:
        raise ValueError(f"unsupported compressed format {picture.format!r}; supported: JPEG, PNG")
    if picture.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        raise ValueError(f"only 8-bit images are supported, got PIL mode {picture.mode!r}")
    if picture.mode in ("L", "1") and not mono_as_rgb:
        return np.asarray(picture.convert("L"))
    return np.asarray(picture.convert("RGB"))


def compressed_image_to_rgb(msg: CompressedImage, *, mono_as_rgb: bool = True) -> np.ndarray:
    """A JPEG / PNG CompressedImage as RGB uint8 (see :func:`decode_image_bytes`).

    The content is identified from the bytes; ``format`` (e.g. "rgb8; jpeg compressed bgr8"
    from image_transport) is informational only, since JPEG and PNG always decode to RGB.
    """
    if len(msg.data) == 0:
        raise ValueError("empty CompressedImage")
    return decode_image_bytes(_byte_view(msg.data), mono_as_rgb=mono_as_rgb)


def array_to_compressed_png(
    pixels: np.ndarray, *, header: Header | None = None, compress_level: int = 1
) -> CompressedImage:
    """An HxW uint8 (mono8) or HxWx3 uint8 RGB array as a PNG CompressedImage.

    ``format`` follows compressed_image_transport ("mono8; png compressed mono8",
    "rgb8; png compressed bgr8"), so its subscribers decode it.
    """
    from PIL import Image as PILImage

    pixels = np.asarray(pixels)
    if pixels.dtype != _U8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise ValueError(
            f"PNG encoding needs HxW or HxWx3 uint8, got {pixels.shape} {pixels.dtype}"
        )
    if pixels.shape[0] == 0 or pixels.shape[1] == 0:
        raise ValueError(f"zero-sized image: {pixels.shape[1]}x{pixels.shape[0]}")
    buffer = io.BytesIO()
    picture = PILImage.fromarray(np.ascontiguousarray(pixels))
    picture.save(buffer, format="PNG", compress_level=compress_level)
    msg = CompressedImage()
    msg.header = _copy_header(header)
    msg.format = "mono8; png compressed mono8" if pixels.ndim == 2 else "rgb8; png compressed bgr8"
    msg.data = _bytes_for_message(np.frombuffer(buffer.getbuffer(), dtype=np.uint8))
    return msg
