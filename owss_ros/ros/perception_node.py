"""The owss_ros perception node: open-world semantic segmentation (DMLNet) of a camera stream.

    python -m owss_ros.ros.perception_node --ros-args --params-file config/perception.yaml
    ros2 run owss_ros perception_node --ros-args -r image:=/camera/image_raw   (installed)

Names follow one rule: what the node consumes is relative (remap it), everything it offers is
private to the node (``~/``: <namespace>/perception_node/...), /diagnostics stays at the root
where ROS diagnostics tools look. The resolved names are logged at start-up.
  in   image (sensor_msgs/Image), image/compressed (CompressedImage, by parameter),
       camera_info (sensor_msgs/CameraInfo)
  out  ~/labels mono8, ~/anomaly 32FC1, ~/open_set mono8 (255 = unknown), ~/overlay rgb8,
       ~/camera_info, ~/class_list (owss_ros/ClassList, latched), ~/label_info (owss_ros/LabelInfo,
       vision_msgs/LabelInfo's fields, latched), /diagnostics
  services  ~/add_class, ~/remove_class, ~/list_classes, ~/snapshot_frame, ~/export_class,
       ~/import_class (owss_ros/srv/...)

This node only speaks ROS: parameters -> :class:`~owss_ros.runtime.engine.EngineConfig`, camera
messages -> :class:`~owss_ros.runtime.frames.Frame` (decoded lazily, on the engine's worker), engine
outputs -> messages, service requests -> ``teach`` / ``forget``, ``ros2 param set`` ->
``set_scoring``, ``health()`` -> /diagnostics (the class services: :mod:`.class_services`). All the
logic (threading, latest frame wins, ring buffer, teaching, class store, calibration rule) is the
engine's. Services, camera callbacks and diagnostics run in separate callback groups of a
SingleThreadedExecutor by default (``executor_threads``); class changes await their engine call
off the executor thread, so a camera frame never waits for teaching. Start-up, signals and
shut-down are :mod:`.node_lifecycle`'s.
"""

from __future__ import annotations

import sys

from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from owss_ros.msg import ClassList, LabelInfo
from owss_ros.ros import perception_parameters as params
from owss_ros.ros.class_services import ClassServices
from owss_ros.ros.image_conversion import float32_to_image, mono8_to_image, rgb_to_image
from owss_ros.ros.input_frames import message_frame
from owss_ros.ros.messages import (
    class_list_message,
    diagnostic_array,
    label_info_message,
    scaled_camera_info,
)
from owss_ros.ros.node_lifecycle import run_node
from owss_ros.runtime.engine import FrameOutputs, OpenWorldEngine
from owss_ros.runtime.model_files import ModelFiles, StartupError
from owss_ros.transport.fastdds import transport_warnings

NODE_NAME = "perception_node"
IDLE_CHECK_PERIOD_S = 1.0
CLASS_LIST_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                            durability=DurabilityPolicy.TRANSIENT_LOCAL)
OUTPUT_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
__all__ = ["PerceptionNode", "StartupError", "main"]


