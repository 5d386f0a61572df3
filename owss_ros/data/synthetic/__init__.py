"""Procedural driving scenes with pixel-exact labels (numpy + Pillow only).

Public entry points:

* :func:`render_scene` — one scene from a numpy ``Generator`` -> :class:`SyntheticScene`
  (RGB image, Cityscapes labelIds, anomaly mask);
* :func:`scene_rng` — the per-image generator for ``(seed, split, index)``;
* :func:`generate_dataset` — render and write whole splits (Cityscapes, Fishyscapes-style and
  StreetHazards-style layouts) with optional worker processes;
* :func:`write_preview` — a PNG grid of images next to their colourised labels.
"""

from owss_ros.data.synthetic.preview import preview_grid, write_preview
from owss_ros.data.synthetic.scene import ANOMALY_TRAIN_ID, SyntheticScene, render_scene
from owss_ros.data.synthetic.seeding import scene_rng
from owss_ros.data.synthetic.writer import HAZARDS_ANOMALY_VALUE, SPLIT_KINDS, generate_dataset

__all__ = [
    "ANOMALY_TRAIN_ID",
    "HAZARDS_ANOMALY_VALUE",
    "SPLIT_KINDS",
    "SyntheticScene",
    "generate_dataset",
    "preview_grid",
    "render_scene",
    "scene_rng",
    "write_preview",
]
