"""Operator mask PNGs on the vehicle, confined to one configured directory.

AddClass may name masks by file (``mask_paths``). A path is taken relative to the node's
``mask_directory``; after resolving '..' and symbolic links it must still lie inside that
directory, or it is refused, so a service call cannot make the node read arbitrary files.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


class MaskFileError(ValueError):
    """A mask file cannot be used; the message says why."""


def resolve_mask_path(mask_directory: str, requested: str) -> Path:
    """The real path of ``requested`` inside ``mask_directory``, or MaskFileError."""
    if not mask_directory:
        raise MaskFileError("mask_paths are disabled: the node has no mask_directory configured")
    if not requested or "\x00" in requested:
        raise MaskFileError(f"invalid mask path {requested!r}")
    root = Path(os.path.realpath(os.path.expanduser(mask_directory)))
    candidate = Path(os.path.realpath(root / os.path.expanduser(requested)))
    if not candidate.is_relative_to(root) or candidate == root:
        raise MaskFileError(
            f"mask path {requested!r} resolves outside the mask directory {str(root)!r}; refused")
    if not candidate.is_file():
        raise MaskFileError(f"mask file {requested!r} does not exist in {str(root)!r}")
    return candidate


def read_mask_png(path: Path, max_pixels: int) -> np.ndarray:
    """A PNG file as an (H, W) uint8 mask (non-zero = the class)."""
    from PIL import Image as PILImage, UnidentifiedImageError

    try:
        with PILImage.open(path) as picture:
            if picture.format != "PNG":
                raise MaskFileError(f"{path.name}: not a PNG file ({picture.format})")
            width, height = picture.size
            if width * height > max_pixels:
                raise MaskFileError(f"{path.name}: {width}x{height} is larger than max_image_pixels")
            if picture.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                raise MaskFileError(f"{path.name}: only 8-bit masks are supported, got {picture.mode}")
            return np.asarray(picture.convert("L"))
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise MaskFileError(f"{path.name}: cannot read the mask PNG ({error})") from error
