"""Read camera frames from a rosbag2 bag and write image topics to an MCAP rosbag2 bag.

A bag is what ``ros2 bag record -s mcap`` writes: a folder with ``metadata.yaml`` and ``.mcap``
files (SQLite3 bags are read too). Messages are (de)serialised with the ROS 2 Kilted message
definitions bundled in ``rosbags``; the bags this module writes replay with ``ros2 bag play``.

Reading::

    for frame in read_image_frames("drive_bag", "/camera/image_raw"):
        frame.rgb          # (H, W, 3) uint8, whatever the encoding in the bag
        frame.stamp_ns     # header.stamp in nanoseconds (the node's frame key)

Writing::

    with ImageBagWriter("out_bag") as bag:
        bag.write_image("/perception_node/open_set", labels, stamp_ns, encoding="mono8")
        bag.write_image("/perception_node/anomaly", anomaly, stamp_ns, encoding="32FC1")
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_TYPE = "sensor_msgs/msg/Image"
COMPRESSED_TYPE = "sensor_msgs/msg/CompressedImage"
READABLE_ENCODINGS = ("rgb8", "bgr8", "rgba8", "bgra8", "mono8")
# encoding -> (numpy dtype, channels) of the images this writer accepts
WRITABLE_ENCODINGS = {"mono8": (np.uint8, 1), "rgb8": (np.uint8, 3), "bgr8": (np.uint8, 3),
                      "32FC1": (np.float32, 1)}
NS = 1_000_000_000


class BagError(ValueError):
    """The bag, topic or image cannot be read or written; the message says why."""


@dataclass(frozen=True)
class BagFrame:
    stamp_ns: int  # header.stamp (sec * 1e9 + nanosec); the log time when the header is zero
    log_time_ns: int  # when the recorder received it
    rgb: np.ndarray  # (H, W, 3) uint8 RGB
    encoding: str  # as stored: rgb8, bgr8, rgba8, bgra8, mono8, or the compressed format (jpeg, png)
    frame_id: str
    topic: str

    @property
    def stamp(self) -> tuple[int, int]:
        """(sec, nanosec) of :attr:`stamp_ns`, as in builtin_interfaces/Time."""
        return divmod(self.stamp_ns, NS)


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_KILTED)


def _open_reader(path: str | Path):
    from rosbags.rosbag2 import Reader

    path = Path(path)
    if not path.exists():
        raise BagError(f"bag {path} does not exist")
    if path.is_file():  # a .mcap file inside a bag folder: open the folder
        path = path.parent
    if not (path / "metadata.yaml").is_file():
        raise BagError(f"{path} is not a rosbag2 bag (no metadata.yaml); record one with `ros2 bag record -s mcap`")
    return Reader(path)


def image_topics(path: str | Path) -> dict[str, str]:
    """Topic -> message type of every Image / CompressedImage topic of the bag."""
    with _open_reader(path) as reader:
        return {c.topic: c.msgtype for c in reader.connections if c.msgtype in (IMAGE_TYPE, COMPRESSED_TYPE)}


def image_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/Image (rosbags dataclass) -> (H, W, 3) uint8 RGB; BagError for other encodings."""
    h, w, enc = int(msg.height), int(msg.width), str(msg.encoding)
    if enc not in READABLE_ENCODINGS:
        raise BagError(f"image encoding {enc!r} is not supported; use one of {', '.join(READABLE_ENCODINGS)}")
    channels = {"mono8": 1, "rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4}[enc]
    step = int(msg.step)
    data = np.asarray(msg.data, dtype=np.uint8)
    if h <= 0 or w <= 0:
        raise BagError(f"image has size {w}x{h}")
    if step < w * channels or data.size < step * h:
        raise BagError(f"{enc} image {w}x{h}: step {step} and {data.size} data bytes are too short")
    pixels = data[: step * h].reshape(h, step)[:, : w * channels].reshape(h, w, channels)
    if enc == "mono8":
        return np.repeat(pixels, 3, axis=2)
    if enc.startswith("bgr"):
        return np.ascontiguousarray(pixels[..., 2::-1])
    return np.ascontiguousarray(pixels[..., :3])


def compressed_to_rgb(msg) -> np.ndarray:
    """sensor_msgs/CompressedImage (jpeg / png) -> (H, W, 3) uint8 RGB."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(np.asarray(msg.data, dtype=np.uint8).tobytes())) as image:
            return np.asarray(image.convert("RGB"))
    except Exception as exc:  # PIL raises several types for undecodable data
        raise BagError(f"compressed image (format {msg.format!r}) cannot be decoded: {exc}") from exc


def read_image_frames(path: str | Path, topic: str | None = None, *, start_ns: int | None = None,
                      stop_ns: int | None = None, limit: int | None = None) -> Iterator[BagFrame]:
    """Frames of ``topic`` in recording order; ``topic=None`` picks the bag's only image topic."""
    typestore = _typestore()
    with _open_reader(path) as reader:
        candidates = [c for c in reader.connections if c.msgtype in (IMAGE_TYPE, COMPRESSED_TYPE)]
        if topic is None:
            topics = sorted({c.topic for c in candidates})
            if len(topics) != 1:
                raise BagError(f"bag {path} has {len(topics)} image topics ({', '.join(topics) or 'none'}); "
                               "name the one to read")
            topic = topics[0]
        connections = [c for c in candidates if c.topic == topic]
        if not connections:
            known = ", ".join(f"{c.topic} ({c.msgtype})" for c in reader.connections) or "none"
            raise BagError(f"bag {path} has no Image or CompressedImage topic {topic!r}; its topics: {known}")
        count = 0
        for connection, log_time, raw in reader.messages(connections=connections, start=start_ns, stop=stop_ns):
            msg = typestore.deserialize_cdr(raw, connection.msgtype)
            if connection.msgtype == IMAGE_TYPE:
                rgb, encoding = image_to_rgb(msg), str(msg.encoding)
            else:
                rgb, encoding = compressed_to_rgb(msg), str(msg.format)
            stamp = int(msg.header.stamp.sec) * NS + int(msg.header.stamp.nanosec)
            yield BagFrame(stamp or int(log_time), int(log_time), rgb, encoding, str(msg.header.frame_id), topic)
            count += 1
            if limit is not None and count >= limit:
                return


class ImageBagWriter:
    """Writes sensor_msgs/Image (and CompressedImage) messages to a new MCAP rosbag2 bag folder."""

    def __init__(self, path: str | Path):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists; a bag is written into a new folder")
        self._typestore = _typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._connections: dict[str, object] = {}
        self._open = False

    def __enter__(self) -> "ImageBagWriter":
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self) -> None:
        self._writer.open()
        self._open = True

    def close(self) -> None:
        if self._open:
            self._writer.close()
            self._open = False

    def _connection(self, topic: str, msgtype: str):
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._writer.add_connection(topic, msgtype, typestore=self._typestore)
            self._connections[topic] = conn
        elif conn.msgtype != msgtype:
            raise BagError(f"topic {topic} already carries {conn.msgtype}, not {msgtype}")
        return conn

    def _header(self, stamp_ns: int, frame_id: str):
        t = self._typestore.types
        sec, nanosec = divmod(int(stamp_ns), NS)
        return t["std_msgs/msg/Header"](stamp=t["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                        frame_id=frame_id)

    def write_image(self, topic: str, image: np.ndarray, stamp_ns: int, *, encoding: str,
                    frame_id: str = "camera", log_time_ns: int | None = None) -> None:
        """One image: mono8 / 32FC1 as (H, W), rgb8 / bgr8 as (H, W, 3); data is copied as is."""
        if not self._open:
            raise BagError("the bag is not open (use `with ImageBagWriter(...)`)")
        if encoding not in WRITABLE_ENCODINGS:
            raise BagError(f"cannot write encoding {encoding!r}; use one of {', '.join(WRITABLE_ENCODINGS)}")
        dtype, channels = WRITABLE_ENCODINGS[encoding]
        array = np.asarray(image)
        shape_ok = array.ndim == 2 if channels == 1 else (array.ndim == 3 and array.shape[2] == channels)
        if not shape_ok or array.dtype != dtype:
            raise BagError(f"{encoding} needs a {'(H, W)' if channels == 1 else '(H, W, 3)'} {np.dtype(dtype).name} "
                           f"array, got {array.shape} {array.dtype}")
        h, w = array.shape[:2]
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        data = np.frombuffer(np.ascontiguousarray(little).tobytes(), dtype=np.uint8)
        msg = self._typestore.types[IMAGE_TYPE](
            header=self._header(stamp_ns, frame_id), height=h, width=w, encoding=encoding,
            is_bigendian=0, step=w * channels * np.dtype(dtype).itemsize, data=data)
        self._write(topic, IMAGE_TYPE, msg, stamp_ns if log_time_ns is None else log_time_ns)

    def write_compressed(self, topic: str, rgb: np.ndarray, stamp_ns: int, *, fmt: str = "jpeg",
                         quality: int = 90, frame_id: str = "camera", log_time_ns: int | None = None) -> None:
        """An (H, W, 3) uint8 RGB frame as sensor_msgs/CompressedImage (jpeg or png)."""
        from PIL import Image as PILImage

        if fmt not in ("jpeg", "png"):
            raise BagError(f"compressed format {fmt!r}: use jpeg or png")
        buffer = io.BytesIO()
        PILImage.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buffer, format=fmt.upper(), quality=quality)
        msg = self._typestore.types[COMPRESSED_TYPE](
            header=self._header(stamp_ns, frame_id), format=fmt,
            data=np.frombuffer(buffer.getvalue(), dtype=np.uint8))
        self._write(topic, COMPRESSED_TYPE, msg, stamp_ns if log_time_ns is None else log_time_ns)

    def _write(self, topic: str, msgtype: str, msg, log_time_ns: int) -> None:
        conn = self._connection(topic, msgtype)
        self._writer.write(conn, int(log_time_ns), self._typestore.serialize_cdr(msg, msgtype))
