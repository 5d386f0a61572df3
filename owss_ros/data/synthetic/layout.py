"""The street: lanes, sidewalks, verges, building lines and road curvature.

Lateral positions are metres relative to the road's centre path through the camera
(negative = left); the path bends as ``x = curvature * z**2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCENE_KINDS = ("urban", "suburban", "rural")


@dataclass(frozen=True)
class StreetLayout:
    kind: str
    lane_width: float
    lanes: int
    oncoming_lanes: int  # leftmost lanes, traffic toward the camera
    road_left: float  # lateral of the left road edge (< 0)
    road_right: float  # lateral of the right road edge (> 0)
    parking: tuple[float, float]  # parking strip width inside the road edge, left, right
    curb_height: float
    sidewalk: tuple[float, float]  # width left, right (0 = none)
    verge: tuple[float, float]  # terrain strip beyond the sidewalk, left, right
    curvature: float

    def centre(self, z):
        return self.curvature * np.asarray(z, dtype=np.float64) ** 2

    def heading(self, z: float) -> float:
        """Road direction at depth z, radians (positive = bending right)."""
        return float(np.arctan(2.0 * self.curvature * z))

    def road_edge(self, side: int) -> float:
        return self.road_left if side < 0 else self.road_right

    def sidewalk_outer(self, side: int) -> float:
        return self.road_edge(side) + side * self.sidewalk[side > 0]

    def boundary(self, side: int) -> float:
        """Lateral of the property line (facades, walls, hedges) on one side."""
        return self.sidewalk_outer(side) + side * self.verge[side > 0]

    @property
    def lanes_left(self) -> float:
        """Lateral of the left edge of the first driving lane (after any parking strip)."""
        return self.road_left + self.parking[0]

    def lane_centre(self, lane: int) -> float:
        return self.lanes_left + (lane + 0.5) * self.lane_width

    def lane_boundary(self, index: int) -> float:
        return self.lanes_left + index * self.lane_width

    def lane_is_oncoming(self, lane: int) -> bool:
        return lane < self.oncoming_lanes

    def walk_height(self, side: int) -> float:
        """Ground height beside the road (curb height where there is a sidewalk)."""
        return self.curb_height if self.sidewalk[side > 0] > 0 else 0.0


def sample_layout(rng: np.random.Generator, kind: str | None = None) -> StreetLayout:
    kind = kind or str(rng.choice(SCENE_KINDS, p=[0.5, 0.3, 0.2]))
    lane_width = rng.uniform(2.9, 3.7)
    if kind == "urban":
        lanes = int(rng.choice([2, 2, 3, 4]))
        sidewalk = (rng.uniform(1.8, 5.0), rng.uniform(1.8, 5.0))
        verge = tuple(float(rng.uniform(0.8, 2.5)) if rng.random() < 0.2 else 0.0 for _ in range(2))
    elif kind == "suburban":
        lanes = 2
        sidewalk = tuple(float(rng.uniform(1.4, 2.8)) if rng.random() < 0.85 else 0.0 for _ in range(2))
        verge = (rng.uniform(1.0, 5.0), rng.uniform(1.0, 5.0))
    else:
        lanes = int(rng.choice([2, 2, 3]))
        sidewalk = tuple(float(rng.uniform(1.2, 2.0)) if rng.random() < 0.2 else 0.0 for _ in range(2))
        verge = (rng.uniform(2.0, 9.0), rng.uniform(2.0, 9.0))
    oncoming = 0 if rng.random() < 0.2 else lanes // 2
    camera_lane = int(rng.integers(oncoming, lanes)) if oncoming < lanes else lanes - 1
    offset = rng.normal(0.0, 0.25)
    parks = kind != "rural" and rng.random() < 0.55
    parking = tuple(float(rng.uniform(2.0, 2.5)) if parks and rng.random() < 0.7 else 0.0 for _ in range(2))
    road_left = -(camera_lane + 0.5) * lane_width + offset - parking[0]
    return StreetLayout(
        kind=kind,
        lane_width=lane_width,
        lanes=lanes,
        oncoming_lanes=oncoming,
        road_left=road_left,
        road_right=road_left + parking[0] + lanes * lane_width + parking[1],
        parking=(parking[0], parking[1]),
        curb_height=rng.uniform(0.1, 0.18),
        sidewalk=(float(sidewalk[0]), float(sidewalk[1])),
        verge=(float(verge[0]), float(verge[1])),
        curvature=float(rng.normal(0.0, 0.0007)) if rng.random() < 0.6 else 0.0,
    )
