"""Writing synthetic datasets to disk in the layouts the loaders read.

::

    out/leftImg8bit/{train,val}/synthNN/synthNN_IIIIII_000019_leftImg8bit.png
    out/gtFine/{train,val}/synthNN/synthNN_IIIIII_000019_gtFine_labelIds.png   (+ _gtFine_color.png)
    out/anomaly/images/synth_IIIIII.png                   Fishyscapes-style anomaly split
    out/anomaly/labels_masks/synth_IIIIII.png             0 known / 1 anomaly / 255 void
    out/anomaly/labels_trainIds/synth_IIIIII.png          close-set train ids (anomaly = 255)
    out/streethazards/test/images/test/synth/IIIIII.png   StreetHazards-style split
    out/streethazards/test/annotations/test/synth/IIIIII.png  train id + 1, 0 void, 20 anomaly
    out/manifest.json

Image ``i`` of a split is rendered from :func:`~owss_ros.data.synthetic.seeding.scene_rng`
``(seed, split, i)``, so the output does not depend on the number of workers.
"""

from __future__ import annotations

import json
import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from owss_ros.core.atomic_file import atomic_write_text
from owss_ros.core.classes import CITYSCAPES_NAMES, IGNORE_INDEX
from owss_ros.data.image_io import write_label, write_rgb
from owss_ros.data.label_maps import label_id_palette
from owss_ros.data.synthetic.scene import SyntheticScene, render_scene
from owss_ros.data.synthetic.seeding import scene_rng

CITY_SIZE = 500  # images per pseudo-city folder
MAX_ANOMALIES_PER_SCENE = 3
HAZARDS_ANOMALY_VALUE = len(CITYSCAPES_NAMES) + 1  # 20: train id + 1 for known classes, 0 void
LABEL_ID_PALETTE = label_id_palette().ravel().tolist()
SPLIT_KINDS = {"train": "cityscapes", "val": "cityscapes", "anomaly": "fishyscapes", "hazards": "streethazards"}


@dataclass(frozen=True)
class Job:
    out: str
    split: str
    index: int
    seed: int
    width: int
    height: int


def save_colour_labels(path: Path, label_ids: np.ndarray) -> None:
    """Viewing copy of a labelIds map: a palette PNG showing the Cityscapes colours."""
    image = Image.fromarray(label_ids, "P")
    image.putpalette(LABEL_ID_PALETTE)
    image.save(path, compress_level=1)


def cityscapes_stem(index: int) -> tuple[str, str]:
    city = f"synth{index // CITY_SIZE:02d}"
    return city, f"{city}_{index:06d}_000019"


def render_job(job: Job) -> SyntheticScene:
    rng = scene_rng(job.seed, job.split, job.index)
    anomalies = int(rng.integers(1, MAX_ANOMALIES_PER_SCENE + 1)) if SPLIT_KINDS[job.split] != "cityscapes" else 0
    return render_scene(rng, job.width, job.height, anomalies=anomalies)


def write_job(job: Job) -> dict:
    """Render one image and write every file of its layout; returns its pixel statistics."""
    scene = render_job(job)
    out = Path(job.out)
    kind = SPLIT_KINDS[job.split]
    if kind == "cityscapes":
        city, stem = cityscapes_stem(job.index)
        image_dir = out / "leftImg8bit" / job.split / city
        label_dir = out / "gtFine" / job.split / city
        image_dir.mkdir(parents=True, exist_ok=True)
        label_dir.mkdir(parents=True, exist_ok=True)
        write_rgb(image_dir / f"{stem}_leftImg8bit.png", scene.image)
        write_label(label_dir / f"{stem}_gtFine_labelIds.png", scene.label_ids)
        save_colour_labels(label_dir / f"{stem}_gtFine_color.png", scene.label_ids)
    elif kind == "fishyscapes":
        stem = f"synth_{job.index:06d}"
        for sub in ("images", "labels_masks", "labels_trainIds"):
            (out / "anomaly" / sub).mkdir(parents=True, exist_ok=True)
        write_rgb(out / "anomaly" / "images" / f"{stem}.png", scene.image)
        write_label(out / "anomaly" / "labels_masks" / f"{stem}.png", scene.anomaly)
        write_label(out / "anomaly" / "labels_trainIds" / f"{stem}.png", scene.train_ids)
    else:
        stem = f"{job.index:06d}"
        root = out / "streethazards" / "test"
        (root / "images" / "test" / "synth").mkdir(parents=True, exist_ok=True)
        (root / "annotations" / "test" / "synth").mkdir(parents=True, exist_ok=True)
        write_rgb(root / "images" / "test" / "synth" / f"{stem}.png", scene.image)
        write_label(root / "annotations" / "test" / "synth" / f"{stem}.png", hazards_annotation(scene))
    train_ids = scene.train_ids
    return {
        "split": job.split,
        "class_pixels": np.bincount(train_ids.ravel(), minlength=256)[: len(CITYSCAPES_NAMES)].tolist(),
        "void_pixels": int((train_ids == IGNORE_INDEX).sum()),
        "anomaly_pixels": int((scene.anomaly == 1).sum()),
    }


