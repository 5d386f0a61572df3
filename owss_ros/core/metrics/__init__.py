"""Evaluation metrics (pure numpy / scipy; numpy arrays or torch tensors in).

* pixel-level anomaly metrics, pooled (exact or histogram) or per image: :mod:`.anomaly`;
* SegmentMeIfYouCan component-level metrics: :mod:`.components`;
* closed-set segmentation metrics (confusion matrix, IoU, old / novel / harmonic): :mod:`.segmentation`.
"""

from .anomaly import (
    ExactPooledAnomalyMeter,
    HistogramPooledAnomalyMeter,
    PerImageAnomalyMeter,
    anomaly_curves,
    anomaly_metrics,
    make_pooled_anomaly_meter,
)
from .anomaly_results import AnomalyCurves, AnomalyMetrics, PerImageAnomalyMetrics
from .components import (
    SIOU_THRESHOLDS,
    SMIYC_ANOMALY_TRACK,
    SMIYC_OBSTACLE_TRACK,
    ComponentMetrics,
    ComponentMetricsMeter,
    ComponentSizeLimits,
    ImageComponentScores,
    image_component_scores,
)
from .segmentation import (
    ConfusionMatrixMeter,
    OldNovelHarmonic,
    SegmentationMetrics,
    nan_mean,
    old_novel_harmonic,
)

__all__ = [
    "AnomalyCurves", "AnomalyMetrics", "ComponentMetrics", "ComponentMetricsMeter",
    "ComponentSizeLimits", "ConfusionMatrixMeter", "ExactPooledAnomalyMeter",
    "HistogramPooledAnomalyMeter", "ImageComponentScores", "OldNovelHarmonic",
    "PerImageAnomalyMeter", "PerImageAnomalyMetrics", "SIOU_THRESHOLDS", "SMIYC_ANOMALY_TRACK",
    "SMIYC_OBSTACLE_TRACK", "SegmentationMetrics", "anomaly_curves", "anomaly_metrics",
    "image_component_scores", "make_pooled_anomaly_meter", "nan_mean", "old_novel_harmonic",
]
