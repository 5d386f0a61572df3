"""From the flat canvases to a photo-like image: textures, sky, shading, cast shadows,
tone curve, blur (which also anti-aliases edges in the image only) and sensor noise.

All operations are whole-frame numpy or Pillow calls: no per-pixel Python loops. Noise fields
are random windows of fixed per-process tiles (seeded constants), so they cost a slice per
image and stay identical across worker processes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageFilter

from owss_ros.data.synthetic.camera import Camera
from owss_ros.data.synthetic.layout import StreetLayout
from owss_ros.data.synthetic.lighting import Lighting
from owss_ros.data.synthetic.materials import AMPLITUDES, GROUND_MATERIALS, Material, TextureField

GROUND_TILE = 128  # texels per side of the ground noise tile
GROUND_TEXEL_M = 0.12  # texel size on the road plane
PAVING_SLAB_M = 0.5
IS_GROUND = np.zeros(256, dtype=bool)
IS_GROUND[[int(m) for m in GROUND_MATERIALS]] = True


def value_noise(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    """Smooth noise with roughly unit variance and the given cell size in pixels."""
    gw, gh = max(2, int(width / cell) + 2), max(2, int(height / cell) + 2)
    grid = rng.standard_normal((gh, gw), dtype=np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((width, height), Image.BICUBIC), dtype=np.float32)


@lru_cache(maxsize=16)
def value_noise_tile(width: int, height: int, cell: float) -> np.ndarray:
    """A fixed (2H, 2W) value-noise tile per process; images read random windows of it."""
    return value_noise(np.random.default_rng(int(cell * 1000) + 7), 2 * width, 2 * height, cell)


def value_noise_window(rng: np.random.Generator, width: int, height: int, cell: float) -> np.ndarray:
    return tile_window(rng, value_noise_tile(width, height, cell), width, height)


@lru_cache(maxsize=4)
def sensor_noise_tile(width: int, height: int) -> np.ndarray:
    """A fixed (2H, 2W, 3) Gaussian tile; each image reads a random window of it (fast and
    still deterministic per image)."""
    return np.random.default_rng(20240613).standard_normal((2 * height, 2 * width, 3), dtype=np.float32)


@lru_cache(maxsize=4)
def grain_tile(width: int, height: int) -> np.ndarray:
    """A fixed (2H, 2W) per-pixel Gaussian tile (texture grain)."""
    return np.random.default_rng(20240614).standard_normal((2 * height, 2 * width), dtype=np.float32)


@lru_cache(maxsize=4)
def brick_tile(width: int, height: int) -> np.ndarray:
    return brick_field(np.random.default_rng(20240615), 2 * width, 2 * height)


def tile_window(rng: np.random.Generator, tile: np.ndarray, width: int, height: int) -> np.ndarray:
    """A random (H, W) window of a (2H, 2W) tile: fast, varied, deterministic per image."""
    oy, ox = int(rng.integers(0, height)), int(rng.integers(0, width))
    return tile[oy : oy + height, ox : ox + width]


def noise_window(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A random (H, W, 3) window of the fixed Gaussian tile."""
    return tile_window(rng, sensor_noise_tile(width, height), width, height)


