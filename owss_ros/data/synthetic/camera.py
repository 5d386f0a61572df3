"""Pinhole camera above a flat road, and the projection of world points to pixels.

World frame: X to the right, Y up, Z forward (metres); the camera sits at (0, height_m, 0)
looking along +Z. Roll is a 2-D rotation of the projected points about the image centre,
folded into :meth:`Camera.project` and :meth:`Camera.billboard`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Camera:
    width: int
    height: int
    focal: float  # pixels
    cx: float
    horizon: float  # image row of the horizon (pitch shifts it)
    height_m: float  # camera height above the road surface
    roll_deg: float = 0.0

    def __post_init__(self):
        a = math.radians(self.roll_deg)
        c, s = math.cos(a), math.sin(a)
        # roll about the image centre, as a row-vector affine map of (X/Z, (h - Y)/Z) * focal
        object.__setattr__(self, "_rot", np.array([[c, s], [-s, c]]))
        hx, hy = self.width / 2.0, self.height / 2.0
        object.__setattr__(self, "_offset", np.array([hx + c * (self.cx - hx) - s * (self.horizon - hy),
                                                      hy + s * (self.cx - hx) + c * (self.horizon - hy)]))

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixel coordinates (x right, y down), roll included."""
        p = np.asarray(points, dtype=np.float64)
        inv = self.focal / np.maximum(p[:, 2], 1e-3)
        ab = np.empty((len(p), 2))
        ab[:, 0] = p[:, 0] * inv
        ab[:, 1] = (self.height_m - p[:, 1]) * inv
        return (ab @ self._rot if self.roll_deg else ab) + self._offset

    def billboard(self, x: float, z: float, local: np.ndarray, base_y: float = 0.0) -> np.ndarray:
        """Points of a flat drawing facing the camera at depth ``z``.

        ``local`` is (N, 2) metres: u to the right of ``x``, v up from ``base_y``.
        """
        s = self.focal / z
        loc = np.asarray(local, dtype=np.float64)
        ab = np.empty((len(loc), 2))
        ab[:, 0] = (x + loc[:, 0]) * s
        ab[:, 1] = (self.height_m - base_y - loc[:, 1]) * s
        return (ab @ self._rot if self.roll_deg else ab) + self._offset

    def pixels_per_metre(self, z: float) -> float:
        return self.focal / z

    def ground_row(self, z: float, y: float = 0.0) -> float:
        return self.horizon + self.focal * (self.height_m - y) / z

    def depth_at_row(self, row: float, y: float = 0.0) -> float:
        """Depth of the ground point (height ``y``) imaged on ``row``; inf at or above the horizon."""
        d = row - self.horizon
        return float("inf") if d <= 0 else self.focal * (self.height_m - y) / d

    @property
    def nearest_visible_ground(self) -> float:
        """Depth of the road point on the bottom image row."""
        return self.depth_at_row(self.height)


def sample_camera(rng: np.random.Generator, width: int, height: int) -> Camera:
    """Random intrinsics/extrinsics around a Cityscapes-like car-roof camera."""
    return Camera(
        width=width,
        height=height,
        focal=width * rng.uniform(0.85, 1.2),
        cx=width * (0.5 + rng.normal(0.0, 0.01)),
        horizon=height * rng.uniform(0.38, 0.5),
        height_m=rng.uniform(1.2, 1.8),
        roll_deg=float(np.clip(rng.normal(0.0, 1.5), -3.0, 3.0)) if rng.random() < 0.6 else 0.0,
    )
