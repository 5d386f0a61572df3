"""Road vehicles built from convex solids: car, truck, bus, train (tram); two-wheelers as
flat side/end views (see :mod:`~owss_ros.data.synthetic.two_wheelers`).

Every vehicle stands on the road at world ``(x, z)`` (footprint centre), turned by ``yaw``;
``toward`` marks oncoming traffic, whose front (headlights, windscreen) faces the camera.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material
from owss_ros.data.synthetic.solids import Face, box_vertices, disc_on_plane, draw_on_face, draw_solid, visible_faces


@dataclass(frozen=True)
class Placement:
    x: float
    z: float
    yaw: float
    toward: bool


def local_to_world(p: Placement, lx: float, lz: float) -> tuple[float, float]:
    c, s = np.cos(p.yaw), np.sin(p.yaw)
    return p.x + c * lx + s * lz, p.z - s * lx + c * lz


def footprint(p: Placement, width: float, length: float) -> np.ndarray:
    corners = [(-width / 2, -length / 2), (width / 2, -length / 2), (width / 2, length / 2), (-width / 2, length / 2)]
    return np.array([local_to_world(p, lx, lz) for lx, lz in corners])


def _part(
    p: Placement, lz: float, width: float, length: float, y0: float, y1: float, inset=(0.0, 0.0, 0.0, 0.0),
) -> np.ndarray:
    x, z = local_to_world(p, 0.0, lz)
    return box_vertices(x, z, width, length, y0, y1, p.yaw, inset)


def _underbody(ctx: SceneContext, p: Placement, width: float, length: float, height: float, label: int) -> None:
    """Tyres and the dark underside seen below the body: one dark box (the side wheel discs
    are drawn on top by ``_wheel_discs``)."""
    verts = _part(p, 0.0, width - 0.04, length - 0.5, 0.0, height)
    draw_solid(ctx, verts, palette.tyre(ctx.rng), label, Material.RUBBER)


def _wheel_discs(
    ctx: SceneContext, p: Placement, width: float, axles: list[float], radius: float, faces: dict[str, Face],
    label: int, hub_colour,
) -> None:
    side = "left" if "left" in faces else ("right" if "right" in faces else None)
    if side is None:
        return
    sx = -1 if side == "left" else 1
    c, s = np.cos(p.yaw), np.sin(p.yaw)
    axis_u = np.array([s, 0.0, c])
    axis_v = np.array([0.0, 1.0, 0.0])
    shade = ctx.lighting.face_shade(faces[side].normal)
    tyre = palette.tyre(ctx.rng)
    for lz in sorted(axles, key=lambda a: -local_to_world(p, 0.0, a)[1]):
        x, z = local_to_world(p, sx * (width / 2 + 0.02), lz)
        radius_px = ctx.camera.pixels_per_metre(max(z, 1.0)) * radius
        if radius_px < 1.5:
            continue
        centre = np.array([x, radius, z])
        ctx.fill(disc_on_plane(centre, axis_u, axis_v, radius, 12), tyre, label, Material.RUBBER, shade)
        if radius_px > 3.0:
            ctx.fill(disc_on_plane(centre, axis_u, axis_v, radius * 0.55, 10), hub_colour, label, Material.METAL, shade)


def _end_lights(ctx: SceneContext, face: Face, toward: bool, label: int, v0: float, v1: float) -> None:
    colour = (250, 245, 220) if toward else (200, 20, 20)
    for u0 in (0.04, 0.82):
        draw_on_face(ctx, face, u0, u0 + 0.14, v0, v1, colour, label, Material.LAMP if toward else Material.SMOOTH)


def draw_car(ctx: SceneContext, p: Placement) -> None:
    rng = ctx.rng
    if not ctx.on_screen(p.x, p.z, 2.0, 5.4, 2.2):
        return
    body_type = palette.pick(rng, ["sedan", "hatch", "suv", "van"], [0.45, 0.25, 0.2, 0.1])
    length, width, height = {
        "sedan": (rng.uniform(4.3, 4.9), rng.uniform(1.72, 1.88), rng.uniform(1.38, 1.5)),
        "hatch": (rng.uniform(3.7, 4.2), rng.uniform(1.65, 1.8), rng.uniform(1.45, 1.58)),
        "suv": (rng.uniform(4.4, 4.9), rng.uniform(1.82, 1.98), rng.uniform(1.62, 1.85)),
        "van": (rng.uniform(4.8, 5.4), rng.uniform(1.88, 2.0), rng.uniform(1.9, 2.2)),
    }[body_type]
    paint = palette.car_paint(rng)
    glass = palette.glass(rng, ctx.lighting.sky_horizon)
    clearance = 0.18 if body_type != "suv" else 0.25
    body_top = clearance + (0.6 if body_type != "van" else 0.75) * rng.uniform(0.92, 1.08)
    radius = 0.32 if body_type in ("sedan", "hatch") else 0.37
    axles = [-length / 2 + 0.8, length / 2 - 0.85]
    ctx.cast_shadow(footprint(p, width, length), height * 0.5)
    _underbody(ctx, p, width, length, clearance + 0.15, L.CAR)
    body = _part(p, 0.0, width, length, clearance, body_top)
    faces = draw_solid(ctx, body, paint, L.CAR, Material.SMOOTH)
    # cabin: short trunk and long bonnet (a van's cabin runs almost the whole length)
    trunk = {"sedan": 0.75, "hatch": 0.25, "suv": 0.3, "van": 0.1}[body_type] * rng.uniform(0.85, 1.15)
    bonnet = {"sedan": 1.2, "hatch": 0.95, "suv": 1.05, "van": 0.6}[body_type] * rng.uniform(0.9, 1.1)
    near_off, far_off = (bonnet, trunk) if p.toward else (trunk, bonnet)
    cab_len = length - near_off - far_off
    lz = -length / 2 + near_off + cab_len / 2
    slope_near = (0.55 if p.toward else 0.3) * (height - body_top)
    slope_far = (0.3 if p.toward else 0.55) * (height - body_top)
    cabin = _part(p, lz, width - 0.08, cab_len, body_top, height, (0.14, 0.14, slope_near, slope_far))
    cab_faces = draw_solid(ctx, cabin, paint, L.CAR, Material.SMOOTH)
    detail_px = ctx.camera.pixels_per_metre(max(p.z - length / 2, 1.0)) * height
    if detail_px < 9:  # too small for windows and lights to show
        return
    for name, face in cab_faces.items():
        if name in ("near", "far"):
            draw_on_face(ctx, face, 0.07, 0.93, 0.1, 0.9, glass, L.CAR, Material.GLASS, 0.9)
        elif name in ("left", "right"):
            draw_on_face(ctx, face, 0.07, 0.48, 0.12, 0.88, glass, L.CAR, Material.GLASS, 0.9)
            draw_on_face(ctx, face, 0.52, 0.93, 0.12, 0.88, glass, L.CAR, Material.GLASS, 0.9)
    if "near" in faces:
        _end_lights(ctx, faces["near"], p.toward, L.CAR, 0.62, 0.85)
        if detail_px > 25:
            draw_on_face(ctx, faces["near"], 0.38, 0.62, 0.25, 0.45, (225, 225, 215), L.CAR, Material.SMOOTH)  # plate
            if p.toward:  # grille
                draw_on_face(
                    ctx, faces["near"], 0.3, 0.7, 0.5, 0.75, palette.darker(paint, 0.35), L.CAR, Material.METAL,
                )
    _wheel_discs(ctx, p, width, axles, radius, faces, L.CAR, palette.grey(rng, 90, 200))


def draw_truck(ctx: SceneContext, p: Placement) -> None:
    if not ctx.on_screen(p.x, p.z, 2.6, 11.0, 4.0):
        return
    rng = ctx.rng
    width = rng.uniform(2.3, 2.55)
    cab_len, cab_h = rng.uniform(1.8, 2.4), rng.uniform(2.6, 3.2)
    cargo_len, cargo_h = rng.uniform(4.0, 8.5), rng.uniform(2.9, 3.9)
    length = cab_len + cargo_len + 0.3
    cab_paint, cargo_paint = palette.truck_paint(rng), palette.truck_paint(rng) if rng.random() < 0.6 else None
    cargo_paint = cargo_paint or cab_paint
    radius = 0.5
    ctx.cast_shadow(footprint(p, width, length), cargo_h * 0.5)
    axles = [-length / 2 + 1.0, length / 2 - 1.0] + ([-length / 2 + 2.4] if cargo_len > 6 else [])
    _underbody(ctx, p, width, length, 0.95, L.TRUCK)
    cab_lz = (-length / 2 + cab_len / 2) if p.toward else (length / 2 - cab_len / 2)
    cargo_lz = (length / 2 - cargo_len / 2) if p.toward else (-length / 2 + cargo_len / 2)
    cab = _part(
        p, cab_lz, width, cab_len, 0.45, cab_h, (0.0, 0.0, 0.25 if p.toward else 0.0, 0.0 if p.toward else 0.25),
    )
    cargo = _part(p, cargo_lz, width, cargo_len, 0.9, cargo_h)
    glass = palette.glass(rng, ctx.lighting.sky_horizon)
    parts = [(cargo, cargo_paint, False), (cab, cab_paint, True)] if p.toward else [
        (cab, cab_paint, True), (cargo, cargo_paint, False),
    ]
    for verts, paint, is_cab in parts:
        faces = draw_solid(ctx, verts, paint, L.TRUCK, Material.SMOOTH if is_cab else Material.METAL)
        if is_cab:
            # windscreen on the front end, side windows on the front half of the cab
            if p.toward and "near" in faces:
                draw_on_face(ctx, faces["near"], 0.08, 0.92, 0.55, 0.9, glass, L.TRUCK, Material.GLASS, 0.9)
            for name in ("left", "right"):
                if name in faces:
                    u0, u1 = (0.08, 0.5) if p.toward else (0.5, 0.92)
                    draw_on_face(ctx, faces[name], u0, u1, 0.55, 0.88, glass, L.TRUCK, Material.GLASS, 0.9)
            if p.toward and "near" in faces:
                _end_lights(ctx, faces["near"], True, L.TRUCK, 0.1, 0.22)
        else:
            if not p.toward and "near" in faces:
                draw_on_face(
                    ctx, faces["near"], 0.495, 0.505, 0.03, 0.97, palette.darker(paint, 0.5), L.TRUCK, Material.METAL,
                )
                _end_lights(ctx, faces["near"], False, L.TRUCK, 0.02, 0.08)
            for name in ("left", "right"):
                if name in faces and rng.random() < 0.3:  # company livery stripe
                    draw_on_face(
                        ctx, faces[name], 0.05, 0.95, 0.4, 0.55, palette.two_wheeler_paint(rng), L.TRUCK,
                        Material.SMOOTH,
                    )
    _wheel_discs(ctx, p, width, axles, radius, _side_faces(ctx, p, width, length), L.TRUCK, palette.grey(rng, 80, 180))


def _side_faces(ctx: SceneContext, p: Placement, width: float, length: float) -> dict[str, Face]:
    return visible_faces(ctx, _part(p, 0.0, width, length, 0.0, 1.0))


def draw_bus(ctx: SceneContext, p: Placement) -> None:
    if not ctx.on_screen(p.x, p.z, 2.6, 13.0, 3.4):
        return
    rng = ctx.rng
    length, width, height = rng.uniform(10.0, 13.0), rng.uniform(2.45, 2.55), rng.uniform(2.95, 3.3)
    paint = palette.bus_paint(rng)
    glass = palette.glass(rng, ctx.lighting.sky_horizon)
    radius = 0.5
    axles = [-length / 2 + 2.5, length / 2 - 3.0]
    ctx.cast_shadow(footprint(p, width, length), height * 0.5)
    _underbody(ctx, p, width, length, 0.45, L.BUS)
    faces = draw_solid(ctx, _part(p, 0.0, width, length, 0.3, height), paint, L.BUS, Material.SMOOTH)
    for name, face in faces.items():
        if name in ("left", "right"):
            for k in range(6):
                u0 = 0.04 + k * 0.155
                draw_on_face(ctx, face, u0, u0 + 0.14, 0.38, 0.82, glass, L.BUS, Material.GLASS, 0.9)
        elif name == "near":
            draw_on_face(ctx, face, 0.06, 0.94, 0.45 if p.toward else 0.55, 0.84, glass, L.BUS, Material.GLASS, 0.9)
            draw_on_face(ctx, face, 0.15, 0.85, 0.86, 0.95, (25, 25, 25), L.BUS, Material.SMOOTH)
            draw_on_face(ctx, face, 0.3, 0.7, 0.885, 0.925, (240, 160, 30), L.BUS, Material.LAMP)
            _end_lights(ctx, face, p.toward, L.BUS, 0.08, 0.16)
    _wheel_discs(ctx, p, width, axles, radius, faces, L.BUS, palette.grey(rng, 90, 180))


def draw_train(ctx: SceneContext, p: Placement) -> None:
    if not ctx.on_screen(p.x, p.z, 2.7, 32.0, 4.6):
        return
    """A tram: long, with a continuous window band and a pantograph."""
    rng = ctx.rng
    length, width, height = rng.uniform(18.0, 32.0), rng.uniform(2.35, 2.65), rng.uniform(3.2, 3.6)
    paint = palette.train_paint(rng)
    glass = palette.glass(rng, ctx.lighting.sky_horizon)
    ctx.cast_shadow(footprint(p, width, length), height * 0.5)
    draw_solid(
        ctx, _part(p, 0.0, width - 0.4, length - 1.0, 0.0, 0.36), (35, 35, 38), L.TRAIN, Material.METAL,
    )  # bogies
    faces = draw_solid(ctx, _part(p, 0.0, width, length, 0.35, height), paint, L.TRAIN, Material.SMOOTH)
    for name, face in faces.items():
        if name in ("left", "right"):
            segs = int(length / 2.2)
            for k in range(segs):
                u0 = (k + 0.1) / segs
                draw_on_face(ctx, face, u0, u0 + 0.8 / segs, 0.42, 0.85, glass, L.TRAIN, Material.GLASS, 0.9)
            draw_on_face(ctx, face, 0.0, 1.0, 0.12, 0.2, palette.darker(paint, 0.6), L.TRAIN, Material.SMOOTH)
        elif name == "near":
            draw_on_face(ctx, face, 0.08, 0.92, 0.45, 0.88, glass, L.TRAIN, Material.GLASS, 0.9)
            _end_lights(ctx, face, p.toward, L.TRAIN, 0.12, 0.2)
    # pantograph on the roof
    x, z = local_to_world(p, 0.0, -length / 4)
    mast = box_vertices(x, z, 0.08, 0.08, height, height + 0.9, p.yaw)
    draw_solid(ctx, mast, (60, 60, 60), L.TRAIN, Material.METAL)
    bar = box_vertices(x, z, 1.6, 0.08, height + 0.85, height + 0.95, p.yaw)
    draw_solid(ctx, bar, (60, 60, 60), L.TRAIN, Material.METAL)


VEHICLE_SIZES = {  # (width, length) used for placement
    "car": (1.9, 4.9),
    "truck": (2.5, 10.5),
    "bus": (2.55, 13.0),
    "train": (2.65, 32.0),
}
