"""Calibrating the node's thresholds on a calibration split: lambda_out (Eq. 1) and lambda_novel (Eq. 12).

lambda_out: the anomaly probability P of the deployed scoring (:func:`owss_ros.core.open_set.anomaly_probability`
with the chosen score mode / EDS normalisation, on embeddings upsampled to the input size, as the node's
``score_resolution: input``) is pooled over every non-void pixel of the calibration split, and

* with a target TPR: lambda_out is the LARGEST value with ``TPR(P > lambda_out) >= target``
  (:func:`.thresholds.lambda_out_for_target_tpr`), i.e. the fewest false alarms that still flag the
  target share of anomaly pixels;
* with a target FPR: the SMALLEST value with ``FPR(P > lambda_out) <= target``
  (:func:`.thresholds.lambda_out_for_target_fpr`), i.e. the most detections within the false-alarm budget.

Both are exact (pooled exact meter); a second pass re-counts the achieved TPR / FPR with the
node's own comparison (float32 ``P > lambda_out``).

lambda_novel: the leave-one-shot-out quantile rule of :mod:`.novel_threshold`, averaged over
draws of k shots. Shots come from the calibration split's anomaly masks by default (each draw:
k images with anomaly pixels, their anomaly pixels = the operator's masks of "a class the model
does not know", which is what an operator teaches on the vehicle), or from ground-truth classes the
model does not know in a Cityscapes-layout split (e.g. car, truck, bus for the 16-class model).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from owss_ros.core.calibration import Calibration, ScoringDefinition
from owss_ros.core.classes import train_id_by_name
from owss_ros.core.open_set import ScoringConfig, anomaly_probability
from owss_ros.data.datasets import CityscapesDataset
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.networks import LoadedNetwork
from owss_ros.evaluation.novel_threshold import DEFAULT_NOVEL_QUANTILE, rule_description, shot_distance_quantile
from owss_ros.evaluation.shot_sampler import DEFAULT_MIN_SHOT_PIXELS, ClassPresence, draw_shots, load_shots
from owss_ros.evaluation.thresholds import (
    DEFAULT_CHUNK_PIXELS,
    inverted_labels,
    lambda_out_for_target_fpr,
    lambda_out_for_target_tpr,
    pooled_meter,
)
from owss_ros.core.dmlnet import upsampled_output

@torch.no_grad()
def anomaly_probability_map(network: LoadedNetwork, image: torch.Tensor, scoring: ScoringConfig) -> torch.Tensor:
    """(H, W) float32 P of the deployed scoring for a (1, 3, H, W) image."""
    distances = network.model.base_distances(upsampled_output(network.model, image))
    return anomaly_probability(distances, scoring)[0]


@dataclass
class LambdaOutCalibration:
    lambda_out: float
    target: str  # "tpr" or "fpr"
    target_value: float
    achieved_tpr: float
    achieved_fpr: float
    num_anomaly_pixels: int
    num_inlier_pixels: int
    pooled_metrics: dict = field(default_factory=dict)  # AUROC etc. of P on the calibration split


def calibrate_lambda_out(network: LoadedNetwork, split: AnomalySplit, scoring: ScoringConfig,
                         target_tpr: float | None = 0.95, target_fpr: float | None = None,
                         chunk_pixels: int = DEFAULT_CHUNK_PIXELS, progress: bool = True) -> LambdaOutCalibration:
    """lambda_out for a target TPR or FPR (exactly one), then the achieved rates re-counted."""
    if (target_tpr is None) == (target_fpr is None):
        raise ValueError("give exactly one of target_tpr and target_fpr")
    by_fpr = target_fpr is not None
    if by_fpr and not 0.0 <= target_fpr < 1.0:
        raise ValueError(f"target_fpr must be in [0, 1), got {target_fpr}")
    meter = pooled_meter(1.0 - target_fpr if by_fpr else target_tpr, chunk_pixels)
    report_meter = pooled_meter(0.95, chunk_pixels) if by_fpr else meter
    try:
        for index in tqdm(range(len(split)), desc="calibrate lambda_out", unit="img", disable=not progress,
                          leave=False):
            sample = split[index]
            p = anomaly_probability_map(network, sample.image, scoring).numpy()
            if by_fpr:
                meter.update(-p, inverted_labels(sample.anomaly))
                report_meter.update(p, sample.anomaly)
            else:
                meter.update(p, sample.anomaly)
        metrics = meter.compute()
        lambda_out = lambda_out_for_target_fpr(metrics) if by_fpr else lambda_out_for_target_tpr(metrics)
        pooled = report_meter.compute().as_dict()
    finally:
        meter.close()
        report_meter.close()
    tpr, fpr, positives, negatives = achieved_rates(network, split, scoring, lambda_out, progress)
    return LambdaOutCalibration(lambda_out, "fpr" if by_fpr else "tpr", target_fpr if by_fpr else target_tpr,
                                tpr, fpr, positives, negatives, pooled)


def achieved_rates(network: LoadedNetwork, split: AnomalySplit, scoring: ScoringConfig, lambda_out: float,
                   progress: bool = False) -> tuple[float, float, int, int]:
    """(TPR, FPR, anomaly pixels, inlier pixels) of Eq. 1's ``P > lambda_out`` over the split."""
    true_pos = false_pos = positives = negatives = 0
    for index in tqdm(range(len(split)), desc="check lambda_out", unit="img", disable=not progress, leave=False):
        sample = split[index]
        flagged = (anomaly_probability_map(network, sample.image, scoring) > lambda_out).numpy()
        anomaly, inlier = sample.anomaly == 1, sample.anomaly == 0
        true_pos += int(np.count_nonzero(flagged & anomaly))
        false_pos += int(np.count_nonzero(flagged & inlier))
        positives += int(np.count_nonzero(anomaly))
        negatives += int(np.count_nonzero(inlier))
    return (true_pos / positives if positives else float("nan"), false_pos / negatives if negatives else float("nan"),
            positives, negatives)


