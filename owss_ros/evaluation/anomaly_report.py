"""The whole ``owss_ros evaluate`` run: calibration thresholds, each anomaly split, close-set
mIoU, tables (paper Tables 1 and 3 shape), JSON, curves and qualitative panels.

Outputs under ``out_dir``::

    anomaly_results.json       every number (both protocols, components, thresholds, mIoU, settings)
    tables.md                  the printed markdown tables
    <split>_roc.png, <split>_pr.png     pooled curves, all methods on one figure each
    <split>_curves.json        the plotted (downsampled, exact) curve points
    <split>_examples/<image>.png        qualitative panels
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from owss_ros.core.atomic_file import atomic_write_text
from owss_ros.core.open_set import ScoringConfig
from owss_ros.evaluation.anomaly_benchmark import (
    SplitEvaluation,
    calibrate_component_thresholds,
    evaluate_anomaly_split,
)
from owss_ros.evaluation.anomaly_scores import AnomalyMethod, methods_for_networks
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.networks import LoadedNetwork
from owss_ros.evaluation.plots import plot_pr_curves, plot_qualitative_panel, plot_roc_curves
from owss_ros.evaluation.report_io import markdown_table, percent, write_json
from owss_ros.evaluation.thresholds import DEFAULT_CHUNK_PIXELS
from owss_ros.evaluation.val_miou import network_val_miou


@dataclass
class AnomalyEvaluationSettings:
    anomaly_data: Sequence[str]
    out_dir: str
    calibration_data: str | None = None
    component_threshold_rule: str = "best-f1"
    tpr_target: float = 0.95
    val_data: str | None = None
    val_split: str = "val"
    layout: str = "auto"
    min_gt_component: int | None = None  # None: SMIYC Anomaly Track size scaled to the frame area
    min_pred_component: int | None = None
    num_examples: int = 3
    max_images: int = 0
    chunk_pixels: int = DEFAULT_CHUNK_PIXELS
    progress: bool = True
    command: str = ""


@dataclass
class AnomalyEvaluationReport:
    document: dict
    tables: str
    files: list[Path] = field(default_factory=list)


def scoring_description(scoring: ScoringConfig, num_classes: int | None) -> dict:
    eds_range = scoring.resolved_eds_range(num_classes) if num_classes else scoring.eds_range
    return {"eds_normalization": scoring.eds_normalization.value, "eds_range": eds_range,
            "eds_range_source": "given" if scoring.eds_range is not None else "geometric default T^2(N-1), 2T^2(N-1)",
            "beta": scoring.beta, "gamma": scoring.gamma, "temperature": scoring.temperature,
            "distances": "squared distances of embeddings bilinearly upsampled to the input size"}


def split_names(paths: Sequence[str]) -> list[str]:
    """A short unique name per split folder (its folder name, suffixed on clashes)."""
    names: list[str] = []
    for path in paths:
        base = Path(path).resolve().name or "split"
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


def pixel_table(evaluation: SplitEvaluation, val_miou: Mapping[str, dict]) -> str:
    """AUROC / FPR95 / AUPR under both protocols, plus each network's close-set mIoU (Table 1 / 3)."""
    tpr = evaluation.pooled[evaluation.methods[0].key]["tpr_target"]
    fpr_name = f"FPR{round(100 * tpr)}"
    headers = ["Method", "Net", "AUROC↑ pooled", f"{fpr_name}↓ pooled", "AUPR↑ pooled",
               "AUROC↑ per-img", f"{fpr_name}↓ per-img", "AUPR↑ per-img", "mIoU↑ val", "mIoU↑ split"]
    rows = []
    for method in evaluation.methods:
        pooled, per_image = evaluation.pooled[method.key], evaluation.per_image[method.key]
        val = val_miou.get(method.network, {}).get("miou")
        on_split = evaluation.close_set_miou.get(method.network, {}).get("miou")
        rows.append([method.label, method.network, percent(pooled["auroc"]), percent(pooled["fpr_at_tpr"]),
                     percent(pooled["aupr"]), percent(per_image["auroc"]), percent(per_image["fpr_at_tpr"]),
                     percent(per_image["aupr"]), percent(val), percent(on_split)])
    return markdown_table(headers, rows)


def component_table(evaluation: SplitEvaluation) -> str:
    """SegmentMeIfYouCan component metrics at the calibration-split thresholds."""
    headers = ["Method", "threshold (rule, from calibration)", "sIoU gt↑", "PPV↑", "mean F1↑", "GT comps",
               "pred comps"]
    rows = []
    for method in evaluation.methods:
        c = evaluation.components[method.key]
        t = c["threshold"]
        rows.append([method.label, f"{t['threshold']:.4g} ({t['rule']})", percent(c["mean_siou_gt"]),
                     percent(c["mean_ppv"]), percent(c["mean_f1"]), str(c["num_gt_components"]),
                     str(c["num_pred_components"])])
    return markdown_table(headers, rows)


