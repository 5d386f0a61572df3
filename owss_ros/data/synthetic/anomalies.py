"""Objects of kinds that none of the 19 classes covers: animals, lost cargo, tyres, debris,
furniture, odd machines, barrels, luggage. Labelled with the internal ``ANOMALY`` value.
"""

from __future__ import annotations

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.canvas import ellipse_points
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material
from owss_ros.data.synthetic.people import FigureDrawer
from owss_ros.data.synthetic.solids import box_vertices, draw_on_face, draw_solid
from owss_ros.data.synthetic.vegetation import blob

ANOMALY_KINDS = ("animal", "cargo", "tyre", "debris", "furniture", "machine", "barrel", "luggage")
ANOMALY_WEIGHTS = (0.22, 0.18, 0.1, 0.1, 0.14, 0.1, 0.08, 0.08)

ANIMALS = {  # body length, body height, leg length
    "dog": (0.75, 0.3, 0.32),
    "sheep": (1.0, 0.5, 0.4),
    "deer": (1.4, 0.55, 0.75),
    "cow": (2.0, 0.85, 0.7),
    "horse": (2.0, 0.75, 0.9),
    "boar": (1.2, 0.55, 0.3),
}

# Approximate footprint (width, length) of each kind for placement; the drawers scale within.
ANOMALY_FOOTPRINT = {"animal": (0.8, 2.2), "cargo": (1.4, 1.4), "tyre": (0.9, 0.9), "debris": (2.0, 2.0),
                     "furniture": (1.8, 1.2), "machine": (1.6, 1.8), "barrel": (0.7, 0.7), "luggage": (0.7, 0.5)}


def animal_colour(rng):
    return palette.pick(rng, [
        lambda: palette.jitter(rng, (120, 85, 55), 12),
        lambda: palette.grey(rng, 20, 50, 3),
        lambda: palette.grey(rng, 200, 235, 4),
        lambda: palette.jitter(rng, (175, 140, 95), 12),
        lambda: palette.grey(rng, 100, 140, 5),
    ])()