def ground_coordinates(camera: Camera, layout: StreetLayout, rows: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Depth (rows, 1), road-relative lateral (rows, W) and pixel footprint in metres (rows, 1)
    of the road plane for the image rows below the horizon."""
    v = np.arange(rows.start, rows.stop, dtype=np.float32)[:, None]
    depth = camera.focal * camera.height_m / np.maximum(v - camera.horizon, 0.5)
    u = np.arange(camera.width, dtype=np.float32)[None, :]
    lateral = (u - camera.cx) * depth / camera.focal - np.float32(layout.curvature) * depth * depth
    footprint = depth * depth / (camera.focal * camera.height_m)
    return depth, lateral, footprint


def ground_fields(rng: np.random.Generator, camera: Camera, layout: StreetLayout, need_grid: bool) -> tuple[
    np.ndarray, np.ndarray | None,
]:
    """Perspective-correct road noise and paving joints (0 above the horizon)."""
    h, w = camera.height, camera.width
    start = int(min(h, max(0, np.floor(camera.horizon) + 1)))
    noise = np.zeros((h, w), dtype=np.float32)
    grid = np.zeros((h, w), dtype=np.float32) if need_grid else None
    if start >= h:
        return noise, grid
    depth, lateral, footprint = ground_coordinates(camera, layout, slice(start, h))
    grain = rng.standard_normal((GROUND_TILE, GROUND_TILE), dtype=np.float32)
    tile = value_noise(rng, GROUND_TILE, GROUND_TILE, 4.0) + 0.5 * grain
    iz = (depth / GROUND_TEXEL_M).astype(np.int64) % GROUND_TILE
    ix = np.floor(lateral / GROUND_TEXEL_M).astype(np.int64) % GROUND_TILE
    fade = 1.0 / (1.0 + footprint / GROUND_TEXEL_M * 0.7)  # fade where a pixel covers many texels
    noise[start:] = tile[iz, ix] * fade
    if grid is not None:
        gz = (depth / PAVING_SLAB_M) % 1.0
        gx = (lateral / PAVING_SLAB_M) % 1.0
        joint = ((gx < 0.07) | (gz < 0.07 + 0.5 * footprint / PAVING_SLAB_M)).astype(np.float32)
        visible = np.clip(camera.focal / depth * PAVING_SLAB_M / 6.0 - 0.3, 0.0, 1.0)  # fade out small slabs
        grid[start:] = -joint * visible
    return noise, grid


def brick_field(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    brick_h, brick_w = 3, 8
    v = np.arange(height)[:, None]
    u = np.arange(width)[None, :]
    row = v // brick_h
    shifted = u + (row % 2) * (brick_w // 2)
    mortar = (v % brick_h == 0) | (shifted % brick_w == 0)
    tones = rng.standard_normal(4096).astype(np.float32) * 0.5
    tone = tones[(row * 131 + shifted // brick_w) % 4096]
    return np.where(mortar, np.float32(-1.0), tone).astype(np.float32)


def plank_field(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    period = int(rng.integers(3, 6))
    u = np.arange(width)
    line = np.where(u % period == 0, -1.0, 0.2).astype(np.float32)
    return np.broadcast_to(line[None, :], (height, width))


def sky_colours(
    rng: np.random.Generator, camera: Camera, lighting: Lighting, rows_needed: int | None = None,
) -> np.ndarray:
    """(rows, W, 3) float32 sky for the top ``rows_needed`` rows: vertical gradient plus clouds."""
    w = camera.width
    h = camera.height if rows_needed is None else rows_needed
    rows = np.arange(h, dtype=np.float32)
    t = np.clip(rows / max(camera.horizon, 1.0), 0.0, 1.0) ** 1.5
    top = np.asarray(lighting.response(lighting.sky_top), dtype=np.float32)
    horizon = np.asarray(lighting.response(lighting.sky_horizon), dtype=np.float32)
    gradient = (top[None, :] * (1 - t[:, None]) + horizon[None, :] * t[:, None])[:, None, :]
    sky = np.broadcast_to(gradient, (h, w, 3))
    if lighting.cloud_cover <= 0.02:
        return sky
    big = value_noise_window(rng, w, camera.height, 40.0)[:h] * np.float32(rng.uniform(0.8, 1.2))
    density = np.clip(big * 0.9 - (1.2 - 2.0 * lighting.cloud_cover), 0.0, 1.0)
    density *= np.clip(1.2 - t, 0.2, 1.0)[:, None]  # thinner towards the horizon (perspective)
    cloud = np.asarray(lighting.response(lighting.cloud_colour), dtype=np.float32)
    shading = (1.0 - 0.12 * density)[..., None]  # thick cloud is darker
    return sky + (cloud * shading - sky) * density[..., None]


def render_image(
    rng: np.random.Generator,
    camera: Camera,
    layout: StreetLayout,
    lighting: Lighting,
    colour: np.ndarray,
    material: np.ndarray,
    shade: np.ndarray,
    shadow: np.ndarray,
) -> np.ndarray:
    """Final HxWx3 uint8 image from the canvas layers (see :meth:`LayeredCanvas.arrays`)."""
    h, w = material.shape
    present = np.bincount(material.ravel(), minlength=256) > 0
    modulation = np.ones((h, w), dtype=np.float32)

    def add(field_id: TextureField, field: np.ndarray) -> None:
        """modulation += amplitude(material, field) * field, skipped if no material uses it."""
        amp = AMPLITUDES[:, field_id]
        if np.any(amp[present] != 0):
            np.add(modulation, amp[material] * field, out=modulation)

    add(TextureField.FINE, tile_window(rng, grain_tile(w, h), w, h))
    add(TextureField.SMALL, value_noise_window(rng, w, h, 2.5))
    add(TextureField.MID, value_noise_window(rng, w, h, 9.0))
    add(TextureField.COARSE, value_noise_window(rng, w, h, 45.0))
    if present[IS_GROUND].any():
        noise, grid = ground_fields(rng, camera, layout, bool(present[int(Material.PAVING)]))
        add(TextureField.GROUND, noise)
        if grid is not None:
            add(TextureField.PAVING_GRID, grid)
    if present[int(Material.BRICK)]:
        add(TextureField.BRICK, tile_window(rng, brick_tile(w, h), w, h))
    if present[int(Material.WOOD)] or present[int(Material.METAL)]:
        add(TextureField.PLANKS, plank_field(rng, w, h))

    light = modulation * (shade.astype(np.float32) * np.float32(1.0 / 128.0))
    ground_mask = IS_GROUND[material]
    light *= np.where(ground_mask, shadow.astype(np.float32) * np.float32(1.0 / 255.0), np.float32(1.0))
    np.putmask(light, material == Material.LAMP, np.float32(1.0))

    image = colour.astype(np.float32)
    sky = material == Material.SKY
    sky_rows = np.flatnonzero(sky.any(axis=1))
    if len(sky_rows):
        last = int(sky_rows[-1]) + 1
        np.copyto(image[:last], sky_colours(rng, camera, lighting, last), where=sky[:last, :, None])
        np.putmask(light, sky, np.float32(1.0))
    image *= light[..., None]
    image += noise_window(rng, w, h) * np.float32(lighting.noise_sigma)  # sensor noise (blurred a little below)
    np.clip(image, 0, 255, out=image)
    pil = Image.fromarray(image.astype(np.uint8), "RGB").point(lighting.tone_curve().tolist() * 3)
    return np.asarray(pil.filter(ImageFilter.BoxBlur(lighting.blur_radius)))
