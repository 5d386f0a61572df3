"""Class-plausible colour distributions that deliberately overlap between classes.

Grey appears on road, sidewalk, building, wall, pole, car, truck...; brown on building, fence,
terrain, anomalies; green on vegetation, terrain, fences, buses; red on cars, buses, signs,
bricks and clothing. A model therefore has to use shape and context, not colour alone.
"""

from __future__ import annotations

import colorsys

import numpy as np

RGB = tuple[int, int, int]


def clip_rgb(rgb) -> RGB:
    """Round and clip any 3-sequence to a uint8 RGB tuple."""
    return _clip(rgb)


def _clip(rgb) -> RGB:
    if isinstance(rgb, np.ndarray):
        rgb = rgb.tolist()
    elif not isinstance(rgb, (list, tuple)):
        rgb = [rgb] * 3
    return tuple(0 if v < 0 else 255 if v > 255 else int(round(v)) for v in rgb)


def jitter(rng: np.random.Generator, rgb, sigma: float = 10.0, brightness: float = 0.12) -> RGB:
    base = np.asarray(rgb, dtype=np.float64) * rng.uniform(1 - brightness, 1 + brightness)
    return _clip(base + rng.normal(0.0, sigma, 3))


def grey(rng: np.random.Generator, lo: float, hi: float, tint: float = 5.0) -> RGB:
    return _clip(rng.uniform(lo, hi) + rng.normal(0.0, tint, 3))


def hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, float(np.clip(s, 0, 1)), float(np.clip(v, 0, 1)))
    return _clip((r * 255, g * 255, b * 255))


def pick(rng: np.random.Generator, options: list, weights: list[float] | None = None):
    """One option, chosen with probability proportional to its weight (uniform if none)."""
    if weights is None:
        return options[int(rng.integers(len(options)))]
    r = rng.random() * sum(weights)
    for option, weight in zip(options, weights):
        r -= weight
        if r < 0:
            return option
    return options[-1]


def darker(rgb, factor: float) -> RGB:
    return _clip([c * factor for c in rgb])


def mix(a, b, t: float) -> RGB:
    return _clip([x * (1 - t) + y * t for x, y in zip(a, b)])


# --- stuff ---------------------------------------------------------------------------------

def road(rng) -> RGB:
    g = rng.uniform(55, 130)
    return _clip(np.array([g, g, g + rng.uniform(0, 6)]) + rng.normal(0, 3, 3))


def lane_paint(rng) -> RGB:
    if rng.random() < 0.8:
        return grey(rng, 185, 240, 3)
    return jitter(rng, (225, 185, 60), 8)


def sidewalk(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 105, 190),
        lambda: jitter(rng, (175, 160, 135), 10),
        lambda: jitter(rng, (150, 100, 90), 10),
        lambda: grey(rng, 80, 110),
    ], [5, 2, 1.5, 1])()


def building(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 70, 200),
        lambda: jitter(rng, (190, 172, 135), 12),
        lambda: jitter(rng, (145, 75, 55), 12),
        lambda: grey(rng, 200, 235, 4),
        lambda: jitter(rng, (110, 88, 68), 10),
        lambda: hsv(rng.uniform(0, 1), rng.uniform(0.1, 0.35), rng.uniform(0.6, 0.9)),
    ], [4, 2, 1.5, 1.5, 1, 1])()


def wall(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 95, 195),
        lambda: jitter(rng, (165, 150, 125), 12),
        lambda: jitter(rng, (140, 80, 60), 12),
        lambda: hsv(rng.uniform(0, 1), rng.uniform(0.1, 0.4), rng.uniform(0.4, 0.8)),
    ], [5, 2, 1, 1])()


def fence(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 70, 170),
        lambda: jitter(rng, (125, 95, 65), 12),
        lambda: jitter(rng, (55, 90, 60), 10),
        lambda: grey(rng, 200, 235, 3),
    ], [4, 2, 1, 1])()


def pole(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 70, 175),
        lambda: jitter(rng, (45, 65, 50), 8),
        lambda: grey(rng, 25, 50, 3),
        lambda: jitter(rng, (120, 85, 60), 10),
    ], [5, 1, 1.5, 0.5])()


def traffic_light_housing(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 20, 55, 3),
        lambda: jitter(rng, (50, 65, 50), 6),
        lambda: jitter(rng, (200, 165, 40), 10),
    ], [6, 1, 1])()


