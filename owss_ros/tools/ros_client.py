"""A small rclpy client spun by a background thread: publish, collect messages, call services.

Used by the demo, the node benchmark and the end-to-end tests to talk to the perception node
over real ROS 2 (rclpy has no ``ros2 topic`` / ``ros2 service`` CLI when installed from PyPI).
"""

from __future__ import annotations

import threading
import time

from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy

DEFAULT_TIMEOUT_S = 20.0
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


class RosClient:
    def __init__(self, context, name: str = "owss_ros_client"):
        self.node = Node(name, context=context)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self._messages: dict[str, list] = {}
        self._condition = threading.Condition()
        self._subscriptions: dict[str, object] = {}
        self._publishers: dict[str, object] = {}
        self._clients: dict[tuple, object] = {}
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._running = True
        self._thread.start()

    def _spin(self) -> None:
        while self._running:
            self.executor.spin_once(timeout_sec=0.05)

    def close(self) -> None:
        for client in self._clients.values():
            self.node.destroy_client(client)
        self._running = False
        self._thread.join(5)
        self.executor.shutdown()
        self.node.destroy_node()

    # -- topics
    def subscribe(self, topic: str, msg_type, qos: QoSProfile = RELIABLE) -> None:
        if topic in self._subscriptions:
            return
        with self._condition:
            self._messages[topic] = []

        def store(msg, topic=topic):
            with self._condition:
                self._messages[topic].append(msg)
                self._condition.notify_all()

        self._subscriptions[topic] = self.node.create_subscription(msg_type, topic, store, qos)

    def unsubscribe(self, topic: str) -> None:
        subscription = self._subscriptions.pop(topic, None)
        if subscription is not None:
            self.node.destroy_subscription(subscription)

    def messages(self, topic: str) -> list:
        with self._condition:
            return list(self._messages.get(topic, []))

    def clear(self, topic: str | None = None) -> None:
        with self._condition:
            for name in ([topic] if topic else list(self._messages)):
                self._messages[name] = []

    def wait_for_message(self, topic: str, predicate=lambda m: True, timeout: float = DEFAULT_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                for msg in self._messages.get(topic, []):
                    if predicate(msg):
                        return msg
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching message on {topic} within {timeout} s")
                self._condition.wait(remaining)

    def publisher(self, topic: str, msg_type, qos: QoSProfile = RELIABLE):
        if topic not in self._publishers:
            self._publishers[topic] = self.node.create_publisher(msg_type, topic, qos)
        return self._publishers[topic]

    def wait_until(self, condition, timeout: float = DEFAULT_TIMEOUT_S, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.02)

    def publish_until(self, topic: str, msg, output_topic: str, predicate=lambda m: True,
                      timeout: float = DEFAULT_TIMEOUT_S, period: float = 0.1):
        """Publish ``msg`` on ``topic`` every ``period`` until ``output_topic`` has a match."""
        publisher = self._publishers[topic]
        deadline = time.monotonic() + timeout
        while True:
            publisher.publish(msg)
            try:
                return self.wait_for_message(output_topic, predicate, timeout=period)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"publishing on {topic} produced no matching message on "
                                       f"{output_topic} within {timeout} s") from None

    # -- services
    def _client(self, srv_type, name: str):
        key = (srv_type, name)
        if key not in self._clients:
            self._clients[key] = self.node.create_client(srv_type, name)
        return self._clients[key]

    def call(self, srv_type, name: str, request, timeout: float = DEFAULT_TIMEOUT_S, attempt_timeout: float | None = None):
        """Call a service and return its response.

        Clients are kept, so only their first call meets a new DDS match. FastDDS can drop the
        response to a brand-new client whose response reader the server has not discovered yet
        ("failed to send response (timeout)" in the server's log); with ``attempt_timeout`` the
        request is re-sent after that many seconds, so use it only for requests that may run twice.
        """
        client = self._client(srv_type, name)
        deadline = time.monotonic() + timeout
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"service {name} not available")
        while True:
            future = client.call_async(request)
            attempt_end = min(deadline, time.monotonic() + (attempt_timeout or timeout))
            while not future.done() and time.monotonic() < attempt_end:
                time.sleep(0.01)
            if future.done():
                return future.result()
            client.remove_pending_request(future)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no response from {name}")

    def warm_up(self, srv_type, name: str, harmless_request, timeout: float = DEFAULT_TIMEOUT_S):
        """Complete the client's DDS matching with a request whose effect does not matter."""
        return self.call(srv_type, name, harmless_request, timeout, attempt_timeout=2.0)
