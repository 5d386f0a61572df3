"""How fast is the perception node as a ROS process, compared with its bare backend?

One run, in this order (the two timed phases never overlap, so they do not share the 2 cores):

1. bare backend: the node's own backend construction (:func:`owss_ros.runtime.engine.build_backend` with the
   same backend name, model, input size, cpu_threads and cache folder) runs ``infer()`` on the
   sample drive frames in this process, paced at ``rate_hz`` like the node's input (on a shared
   machine an idle gap between frames changes the latency); median / p99 / max of the wall time
   of ``infer()``. The backend is released before the node starts.
2. node: :class:`NodeProcess` on an isolated ROS domain (localhost discovery); readiness by
   calling ``list_classes``, then warm-up frames until outputs come back. A publisher here sends
   the sample drive frames (512x256 rgb8, cycled) at ``rate_hz`` for ``duration_s`` on a
   schedule of absolute deadlines, each stamped with its send time (system clock). The
   subscribed outputs (default ``~/open_set`` and ``~/anomaly``) are time-stamped on arrival;
   a frame counts as received when every subscribed output with its stamp has arrived, and its
   end-to-end latency is (arrival of the last of them - stamp). The node's /diagnostics give its
   counters (frames received / dropped / processed, taken as differences over the run) and
   its per-stage latency (p50 / p99 over its rolling window, sized to the run). The node's RSS
   is read from /proc/<pid>/status (VmRSS) after warm-up, every ``rss_period_s`` and at the end.

The frames are the sample drive's (512x256) or, with ``bag_path``, at most ``drive_frames`` frames
of a rosbag2 (MCAP) bag's image topic, at the bag's own resolution. Camera QoS is best effort,
depth 1 (sensor data, as a camera driver publishes; the node's default image QoS), with the
large-image Fast DDS profile in both processes (as the README asks of a camera driver); outputs
are subscribed reliable, depth 10 (the node publishes reliable, depth 1).
The benchmark process itself costs CPU during the node phase (publishing, receiving outputs):
keep ``outputs`` to what a consumer would subscribe.
"""

from __future__ import annotations

import contextlib
import gc
import os
import random
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from owss_ros.tools.node_process import NODE_NAME, REPO_ROOT, NodeProcess
from owss_ros.tools.ros_env import isolated_ros_environment, latency_summary, write_params_file
from owss_ros.transport.fastdds import apply_large_image_profile, transport_warnings

NAMESPACE = "/owss_benchmark"
CAMERA_TOPIC = f"{NAMESPACE}/camera/image_raw"
OUTPUT_NAMES = ("labels", "anomaly", "open_set", "overlay")
DEFAULT_OUTPUTS = ("open_set", "anomaly")
STARTUP_TIMEOUT_S = 300.0  # a first start may export the ONNX graph
DRAIN_QUIET_S = 1.0  # the run ends once no output has arrived for this long after the last frame
DRAIN_LIMIT_S = 10.0
BARE_WARMUP_FRAMES = 5
WARMUP_RESEND_S = 0.5


# ----------------------------------------------------------------------------- settings and results
@dataclass(frozen=True)
class BenchmarkSettings:
    model_path: Path
    backend: str = "auto"
    rate_hz: float = 30.0
    duration_s: float = 60.0
    input_hw: tuple[int, int] = (256, 512)
    outputs: tuple[str, ...] = DEFAULT_OUTPUTS
    cpu_threads: int = 0  # node parameter cpu_threads, used for the bare backend too; 0 = library default
    cache_directory: str = ""  # "" = the node's default ($OWSS_ROS_CACHE_DIR or ~/.cache/owss_ros)
    executor_threads: int = 1  # node parameter executor_threads (1 = SingleThreadedExecutor, the default)
    bare_frames: int = 200
    warmup_frames: int = 40  # more than the node's ring buffer (30 frames): it is full before RSS is first read
    rss_period_s: float = 5.0
    drive_frames: int = 24  # sample drive frames, or at most this many frames of bag_path
    drive_seed: int = 7
    bag_path: Path | None = None  # rosbag2 bag to take the camera frames from
    bag_topic: str | None = None  # its image topic (None: the bag's only one)
    teach_shots: int = 5  # /add_class with this many frames + masks of the drive while frames flow; 0 = skip


