"""Sky, far skyline, and the ground: terrain, sidewalks with curbs, road with markings."""

from __future__ import annotations

import numpy as np

from owss_ros.data.synthetic import labels as L
from owss_ros.data.synthetic import palette
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.materials import Material

FAR_Z = 400.0
MARKING_FAR_Z = 120.0  # solid lines
DASH_FAR_Z = 70.0  # dashes beyond this are under a pixel long
NEAR_GROUND = 0.8


def draw_sky(ctx: SceneContext) -> None:
    """The whole frame starts as sky (colour filled in later from the lighting's gradient)."""
    w, h = ctx.camera.width, ctx.camera.height
    big = np.array([[-w, -h], [2 * w, -h], [2 * w, 2 * h], [-w, 2 * h]], dtype=np.float64)
    ctx.canvas.polygon(big, ctx.lighting.sky_horizon, L.SKY, Material.SKY)


def draw_skyline(ctx: SceneContext, kind: str) -> None:
    """Distant buildings / tree lines just above the horizon, strongly hazed."""
    rng, cam = ctx.rng, ctx.camera
    z = rng.uniform(250, 600)
    half_span = z * (cam.width / cam.focal) * 0.9
    x = -half_span + ctx.layout.centre(z)
    building_share = {"urban": 0.85, "suburban": 0.45, "rural": 0.15}[kind]
    while x < half_span + ctx.layout.centre(z):
        width = rng.uniform(14, 50)
        if rng.random() < building_share:
            height = rng.uniform(8, 60) if kind == "urban" else rng.uniform(5, 20)
            local = np.array([[0, 0], [width, 0], [width, height], [0, height]])
            label, material, colour = L.BUILDING, Material.CONCRETE, palette.building(rng)
        else:
            height = rng.uniform(6, 22)
            n = 9
            u = np.linspace(0, width, n)
            bumps = height * (0.7 + 0.3 * rng.random(n))
            local = np.concatenate([[[0, 0]], np.stack([u, bumps], 1), [[width, 0]]])
            label, material, colour = L.VEGETATION, Material.FOLIAGE, palette.vegetation(rng)
        pts = cam.billboard(x, z, local, base_y=-2.0)
        ctx.fill_screen(pts, colour, label, material, z, shade=ctx.lighting.ambient)
        x += width * rng.uniform(0.6, 1.0)


def draw_ground(ctx: SceneContext) -> None:
    """Base terrain, then per side verge + sidewalk + curb, then the road and its markings."""
    lay, rng = ctx.layout, ctx.rng
    shade = ctx.lighting.ground_shade
    # Everything below the horizon starts as terrain (or sidewalk in cities).
    base_is_sidewalk = lay.kind == "urban"
    base_colour = palette.sidewalk(rng) if base_is_sidewalk else palette.terrain(rng)
    base = ctx.ground_strip(-3000, 3000, NEAR_GROUND, 3000.0, n=12)
    ctx.fill(base, base_colour, L.SIDEWALK if base_is_sidewalk else L.TERRAIN,
             Material.PAVING if base_is_sidewalk else Material.GRASS, shade, haze_z=60)
    for side in (-1, 1):
        draw_roadside(ctx, side, shade)
    draw_road(ctx, shade)


def draw_roadside(ctx: SceneContext, side: int, shade: float) -> None:
    """Terrain from the sidewalk's outer edge outward (verge, lawns), then sidewalk and curb."""
    lay, rng = ctx.layout, ctx.rng
    edge = lay.road_edge(side)
    walk = lay.sidewalk[side > 0]
    outer = lay.sidewalk_outer(side)
    ground_y = lay.walk_height(side)
    ctx.fill(ctx.ground_strip(outer + side * 200.0, outer, NEAR_GROUND, FAR_Z, y=ground_y), palette.terrain(rng),
             L.TERRAIN, Material.GRASS, shade, haze_z=30)
    if walk > 0:
        h = lay.curb_height
        colour = palette.sidewalk(rng)
        ctx.fill(
            ctx.ground_strip(outer, edge, NEAR_GROUND, FAR_Z, y=h), colour, L.SIDEWALK, Material.PAVING, shade,
            haze_z=20,
        )
        curb_colour = palette.mix(colour, (200, 200, 200), 0.3) if rng.random() < 0.6 else palette.grey(rng, 120, 200)
        ctx.fill(ctx.vertical_strip(edge, 0.0, h, NEAR_GROUND, FAR_Z, n=18), curb_colour, L.SIDEWALK, Material.CONCRETE,
                 shade * 0.9, haze_z=20)


