"""Check whether camera-size images reach a best-effort subscriber on this host.

    python -m owss_ros.transport.image_probe sub --seconds 12 &
    python -m owss_ros.transport.image_probe pub --size 1920x1080 --frames 16 --rate 10

``pub`` waits for a subscriber, sends ``--frames`` rgb8 frames and prints ``SENT <n>``; ``sub``
counts what arrives and prints ``RECEIVED <n>`` once it has all ``--frames``, after ``--seconds``, or
when it gets SIGUSR1 (what a caller sends once the publisher is done, so a lossy run ends early),
then ``LATENCY_MS p50=<ms> p99=<ms>``: arrival in the subscriber's callback minus the stamp the
publisher wrote just before ``publish()`` (one host, one clock), i.e. what one DDS hop of an image
costs two rclpy processes: serialisation, transport, deserialisation into a Python message. ``--large-image-profile``
sets config/fastdds_large_images.xml in the process before rclpy starts (what
:func:`owss_ros.transport.fastdds.large_image_environment` does for a node). QoS: keep last
``--depth`` (default 1, as the node), ``--reliability`` best_effort (default) or reliable.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

TOPIC = "owss_image_probe"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m owss_ros.transport.image_probe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=("pub", "sub"))
    parser.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT of the rgb8 frames (pub)")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second (pub)")
    parser.add_argument("--seconds", type=float, default=12.0, help="longest time to listen (sub)")
    parser.add_argument("--reliability", choices=("best_effort", "reliable"), default="best_effort")
    parser.add_argument("--depth", type=int, default=1)
    parser.add_argument("--topic", default=TOPIC)
    parser.add_argument("--large-image-profile", action="store_true",
                        help="use config/fastdds_large_images.xml in this process")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    stop_requested = []
    signal.signal(signal.SIGUSR1, lambda *_: stop_requested.append(True))
    if args.large_image_profile:
        from owss_ros.transport.fastdds import apply_large_image_profile

        apply_large_image_profile(override=True)
    import numpy as np
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    qos = QoSProfile(depth=args.depth, history=HistoryPolicy.KEEP_LAST,
                     reliability=(ReliabilityPolicy.BEST_EFFORT if args.reliability == "best_effort"
                                  else ReliabilityPolicy.RELIABLE))
    rclpy.init()
    node = rclpy.create_node(f"owss_image_probe_{args.role}")
    try:
        if args.role == "sub":
            received: set[str] = set()
            latencies_ms: list[float] = []

            def on_image(message) -> None:
                now_ns = node.get_clock().now().nanoseconds
                stamp_ns = message.header.stamp.sec * 1_000_000_000 + message.header.stamp.nanosec
                latencies_ms.append((now_ns - stamp_ns) / 1e6)
                received.add(message.header.frame_id)

            node.create_subscription(Image, args.topic, on_image, qos)
            deadline = time.monotonic() + args.seconds
            while time.monotonic() < deadline and not stop_requested and len(received) < args.frames:
                rclpy.spin_once(node, timeout_sec=0.05)
            print(f"RECEIVED {len(received)}", flush=True)
            if latencies_ms:
                p50, p99 = np.percentile(latencies_ms, [50, 99])
                print(f"LATENCY_MS p50={p50:.3f} p99={p99:.3f}", flush=True)
            return 0
        width, height = (int(v) for v in args.size.lower().split("x"))
        publisher = node.create_publisher(Image, args.topic, qos)
        deadline = time.monotonic() + 30.0
        while publisher.get_subscription_count() == 0:
            if time.monotonic() > deadline:
                print("no subscriber matched within 30 s", file=sys.stderr)
                return 2
            time.sleep(0.05)
        time.sleep(1.0)  # let the subscriber's side of discovery finish too
        data = np.random.default_rng(0).integers(0, 256, (height, width, 3), np.uint8).tobytes()
        for i in range(args.frames):
            msg = Image(height=height, width=width, encoding="rgb8", step=3 * width, data=data)
            msg.header.frame_id = str(i)
            msg.header.stamp = node.get_clock().now().to_msg()
            publisher.publish(msg)
            time.sleep(1.0 / args.rate)
        time.sleep(1.0)
        print(f"SENT {args.frames}", flush=True)
        return 0
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    sys.exit(main())
