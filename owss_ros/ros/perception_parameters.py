"""Every parameter of the perception node: declaration (with descriptors), reading, validation.

Structural parameters (model, backend, input size, topics, QoS, stores) are ``read_only``: they
are read once at start. Scoring thresholds and the overlay opacity are changeable at run time
(``ros2 param set``); :func:`scoring_config_from` validates a proposed combination and the node
refuses a bad one with the reason, keeping the old values.

Defaults of the scoring parameters (score_mode, eds_normalization, eds_range, beta, gamma) and of
lambda_out / lambda_novel come from the model's calibration file when it has them
(:mod:`owss_ros.core.calibration`). lambda_out and lambda_novel may be overridden; a scoring
parameter that differs from a calibration holding a lambda_out is refused (see that module).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, SCORE_RESOLUTIONS
from owss_ros.core.npm import DEFAULT_BACKGROUND_PROTOTYPES, MAX_BACKGROUND_PER_CLASS
from owss_ros.core.open_set import ScoringConfig
from owss_ros.core.scoring import EDSNormalization, ScoreMode
from owss_ros.ros.node_lifecycle import DEFAULT_EXECUTOR_THREADS

PACKAGE_NAME = "owss_ros"
BACKEND_CHOICES = ("auto", "torch", "onnxruntime", "tensorrt")
OUTPUT_RESOLUTIONS = ("model", "camera")
STORE_ERROR_POLICIES = ("refuse", "base_only")
RELIABILITY_CHOICES = ("best_effort", "reliable")
SCORE_MODES = tuple(m.value for m in ScoreMode)
EDS_NORMALIZATIONS = tuple(n.value for n in EDSNormalization)
RUNTIME_SCORING_PARAMETERS = ("lambda_out", "lambda_novel", "beta", "gamma", "score_mode",
                              "eds_normalization", "eds_range")
OUTPUT_NAMES = ("labels", "anomaly", "open_set", "overlay", "camera_info")


@dataclass(frozen=True)
class ParameterSpec:
    name: str
    default: Any
    description: str
    read_only: bool = True
    float_range: tuple[float, float] | None = None
    int_range: tuple[int, int] | None = None
    choices: tuple[str, ...] | None = None

    def descriptor(self) -> ParameterDescriptor:
        description = self.description
        if self.choices:
            description += f" One of: {', '.join(self.choices)}."
        d = ParameterDescriptor(name=self.name, description=description, read_only=self.read_only)
        if self.float_range:
            d.floating_point_range = [FloatingPointRange(
                from_value=float(self.float_range[0]), to_value=float(self.float_range[1]), step=0.0)]
        if self.int_range:
            d.integer_range = [IntegerRange(
                from_value=int(self.int_range[0]), to_value=int(self.int_range[1]), step=1)]
        if self.choices:
            d.additional_constraints = f"one of: {', '.join(self.choices)}"
        return d


# Read first: the calibration they point at provides defaults for the scoring parameters.
MODEL_PARAMETERS = (
    ParameterSpec("model_path", "models/default/model.safetensors",
                  "Model weights (.safetensors with its spec). A relative path is looked up in the "
                  "working directory, then in the installed share/owss_ros."),
    ParameterSpec("calibration_path", "",
                  "Calibration YAML (owss_ros calibrate): lambda_out, lambda_novel and the scoring they "
                  "hold for. Empty: calibration.yaml beside the model, if present. 'none': no calibration."),
)

STRUCTURAL_PARAMETERS = (
    ParameterSpec("backend", "auto", "Inference backend; auto tries tensorrt, onnxruntime (CUDA, then CPU), "
                  "and torch only when onnxruntime is missing.", choices=BACKEND_CHOICES),
    ParameterSpec("device", "auto", "Torch device for the torch backend: auto (cuda when available), "
                  "cpu, cuda, cuda:N."),
    ParameterSpec("cpu_threads", 0, "Intra-op CPU threads of torch / onnxruntime; 0 keeps the library "
                  "default.", int_range=(0, 256)),
    ParameterSpec("executor_threads", DEFAULT_EXECUTOR_THREADS, "Threads of the node's ROS executor: 1 = a SingleThreadedExecutor "
                  "(lowest camera-to-output latency, measured; services never block it), more = a "
                  "MultiThreadedExecutor.", int_range=(1, 64)),
    ParameterSpec("onnx_path", "", "ONNX graph for onnxruntime / tensorrt (exported from model_path). "
                  "Empty: exported on the fly into cache_directory and reused."),
    ParameterSpec("cache_directory", "", "ONNX exports and TensorRT engines. Empty: $OWSS_ROS_CACHE_DIR, "
                  "else ~/.cache/owss_ros."),
    ParameterSpec("tensorrt_precision", "fp16", "TensorRT engine precision.", choices=("fp16", "fp32")),
    ParameterSpec("input_height", 256, "Model input height (frames are scaled with their aspect "
                  "ratio kept and letterboxed into it).", int_range=(32, 4096)),
    ParameterSpec("input_width", 512, "Model input width.", int_range=(32, 8192)),
    ParameterSpec("output_resolution", "model", "Resolution of the published maps: model (the scaled "
                  "frame, ~/camera_info scaled to match) or camera (resized back to the frame).",
                  choices=OUTPUT_RESOLUTIONS),
    ParameterSpec("score_resolution", DEFAULT_SCORE_RESOLUTION, "Resolution the graph scores at: input, "
                  "half_scores (labels at input, scores at 1/2), half, quarter or feature (1/8); coarser is "
                  "cheaper, maps are resized after.", choices=SCORE_RESOLUTIONS),
    ParameterSpec("class_store_path", "~/.ros/owss_ros/class_store.json",
                  "Where taught classes persist (JSON, atomic writes, tied to the model fingerprint). "
                  "Empty: taught classes live in memory only."),
    ParameterSpec("class_store_on_error", "refuse",
                  "What to do when the class store exists but is corrupt, foreign or for another "
                  "model: refuse (the node does not start) or base_only (start with the base classes, "
                  "leave the file untouched, refuse AddClass/RemoveClass until it is fixed).",
                  choices=STORE_ERROR_POLICIES),
    ParameterSpec("max_novel_classes", 16, "Novel class slots (ids num_base .. num_base + N - 1).",
                  int_range=(1, 200)),
    ParameterSpec("mask_directory", "~/.ros/owss_ros/masks",
                  "AddClass.mask_paths are read from inside this directory only. Empty: mask_paths "
                  "disabled."),
    ParameterSpec("ring_buffer_seconds", 10.0, "Camera frames that arrived in the last this many seconds are "
                  "kept for AddClass.frame_stamps (bounded by ring_buffer_size and ring_buffer_max_bytes "
                  "too); 0 disables.", float_range=(0.0, 3600.0)),
    ParameterSpec("ring_buffer_size", 300, "Most camera frames kept for AddClass.frame_stamps; 0 disables.",
                  int_range=(0, 100_000)),
    ParameterSpec("ring_buffer_max_bytes", 268_435_456, "Most bytes of image data the frame ring buffer "
                  "holds (a 1920x1080 rgb8 frame is 6.2 MB); 0 disables.", int_range=(0, 1 << 40)),
    ParameterSpec("pinned_frames", 8, "Frames ~/snapshot_frame can pin beyond the ring buffer (a newer pin "
                  "releases the oldest); 0 disables snapshots.", int_range=(0, 64)),
    ParameterSpec("pinned_frame_timeout", 300.0, "Seconds a pinned frame is kept when no class is taught "
                  "from it.", float_range=(1.0, 86_400.0)),
    ParameterSpec("stamp_tolerance", 0.0, "AddClass.frame_stamps match the nearest buffered frame within "
                  "this many seconds (0: exact match only).", float_range=(0.0, 10.0)),
    ParameterSpec("max_shots", 16, "Most frames (masks) in one AddClass request.", int_range=(1, 256)),
    ParameterSpec("teach_background_prototypes", DEFAULT_BACKGROUND_PROTOTYPES,
                  "Beyond the paper: background prototypes a taught class keeps from its shots (k-means centres "
                  "of the cells flagged unknown outside the masks); a pixel nearer to one is not the class. "
                  "0 = the paper's NPM.", int_range=(0, MAX_BACKGROUND_PER_CLASS)),
    ParameterSpec("max_image_pixels", 16_777_216, "Larger frames and masks are refused.",
                  int_range=(1, 1 << 30)),
    ParameterSpec("subscribe_image", True, "Subscribe to sensor_msgs/Image on 'image'."),
    ParameterSpec("subscribe_compressed", False,
                  "Subscribe to sensor_msgs/CompressedImage (JPEG/PNG) on 'image/compressed'."),
    ParameterSpec("subscribe_camera_info", True, "Subscribe to 'camera_info' and republish it, scaled, "
                  "as ~/camera_info."),
    ParameterSpec("image_qos_reliability", "best_effort", "Reliability of the image subscriptions "
                  "(best_effort = sensor data).", choices=RELIABILITY_CHOICES),
    ParameterSpec("image_qos_depth", 1, "History depth of the image subscriptions (keep last).",
                  int_range=(1, 100)),
    ParameterSpec("publish_labels", True, "Publish ~/labels (mono8 close-set class ids)."),
    ParameterSpec("publish_anomaly", True, "Publish ~/anomaly (32FC1 anomaly probability)."),
    ParameterSpec("publish_open_set", True, "Publish ~/open_set (mono8 ids incl. taught classes; "
                  "255 = unknown)."),
    ParameterSpec("publish_overlay", True, "Publish ~/overlay (rgb8 colour overlay for RViz)."),
    ParameterSpec("publish_camera_info", True, "Publish ~/camera_info beside the maps."),
    ParameterSpec("unsubscribe_when_idle", False,
                  "Drop the camera subscriptions while no output has a subscriber (saves the "
                  "transport too, but then the frame ring buffer is not filled)."),
    ParameterSpec("diagnostics_period", 1.0, "Seconds between /diagnostics reports.",
                  float_range=(0.05, 60.0)),
    ParameterSpec("statistics_window", 300, "Frames in the rolling latency statistics.",
                  int_range=(1, 100_000)),
)


def runtime_parameters(defaults: ScoringConfig, num_classes: int) -> tuple[ParameterSpec, ...]:
    """The RUNTIME parameters with ``defaults`` (the calibration's scoring, else ScoringConfig())."""
    eds_range = defaults.resolved_eds_range(num_classes)
    return (
        ParameterSpec("lambda_out", defaults.lambda_out,
                      "Eq. 1: a pixel is unknown (255) when its anomaly probability exceeds this.",
                      read_only=False, float_range=(0.0, 1.0)),
        ParameterSpec("lambda_novel", defaults.lambda_novel,
                      "Eq. 12 default threshold (squared embedding distance) of taught classes "
                      "that were added without their own.", read_only=False, float_range=(1e-6, 1e6)),
        ParameterSpec("beta", defaults.beta, "Eq. 10 sigmoid slope.", read_only=False,
                      float_range=(0.0, 1000.0)),
        ParameterSpec("gamma", defaults.gamma, "Eq. 10 sigmoid centre.", read_only=False,
                      float_range=(0.0, 1.0)),
        ParameterSpec("score_mode", defaults.score_mode.value, "Anomaly probability feeding Eq. 1.",
                      read_only=False, choices=SCORE_MODES),
        ParameterSpec("eds_normalization", defaults.eds_normalization.value,
                      "How the distance sum becomes P_EDS (Eq. 8).", read_only=False,
                      choices=EDS_NORMALIZATIONS),
        ParameterSpec("eds_range", [float(eds_range[0]), float(eds_range[1])],
                      "[low, high] distance-sum range of eds_normalization 'fixed'.", read_only=False),
        ParameterSpec("overlay_alpha", 0.5, "Opacity of class colours in ~/overlay.", read_only=False,
                      float_range=(0.0, 1.0)),
    )


def declare(node, specs) -> None:
    for spec in specs:
        node.declare_parameter(spec.name, spec.default, spec.descriptor())


def check_choices(node, specs) -> None:
    """Raise ValueError for a string parameter outside its choices (read-only ones at start)."""
    for spec in specs:
        if spec.choices:
            value = node.get_parameter(spec.name).value
            if value not in spec.choices:
                raise ValueError(f"parameter {spec.name} is {value!r}; expected one of {', '.join(spec.choices)}")


def scoring_config_from(values: dict[str, Any], temperature: float) -> ScoringConfig:
    """A validated ScoringConfig from parameter values; ValueError says what is wrong."""
    for name in ("lambda_out", "lambda_novel", "beta", "gamma"):
        if not math.isfinite(float(values[name])):
            raise ValueError(f"{name} must be a finite number")
    if values["score_mode"] not in SCORE_MODES:
        raise ValueError(f"score_mode {values['score_mode']!r} is not one of {', '.join(SCORE_MODES)}")
    if values["eds_normalization"] not in EDS_NORMALIZATIONS:
        raise ValueError(f"eds_normalization {values['eds_normalization']!r} is not one of "
                         f"{', '.join(EDS_NORMALIZATIONS)}")
    eds_range = list(values["eds_range"])
    if len(eds_range) != 2 or not all(math.isfinite(v) for v in eds_range):
        raise ValueError(f"eds_range must be [low, high], got {eds_range}")
    return ScoringConfig(
        temperature=temperature, beta=float(values["beta"]), gamma=float(values["gamma"]),
        lambda_out=float(values["lambda_out"]), lambda_novel=float(values["lambda_novel"]),
        score_mode=ScoreMode(values["score_mode"]),
        eds_normalization=EDSNormalization(values["eds_normalization"]),
        eds_range=(float(eds_range[0]), float(eds_range[1])))


def resolve_data_path(path: str) -> Path:
    """A data file path: absolute / home-relative as given, else cwd, else share/owss_ros."""
    expanded = Path(os.path.expanduser(path))
    if expanded.is_absolute() or expanded.exists():
        return expanded.resolve()
    try:
        from ament_index_python.packages import get_package_share_directory

        shared = Path(get_package_share_directory(PACKAGE_NAME)) / expanded
        if shared.exists():
            return shared
    except (ImportError, LookupError, ValueError):  # not installed: PackageNotFoundError is a KeyError
        pass
    return expanded.resolve()


def image_qos(reliability: str, depth: int) -> QoSProfile:
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=depth,
        reliability=ReliabilityPolicy.BEST_EFFORT if reliability == "best_effort"
        else ReliabilityPolicy.RELIABLE)


