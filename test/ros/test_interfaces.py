"""The generated owss_ros interfaces over real ROS 2 (rclpy + FastDDS), in one process.

Needs the interfaces built and installed first: scripts/build_interfaces.sh.
"""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from owss_ros.core.classes import CITYSCAPES_CLASSES, UNKNOWN_ID
from owss_ros.ros.image_conversion import image_to_mono8, mono8_to_image

try:
    from owss_ros.msg import ClassInfo, ClassList
    from owss_ros.srv import AddClass, ListClasses, RemoveClass
except ImportError as error:  # a clear message instead of a bare ImportError
    raise ImportError(
        f"owss_ros interfaces are not installed; run scripts/build_interfaces.sh ({error})"
    ) from error

TIMEOUT_S = 10.0
CLASS_LIST_QOS = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)


def cityscapes_class_list() -> ClassList:
    msg = ClassList(threshold=0.5, novel_threshold=0.3, unknown_id=ClassList.UNKNOWN_ID)
    msg.header.frame_id = "camera"
    msg.classes = [
        ClassInfo(id=c.train_id, name=c.name, color=list(c.color), origin=ClassInfo.ORIGIN_BASE)
        for c in CITYSCAPES_CLASSES
    ]
    return msg


class NodeHarness:
    """Nodes of one test, all spun by one single-threaded executor."""

    def __init__(self, context):
        self.context = context
        self.executor = SingleThreadedExecutor(context=context)
        self.nodes: list[Node] = []

    def node(self, name: str) -> Node:
        node = Node(name, context=self.context)
        self.nodes.append(node)
        self.executor.add_node(node)
        return node

    def call(self, client, request):
        assert client.wait_for_service(timeout_sec=TIMEOUT_S), f"{client.srv_name} not available"
        future = client.call_async(request)
        self.executor.spin_until_future_complete(future, timeout_sec=TIMEOUT_S)
        assert future.done(), f"no response from {client.srv_name}"
        return future.result()

    def close(self):
        for node in self.nodes:
            self.executor.remove_node(node)
            node.destroy_node()
        self.executor.shutdown()


@pytest.fixture
def ros(ros_context):
    harness = NodeHarness(ros_context)
    yield harness
    harness.close()


def test_constants_match_the_core_library():
    assert ClassList.UNKNOWN_ID == UNKNOWN_ID == 255
    assert (ClassInfo.ORIGIN_BASE, ClassInfo.ORIGIN_NPM, ClassInfo.ORIGIN_PLM) == (0, 1, 2)
    assert RemoveClass.Request().class_id == UNKNOWN_ID  # an empty request selects no class
    assert AddClass.Request().lambda_novel == 0.0  # <= 0: use the node's parameter


def test_add_class_round_trip_with_mono8_mask_and_frame_stamps(ros):
    received = {}

    def add_class(request, response):
        masks = [image_to_mono8(m) for m in request.masks]
        received.update(name=request.class_name, masks=masks,
                        stamps=[(t.sec, t.nanosec) for t in request.frame_stamps])
        response.success = True
        response.class_id = 19
        response.pixels_used = int(sum(np.count_nonzero(m) for m in masks))
        response.nearest_prototype_distance = 1.25
        response.nearest_class_name = "truck"
        response.message = f"added {request.class_name!r}"
        return response

    server = ros.node("owss_test_add_class_server")
    server.create_service(AddClass, "add_class", add_class)
    client = ros.node("owss_test_add_class_client").create_client(AddClass, "add_class")

    mask = np.zeros((48, 64), np.uint8)
    mask[10:20, 30:50] = 255
    request = AddClass.Request(class_name="traffic cone", lambda_novel=0.0)
    request.masks = [mono8_to_image(mask)]
    request.frame_stamps = [Time(sec=1_718_000_000, nanosec=500_000_000)]
    response = ros.call(client, request)

    assert response.success and response.class_id == 19
    assert response.pixels_used == 200
    assert response.nearest_class_name == "truck"
    assert response.nearest_prototype_distance == pytest.approx(1.25)
    assert response.message == "added 'traffic cone'"
    assert received["name"] == "traffic cone"
    assert received["stamps"] == [(1_718_000_000, 500_000_000)]
    np.testing.assert_array_equal(received["masks"][0], mask)


def test_list_classes_returns_a_class_list(ros):
    def list_classes(request, response):
        response.classes = cityscapes_class_list()
        return response

    server = ros.node("owss_test_list_server")
    server.create_service(ListClasses, "list_classes", list_classes)
    client = ros.node("owss_test_list_client").create_client(ListClasses, "list_classes")
    result = ros.call(client, ListClasses.Request()).classes

    assert result.unknown_id == UNKNOWN_ID and result.header.frame_id == "camera"
    assert result.threshold == pytest.approx(0.5) and result.novel_threshold == pytest.approx(0.3)
    expected = [(c.train_id, c.name) for c in CITYSCAPES_CLASSES]
    assert [(c.id, c.name) for c in result.classes] == expected
    assert tuple(int(v) for v in result.classes[0].color) == CITYSCAPES_CLASSES[0].color


def test_latched_class_list_reaches_a_late_subscriber(ros):
    publisher_node = ros.node("owss_test_class_list_publisher")
    publisher = publisher_node.create_publisher(ClassList, "class_list", CLASS_LIST_QOS)
    published = cityscapes_class_list()
    published.classes.append(ClassInfo(id=19, name="traffic cone", color=[255, 128, 0],
                                       origin=ClassInfo.ORIGIN_NPM))
    publisher.publish(published)
    ros.executor.spin_once(timeout_sec=0.2)  # the subscriber joins after the message was sent

    received: list[ClassList] = []
    subscriber_node = ros.node("owss_test_class_list_late_subscriber")
    subscriber_node.create_subscription(ClassList, "class_list", received.append, CLASS_LIST_QOS)
    deadline = subscriber_node.get_clock().now().nanoseconds + int(TIMEOUT_S * 1e9)
    while not received and subscriber_node.get_clock().now().nanoseconds < deadline:
        ros.executor.spin_once(timeout_sec=0.1)

    assert len(received) == 1, "late subscriber did not get the transient-local ClassList"
    novel = received[0].classes[-1]
    assert (novel.id, novel.name, novel.origin) == (19, "traffic cone", ClassInfo.ORIGIN_NPM)
    assert [int(v) for v in novel.color] == [255, 128, 0]


def test_remove_class_round_trip_by_name(ros):
    def remove_class(request, response):
        by_name = request.class_name != ""
        response.success = by_name
        response.message = f"removed {request.class_name!r}" if by_name else "no class selected"
        return response

    server = ros.node("owss_test_remove_server")
    server.create_service(RemoveClass, "remove_class", remove_class)
    client = ros.node("owss_test_remove_client").create_client(RemoveClass, "remove_class")
    assert ros.call(client, RemoveClass.Request(class_name="traffic cone")).success
    assert not ros.call(client, RemoveClass.Request()).success