def safe_ratio(numerator, denominator):
    return None if numerator is None or not denominator else float(numerator) / float(denominator)


# ----------------------------------------------------------------------------- process memory
def read_process_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (resident now) and VmHWM (peak resident) of a process, in MB, from /proc/<pid>/status."""
    memory = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            memory[key] = int(value.split()[0]) / 1024.0  # the file says kB (KiB)
    return memory


def read_process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of proc(5); [0] is field 3
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples a process's VmRSS every ``period_s`` on a background thread: [(seconds, MB)]."""

    def __init__(self, pid: int, period_s: float):
        self.pid, self.period_s = pid, period_s
        self.series: list[tuple[float, float]] = []
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss_sampler", daemon=True)

    def sample(self) -> float:
        rss = read_process_memory_mb(self.pid)["VmRSS"]
        self.series.append((round(time.monotonic() - self._start, 2), round(rss, 2)))
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            with contextlib.suppress(OSError, KeyError):
                self.sample()

    def start(self) -> float:
        first = self.sample()
        self._thread.start()
        return first

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(self.period_s + 1.0)
        return self.sample()


# ----------------------------------------------------------------------------- frames
def load_drive_frames(work_dir: Path, count: int, seed: int) -> list[np.ndarray]:
    """The sample drive's camera frames (512x256 RGB) as arrays."""
    from PIL import Image

    from owss_ros.tools.demo.sample_drive import make_sample_drive

    drive = make_sample_drive(work_dir / "drive", count, seed)
    return [np.asarray(Image.open(path).convert("RGB")) for path in drive.frames]


def load_camera_frames(settings: BenchmarkSettings, work_dir: Path) -> list[np.ndarray]:
    """The frames the run cycles through: from ``settings.bag_path`` if set, else the sample drive."""
    if settings.bag_path is None:
        return load_drive_frames(work_dir, settings.drive_frames, settings.drive_seed)
    from owss_ros.bag import BagError, read_image_frames

    frames = [np.array(f.rgb) for f in read_image_frames(settings.bag_path, settings.bag_topic,
                                                         limit=settings.drive_frames)]  # writable copies
    if not frames:
        raise BagError(f"bag {settings.bag_path} has no frames on {settings.bag_topic or 'its image topic'}")
    return frames


def stamp_from_ns(ns: int):
    from builtin_interfaces.msg import Time

    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def stamp_to_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def paced_ticks(count: int, rate_hz: float):
    """Yields 0..count-1, each at its deadline (start + i / rate). A tick more than one period late
    re-anchors the schedule at now, so a stall is never followed by a burst."""
    period = 1.0 / rate_hz
    anchor, anchor_index = time.perf_counter(), 0
    for index in range(count):
        delay = anchor + (index - anchor_index) * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        elif -delay > period:
            anchor, anchor_index = time.perf_counter(), index
        yield index


def covered_seconds(stamps_ns: list[int], rate_hz: float) -> float:
    """The time a run of frames covers: first to last stamp, plus one period."""
    return (stamps_ns[-1] - stamps_ns[0]) / 1e9 + 1.0 / rate_hz


