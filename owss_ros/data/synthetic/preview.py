"""A preview grid: each row shows a synthetic image next to its colourised label map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from owss_ros.data.label_maps import colorize_label_ids
from owss_ros.data.synthetic.scene import SyntheticScene
from owss_ros.data.synthetic.writer import Job, render_job

ANOMALY_COLOUR = np.array([255, 255, 255], dtype=np.uint8)


def scene_panel(scene: SyntheticScene, gap: int = 4) -> np.ndarray:
    """Image | colourised labels (anomalies white), side by side."""
    colours = colorize_label_ids(scene.label_ids)
    colours[scene.anomaly == 1] = ANOMALY_COLOUR
    h = scene.image.shape[0]
    spacer = np.full((h, gap, 3), 255, dtype=np.uint8)
    return np.concatenate([scene.image, spacer, colours], axis=1)


def preview_grid(scenes: list[SyntheticScene], columns: int = 2, gap: int = 4) -> np.ndarray:
    panels = [scene_panel(s, gap) for s in scenes]
    ph, pw, _ = panels[0].shape
    rows = (len(panels) + columns - 1) // columns
    grid = np.full((rows * ph + (rows - 1) * gap, columns * pw + (columns - 1) * gap * 3, 3), 255, dtype=np.uint8)
    for i, panel in enumerate(panels):
        r, c = divmod(i, columns)
        y, x = r * (ph + gap), c * (pw + 3 * gap)
        grid[y : y + ph, x : x + pw] = panel
    return grid


def write_preview(path: str | Path, count: int = 8, seed: int = 0, width: int = 512, height: int = 256,
                  anomaly_every: int = 4, columns: int = 2) -> Path:
    """Render ``count`` scenes (every ``anomaly_every``-th from the anomaly split, the same
    images ``generate`` writes for that seed) and save the grid."""
    scenes = []
    for i in range(count):
        anomalous = anomaly_every > 0 and i % anomaly_every == anomaly_every - 1
        split = "anomaly" if anomalous else "train"
        scenes.append(render_job(Job("", split, i, seed, width, height)))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(preview_grid(scenes, columns)).save(path, optimize=True)
    return path