def draw_animal(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    species = list(ANIMALS)[int(rng.integers(len(ANIMALS)))]
    length, body_h, leg = (v * rng.uniform(0.85, 1.15) for v in ANIMALS[species])
    colour = animal_colour(rng)
    side = rng.random() < 0.75
    span = length if side else length * 0.35
    ctx.cast_shadow(
        np.array([[x - span / 2, z], [x + span / 2, z], [x + span / 2, z + 0.4], [x - span / 2, z + 0.4]]),
        leg + body_h, base_y, 0.8,
    )
    f = FigureDrawer(ctx, x, z, base_y, L.ANOMALY, mirror=bool(rng.random() < 0.5))
    body_v = leg + body_h / 2
    leg_w = max(0.06, body_h * 0.22)
    dark = palette.darker(colour, 0.75)
    if side:
        for u, shade in ((-0.32, 0.8), (0.34, 0.8), (-0.4, 1.0), (0.4, 1.0)):
            step = rng.uniform(-0.12, 0.12) * leg
            f.limb(
                (u * length, body_v), (u * length + step, 0.0), leg_w, dark if shade < 1 else colour, Material.FABRIC,
                shade,
            )
        f.poly(ellipse_points(0.0, body_v, length / 2, body_h / 2, 16), colour, Material.FABRIC)
        if species == "cow" and rng.random() < 0.6:
            for _ in range(3):
                f.poly(
                    blob(rng, body_h * 0.25, body_h * 0.2, 9) + [rng.uniform(-0.3, 0.3) * length, body_v],
                    palette.grey(rng, 15, 40), Material.FABRIC,
                )
        neck_top = (length * 0.55, body_v + body_h * (0.9 if species in ("horse", "deer") else 0.35))
        f.limb((length * 0.38, body_v), neck_top, body_h * 0.45, colour, Material.FABRIC)
        f.poly(
            ellipse_points(neck_top[0] + body_h * 0.25, neck_top[1], body_h * 0.35, body_h * 0.22, 10), colour,
            Material.FABRIC,
        )
        f.limb(
            (-length / 2, body_v + body_h * 0.2), (-length / 2 - 0.1 - length * 0.08, body_v - body_h * 0.3),
            max(0.04, body_h * 0.1), dark, Material.FABRIC,
        )
        if species == "deer" and rng.random() < 0.6:
            base = np.array(neck_top) + [body_h * 0.1, body_h * 0.2]
            f.limb(base, base + [0.1, 0.45], 0.04, (90, 70, 50), Material.WOOD)
            f.limb(base + [0.05, 0.25], base + [0.3, 0.4], 0.035, (90, 70, 50), Material.WOOD)
    else:
        w = length * 0.32
        for u in (-0.3, 0.3):
            f.limb((u * w, body_v), (u * w, 0.0), leg_w, dark, Material.FABRIC)
        f.poly(ellipse_points(0.0, body_v + body_h * 0.1, w / 2 + 0.05, body_h * 0.6, 14), colour, Material.FABRIC)
        f.poly(ellipse_points(0.0, body_v + body_h * 0.65, body_h * 0.3, body_h * 0.35, 12), colour, Material.FABRIC)


def draw_cargo(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    colour = palette.pick(
        rng, [(165, 125, 80), (150, 110, 70), (200, 170, 120), (70, 90, 140), (180, 50, 40), (215, 215, 210)],
    )
    colour = palette.jitter(rng, colour, 8)
    y = base_y
    for _ in range(1 if rng.random() < 0.7 else 2):
        w, l, h = rng.uniform(0.35, 1.4), rng.uniform(0.35, 1.4), rng.uniform(0.25, 1.0)
        verts = box_vertices(x + rng.normal(0, 0.1), z, w, l, y, y + h, rng.uniform(-0.6, 0.6))
        ctx.cast_shadow(verts[:4, [0, 2]], h, base_y, 0.9)
        faces = draw_solid(ctx, verts, colour, L.ANOMALY, Material.WOOD if rng.random() < 0.4 else Material.FABRIC)
        for face in faces.values():
            if face.name != "top":
                draw_on_face(
                    ctx, face, 0.0, 1.0, 0.45, 0.55, palette.jitter(rng, (205, 185, 140), 10), L.ANOMALY,
                    Material.SMOOTH,
                )
        y += h


def draw_tyre(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng, cam = ctx.rng, ctx.camera
    r = rng.uniform(0.3, 0.55)
    f = FigureDrawer(ctx, x, z, base_y, L.ANOMALY)
    ctx.cast_shadow(np.array([[x - r, z], [x + r, z], [x + r, z + 0.3], [x - r, z + 0.3]]), r, base_y, 0.9)
    if rng.random() < 0.5:  # standing, seen at an angle
        squash = rng.uniform(0.35, 1.0)
        f.poly(ellipse_points(0.0, r, r * squash, r, 16), palette.tyre(rng), Material.RUBBER)
        f.poly(ellipse_points(0.0, r, r * squash * 0.55, r * 0.55, 12), palette.grey(rng, 60, 160), Material.METAL)
    else:  # lying flat: a ring on the ground
        t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        outer = np.stack([x + r * np.cos(t), np.full(16, base_y + 0.22), z + r * np.sin(t)], 1)
        ctx.fill(outer, palette.tyre(rng), L.ANOMALY, Material.RUBBER, ctx.lighting.ground_shade)
        inner = np.stack([x + 0.55 * r * np.cos(t), np.full(16, base_y + 0.22), z + 0.55 * r * np.sin(t)], 1)
        ctx.fill(inner, palette.grey(rng, 10, 30), L.ANOMALY, Material.RUBBER, 0.6)
        front = np.array([[-r, 0.0], [r, 0.0], [r, 0.22], [-r, 0.22]])
        ctx.fill_screen(cam.billboard(x, z - r * 0.7, front, base_y), palette.tyre(rng), L.ANOMALY, Material.RUBBER, z)


def draw_debris(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    pieces = int(rng.integers(2, 7))
    spots = [(x + rng.uniform(-1.0, 1.0), z + rng.uniform(-0.8, 0.8)) for _ in range(pieces)]
    for px, pz in sorted(spots, key=lambda s: -s[1]):  # far pieces first
        if rng.random() < 0.5:  # plank / beam
            w, l, h = rng.uniform(0.08, 0.3), rng.uniform(0.6, 2.0), rng.uniform(0.05, 0.2)
            verts = box_vertices(px, pz, w, l, base_y, base_y + h, rng.uniform(0, np.pi))
            draw_solid(ctx, verts, palette.jitter(rng, (140, 105, 70), 15), L.ANOMALY, Material.WOOD)
        else:  # rock / rubble lump
            f = FigureDrawer(ctx, px, pz, base_y, L.ANOMALY)
            outline = blob(rng, rng.uniform(0.1, 0.45), rng.uniform(0.08, 0.3), 10, 0.25)
            outline[:, 1] = np.abs(outline[:, 1])
            f.poly(outline, palette.grey(rng, 70, 170, 8), Material.CONCRETE)


def draw_furniture(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    kind = palette.pick(rng, ["chair", "sofa", "table", "mattress", "wardrobe"])
    colour = palette.pick(rng, [
        lambda: palette.jitter(rng, (120, 80, 50), 12),
        lambda: palette.clothing(rng),
        lambda: palette.grey(rng, 170, 230),
    ])()
    yaw = rng.uniform(-0.8, 0.8)
    material = Material.WOOD if kind in ("chair", "table", "wardrobe") else Material.FABRIC

    def part(dx, dz, w, l, y0, y1, col=colour):
        c, s = np.cos(yaw), np.sin(yaw)
        verts = box_vertices(x + c * dx + s * dz, z - s * dx + c * dz, w, l, base_y + y0, base_y + y1, yaw)
        draw_solid(ctx, verts, col, L.ANOMALY, material)

    ctx.cast_shadow(
        np.array([[x - 0.6, z - 0.4], [x + 0.6, z - 0.4], [x + 0.6, z + 0.4], [x - 0.6, z + 0.4]]), 0.8, base_y, 0.8,
    )
    if kind == "chair":
        for dx, dz in ((-0.2, 0.2), (0.2, 0.2), (-0.2, -0.2), (0.2, -0.2)):
            part(dx, dz, 0.05, 0.05, 0.0, 0.45)
        part(0.0, 0.0, 0.48, 0.48, 0.42, 0.48)
        part(0.0, 0.22, 0.48, 0.05, 0.48, 0.95)
    elif kind == "sofa":
        part(0.0, 0.0, 1.8, 0.85, 0.0, 0.45)
        part(0.0, 0.35, 1.8, 0.2, 0.45, 0.85, palette.darker(colour, 0.9))
        for dx in (-0.8, 0.8):
            part(dx, 0.0, 0.2, 0.85, 0.45, 0.65)
    elif kind == "table":
        for dx, dz in ((-0.6, 0.35), (0.6, 0.35), (-0.6, -0.35), (0.6, -0.35)):
            part(dx, dz, 0.06, 0.06, 0.0, 0.72)
        part(0.0, 0.0, 1.4, 0.85, 0.72, 0.77)
    elif kind == "mattress":
        part(0.0, 0.0, 1.4, 2.0, 0.0, 0.22, palette.grey(rng, 200, 240))
    else:
        part(0.0, 0.0, 1.1, 0.55, 0.0, rng.uniform(1.6, 2.0))


def draw_machine(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    paint = palette.pick(rng, [(235, 180, 20), (230, 110, 20), (60, 140, 60), (200, 40, 40), (70, 90, 160)])
    paint = palette.jitter(rng, paint, 10)
    w, l, h = rng.uniform(0.7, 1.4), rng.uniform(0.8, 1.6), rng.uniform(0.5, 1.1)
    yaw = rng.uniform(-0.8, 0.8)
    ctx.cast_shadow(box_vertices(x, z, w, l, 0, 1, yaw)[:4, [0, 2]], h + 0.5, base_y, 0.9)
    for dx in (-w / 2 + 0.1, w / 2 - 0.1):
        draw_solid(
            ctx, box_vertices(x + dx, z - l / 3, 0.12, 0.35, base_y, base_y + 0.35, yaw), palette.tyre(rng), L.ANOMALY,
            Material.RUBBER,
        )
    faces = draw_solid(ctx, box_vertices(x, z, w, l, base_y + 0.15, base_y + h, yaw), paint, L.ANOMALY, Material.METAL)
    for face in faces.values():
        if face.name != "top":
            draw_on_face(ctx, face, 0.15, 0.45, 0.3, 0.7, palette.grey(rng, 30, 80), L.ANOMALY, Material.METAL)
    f = FigureDrawer(ctx, x, z - l / 2 - 0.05, base_y, L.ANOMALY)
    drum_r = rng.uniform(0.25, 0.5)
    f.poly(
        ellipse_points(rng.uniform(-0.2, 0.2), h + drum_r * 0.8, drum_r * 1.2, drum_r, 14), palette.grey(rng, 120, 200),
        Material.METAL,
    )
    f.limb((w * 0.3, h), (w * 0.3 + 0.05, h + rng.uniform(0.4, 0.9)), 0.07, (45, 45, 45), Material.METAL)


def draw_barrel(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    colour = palette.jitter(
        rng, palette.pick(rng, [(30, 70, 150), (200, 90, 20), (170, 30, 30), (30, 30, 30), (40, 110, 60)]), 10,
    )
    r, h = rng.uniform(0.28, 0.32), rng.uniform(0.85, 0.95)
    f = FigureDrawer(ctx, x, z, base_y, L.ANOMALY)
    ctx.cast_shadow(np.array([[x - r, z], [x + r, z], [x + r, z + 2 * r], [x - r, z + 2 * r]]), h, base_y, 0.9)
    if rng.random() < 0.7:  # upright
        f.poly(np.array([[-r, 0], [r, 0], [r, h], [-r, h]]), colour, Material.METAL)
        for v in (h * 0.33, h * 0.66):
            f.poly(
                np.array([[-r, v - 0.02], [r, v - 0.02], [r, v + 0.02], [-r, v + 0.02]]), palette.darker(colour, 0.7),
                Material.METAL,
            )
        f.poly(ellipse_points(0.0, h, r, r * 0.25, 12), palette.darker(colour, 1.15), Material.METAL)
    else:  # rolled over
        f.poly(np.array([[-h / 2, 0], [h / 2, 0], [h / 2, 2 * r], [-h / 2, 2 * r]]), colour, Material.METAL)
        f.poly(ellipse_points(h / 2, r, r * 0.3, r, 10), palette.darker(colour, 0.8), Material.METAL)


def draw_luggage(ctx: SceneContext, x: float, z: float, base_y: float) -> None:
    rng = ctx.rng
    colour = palette.jitter(
        rng, palette.pick(rng, [(30, 30, 35), (120, 30, 40), (40, 60, 120), (150, 150, 155), (200, 120, 40)]), 10,
    )
    w, l, h = rng.uniform(0.4, 0.75), rng.uniform(0.2, 0.35), rng.uniform(0.5, 0.8)
    verts = box_vertices(x, z, w, l, base_y, base_y + h, rng.uniform(-1, 1))
    ctx.cast_shadow(verts[:4, [0, 2]], h, base_y, 0.9)
    draw_solid(ctx, verts, colour, L.ANOMALY, Material.FABRIC)
    f = FigureDrawer(ctx, x, z - l / 2, base_y, L.ANOMALY)
    f.poly(np.array([[-0.1, h], [0.1, h], [0.1, h + 0.1], [-0.1, h + 0.1]]), (30, 30, 30), Material.RUBBER)


DRAWERS = {
    "animal": draw_animal,
    "cargo": draw_cargo,
    "tyre": draw_tyre,
    "debris": draw_debris,
    "furniture": draw_furniture,
    "machine": draw_machine,
    "barrel": draw_barrel,
    "luggage": draw_luggage,
}


def draw_anomaly(ctx: SceneContext, kind: str, x: float, z: float, base_y: float = 0.0) -> None:
    DRAWERS[kind](ctx, x, z, base_y)
