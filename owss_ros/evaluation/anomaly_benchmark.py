"""Streaming anomaly-segmentation evaluation of several methods over one split.

Per method, memory-bounded meters from :mod:`owss_ros.core.metrics`:

* pooled pixel metrics over the whole split (Fishyscapes / SegmentMeIfYouCan protocol):
  AUROC, FPR at the TPR target (FPR95), AUPR, ROC / PR curves -
  :class:`~owss_ros.core.metrics.ExactPooledAnomalyMeter` (spills sorted runs to disk);
* per-image pixel metrics averaged over the images holding anomaly pixels (StreetHazards / paper
  Table 1 protocol) - :class:`~owss_ros.core.metrics.PerImageAnomalyMeter`;
* SegmentMeIfYouCan component metrics (sIoU gt, PPV, mean F1) at a threshold per method taken
  from a calibration split - :class:`~owss_ros.core.metrics.ComponentMetricsMeter`.

Each image goes through each network once (:func:`iterate_network_outputs`); every method's score
map comes from that one output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from owss_ros.core.metrics import (
    SMIYC_ANOMALY_TRACK,
    ComponentMetricsMeter,
    ComponentSizeLimits,
    ConfusionMatrixMeter,
    PerImageAnomalyMeter,
    SegmentationMetrics,
)
from owss_ros.core.open_set import ScoringConfig
from owss_ros.evaluation.anomaly_scores import AnomalyMethod
from owss_ros.evaluation.anomaly_splits import AnomalySample, AnomalySplit
from owss_ros.evaluation.networks import LoadedNetwork, NetworkOutput, run_network
from owss_ros.evaluation.thresholds import (
    DEFAULT_CHUNK_PIXELS,
    CalibratedThreshold,
    pooled_meter,
    threshold_from_metrics,
)

SMIYC_FRAME_PIXELS = 2048 * 1024  # the frame size the SegmentMeIfYouCan component sizes were set for
DEFAULT_CURVE_POINTS = 500


def scaled_component_limits(height: int, width: int,
                            track: ComponentSizeLimits = SMIYC_ANOMALY_TRACK) -> ComponentSizeLimits:
    """The benchmark's minimum component sizes scaled by frame area (at least 1 pixel).

    SegmentMeIfYouCan's Anomaly Track ignores ground-truth components under 100 pixels and
    predicted ones under 500 pixels of a 2048x1024 frame; a 512x256 frame has 16x fewer pixels,
    so the same physical objects cover 16x fewer pixels (6 and 31).
    """
    ratio = height * width / SMIYC_FRAME_PIXELS
    return ComponentSizeLimits(max(1, round(track.min_gt_component_size * ratio)),
                               max(1, round(track.min_pred_component_size * ratio)))


def iterate_network_outputs(split: AnomalySplit, networks: Mapping[str, LoadedNetwork], scoring: ScoringConfig,
                            description: str = "", progress: bool = True
                            ) -> Iterator[tuple[int, AnomalySample, dict[str, NetworkOutput]]]:
    """Yields (index, sample, {network kind: output}) with one forward pass per network."""
    indices = range(len(split))
    bar = tqdm(indices, desc=description, unit="img", disable=not progress, leave=False)
    for index in bar:
        sample = split[index]
        outputs = {kind: run_network(network, sample.image, scoring) for kind, network in networks.items()}
        yield index, sample, outputs
    bar.close()


def method_score_map(method: AnomalyMethod, outputs: Mapping[str, NetworkOutput]) -> np.ndarray:
    """(H, W) float32 score map of ``method`` for a single-image batch."""
    return outputs[method.network].scores[method.key][0].cpu().numpy()


def calibrate_component_thresholds(split: AnomalySplit, networks: Mapping[str, LoadedNetwork],
                                   scoring: ScoringConfig, methods: Sequence[AnomalyMethod], rule: str,
                                   tpr_target: float = 0.95, chunk_pixels: int = DEFAULT_CHUNK_PIXELS,
                                   progress: bool = True) -> dict[str, CalibratedThreshold]:
    """Per method, the ``rule`` threshold (``best-f1`` / ``tpr``) of its pooled calibration metrics."""
    meters = {method.key: pooled_meter(tpr_target, chunk_pixels) for method in methods}
    try:
        for _, sample, outputs in iterate_network_outputs(split, networks, scoring, "calibration", progress):
            for method in methods:
                meters[method.key].update(method_score_map(method, outputs), sample.anomaly)
        return {key: threshold_from_metrics(meter.compute(), rule) for key, meter in meters.items()}
    finally:
        for meter in meters.values():
            meter.close()


@dataclass
class QualitativeExample:
    """What a qualitative panel shows for one image."""

    name: str
    rgb: np.ndarray
    anomaly: np.ndarray
    scores: dict[str, np.ndarray]  # method key -> (H, W)


@dataclass
class SplitEvaluation:
    """Everything measured on one anomaly split."""

    split: dict
    methods: list[AnomalyMethod]
    pooled: dict[str, dict]
    per_image: dict[str, dict]
    components: dict[str, dict] | None
    component_limits: ComponentSizeLimits | None
    curves: dict[str, dict]
    close_set_miou: dict[str, dict] = field(default_factory=dict)
    examples: list[QualitativeExample] = field(default_factory=list)

    def as_dict(self) -> dict:
        rows = {}
        for method in self.methods:
            rows[method.key] = {
                "label": method.label, "network": method.network, "definition": method.definition,
                "pooled": self.pooled[method.key], "per_image": self.per_image[method.key],
                "components": None if self.components is None else self.components[method.key],
            }
        limits = None if self.component_limits is None else {
            "min_gt_component_size": self.component_limits.min_gt_component_size,
            "min_pred_component_size": self.component_limits.min_pred_component_size}
        return {"split": self.split, "methods": rows, "component_size_limits": limits,
                "close_set_miou": self.close_set_miou}


def evenly_spaced(count: int, total: int) -> list[int]:
    """``count`` distinct indices spread over ``range(total)`` (deterministic)."""
    if count <= 0 or total <= 0:
        return []
    return sorted(set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist()))


def evaluate_anomaly_split(split: AnomalySplit, networks: Mapping[str, LoadedNetwork], scoring: ScoringConfig,
                           methods: Sequence[AnomalyMethod], *, tpr_target: float = 0.95,
                           component_thresholds: Mapping[str, CalibratedThreshold] | None = None,
                           min_gt_component: int | None = None, min_pred_component: int | None = None,
                           num_examples: int = 3,
                           chunk_pixels: int = DEFAULT_CHUNK_PIXELS, curve_points: int = DEFAULT_CURVE_POINTS,
                           progress: bool = True, description: str = "evaluate") -> SplitEvaluation:
    """One pass over ``split``: pooled, per-image and (with thresholds) component metrics of every
    method, close-set mIoU of each network whose classes match the split's close-set labels, and
    the score maps of ``num_examples`` evenly spaced images for the qualitative panels.

    Component size limits left as None are the SegmentMeIfYouCan Anomaly Track's scaled to the
    frame (:func:`scaled_component_limits`)."""
    pooled = {m.key: pooled_meter(tpr_target, chunk_pixels, curve_points) for m in methods}
    per_image = {m.key: PerImageAnomalyMeter(tpr_target) for m in methods}
    components: dict[str, ComponentMetricsMeter] | None = None
    component_limits: ComponentSizeLimits | None = None
    confusion = {kind: ConfusionMatrixMeter(len(net.spec.class_names)) for kind, net in networks.items()
                 if split.class_names is not None and tuple(net.spec.class_names) == tuple(split.class_names)}
    example_indices = set(evenly_spaced(num_examples, len(split)))
    examples: list[QualitativeExample] = []
    try:
        for index, sample, outputs in iterate_network_outputs(split, networks, scoring, description, progress):
            if component_thresholds is not None and components is None:
                scaled = scaled_component_limits(*sample.anomaly.shape)
                component_limits = ComponentSizeLimits(
                    scaled.min_gt_component_size if min_gt_component is None else min_gt_component,
                    scaled.min_pred_component_size if min_pred_component is None else min_pred_component)
                components = {m.key: ComponentMetricsMeter(
                    component_thresholds[m.key].threshold,
                    min_gt_component_size=component_limits.min_gt_component_size,
                    min_pred_component_size=component_limits.min_pred_component_size) for m in methods}
            maps = {m.key: method_score_map(m, outputs) for m in methods}
            for method in methods:
                pooled[method.key].update(maps[method.key], sample.anomaly)
                per_image[method.key].update(maps[method.key], sample.anomaly)
                if components is not None:
                    components[method.key].update(maps[method.key], sample.anomaly)
            for kind, meter in confusion.items():
                meter.update(outputs[kind].close_labels[0].cpu().numpy(), sample.label)
            if index in example_indices:
                examples.append(QualitativeExample(sample.name, sample.rgb, sample.anomaly, maps))
        return SplitEvaluation(
            split=split.describe(), methods=list(methods),
            pooled={key: meter.compute().as_dict() for key, meter in pooled.items()},
            per_image={key: meter.compute().as_dict() for key, meter in per_image.items()},
            components=None if components is None else {
                key: {**meter.compute().as_dict(), "threshold": component_thresholds[key].as_dict()}
                for key, meter in components.items()},
            component_limits=component_limits,
            curves={key: meter.curves().as_dict() for key, meter in pooled.items()},
            close_set_miou={kind: miou_summary(meter.compute(), networks[kind].spec.class_names)
                            for kind, meter in confusion.items()},
            examples=examples,
        )
    finally:
        for meter in pooled.values():
            meter.close()


def miou_summary(metrics: SegmentationMetrics, class_names: Sequence[str]) -> dict:
    """mIoU, pixel accuracy and per-class IoU by name (NaN -> None for JSON)."""
    return {"miou": _json_float(metrics.miou), "pixel_accuracy": _json_float(metrics.pixel_accuracy),
            "num_pixels": metrics.num_pixels,
            "iou_per_class": {name: _json_float(v) for name, v in zip(class_names, metrics.iou_per_class)}}


def _json_float(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
