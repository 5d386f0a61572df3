"""Pedestrians and riders drawn as flat figures facing the camera, scaled by depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.canvas import ellipse_points, thick_segment
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material


@dataclass(frozen=True)
class Outfit:
    skin: tuple
    hair: tuple
    top: tuple
    legs: tuple
    shoes: tuple
    coat: bool
    helmet: tuple | None = None


def sample_outfit(rng: np.random.Generator, helmet: bool = False) -> Outfit:
    return Outfit(
        skin=palette.skin(rng),
        hair=palette.hair(rng),
        top=palette.clothing(rng),
        legs=palette.clothing(rng) if rng.random() < 0.6 else palette.jitter(rng, (45, 60, 95), 10),
        shoes=palette.grey(rng, 15, 80),
        coat=bool(rng.random() < 0.25),
        helmet=palette.two_wheeler_paint(rng) if helmet else None,
    )


class FigureDrawer:
    """Draws polygons given in metres (u right, v up) at a ground point."""

    def __init__(self, ctx: SceneContext, x: float, z: float, base_y: float, label: int, mirror: bool = False):
        self.ctx, self.x, self.z, self.base_y, self.label = ctx, x, z, base_y, label
        self.sign = -1.0 if mirror else 1.0
        self.shade = ctx.lighting.face_shade(np.array([0.0, 0.2, -1.0]))

    def poly(self, local: np.ndarray, colour, material: Material = Material.FABRIC, shade: float = 1.0) -> None:
        pts = np.asarray(local, dtype=np.float64) * np.array([self.sign, 1.0])
        screen = self.ctx.camera.billboard(self.x, self.z, pts, self.base_y)
        self.ctx.fill_screen(screen, colour, self.label, material, self.z, self.shade * shade)

    def limb(self, a, b, width: float, colour, material: Material = Material.FABRIC, shade: float = 1.0) -> None:
        self.poly(thick_segment(np.asarray(a), np.asarray(b), width), colour, material, shade)

    def head(self, centre, rx: float, ry: float, outfit: Outfit) -> None:
        cu, cv = centre
        self.poly(ellipse_points(cu, cv, rx, ry, 12), outfit.skin, Material.SKIN)
        if outfit.helmet is not None:
            self.poly(
                ellipse_points(cu, cv + ry * 0.15, rx * 1.15, ry * 1.0, 12, 0.0, np.pi), outfit.helmet, Material.SMOOTH,
            )
        else:
            self.poly(
                ellipse_points(cu, cv + ry * 0.2, rx * 1.05, ry * 0.9, 10, 0.0, np.pi), outfit.hair, Material.FABRIC,
            )


def draw_person(ctx: SceneContext, x: float, z: float, base_y: float, walking_across: bool | None = None) -> None:
    rng = ctx.rng
    h = rng.uniform(1.55, 1.95) if rng.random() < 0.9 else rng.uniform(1.0, 1.4)
    outfit = sample_outfit(rng)
    ctx.cast_shadow(np.array([[x - 0.25, z], [x + 0.25, z], [x + 0.25, z + 0.3], [x - 0.25, z + 0.3]]), h, base_y, 0.8)
    across = rng.random() < 0.5 if walking_across is None else walking_across
    f = FigureDrawer(ctx, x, z, base_y, L.PERSON, mirror=bool(rng.random() < 0.5))
    stride = rng.uniform(-0.17, 0.17) * h if across else rng.uniform(-0.03, 0.03) * h
    hip_v, shoulder_v = 0.52 * h, 0.81 * h
    shoulder = rng.uniform(0.11, 0.14) * h * (0.75 if across else 1.0)
    hip = 0.09 * h * (0.8 if across else 1.0)
    leg_w = 0.075 * h
    for sgn, shade in ((1, 0.85), (-1, 1.0)):  # far leg darker, then near leg
        foot = (sgn * stride + (0 if across else sgn * 0.06 * h), 0.03 * h)
        f.limb((sgn * 0.04 * h, hip_v), foot, leg_w, outfit.legs, shade=shade)
        shoe = np.array([[-0.04 * h, 0], [0.07 * h, 0], [0.06 * h, 0.04 * h], [-0.04 * h, 0.04 * h]]) + [foot[0], 0.0]
        f.poly(shoe, outfit.shoes, Material.RUBBER, shade)
    bottom = 0.3 * h if outfit.coat else hip_v - 0.03 * h
    torso = np.array([
        [-hip * 1.05, bottom], [hip * 1.05, bottom], [shoulder, shoulder_v], [shoulder * 0.6, shoulder_v + 0.03 * h],
        [-shoulder * 0.6, shoulder_v + 0.03 * h], [-shoulder, shoulder_v],
    ])
    f.poly(torso, outfit.top)
    swing = rng.uniform(-0.12, 0.12) * h if across else 0.0
    for sgn in (1, -1):
        hand = (sgn * (shoulder + 0.02 * h) + sgn * swing * 0.5 + (swing if across else 0.0), 0.46 * h)
        f.limb((sgn * (shoulder - 0.025 * h), shoulder_v - 0.01 * h), hand, 0.055 * h, outfit.top, shade=0.92)
        f.poly(ellipse_points(hand[0], hand[1] - 0.02 * h, 0.025 * h, 0.03 * h, 6), outfit.skin, Material.SKIN)
    if rng.random() < 0.2:  # a bag or backpack counts as part of the person
        bag = np.array([
            [shoulder * 0.9, 0.45 * h], [shoulder * 0.9 + 0.12 * h, 0.45 * h], [shoulder * 0.9 + 0.12 * h, 0.6 * h],
            [shoulder * 0.9, 0.6 * h],
        ])
        f.poly(bag, palette.clothing(rng), Material.FABRIC)
    f.poly(
        np.array([[-0.025 * h, shoulder_v], [0.025 * h, shoulder_v], [0.025 * h, 0.87 * h], [-0.025 * h, 0.87 * h]]),
        outfit.skin, Material.SKIN,
    )
    f.head((0.0, 0.925 * h), 0.06 * h, 0.07 * h, outfit)


def draw_rider_side(
    ctx: SceneContext, x: float, z: float, base_y: float, mirror: bool, seat: tuple, hands: tuple, pedal: tuple,
    helmet: bool,
) -> None:
    """A rider seen from the side; ``seat``, ``hands``, ``pedal`` are (u, v) in metres."""
    rng = ctx.rng
    outfit = sample_outfit(rng, helmet)
    f = FigureDrawer(ctx, x, z, base_y, L.RIDER, mirror)
    h = rng.uniform(1.6, 1.9)
    hip = np.array(seat) + np.array([0.0, 0.05])
    shoulder = hip + np.array([0.22 * h * 0.6 + 0.08, 0.3 * h])
    knee = hip + np.array([0.26, -0.05])
    f.limb(hip, knee, 0.08 * h, outfit.legs)
    f.limb(knee, pedal, 0.07 * h, outfit.legs)
    shoe = np.array([[-0.05, -0.04], [0.12, -0.04], [0.12, 0.03], [-0.05, 0.03]]) + np.asarray(pedal)
    f.poly(shoe, outfit.shoes, Material.RUBBER)
    f.limb(hip + np.array([-0.05, 0.0]), shoulder, 0.17 * h, outfit.top)
    f.limb(shoulder, hands, 0.05 * h, outfit.top, shade=0.9)
    f.head(tuple(shoulder + np.array([0.06, 0.15 * h * 0.75])), 0.06 * h, 0.07 * h, outfit)


def draw_rider_end(
    ctx: SceneContext, x: float, z: float, base_y: float, seat_v: float, bar_half: float, helmet: bool,
) -> None:
    """A rider seen from behind or in front, legs either side of the wheel."""
    rng = ctx.rng
    outfit = sample_outfit(rng, helmet)
    f = FigureDrawer(ctx, x, z, base_y, L.RIDER)
    h = rng.uniform(1.6, 1.9)
    for sgn in (-1, 1):
        f.limb((sgn * 0.08, seat_v), (sgn * 0.16, seat_v * 0.45), 0.075 * h, outfit.legs)
        f.limb((sgn * 0.16, seat_v * 0.45), (sgn * 0.14, 0.25), 0.065 * h, outfit.legs)
    top = seat_v + 0.33 * h
    torso = np.array([[-0.1 * h, seat_v], [0.1 * h, seat_v], [0.13 * h, top], [-0.13 * h, top]])
    f.poly(torso, outfit.top)
    for sgn in (-1, 1):
        f.limb((sgn * 0.12 * h, top - 0.02), (sgn * bar_half, seat_v + 0.12), 0.05 * h, outfit.top, shade=0.9)
    f.head((0.0, top + 0.1 * h), 0.065 * h, 0.075 * h, outfit)