def sign_face(rng) -> tuple[RGB, RGB]:
    """(plate colour, border colour) of a sign's face."""
    face = pick(rng, [
        (235, 235, 235), (200, 35, 35), (35, 75, 165), (235, 200, 35), (35, 125, 65), (235, 130, 30),
    ], [3, 2, 2, 1.5, 1, 0.5])
    border = pick(rng, [(200, 35, 35), (240, 240, 240), (25, 25, 25), face], [2, 2, 1, 1])
    return jitter(rng, face, 8, 0.08), jitter(rng, border, 8, 0.08)


def vegetation(rng) -> RGB:
    return pick(rng, [
        lambda: _clip([rng.uniform(40, 105), rng.uniform(75, 140), rng.uniform(20, 65)]),
        lambda: grey(rng, 25, 45, 3) if rng.random() < 0.3 else jitter(rng, (35, 55, 30), 6),
        lambda: jitter(rng, (150, 125, 45), 12),
        lambda: jitter(rng, (150, 85, 35), 12),
        lambda: jitter(rng, (95, 110, 60), 10),
    ], [6, 2, 0.6, 0.4, 1.5])()


def terrain(rng) -> RGB:
    return pick(rng, [
        lambda: _clip([rng.uniform(85, 140), rng.uniform(120, 170), rng.uniform(55, 95)]),
        lambda: jitter(rng, (165, 155, 110), 10),
        lambda: jitter(rng, (120, 95, 70), 10),
        lambda: grey(rng, 120, 150, 6),
    ], [5, 2, 1.5, 1])()


# --- things -------------------------------------------------------------------------------

def skin(rng) -> RGB:
    return jitter(rng, pick(rng, [(235, 195, 165), (200, 150, 115), (150, 100, 70), (95, 65, 45)]), 8, 0.1)


def hair(rng) -> RGB:
    return jitter(rng, pick(rng, [(30, 25, 20), (90, 60, 35), (170, 140, 90), (140, 140, 140)], [4, 2, 1, 1]), 6)


def clothing(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 15, 70, 4),
        lambda: jitter(rng, (45, 60, 95), 10),
        lambda: grey(rng, 90, 200, 6),
        lambda: jitter(rng, (120, 100, 75), 12),
        lambda: hsv(rng.uniform(0, 1), rng.uniform(0.4, 0.9), rng.uniform(0.35, 0.9)),
    ], [3, 2, 2, 1, 3])()


def car_paint(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 200, 240, 3),
        lambda: grey(rng, 15, 45, 3),
        lambda: grey(rng, 100, 175, 4),
        lambda: jitter(rng, (35, 50, 95), 10),
        lambda: jitter(rng, (160, 25, 30), 12),
        lambda: hsv(rng.uniform(0, 1), rng.uniform(0.3, 0.8), rng.uniform(0.3, 0.8)),
        lambda: jitter(rng, (180, 165, 130), 10),
    ], [3, 3, 4, 1.5, 1, 1.5, 0.5])()


def truck_paint(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 200, 240, 3),
        lambda: grey(rng, 90, 170, 5),
        lambda: jitter(rng, (170, 35, 30), 12),
        lambda: jitter(rng, (35, 70, 150), 12),
        lambda: jitter(rng, (220, 180, 40), 12),
        lambda: jitter(rng, (50, 100, 60), 10),
    ], [4, 2, 1, 1, 0.7, 0.7])()


def bus_paint(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 205, 240, 3),
        lambda: jitter(rng, (190, 35, 35), 12),
        lambda: jitter(rng, (230, 190, 40), 12),
        lambda: jitter(rng, (40, 90, 160), 12),
        lambda: jitter(rng, (60, 130, 70), 10),
    ], [3, 2, 1, 1, 1])()


def train_paint(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 200, 240, 3),
        lambda: jitter(rng, (200, 40, 40), 12),
        lambda: jitter(rng, (235, 200, 50), 12),
        lambda: grey(rng, 110, 170, 4),
    ], [3, 2, 1, 1])()


def two_wheeler_paint(rng) -> RGB:
    return pick(rng, [
        lambda: grey(rng, 15, 60, 3),
        lambda: grey(rng, 120, 210, 4),
        lambda: hsv(rng.uniform(0, 1), rng.uniform(0.5, 0.9), rng.uniform(0.35, 0.85)),
    ], [3, 2, 3])()


def glass(rng, sky: RGB) -> RGB:
    base = pick(rng, [(30, 38, 48), (55, 70, 85), (20, 22, 25)], [3, 2, 1])
    return mix(base, sky, rng.uniform(0.0, 0.4))


def tyre(rng) -> RGB:
    return grey(rng, 15, 40, 2)