# ----------------------------------------------------------------------------- bare backend
def measure_bare_backend(settings: BenchmarkSettings, frames: list[np.ndarray]) -> dict:
    """Latency of ``infer()`` (paced at the run's rate), the backend built as the node builds it."""
    import torch

    from owss_ros.backends.graph_inputs import GraphInputs
    from owss_ros.core.checkpoint import read_spec
    from owss_ros.core.class_set import ClassSet
    from owss_ros.core.open_set import ScoringConfig
    from owss_ros.runtime.engine import EngineConfig, build_backend

    if settings.cpu_threads > 0:
        torch.set_num_threads(settings.cpu_threads)  # what the node does with the same parameter
    spec = read_spec(settings.model_path)
    config = ScoringConfig()
    inputs = GraphInputs.build(ClassSet.from_base(spec.class_names), config)
    backend = build_backend(Path(settings.model_path), EngineConfig(
        backend=settings.backend, input_hw=tuple(settings.input_hw), cpu_threads=settings.cpu_threads,
        cache_directory=str(settings.cache_directory or "")))
    total_ms, inference_ms = [], []
    for index in paced_ticks(BARE_WARMUP_FRAMES + settings.bare_frames, settings.rate_hz):
        frame = frames[index % len(frames)]
        started = time.perf_counter()
        result = backend.infer(frame, inputs)
        elapsed_ms = 1e3 * (time.perf_counter() - started)
        if index >= BARE_WARMUP_FRAMES:
            total_ms.append(elapsed_ms)
            inference_ms.append(result.timings_ms.get("inference", float("nan")))
    description = {k: (v if isinstance(v, (int, float, str, bool, type(None))) else str(v))
                   for k, v in backend.describe().items()}
    del backend
    gc.collect()
    return {"infer_ms": latency_summary(total_ms), "inference_stage_ms": latency_summary(inference_ms),
            "warmup_frames": BARE_WARMUP_FRAMES, "paced_at_hz": settings.rate_hz,
            "torch_threads": torch.get_num_threads(), "backend": description}


# ----------------------------------------------------------------------------- node side
def run_frame_count(settings: BenchmarkSettings) -> int:
    return max(1, round(settings.rate_hz * settings.duration_s))


def write_node_params(path: Path, settings: BenchmarkSettings) -> Path:
    """Overrides on top of config/perception.yaml: model, backend, size; no class store, no masks."""
    values = {
        "model_path": str(settings.model_path), "backend": settings.backend,
        "input_height": settings.input_hw[0], "input_width": settings.input_hw[1],
        "cpu_threads": settings.cpu_threads, "cache_directory": settings.cache_directory,
        "executor_threads": settings.executor_threads, "class_store_path": "", "mask_directory": "", "diagnostics_period": 1.0,
        # as many frames as the run sends: when the node processes them all, warm-up frames are out
        "statistics_window": int(min(100_000, run_frame_count(settings))),
    }
    return write_params_file(path, **values)


class OutputArrivals:
    """Arrival times (system clock, ns) of the node's outputs, per frame stamp and topic."""

    def __init__(self, topics: list[str]):
        self.topics = list(topics)
        self._lock = threading.Lock()
        self._arrivals: dict[int, dict[str, int]] = {}
        self.last_arrival_monotonic = time.monotonic()

    def callback(self, topic: str):
        def record(message):
            received_ns = time.time_ns()
            with self._lock:
                self._arrivals.setdefault(stamp_to_ns(message.header.stamp), {})[topic] = received_ns
                self.last_arrival_monotonic = time.monotonic()
        return record

    def complete(self, stamp_ns: int) -> bool:
        with self._lock:
            return len(self._arrivals.get(stamp_ns, ())) == len(self.topics)

    def snapshot(self) -> dict[int, dict[str, int]]:
        with self._lock:
            return {stamp: dict(per_topic) for stamp, per_topic in self._arrivals.items()}


class DiagnosticsReader:
    """The node's latest /diagnostics status as a dict of its key/values."""

    def __init__(self, client, node_path: str):
        from diagnostic_msgs.msg import DiagnosticArray

        self.client, self.node_path = client, node_path
        client.subscribe("/diagnostics", DiagnosticArray)

    def _ours(self, message):
        return next((s for s in message.status if s.name.startswith(self.node_path + ":")), None)

    def report_after(self, after_ns: int, timeout: float) -> dict | None:
        """Values of the first report stamped after ``after_ns`` (system clock), or None on timeout."""
        try:
            message = self.client.wait_for_message(
                "/diagnostics", lambda m: self._ours(m) is not None and stamp_to_ns(m.header.stamp) > after_ns,
                timeout=timeout)
        except TimeoutError:
            return None
        status = self._ours(message)
        return {kv.key: kv.value for kv in status.values} | {"hardware_id": status.hardware_id}


