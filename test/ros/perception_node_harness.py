"""Test helpers: run the perception node as a real process and talk to it over real ROS 2.

NodeProcess (owss_ros.tools.node_process) starts the node in its own namespace, on the isolated
domain the conftest fixture set in os.environ; RosTestClient (owss_ros.tools.ros_client.RosClient)
publishes frames, collects messages per topic and calls services (the node's parameter services
too, since rclpy has no ``ros2 param`` CLI here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import yaml
from builtin_interfaces.msg import Time
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.pipeline import FramePipeline
from owss_ros.backends.torch_backend import TorchBackend
from owss_ros.core.checkpoint import ModelSpec, build_model, load_model, save_model
from owss_ros.core.class_set import ClassSet
from owss_ros.core.open_set import ScoringConfig
from owss_ros.ros.image_conversion import rgb_to_image
from owss_ros.tools.node_process import NodeProcess  # noqa: F401  (re-exported for the tests)
from owss_ros.tools.ros_client import RosClient
from owss_ros.tools.ros_env import write_params_file  # noqa: F401  (re-exported for the tests)

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_NAME = "perception_node"
MODEL_INPUT_HW = (64, 128)
CAMERA_HW = (96, 160)  # aspect 0.6 vs the model's 0.5: frames are letterboxed
SCALED_HW = (64, 107)  # CAMERA_HW scaled into MODEL_INPUT_HW with the aspect ratio kept
TIMEOUT_S = 20.0
RELIABLE_LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                              durability=DurabilityPolicy.TRANSIENT_LOCAL)
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)


# ----------------------------------------------------------------------------- files
def write_test_model(path: Path, seed: int = 0) -> Path:
    """A random-weights fast_scnn DMLNet (19 Cityscapes classes), deterministic per seed."""
    torch.manual_seed(seed)
    save_model(path, build_model(ModelSpec()), ModelSpec())
    return path


def fast_node_parameters(model_path: Path, work_dir: Path, **overrides) -> dict:
    """Parameters for a fast node on 2 shared cores; ``overrides`` win."""
    values = {
        "model_path": str(model_path), "backend": "torch", "device": "cpu", "cpu_threads": 1,
        "input_height": MODEL_INPUT_HW[0], "input_width": MODEL_INPUT_HW[1],
        "class_store_path": str(work_dir / "class_store.json"),
        "mask_directory": str(work_dir / "masks"), "diagnostics_period": 0.2,
    }
    values.update(overrides)
    return values


def local_backend(model_path: Path) -> TorchBackend:
    """The same computation as the node's torch backend, in the test process."""
    model, _ = load_model(model_path)
    return TorchBackend(FramePipeline(model), MODEL_INPUT_HW, "cpu", "model")


def local_infer(backend: TorchBackend, frame: np.ndarray, class_set: ClassSet | None = None,
                config: ScoringConfig | None = None):
    class_set = class_set or ClassSet.cityscapes()
    config = config or ScoringConfig()
    return backend.infer(frame, GraphInputs.build(class_set, config))


# ----------------------------------------------------------------------------- process and client
# the package's own helpers (also used by the demo and the node benchmark)
RosTestClient = RosClient


def connect_to_node(client: RosTestClient, node: NodeProcess, namespace: str, timeout: float = 30.0) -> None:
    """Wait for the node, and warm up the clients of its services (see RosTestClient.call)."""
    from rcl_interfaces.srv import GetParameters, SetParameters

    from owss_ros.srv import AddClass, ListClasses, RemoveClass

    node_path = f"{namespace}/{NODE_NAME}"  # the node's services are private (~/), like its outputs
    try:
        client.warm_up(ListClasses, f"{node_path}/list_classes", ListClasses.Request(), timeout)
    except TimeoutError:
        raise AssertionError(f"the node did not come up:\n{node.log()}") from None
    client.warm_up(AddClass, f"{node_path}/add_class", AddClass.Request())  # refused: no class_name
    client.warm_up(RemoveClass, f"{node_path}/remove_class", RemoveClass.Request())  # refused: nothing selected
    client.warm_up(GetParameters, f"{node_path}/get_parameters", GetParameters.Request())
    client.warm_up(SetParameters, f"{node_path}/set_parameters", SetParameters.Request())


def stamp(sec: int, nanosec: int = 0) -> Time:
    return Time(sec=sec, nanosec=nanosec)


def rgb_frame_message(frame: np.ndarray, sec: int, nanosec: int = 0, frame_id: str = "camera_test",
                      encoding: str = "rgb8"):
    msg = rgb_to_image(frame, encoding)
    msg.header.stamp = stamp(sec, nanosec)
    msg.header.frame_id = frame_id
    return msg


def has_stamp(sec: int, nanosec: int = 0):
    return lambda m: m.header.stamp.sec == sec and m.header.stamp.nanosec == nanosec


def rectangle_frame(background=(90, 90, 90), color=(250, 250, 250), box=(24, 72, 50, 110),
                    hw=CAMERA_HW) -> tuple[np.ndarray, np.ndarray]:
    """(frame, mask): a uniform background with one uniform rectangle (rows r0:r1, cols c0:c1)."""
    frame = np.empty((*hw, 3), dtype=np.uint8)
    frame[:] = background
    r0, r1, c0, c1 = box
    frame[r0:r1, c0:c1] = color
    mask = np.zeros(hw, dtype=np.uint8)
    mask[r0:r1, c0:c1] = 255
    return frame, mask
