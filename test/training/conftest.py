"""A tiny Cityscapes-layout data set written per test session (independent of the generator)."""

import numpy as np
import pytest
from PIL import Image, ImageDraw

# Cityscapes labelIds: road 7, building 11, sky 23, car 26, person 24
LABEL_COLOURS = {7: (128, 64, 128), 11: (90, 80, 70), 23: (120, 170, 230), 26: (20, 30, 160), 24: (200, 40, 60)}


def draw_scene(rng: np.random.Generator, h: int, w: int):
    label = Image.new("L", (w, h), 23)
    draw = ImageDraw.Draw(label)
    horizon = int(h * rng.uniform(0.35, 0.5))
    draw.rectangle([0, horizon, w, h], fill=7)
    for _ in range(2):
        x0 = int(rng.integers(0, w - 20))
        draw.rectangle([x0, int(horizon * 0.3), x0 + int(rng.integers(15, 40)), horizon], fill=11)
    x0 = int(rng.integers(0, w - 30))
    draw.rectangle([x0, horizon + 5, x0 + 24, horizon + 18], fill=26)
    x1 = int(rng.integers(0, w - 8))
    draw.rectangle([x1, horizon - 4, x1 + 5, horizon + 14], fill=24)
    label = np.asarray(label)
    image = np.zeros((h, w, 3), np.float32)
    for label_id, colour in LABEL_COLOURS.items():
        image[label == label_id] = colour
    image += rng.normal(0, 12, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), label


def write_cityscapes_layout(root, counts, h=64, w=128, seed=0):
    rng = np.random.default_rng(seed)
    for split, n in counts.items():
        img_dir = root / "leftImg8bit" / split / "town"
        gt_dir = root / "gtFine" / split / "town"
        img_dir.mkdir(parents=True)
        gt_dir.mkdir(parents=True)
        for i in range(n):
            image, label = draw_scene(rng, h, w)
            Image.fromarray(image).save(img_dir / f"town_000000_{i:06d}_leftImg8bit.png")
            Image.fromarray(label).save(gt_dir / f"town_000000_{i:06d}_gtFine_labelIds.png")
    return root


@pytest.fixture(scope="session")
def tiny_cityscapes(tmp_path_factory):
    return write_cityscapes_layout(tmp_path_factory.mktemp("tiny_cityscapes"), {"train": 6, "val": 2})


def tiny_overrides(root, out_dir, iterations=4):
    return [f"data.root={root}", "data.workers=0", f"output_dir={out_dir}", "threads=1",
            "augment.crop=[64,64]", "schedule.batch_size=2", f"schedule.iterations={iterations}",
            "schedule.eval_every=0", "schedule.checkpoint_every=2", "schedule.log_every=1",
            "schedule.warmup_iterations=1"]