def counter_delta(start: dict | None, end: dict | None, key: str) -> int | None:
    if not start or not end or key not in start or key not in end:
        return None
    return int(end[key]) - int(start[key])


def warmup_samples_in_window(stages: dict, processed_in_run: int | None) -> int | None:
    """How many of the node's latency samples are warm-up frames (its window holds the last N frames)."""
    samples = stages.get("total", {}).get("samples")
    return None if samples is None or processed_in_run is None else max(0, samples - processed_in_run)


def node_latencies(report: dict | None) -> dict:
    """stage -> {p50, p99, samples} from a diagnostics report's latency_ms.* values."""
    stages: dict[str, dict] = {}
    for key, value in (report or {}).items():
        if key.startswith("latency_ms."):
            _, stage, stat = key.split(".")
            stages.setdefault(stage, {})[stat] = int(value) if stat == "samples" else float(value)
    return stages


class FrameSender:
    """Publishes prepared frames at a fixed rate, each stamped with its send time."""

    def __init__(self, client, frames: list[np.ndarray]):
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from owss_ros.ros.image_conversion import rgb_to_image

        self.messages = [rgb_to_image(frame) for frame in frames]
        for message in self.messages:
            message.header.frame_id = "benchmark_camera"
        self.publisher = client.publisher(CAMERA_TOPIC, Image,
                                          QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        self.index = 0

    def send_next(self) -> int:
        """Publish the next frame (cycled) stamped now; returns the stamp in ns."""
        message = self.messages[self.index % len(self.messages)]
        self.index += 1
        stamp_ns = time.time_ns()
        message.header.stamp = stamp_from_ns(stamp_ns)
        self.publisher.publish(message)
        return stamp_ns

    def send_at_rate(self, rate_hz: float, count: int) -> list[int]:
        """``count`` frames on the :func:`paced_ticks` schedule; their stamps (ns)."""
        return [self.send_next() for _ in paced_ticks(count, rate_hz)]


def warm_up_node(sender: FrameSender, arrivals: OutputArrivals, frames: int, timeout: float, rate_hz: float) -> None:
    """Send frames one at a time, each until all its outputs are back (re-sent every WARMUP_RESEND_S:
    best effort may lose a frame, e.g. before discovery completes), never faster than ``rate_hz``:
    after an unpaced burst answered within milliseconds, rclpy's MultiThreadedExecutor (the node's)
    was measured to lose many of the following paced frames (``scripts/ros_transport_floor.py --burst``),
    which would charge a fast (GPU) node with the warm-up's burst."""
    deadline = time.monotonic() + timeout
    for _ in paced_ticks(frames, rate_hz):
        message = sender.messages[sender.index % len(sender.messages)]
        stamp_ns = sender.send_next()
        resend_at = time.monotonic() + WARMUP_RESEND_S
        while not arrivals.complete(stamp_ns):
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(f"the node gave no outputs for warm-up frames within {timeout} s")
            if now > resend_at:
                sender.publisher.publish(message)  # same stamp
                resend_at = now + WARMUP_RESEND_S
            time.sleep(0.005)


def wait_for_drain(arrivals: OutputArrivals, last_stamp_ns: int) -> None:
    """Until the last frame's outputs are in, or no output came for DRAIN_QUIET_S (at most DRAIN_LIMIT_S)."""
    limit = time.monotonic() + DRAIN_LIMIT_S
    while time.monotonic() < limit and not arrivals.complete(last_stamp_ns):
        if time.monotonic() - arrivals.last_arrival_monotonic > DRAIN_QUIET_S:
            break
        time.sleep(0.05)


def received_latencies(sent_stamps: list[int], arrivals: dict[int, dict[str, int]], topics: list[str]):
    """End-to-end ms of frames with every output back; per-topic received counts."""
    latencies, per_topic = [], {topic: 0 for topic in topics}
    for stamp_ns in sent_stamps:
        per_frame = arrivals.get(stamp_ns, {})
        for topic in per_frame:
            per_topic[topic] += 1
        if len(per_frame) == len(topics):
            latencies.append((max(per_frame.values()) - stamp_ns) / 1e6)
    return latencies, per_topic


def load_drive_shots(work_dir: Path, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` (frame, object mask) pairs from the second half of the sample drive the run already
    wrote (:func:`load_drive_frames`), where the object is near (the teaching phase's shots)."""
    from PIL import Image

    frames = sorted((work_dir / "drive" / "frames").glob("*.png"))
    masks = sorted((work_dir / "drive" / "object_masks").glob("*.png"))
    picks = np.linspace(len(frames) // 2, len(frames) - 1, count).round().astype(int)
    return [(np.asarray(Image.open(frames[i]).convert("RGB")), np.asarray(Image.open(masks[i]).convert("L")))
            for i in picks]


def missed_in_window(stamps: list[int], arrivals: OutputArrivals, start_ns: int, end_ns: int) -> tuple[int, int]:
    """(frames sent in [start, end], of those without all outputs back)."""
    window = [t for t in stamps if start_ns <= t <= end_ns]
    return len(window), sum(not arrivals.complete(t) for t in window)


def run_teach_phase(client, sender: FrameSender, arrivals: OutputArrivals, node_path: str,
                    shots: list[tuple[np.ndarray, np.ndarray]], rate_hz: float) -> dict:
    """Frames keep flowing at ``rate_hz`` while one /add_class with ``shots`` runs: the call's round
    trip, and the frames missed during it against an equally long window just before it.

    The client is matched first with an empty request (the node refuses it and changes nothing):
    a brand-new client's first call also waits for DDS to match its request and response
    endpoints, which is discovery, not the node's teaching (an operator's CLI pays it per call)."""
    from owss_ros.ros.image_conversion import mono8_to_image, rgb_to_image
    from owss_ros.srv import AddClass

    matched_start_ns = time.time_ns()
    refusal = client.warm_up(AddClass, f"{node_path}/add_class", AddClass.Request(), timeout=30.0)
    first_call_ms = (time.time_ns() - matched_start_ns) / 1e6
    if refusal.success:
        raise RuntimeError(f"the node accepted an empty add_class request: {refusal.message}")

    stamps: list[int] = []
    stop = threading.Event()

    def pump() -> None:
        for _ in paced_ticks(10**9, rate_hz):
            if stop.is_set():
                return
            stamps.append(sender.send_next())

    request = AddClass.Request(class_name="benchmark_object", images=[rgb_to_image(f) for f, _ in shots],
                               masks=[mono8_to_image(((m > 127) * 255).astype(np.uint8)) for _, m in shots])
    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    time.sleep(2.0)  # a steady stream before the call, also the baseline window
    start_ns = time.time_ns()
    response = client.call(AddClass, f"{node_path}/add_class", request, timeout=60.0)
    end_ns = time.time_ns()
    time.sleep(1.0)
    stop.set()
    thread.join(5)
    wait_for_drain(arrivals, stamps[-1])
    call_ms = (end_ns - start_ns) / 1e6
    during = missed_in_window(stamps, arrivals, start_ns, end_ns)
    before = missed_in_window(stamps, arrivals, start_ns - (end_ns - start_ns) - int(0.2e9), start_ns - int(0.2e9))
    return {"shots": len(shots), "success": bool(response.success), "message": response.message,
            "add_class_ms": call_ms, "new_client_refusal_ms": first_call_ms,
            "frames_sent_during": during[0], "frames_missed_during": during[1],
            "frames_sent_before": before[0], "frames_missed_before": before[1],
            "extra_missed": during[1] - before[1]}


def subscribe_outputs(client, topics: list[str]) -> OutputArrivals:
    """Reliable, depth-10 subscriptions of ``topics`` on ``client`` that record their arrivals."""
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    arrivals = OutputArrivals(topics)
    output_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    for topic in topics:
        client.node.create_subscription(Image, topic, arrivals.callback(topic), output_qos)
    return arrivals


def run_node_phase(settings: BenchmarkSettings, frames: list[np.ndarray], work_dir: Path) -> dict:
    import rclpy
    from rclpy.context import Context

    from owss_ros.tools.ros_client import RosClient
    from owss_ros.srv import ListClasses

    node_path = f"{NAMESPACE}/{NODE_NAME}"
    topics = [f"{node_path}/{name}" for name in settings.outputs]
    params_file = write_node_params(work_dir / "benchmark_params.yaml", settings)
    apply_large_image_profile()  # before this process's first DDS participant: it publishes the frames
    for warning in transport_warnings():
        print(f"[benchmark-node] warning: {warning}")
    with isolated_ros_environment() as domain_id:
        node = NodeProcess([REPO_ROOT / "config" / "perception.yaml", params_file], NAMESPACE,
                           work_dir / "node.log", remappings={"image": CAMERA_TOPIC}).start()
        context, client = Context(), None
        try:
            rclpy.init(context=context, domain_id=domain_id)
            client = RosClient(context, "owss_benchmark_player")
            try:
                client.warm_up(ListClasses, f"{node_path}/list_classes", ListClasses.Request(),
                               timeout=STARTUP_TIMEOUT_S)
            except TimeoutError:
                raise RuntimeError(f"the node did not become ready:\n{node.log()[-4000:]}") from None
            diagnostics = DiagnosticsReader(client, node_path)
            arrivals = subscribe_outputs(client, topics)
            sender = FrameSender(client, frames)
            warm_up_node(sender, arrivals, settings.warmup_frames, timeout=60.0, rate_hz=settings.rate_hz)
            baseline = diagnostics.report_after(time.time_ns(), timeout=5.0)
            rss = RssSampler(node.process.pid, settings.rss_period_s)
            load_before = os.getloadavg()
            rss_start = rss.start()
            cpu_start = (read_process_cpu_seconds(node.process.pid), time.process_time(), time.monotonic())
            sent_stamps = sender.send_at_rate(settings.rate_hz, run_frame_count(settings))
            wait_for_drain(arrivals, sent_stamps[-1])
            cpu_end = (read_process_cpu_seconds(node.process.pid), time.process_time(), time.monotonic())
            final = diagnostics.report_after(time.time_ns(), timeout=5.0)
            rss_end = rss.stop()
            peak = read_process_memory_mb(node.process.pid).get("VmHWM")
            load_after = os.getloadavg()
            teaching = None
            if settings.teach_shots > 0 and settings.bag_path is None:  # the drive's masks are the shots
                shots = load_drive_shots(work_dir, settings.teach_shots)
                teaching = run_teach_phase(client, sender, arrivals, node_path, shots, settings.rate_hz)
        finally:
            if client is not None:
                client.close()
            rclpy.try_shutdown(context=context)
            exit_code = node.stop()
    summary = summarise_node_phase(settings, topics, sent_stamps, arrivals.snapshot(), baseline, final,
                                   {"pid": node.process.pid, "start_mb": rss_start, "end_mb": rss_end,
                                    "peak_mb": peak, "series": rss.series},
                                   {"load_avg_before": load_before, "load_avg_after": load_after,
                                    "cpu_seconds": cpu_use(cpu_start, cpu_end),
                                    "domain_id": domain_id, "node_exit_code": exit_code})
    summary["teaching"] = teaching
    return summary


def cpu_use(start: tuple[float, float, float], end: tuple[float, float, float]) -> dict:
    """CPU seconds of the node and of this process over the run (sending + drain), and the wall time."""
    node, benchmark, wall = (b - a for a, b in zip(start, end))
    return {"node": node, "benchmark_process": benchmark, "wall": wall}


def summarise_node_phase(settings, topics, sent_stamps, arrivals, baseline, final, rss, context) -> dict:
    latencies, per_topic = received_latencies(sent_stamps, arrivals, topics)
    send_seconds = covered_seconds(sent_stamps, settings.rate_hz)
    sent, received = len(sent_stamps), len(latencies)
    processed = counter_delta(baseline, final, "frames_processed")
    intervals_ms = np.diff(np.asarray(sent_stamps, dtype=np.float64)) / 1e6
    return {
        "outputs": topics,
        "sent": {"count": sent, "rate_hz": sent / send_seconds, "seconds": send_seconds,
                 "interval_ms": latency_summary(intervals_ms)},
        "received": {"count": received, "rate_hz": received / send_seconds, "per_topic": per_topic},
        "frames": {"sent_minus_processed": None if processed is None else sent - processed,
                   "sent_minus_received": sent - received,
                   "node_received": counter_delta(baseline, final, "frames_received"),
                   "node_processed": processed,
                   "node_dropped_counter": counter_delta(baseline, final, "frames_dropped"),
                   "node_rejected": counter_delta(baseline, final, "frames_rejected"),
                   "node_inference_errors": counter_delta(baseline, final, "inference_errors"),
                   "diagnostics_available": baseline is not None and final is not None},
        "end_to_end_ms": latency_summary(latencies),
        "node_stage_ms": node_latencies(final),
        "node_stage_warmup_samples": warmup_samples_in_window(node_latencies(final), processed),
        "node_backend": {k: v for k, v in (final or {}).items() if k.startswith("backend.")},
        "rss_mb": {**rss, "growth_mb": rss["end_mb"] - rss["start_mb"],
                   "growth_pct": 100.0 * (rss["end_mb"] - rss["start_mb"]) / rss["start_mb"]},
        "machine": {**context, "cpu_count": os.cpu_count()},
    }


# ----------------------------------------------------------------------------- the whole benchmark
def run_node_benchmark(settings: BenchmarkSettings, work_dir: Path | None = None) -> dict:
    """Bare backend first, then the node; returns the JSON-ready result (see the module docstring)."""
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="owss_node_bench_")))
        work_dir.mkdir(parents=True, exist_ok=True)
        frames = load_camera_frames(settings, work_dir)
        bare_load = os.getloadavg()
        bare = measure_bare_backend(settings, frames)
        node = run_node_phase(settings, frames, work_dir)
    bare["load_avg_before"] = bare_load
    e2e, infer = node["end_to_end_ms"], bare["infer_ms"]
    return {
        "settings": {**asdict(settings), "model_path": str(settings.model_path),
                     "bag_path": str(settings.bag_path) if settings.bag_path else None,
                     "camera_size_wh": [int(frames[0].shape[1]), int(frames[0].shape[0])]},
        "order": "bare backend measured first, in the benchmark process; then the node run (never concurrent)",
        "node": node,
        "bare_backend": bare,
        "ratio_node_e2e_over_bare": {"p50": safe_ratio(e2e["p50"], infer["p50"]),
                                     "p99": safe_ratio(e2e["p99"], infer["p99"])},
    }


# ----------------------------------------------------------------------------- report
def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _count(value) -> str:
    return "-" if value is None else str(value)


def format_report(result: dict) -> str:
    """The printed table: set-up, rates and drops, latencies, memory and load."""
    s, node = result["settings"], result["node"]
    chosen = node["node_backend"].get("backend.backend", "?")
    header = [
        f"model {s['model_path']}; backend {s['backend']} -> node: {chosen}"
        f" {node['node_backend'].get('backend.providers', '')}; input {s['input_hw'][0]}x{s['input_hw'][1]};"
        f" camera {s['camera_size_wh'][0]}x{s['camera_size_wh'][1]} rgb8"
        f"{' from ' + s['bag_path'] if s.get('bag_path') else ''}; cpu_threads {s['cpu_threads'] or 'default'}"
        f"; executor_threads {s.get('executor_threads', 1)}",
        f"outputs subscribed: {', '.join(t.rsplit('/', 1)[1] for t in node['outputs'])}; {result['order']}",
    ]
    return "\n".join(header + [""] + _rate_lines(result) + [""] + _latency_lines(result) + [""]
                     + _resource_lines(result) + _teaching_lines(node.get("teaching")))


def _teaching_lines(teaching: dict | None) -> list[str]:
    if not teaching:
        return []
    return ["", f"teaching while frames flow: /add_class with {teaching['shots']} frames + masks "
                f"{'succeeded' if teaching['success'] else 'FAILED: ' + teaching['message']} in "
                f"{teaching['add_class_ms']:.0f} ms; frames missed during the call {teaching['frames_missed_during']} "
                f"of {teaching['frames_sent_during']} (same-length window before: {teaching['frames_missed_before']} "
                f"of {teaching['frames_sent_before']}; extra {teaching['extra_missed']:+d}); the client was "
                f"matched first (a new client's refused empty request: {teaching['new_client_refusal_ms']:.0f} ms)"]


def _rate_lines(result: dict) -> list[str]:
    node = result["node"]
    sent, received, frames = node["sent"], node["received"], node["frames"]
    return [
        f"{'':34} {'value':>12}",
        f"{'rate requested / sent (Hz)':34} {result['settings']['rate_hz']:>6.1f} / {sent['rate_hz']:<5.2f}",
        f"{'output rate received (Hz)':34} {received['rate_hz']:>12.2f}",
        f"{'frames sent':34} {sent['count']:>12}",
        f"{'frames received (all outputs)':34} {received['count']:>12}",
        f"{'node: frames in / processed':34} {_count(frames['node_received']):>6} / {_count(frames['node_processed'])}",
        f"{'dropped: sent - processed':34} {_count(frames['sent_minus_processed']):>12}",
        f"{'dropped: node drop counter':34} {_count(frames['node_dropped_counter']):>12}",
        f"{'send interval p50 / p99 (ms)':34} {_ms(sent['interval_ms']['p50']):>6} / {_ms(sent['interval_ms']['p99'])}",
    ]


def _latency_lines(result: dict) -> list[str]:
    node, e2e, infer = result["node"], result["node"]["end_to_end_ms"], result["bare_backend"]["infer_ms"]
    ratio = result["ratio_node_e2e_over_bare"]
    lines = [f"{'latency (ms)':34} {'p50':>8} {'p99':>8} {'max':>8} {'n':>6}",
             f"{'end-to-end (stamp -> received)':34} {_ms(e2e['p50']):>8} {_ms(e2e['p99']):>8} {_ms(e2e['max']):>8}"
             f" {e2e['count']:>6}"]
    for stage in ("total", "queue_wait", "inference"):
        values = node["node_stage_ms"].get(stage)
        if values:
            lines.append(f"{'node diagnostics ' + stage:34} {_ms(values.get('p50')):>8} {_ms(values.get('p99')):>8}"
                         f" {'-':>8} {values.get('samples', 0):>6}")
    return lines + [
        f"{'bare backend infer()':34} {_ms(infer['p50']):>8} {_ms(infer['p99']):>8} {_ms(infer['max']):>8}"
        f" {infer['count']:>6}",
        f"{'ratio node e2e / bare':34} {_ratio(ratio['p50']):>8} {_ratio(ratio['p99']):>8}",
        f"(node diagnostics: {_count(node['node_stage_warmup_samples'])} of its samples are warm-up frames)",
    ]


def _resource_lines(result: dict) -> list[str]:
    node, rss = result["node"], result["node"]["rss_mb"]
    machine = node["machine"]
    cpu = machine["cpu_seconds"]
    return [
        f"node RSS (MB): start {rss['start_mb']:.1f} (after warm-up), end {rss['end_mb']:.1f}, growth "
        f"{rss['growth_mb']:+.1f} MB ({rss['growth_pct']:+.2f}%), peak {_ms(rss['peak_mb'])}",
        "RSS series (s, MB): " + " ".join(f"{t:.0f}:{mb:.1f}" for t, mb in rss["series"]),
        f"CPU during the run: node {cpu['node']:.1f} s, benchmark process {cpu['benchmark_process']:.1f} s"
        f" over {cpu['wall']:.1f} s wall",
        f"load average (1/5/15 min): bare phase {_loads(result['bare_backend']['load_avg_before'])}; node run "
        f"{_loads(machine['load_avg_before'])} -> {_loads(machine['load_avg_after'])} ({machine['cpu_count']} CPUs)",
    ]


def _ratio(value) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _loads(values) -> str:
    return "/".join(f"{v:.2f}" for v in values)
