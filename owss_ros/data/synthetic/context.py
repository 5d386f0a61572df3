"""Everything a drawing routine needs, plus helpers to draw world-space primitives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from owss_ros.data.synthetic.camera import Camera
from owss_ros.data.synthetic.canvas import LayeredCanvas
from owss_ros.data.synthetic.layout import StreetLayout
from owss_ros.data.synthetic.lighting import Lighting
from owss_ros.data.synthetic.materials import Material

NEAR_Z = 0.6  # metres: nothing is drawn closer than this


@dataclass
class SceneContext:
    camera: Camera
    layout: StreetLayout
    lighting: Lighting
    canvas: LayeredCanvas
    rng: np.random.Generator

    # --- world helpers ----------------------------------------------------------------------

    def world(self, lateral, y, z) -> np.ndarray:
        """(N, 3) world points from lateral offsets along the (curved) road."""
        lateral = np.asarray(lateral, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        z = np.asarray(z, dtype=np.float64).ravel()
        out = np.empty((max(lateral.size, y.size, z.size), 3))
        out[:, 0] = self.layout.curvature * z * z + lateral
        out[:, 1] = y
        out[:, 2] = np.maximum(z, NEAR_Z)
        return out

    def on_screen(self, x: float, z: float, width: float, length: float, height: float, base_y: float = 0.0) -> bool:
        """Whether an axis-aligned bounding box (footprint centre x, z) can reach the frame."""
        r = 0.5 * max(width, length)
        corners = np.array([[x + dx, base_y + dy, z + dz] for dx in (-r, r) for dy in (0.0, height) for dz in (-r, r)])
        if corners[:, 2].max() <= NEAR_Z:
            return False
        corners[:, 2] = np.maximum(corners[:, 2], NEAR_Z)
        uv = self.camera.project(corners)
        m = 0.06 * max(self.camera.width, self.camera.height)
        (u0, v0), (u1, v1) = uv.min(axis=0), uv.max(axis=0)
        return bool(u1 >= -m and u0 <= self.camera.width + m and v1 >= -m and v0 <= self.camera.height + m)

    def project(self, points: np.ndarray) -> np.ndarray:
        return self.camera.project(points)

    def fill(
        self, points3d: np.ndarray, colour, label: int, material: Material, shade: float = 1.0,
        haze_z: float | None = None,
    ):
        """Project world points and fill the polygon with the colour the camera records."""
        z = float(np.min(points3d[:, 2])) if haze_z is None else haze_z
        self.canvas.polygon(self.project(points3d), self.lighting.apparent(colour, z), label, material, shade)

    def fill_screen(self, points2d: np.ndarray, colour, label: int, material: Material, z: float, shade: float = 1.0):
        self.canvas.polygon(points2d, self.lighting.apparent(colour, z), label, material, shade)

    def ground_strip(self, lat_a: float, lat_b: float, z0: float, z1: float, y: float = 0.0, n: int = 18) -> np.ndarray:
        """World polygon of a strip of ground between two lateral offsets."""
        zs = geometric_steps(max(z0, NEAR_Z), z1, n)
        near_to_far = self.world(np.full(n, lat_a), y, zs)
        far_to_near = self.world(np.full(n, lat_b), y, zs[::-1])
        return np.concatenate([near_to_far, far_to_near])

    def vertical_strip(self, lateral: float, y0, y1, z0: float, z1: float, n: int = 6) -> np.ndarray:
        """World polygon of a vertical band along the road (facade, wall, curb face)."""
        zs = geometric_steps(max(z0, NEAR_Z), max(z1, NEAR_Z * 1.01), n)
        top = self.world(np.full(n, lateral), np.broadcast_to(y1, (n,)), zs)
        bottom = self.world(np.full(n, lateral), np.broadcast_to(y0, (n,)), zs[::-1])
        return np.concatenate([top, bottom])

    def cast_shadow(self, footprint: np.ndarray, height: float, ground_y: float = 0.0, strength_scale: float = 1.0):
        """Shadow of an object with the given (N, 2) world (x, z) footprint and height."""
        if self.lighting.shadow_strength <= 0.02:
            return
        dx, dz = self.lighting.shadow_step
        shifted = footprint + np.array([dx, dz]) * height
        hull = convex_hull(np.concatenate([footprint, shifted]))
        hull[:, 1] = np.maximum(hull[:, 1], NEAR_Z)
        pts = np.stack([hull[:, 0], np.full(len(hull), ground_y), hull[:, 1]], axis=1)
        self.canvas.shadow_polygon(self.project(pts), self.lighting.shadow_strength * strength_scale)


def geometric_steps(start: float, stop: float, n: int) -> np.ndarray:
    """Like ``np.geomspace`` for positive bounds, without its overhead."""
    if n < 2:
        return np.array([start], dtype=np.float64)
    stop = max(stop, start * 1.0001)
    return start * (stop / start) ** (np.arange(n) / (n - 1.0))


def convex_hull(points: np.ndarray) -> np.ndarray:
    """Monotone-chain convex hull of a few 2-D points, counter-clockwise."""
    pts = sorted(map(tuple, np.asarray(points, dtype=np.float64)))
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])
