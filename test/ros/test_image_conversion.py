"""sensor_msgs/Image and CompressedImage <-> numpy conversions (owss_ros.ros.image_conversion)."""

from __future__ import annotations

import array
import io

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from PIL import Image as PILImage
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from owss_ros.ros import image_conversion as ic

RNG = np.random.default_rng(7)
HEIGHT, WIDTH = 5, 7
RGB = RNG.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.uint8)
MONO = RNG.integers(0, 256, size=(HEIGHT, WIDTH), dtype=np.uint8)
FLOATS = RNG.normal(size=(HEIGHT, WIDTH)).astype(np.float32)

# Channel order of each colour encoding, as indices into an RGB(A) pixel.
CHANNELS = {"rgb8": [0, 1, 2], "bgr8": [2, 1, 0], "rgba8": [0, 1, 2, 3], "bgra8": [2, 1, 0, 3]}


def padded_image(
    pixels: np.ndarray, encoding: str, padding: int, *, bigendian: bool = False
) -> Image:
    """An Image built by hand, byte by byte, with `padding` junk bytes after every row."""
    rows = pixels.reshape(pixels.shape[0], -1)
    if pixels.dtype == np.float32:
        stored = pixels.astype(">f4" if bigendian else "<f4")
        rows = stored.view(np.uint8).reshape(pixels.shape[0], -1)
    junk = np.full((rows.shape[0], padding), 0xAB, dtype=np.uint8)
    data = np.concatenate([rows, junk], axis=1)
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                is_bigendian=int(bigendian), step=data.shape[1])
    msg.data = array.array("B", data.tobytes())
    return msg


def rgba_of(rgb: np.ndarray) -> np.ndarray:
    alpha = np.full(rgb.shape[:2] + (1,), 200, dtype=np.uint8)
    return np.concatenate([rgb, alpha], axis=2)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
def test_colour_encodings_round_trip_through_rgb(encoding):
    header = Header(stamp=Time(sec=12, nanosec=34), frame_id="camera")
    msg = ic.rgb_to_image(RGB, encoding, header=header)
    assert (msg.encoding, msg.height, msg.width) == (encoding, HEIGHT, WIDTH)
    assert msg.step == WIDTH * len(CHANNELS[encoding])
    assert msg.header.stamp.sec == 12 and msg.header.frame_id == "camera"
    out = ic.image_to_rgb(msg)
    assert out.shape == (HEIGHT, WIDTH, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, RGB)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "rgba8", "bgra8"])
@pytest.mark.parametrize("padding", [0, 3, 16])
def test_colour_encodings_decode_with_row_padding(encoding, padding):
    pixels = rgba_of(RGB)[:, :, CHANNELS[encoding]]
    msg = padded_image(np.ascontiguousarray(pixels), encoding, padding)
    np.testing.assert_array_equal(ic.image_to_rgb(msg), RGB)
    np.testing.assert_array_equal(ic.image_to_array(msg), pixels)


@pytest.mark.parametrize("padding", [0, 1, 8])
def test_mono8_decodes_as_grey_or_rgb(padding):
    msg = padded_image(MONO, "mono8", padding)
    np.testing.assert_array_equal(ic.image_to_rgb(msg, mono_as_rgb=False), MONO)
    np.testing.assert_array_equal(ic.image_to_mono8(msg), MONO)
    as_rgb = ic.image_to_rgb(msg)
    assert as_rgb.shape == (HEIGHT, WIDTH, 3)
    for channel in range(3):
        np.testing.assert_array_equal(as_rgb[:, :, channel], MONO)


def test_mono8_round_trip_and_8uc1_alias():
    msg = ic.mono8_to_image(MONO)
    assert (msg.encoding, msg.step) == ("mono8", WIDTH)
    np.testing.assert_array_equal(ic.image_to_mono8(msg), MONO)
    msg.encoding = "8UC1"
    np.testing.assert_array_equal(ic.image_to_mono8(msg), MONO)


@pytest.mark.parametrize("bigendian", [False, True])
@pytest.mark.parametrize("padding", [0, 4, 6])
def test_32fc1_decodes_either_byte_order_with_padding(bigendian, padding):
    msg = padded_image(FLOATS, "32FC1", padding, bigendian=bigendian)
    out = ic.image_to_float32(msg)
    assert out.dtype == np.float32 and out.dtype.isnative
    np.testing.assert_array_equal(out, FLOATS)


def test_32fc1_round_trip_from_float64():
    msg = ic.float32_to_image(FLOATS.astype(np.float64))
    assert (msg.encoding, msg.step) == ("32FC1", WIDTH * 4)
    np.testing.assert_array_equal(ic.image_to_float32(msg), FLOATS)


def test_decoding_is_zero_copy_where_possible():
    for msg, decode in [
        (ic.rgb_to_image(RGB, "rgb8"), ic.image_to_rgb),
        (ic.rgb_to_image(RGB, "rgba8"), ic.image_to_rgb),
        (padded_image(MONO, "mono8", 3), ic.image_to_mono8),
        (padded_image(FLOATS, "32FC1", 4), ic.image_to_float32),
    ]:
        buffer = np.frombuffer(msg.data, dtype=np.uint8)
        assert np.shares_memory(decode(msg), buffer), msg.encoding
        assert not np.shares_memory(decode(msg, copy=True), buffer), msg.encoding


