"""Reading and writing images and label maps with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def read_rgb(path: str | Path) -> np.ndarray:
    """HxWx3 uint8 RGB (palette, grey and RGBA files are converted)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()


def read_label(path: str | Path) -> np.ndarray:
    """HxW uint8 label map; a palette PNG gives its indices, an RGB file is rejected."""
    with Image.open(path) as im:
        if im.mode in ("L", "P"):
            return np.asarray(im, dtype=np.uint8).copy()
        if im.mode in ("I", "I;16", "I;16B"):
            arr = np.asarray(im)
            if arr.max(initial=0) > 255:
                raise ValueError(f"{path}: label values above 255 are not supported")
            return arr.astype(np.uint8)
        raise ValueError(f"{path}: expected a single-channel label image, got mode {im.mode!r}")


def write_rgb(path: str | Path, image: np.ndarray, compress_level: int = 1) -> None:
    # Huffman-only deflate: noisy photos compress about as well as with LZ77 matching, but faster.
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8), "RGB").save(
        path, compress_level=compress_level, compress_type=2)


def write_label(path: str | Path, label: np.ndarray, compress_level: int = 1) -> None:
    Image.fromarray(np.ascontiguousarray(label, dtype=np.uint8), "L").save(path, compress_level=compress_level)
