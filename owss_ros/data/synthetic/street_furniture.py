"""Poles, street lamps, traffic lights and traffic signs."""

from __future__ import annotations

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.canvas import ellipse_points
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material
from owss_ros.data.synthetic.solids import box_vertices, draw_solid

LAMP_COLOURS = {"red": (255, 40, 30), "amber": (255, 170, 20), "green": (40, 255, 120)}


def _pole(ctx: SceneContext, x: float, z: float, base_y: float, height: float, width: float, colour) -> None:
    ctx.cast_shadow(
        np.array([[x - width / 2, z], [x + width / 2, z], [x + width / 2, z + width], [x - width / 2, z + width]]),
        height, base_y, 0.9,
    )
    draw_solid(ctx, box_vertices(x, z, width, width, base_y, base_y + height), colour, L.POLE, Material.METAL)


def draw_plain_pole(ctx: SceneContext, lateral: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    x = float(ctx.layout.centre(z)) + lateral
    _pole(ctx, x, z, base_y, rng.uniform(2.5, 9.0), rng.uniform(0.1, 0.3), palette.pole(rng))


def draw_street_lamp(ctx: SceneContext, lateral: float, z: float, base_y: float, side: int) -> None:
    rng = ctx.rng
    x = float(ctx.layout.centre(z)) + lateral
    height = rng.uniform(6.0, 10.0)
    colour = palette.pole(rng)
    _pole(ctx, x, z, base_y, height, rng.uniform(0.12, 0.25), colour)
    reach = rng.uniform(1.0, 3.0)
    arm = box_vertices(x - side * reach / 2, z, reach, 0.1, base_y + height - 0.12, base_y + height)
    draw_solid(ctx, arm, colour, L.POLE, Material.METAL)
    head = box_vertices(x - side * reach, z, 0.6, 0.3, base_y + height - 0.25, base_y + height + 0.02)
    draw_solid(ctx, head, palette.darker(colour, 0.8), L.POLE, Material.METAL)


def draw_traffic_light(ctx: SceneContext, lateral: float, z: float, base_y: float, side: int) -> None:
    rng, cam = ctx.rng, ctx.camera
    x = float(ctx.layout.centre(z)) + lateral
    pole_colour = palette.pole(rng)
    overhead = rng.random() < 0.35
    height = rng.uniform(2.4, 3.6) if not overhead else rng.uniform(5.0, 6.5)
    _pole(ctx, x, z, base_y, height, rng.uniform(0.1, 0.2), pole_colour)
    hx = x
    top = base_y + height
    if overhead:
        reach = rng.uniform(2.5, 6.0)
        arm = box_vertices(x - side * reach / 2, z, reach, 0.15, top - 0.2, top)
        draw_solid(ctx, arm, pole_colour, L.POLE, Material.METAL)
        hx = x - side * reach * rng.uniform(0.6, 0.95)
        top -= 0.2
    housing_h, housing_w = rng.uniform(0.8, 1.0), rng.uniform(0.28, 0.38)
    y0 = top - housing_h if overhead else top
    housing = box_vertices(hx, z - 0.15, housing_w, 0.3, y0, y0 + housing_h)
    faces = draw_solid(ctx, housing, palette.traffic_light_housing(rng), L.TRAFFIC_LIGHT, Material.SMOOTH)
    facing_camera = rng.random() < 0.75
    if "near" in faces and facing_camera:
        lit = palette.pick(rng, list(LAMP_COLOURS))
        zf = z - 0.31
        for i, name in enumerate(("red", "amber", "green")):
            v = y0 + housing_h * (0.8 - 0.3 * i) - base_y
            r = housing_w * 0.32
            pts = cam.billboard(hx, zf, ellipse_points(0.0, v, r, r, 10), base_y)
            colour = LAMP_COLOURS[name] if name == lit else (40, 40, 35)
            ctx.fill_screen(pts, colour, L.TRAFFIC_LIGHT, Material.LAMP if name == lit else Material.SMOOTH, zf)


SIGN_SHAPES = ("circle", "triangle", "square", "diamond", "octagon", "rectangle")


def sign_outline(shape: str, size: float) -> np.ndarray:
    s = size / 2
    if shape == "circle":
        return ellipse_points(0, 0, s, s, 14)
    if shape == "triangle":
        return np.array([[-s, -0.8 * s], [s, -0.8 * s], [0, s]])
    if shape == "square":
        return np.array([[-s, -s], [s, -s], [s, s], [-s, s]])
    if shape == "diamond":
        return np.array([[0, -s], [s, 0], [0, s], [-s, 0]])
    if shape == "octagon":
        return ellipse_points(0, 0, s, s, 8, start=np.pi / 8, stop=np.pi / 8 + 2 * np.pi)
    return np.array([[-1.6 * s, -0.7 * s], [1.6 * s, -0.7 * s], [1.6 * s, 0.7 * s], [-1.6 * s, 0.7 * s]])


def draw_traffic_sign(ctx: SceneContext, lateral: float, z: float, base_y: float) -> None:
    rng, cam = ctx.rng, ctx.camera
    x = float(ctx.layout.centre(z)) + lateral
    height = rng.uniform(1.9, 3.2)
    _pole(ctx, x, z, base_y, height, rng.uniform(0.06, 0.12), palette.pole(rng))
    for k in range(1 if rng.random() < 0.7 else 2):
        shape = SIGN_SHAPES[int(rng.integers(len(SIGN_SHAPES)))]
        size = rng.uniform(0.5, 0.9)
        centre = height - k * (size + 0.1) - size / 2 + 0.1
        outline = sign_outline(shape, size)
        zf = z - 0.08
        front = rng.random() < 0.75
        if front:
            face, border = palette.sign_face(rng)
            ctx.fill_screen(
                cam.billboard(x, zf, outline + [0, centre], base_y), border, L.TRAFFIC_SIGN, Material.SMOOTH, zf,
            )
            ctx.fill_screen(
                cam.billboard(x, zf, outline * 0.78 + [0, centre], base_y), face, L.TRAFFIC_SIGN, Material.SMOOTH, zf,
            )
            if rng.random() < 0.5:  # a pictogram / digits
                glyph = np.array([[-0.12, -0.12], [0.12, -0.12], [0.04, 0.15], [-0.04, 0.15]]) * size * 1.5
                ctx.fill_screen(
                    cam.billboard(x, zf, glyph + [0, centre], base_y), palette.grey(rng, 10, 40), L.TRAFFIC_SIGN,
                    Material.SMOOTH, zf,
                )
        else:
            ctx.fill_screen(
                cam.billboard(x, zf, outline + [0, centre], base_y), palette.grey(rng, 110, 180), L.TRAFFIC_SIGN,
                Material.METAL, zf,
            )
