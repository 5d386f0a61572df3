"""The property line on each side of the street: buildings, walls, fences, hedges, tree lines.

Segments are laid out along the road from the camera outward and drawn far-to-near, so a
nearer facade (or its end wall) correctly hides the ones behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.context import SceneContext, geometric_steps
from owss_ros.data.synthetic.materials import Material

WINDOW_MIN_PX = 3.0

SEGMENT_WEIGHTS = {
    #            building wall fence hedge trees street field
    "urban": (0.80, 0.05, 0.03, 0.03, 0.03, 0.06, 0.0),
    "suburban": (0.42, 0.10, 0.15, 0.13, 0.12, 0.04, 0.04),
    "rural": (0.08, 0.04, 0.18, 0.08, 0.40, 0.02, 0.20),
}
SEGMENT_KINDS = ("building", "wall", "fence", "hedge", "trees", "street", "field")


@dataclass(frozen=True)
class Segment:
    kind: str
    side: int
    z0: float
    z1: float


def plan_segments(ctx: SceneContext, side: int) -> list[Segment]:
    rng = ctx.rng
    weights = SEGMENT_WEIGHTS[ctx.layout.kind]
    z = rng.uniform(-8.0, 2.0)
    end = rng.uniform(120, 260)
    segments = []
    while z < end:
        kind = palette.pick(rng, SEGMENT_KINDS, list(weights))
        length = {
            "building": rng.uniform(8, 35), "street": rng.uniform(8, 14), "field": rng.uniform(15, 60),
        }.get(kind, rng.uniform(6, 30))
        segments.append(Segment(kind, side, z, z + length))
        z += length
    return segments


def draw_property_lines(ctx: SceneContext) -> None:
    segments = plan_segments(ctx, -1) + plan_segments(ctx, 1)
    for seg in sorted(segments, key=lambda s: -s.z0):
        if seg.z1 > 1.5:  # segments entirely beside/behind the camera are not visible
            DRAWERS[seg.kind](ctx, seg)


# --- individual segment kinds ---------------------------------------------------------------

def draw_building(ctx: SceneContext, seg: Segment) -> None:
    rng, lay = ctx.rng, ctx.layout
    kind = lay.kind
    setback = rng.uniform(0.0, 1.0) if kind == "urban" else rng.uniform(1.0, 7.0)
    lat = lay.boundary(seg.side) + seg.side * setback
    height = rng.uniform(9, 38) if kind == "urban" else rng.uniform(4.5, 9)
    depth = rng.uniform(8, 20)
    colour = palette.building(rng)
    material = palette.pick(
        rng, [Material.PLASTER, Material.BRICK, Material.CONCRETE, Material.GLASS], [0.45, 0.25, 0.22, 0.08],
    )
    if material == Material.BRICK and rng.random() < 0.7:
        colour = palette.jitter(rng, (150, 80, 58), 14)
    facade_shade = ctx.lighting.face_shade(np.array([-seg.side, 0.0, 0.0]))
    end_shade = ctx.lighting.face_shade(np.array([0.0, 0.0, -1.0]))
    z0 = max(seg.z0, 0.7)
    _cast_facade_shadow(ctx, lat, height, z0, seg.z1)
    # roof (pitched for small houses): sloping away from the street
    if kind != "urban" or rng.random() < 0.15:
        roof_h = rng.uniform(1.5, 4.0)
        roof = np.concatenate([
            ctx.world(np.full(2, lat), height, [z0, seg.z1]),
            ctx.world(np.full(2, lat + seg.side * depth / 2), height + roof_h, [seg.z1, z0]),
        ])
        ctx.fill(
            roof, palette.pick(rng, [(120, 55, 45), (70, 70, 75), (100, 80, 65)]), L.BUILDING, Material.BRICK,
            facade_shade * 0.8,
        )
        end_roof = ctx.world(
            [lat, lat + seg.side * depth / 2, lat + seg.side * depth], [height, height + roof_h, height], z0,
        )
        ctx.fill(end_roof, colour, L.BUILDING, material, end_shade)
    # end wall facing the camera, then the facade along the street
    end_wall = ctx.world([lat, lat + seg.side * depth, lat + seg.side * depth, lat], [0, 0, height, height], z0)
    ctx.fill(end_wall, colour, L.BUILDING, material, end_shade)
    ctx.fill(ctx.vertical_strip(lat, 0.0, height, z0, seg.z1), colour, L.BUILDING, material, facade_shade)
    # cornice band
    band = rng.uniform(0.3, 0.8)
    ctx.fill(
        ctx.vertical_strip(lat, height - band, height, z0, seg.z1), palette.darker(colour, rng.uniform(0.6, 0.9)),
        L.BUILDING, Material.CONCRETE, facade_shade,
    )
    _draw_windows(ctx, seg, lat, height, z0, facade_shade, material == Material.GLASS, colour, material)


def _draw_windows(
    ctx: SceneContext,
    seg: Segment,
    lat: float,
    height: float,
    z0: float,
    shade: float,
    curtain_wall: bool,
    facade_colour,
    facade_material: Material,
) -> None:
    """A window grid drawn as glass columns crossed by facade-coloured floor bands
    (columns + floors polygons instead of columns x floors), plus a few lit windows."""
    rng, cam = ctx.rng, ctx.camera
    floor_h = rng.uniform(2.9, 3.6)
    win_w, win_h = rng.uniform(0.9, 1.8), rng.uniform(1.1, 1.8)
    spacing = max(win_w + 0.6, rng.uniform(2.2, 4.0))
    if curtain_wall:
        win_w, spacing, win_h = spacing - 0.15, spacing, floor_h - 0.35
    glass = palette.glass(rng, ctx.lighting.sky_horizon)
    dist = abs(float(ctx.layout.centre(0.5 * (z0 + seg.z1))) + lat)
    zs = np.arange(z0 + rng.uniform(0.4, 1.2), seg.z1 - win_w - 0.3, spacing)
    if len(zs) == 0:
        return
    ppm_along = cam.focal * max(dist, 1.0) / np.maximum(zs, 1.0) ** 2  # pixels per metre along the facade
    zs = zs[ppm_along * win_w >= WINDOW_MIN_PX]
    shop_front = ctx.layout.kind == "urban" and rng.random() < 0.5
    first = floor_h if shop_front else rng.uniform(0.8, 1.0)
    sill = 0.0 if curtain_wall else rng.uniform(0.7, 0.9)
    floors = np.arange(first, height - 1.2, floor_h)
    if len(zs) == 0:
        return
    lats = np.full(4, lat)
    if len(floors):
        y_bottom, y_top = floors[0] + sill, floors[-1] + sill + win_h
        for z in zs:
            quad = ctx.world(lats, [y_bottom, y_bottom, y_top, y_top], [z, z + win_w, z + win_w, z])
            ctx.fill(quad, palette.jitter(rng, glass, 4, 0.1), L.BUILDING, Material.GLASS, shade)
        for fy in floors[1:]:  # facade between the windows of consecutive floors
            band_y0 = fy - floor_h + sill + win_h
            ctx.fill(
                ctx.vertical_strip(lat, band_y0, fy + sill, z0, seg.z1, n=4), facade_colour, L.BUILDING,
                facade_material, shade,
            )
        for _ in range(int(rng.integers(0, 4))):  # lit or curtained windows
            z = float(zs[int(rng.integers(len(zs)))])
            fy = float(floors[int(rng.integers(len(floors)))]) + sill
            quad = ctx.world(lats, [fy, fy, fy + win_h, fy + win_h], [z, z + win_w, z + win_w, z])
            ctx.fill(
                quad, palette.pick(rng, [(230, 200, 140), (200, 190, 170), (40, 40, 45)]), L.BUILDING, Material.GLASS,
                shade,
            )
    if shop_front:
        for z in zs:
            w = min(spacing * 0.85, seg.z1 - z - 0.2)
            quad = ctx.world(lats, [0.3, 0.3, floor_h * 0.8, floor_h * 0.8], [z, z + w, z + w, z])
            ctx.fill(quad, palette.jitter(rng, glass, 8, 0.2), L.BUILDING, Material.GLASS, shade)


def _cast_facade_shadow(ctx: SceneContext, lat: float, height: float, z0: float, z1: float) -> None:
    dx, dz = ctx.lighting.shadow_step
    side = np.sign(lat)
    if ctx.lighting.shadow_strength < 0.05 or dx * side >= 0:
        return
    reach = min(abs(dx) * height, 60.0) * np.sign(dx)
    shift_z = dz * abs(reach / dx) if abs(dx) > 1e-6 else 0.0
    pts = np.concatenate([
        ctx.world([lat, lat], 0.0, [z0, z1]), ctx.world([lat + reach, lat + reach], 0.0, [z1 + shift_z, z0 + shift_z]),
    ])
    pts[:, 2] = np.maximum(pts[:, 2], 0.7)
    ctx.canvas.shadow_polygon(ctx.project(pts), ctx.lighting.shadow_strength)


def draw_wall(ctx: SceneContext, seg: Segment) -> None:
    rng = ctx.rng
    lat = ctx.layout.boundary(seg.side)
    base = ctx.layout.walk_height(seg.side)
    height = rng.uniform(0.8, 3.0)
    colour = palette.wall(rng)
    material = palette.pick(rng, [Material.CONCRETE, Material.BRICK, Material.PLASTER], [0.6, 0.25, 0.15])
    shade = ctx.lighting.face_shade(np.array([-seg.side, 0.0, 0.0]))
    z0 = max(seg.z0, 0.7)
    thick = rng.uniform(0.2, 0.5)
    outer = lat + seg.side * thick
    end_face = ctx.world([lat, outer, outer, lat], [base, base, base + height, base + height], z0)
    ctx.fill(end_face,
             colour, L.WALL, material, ctx.lighting.face_shade(np.array([0.0, 0.0, -1.0])))
    ctx.fill(ctx.vertical_strip(lat, base, base + height, z0, seg.z1), colour, L.WALL, material, shade)
    ctx.fill(
        ctx.vertical_strip(lat, base + height - 0.12, base + height, z0, seg.z1),
        palette.mix(colour, (210, 210, 210), 0.3), L.WALL, Material.CONCRETE, shade,
    )


def draw_fence(ctx: SceneContext, seg: Segment) -> None:
    rng = ctx.rng
    lat = ctx.layout.boundary(seg.side)
    base = ctx.layout.walk_height(seg.side)
    height = rng.uniform(0.9, 2.2)
    colour = palette.fence(rng)
    shade = ctx.lighting.face_shade(np.array([-seg.side, 0.0, 0.0]))
    z0 = max(seg.z0, 0.7)
    style = palette.pick(rng, ["boards", "rails", "mesh"], [0.35, 0.4, 0.25])
    if style in ("boards", "mesh"):
        material = Material.WOOD if style == "boards" else Material.METAL
        ctx.fill(ctx.vertical_strip(lat, base, base + height, z0, seg.z1), colour, L.FENCE, material, shade)
    # posts (all styles) and rails
    post_w = rng.uniform(0.08, 0.15)
    spacing = rng.uniform(1.8, 3.0)
    for z in np.arange(z0, seg.z1, spacing):
        quad = ctx.world(
            [lat, lat, lat, lat], [base, base, base + height + 0.05, base + height + 0.05],
            [z, z + post_w, z + post_w, z],
        )
        ctx.fill(quad, palette.darker(colour, 0.85), L.FENCE, Material.METAL, shade)
    if style == "rails":
        for frac in (0.35, 0.9):
            y = base + frac * height
            ctx.fill(ctx.vertical_strip(lat, y - 0.06, y + 0.06, z0, seg.z1), colour, L.FENCE, Material.METAL, shade)
    # draw vegetation or a lawn behind gaps only for the remaining frame: handled by terrain


def draw_hedge(ctx: SceneContext, seg: Segment) -> None:
    rng = ctx.rng
    lat = ctx.layout.boundary(seg.side)
    base = ctx.layout.walk_height(seg.side)
    height = rng.uniform(0.9, 2.6)
    n = max(6, int((seg.z1 - seg.z0) / 1.5))
    z0 = max(seg.z0, 0.7)
    zs = geometric_steps(z0, seg.z1, n)
    tops = base + height * (1.0 + 0.08 * rng.standard_normal(n))
    pts = np.concatenate([ctx.world(np.full(n, lat), tops, zs), ctx.world(np.full(n, lat), np.full(n, base), zs[::-1])])
    colour = palette.vegetation(rng)
    ctx.fill(pts, colour, L.VEGETATION, Material.FOLIAGE, ctx.lighting.face_shade(np.array([-seg.side, 0.3, 0.0])))
    end = ctx.world([lat, lat + seg.side * 0.8, lat + seg.side * 0.8, lat], [base, base, tops[0], tops[0]], z0)
    ctx.fill(end, palette.darker(colour, 0.85), L.VEGETATION, Material.FOLIAGE, ctx.lighting.ambient)


def draw_tree_line(ctx: SceneContext, seg: Segment) -> None:
    rng = ctx.rng
    lat = ctx.layout.boundary(seg.side) + seg.side * rng.uniform(0.5, 4.0)
    height = rng.uniform(5, 16)
    n = max(8, int((seg.z1 - seg.z0) / 1.2))
    z0 = max(seg.z0, 0.7)
    zs = geometric_steps(z0, seg.z1, n)
    crowns = height * (0.75 + 0.25 * np.abs(np.sin(np.cumsum(rng.uniform(0.3, 1.2, n)))))
    pts = np.concatenate([ctx.world(np.full(n, lat), crowns, zs), ctx.world(np.full(n, lat), np.zeros(n), zs[::-1])])
    colour = palette.vegetation(rng)
    ctx.fill(pts, colour, L.VEGETATION, Material.FOLIAGE, ctx.lighting.face_shade(np.array([-seg.side, 0.4, 0.0])))
    # lighter crown clumps for volume
    for _ in range(int(rng.integers(2, 6))):
        zc = rng.uniform(z0, seg.z1)
        r = rng.uniform(1.5, 4.0)
        t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
        clump = ctx.world(np.full(10, lat), np.clip(height * 0.7 + r * np.sin(t), 0, None), zc + r * np.cos(t))
        ctx.fill(
            clump, palette.jitter(rng, colour, 8, 0.2), L.VEGETATION, Material.FOLIAGE,
            ctx.lighting.face_shade(np.array([-seg.side, 0.6, 0.0])),
        )


def draw_side_street(ctx: SceneContext, seg: Segment) -> None:
    """A junction: road surface replaces sidewalk and verge between z0 and z1."""
    lay, rng = ctx.layout, ctx.rng
    edge = lay.road_edge(seg.side)
    z0, z1 = max(seg.z0 + 1.0, 0.8), seg.z1 - 1.0
    if z1 <= z0:
        return
    strip = ctx.ground_strip(edge - seg.side * 0.05, edge + seg.side * 250.0, z0, z1, n=3)
    ctx.fill(strip, palette.road(rng), L.ROAD, Material.ASPHALT, ctx.lighting.ground_shade, haze_z=z0)


def draw_field(ctx: SceneContext, seg: Segment) -> None:
    """Open land: nothing on the property line; occasionally a distant barn or tree."""
    rng = ctx.rng
    if rng.random() < 0.3:
        lat = ctx.layout.boundary(seg.side) + seg.side * rng.uniform(15, 60)
        z = rng.uniform(max(seg.z0, 10), seg.z1 + 10)
        w, h = rng.uniform(6, 15), rng.uniform(4, 9)
        colour = palette.building(rng)
        pts = ctx.world([lat, lat, lat, lat], [0, h, h, 0], [z, z, z + w, z + w])
        ctx.fill(pts, colour, L.BUILDING, Material.WOOD, ctx.lighting.face_shade(np.array([-seg.side, 0.0, 0.0])))


DRAWERS = {
    "building": draw_building,
    "wall": draw_wall,
    "fence": draw_fence,
    "hedge": draw_hedge,
    "trees": draw_tree_line,
    "street": draw_side_street,
    "field": draw_field,
}
