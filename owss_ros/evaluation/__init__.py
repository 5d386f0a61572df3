"""Evaluation of DMLNet against its baselines (paper Sec. 5, Tables 1, 3, 4) and calibration.

Anomaly segmentation (``owss_ros evaluate``):
    :mod:`.anomaly_scores`     the six rows (MSP, MaxLogit, Energy; DML-MMSP, DML-EDS, DML-EDS+MMSP)
    :mod:`.networks`           load a model, one forward pass -> close-set labels + every score map
    :mod:`.anomaly_splits`     Fishyscapes- / StreetHazards-style split reader
    :mod:`.anomaly_benchmark`  streaming pooled / per-image / component meters over a split
    :mod:`.thresholds`         thresholds from a calibration split (best F1, TPR, lambda_out)
    :mod:`.val_miou`           close-set mIoU on a labelled split (the trainer validates with it too)
    :mod:`.anomaly_report`     the whole run: JSON, tables, curves, panels (:mod:`.plots`)

Incremental few-shot learning (``owss_ros few-shot``):
    :mod:`.shot_sampler`       seeded k-shot draws and operator masks
    :mod:`.few_shot_learners`  NPM, PLM-all, PLM-latest, FT (:mod:`.fine_tune_baseline`)
    :mod:`.novel_threshold`    the leave-one-shot-out quantile rule for lambda_novel
    :mod:`.few_shot_benchmark` draws x methods x settings, Table 4 columns, mean ± std

Calibration and PLM files (``owss_ros calibrate``, ``owss_ros train-plm``):
    :mod:`.calibration`        lambda_out for a target TPR / FPR, lambda_novel, calibration.yaml
    :mod:`.plm_checkpoint`     PLM segmenter safetensors + JSON format
"""

from owss_ros.evaluation.anomaly_benchmark import (
    SplitEvaluation,
    calibrate_component_thresholds,
    evaluate_anomaly_split,
    scaled_component_limits,
)
from owss_ros.evaluation.anomaly_scores import (
    ALL_METHODS,
    AnomalyMethod,
    baseline_anomaly_scores,
    dml_anomaly_scores,
)
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.calibration import (
    calibrate_lambda_novel_on_anomalies,
    calibrate_lambda_novel_on_classes,
    calibrate_lambda_out,
    calibration_of,
)
from owss_ros.evaluation.few_shot_benchmark import FewShotSettings, few_shot_table, run_few_shot_benchmark
from owss_ros.evaluation.few_shot_learners import TeachingOptions, predict_all, teach_classes
from owss_ros.evaluation.networks import LoadedNetwork, load_network, run_network
from owss_ros.evaluation.novel_threshold import shot_distance_quantile
from owss_ros.evaluation.plm_checkpoint import load_plm_segmenter, save_plm_segmenter
from owss_ros.evaluation.shot_sampler import ClassPresence, ShotSet, draw_shots, load_shots
from owss_ros.evaluation.thresholds import lambda_out_for_target_fpr, lambda_out_for_target_tpr

__all__ = [
    "ALL_METHODS", "AnomalyMethod", "AnomalySplit", "ClassPresence", "FewShotSettings", "LoadedNetwork",
    "ShotSet", "SplitEvaluation", "TeachingOptions", "baseline_anomaly_scores", "calibrate_component_thresholds",
    "calibrate_lambda_novel_on_anomalies", "calibrate_lambda_novel_on_classes", "calibrate_lambda_out",
    "dml_anomaly_scores", "draw_shots", "evaluate_anomaly_split", "few_shot_table", "lambda_out_for_target_fpr",
    "lambda_out_for_target_tpr", "load_network", "load_plm_segmenter", "load_shots", "predict_all",
    "run_few_shot_benchmark", "run_network", "save_plm_segmenter", "scaled_component_limits",
    "shot_distance_quantile", "teach_classes", "calibration_of",
]
