"""One synthetic driving scene: layout, drawing order, and the output maps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.data.label_maps import cityscapes_label_id_lut
from owss_ros.data.synthetic import background, buildings, labels as L, palette
from owss_ros.data.synthetic.camera import sample_camera
from owss_ros.data.synthetic.canvas import LayeredCanvas
from owss_ros.data.synthetic.context import SceneContext
from owss_ros.data.synthetic.effects import render_image
from owss_ros.data.synthetic.layout import sample_layout
from owss_ros.data.synthetic.lighting import sample_lighting
from owss_ros.data.synthetic.materials import Material
from owss_ros.data.synthetic.placement import populate

ANOMALY_TRAIN_ID = 19  # open-set train-id maps: 0..18 known, 19 anomaly, 255 void


@dataclass(frozen=True)
class SyntheticScene:
    """A rendered scene.

    ``label_ids``: Cityscapes labelIds; anomaly pixels are 0 ("unlabeled") and the optional
    ego-vehicle bonnet is 1 ("ego vehicle"), both void for training.
    ``anomaly``: 1 on anomaly objects, 0 elsewhere, 255 on void (bonnet).
    """

    image: np.ndarray
    label_ids: np.ndarray
    anomaly: np.ndarray
    kind: str
    object_kinds: tuple[str, ...]

    @property
    def train_ids(self) -> np.ndarray:
        """Close-set train ids (0..18, 255 for void and anomaly)."""
        return cityscapes_label_id_lut()[self.label_ids]

    @property
    def open_set_train_ids(self) -> np.ndarray:
        """Train ids with anomaly pixels as :data:`ANOMALY_TRAIN_ID` (19)."""
        ids = self.train_ids.copy()
        ids[self.anomaly == 1] = ANOMALY_TRAIN_ID
        return ids


def render_scene(
    rng: np.random.Generator,
    width: int = 512,
    height: int = 256,
    anomalies: int = 0,
    ego_vehicle_probability: float = 0.25,
) -> SyntheticScene:
    """Render one scene; ``anomalies`` > 0 adds that many foreign objects (at least one visible)."""
    camera = sample_camera(rng, width, height)
    layout = sample_layout(rng)
    lighting = sample_lighting(rng)
    canvas = LayeredCanvas(width, height)
    ctx = SceneContext(camera, layout, lighting, canvas, rng)

    background.draw_sky(ctx)
    background.draw_skyline(ctx, layout.kind)
    background.draw_ground(ctx)
    buildings.draw_property_lines(ctx)
    items = populate(ctx, anomalies)
    for item in sorted(items, reverse=True):  # far to near
        item.draw(ctx)
    if rng.random() < ego_vehicle_probability:
        draw_ego_bonnet(ctx)

    colour, label, material, shade, shadow = canvas.arrays()
    image = render_image(rng, camera, layout, lighting, colour, material, shade, shadow)
    is_anomaly = label == L.ANOMALY
    label_ids = np.where(is_anomaly, np.uint8(L.UNLABELED), label).astype(np.uint8)
    anomaly = np.where(is_anomaly, np.uint8(1), np.uint8(0))
    anomaly[label == L.EGO_VEHICLE] = IGNORE_INDEX
    return SyntheticScene(image, label_ids, anomaly, layout.kind, tuple(i.kind for i in items))


def draw_ego_bonnet(ctx: SceneContext) -> None:
    """The camera car's bonnet at the bottom of the frame (void, like Cityscapes)."""
    rng, cam = ctx.rng, ctx.camera
    w, h = cam.width, cam.height
    top = h * rng.uniform(0.88, 0.95)
    xs = np.linspace(-0.1 * w, 1.1 * w, 24)
    bulge = (h - top) * 0.6 * (1 - ((xs - w / 2) / (0.65 * w)) ** 2)
    pts = np.concatenate([np.stack([xs, top + (h - top) * 0.6 - bulge], 1), [[1.1 * w, 1.2 * h], [-0.1 * w, 1.2 * h]]])
    paint = palette.car_paint(rng)
    ctx.canvas.polygon(
        pts, ctx.lighting.response(paint), L.EGO_VEHICLE, Material.SMOOTH,
        ctx.lighting.face_shade(np.array([0.0, 1.0, -0.2])) * 0.8,
    )
