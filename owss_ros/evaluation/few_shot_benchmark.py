"""Incremental few-shot benchmark in the shape of paper Table 4.

Protocol (paper Sec. 5.2, with the project's stated choices):

* base model: a DMLNet trained without the novel classes (16 classes: car, truck, bus excluded);
  its ``class_names`` map its ids back to the 19 Cityscapes train ids;
* settings ``N+1`` (car) and ``N+3`` (car, then truck, then bus, one at a time): one teaching
  sequence per draw, evaluated after 1 and after 3 classes (the 16+1 result is the first step of
  the 16+3 sequence, with the same car shots);
* shots: k images of the TRAIN split containing the class, drawn by seed
  (:mod:`.shot_sampler`); at least 3 draws; mean and sample standard deviation (ddof = 1) over draws;
* evaluation on the VAL split in the 19 train ids. After k taught classes the ground truth of the
  novel classes not yet taught is ignored (they were ignore during base training too), and their
  IoU is not reported ("-", as in Table 4);
* columns: per-class IoU, mIoU old (the base classes), mIoU novel (the taught ones) and the
  harmonic mean 2 o n / (o + n) (:func:`owss_ros.core.metrics.old_novel_harmonic`), computed per
  draw and then averaged;
* reference rows (no draw): ``Base`` = the base model alone (Table 4 "First 16"), ``Oracle`` =
  a DMLNet trained on all classes (optional; Table 4's upper bound "All 19").
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from owss_ros.core.classes import CITYSCAPES_NAMES, IGNORE_INDEX, train_id_by_name
from owss_ros.core.dmlnet import close_set_prediction
from owss_ros.core.metrics import ConfusionMatrixMeter, old_novel_harmonic
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.evaluation.few_shot_learners import (
    FEW_SHOT_METHODS,
    TeachingOptions,
    predict_all,
    teach_classes,
)
from owss_ros.evaluation.networks import LoadedNetwork
from owss_ros.evaluation.novel_threshold import rule_description
from owss_ros.evaluation.report_io import markdown_table, mean_and_spread, percent
from owss_ros.evaluation.shot_sampler import DEFAULT_MIN_SHOT_PIXELS, ClassPresence, draw_shots, load_shots
from owss_ros.training.transforms import to_tensors

NUM_TRAIN_IDS = len(CITYSCAPES_NAMES)
SHORT_NAMES = ("road", "sidew", "build", "wall", "fence", "pole", "light", "sign", "veg", "terr", "sky", "pers",
               "rider", "car", "truck", "bus", "train", "moto", "bike")


@dataclass
class FewShotSettings:
    data_root: str
    novel_classes: Sequence[str] = ("car", "truck", "bus")
    stages: Sequence[int] = (1, 3)  # numbers of taught classes evaluated: 16+1, 16+3
    shots: Sequence[int] = (5, 1)
    draws: int = 3
    first_seed: int = 0
    train_split: str = "train"
    val_split: str = "val"
    min_shot_pixels: int = DEFAULT_MIN_SHOT_PIXELS
    max_val_images: int = 0
    teaching: TeachingOptions = field(default_factory=TeachingOptions)
    progress: bool = True


def label_lookup(base_class_names: Sequence[str], novel_classes: Sequence[str]) -> torch.Tensor:
    """Prediction id -> Cityscapes train id: base ids 0..N-1 by name, then the novel classes."""
    ids = [train_id_by_name(name) for name in base_class_names] + [train_id_by_name(n) for n in novel_classes]
    return torch.tensor(ids, dtype=torch.long)


def masked_ground_truth(label: np.ndarray, untaught_ids: Sequence[int]) -> np.ndarray:
    """GT with the not-yet-taught novel classes set to ignore."""
    if not untaught_ids:
        return label
    return np.where(np.isin(label, list(untaught_ids)), IGNORE_INDEX, label)


def summarize_iou(iou: np.ndarray, old_ids: Sequence[int], novel_ids: Sequence[int]) -> dict:
    """Per-class IoU (classes neither old nor taught -> None), mIoU old / novel, harmonic."""
    o, n, h = old_novel_harmonic(iou, old_ids, novel_ids)
    reported = set(old_ids) | set(novel_ids)
    return {"iou_per_class": [float(v) if i in reported and math.isfinite(v) else None for i, v in enumerate(iou)],
            "miou_old": o, "miou_novel": n, "harmonic": h}


def aggregate(rows: Sequence[dict]) -> dict:
    """Mean and sample std (ddof = 1; None for one draw) of every number over draws."""
    def stats(values):
        values = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        defined = values[np.isfinite(values)]
        mean = float(defined.mean()) if len(defined) else None
        std = float(defined.std(ddof=1)) if len(defined) > 1 else None
        return mean, std

    result = {"num_draws": len(rows)}
    for key in ("miou_old", "miou_novel", "harmonic"):
        result[key], result[key + "_std"] = stats([row[key] for row in rows])
    per_class = [stats([row["iou_per_class"][c] for row in rows]) for c in range(NUM_TRAIN_IDS)]
    result["iou_per_class"] = [m for m, _ in per_class]
    result["iou_per_class_std"] = [s for _, s in per_class]
    return result


class ValSet:
    """The val split in the 19 train ids as (normalised image, label) pairs."""

    def __init__(self, root: str, split: str, max_images: int = 0):
        self.dataset = CityscapesDataset(root, split)
        self.count = len(self.dataset) if max_images <= 0 else min(max_images, len(self.dataset))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> tuple[torch.Tensor, np.ndarray]:
        sample = self.dataset[index]
        image, label = to_tensors(sample["image"], sample["label"])
        return image[None], label.numpy()


def evaluate_reference_rows(base: LoadedNetwork, oracle: LoadedNetwork | None, val: ValSet,
                            novel_ids: Sequence[int], stages: Sequence[int], progress: bool) -> dict:
    """``Base`` (and ``Oracle``) rows per stage: close-set predictions mapped to train ids."""
    models = {"Base": base} | ({"Oracle": oracle} if oracle is not None else {})
    luts = {name: label_lookup(net.spec.class_names, ()) for name, net in models.items()}
    meters = {(name, k): ConfusionMatrixMeter(NUM_TRAIN_IDS) for name in models for k in stages}
    with torch.no_grad():
        for index in tqdm(range(len(val)), desc="reference rows", unit="img", disable=not progress, leave=False):
            image, label = val[index]
            for name, net in models.items():
                pred = luts[name][close_set_prediction(net.model, image)[0]].numpy()
                for k in stages:
                    meters[(name, k)].update(pred, masked_ground_truth(label, novel_ids[k:]))
    old_ids = [train_id_by_name(n) for n in base.spec.class_names]
    return {f"{name}|{k}": summarize_iou(meter.compute().iou_per_class, old_ids, novel_ids[:k])
            for (name, k), meter in meters.items()}


def run_few_shot_benchmark(base: LoadedNetwork, settings: FewShotSettings,
                           oracle: LoadedNetwork | None = None) -> dict:
    """All draws, all methods, all stages; returns the JSON document (see the module docstring)."""
    if base.kind != "dml":
        raise ValueError("the few-shot base model must be a DMLNet")
    overlap = [c for c in settings.novel_classes if c in base.spec.class_names]
    if overlap:
        raise ValueError(f"novel classes {overlap} are already classes of the base model")
    stages = sorted(set(settings.stages))
    if stages[0] < 1 or stages[-1] > len(settings.novel_classes):
        raise ValueError(f"stages must be within 1..{len(settings.novel_classes)}, got {stages}")
    novel_ids = [train_id_by_name(name) for name in settings.novel_classes]
    old_ids = [train_id_by_name(name) for name in base.spec.class_names]
    lut = label_lookup(base.spec.class_names, settings.novel_classes)
    train = CityscapesDataset(settings.data_root, settings.train_split)
    presence = ClassPresence.scan(train, settings.progress)
    val = ValSet(settings.data_root, settings.val_split, settings.max_val_images)
    num_base = base.spec.num_classes
    setting_name = {k: f"{num_base}+{k}" for k in stages}

    per_draw: list[dict] = []
    draw_records: list[dict] = []
    for shots in settings.shots:
        for draw in range(settings.draws):
            seed = settings.first_seed + draw
            shot_sets = [load_shots(train, class_id, draw_shots(presence, class_id, shots, seed,
                                                                settings.min_shot_pixels))
                         for class_id in novel_ids[:stages[-1]]]
            teaching = dataclasses.replace(settings.teaching, seed=seed)
            taught = teach_classes(base.model, shot_sets, teaching, keep_ft_after=stages)
            meters = {(m, k): ConfusionMatrixMeter(NUM_TRAIN_IDS) for m in teaching.methods for k in stages}
            for index in tqdm(range(len(val)), desc=f"{shots}-shot draw {seed}", unit="img",
                              disable=not settings.progress, leave=False):
                image, label = val[index]
                masked = {k: masked_ground_truth(label, novel_ids[k:]) for k in stages}
                for (method, k), pred in predict_all(taught, image, stages).items():
                    meters[(method, k)].update(lut[pred].numpy(), masked[k])
            for (method, k), meter in meters.items():
                per_draw.append({"shots": shots, "seed": seed, "method": method, "setting": setting_name[k],
                                 "taught": settings.novel_classes[:k],
                                 **summarize_iou(meter.compute().iou_per_class, old_ids, novel_ids[:k])})
            draw_records.append({"shots": shots, "seed": seed,
                                 "shot_images": {s.class_name: s.sample_names for s in shot_sets},
                                 "npm_lambda_novel": dict(zip(settings.novel_classes, taught.thresholds))})

    reference = evaluate_reference_rows(base, oracle, val, novel_ids, stages, settings.progress)
    rows = []
    for k in stages:
        for name in ("Base", "Oracle"):
            if f"{name}|{k}" in reference:
                rows.append({"setting": setting_name[k], "shots": None, "method": name,
                             **aggregate([reference[f"{name}|{k}"]])})
        for shots in settings.shots:
            for method in settings.teaching.methods:
                draws = [r for r in per_draw if r["method"] == method and r["shots"] == shots
                         and r["setting"] == setting_name[k]]
                rows.append({"setting": setting_name[k], "shots": shots, "method": method, **aggregate(draws)})
    teaching = settings.teaching
    return {
        "base_model": base.describe(), "oracle_model": oracle.describe() if oracle else None,
        "data_root": settings.data_root, "train_split": settings.train_split, "val_split": settings.val_split,
        "val_images": len(val), "novel_classes": list(settings.novel_classes), "novel_train_ids": novel_ids,
        "old_train_ids": old_ids, "class_names": list(CITYSCAPES_NAMES), "settings": setting_name,
        "shots": list(settings.shots), "draws": settings.draws, "seeds": [settings.first_seed + d for d in
                                                                          range(settings.draws)],
        "min_shot_pixels": settings.min_shot_pixels,
        "teaching": {**{k: v for k, v in teaching.__dict__.items() if k not in ("known_pixels", "scoring")},
                     "unknown_scoring": (None if teaching.scoring is None else
                                         {"lambda_out": teaching.scoring.lambda_out,
                                          "score_mode": teaching.scoring.score_mode.value,
                                          "eds_normalization": teaching.scoring.eds_normalization.value}),
                     "methods": list(teaching.methods),
                     "novel_guard": (None if teaching.known_pixels is None else
                                     {"quantile": teaching.known_pixels.guard_quantile,
                                      "source": teaching.known_pixels.source,
                                      "pixels": int(teaching.known_pixels.embeddings.shape[0])}),
                     "lambda_novel_rule": (f"fixed {teaching.lambda_novel}" if teaching.lambda_novel is not None
                                           else rule_description(teaching.novel_quantile))},
        "spread": "sample standard deviation over draws (ddof = 1)",
        "rows": rows, "per_draw": per_draw, "draw_records": draw_records,
    }


def few_shot_table(document: dict) -> str:
    """Table 4 shape: per-class IoU (mean over draws), mIoU old / novel / harmonic (mean ± std)."""
    headers = ["Setting", "Shots", "Method", *SHORT_NAMES, "mIoU old", "mIoU novel", "harmonic"]
    body = []
    for row in document["rows"]:
        body.append([row["setting"], "-" if row["shots"] is None else str(row["shots"]), row["method"],
                     *[percent(v) for v in row["iou_per_class"]],
                     mean_and_spread(row["miou_old"], row["miou_old_std"]),
                     mean_and_spread(row["miou_novel"], row["miou_novel_std"]),
                     mean_and_spread(row["harmonic"], row["harmonic_std"])])
    return markdown_table(headers, body)


__all__ = ["FEW_SHOT_METHODS", "FewShotSettings", "aggregate", "few_shot_table", "label_lookup",
           "masked_ground_truth", "run_few_shot_benchmark", "summarize_iou"]
