"""Bicycles and motorcycles, optionally ridden, seen from the side or along the road."""

from __future__ import annotations

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.canvas import ellipse_points
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material
from owss_ros.data.synthetic.people import FigureDrawer, draw_rider_end, draw_rider_side


def draw_bicycle(ctx: SceneContext, x: float, z: float, base_y: float, side_view: bool, ridden: bool) -> None:
    rng, cam = ctx.rng, ctx.camera
    colour = palette.two_wheeler_paint(rng)
    mirror = bool(rng.random() < 0.5)
    f = FigureDrawer(ctx, x, z, base_y, L.BICYCLE, mirror)
    ctx.cast_shadow(np.array([[x - 0.8, z], [x + 0.8, z], [x + 0.8, z + 0.1], [x - 0.8, z + 0.1]]), 1.0, base_y, 0.6)
    r = rng.uniform(0.31, 0.36)
    if side_view:
        ppm = cam.pixels_per_metre(z)
        sign = -1.0 if mirror else 1.0
        for hub_u in (-0.55, 0.55):
            centre = cam.billboard(x, z, np.array([[sign * hub_u, r]]), base_y)[0]
            ctx.canvas.ring(
                tuple(centre), r * ppm, r * ppm, max(1.0, 0.05 * ppm), palette.tyre(rng), L.BICYCLE, Material.RUBBER,
                f.shade,
            )
        rear, front = np.array([-0.55, r]), np.array([0.55, r])
        crank, seat, stem = np.array([0.0, 0.3]), np.array([-0.18, 0.88]), np.array([0.38, 0.95])
        for a, b in (
            (rear, crank), (rear, seat), (crank, seat), (seat + [0.02, -0.05], stem), (crank, stem), (stem, front),
        ):
            f.limb(a, b, 0.045, colour, Material.METAL)
        f.poly(np.array([[-0.3, 0.88], [-0.08, 0.88], [-0.1, 0.94], [-0.28, 0.94]]), (30, 30, 30), Material.FABRIC)
        f.limb(stem, stem + [0.1, 0.04], 0.04, (40, 40, 40), Material.METAL)
        if ridden:
            draw_rider_side(
                ctx, x, z, base_y, mirror, seat=(-0.19, 0.93), hands=(0.46, 1.0), pedal=(0.08, 0.25),
                helmet=bool(rng.random() < 0.4),
            )
    else:
        f.poly(np.array([[-0.03, 0.0], [0.03, 0.0], [0.03, 2 * r], [-0.03, 2 * r]]), palette.tyre(rng), Material.RUBBER)
        f.limb((0.0, 2 * r), (0.0, 0.95), 0.05, colour, Material.METAL)
        f.limb((-0.28, 0.98), (0.28, 0.98), 0.035, (40, 40, 40), Material.METAL)
        f.poly(np.array([[-0.07, 0.82], [0.07, 0.82], [0.07, 0.88], [-0.07, 0.88]]), (30, 30, 30), Material.FABRIC)
        if ridden:
            draw_rider_end(ctx, x, z - 0.05, base_y, seat_v=0.9, bar_half=0.26, helmet=bool(rng.random() < 0.4))


def draw_motorcycle(ctx: SceneContext, x: float, z: float, base_y: float, side_view: bool, ridden: bool) -> None:
    rng = ctx.rng
    colour = palette.two_wheeler_paint(rng)
    mirror = bool(rng.random() < 0.5)
    f = FigureDrawer(ctx, x, z, base_y, L.MOTORCYCLE, mirror)
    ctx.cast_shadow(np.array([[x - 1.0, z], [x + 1.0, z], [x + 1.0, z + 0.2], [x - 1.0, z + 0.2]]), 1.1, base_y, 0.7)
    r = rng.uniform(0.3, 0.34)
    if side_view:
        for hub_u in (-0.72, 0.72):
            f.poly(ellipse_points(hub_u, r, r, r, 14), palette.tyre(rng), Material.RUBBER)
            f.poly(ellipse_points(hub_u, r, r * 0.5, r * 0.5, 10), palette.grey(rng, 100, 190), Material.METAL)
        body = np.array([
            [-0.55, 0.55], [-0.2, 0.35], [0.3, 0.35], [0.5, 0.6], [0.45, 0.85], [0.1, 0.9], [-0.35, 0.78], [-0.75, 0.8],
            [-0.8, 0.7],
        ])
        f.poly(body, colour, Material.SMOOTH)
        f.poly(
            np.array([[-0.2, 0.3], [0.25, 0.3], [0.2, 0.55], [-0.15, 0.55]]), palette.grey(rng, 40, 110),
            Material.METAL,
        )
        f.limb((0.72, r), (0.5, 1.0), 0.06, palette.grey(rng, 120, 200), Material.METAL)
        f.limb((0.45, 1.0), (0.62, 1.05), 0.05, (35, 35, 35), Material.METAL)
        f.poly(np.array([[-0.55, 0.85], [0.05, 0.9], [0.05, 0.95], [-0.5, 0.92]]), (25, 25, 25), Material.FABRIC)
        if ridden:
            draw_rider_side(
                ctx, x, z, base_y, mirror, seat=(-0.3, 0.92), hands=(0.52, 1.02), pedal=(0.0, 0.42), helmet=True,
            )
    else:
        f.poly(np.array([[-0.07, 0.0], [0.07, 0.0], [0.07, 2 * r], [-0.07, 2 * r]]), palette.tyre(rng), Material.RUBBER)
        f.poly(np.array([[-0.22, 0.4], [0.22, 0.4], [0.25, 0.9], [-0.25, 0.9]]), colour, Material.SMOOTH)
        f.limb((-0.38, 1.05), (0.38, 1.05), 0.04, (35, 35, 35), Material.METAL)
        f.poly(ellipse_points(0.0, 0.75, 0.05, 0.04, 8), (210, 25, 20), Material.LAMP)
        if ridden:
            draw_rider_end(ctx, x, z - 0.05, base_y, seat_v=0.9, bar_half=0.36, helmet=True)