def run_anomaly_evaluation(networks: Mapping[str, LoadedNetwork], scoring: ScoringConfig,
                           settings: AnomalyEvaluationSettings) -> AnomalyEvaluationReport:
    """Run everything and write the outputs (see the module docstring)."""
    if not networks:
        raise ValueError("give at least one network (a DMLNet and/or its cross-entropy twin)")
    out = Path(settings.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    methods: tuple[AnomalyMethod, ...] = methods_for_networks(networks)
    dml = networks.get("dml")
    class_names = next(iter(networks.values())).spec.class_names
    files: list[Path] = []
    document: dict = {
        "command": settings.command,
        "networks": {kind: net.describe() for kind, net in networks.items()},
        "scoring": scoring_description(scoring, dml.spec.num_classes if dml else None),
        "tpr_target": settings.tpr_target,
        "protocols": {
            "pooled": "all non-void pixels of the split in one ROC / PR (Fishyscapes, SegmentMeIfYouCan)",
            "per_image": "metrics per image over images with anomaly pixels, then averaged "
                         "(StreetHazards, DMLNet Table 1)",
            "components": "SegmentMeIfYouCan sIoU gt / PPV / mean F1 over tau in 0.25..0.75 at a score "
                          "threshold per method chosen on the calibration split",
        },
    }

    thresholds = None
    if settings.calibration_data:
        calibration = AnomalySplit(settings.calibration_data, settings.layout, class_names)
        thresholds = calibrate_component_thresholds(
            calibration, networks, scoring, methods, settings.component_threshold_rule, settings.tpr_target,
            settings.chunk_pixels, settings.progress)
        document["component_thresholds"] = {
            "source": "calibration split", "calibration_data": calibration.describe(),
            "rule": settings.component_threshold_rule,
            "per_method": {key: value.as_dict() for key, value in thresholds.items()}}
    else:
        document["component_thresholds"] = None
        document["component_thresholds_note"] = ("no --calibration-data: component metrics skipped "
                                                 "(thresholds are never taken from the test split)")

    val_miou: dict[str, dict] = {}
    if settings.val_data:
        for kind, network in networks.items():
            val_miou[kind] = network_val_miou(network, settings.val_data, settings.val_split, settings.max_images,
                                              settings.progress)
    document["close_set_miou_val"] = val_miou

    sections = []
    document["splits"] = {}
    for name, path in zip(split_names(settings.anomaly_data), settings.anomaly_data):
        split = AnomalySplit(path, settings.layout, class_names, settings.max_images)
        evaluation = evaluate_anomaly_split(
            split, networks, scoring, methods, tpr_target=settings.tpr_target, component_thresholds=thresholds,
            min_gt_component=settings.min_gt_component, min_pred_component=settings.min_pred_component,
            num_examples=settings.num_examples,
            chunk_pixels=settings.chunk_pixels, progress=settings.progress, description=name)
        document["splits"][name] = evaluation.as_dict()
        files.append(write_json(out / f"{name}_curves.json", evaluation.curves))
        files.append(plot_roc_curves(methods, evaluation.curves, evaluation.pooled, out / f"{name}_roc.png",
                                     f"ROC, pooled - {name}"))
        files.append(plot_pr_curves(methods, evaluation.curves, evaluation.pooled, out / f"{name}_pr.png",
                                    f"precision-recall, pooled - {name}"))
        panel_thresholds = None if thresholds is None else {k: v.threshold for k, v in thresholds.items()}
        for example in evaluation.examples:
            safe = example.name.replace("/", "_")
            files.append(plot_qualitative_panel(example, methods, out / f"{name}_examples" / f"{safe}.png",
                                                panel_thresholds))
        eds = document["scoring"]
        sections.append(f"### {name}: pixel-level anomaly segmentation ({evaluation.split['num_images']} images, "
                        f"EDS normalisation `{eds['eds_normalization']}`)\n\n" + pixel_table(evaluation, val_miou))
        if evaluation.components is not None:
            limits = evaluation.component_limits
            sections.append(
                f"### {name}: component-level (SegmentMeIfYouCan; thresholds from the calibration split, rule "
                f"`{settings.component_threshold_rule}`; components < {limits.min_gt_component_size} GT / "
                f"< {limits.min_pred_component_size} predicted pixels ignored)\n\n" + component_table(evaluation))
    tables = "\n\n".join(sections) + "\n"
    files.append(write_json(out / "anomaly_results.json", document))
    files.append(atomic_write_text(out / "tables.md", tables))
    return AnomalyEvaluationReport(document, tables, files)
