"""Populating the street: which objects stand where, as depth-sortable draw items.

Items are kept from overlapping on the ground (a simple footprint check); the caller draws
them far-to-near, which gives correct occlusion among them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from owss_ros.data.synthetic import anomalies, palette, people, street_furniture, two_wheelers, vegetation, vehicles
from owss_ros.data.synthetic.context import SceneContext

MIN_OBJECT_Z = 4.0


@dataclass(order=True)
class Item:
    z_key: float
    kind: str = field(compare=False)
    draw: Callable[[SceneContext], None] = field(compare=False, repr=False)
    is_anomaly: bool = field(default=False, compare=False)


class Occupancy:
    """Ground footprints (lat0, lat1, z0, z1) already taken; overlap tests are vectorised."""

    def __init__(self, capacity: int = 256):
        self._boxes = np.empty((capacity, 4))
        self._count = 0

    @property
    def boxes(self) -> np.ndarray:
        return self._boxes[: self._count]

    def free(self, lat0: float, lat1: float, z0: float, z1: float) -> bool:
        b = self.boxes
        overlap = (lat1 > b[:, 0]) & (lat0 < b[:, 1]) & (z1 > b[:, 2]) & (z0 < b[:, 3])
        return not overlap.any()

    def add(self, lat0: float, lat1: float, z0: float, z1: float) -> None:
        if self._count == len(self._boxes):
            self._boxes = np.concatenate([self._boxes, np.empty_like(self._boxes)])
        self._boxes[self._count] = (lat0, lat1, z0, z1)
        self._count += 1

    def take(self, lat0: float, lat1: float, z0: float, z1: float) -> bool:
        if not self.free(lat0, lat1, z0, z1):
            return False
        self.add(lat0, lat1, z0, z1)
        return True


VEHICLE_DRAWERS = {
    "car": vehicles.draw_car,
    "truck": vehicles.draw_truck,
    "bus": vehicles.draw_bus,
    "train": vehicles.draw_train,
}
TRAFFIC_KINDS = ("car", "truck", "bus", "train", "motorcycle", "bicycle")
TRAFFIC_WEIGHTS = (0.68, 0.09, 0.08, 0.03, 0.06, 0.06)


def _vehicle_item(
    ctx: SceneContext, kind: str, lateral: float, z: float, toward: bool, yaw_jitter: float = 0.0
) -> Item:
    """A vehicle whose footprint centre is at depth ``z``."""
    x = float(ctx.layout.centre(z)) + lateral
    placement = vehicles.Placement(x, z, ctx.layout.heading(z) + yaw_jitter, toward)
    length = vehicles.VEHICLE_SIZES[kind][1]
    return Item(z - length / 2, kind, partial(_call_with_placement, VEHICLE_DRAWERS[kind], placement))


def _call_with_placement(drawer, placement, ctx: SceneContext) -> None:
    drawer(ctx, placement)


def _at(drawer, *args) -> None:
    """``partial(_at, drawer, *params)(ctx)`` calls ``drawer(ctx, *params)``."""
    *params, ctx = args
    drawer(ctx, *params)


def place_traffic(ctx: SceneContext, occ: Occupancy, items: list[Item]) -> None:
    rng, lay = ctx.rng, ctx.layout
    density = {"urban": 1.0, "suburban": 0.6, "rural": 0.45}[lay.kind]
    for lane in range(lay.lanes):
        lat = lay.lane_centre(lane) + rng.normal(0, 0.2)
        toward = lay.lane_is_oncoming(lane)
        z = rng.uniform(6.0, 14.0) if abs(lat) > 1.5 else rng.uniform(9.0, 20.0)
        while z < 90:
            if rng.random() < density * 0.7:
                kind = palette.pick(rng, TRAFFIC_KINDS, TRAFFIC_WEIGHTS)
                if kind in ("motorcycle", "bicycle"):
                    if occ.take(lat - 0.5, lat + 0.5, z - 1.0, z + 1.0):
                        items.append(_two_wheeler_item(ctx, kind, lat, z, side_view=False, ridden=True, base_y=0.0))
                    z += rng.uniform(5, 15)
                    continue
                w, length = vehicles.VEHICLE_SIZES[kind]
                if occ.take(lat - w / 2, lat + w / 2, z, z + length):
                    items.append(_vehicle_item(ctx, kind, lat, z + length / 2, toward))
                z += length + rng.uniform(3, 12)
            else:
                z += rng.uniform(8, 25)


def place_parked(ctx: SceneContext, occ: Occupancy, items: list[Item]) -> None:
    rng, lay = ctx.rng, ctx.layout
    for side in (-1, 1):
        width = lay.parking[side > 0]
        if width <= 0:
            continue
        lat = lay.road_edge(side) - side * width / 2
        z = rng.uniform(1.0, 8.0)
        while z < 70:
            if rng.random() < 0.75:
                kind = "car" if rng.random() < 0.92 else "truck"
                w, length = vehicles.VEHICLE_SIZES[kind]
                length = 4.9 if kind == "car" else length
                if occ.take(lat - w / 2, lat + w / 2, z, z + length):
                    toward = rng.random() < 0.3
                    lateral = lat + rng.normal(0, 0.1)
                    yaw = rng.normal(0, 0.03)
                    items.append(_vehicle_item(ctx, kind, lateral, z + length / 2, toward, yaw_jitter=yaw))
                z += length + rng.uniform(0.5, 2.5)
            else:
                z += rng.uniform(3, 10)


def _two_wheeler_item(
    ctx: SceneContext, kind: str, lateral: float, z: float, side_view: bool, ridden: bool, base_y: float
) -> Item:
    x = float(ctx.layout.centre(z)) + lateral
    drawer = two_wheelers.draw_bicycle if kind == "bicycle" else two_wheelers.draw_motorcycle
    return Item(z - 0.3, kind, lambda c: drawer(c, x, z, base_y, side_view, ridden))


def place_roadside(ctx: SceneContext, occ: Occupancy, items: list[Item]) -> None:
    """Poles, lamps, lights, signs and trees along the curb; bushes on verges."""
    rng, lay = ctx.rng, ctx.layout
    for side in (-1, 1):
        base_y = lay.walk_height(side)
        curb_lat = lay.road_edge(side) + side * rng.uniform(0.35, 0.8)
        avenue = rng.random() < {"urban": 0.35, "suburban": 0.4, "rural": 0.25}[lay.kind]
        tree_spacing = rng.uniform(7, 14)
        z = rng.uniform(MIN_OBJECT_Z, 10.0)
        while z < 110:
            r = rng.random()
            lat = curb_lat + side * rng.uniform(0.0, 0.3)
            if (avenue and r < 0.45) or r >= 0.92:
                kind, draw = "tree", partial(_at, vegetation.draw_tree, lat + side * 0.4, z, base_y)
            elif r < 0.62:
                kind, draw = "sign", partial(_at, street_furniture.draw_traffic_sign, lat, z, base_y)
            elif r < 0.74:
                kind, draw = "lamp", partial(_at, street_furniture.draw_street_lamp, lat, z, base_y, side)
            elif r < 0.84:
                kind, draw = "light", partial(_at, street_furniture.draw_traffic_light, lat, z, base_y, side)
            else:
                kind, draw = "pole", partial(_at, street_furniture.draw_plain_pole, lat, z, base_y)
            if occ.take(min(lat, lat + side * 0.5) - 0.2, max(lat, lat + side * 0.5) + 0.2, z - 0.3, z + 0.3):
                items.append(Item(z, kind, draw))
            z += tree_spacing if avenue else rng.uniform(6, 25)
        # bushes and trees on verges / front gardens
        verge = lay.verge[side > 0]
        for _ in range(int(rng.poisson(3 if verge > 1.0 else 0.5))):
            z = rng.uniform(3, 80)
            lat = lay.sidewalk_outer(side) + side * rng.uniform(0.3, max(0.4, verge - 0.3))
            if occ.take(lat - 0.8, lat + 0.8, z - 0.8, z + 0.8):
                if rng.random() < 0.6:
                    items.append(Item(z, "bush", partial(_at, vegetation.draw_bush, lat, z, base_y)))
                else:
                    items.append(Item(z, "tree", partial(_at, vegetation.draw_tree, lat, z, base_y)))


def place_people(ctx: SceneContext, occ: Occupancy, items: list[Item]) -> None:
    rng, lay = ctx.rng, ctx.layout
    mean = {"urban": 5.0, "suburban": 1.5, "rural": 0.4}[lay.kind]
    for _ in range(int(rng.poisson(mean))):
        side = -1 if rng.random() < 0.5 else 1
        walk = lay.sidewalk[side > 0]
        if walk <= 0 and rng.random() < 0.7:
            continue
        width = walk if walk > 0 else lay.verge[side > 0]
        lat = lay.road_edge(side) + side * rng.uniform(0.4, max(0.5, width - 0.3))
        z = rng.uniform(MIN_OBJECT_Z, 60)
        base_y = lay.walk_height(side) if walk > 0 else 0.0
        if occ.take(lat - 0.3, lat + 0.3, z - 0.3, z + 0.3):
            x = float(lay.centre(z)) + lat
            items.append(Item(z, "person", partial(_at, people.draw_person, x, z, base_y)))
        if rng.random() < 0.08:  # a parked bicycle nearby
            lat2 = lat + side * 0.6
            if occ.take(lat2 - 0.4, lat2 + 0.4, z + 1.0, z + 2.8):
                items.append(_two_wheeler_item(ctx, "bicycle", lat2, z + 1.9, True, False, base_y))
    if rng.random() < 0.3:  # people or cyclists crossing the road
        z = rng.uniform(7, 35)
        for _ in range(int(rng.integers(1, 4))):
            lat = rng.uniform(lay.road_left + 0.5, lay.road_right - 0.5)
            zz = z + rng.uniform(-1, 1)
            if not occ.take(lat - 0.9, lat + 0.9, zz - 0.4, zz + 0.4):
                continue
            r = rng.random()
            if r < 0.7:
                x = float(lay.centre(zz)) + lat
                items.append(Item(zz, "person", partial(_at, people.draw_person, x, zz, 0.0, True)))
            else:
                kind = "bicycle" if r < 0.88 else "motorcycle"
                items.append(_two_wheeler_item(ctx, kind, lat, zz, side_view=True, ridden=True, base_y=0.0))


def place_anomalies(
    ctx: SceneContext, occ: Occupancy, items: list[Item], count: int, first_in_camera_lane: bool = False
) -> None:
    """Foreign objects on the road (mostly) or at its edge. With ``first_in_camera_lane`` the
    first one goes into the camera lane (kept free of traffic in front of it by the caller),
    so every anomaly scene has a visible anomaly."""
    rng, lay = ctx.rng, ctx.layout
    for i in range(count):
        kind = palette.pick(rng, anomalies.ANOMALY_KINDS, anomalies.ANOMALY_WEIGHTS)
        w, length = anomalies.ANOMALY_FOOTPRINT[kind]
        for _attempt in range(20):
            if first_in_camera_lane and i == 0:
                lat, z = rng.normal(0.0, 0.4), rng.uniform(7.0, 22.0)
            elif rng.random() < 0.8:
                lat, z = rng.uniform(lay.road_left + 0.5, lay.road_right - 0.5), rng.uniform(6.0, 50.0)
            else:
                side = -1 if rng.random() < 0.5 else 1
                lat, z = lay.road_edge(side) + side * rng.uniform(0.3, 1.5), rng.uniform(6.0, 40.0)
            if occ.take(lat - w / 2, lat + w / 2, z - length / 2, z + length / 2):
                base_y = 0.0 if lay.road_left <= lat <= lay.road_right else lay.walk_height(int(np.sign(lat)))
                x = float(lay.centre(z)) + lat
                draw = partial(_at, anomalies.draw_anomaly, kind, x, z, base_y)
                items.append(Item(z - length / 2, f"anomaly:{kind}", draw, is_anomaly=True))
                break


def reserve_camera_lane(ctx: SceneContext, occ: Occupancy, z_end: float) -> None:
    """Keep the camera lane empty up to ``z_end`` (so a first anomaly there stays visible)."""
    half = ctx.layout.lane_width / 2 + 0.3
    occ.add(-half, half, 0.0, z_end)


def populate(ctx: SceneContext, anomaly_count: int = 0) -> list[Item]:
    occ = Occupancy()
    items: list[Item] = []
    if anomaly_count > 0:
        place_anomalies(ctx, occ, items, 1, first_in_camera_lane=True)
        reserve_camera_lane(ctx, occ, items[0].z_key + 6.0 if items else 25.0)
    place_parked(ctx, occ, items)
    place_traffic(ctx, occ, items)
    place_roadside(ctx, occ, items)
    place_people(ctx, occ, items)
    if anomaly_count > 1:
        place_anomalies(ctx, occ, items, anomaly_count - 1)
    return items
