"""A node's process life: rclpy start-up, its executor, clean SIGINT / SIGTERM, shut-down.

The executor is a SingleThreadedExecutor unless the node asks for more threads
(``node.executor_threads`` > 1: a MultiThreadedExecutor of that many). Measured with
``scripts/ros_transport_floor.py`` (same frames, an echo that computes nothing): single 4.0 / 4.2 ms
e2e p50 (p90 4.4 / 4.9) vs multi 4.4 / 4.6 (p90 8.0 / 8.9), and after a burst of frames the
MultiThreadedExecutor lost many of the following ones. Nodes whose service handlers block keep
the single thread free with coroutine handlers (:mod:`.blocking_calls`).

rclpy's own SIGINT handler shuts the context down at once, while the node's worker may still be
publishing a frame ("Failed to publish: publisher's context is invalid"). So the signals are
handled here: stop spinning, ``node.close()`` (stops the worker: nothing is published after it),
then the executor, then ROS.
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from owss_ros.runtime.model_files import StartupError

DEFAULT_EXECUTOR_THREADS = 1
SHUTDOWN_JOIN_S = 10.0


def run_node(make_node: Callable[[], object], name: str, argv: list[str] | None = None) -> int:
    """Run ``make_node()`` until SIGINT / SIGTERM; 1 when it cannot start (the reason logged as fatal)."""
    rclpy.init(args=argv if argv is not None else sys.argv, signal_handler_options=SignalHandlerOptions.NO)
    logger = rclpy.logging.get_logger(name)
    try:
        node = make_node()
    except StartupError as error:
        logger.fatal(str(error))
        rclpy.try_shutdown()
        return 1
    except Exception as error:  # noqa: BLE001 - report why, then exit non-zero
        logger.fatal(f"start-up failed: {type(error).__name__}: {error}")
        rclpy.try_shutdown()
        return 1
    executor = make_executor(getattr(node, "executor_threads", DEFAULT_EXECUTOR_THREADS))
    executor.add_node(node)
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    spinner = threading.Thread(target=_spin, args=(executor, stop), name="owss_executor", daemon=True)
    spinner.start()
    try:
        while not stop.wait(1.0):  # the signal handlers run in this (the main) thread
            pass
    finally:
        _shut_down(node, executor, spinner)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def make_executor(threads: int, context=None):
    """A SingleThreadedExecutor for 1 thread, else a MultiThreadedExecutor of ``threads``."""
    if threads < 1:
        raise ValueError(f"executor_threads must be >= 1, got {threads}")
    if threads == 1:
        return SingleThreadedExecutor(context=context)
    return MultiThreadedExecutor(num_threads=threads, context=context)


def _spin(executor, stop: threading.Event) -> None:
    try:
        executor.spin()
    except ExternalShutdownException:
        pass
    finally:
        stop.set()


def _shut_down(node, executor, spinner: threading.Thread) -> None:
    """Stop the node's worker, then the executor, then release ROS; a second SIGINT is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    node.close()
    executor.shutdown()
    spinner.join(SHUTDOWN_JOIN_S)
    node.destroy_node()
    rclpy.try_shutdown()
