"""Paired rasters drawn with identical PIL calls, so label edges match image edges exactly.

``colour``  RGB: the flat albedo of each primitive,
``info``    RGB: (label value, material id, shade) — shade 128 means x1.0,
``shadow``  L:   cast-shadow factor on ground materials (255 = fully lit).

Every primitive is one ``ImageDraw.polygon`` (or ellipse) call on ``colour`` and the same call
on ``info``; nothing is anti-aliased here (the image gets blurred later, the label never).
Vertices arrive in final pixel coordinates (the camera applies roll); polygons reaching far
outside the frame are clipped exactly to a guard band first.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from owss_ros.data.synthetic.materials import Material

GUARD = 1.0  # polygons are clipped to the frame grown by this many frame sizes on each side


class LayeredCanvas:
    def __init__(self, width: int, height: int):
        self.width = width
        self.height = height
        self.colour = Image.new("RGB", (width, height), (0, 0, 0))
        self.info = Image.new("RGB", (width, height), (0, 0, 128))
        self.shadow = Image.new("L", (width, height), 255)
        self._colour_draw = ImageDraw.Draw(self.colour)
        self._info_draw = ImageDraw.Draw(self.info)
        self._shadow_draw = ImageDraw.Draw(self.shadow)
        # Pillow's C drawing objects: ``ImageDraw.polygon(xy, fill=c)`` is exactly
        # ``draw_polygon(xy, draw_ink(c), 1)``; calling them directly halves the per-call cost.
        self._colour_core = self._colour_draw.draw
        self._info_core = self._info_draw.draw
        self._margin = 2.0
        self._guard_lo = (-GUARD * width, -GUARD * height)
        self._guard_hi = ((1 + GUARD) * width, (1 + GUARD) * height)

    def to_screen(self, points: np.ndarray) -> list[float]:
        """Flat coordinate list; clipped to the guard frame (exactly: the visible part is unchanged)."""
        p = np.asarray(points, dtype=np.float64)
        lo, hi = self._guard_lo, self._guard_hi
        (x0, y0), (x1, y1) = p.min(axis=0), p.max(axis=0)
        m = self._margin
        if x1 < -m or y1 < -m or x0 > self.width + m or y0 > self.height + m:
            return []  # entirely outside the frame
        if x0 < lo[0] or y0 < lo[1] or x1 > hi[0] or y1 > hi[1]:
            p = clip_polygon(p, lo, hi)
        return p.ravel().tolist()

    def polygon(
        self,
        points: np.ndarray,
        colour: tuple[int, int, int],
        label: int,
        material: Material = Material.SMOOTH,
        shade: float = 1.0,
    ) -> None:
        """Fill a polygon given as (N, 2) pixel coordinates."""
        if len(points) < 3:
            return
        xy = self.to_screen(points)
        if len(xy) < 6:
            return
        self._colour_core.draw_polygon(xy, self._colour_core.draw_ink(colour), 1)
        self._info_core.draw_polygon(xy, self._info_core.draw_ink((label, int(material), _shade_byte(shade))), 1)

    def ring(
        self,
        centre: tuple[float, float],
        rx: float,
        ry: float,
        width: float,
        colour: tuple[int, int, int],
        label: int,
        material: Material = Material.SMOOTH,
        shade: float = 1.0,
    ) -> None:
        """Elliptical ring (e.g. a bicycle wheel), axis-aligned about ``centre``."""
        if rx < 0.5 or ry < 0.5:
            return
        cx, cy = float(centre[0]), float(centre[1])
        if not (-rx <= cx <= self.width + rx and -ry <= cy <= self.height + ry):
            return
        box = [cx - rx, cy - ry, cx + rx, cy + ry]
        w = max(1, int(round(width)))
        self._colour_draw.ellipse(box, outline=colour, width=w)
        self._info_draw.ellipse(box, outline=(label, int(material), _shade_byte(shade)), width=w)

    def shadow_polygon(self, points: np.ndarray, strength: float) -> None:
        """Darken ground materials under a polygon: factor ``1 - strength``."""
        if len(points) < 3:
            return
        xy = self.to_screen(points)
        if len(xy) >= 6:
            self._shadow_draw.polygon(xy, fill=int(round(255 * (1.0 - strength))))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(colour HxWx3, label HxW, material HxW, shade HxW, shadow HxW) as uint8 arrays."""
        info = np.asarray(self.info)
        return np.asarray(self.colour), info[..., 0], info[..., 1], info[..., 2], np.asarray(self.shadow)


def clip_polygon(points: np.ndarray, lo: tuple[float, float], hi: tuple[float, float]) -> np.ndarray:
    """Sutherland-Hodgman clipping of a polygon to an axis-aligned rectangle (vectorised per edge)."""
    p = points
    for axis, bound, keep_above in ((0, lo[0], True), (0, hi[0], False), (1, lo[1], True), (1, hi[1], False)):
        if len(p) == 0:
            break
        d = (p[:, axis] - bound) if keep_above else (bound - p[:, axis])
        inside = d >= 0
        if inside.all():
            continue
        if not inside.any():
            return np.empty((0, 2))
        q = np.roll(p, -1, axis=0)
        dq = np.roll(d, -1)
        crossing = inside != (dq >= 0)
        t = np.where(crossing, d / np.where(crossing, d - dq, 1.0), 0.0)
        cut = p + t[:, None] * (q - p)
        candidates = np.stack([p, cut], axis=1).reshape(-1, 2)
        keep = np.stack([inside, crossing], axis=1).reshape(-1)
        p = candidates[keep]
    return p


def _shade_byte(shade: float) -> int:
    return int(min(255, max(1, round(128 * shade))))


def ellipse_points(
    cx: float, cy: float, rx: float, ry: float, n: int = 16, start: float = 0.0, stop: float = 2 * math.pi,
) -> np.ndarray:
    """(n, 2) points on an ellipse (or an arc when start/stop are given)."""
    t = np.linspace(start, stop, n, endpoint=(stop - start) < 2 * math.pi - 1e-9)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def thick_segment(p0: np.ndarray, p1: np.ndarray, width: float) -> np.ndarray:
    """Quad of a line segment with the given width (any units)."""
    p0 = np.asarray(p0, dtype=np.float64)
    p1 = np.asarray(p1, dtype=np.float64)
    d = p1 - p0
    n = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9) * (width / 2.0)
    return np.array([p0 + n, p1 + n, p1 - n, p0 - n])