def engine_config(node):
    """The engine's structural configuration from the node's (declared) parameters."""
    from owss_ros.runtime.engine import EngineConfig

    p = lambda name: node.get_parameter(name).value  # noqa: E731
    return EngineConfig(
        backend=p("backend"), device=p("device"), cpu_threads=p("cpu_threads"), onnx_path=p("onnx_path"),
        cache_directory=p("cache_directory"), tensorrt_precision=p("tensorrt_precision"),
        input_hw=(p("input_height"), p("input_width")), output_resolution=p("output_resolution"),
        score_resolution=p("score_resolution"),
        class_store_path=p("class_store_path"), class_store_on_error=p("class_store_on_error"),
        max_novel_classes=p("max_novel_classes"), mask_directory=p("mask_directory"),
        ring_buffer_size=p("ring_buffer_size"), ring_buffer_seconds=p("ring_buffer_seconds"),
        ring_buffer_max_bytes=p("ring_buffer_max_bytes"), pinned_frames=p("pinned_frames"),
        pinned_frame_timeout_s=p("pinned_frame_timeout"), stamp_tolerance_s=p("stamp_tolerance"), max_shots=p("max_shots"),
        background_prototypes=p("teach_background_prototypes"),
        max_image_pixels=p("max_image_pixels"), statistics_window=p("statistics_window"))
