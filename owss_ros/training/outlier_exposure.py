"""Outlier exposure with procedural objects (an option beyond the paper).

During training, random textured shapes are pasted into the crop and labelled
:data:`~owss_ros.core.losses.OUTLIER_TARGET`; the loss pulls their embeddings to the centroid of
the prototypes (``owss_ros.core.losses.centroid_pull``), which is where EDS (Eq. 7) and MMSP
(Eq. 6) put "unknown". The objects are deliberately *none* of the 19 classes and none of the
anomaly kinds the test splits use (animals, cargo, tyres, debris, furniture, machines, barrels,
luggage): star polygons, blobs and their unions, filled with stripes, checkers, smooth noise or
flat colour, and (``solid_fraction``) the same outlines extruded into prisms standing on the
ground: a lit top, darker side faces and a cast shadow, so that a low object whose top looks like
road paint is still told apart by its sides and shadow. Nothing here knows the scene generator, so
the model cannot learn "the test generator's anomalies" from it, only "something that is none of
my classes".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from owss_ros.core.losses import OUTLIER_TARGET


@dataclass(frozen=True)
class OutlierConfig:
    probability: float = 0.5  # chance that a crop gets any outlier objects
    max_objects: int = 2
    min_size: float = 0.06  # object size as a fraction of the crop height
    max_size: float = 0.4
    solid_fraction: float = 0.0  # chance that an object is an extruded prism instead of a flat shape


def _star_polygon(rng, cx, cy, radius):
    count = int(rng.integers(5, 13))
    angles = np.sort(rng.uniform(0, 2 * np.pi, count))
    radii = radius * rng.uniform(0.35, 1.0, count)
    return [(float(cx + r * np.cos(a)), float(cy + r * np.sin(a))) for a, r in zip(angles, radii)]


def shape_mask(rng: np.random.Generator, h: int, w: int, size: float) -> np.ndarray:
    """A union of 1-3 star polygons / ellipses of about ``size`` pixels, at a random place."""
    cx, cy = rng.uniform(0.05, 0.95) * w, rng.uniform(0.3, 0.95) * h  # mostly below the horizon
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(int(rng.integers(1, 4))):
        px, py = cx + rng.normal(0, size / 4), cy + rng.normal(0, size / 4)
        radius = size / 2 * rng.uniform(0.5, 1.0)
        if rng.random() < 0.6:
            draw.polygon(_star_polygon(rng, px, py, radius), fill=1)
        else:
            rx, ry = radius * rng.uniform(0.4, 1.0), radius * rng.uniform(0.4, 1.0)
            draw.ellipse([px - rx, py - ry, px + rx, py + ry], fill=1)
    return np.asarray(canvas, dtype=bool)


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float texture: stripes, checkers, smooth noise or flat colour, with shading."""
    a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    kind = int(rng.integers(4))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == 0:  # stripes at a random angle
        angle, period = rng.uniform(0, np.pi), rng.uniform(3, 16)
        t = (np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period) > 0).astype(np.float32)
    elif kind == 1:  # checkers
        cell = rng.uniform(3, 14)
        t = ((np.floor(xx / cell) + np.floor(yy / cell)) % 2).astype(np.float32)
    elif kind == 2:  # smooth noise
        coarse = rng.uniform(0, 1, (max(2, h // 8), max(2, w // 8))).astype(np.float32)
        t = np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR), dtype=np.float32)
    else:
        t = np.zeros((h, w), np.float32)
    tex = a + (b - a) * t[..., None]
    shading = 1.0 + rng.uniform(-0.35, 0.35) * (yy / max(h - 1, 1) - 0.5)
    return tex * shading[..., None] + rng.normal(0, 4, (h, w, 3))


def _ground_outline(rng: np.random.Generator, cx: float, cy: float, size: float) -> np.ndarray:
    """(n, 2) footprint polygon of a prism: a star polygon squashed vertically, as a shape on the
    ground plane looks from a car's camera."""
    outline = np.asarray(_star_polygon(rng, 0.0, 0.0, size / 2), dtype=np.float64)
    outline[:, 1] *= rng.uniform(0.2, 0.6)
    return outline + (cx, cy)


def _polygon_mask(h: int, w: int, points) -> np.ndarray:
    canvas = Image.new("L", (w, h), 0)
    ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in points], fill=1)
    return np.asarray(canvas, dtype=bool)


