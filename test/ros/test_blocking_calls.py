"""Service handlers that await a blocking call keep a SingleThreadedExecutor serving other callbacks
(owss_ros.ros.blocking_calls), on real rclpy: what lets the node teach while camera frames flow."""

from __future__ import annotations

import threading
import time

import pytest

from owss_ros.ros.node_lifecycle import make_executor


class Spinning:
    """A server node on the node's single-threaded executor, spun in a thread, and a RosClient (its
    own node and executor) in the same context to call it."""

    def __init__(self, context):
        from rclpy.node import Node

        from owss_ros.tools.ros_client import RosClient

        self.node = Node("blocking_calls_server", context=context)
        self.executor = make_executor(1, context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.client = RosClient(context, "blocking_calls_client")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.client.close()
        self.executor.shutdown()
        self.thread.join(5)
        self.node.destroy_node()


def test_make_executor_is_single_threaded_for_one_thread(ros_context):
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor

    assert isinstance(make_executor(1, ros_context), SingleThreadedExecutor)
    assert isinstance(make_executor(3, ros_context), MultiThreadedExecutor)
    with pytest.raises(ValueError, match="executor_threads"):
        make_executor(0, ros_context)


def test_timers_run_while_a_handler_awaits_a_blocking_call(ros_context):
    """The blocking call waits until a timer of the same node (another callback group, as the node's
    camera callbacks) has fired 5 times: with the call run in the executor's only thread this could
    never happen (the call would time out and the test fail)."""
    from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
    from std_srvs.srv import Trigger

    from owss_ros.ros.blocking_calls import BlockingCalls

    ticks, enough = [], threading.Event()

    def tick():
        ticks.append(time.monotonic())
        if len(ticks) >= 5:
            enough.set()

    def blocking() -> str:
        return "timer ran during the call" if enough.wait(5.0) else "timer starved"

    with Spinning(ros_context) as spinning:
        calls = BlockingCalls(spinning.node, "test_blocking")

        async def handle(request, response):
            response.message = await calls.run(blocking)
            response.success = True
            return response

        spinning.node.create_service(Trigger, "blocking_trigger", handle,
                                     callback_group=MutuallyExclusiveCallbackGroup())
        spinning.node.create_timer(0.01, tick, callback_group=MutuallyExclusiveCallbackGroup())
        response = spinning.client.call(Trigger, "blocking_trigger", Trigger.Request(), timeout=10.0)
        calls.close()
    assert response.success and response.message == "timer ran during the call"


def test_an_exception_of_the_blocking_call_reaches_the_handler(ros_context):
    """Nothing else wakes the executor here: the helper thread's wake() resumes the handler."""
    from std_srvs.srv import Trigger

    from owss_ros.ros.blocking_calls import BlockingCalls

    def failing():
        time.sleep(0.2)  # done after the handler parked on it
        raise LookupError("no such class")

    with Spinning(ros_context) as spinning:
        calls = BlockingCalls(spinning.node, "test_blocking_error")

        async def handle(request, response):
            try:
                await calls.run(failing)
            except LookupError as error:
                response.message = f"caught: {error}"
            return response

        spinning.node.create_service(Trigger, "failing_trigger", handle)
        # 3 s: a handler nobody wakes stays parked until some other event (measured: > 5 s here)
        response = spinning.client.call(Trigger, "failing_trigger", Trigger.Request(), timeout=3.0)
        calls.close()
    assert response.message == "caught: no such class"
