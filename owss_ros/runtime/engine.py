"""The open-world engine: one object that turns camera frames into open-world maps and learns
classes while it runs (DMLNet scoring, NPM teaching), with no ROS in it.

    model = ModelFiles.open("models/default/model.safetensors")        # spec, fingerprint, calibration
    engine = OpenWorldEngine(model, EngineConfig(...), model.scoring_defaults())
    engine.start(wanted=lambda: {"open_set"}, deliver=publish)          # the worker thread
    engine.submit(Frame(...))                                           # camera rate, never blocks
    engine.teach("moose", frames=[stamp_ns], masks=["moose.png"])       # NPM, Eq. 11
    engine.forget("moose"); engine.set_scoring(config); engine.health()

Threading: :meth:`submit` checks a frame's header (size, encoding, max_image_pixels; a refused
frame is counted and never buffered), stores it as the newest frame (latest frame wins; drops
are counted) and appends it to the ring buffer. One worker thread owns the backend and runs
every frame (:meth:`process`, then ``deliver``) and, between two frames, jobs that embed the
shots being taught (network only, :data:`SHOTS_PER_JOB` shots a job), so teaching delays frames
by one network pass per shot. Everything a frame is scored and drawn with is one immutable
:class:`ScoringSnapshot`, swapped as a single reference: a class or scoring change applies
atomically from the next frame. Without :meth:`start` the engine is synchronous (``process``
and ``teach`` run in the caller's thread) - what the fast tests use.

Calibration rule (:mod:`owss_ros.core.calibration`): a calibration holding lambda_out fixes the
scoring; :meth:`set_scoring` and the constructor refuse another one naming both.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from owss_ros.backends.base import FrameGeometry, InferenceBackend
from owss_ros.backends.factory import create_backend, default_cache_dir
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION
from owss_ros.core.class_names import (
    TeachingRuleError,
    check_distinct_prototype_in,
    check_mask_pixels,
    check_new_class_name_in,
)
from owss_ros.core.class_set import ClassEntry, ClassOrigin, ClassSet, ClassSetError
from owss_ros.core.class_store import ClassStoreError, decode_taught_class, encode_taught_class
from owss_ros.core.classes import CITYSCAPES_CLASSES, UNKNOWN_ID
from owss_ros.core.npm import (
    DEFAULT_BACKGROUND_PROTOTYPES,
    DEFAULT_MAX_NOVEL_CLASSES,
    MAX_BACKGROUND_PER_CLASS,
    background_prototypes,
    graph_slots_for,
)
from owss_ros.core.open_set import ScoringConfig, unknown_cells
from owss_ros.runtime.class_registry import ClassChangeRefused, ClassRegistry
from owss_ros.runtime.frames import Frame, FrameRejectedError
from owss_ros.runtime.mask_files import MaskFileError, read_mask_png, resolve_mask_path
from owss_ros.runtime.model_files import ModelFiles, StartupError
from owss_ros.runtime.overlay import palette_lut, render_overlay
from owss_ros.runtime.ring_buffer import DEFAULT_MAX_BYTES, FrameNotBufferedError, FrameRingBuffer
from owss_ros.runtime.statistics import StageLatencies
from owss_ros.runtime.teaching import (
    TeachingError,
    TeachingShot,
    check_free_slot,
    mask_on_model_input,
    mask_on_scaled_frame,
    nearest_prototype,
    prototype_from_embeddings,
    with_imported,
)
from owss_ros.runtime.worker import FrameMailbox, InferenceWorker, PostedFrame

MAP_OUTPUTS = ("labels", "anomaly", "open_set", "overlay")
OUTPUTS = MAP_OUTPUTS + ("camera_info",)
EMBED_TIMEOUT_S = 60.0
# Shots embedded per worker job while teaching: two network passes (~15-20 ms on 2 cores) fit between
# two 30 Hz frames (~15 ms each), so teaching costs the stream no frame (measured: benchmark-node).
SHOTS_PER_JOB = 2
WARNING_THROTTLE_S = 5.0
REQUEST_ERRORS = (TeachingError, TeachingRuleError, ClassSetError, ClassChangeRefused, FrameNotBufferedError, FrameRejectedError,
                  MaskFileError, ClassStoreError)

@dataclass(frozen=True)
class EngineConfig:
    """Everything structural (read once at start). Defaults are those of config/perception.yaml."""

    backend: str = "auto"  # auto | torch | onnxruntime | tensorrt
    device: str = "auto"  # torch device; auto = cuda when available
    cpu_threads: int = 0  # 0 = the library default
    onnx_path: str = ""  # "" = export on the fly into the cache
    cache_directory: str = ""  # "" = $OWSS_ROS_CACHE_DIR or ~/.cache/owss_ros
    tensorrt_precision: str = "fp16"
    input_hw: tuple[int, int] = (256, 512)
    output_resolution: str = "model"  # model | camera
    score_resolution: str = DEFAULT_SCORE_RESOLUTION  # one of backends.onnx_metadata.SCORE_RESOLUTIONS
    class_store_path: str = ""  # "" = memory only
    class_store_on_error: str = "refuse"  # refuse | base_only
    max_novel_classes: int = DEFAULT_MAX_NOVEL_CLASSES
    mask_directory: str = ""  # "" = mask files disabled
    ring_buffer_size: int = 300  # most frames kept for teaching by stamp; 0 disables
    ring_buffer_seconds: float = 10.0  # frames that arrived in the last this many seconds; 0 disables
    ring_buffer_max_bytes: int = DEFAULT_MAX_BYTES  # message data held by the ring
    pinned_frames: int = 8  # frames snapshot_frame can hold beyond the ring
    pinned_frame_timeout_s: float = 300.0
    stamp_tolerance_s: float = 0.0
    max_shots: int = 16
    background_prototypes: int = DEFAULT_BACKGROUND_PROTOTYPES  # per taught class; 0 = the paper's NPM
    max_image_pixels: int = 16_777_216
    statistics_window: int = 300


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


@dataclass
class FrameOutputs:
    """What one frame gave, for the outputs that were wanted (others are None)."""

    frame: Frame
    output_hw: tuple[int, int]  # (h, w) of the maps (model or camera resolution)
    close_labels: np.ndarray | None = None  # (h, w) uint8, Eq. 5
    anomaly: np.ndarray | None = None  # (h, w) float32 in [0, 1], Eq. 6-10
    open_labels: np.ndarray | None = None  # (h, w) uint8, taught ids from N, 255 = unknown
    overlay: np.ndarray | None = None  # (h, w, 3) uint8 RGB
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TeachResult:
    entry: ClassEntry
    shots: int
    pixels: int  # at model resolution
    lambda_novel: float | None  # None: the engine's lambda_novel applies
    nearest_name: str
    nearest_distance: float

    @property
    def message(self) -> str:
        threshold = "the node's lambda_novel" if self.lambda_novel is None else f"lambda_novel {self.lambda_novel:g}"
        return (f"added class {self.entry.class_id} {self.entry.name!r} from {self.shots} shot(s), {self.pixels} "
                f"pixels at model resolution, {threshold}, {len(self.entry.background)} background prototype(s); "
                f"nearest prototype {self.nearest_name!r} at squared distance {self.nearest_distance:.3f}")


@dataclass
class Health:
    counters: dict[str, int]
    latencies: dict[str, tuple[float, float, int]]  # stage -> (p50 ms, p99 ms, samples)
    facts: dict[str, str]
    errors: list[str]
    warnings: list[str]


def base_class_set(class_names: Sequence[str], capacity: int) -> ClassSet:
    colors = {c.name: c.color for c in CITYSCAPES_CLASSES}
    return ClassSet.from_base(list(class_names), [colors.get(n, (128, 128, 128)) for n in class_names], capacity)


def build_backend(model_path: Path, c: EngineConfig) -> InferenceBackend:
    """The backend the engine runs for ``c`` (also what the node benchmark measures bare);
    StartupError says which backend and why not."""
    needed = graph_slots_for(c.max_novel_classes)
    try:
        backend = create_backend(
            c.backend, model_path=model_path, onnx_path=c.onnx_path or None, input_hw=c.input_hw,
            output_resolution=c.output_resolution, score_resolution=c.score_resolution,
            torch_device=_torch_device(c.device),
            intra_op_threads=c.cpu_threads or None,
            cache_dir=Path(c.cache_directory).expanduser() if c.cache_directory else default_cache_dir(),
            max_prototypes=needed, precision=c.tensorrt_precision)
        graph_slots = backend.describe().get("max_prototypes")
        if graph_slots is not None and int(graph_slots) < needed:
            raise ValueError(f"the {backend.name} graph accepts {graph_slots} novel prototype slots, fewer than the "
                             f"{needed} that max_novel_classes {c.max_novel_classes} needs (each class and up to "
                             f"{MAX_BACKGROUND_PER_CLASS} background prototypes): re-export it with "
                             f"--max-prototypes {needed} or lower max_novel_classes")
    except Exception as error:  # noqa: BLE001 - any failure: say which backend and why
        raise StartupError(f"cannot create the {c.backend!r} backend: {error}") from error
    return backend


def _torch_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class OpenWorldEngine:
    def __init__(self, model: ModelFiles, config: EngineConfig, scoring: ScoringConfig,
                 overlay_alpha: float = 0.5, log: logging.Logger | None = None):
        self.model = model
        self.config = config
        self._log = log or logging.getLogger("owss_ros.engine")
        try:
            model.check_scoring(scoring)
        except ValueError as error:
            raise StartupError(f"refusing to start: {error}") from error
        if config.cpu_threads > 0:
            torch.set_num_threads(config.cpu_threads)
        self._registry = self._open_class_store()  # before the backend: a bad store fails fast
        self._make_mask_directory()
        self._backend = self._create_backend()
        self._backend_facts = {f"backend.{k}": str(v) for k, v in self._backend.describe().items()}
        self._state_lock = threading.Lock()
        self._snapshot = ScoringSnapshot.compose(self._registry.current, scoring, overlay_alpha)
        self._ring = FrameRingBuffer(config.ring_buffer_size, config.ring_buffer_max_bytes, config.ring_buffer_seconds,
                                     config.pinned_frames, config.pinned_frame_timeout_s)
        self._mailbox = FrameMailbox()
        self._latencies = StageLatencies(config.statistics_window)
        self._counts = {"frames_processed": 0, "frames_rejected": 0, "frames_skipped_no_subscribers": 0,
                        "inference_errors": 0, "frames_lost_before_node": 0}
        self._lost_in_period = 0
        self._closing = False
        self._rejections_in_period: list[str] = []
        self._count_lock = threading.Lock()  # counters are bumped from the camera and the worker threads
        self._warned_at: dict[str, float] = {}
        self._worker: InferenceWorker | None = None
        self._wanted: Callable[[], Collection[str]] = lambda: OUTPUTS
        self._deliver: Callable[[FrameOutputs], None] = lambda outputs: None
        self.class_listeners: list[Callable[[ClassSet], None]] = []  # called after every committed change

    # ------------------------------------------------------------------ set-up
    def _open_class_store(self) -> ClassRegistry:
        c = self.config
        store = Path(c.class_store_path).expanduser().resolve() if c.class_store_path else None
        try:
            registry, line = ClassRegistry.open(base_class_set(self.model.spec.class_names, c.max_novel_classes),
                                                store, self.model.fingerprint, c.class_store_on_error)
        except Exception as error:  # noqa: BLE001 - ClassStoreError and OSError alike
            raise StartupError(
                f"refusing to start: {error}. The file was left untouched. Fix or move it, or set "
                "class_store_on_error: base_only to start with the base classes only.") from error
        (self._log.error if registry.persistence_error else self._log.info)(line)
        return registry

    def _make_mask_directory(self) -> None:
        if not self.config.mask_directory:
            return
        path = Path(os.path.expanduser(self.config.mask_directory))
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StartupError(f"cannot create the mask directory {path} (parameter mask_directory): {error}; "
                               "set another directory, or \"\" to disable mask_paths") from error
        if path.is_dir():
            self._log.info(f"mask directory: {path.resolve()}")

    def _create_backend(self) -> InferenceBackend:
        return build_backend(self.model.model_path, self.config)

    # ------------------------------------------------------------------ state
    @property
    def class_set(self) -> ClassSet:
        return self._snapshot.class_set

    @property
    def scoring(self) -> ScoringConfig:
        return self._snapshot.config

    @property
    def backend_description(self) -> dict:
        return self._backend.describe()

    @property
    def store_path(self) -> Path | None:
        return self._registry.store_path

    # ------------------------------------------------------------------ the frame path
    def start(self, wanted: Callable[[], Collection[str]], deliver: Callable[[FrameOutputs], None]) -> None:
        """Start the worker: each submitted frame is processed for ``wanted()`` and handed to ``deliver``."""
        self._wanted, self._deliver = wanted, deliver
        self._worker = InferenceWorker(self._mailbox, self._on_posted, self._report_worker_error)
        self._worker.start()

    def submit(self, frame: Frame) -> bool:
        """A new camera frame (never blocks): checked from its header, buffered for teaching, and the
        newest one is processed. False when it is refused (counted, never buffered)."""
        try:
            self._check_frame_size(frame.size())
        except FrameRejectedError as error:
            self._reject(str(error))
            return False
        self._ring.append(frame.stamp_ns, frame, frame.nbytes)
        self._mailbox.post_frame(frame)
        return True

    def _check_frame_size(self, camera_hw: tuple[int, int]) -> None:
        h, w = camera_hw
        if h <= 0 or w <= 0:
            raise FrameRejectedError(f"zero-sized image {w}x{h}")
        if h * w > self.config.max_image_pixels:
            raise FrameRejectedError(f"image {w}x{h} has {h * w} pixels, more than max_image_pixels "
                                     f"{self.config.max_image_pixels}")

    def snapshot_newest(self) -> tuple[int, tuple[int, int]]:
        """Pin the newest buffered frame for teaching: ``(stamp_ns, (H, W))``. It stays findable by its
        stamp beyond the ring until a class is taught from it or ``pinned_frame_timeout_s`` passes.
        Raises FrameNotBufferedError when no frame is buffered."""
        stamp_ns, frame = self._ring.pin_newest()
        return stamp_ns, tuple(frame.size())

    def buffered_frame(self, stamp_ns: int) -> np.ndarray:
        """The (H, W, 3) RGB pixels of a buffered or pinned frame (exact stamp)."""
        try:
            return self._ring.find(int(stamp_ns)).decode()
        except FrameRejectedError as error:
            raise TeachingError(f"the frame at {stamp_ns} ns cannot be decoded: {error}") from error

    def pinned_frame_count(self) -> int:
        return len(self._ring.pinned_stamps())

    def _on_posted(self, posted: PostedFrame) -> None:
        started = time.monotonic()
        outputs = self.process(posted.frame, self._wanted())
        if outputs is None or self._closing:
            return
        delivering = time.monotonic()
        self._deliver(outputs)
        done = time.monotonic()
        self._latencies.record({"queue_wait": 1e3 * (started - posted.received_at),
                                "publish": 1e3 * (done - delivering), "total": 1e3 * (done - posted.received_at)})

    def process(self, frame: Frame, wanted: Collection[str]) -> FrameOutputs | None:
        """One frame -> the ``wanted`` outputs (see :data:`OUTPUTS`); None when nothing is wanted or the
        frame is refused (counted, with the reason in :meth:`health`)."""
        wanted = set(wanted)
        maps_wanted = bool(wanted & set(MAP_OUTPUTS))
        if not maps_wanted and "camera_info" not in wanted:
            self._counts["frames_skipped_no_subscribers"] += 1
            return None
        started = time.monotonic()
        try:
            pixels = frame.decode() if maps_wanted else None
            output_hw = None if maps_wanted else self._output_size(frame.size())
        except FrameRejectedError as error:
            self._reject(str(error))
            return None
        timings = {"decode": 1e3 * (time.monotonic() - started)}
        outputs = FrameOutputs(frame, output_hw)
        if pixels is not None:
            snapshot = self._snapshot
            result = self._backend.infer(pixels, snapshot.inputs)
            timings.update(result.timings_ms)
            outputs.output_hw = tuple(result.open_labels.shape)
            outputs.close_labels = result.close_labels if "labels" in wanted else None
            outputs.anomaly = result.anomaly if "anomaly" in wanted else None
            outputs.open_labels = result.open_labels if "open_set" in wanted or "overlay" in wanted else None
            if "overlay" in wanted:
                render_start = time.monotonic()
                outputs.overlay = render_overlay(_overlay_frame(pixels, result), result.open_labels,
                                                 snapshot.palette, snapshot.overlay_alpha)
                timings["overlay"] = 1e3 * (time.monotonic() - render_start)
        outputs.timings_ms = timings
        self._latencies.record(timings)
        self._counts["frames_processed"] += 1
        return outputs

    def _output_size(self, camera_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the maps a frame of ``camera_hw`` gives."""
        if camera_hw[0] <= 0 or camera_hw[1] <= 0:
            raise FrameRejectedError(f"zero-sized image {camera_hw[1]}x{camera_hw[0]}")
        if self.config.output_resolution == "camera":
            return tuple(camera_hw)
        return FrameGeometry.fit(tuple(camera_hw), self.config.input_hw).scaled_hw

    def count_lost(self, lost: int, where: str = "") -> None:
        """Frames the transport lost before they reached the caller (e.g. a DDS message_lost event)."""
        if lost <= 0:
            return
        with self._count_lock:
            self._counts["frames_lost_before_node"] += int(lost)
            self._lost_in_period += int(lost)
        self._warn_throttled(f"camera frames are lost before they reach the node{where}: large best-effort "
                             "images need the Fast DDS large-image profile (config/fastdds_large_images.xml) "
                             "in the camera's and the node's environment, or image_qos_reliability: reliable")

    def _reject(self, reason: str) -> None:
        with self._count_lock:
            self._counts["frames_rejected"] += 1
            self._rejections_in_period.append(reason)
            del self._rejections_in_period[:-100]
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
        (self._log.error if error else self._log.warning)(text)

    # ------------------------------------------------------------------ classes
    def teach(self, name: str, frames: Sequence[np.ndarray | int], masks: Sequence[np.ndarray | str],
              lambda_novel: float | None = None) -> TeachResult:
        """Add class ``name`` by NPM (Eq. 11) from shots: the i-th mask (an (H, W) uint8 array, or a PNG
        path inside ``mask_directory``) drawn on the i-th frame (an (H, W, 3) uint8 RGB array, or the
        stamp in ns of a buffered or pinned frame, 0 = the newest). Raises one of :data:`REQUEST_ERRORS`.

        The rules of :mod:`owss_ros.core.class_names` apply: the class name rule, at least
        MIN_MASK_PIXELS pixels per shot at model resolution, and a prototype that is not (nearly)
        one already taught."""
        name = check_new_class_name_in(self._registry.current, name)
        check_free_slot(self._registry.current)
        if lambda_novel is not None and not (math.isfinite(lambda_novel) and lambda_novel > 0):
            raise TeachingError(f"lambda_novel must be a finite number > 0, got {lambda_novel}")
        shots, buffered_stamps = self._shots(frames, masks)
        input_masks = []
        for shot in shots:
            geometry = FrameGeometry.fit(shot.frame.shape[:2], self.config.input_hw)
            scaled_mask = mask_on_scaled_frame(shot.mask, geometry, shot.label)
            check_mask_pixels(scaled_mask.sum(), shot.label, resolution_hw=geometry.scaled_hw)
            input_masks.append(mask_on_model_input(scaled_mask, geometry))
        # the network alone per shot, SHOTS_PER_JOB shots per worker job: a job fits in the gap between
        # two camera frames, and the worker alternates jobs and frames; the masks are pooled onto the
        # feature grid (Eq. 11 without upsampling any embedding)
        embeddings = []
        for first in range(0, len(shots), SHOTS_PER_JOB):
            embeddings += self._on_worker(lambda batch=shots[first:first + SHOTS_PER_JOB]: self._embed(batch))
        prototype, pixels = prototype_from_embeddings(embeddings, input_masks)
        if not np.isfinite(prototype).all():
            raise TeachingError("the prototype is not finite (the model produced NaN)")
        background = self._background(embeddings, input_masks)

        guard = self.model.known_pixels
        if lambda_novel is None and guard is not None:  # the operator gave no radius: cap the node's by the guard
            lambda_novel, _ = guard.bounded_lambda(self._snapshot.config.lambda_novel, torch.from_numpy(prototype))

        def add(current: ClassSet):  # under the registry's lock: the rules see every committed change
            check_new_class_name_in(current, name)
            check_distinct_prototype_in(current, prototype, name)
            nearest = nearest_prototype(current, prototype, self.model.spec.temperature)
            new_set, entry = current.with_novel(name, prototype, lambda_novel=lambda_novel, pixels=pixels,
                                                shots=len(shots), background=background)
            return new_set, (entry, nearest)

        entry, (nearest_name, nearest_distance) = self._registry.change(add, self._class_set_committed)
        self._ring.release(buffered_stamps)
        result = TeachResult(entry, len(shots), pixels, lambda_novel, nearest_name, nearest_distance)
        self._log.info(result.message)
        return result

    def _background(self, embeddings: list[np.ndarray], input_masks: list[np.ndarray]) -> np.ndarray:
        """(J, C) background prototypes of the shots (beyond the paper, core.npm.background_prototypes):
        the cells the current scoring flags unknown outside the masks."""
        features = torch.from_numpy(np.stack(embeddings))
        unknown = unknown_cells(features, self._snapshot.config)
        masks = torch.from_numpy(np.stack(input_masks))
        return background_prototypes(features, masks, unknown, self.config.background_prototypes).numpy()

    def _embed(self, shots) -> list[np.ndarray]:
        """(C, h, w) float32 feature-resolution embeddings of the shots' frames (on the worker thread)."""
        return [self._backend.embed_features(shot.frame)[0][0].float().cpu().numpy() for shot in shots]

    def _shots(self, frames: Sequence[np.ndarray | int],
               masks: Sequence[np.ndarray | str]) -> tuple[list[TeachingShot], list[int]]:
        """The shots, and the stamps of the buffered frames they use."""
        if len(frames) != len(masks):
            raise TeachingError(f"{len(masks)} masks for {len(frames)} frames: the i-th mask belongs to the i-th "
                                "frame, so the counts must be equal")
        if not frames:
            raise TeachingError("no shots: give at least one frame and its mask")
        if len(frames) > self.config.max_shots:
            raise TeachingError(f"{len(frames)} shots; at most max_shots {self.config.max_shots}")
        shots, buffered_stamps = [], []
        for i, (frame, mask) in enumerate(zip(frames, masks)):
            if isinstance(mask, str):
                label = f"shot {i} (mask_paths[{i}] {mask!r})"
                mask = read_mask_png(resolve_mask_path(self.config.mask_directory, mask),
                                     self.config.max_image_pixels)
            else:
                label = f"shot {i}"
                if mask.size > self.config.max_image_pixels:
                    raise TeachingError(f"{label}: the mask is larger than max_image_pixels")
            if not isinstance(frame, np.ndarray):
                buffered = self._ring.find(int(frame), int(round(self.config.stamp_tolerance_s * 1e9)))
                buffered_stamps.append(buffered.stamp_ns)
                try:
                    frame = buffered.decode()
                except FrameRejectedError as error:
                    raise TeachingError(f"{label}: frame refused: {error}") from error
            elif frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise TeachingError(f"{label}: a frame must be (H, W, 3) uint8 RGB, got {frame.dtype} {frame.shape}")
            shots.append(TeachingShot(frame, mask, label))
        return shots, buffered_stamps

    def export_class(self, name: str) -> bytes:
        """The taught class ``name`` as an exported-class document (see :mod:`owss_ros.core.class_store`)
        for another engine running the same model."""
        entry = self._registry.current.find(name)
        if entry is None:
            raise TeachingError(f"no class {name!r}")
        if entry.origin is ClassOrigin.BASE:
            raise TeachingError(f"{entry.name!r} is a base class of the model; only taught classes can be exported")
        return encode_taught_class(entry, self.model.fingerprint)

    def import_class(self, document: bytes | str, name: str = "") -> ClassEntry:
        """Add a class exported by :meth:`export_class` of an engine with the same model (optionally
        under another ``name``); the teaching rules apply, and a document for another model is refused."""
        exported = decode_taught_class(document, "class_json", expected_fingerprint=self.model.fingerprint)
        entry = self._registry.change(lambda current: with_imported(current, exported, name),
                                      self._class_set_committed)
        self._log.info(f"imported class {entry.class_id} {entry.name!r} (exported as {exported.name!r}, "
                       f"{exported.pixels} pixels, {exported.shots} shot(s))")
        return entry

    def forget(self, key: str | int) -> ClassEntry:
        """Remove a class by name or id (255 is unknown, never a class). Raises one of :data:`REQUEST_ERRORS`."""
        if key == UNKNOWN_ID:
            raise TeachingError("give class_name, or class_id of a class (255 is unknown, never a class)")
        removed = self._registry.change(lambda current: current.without(key), self._class_set_committed)
        self._log.info(f"removed class {removed.class_id} {removed.name!r}")
        return removed

    def _class_set_committed(self, class_set: ClassSet) -> None:
        with self._state_lock:
            s = self._snapshot
            self._snapshot = ScoringSnapshot.compose(class_set, s.config, s.overlay_alpha)
        for listener in self.class_listeners:
            listener(class_set)

    def _on_worker(self, job):
        if self._worker is None:  # synchronous engine
            return job()
        return self._mailbox.post_job(job).result(timeout=EMBED_TIMEOUT_S)

    # ------------------------------------------------------------------ scoring
    def check_scoring(self, config: ScoringConfig) -> None:
        """ValueError when ``config`` may not be used (the calibration's rule)."""
        self.model.check_scoring(config)

    def set_scoring(self, config: ScoringConfig, overlay_alpha: float | None = None) -> None:
        """Score from the next frame with ``config`` (and draw with ``overlay_alpha``); ValueError leaves
        everything as it was."""
        self.check_scoring(config)
        with self._state_lock:
            s = self._snapshot
            alpha = s.overlay_alpha if overlay_alpha is None else overlay_alpha
            self._snapshot = ScoringSnapshot.compose(s.class_set, config, alpha)
        for listener in self.class_listeners:
            listener(self._snapshot.class_set)

    # ------------------------------------------------------------------ health
    def health(self) -> Health:
        """Counters, latency percentiles, facts, errors and warnings since the last call."""
        snapshot = self._snapshot
        counters = {"frames_received": self._mailbox.counters.received,
                    "frames_dropped": self._mailbox.counters.dropped, **self._counts,
                    "classes": len(snapshot.class_set.entries),
                    "novel_classes": len(snapshot.class_set.novel_entries),
                    "frames_buffered": len(self._ring), "frames_buffered_bytes": self._ring.nbytes,
                    "frames_pinned": self.pinned_frame_count()}
        with self._count_lock:
            rejections, self._rejections_in_period = self._rejections_in_period, []
            lost, self._lost_in_period = self._lost_in_period, 0
            counters.update(self._counts)
        warnings = [f"{len(rejections)} frame(s) rejected, last: {rejections[-1]}"] if rejections else []
        if lost:
            warnings.append(f"{lost} camera frame(s) lost before the node (transport; see frames_lost_before_node)")
        facts = {**self._backend_facts, "model_path": str(self.model.model_path),
                 "model_fingerprint": self.model.fingerprint, "calibration": self.model.calibration_source,
                 "class_store_path": str(self._registry.store_path or "")}
        errors = [self._registry.persistence_error] if self._registry.persistence_error else []
        return Health(counters, self._latencies.percentiles(), facts, errors, warnings)

    def close(self) -> None:
        """Stop delivering outputs, then stop the worker (waits for the frame in progress)."""
        self._closing = True
        if self._worker is not None:
            self._worker.stop()


def _overlay_frame(pixels: np.ndarray, result) -> np.ndarray:
    """The picture under the overlay, at the maps' size: the camera frame (camera resolution), or the
    frame as the backend already scaled it into the model input - never resized a second time."""
    return pixels if pixels.shape[:2] == result.open_labels.shape else result.scaled_frame
