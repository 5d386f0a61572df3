"""What rclpy + Fast DDS cost one frame here: the transport floor under benchmark-node's e2e.

Two processes on an isolated ROS domain, both with the large-image Fast DDS profile. This one
publishes 512x256 rgb8 frames at --rate (best effort, depth 1, like a camera driver), each stamped
with its send time, and receives the answers - with benchmark-node's own sender and receiver
(RosClient, FrameSender, OutputArrivals, received_latencies), so the floor is that of what it measures. The echo process (``--echo``) answers each frame from a worker thread, as the
perception node's engine does, with a 256x512 32FC1 and a mono8 image built by the node's own
``image_conversion`` (its ~/anomaly and ~/open_set) on reliable depth-1 publishers - and computes
nothing. Its executor is --executor: ``single`` (the node's default SingleThreadedExecutor) or
``multi`` (a 4-thread MultiThreadedExecutor, the node's executor until session 12). Printed: frames back and end-to-end latency (stamp -> both answers in) p50 / p90 / p99.

    python scripts/ros_transport_floor.py --seconds 10 --executor single

benchmark-node's ratio e2e / bare cannot go below 1 + floor / bare through this transport.
``--burst 40`` first sends 40 frames unpaced (each once the previous answers are in, ~250 Hz): measured
in session 11 (7 runs), the MultiThreadedExecutor echo then got back only 47-288 of the 300 paced frames
(5 of 7 runs below 200; e2e p50 up to ~20 ms), the SingleThreadedExecutor all 300 every time.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from owss_ros.tools.node_benchmark import (  # noqa: E402 - after the path insert
    CAMERA_TOPIC, NAMESPACE, FrameSender, OutputArrivals, received_latencies, subscribe_outputs, wait_for_drain)

OUT_HW = (256, 512)
CAMERA_HW = (256, 512)


ECHO_NODE = "transport_echo"
MULTI_THREADS = 4  # --executor multi: the node's executor until session 12 (executor_threads 4)
OUTPUT_TOPICS = [f"{NAMESPACE}/{ECHO_NODE}/{name}" for name in ("anomaly", "open_set")]


def run_echo(executor_kind: str) -> None:
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    from owss_ros.ros.image_conversion import float32_to_image, image_to_rgb, mono8_to_image
    from owss_ros.ros.node_lifecycle import make_executor
    from owss_ros.ros.perception_node import OUTPUT_QOS
    from owss_ros.ros.perception_parameters import image_qos

    rclpy.init()
    node = Node(ECHO_NODE, namespace=NAMESPACE)
    anomaly_pub, open_set_pub = (node.create_publisher(Image, topic, OUTPUT_QOS) for topic in OUTPUT_TOPICS)
    anomaly, labels = np.zeros(OUT_HW, np.float32), np.zeros(OUT_HW, np.uint8)
    condition, newest = threading.Condition(), [None]

    def work() -> None:
        while True:
            with condition:
                while newest[0] is None:
                    condition.wait()
                message, newest[0] = newest[0], None
            image_to_rgb(message)
            anomaly_pub.publish(float32_to_image(anomaly, header=message.header))
            open_set_pub.publish(mono8_to_image(labels, header=message.header))

    def on_frame(message) -> None:
        with condition:
            newest[0] = message
            condition.notify()

    node.create_subscription(Image, CAMERA_TOPIC, on_frame, image_qos("best_effort", 1))
    threading.Thread(target=work, daemon=True).start()
    executor = make_executor(1 if executor_kind == "single" else MULTI_THREADS)
    executor.add_node(node)
    executor.spin()


def send_burst(sender: FrameSender, arrivals: OutputArrivals, count: int) -> None:
    """``count`` frames, each sent as soon as the previous one's answers are in (no pacing)."""
    for _ in range(count):
        stamp_ns = sender.send_next()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and not arrivals.complete(stamp_ns):
            time.sleep(0.005)


def measure(seconds: float, rate: float, burst: int = 0) -> dict:
    """benchmark-node's own sender and receiver (RosClient, FrameSender, OutputArrivals) against the echo."""
    import rclpy
    from rclpy.context import Context

    from owss_ros.tools.ros_client import RosClient

    context = Context()
    rclpy.init(context=context)
    client = RosClient(context, "transport_sender")
    try:
        arrivals = subscribe_outputs(client, OUTPUT_TOPICS)
        frame = np.random.default_rng(0).integers(0, 256, CAMERA_HW + (3,), dtype=np.uint8)
        sender = FrameSender(client, [frame])
        client.wait_until(lambda: sender.publisher.get_subscription_count() > 0
                          and all(client.node.count_publishers(t) > 0 for t in OUTPUT_TOPICS),
                          timeout=30.0, what="the echo process")
        time.sleep(2.0)  # discovery settles
        send_burst(sender, arrivals, burst)
        stamps = sender.send_at_rate(rate, int(seconds * rate))
        wait_for_drain(arrivals, stamps[-1])
    finally:
        client.close()
        rclpy.try_shutdown(context=context)
    latencies, _ = received_latencies(stamps, arrivals.snapshot(), OUTPUT_TOPICS)
    p50, p90, p99 = np.percentile(latencies, [50, 90, 99]) if latencies else (float("nan"),) * 3
    return {"sent": len(stamps), "received": len(latencies), "p50": p50, "p90": p90, "p99": p99}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--executor", choices=("single", "multi"), default="single")
    parser.add_argument("--burst", type=int, default=0,
                        help="first send this many frames unpaced, each once the last one's answers are in")
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo:
        run_echo(args.executor)
        return 0
    from owss_ros.tools.ros_env import isolated_ros_environment
    from owss_ros.transport.fastdds import apply_large_image_profile, large_image_environment

    apply_large_image_profile()
    with isolated_ros_environment():
        echo = subprocess.Popen([sys.executable, __file__, "--echo", "--executor", args.executor],
                                env=large_image_environment(), cwd=REPO)
        try:
            result = measure(args.seconds, args.rate, args.burst)
        finally:
            echo.kill()
            echo.wait(10)
    print(f"echo executor {args.executor}{f', after a burst of {args.burst}' if args.burst else ''}: {result['received']} / {result['sent']} frames back; e2e (ms) "
          f"p50 {result['p50']:.2f} p90 {result['p90']:.2f} p99 {result['p99']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