@dataclass
class LambdaNovelCalibration:
    lambda_novel: float
    rule: str
    source: str
    values: list[dict]  # one per (class, draw)


@torch.no_grad()
def calibrate_lambda_novel_on_anomalies(network: LoadedNetwork, split: AnomalySplit, shots: int = 5, draws: int = 5,
                                        quantile: float = DEFAULT_NOVEL_QUANTILE,
                                        min_pixels: int = DEFAULT_MIN_SHOT_PIXELS,
                                        first_seed: int = 0) -> LambdaNovelCalibration:
    """The rule with each draw's k calibration images' anomaly pixels as the operator's masks."""
    counts = np.array([int(np.count_nonzero(split[i].anomaly == 1)) for i in range(len(split))])
    presence = ClassPresence(tuple(str(i) for i in range(len(split))), counts[:, None])
    values = []
    for draw in range(draws):
        seed = first_seed + draw
        indices = draw_shots(presence, 0, shots, seed, min_pixels)
        samples = [split[i] for i in indices]
        embeddings = network.model(torch.cat([s.image for s in samples]))
        masks = torch.from_numpy(np.stack([s.anomaly == 1 for s in samples]))
        values.append({"class": "anomaly", "seed": seed, "images": [s.name for s in samples],
                       "value": shot_distance_quantile(embeddings, masks, quantile)})
    return LambdaNovelCalibration(float(np.mean([v["value"] for v in values])), rule_description(quantile),
                                  f"anomaly masks of {split.path} ({shots} shots x {draws} draws)", values)


@torch.no_grad()
def calibrate_lambda_novel_on_classes(network: LoadedNetwork, root: str | Path, class_names: Sequence[str],
                                      split: str = "train", shots: int = 5, draws: int = 5,
                                      quantile: float = DEFAULT_NOVEL_QUANTILE,
                                      min_pixels: int = DEFAULT_MIN_SHOT_PIXELS,
                                      first_seed: int = 0) -> LambdaNovelCalibration:
    """The rule on ground-truth classes the network does not know, shots drawn as in the few-shot benchmark."""
    known = [name for name in class_names if name in network.spec.class_names]
    if known:
        raise ValueError(f"{known} are classes of the model: lambda_novel must be calibrated on unknown classes")
    dataset = CityscapesDataset(root, split)
    presence = ClassPresence.scan(dataset)
    values = []
    for name in class_names:
        class_id = train_id_by_name(name)
        for draw in range(draws):
            seed = first_seed + draw
            shot_set = load_shots(dataset, class_id, draw_shots(presence, class_id, shots, seed, min_pixels))
            embeddings = network.model(shot_set.images)
            values.append({"class": name, "seed": seed, "images": shot_set.sample_names,
                           "value": shot_distance_quantile(embeddings, shot_set.masks, quantile)})
    source = f"classes {list(class_names)} of {Path(root) / split} ({shots} shots x {draws} draws)"
    return LambdaNovelCalibration(float(np.mean([v["value"] for v in values])), rule_description(quantile), source,
                                  values)


def calibration_of(network: LoadedNetwork, scoring: ScoringConfig, out_calibration: LambdaOutCalibration,
                   novel: LambdaNovelCalibration, calibration_data: str) -> Calibration:
    """The :class:`~owss_ros.core.calibration.Calibration` of a run: thresholds, the scoring they hold
    for, the model fingerprint, and how they were made (provenance)."""
    target_key = "target_tpr" if out_calibration.target == "tpr" else "target_fpr"
    provenance = {
        target_key: out_calibration.target_value,
        "achieved_tpr": out_calibration.achieved_tpr,
        "achieved_fpr": out_calibration.achieved_fpr,
        "calibration_anomaly_pixels": out_calibration.num_anomaly_pixels,
        "calibration_inlier_pixels": out_calibration.num_inlier_pixels,
        "calibration_auroc": out_calibration.pooled_metrics.get("auroc"),
        "calibration_fpr95": out_calibration.pooled_metrics.get("fpr_at_tpr"),
        "eds_range_source": "given" if scoring.eds_range is not None else "geometric default [T^2(N-1), 2T^2(N-1)]",
        "lambda_out_rule": (f"largest lambda_out with TPR(P > lambda_out) >= {out_calibration.target_value}"
                            if out_calibration.target == "tpr" else
                            f"smallest lambda_out with FPR(P > lambda_out) <= {out_calibration.target_value}")
                           + ", pooled over the calibration split's non-void pixels",
        "lambda_novel_units": "squared Euclidean distance in the embedding space",
        "lambda_novel_rule": novel.rule,
        "lambda_novel_source": novel.source,
        "lambda_novel_per_draw": [{"class": v["class"], "seed": v["seed"], "value": v["value"]} for v in novel.values],
        "model": network.path,
        "calibration_data": calibration_data,
    }
    return Calibration(scoring=ScoringDefinition.of(scoring, network.spec.num_classes),
                       lambda_out=float(out_calibration.lambda_out), lambda_novel=float(novel.lambda_novel),
                       model_fingerprint=network.fingerprint, provenance=provenance)
