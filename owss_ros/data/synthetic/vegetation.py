"""Free-standing vegetation: trees (broadleaf and conifer) and bushes."""

from __future__ import annotations

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material
from owss_ros.data.synthetic.solids import box_vertices, draw_solid


def blob(rng: np.random.Generator, rx: float, ry: float, n: int = 18, roughness: float = 0.15) -> np.ndarray:
    """(n, 2) irregular closed outline around the origin (metres)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = 1.0 + roughness * (np.sin(3 * t + rng.uniform(0, 6)) * rng.uniform(0.3, 1) + np.sin(5 * t + rng.uniform(
        0, 6,
    )) * rng.uniform(0.2, 0.7))
    r += roughness * 0.6 * rng.standard_normal(n)
    return np.stack([rx * r * np.cos(t), ry * r * np.sin(t)], axis=1)


def draw_tree(ctx: SceneContext, lateral: float, z: float, base_y: float) -> None:
    rng, cam = ctx.rng, ctx.camera
    x = float(ctx.layout.centre(z)) + lateral
    conifer = rng.random() < 0.2
    trunk_h = rng.uniform(1.5, 3.5)
    crown_r = rng.uniform(1.2, 3.2)
    trunk_w = rng.uniform(0.18, 0.45)
    colour = palette.vegetation(rng)
    total_h = trunk_h + 2 * crown_r
    ctx.cast_shadow(
        np.array([[x - crown_r, z], [x + crown_r, z], [x + crown_r, z + 0.3], [x - crown_r, z + 0.3]]), total_h * 0.6,
        base_y, 0.8,
    )
    trunk = box_vertices(x, z, trunk_w, trunk_w, base_y, base_y + trunk_h + crown_r * 0.6)
    draw_solid(ctx, trunk, palette.jitter(rng, (80, 65, 50), 10), L.VEGETATION, Material.WOOD)
    centre_v = trunk_h + crown_r * 0.8
    if conifer:
        layers = int(rng.integers(3, 6))
        for i in range(layers):
            w = crown_r * (1.0 - i / (layers + 1))
            y0 = trunk_h * 0.7 + i * (2 * crown_r) / layers
            tri = np.array([[-w, y0], [w, y0], [0.0, y0 + 2.2 * crown_r / layers + 0.6]])
            shade = ctx.lighting.ambient * (0.85 + 0.1 * i)
            ctx.fill_screen(
                cam.billboard(x, z, tri, base_y), palette.darker(colour, 0.8), L.VEGETATION, Material.FOLIAGE, z, shade,
            )
        return
    outline = blob(rng, crown_r * rng.uniform(0.9, 1.3), crown_r) + np.array([0.0, centre_v])
    ctx.fill_screen(
        cam.billboard(x, z, outline, base_y), colour, L.VEGETATION, Material.FOLIAGE, z, ctx.lighting.ambient * 0.9,
    )
    # sunlit clumps on the upper side for volume (only where they would be visible)
    clumps = int(rng.integers(1, 4)) if cam.pixels_per_metre(z) * crown_r > 6 else 0
    for _ in range(clumps):
        r = crown_r * rng.uniform(0.3, 0.55)
        off = np.array([rng.uniform(-0.5, 0.5) * crown_r, centre_v + rng.uniform(0.0, 0.5) * crown_r])
        clump = blob(rng, r, r * 0.8, 12) + off
        shade = ctx.lighting.face_shade(np.array([rng.uniform(-0.5, 0.5), 0.8, -0.3]))
        ctx.fill_screen(
            cam.billboard(x, z, clump, base_y), palette.jitter(rng, colour, 6, 0.1), L.VEGETATION, Material.FOLIAGE, z,
            shade,
        )


def draw_bush(ctx: SceneContext, lateral: float, z: float, base_y: float) -> None:
    rng, cam = ctx.rng, ctx.camera
    x = float(ctx.layout.centre(z)) + lateral
    w, h = rng.uniform(0.5, 1.8), rng.uniform(0.4, 1.4)
    outline = blob(rng, w, h, 14, 0.12)
    outline[:, 1] = np.maximum(outline[:, 1], -0.05 * h) + 0.05 * h
    ctx.fill_screen(
        cam.billboard(x, z, outline, base_y), palette.vegetation(rng), L.VEGETATION, Material.FOLIAGE, z,
        ctx.lighting.ambient,
    )