def test_data_given_as_bytes_or_list_also_decodes():
    msg = ic.mono8_to_image(MONO)
    as_bytes = Image(height=HEIGHT, width=WIDTH, encoding="mono8", step=WIDTH)
    as_bytes.data = bytes(msg.data)
    np.testing.assert_array_equal(ic.image_to_mono8(as_bytes), MONO)


def test_encoded_data_is_array_of_bytes():
    # A list or bytes would make the generated setter check each byte in Python (slow).
    assert isinstance(ic.rgb_to_image(RGB).data, array.array)
    assert isinstance(ic.array_to_compressed_png(MONO).data, array.array)


@pytest.mark.parametrize("encoding", ["yuv422", "mono16", "16UC1", "bayer_rggb8", ""])
def test_unsupported_encoding_is_a_clear_error(encoding):
    msg = Image(height=2, width=2, encoding=encoding, step=4)
    msg.data = array.array("B", bytes(8))
    with pytest.raises(ValueError, match="unsupported image encoding"):
        ic.image_to_array(msg)


def test_zero_sized_image_is_rejected():
    with pytest.raises(ValueError, match="zero-sized"):
        ic.image_to_array(Image(height=0, width=4, encoding="mono8", step=4))
    with pytest.raises(ValueError, match="zero-sized"):
        ic.mono8_to_image(np.zeros((0, 3), np.uint8))


def test_step_smaller_than_a_row_is_rejected():
    msg = Image(height=2, width=4, encoding="rgb8", step=11)
    msg.data = array.array("B", bytes(22))
    with pytest.raises(ValueError, match="step 11 is smaller"):
        ic.image_to_array(msg)


@pytest.mark.parametrize("length", [0, 23, 25])
def test_data_length_must_equal_step_times_height(length):
    msg = Image(height=2, width=4, encoding="rgb8", step=12)
    msg.data = array.array("B", bytes(length))
    with pytest.raises(ValueError, match="data length"):
        ic.image_to_array(msg)


def test_wrong_encoding_for_the_requested_conversion():
    with pytest.raises(ValueError, match="expected a mono8"):
        ic.image_to_mono8(ic.rgb_to_image(RGB))
    with pytest.raises(ValueError, match="expected a 32FC1"):
        ic.image_to_float32(ic.mono8_to_image(MONO))
    with pytest.raises(ValueError, match="8-bit colour or mono8"):
        ic.image_to_rgb(ic.float32_to_image(FLOATS))


def test_encoder_rejects_wrong_shape_or_dtype():
    with pytest.raises(ValueError, match="HxWx3"):
        ic.array_to_image(MONO, "rgb8")
    with pytest.raises(ValueError, match="dtype"):
        ic.mono8_to_image(MONO.astype(np.int32))
    with pytest.raises(ValueError, match="rgb_to_image writes"):
        ic.rgb_to_image(RGB, "mono8")
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        ic.rgb_to_image(RGB.astype(np.float32))


def compressed(picture: PILImage.Image, fmt: str, ros_format: str) -> CompressedImage:
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt)
    msg = CompressedImage(format=ros_format)
    msg.data = array.array("B", buffer.getvalue())
    return msg


def test_png_round_trip_colour_and_mono():
    header = Header(frame_id="camera")
    colour = ic.array_to_compressed_png(RGB, header=header)
    assert colour.format == "rgb8; png compressed bgr8" and colour.header.frame_id == "camera"
    np.testing.assert_array_equal(ic.compressed_image_to_rgb(colour), RGB)
    mono = ic.array_to_compressed_png(MONO)
    assert mono.format == "mono8; png compressed mono8"
    np.testing.assert_array_equal(ic.compressed_image_to_rgb(mono, mono_as_rgb=False), MONO)
    assert ic.compressed_image_to_rgb(mono).shape == (HEIGHT, WIDTH, 3)


def test_jpeg_decodes_to_rgb():
    flat = np.zeros((16, 16, 3), np.uint8)
    flat[:] = (200, 40, 90)
    msg = compressed(PILImage.fromarray(flat), "JPEG", "rgb8; jpeg compressed bgr8")
    out = ic.compressed_image_to_rgb(msg)
    assert out.shape == (16, 16, 3)
    assert np.abs(out.astype(int) - flat).max() <= 3  # lossy, but the channel order is right


def test_compressed_errors_are_clear():
    with pytest.raises(ValueError, match="empty"):
        ic.compressed_image_to_rgb(CompressedImage(format="jpeg"))
    junk = CompressedImage(format="png")
    junk.data = array.array("B", b"not an image at all")
    with pytest.raises(ValueError, match="cannot decode"):
        ic.compressed_image_to_rgb(junk)
    bmp = compressed(PILImage.fromarray(RGB), "BMP", "bmp")
    with pytest.raises(ValueError, match="unsupported compressed format"):
        ic.compressed_image_to_rgb(bmp)
    sixteen_bit = compressed(PILImage.fromarray(MONO.astype(np.uint16) * 200), "PNG", "png")
    with pytest.raises(ValueError, match="8-bit"):
        ic.compressed_image_to_rgb(sixteen_bit)
    with pytest.raises(ValueError, match="PNG encoding needs"):
        ic.array_to_compressed_png(FLOATS)
