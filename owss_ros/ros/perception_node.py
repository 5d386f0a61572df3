"""The owss_ros perception node: open-world semantic segmentation (DMLNet) of a camera stream.

    python -m owss_ros.ros.perception_node --ros-args --params-file config/perception.yaml
    ros2 run owss_ros perception_node --ros-args -r image:=/camera/image_raw   (installed)

Topics (relative names, so they follow the namespace and remappings):
  in   image (sensor_msgs/Image), image/compressed (CompressedImage, by parameter),
       camera_info (sensor_msgs/CameraInfo)
  out  ~/labels mono8, ~/anomaly 32FC1, ~/open_set mono8 (255 = unknown), ~/overlay rgb8,
       ~/camera_info, ~/class_list (owss_ros/ClassList, latched), /diagnostics
Services: add_class, remove_class, list_classes (owss_ros/srv/...).

Threading: the camera callbacks only store the newest frame (latest frame wins, drops are
counted) and append it to the ring buffer; one worker thread (:class:`InferenceWorker`) owns
the backend and runs every inference and every embedding for a taught class, alternating
them, so a service call delays frame processing by at most one embedding per shot. Services,
camera callbacks and diagnostics run in separate callback groups of a MultiThreadedExecutor.
Everything a frame needs to be scored (class set, novel-class tensors, thresholds, palette) is
one immutable :class:`ScoringSnapshot`, swapped as a single reference: a change takes effect
atomically from the next frame.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rclpy
import torch
from diagnostic_msgs.msg import DiagnosticArray
from PIL import Image as PILImage
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from owss_ros.backends.base import FrameGeometry
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.core.calibration import Calibration, CalibrationError, ScoringDefinition, load_calibration
from owss_ros.core.checkpoint import file_fingerprint, read_spec
from owss_ros.core.class_set import ClassSet, ClassSetError
from owss_ros.core.classes import CITYSCAPES_CLASSES, UNKNOWN_ID
from owss_ros.core.open_set import ScoringConfig
from owss_ros.msg import ClassList
from owss_ros.ros import perception_parameters as params
from owss_ros.ros.add_class_request import ShotReader, request_lambda_novel
from owss_ros.ros.camera_info_scaling import scaled_camera_info
from owss_ros.ros.class_list_message import class_list_message
from owss_ros.ros.class_registry import ClassChangeRefused, ClassRegistry
from owss_ros.ros.class_teaching import (
    TeachingError,
    check_class_name,
    mask_on_scaled_frame,
    nearest_prototype,
    prototype_from_embeddings,
)
from owss_ros.ros.diagnostics_report import HealthReport, diagnostic_array
from owss_ros.ros.frame_mailbox import FrameMailbox, InferenceWorker, PostedFrame
from owss_ros.ros.frame_ring_buffer import FrameNotBufferedError, FrameRingBuffer
from owss_ros.ros.image_conversion import float32_to_image, mono8_to_image, rgb_to_image
from owss_ros.ros.inference_backend import BackendRequest, create_inference_backend
from owss_ros.ros.input_frames import FrameRejectedError, compressed_image_size, frame_from_message
from owss_ros.ros.mask_files import MaskFileError
from owss_ros.ros.overlay_render import palette_lut, render_overlay
from owss_ros.ros.stage_statistics import StageLatencies
from owss_ros.srv import AddClass, ListClasses, RemoveClass

NODE_NAME = "perception_node"
EMBED_TIMEOUT_S = 60.0
WARNING_THROTTLE_S = 5.0
IDLE_CHECK_PERIOD_S = 1.0
CLASS_LIST_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
OUTPUT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
REQUEST_ERRORS = (TeachingError, ClassSetError, ClassChangeRefused, FrameNotBufferedError,
                  FrameRejectedError, MaskFileError)


class StartupError(RuntimeError):
    """The node cannot start with this configuration; the message says why."""


@dataclass(frozen=True)
class ScoringSnapshot:
    """Everything a frame is scored and drawn with; replaced as a whole, never mutated."""

    class_set: ClassSet
    config: ScoringConfig
    inputs: GraphInputs
    palette: np.ndarray
    overlay_alpha: float

    @classmethod
    def compose(cls, class_set: ClassSet, config: ScoringConfig, overlay_alpha: float) -> "ScoringSnapshot":
        return cls(class_set, config, GraphInputs.build(class_set, config), palette_lut(class_set),
                   float(overlay_alpha))


def base_class_set(class_names: list[str], capacity: int) -> ClassSet:
    colors = {c.name: c.color for c in CITYSCAPES_CLASSES}
    return ClassSet.from_base(class_names, [colors.get(n, (128, 128, 128)) for n in class_names], capacity)


class PerceptionNode(Node):
    def __init__(self, **node_options):
        super().__init__(NODE_NAME, **node_options)
        params.declare(self, params.MODEL_PARAMETERS)
        self._model_path = params.resolve_data_path(self.get_parameter("model_path").value)
        if not self._model_path.is_file():
            raise StartupError(f"model weights not found: {self._model_path} (parameter model_path)")
        try:
            self._spec = read_spec(self._model_path)
        except Exception as error:  # noqa: BLE001 - any unreadable file is a start-up error
            raise StartupError(f"cannot read the model spec from {self._model_path}: {error}") from error
        self._fingerprint = file_fingerprint(self._model_path)
        self._calibration = self._read_calibration()
        self._runtime_specs = params.runtime_parameters(
            self._calibration.scoring_config(temperature=self._spec.temperature), self._spec.num_classes)
        params.declare(self, params.STRUCTURAL_PARAMETERS + self._runtime_specs)
        try:
            params.check_choices(self, params.STRUCTURAL_PARAMETERS + self._runtime_specs)
            config = self._checked_scoring(self._runtime_values())
        except ValueError as error:
            raise StartupError(f"refusing to start: {error}") from error
        p = self._parameter
        self._input_hw = (p("input_height"), p("input_width"))
        self._max_pixels = p("max_image_pixels")
        self._output_resolution = p("output_resolution")
        if p("cpu_threads") > 0:
            torch.set_num_threads(p("cpu_threads"))

        self._registry = self._open_class_store()  # before the backend: a bad store fails fast
        self._backend = self._create_backend()
        self._backend_facts = {f"backend.{k}": v for k, v in self._backend.describe().items()}

        self._state_lock = threading.Lock()
        self._snapshot = ScoringSnapshot.compose(self._registry.current, config, p("overlay_alpha"))
        self._latest_frame_id = ""
        self._camera_info: CameraInfo | None = None
        self._latencies = StageLatencies(p("statistics_window"))
        self._counts = {"frames_processed": 0, "frames_rejected": 0, "frames_skipped_no_subscribers": 0,
                        "inference_errors": 0}
        self._rejections_in_period: list[str] = []
        self._warned_at: dict[str, float] = {}
        self._ring = FrameRingBuffer(p("ring_buffer_size"))
        self._shot_reader = ShotReader(self._ring, p("mask_directory"), self._max_pixels, p("max_shots"),
                                       int(round(p("stamp_tolerance") * 1e9)))
        self._mailbox = FrameMailbox()

        # Camera callbacks, class changes (serialised), and diagnostics + list_classes (which never
        # wait for a class change in progress) run independently of each other.
        self._image_group = MutuallyExclusiveCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._report_group = MutuallyExclusiveCallbackGroup()
        self._create_publishers()
        self._image_subscriptions: list = []
        if not (p("unsubscribe_when_idle") and not self._outputs_wanted()):
            self._subscribe_images()
        if p("subscribe_camera_info"):
            self.create_subscription(CameraInfo, "camera_info", self._on_camera_info,
                                     params.image_qos(p("image_qos_reliability"), p("image_qos_depth")),
                                     callback_group=self._image_group)
        if p("unsubscribe_when_idle"):
            self.create_timer(IDLE_CHECK_PERIOD_S, self._update_idle_subscriptions,
                              callback_group=self._image_group)
        self.create_service(AddClass, "add_class", self._on_add_class, callback_group=self._service_group)
        self.create_service(RemoveClass, "remove_class", self._on_remove_class,
                            callback_group=self._service_group)
        self.create_service(ListClasses, "list_classes", self._on_list_classes,
                            callback_group=self._report_group)
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.create_timer(p("diagnostics_period"), self._publish_diagnostics, callback_group=self._report_group)

        self._worker = InferenceWorker(self._mailbox, self._process_frame, self._report_worker_error)
        self._worker.start()
        self._publish_class_list()
        self.get_logger().info(
            f"ready: model {self._model_path} ({self._fingerprint[:12]}), backend "
            f"{self._backend.describe()}, input {self._input_hw[1]}x{self._input_hw[0]}, "
            f"{len(self._registry.current.entries)} classes")

    # ------------------------------------------------------------------ set-up helpers
    def _parameter(self, name: str):
        return self.get_parameter(name).value

    def _runtime_values(self) -> dict:
        return {name: self._parameter(name) for name in params.RUNTIME_SCORING_PARAMETERS}

    def _checked_scoring(self, values: dict) -> ScoringConfig:
        """The ScoringConfig of parameter values; ValueError when invalid or not what the calibration
        was made for (core.calibration's rule)."""
        config = params.scoring_config_from(values, self._spec.temperature)
        self._calibration.check_applies_to(ScoringDefinition.of(config, self._spec.num_classes))
        return config

    def _read_calibration(self) -> Calibration:
        configured = self.get_parameter("calibration_path").value
        if configured == "none":
            return Calibration()
        path = (params.resolve_data_path(configured) if configured
                else self._model_path.parent / "calibration.yaml")
        if not path.is_file():
            if configured:
                raise StartupError(f"calibration file not found: {path} (parameter calibration_path)")
            return Calibration()
        try:
            calibration = load_calibration(path)
            calibration.check_model(self._fingerprint, self._spec.temperature)
        except CalibrationError as error:
            raise StartupError(str(error)) from error
        scoring = calibration.scoring.as_dict() if calibration.scoring else "none"
        self.get_logger().info(f"calibration from {path}: lambda_out={calibration.lambda_out}, "
                               f"lambda_novel={calibration.lambda_novel}, scoring {scoring}")
        return calibration

    def _open_class_store(self) -> ClassRegistry:
        p = self._parameter
        store = Path(p("class_store_path")).expanduser().resolve() if p("class_store_path") else None
        try:
            registry, line = ClassRegistry.open(base_class_set(self._spec.class_names, p("max_novel_classes")),
                                                store, self._fingerprint, p("class_store_on_error"))
        except Exception as error:  # noqa: BLE001 - ClassStoreError and OSError alike
            raise StartupError(
                f"refusing to start: {error}. The file was left untouched. Fix or move it, or set "
                "class_store_on_error: base_only to start with the base classes only.") from error
        (self.get_logger().error if registry.persistence_error else self.get_logger().info)(line)
        return registry

    def _create_backend(self):
        p = self._parameter
        try:
            return create_inference_backend(BackendRequest(
                p("backend"), self._model_path, self._input_hw, self._output_resolution, p("device"),
                p("cpu_threads"), p("max_novel_classes"), p("onnx_path"), p("cache_directory"),
                p("tensorrt_precision")))
        except Exception as error:  # noqa: BLE001 - any failure: say which backend and why
            raise StartupError(f"cannot create the {p('backend')!r} backend: {error}") from error

    def _create_publishers(self) -> None:
        p = self._parameter
        self._output_publishers = {}
        for name, msg_type in (("labels", Image), ("anomaly", Image), ("open_set", Image),
                               ("overlay", Image), ("camera_info", CameraInfo)):
            if p(f"publish_{name}"):
                self._output_publishers[name] = self.create_publisher(msg_type, f"~/{name}", OUTPUT_QOS)
        self._class_list_publisher = self.create_publisher(ClassList, "~/class_list", CLASS_LIST_QOS)
        self._diagnostics_publisher = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

    def _subscribe_images(self) -> None:
        p = self._parameter
        qos = params.image_qos(p("image_qos_reliability"), p("image_qos_depth"))
        if p("subscribe_image"):
            self._image_subscriptions.append(self.create_subscription(
                Image, "image", self._on_frame, qos, callback_group=self._image_group))
        if p("subscribe_compressed"):
            self._image_subscriptions.append(self.create_subscription(
                CompressedImage, "image/compressed", self._on_frame, qos, callback_group=self._image_group))

    # ------------------------------------------------------------------ camera callbacks
    def _on_frame(self, message) -> None:
        self._ring.append(message)
        self._mailbox.post_frame(message)

    def _on_camera_info(self, message: CameraInfo) -> None:
        if message.width == 0 or message.height == 0:
            self._warn_throttled(f"camera_info ignored: zero size {message.width}x{message.height}")
            return
        self._camera_info = message

    def _demand(self) -> dict[str, bool]:
        return {name: pub.get_subscription_count() > 0 for name, pub in self._output_publishers.items()}

    def _outputs_wanted(self) -> bool:
        return any(self._demand().values())

    def _update_idle_subscriptions(self) -> None:
        wanted = self._outputs_wanted()
        if wanted and not self._image_subscriptions:
            self._subscribe_images()
            self.get_logger().info("an output has subscribers: camera subscriptions created")
        elif not wanted and self._image_subscriptions:
            for subscription in self._image_subscriptions:
                self.destroy_subscription(subscription)
            self._image_subscriptions = []
            self.get_logger().info("no output has subscribers: camera subscriptions dropped")

    # ------------------------------------------------------------------ the frame path (worker thread)
    def _process_frame(self, posted: PostedFrame) -> None:
        started = time.monotonic()
        message = posted.message
        demand = self._demand()
        maps_wanted = any(demand.get(n, False) for n in ("labels", "anomaly", "open_set", "overlay"))
        info_wanted = demand.get("camera_info", False) and self._camera_info is not None
        if not maps_wanted and not info_wanted:
            self._counts["frames_skipped_no_subscribers"] += 1
            return
        header = message.header
        self._latest_frame_id = header.frame_id
        timings = {"queue_wait": 1e3 * (started - posted.received_at)}
        try:
            if maps_wanted:
                frame = frame_from_message(message, self._max_pixels)
                output_hw = None
            else:
                frame, output_hw = None, self._output_size_of(message)
        except FrameRejectedError as error:
            self._reject(str(error))
            return
        decoded = time.monotonic()
        timings["decode"] = 1e3 * (decoded - started)
        snapshot = self._snapshot
        outgoing = []
        if frame is not None:
            result = self._backend.infer(frame, snapshot.inputs)
            timings.update(result.timings_ms)
            output_hw = result.open_labels.shape
            if demand.get("labels"):
                outgoing.append(("labels", mono8_to_image(result.close_labels, header=header)))
            if demand.get("anomaly"):
                outgoing.append(("anomaly", float32_to_image(result.anomaly, header=header)))
            if demand.get("open_set"):
                outgoing.append(("open_set", mono8_to_image(result.open_labels, header=header)))
            if demand.get("overlay"):
                render_start = time.monotonic()
                overlay = render_overlay(self._frame_at(frame, output_hw), result.open_labels,
                                         snapshot.palette, snapshot.overlay_alpha)
                outgoing.append(("overlay", rgb_to_image(overlay, "rgb8", header=header)))
                timings["overlay"] = 1e3 * (time.monotonic() - render_start)
        if info_wanted:
            outgoing.append(("camera_info", scaled_camera_info(self._camera_info, output_hw[1],
                                                               output_hw[0], header)))
        publish_start = time.monotonic()
        for name, msg in outgoing:
            self._output_publishers[name].publish(msg)
        done = time.monotonic()
        timings["publish"] = 1e3 * (done - publish_start)
        timings["total"] = 1e3 * (done - posted.received_at)
        self._latencies.record(timings)
        self._counts["frames_processed"] += 1

    def _output_size_of(self, message) -> tuple[int, int]:
        """(h, w) of the maps a frame would give, from its header alone (camera_info only)."""
        if isinstance(message, CompressedImage):
            width, height = compressed_image_size(message.data)
        else:
            width, height = int(message.width), int(message.height)
        if width <= 0 or height <= 0:
            raise FrameRejectedError(f"zero-sized image {width}x{height}")
        if self._output_resolution == "camera":
            return height, width
        return FrameGeometry.fit((height, width), self._input_hw).scaled_hw

    @staticmethod
    def _frame_at(frame: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
        if frame.shape[:2] == tuple(hw):
            return frame
        return np.asarray(PILImage.fromarray(np.ascontiguousarray(frame)).resize((hw[1], hw[0]), PILImage.BILINEAR))

    def _reject(self, reason: str) -> None:
        self._counts["frames_rejected"] += 1
        self._rejections_in_period.append(reason)
        self._warn_throttled(f"frame rejected: {reason}")

    def _report_worker_error(self, error: BaseException) -> None:
        self._counts["inference_errors"] += 1
        self._warn_throttled(f"frame processing failed: {type(error).__name__}: {error}", error=True)

    def _warn_throttled(self, text: str, error: bool = False) -> None:
        now = time.monotonic()
        if now - self._warned_at.get(text, -math.inf) < WARNING_THROTTLE_S:
            return
        if len(self._warned_at) > 256:
            self._warned_at.clear()
        self._warned_at[text] = now
        (self.get_logger().error if error else self.get_logger().warning)(text)

    # ------------------------------------------------------------------ class set changes
    def _class_set_committed(self, class_set: ClassSet) -> None:
        with self._state_lock:
            s = self._snapshot
            self._snapshot = ScoringSnapshot.compose(class_set, s.config, s.overlay_alpha)
        self._publish_class_list()

    def _class_list(self) -> ClassList:
        s = self._snapshot
        return class_list_message(s.class_set, s.config.lambda_out, s.config.lambda_novel,
                                  self.get_clock().now().to_msg(), self._latest_frame_id)

    def _publish_class_list(self) -> None:
        self._class_list_publisher.publish(self._class_list())

    def _on_list_classes(self, request, response):
        response.classes = self._class_list()
        return response

    def _on_remove_class(self, request, response):
        name = request.class_name.strip()
        key = name if name else int(request.class_id)
        try:
            if key == UNKNOWN_ID:
                raise TeachingError("give class_name, or class_id of a class (255 is unknown, never a class)")
            removed = self._registry.change(lambda current: current.without(key), self._class_set_committed)
            response.success = True
            response.message = f"removed class {removed.class_id} {removed.name!r}"
            self.get_logger().info(response.message)
        except REQUEST_ERRORS as error:
            response.success, response.message = False, f"not removed: {error}"
            self.get_logger().warning(response.message)
        return response

    def _on_add_class(self, request, response):
        response.success, response.class_id = False, UNKNOWN_ID
        try:
            name = check_class_name(self._registry.current, request.class_name)
            lambda_novel = request_lambda_novel(request.lambda_novel)
            shots = self._shot_reader.shots(request)
            embeddings, masks = [], []
            for shot in shots:
                geometry = FrameGeometry.fit(shot.frame.shape[:2], self._input_hw)
                masks.append(mask_on_scaled_frame(shot.mask, geometry, shot.label))
                embedding = self._on_worker(lambda frame=shot.frame: self._backend.embed(frame))
                if embedding.shape[1:] != masks[-1].shape:
                    raise TeachingError(f"{shot.label}: backend embedding {embedding.shape[1:]} does not "
                                        f"match the scaled frame {masks[-1].shape}")
                embeddings.append(embedding)
            prototype, pixels = prototype_from_embeddings(embeddings, masks)
            if not np.isfinite(prototype).all():
                raise TeachingError("the prototype is not finite (the model produced NaN)")

            def add(current: ClassSet):
                nearest = nearest_prototype(current, prototype, self._spec.temperature)
                new_set, entry = current.with_novel(name, prototype, lambda_novel=lambda_novel,
                                                    pixels=pixels, shots=len(shots))
                return new_set, (entry, nearest)

            entry, (nearest_name, nearest_distance) = self._registry.change(add, self._class_set_committed)
            response.success, response.class_id = True, entry.class_id
            response.pixels_used = pixels
            response.nearest_prototype_distance = nearest_distance
            response.nearest_class_name = nearest_name
            threshold = "the node's lambda_novel" if lambda_novel is None else f"lambda_novel {lambda_novel:g}"
            response.message = (
                f"added class {entry.class_id} {entry.name!r} from {len(shots)} shot(s), {pixels} pixels at "
                f"model resolution, {threshold}; nearest prototype {nearest_name!r} at squared distance "
                f"{nearest_distance:.3f}")
            self.get_logger().info(response.message)
        except REQUEST_ERRORS as error:
            response.message = f"class not added: {error}"
            self.get_logger().warning(response.message)
        except Exception as error:  # noqa: BLE001 - a request must never take the node down
            response.message = f"class not added: internal error {type(error).__name__}: {error}"
            self.get_logger().error(response.message)
        return response

    def _on_worker(self, job):
        future = self._mailbox.post_job(job)
        return future.result(timeout=EMBED_TIMEOUT_S)

    # ------------------------------------------------------------------ runtime parameters
    def _validate_parameters(self, changed) -> SetParametersResult:
        proposed = self._runtime_values()
        touched = False
        for parameter in changed:
            if parameter.name in proposed:
                proposed[parameter.name] = parameter.value
                touched = True
        if touched:
            try:
                self._checked_scoring(proposed)
            except ValueError as error:
                return SetParametersResult(successful=False, reason=f"refused: {error}")
        return SetParametersResult(successful=True)

    def _apply_parameters(self, changed) -> None:
        names = {parameter.name for parameter in changed}
        if not names & (set(params.RUNTIME_SCORING_PARAMETERS) | {"overlay_alpha"}):
            return
        config = params.scoring_config_from(self._runtime_values(), self._spec.temperature)
        with self._state_lock:
            self._snapshot = ScoringSnapshot.compose(self._snapshot.class_set, config,
                                                     self._parameter("overlay_alpha"))
        self.get_logger().info("scoring parameters changed: " + ", ".join(
            f"{p.name}={p.value}" for p in changed))
        self._publish_class_list()

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        counters = {"frames_received": self._mailbox.counters.received,
                    "frames_dropped": self._mailbox.counters.dropped, **self._counts,
                    "classes": len(self._snapshot.class_set.entries),
                    "novel_classes": len(self._snapshot.class_set.novel_entries)}
        rejections, self._rejections_in_period = self._rejections_in_period, []
        warnings = [f"{len(rejections)} frame(s) rejected, last: {rejections[-1]}"] if rejections else []
        facts = {**self._backend_facts, "model_path": str(self._model_path),
                 "model_fingerprint": self._fingerprint,
                 "class_store_path": str(self._registry.store_path or "")}
        report = HealthReport(
            name=f"{self.get_fully_qualified_name()}: open-world segmentation",
            hardware_id=str(self._backend_facts.get("backend.backend", "")),
            counters=counters, latencies=self._latencies.percentiles(), facts=facts,
            errors=[self._registry.persistence_error] if self._registry.persistence_error else [],
            warnings=warnings)
        self._diagnostics_publisher.publish(diagnostic_array(report, self.get_clock().now().to_msg()))

    def close(self) -> None:
        self._worker.stop()


def main(argv: list[str] | None = None) -> int:
    rclpy.init(args=argv if argv is not None else sys.argv)
    logger = rclpy.logging.get_logger(NODE_NAME)
    try:
        node = PerceptionNode()
    except StartupError as error:
        logger.fatal(str(error))
        rclpy.try_shutdown()
        return 1
    except Exception as error:  # noqa: BLE001 - report why, then exit non-zero
        logger.fatal(f"start-up failed: {type(error).__name__}: {error}")
        rclpy.try_shutdown()
        return 1
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        _shut_down(node, executor)
    return 0


def _shut_down(node: PerceptionNode, executor) -> None:
    """Stop the worker and release ROS; every step is idempotent.

    On SIGINT rclpy's handler shuts the context down (ending spin) and then chains to Python's
    handler, so a KeyboardInterrupt can still arrive during clean-up: it is absorbed and the
    remaining steps are run again.
    """
    for _ in range(5):
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            node.close()
            executor.shutdown()
            node.destroy_node()
            rclpy.try_shutdown()
            return
        except KeyboardInterrupt:
            continue


if __name__ == "__main__":
    sys.exit(main())