def hazards_annotation(scene: SyntheticScene) -> np.ndarray:
    """StreetHazards encoding: train id + 1 for known pixels, 0 void, 20 anomaly."""
    raw = scene.train_ids.astype(np.uint16) + 1
    raw[scene.train_ids == IGNORE_INDEX] = 0
    raw[scene.anomaly == 1] = HAZARDS_ANOMALY_VALUE
    return raw.astype(np.uint8)


def generate_dataset(
    out: str | Path,
    counts: dict[str, int],
    width: int = 512,
    height: int = 256,
    seed: int = 0,
    workers: int = 1,
    progress: Callable[[int], Iterator] | None = None,
) -> dict:
    """Render and write ``counts`` images per split (keys of :data:`SPLIT_KINDS`); returns the
    manifest, also written to ``out/manifest.json``. ``progress`` wraps the result iterator
    (e.g. ``lambda total: tqdm(total=total)`` style callables returning an updater)."""
    unknown = set(counts) - set(SPLIT_KINDS)
    if unknown:
        raise ValueError(f"unknown splits {sorted(unknown)}; choose from {sorted(SPLIT_KINDS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [Job(str(out), split, i, seed, width, height) for split, n in counts.items() for i in range(n)]
    start = time.perf_counter()
    results = []
    bar = progress(len(jobs)) if progress is not None else None
    if workers > 1 and len(jobs) > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for result in pool.imap_unordered(write_job, jobs, chunksize=4):
                results.append(result)
                if bar is not None:
                    bar.update(1)
    else:
        for job in jobs:
            results.append(write_job(job))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    manifest = build_manifest(results, counts, width, height, seed, workers, seconds)
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2))
    return manifest


def build_manifest(
    results: list[dict], counts: dict[str, int], width: int, height: int, seed: int, workers: int, seconds: float
) -> dict:
    per_split = {}
    for split in counts:
        rows = [r for r in results if r["split"] == split]
        if not rows:
            continue
        pixels = np.sum([r["class_pixels"] for r in rows], axis=0)
        total = len(rows) * width * height
        per_split[split] = {
            "images": len(rows),
            "class_pixel_frequency": {name: round(float(p) / total, 6) for name, p in zip(CITYSCAPES_NAMES, pixels)},
            "images_containing_class": {
                name: sum(1 for r in rows if r["class_pixels"][k] > 0) for k, name in enumerate(CITYSCAPES_NAMES)
            },
            "void_fraction": round(sum(r["void_pixels"] for r in rows) / total, 6),
            "anomaly_fraction": round(sum(r["anomaly_pixels"] for r in rows) / total, 6),
        }
    return {
        "generator": "owss_ros.data.synthetic",
        "format_version": 1,
        "seed": seed,
        "size": [width, height],
        "counts": dict(counts),
        "workers": workers,
        "seconds": round(seconds, 3),
        "images_per_second": round(len(results) / seconds, 3) if seconds > 0 else None,
        "layouts": {
            "train": "leftImg8bit/train + gtFine/train (Cityscapes labelIds)",
            "val": "leftImg8bit/val + gtFine/val (Cityscapes labelIds)",
            "anomaly": "anomaly/images + anomaly/labels_masks (0/1/255) + anomaly/labels_trainIds",
            "hazards": "streethazards/test/{images,annotations}/test/synth (train id + 1, 0 void, 20 anomaly)",
        },
        "splits": per_split,
    }