class PerceptionNode(Node):
    def __init__(self, **node_options):
        super().__init__(NODE_NAME, **node_options)
        params.declare(self, params.MODEL_PARAMETERS)
        p = self._parameter
        calibration = p("calibration_path")
        model = ModelFiles.open(params.resolve_data_path(p("model_path")),
                                str(params.resolve_data_path(calibration)) if calibration not in ("", "none")
                                else calibration)
        self.get_logger().info(f"calibration: {model.calibration_source}")
        self._runtime_specs = params.runtime_parameters(model.scoring_defaults(), model.spec.num_classes)
        params.declare(self, params.STRUCTURAL_PARAMETERS + self._runtime_specs)
        try:
            params.check_choices(self, params.STRUCTURAL_PARAMETERS + self._runtime_specs)
            scoring = params.scoring_config_from(self._runtime_values(), model.spec.temperature)
        except ValueError as error:
            raise StartupError(str(error)) from error
        self._engine = OpenWorldEngine(model, params.engine_config(self), scoring, p("overlay_alpha"),
                                       log=self.get_logger())
        self.executor_threads = p("executor_threads")  # read by node_lifecycle.run_node
        self.latest_frame_id = ""  # of the newest camera frame: ~/class_list and snapshots name it
        self._camera_info: CameraInfo | None = None

        # Camera callbacks, class changes (serialised), and diagnostics + list_classes (which never
        # wait for a class change in progress) run independently of each other.
        self._image_group = MutuallyExclusiveCallbackGroup()
        service_group = MutuallyExclusiveCallbackGroup()
        report_group = MutuallyExclusiveCallbackGroup()
        self._outputs = {name: self.create_publisher(kind, f"~/{name}", OUTPUT_QOS)
                         for name, kind in (("labels", Image), ("anomaly", Image), ("open_set", Image),
                                            ("overlay", Image), ("camera_info", CameraInfo))
                         if p(f"publish_{name}")}
        self._class_list_publisher = self.create_publisher(ClassList, "~/class_list", CLASS_LIST_QOS)
        self._label_info_publisher = self.create_publisher(LabelInfo, "~/label_info", CLASS_LIST_QOS)
        self._diagnostics_publisher = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self._image_subscriptions: list = []
        if not (p("unsubscribe_when_idle") and not self._wanted()):
            self._subscribe_images()
        qos = params.image_qos(p("image_qos_reliability"), p("image_qos_depth"))
        self._camera_info_subscription = None
        if p("subscribe_camera_info"):
            self._camera_info_subscription = self.create_subscription(
                CameraInfo, "camera_info", self._on_camera_info, qos, callback_group=self._image_group)
        if p("unsubscribe_when_idle"):
            self.create_timer(IDLE_CHECK_PERIOD_S, self._update_idle_subscriptions, callback_group=self._image_group)
        self._class_services = ClassServices(self, self._engine, self._class_list, service_group, report_group)
        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)
        self.create_timer(p("diagnostics_period"), self._publish_diagnostics, callback_group=report_group)

        self._engine.class_listeners.append(lambda class_set: self._publish_class_list())
        self._engine.start(self._wanted, self._publish_outputs)
        self._publish_class_list()
        self._log_names()
        self._transport_warnings = transport_warnings()  # also in every /diagnostics message
        for warning in self._transport_warnings:
            self.get_logger().warning(warning)
        self.get_logger().info(
            f"ready: model {model.model_path} ({model.fingerprint[:12]}), backend "
            f"{self._engine.backend_description}, input {p('input_width')}x{p('input_height')}, "
            f"{len(self._engine.class_set.entries)} classes")

    def _log_names(self) -> None:
        """The exact resolved names, so an operator can copy them (they depend on the namespace)."""
        inputs = [s.topic_name for s in self._image_subscriptions]
        if self._camera_info_subscription is not None:
            inputs.append(self._camera_info_subscription.topic_name)
        outputs = [pub.topic_name for pub in self._outputs.values()]
        outputs += [self._class_list_publisher.topic_name, self._label_info_publisher.topic_name,
                    self._diagnostics_publisher.topic_name]
        self.get_logger().info("subscribes to: " + ", ".join(inputs or ["nothing yet (unsubscribe_when_idle)"]))
        self.get_logger().info("publishes: " + ", ".join(outputs))
        self.get_logger().info("services: " + ", ".join(self._class_services.resolved_names()))

    def _parameter(self, name: str):
        return self.get_parameter(name).value

    def _runtime_values(self) -> dict:
        return {name: self._parameter(name) for name in params.RUNTIME_SCORING_PARAMETERS}

    # ------------------------------------------------------------------ camera side
    def _subscribe_images(self) -> None:
        qos = params.image_qos(self._parameter("image_qos_reliability"), self._parameter("image_qos_depth"))
        for enabled, kind, topic in ((self._parameter("subscribe_image"), Image, "image"),
                                     (self._parameter("subscribe_compressed"), CompressedImage, "image/compressed")):
            if enabled:
                # message_lost: samples the DDS reader saw but could not deliver (e.g. large
                # best-effort frames missing a fragment); rmw_fastrtps_cpp reports them.
                events = SubscriptionEventCallbacks(
                    message_lost=lambda info, topic=topic: self._engine.count_lost(
                        info.total_count_change, f" on {self.resolve_topic_name(topic)}"))
                self._image_subscriptions.append(self.create_subscription(
                    kind, topic, self._on_frame, qos, callback_group=self._image_group, event_callbacks=events))

    def _on_frame(self, message) -> None:
        if self._engine.submit(message_frame(message, self._parameter("max_image_pixels"))) and \
                message.header.frame_id != self.latest_frame_id:
            self.latest_frame_id = message.header.frame_id  # ~/class_list names the camera frame
            self._publish_class_list()

    def _on_camera_info(self, message: CameraInfo) -> None:
        if message.width == 0 or message.height == 0:
            self.get_logger().warning(f"camera_info ignored: zero size {message.width}x{message.height}",
                                      throttle_duration_sec=5.0)
            return
        self._camera_info = message

    def _wanted(self) -> set[str]:
        """The outputs someone subscribes to (camera_info only once a CameraInfo arrived)."""
        wanted = {name for name, pub in self._outputs.items() if pub.get_subscription_count() > 0}
        if self._camera_info is None:
            wanted.discard("camera_info")
        return wanted

    def _update_idle_subscriptions(self) -> None:
        wanted = bool(self._wanted())
        if wanted and not self._image_subscriptions:
            self._subscribe_images()
            self.get_logger().info("an output has subscribers: camera subscriptions created")
        elif not wanted and self._image_subscriptions:
            for subscription in self._image_subscriptions:
                self.destroy_subscription(subscription)
            self._image_subscriptions = []
            self.get_logger().info("no output has subscribers: camera subscriptions dropped")

    def _publish_outputs(self, outputs: FrameOutputs) -> None:  # on the engine's worker thread
        header = outputs.frame.source
        messages = [("labels", outputs.close_labels, mono8_to_image), ("anomaly", outputs.anomaly, float32_to_image),
                    ("open_set", outputs.open_labels, mono8_to_image),
                    ("overlay", outputs.overlay, lambda a, header: rgb_to_image(a, "rgb8", header=header))]
        for name, array, convert in messages:
            if array is not None and name in self._outputs:
                self._outputs[name].publish(convert(array, header=header))
        if self._camera_info is not None and "camera_info" in self._outputs:
            h, w = outputs.output_hw
            self._outputs["camera_info"].publish(scaled_camera_info(self._camera_info, w, h, header))

    # ------------------------------------------------------------------ classes
    def _class_list(self) -> ClassList:
        scoring = self._engine.scoring
        return class_list_message(self._engine.class_set, scoring.lambda_out, scoring.lambda_novel,
                                  self.get_clock().now().to_msg(), self.latest_frame_id)

    def _publish_class_list(self) -> None:
        class_list = self._class_list()
        self._class_list_publisher.publish(class_list)
        self._label_info_publisher.publish(label_info_message(class_list))

    # ------------------------------------------------------------------ runtime parameters
    def _validate_parameters(self, changed) -> SetParametersResult:
        proposed = self._runtime_values()
        touched = [parameter for parameter in changed if parameter.name in proposed]
        for parameter in touched:
            proposed[parameter.name] = parameter.value
        if touched:
            try:
                self._engine.check_scoring(params.scoring_config_from(proposed, self._engine.model.spec.temperature))
            except ValueError as error:
                return SetParametersResult(successful=False, reason=f"refused: {error}")
        return SetParametersResult(successful=True)

    def _apply_parameters(self, changed) -> None:
        if not {p.name for p in changed} & (set(params.RUNTIME_SCORING_PARAMETERS) | {"overlay_alpha"}):
            return
        config = params.scoring_config_from(self._runtime_values(), self._engine.model.spec.temperature)
        self._engine.set_scoring(config, self._parameter("overlay_alpha"))
        self.get_logger().info("scoring parameters changed: " + ", ".join(f"{p.name}={p.value}" for p in changed))

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        health = self._engine.health()
        health.warnings.extend(self._transport_warnings)
        self._diagnostics_publisher.publish(diagnostic_array(
            f"{self.get_fully_qualified_name()}: open-world segmentation", health.facts.get("backend.backend", ""),
            health, self.get_clock().now().to_msg()))

    def close(self) -> None:
        self._engine.close()
        self._class_services.close()


def main(argv: list[str] | None = None) -> int:
    return run_node(PerceptionNode, NODE_NAME, argv)


if __name__ == "__main__":
    sys.exit(main())