def draw_road(ctx: SceneContext, shade: float) -> None:
    lay, rng = ctx.layout, ctx.rng
    asphalt = palette.road(rng)
    ctx.fill(
        ctx.ground_strip(lay.road_left, lay.road_right, NEAR_GROUND, FAR_Z, n=24), asphalt, L.ROAD, Material.ASPHALT,
        shade, haze_z=15,
    )
    # repair patches and darker wheel tracks: road texture variety inside the class
    for _ in range(int(rng.integers(0, 5))):
        z0 = rng.uniform(3, 60)
        lat = rng.uniform(lay.road_left, lay.road_right - 1)
        patch = ctx.ground_strip(lat, lat + rng.uniform(0.8, 3.0), z0, z0 + rng.uniform(1, 12), n=3)
        ctx.fill(patch, palette.jitter(rng, asphalt, 6, 0.2), L.ROAD, Material.ASPHALT, shade)
    draw_lane_markings(ctx, asphalt, shade)
    if rng.random() < 0.35:
        draw_crosswalk(ctx, shade)


def draw_lane_markings(ctx: SceneContext, asphalt, shade: float) -> None:
    lay, rng = ctx.layout, ctx.rng
    paint = palette.lane_paint(rng)
    worn = palette.mix(paint, asphalt, rng.uniform(0.0, 0.5))
    width = rng.uniform(0.1, 0.2)
    if rng.random() < 0.7:  # solid edge lines
        inset = (0.3 if lay.parking[0] == 0 else 0.0, -0.3 if lay.parking[1] == 0 else 0.0)
        for edge in (lay.lane_boundary(0) + inset[0], lay.lane_boundary(lay.lanes) + inset[1]):
            ctx.fill(
                ctx.ground_strip(edge - width / 2, edge + width / 2, NEAR_GROUND, MARKING_FAR_Z, n=14), worn, L.ROAD,
                Material.MARKING, shade, haze_z=15,
            )
    dash, gap = rng.uniform(2.0, 4.5), rng.uniform(4.0, 9.0)
    phase = rng.uniform(0, dash + gap)
    for lane in range(1, lay.lanes):
        lat = lay.lane_boundary(lane)
        divider = lane == lay.oncoming_lanes and lay.oncoming_lanes > 0
        if divider and rng.random() < 0.5:
            ctx.fill(
                ctx.ground_strip(lat - width / 2, lat + width / 2, NEAR_GROUND, MARKING_FAR_Z, n=14), worn, L.ROAD,
                Material.MARKING, shade, haze_z=15,
            )
            continue
        z = NEAR_GROUND - phase
        while z < DASH_FAR_Z:
            z0, z1 = max(z, NEAR_GROUND), z + dash
            if z1 > NEAR_GROUND:
                ctx.fill(
                    ctx.ground_strip(lat - width / 2, lat + width / 2, z0, z1, n=2), worn, L.ROAD, Material.MARKING,
                    shade,
                )
            z += dash + gap


def draw_crosswalk(ctx: SceneContext, shade: float) -> None:
    lay, rng = ctx.layout, ctx.rng
    z0 = rng.uniform(6, 35)
    depth = rng.uniform(2.5, 4.0)
    paint = palette.grey(rng, 190, 235, 3)
    stripe = rng.uniform(0.4, 0.6)
    lat = lay.road_left + 0.3
    while lat + stripe < lay.road_right - 0.3:
        ctx.fill(ctx.ground_strip(lat, lat + stripe, z0, z0 + depth, n=2), paint, L.ROAD, Material.MARKING, shade)
        lat += 2 * stripe