def solid_faces(rng: np.random.Generator, h: int, w: int, size: float) -> list[tuple[np.ndarray, float]]:
    """An extruded prism of about ``size`` pixels standing on the ground, as (mask, shade) faces in
    painting order (back sides, front sides, top), with a shade in ~[0.35, 1.2] from a random light."""
    base = _ground_outline(rng, rng.uniform(0.05, 0.95) * w, rng.uniform(0.45, 0.95) * h, size)
    top = base - (0.0, size * rng.uniform(0.08, 0.6))
    light = rng.normal(size=2)
    light /= max(float(np.linalg.norm(light)), 1e-6)
    sides = []
    for i in range(len(base)):
        j = (i + 1) % len(base)
        edge = base[j] - base[i]
        normal = np.array([edge[1], -edge[0]]) / max(float(np.linalg.norm(edge)), 1e-6)
        shade = 0.45 + 0.35 * max(0.0, float(normal @ light))
        sides.append((normal[1], _polygon_mask(h, w, [base[i], base[j], top[j], top[i]]), shade))
    sides.sort(key=lambda side: side[0])  # faces turned away from the camera first
    faces = [(mask, shade) for _, mask, shade in sides]
    faces.append((_polygon_mask(h, w, top), rng.uniform(0.9, 1.2)))
    return faces


def _mask_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """The bounding box of ``mask``'s set pixels (None when there are none)."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    return slice(int(ys.min()), int(ys.max()) + 1), slice(int(xs.min()), int(xs.max()) + 1)


def _box_texture(rng: np.random.Generator, box: tuple[slice, slice]) -> np.ndarray:
    return texture(rng, box[0].stop - box[0].start, box[1].stop - box[1].start)


def _paint(image: np.ndarray, label: np.ndarray, mask: np.ndarray, box: tuple[slice, slice], tex: np.ndarray) -> None:
    """Paint ``tex`` (the size of ``box``) where ``mask`` is set inside ``box``; those pixels become outliers."""
    inside = mask[box]
    image[box][inside] = np.clip(tex[inside], 0, 255).astype(np.uint8)
    label[box][inside] = OUTLIER_TARGET


def cast_shadow(image: np.ndarray, footprint: np.ndarray, width: int, rng: np.random.Generator) -> None:
    """Darken the ground beside an object ``width`` pixels wide (in place): its footprint shifted
    sideways. The shadow keeps the ground's label; only the object is an outlier."""
    shadow = np.roll(footprint, int(rng.uniform(-0.5, 0.5) * width), axis=1)
    image[shadow] = (image[shadow] * rng.uniform(0.45, 0.8)).astype(np.uint8)


def _paste_solid(image, label, rng, size) -> None:
    h, w = label.shape
    faces = solid_faces(rng, h, w, size)
    footprint = np.logical_or.reduce([mask for mask, _ in faces])
    box = _mask_box(footprint)
    if box is None:
        return
    cast_shadow(image, footprint, box[1].stop - box[1].start, rng)
    tex = _box_texture(rng, box)
    for mask, shade in faces:
        _paint(image, label, mask, box, tex * shade)


def paste_outliers(image: np.ndarray, label: np.ndarray, rng: np.random.Generator,
                   config: OutlierConfig) -> tuple[np.ndarray, np.ndarray]:
    """Paste up to ``config.max_objects`` outlier objects; their pixels get OUTLIER_TARGET."""
    if config.max_objects <= 0 or rng.random() >= config.probability:
        return image, label
    h, w = label.shape
    image, label = image.copy(), label.copy()
    for _ in range(int(rng.integers(1, config.max_objects + 1))):
        size = rng.uniform(config.min_size, config.max_size) * h
        if config.solid_fraction > 0 and rng.random() < config.solid_fraction:
            _paste_solid(image, label, rng, size)
            continue
        mask = shape_mask(rng, h, w, size)
        box = _mask_box(mask)
        if box is not None:
            _paint(image, label, mask, box, _box_texture(rng, box))
    return image, label
