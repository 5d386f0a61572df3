"""Per-image random generators: image ``index`` of ``split`` depends only on (seed, split,
index), never on worker count or generation order.

The entropy is ``(seed, crc32(split), index)`` rather than ``seed + index`` so that two runs
with nearby seeds (0 and 1) do not share all but one image, and train/val never coincide.
"""

from __future__ import annotations

import zlib

import numpy as np


def split_code(split: str) -> int:
    return zlib.crc32(split.encode("utf-8"))


def scene_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), split_code(split), int(index)]))
