"""On-disk cache of TensorRT engines, keyed by everything that makes an engine valid.

An engine is only valid for the exact graph, TensorRT version and GPU it was built on, and
reflects the build options. The key is the sha256 of a canonical JSON of:
  * sha256 of the ONNX bytes (deterministic export, so this identifies weights + options),
  * TensorRT version, GPU name, compute capability (:class:`BuildEnvironment`),
  * precision, optimisation-profile shapes and workspace limit (:class:`EngineBuildOptions`),
  * the build recipe chosen for this TensorRT and its version (``tensorrt_compat.RECIPE_VERSION``),
    so a change of how engines are built never reuses an engine built the old way.

Layout: ``<dir>/<key>.engine`` (the serialized engine) and ``<dir>/<key>.json`` (the key
components, the engine's sha256, the build time). Both are written atomically (temp + fsync +
rename), the record first; an entry counts only when both exist and the engine's sha256
matches, so a crash at any point leaves no engine under a final name that could be loaded.

Two processes that need the same missing engine (a node and ``owss_ros build-engine``, two
nodes) do not both build it: the build runs under an inter-process file lock
(``<dir>/<key>.lock``, the ``filelock`` package), and the process that waited finds the
finished entry. The TensorRT timing cache lives beside the engines
(``<dir>/timing-<environment>.cache``, see :meth:`EngineCache.timing_cache_path`), so a rebuild
for another K or image size reuses the kernel timings measured before.

Building takes from seconds to many minutes (Jetson); :meth:`EngineCache.get_or_build` logs
what it builds and how long the last build on this GPU took *before* it starts, so a node
never blocks silently. The builder itself is injected (``build_fn(onnx_path, options) ->
bytes``), which keeps this module free of TensorRT and unit-testable without a GPU.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout

from owss_ros.backends.tensorrt_compat import RECIPE_VERSION
from owss_ros.core.atomic_file import atomic_write_bytes, remove_stale_temporaries
from owss_ros.core.checkpoint import file_fingerprint
from owss_ros.core.npm import DEFAULT_GRAPH_SLOTS

log = logging.getLogger(__name__)

PRECISIONS = ("fp16", "fp32")
DEFAULT_WORKSPACE_BYTES = 1 << 30
KEY_SCHEMA = 2

HW = tuple[int, int]


@dataclass(frozen=True)
class ImageProfile:
    """Optimisation-profile range of the image height/width (min, opt, max)."""

    min_hw: HW
    opt_hw: HW
    max_hw: HW

    @classmethod
    def fixed(cls, hw: HW) -> "ImageProfile":
        hw = (int(hw[0]), int(hw[1]))
        return cls(hw, hw, hw)

    def __post_init__(self) -> None:
        for a, b in ((self.min_hw, self.opt_hw), (self.opt_hw, self.max_hw)):
            if not (0 < a[0] <= b[0] and 0 < a[1] <= b[1]):
                raise ValueError(f"image profile must satisfy 0 < min <= opt <= max, got {self}")


@dataclass(frozen=True)
class EngineBuildOptions:
    precision: str = "fp16"
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES
    max_prototypes: int = DEFAULT_GRAPH_SLOTS  # K range of the profile: 1..max_prototypes
    opt_prototypes: int | None = None  # the K TensorRT tunes for; None = max_prototypes
    image: ImageProfile | None = None  # None: the ONNX has a fixed image size

    def __post_init__(self) -> None:
        if self.opt_prototypes is None:
            object.__setattr__(self, "opt_prototypes", self.max_prototypes)
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if not 1 <= self.opt_prototypes <= self.max_prototypes:
            raise ValueError(f"need 1 <= opt_prototypes ({self.opt_prototypes}) <= max_prototypes "
                             f"({self.max_prototypes})")
        if self.workspace_bytes <= 0:
            raise ValueError(f"workspace_bytes must be > 0, got {self.workspace_bytes}")

    def describe(self) -> str:
        image = "fixed by the ONNX" if self.image is None else \
            f"{self.image.min_hw}..{self.image.max_hw} (opt {self.image.opt_hw})"
        return (f"{self.precision.upper()}, K 1..{self.max_prototypes} (opt {self.opt_prototypes}), image {image}, "
                f"workspace {self.workspace_bytes / 2**20:.0f} MiB")


@dataclass(frozen=True)
class BuildEnvironment:
    tensorrt_version: str
    gpu_name: str
    compute_capability: str  # e.g. "8.7"
    recipe: str = ""  # tensorrt_compat.BuildRecipe.name chosen for this TensorRT and precision


@dataclass(frozen=True)
class CachedEngine:
    path: Path
    key: str
    built: bool  # False when reused from the cache
    build_seconds: float | None
    components: dict = field(default_factory=dict)


def key_components(onnx_sha256: str, environment: BuildEnvironment, options: EngineBuildOptions) -> dict:
    return {"schema": KEY_SCHEMA, "recipe_version": RECIPE_VERSION, "onnx_sha256": onnx_sha256,
            "environment": asdict(environment), "options": asdict(options)}


def engine_cache_key(onnx_sha256: str, environment: BuildEnvironment, options: EngineBuildOptions) -> str:
    canonical = json.dumps(key_components(onnx_sha256, environment, options), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


BuildFn = Callable[[Path, EngineBuildOptions], bytes]


def read_engine_record(engine_path: str | Path) -> dict | None:
    """The cache record beside ``<key>.engine`` (``<key>.json``), or None when absent/unreadable."""
    record = Path(engine_path).with_suffix(".json")
    try:
        return json.loads(record.read_text())
    except (OSError, ValueError):
        return None


def options_from_record(record: dict) -> EngineBuildOptions:
    """The :class:`EngineBuildOptions` an engine was built with, from its cache record."""
    values = dict(record["components"]["options"])
    image = values.get("image")
    if image is not None:
        values["image"] = ImageProfile(*(tuple(image[k]) for k in ("min_hw", "opt_hw", "max_hw")))
    return EngineBuildOptions(**values)


class EngineCache:
    def __init__(self, directory: str | Path, lock_poll_seconds: float = 0.5):
        self.directory = Path(directory)
        self.lock_poll_seconds = lock_poll_seconds

    def lock_path(self, key: str) -> Path:
        return self.directory / f"{key}.lock"

    def timing_cache_path(self, environment: BuildEnvironment) -> Path:
        """One TensorRT timing cache per TensorRT version and GPU (shared by all engines there)."""
        canonical = json.dumps([environment.tensorrt_version, environment.gpu_name, environment.compute_capability])
        return self.directory / f"timing-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}.cache"

    def engine_path(self, key: str) -> Path:
        return self.directory / f"{key}.engine"

    def record_path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def lookup(self, key: str) -> Path | None:
        """The engine for ``key`` if a complete, intact entry exists."""
        engine, record = self.engine_path(key), self.record_path(key)
        if not (engine.is_file() and record.is_file()):
            return None
        try:
            expected = json.loads(record.read_text())["engine_sha256"]
        except (ValueError, KeyError) as error:
            log.warning("ignoring unreadable engine cache record %s (%s)", record, error)
            return None
        if file_fingerprint(engine) != expected:
            log.warning("cached engine %s does not match its record (corrupted); it will be rebuilt", engine)
            return None
        return engine

    def last_build_seconds(self, environment: BuildEnvironment) -> float | None:
        """How long the most recent build on the same GPU took (a build-time estimate)."""
        latest = None
        for record in self.directory.glob("*.json"):
            try:
                data = json.loads(record.read_text())
                if data["components"]["environment"]["gpu_name"] != environment.gpu_name:
                    continue
                if latest is None or data["created_unix"] > latest["created_unix"]:
                    latest = data
            except (ValueError, KeyError, TypeError):
                continue
        return None if latest is None else float(latest["build_seconds"])

    def get_or_build(self, onnx_path: str | Path, environment: BuildEnvironment, options: EngineBuildOptions,
                     build_fn: BuildFn) -> CachedEngine:
        onnx_path = Path(onnx_path)
        components = key_components(file_fingerprint(onnx_path), environment, options)
        key = engine_cache_key(components["onnx_sha256"], environment, options)
        cached = self.lookup(key)
        if cached is not None:
            log.info("using cached TensorRT engine %s", cached)
            return CachedEngine(cached, key, False, None, components)
        self.directory.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.lock_path(key)))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.warning("another process is building the TensorRT engine %s; waiting for it (lock %s)", key[:16],
                        self.lock_path(key))
            lock.acquire(poll_interval=self.lock_poll_seconds)
        try:
            cached = self.lookup(key)  # built by the process we waited for
            if cached is not None:
                log.info("using TensorRT engine %s, built by another process meanwhile", cached)
                return CachedEngine(cached, key, False, None, components)
            return self._build(onnx_path, key, components, environment, options, build_fn)
        finally:
            lock.release()

    def _build(self, onnx_path: Path, key: str, components: dict, environment: BuildEnvironment,
               options: EngineBuildOptions, build_fn: BuildFn) -> CachedEngine:
        remove_stale_temporaries(self.directory)
        previous = self.last_build_seconds(environment)
        estimate = (f"the last build on this GPU took {previous:.0f} s" if previous is not None else
                    "expect about 1-3 min on a desktop GPU and 5-20 min on a Jetson")
        log.warning("building a TensorRT engine for %s on %s (TensorRT %s; %s); %s. Nothing is served until it "
                    "finishes; pre-build with `owss_ros build-engine` to avoid this at start-up.",
                    onnx_path.name, environment.gpu_name, environment.tensorrt_version, options.describe(), estimate)
        start = time.perf_counter()
        engine_bytes = build_fn(onnx_path, options)
        seconds = time.perf_counter() - start
        if not engine_bytes:
            raise RuntimeError(f"TensorRT returned an empty engine for {onnx_path}")
        record = {"components": components, "engine_sha256": hashlib.sha256(engine_bytes).hexdigest(),
                  "build_seconds": seconds, "created_unix": time.time(), "onnx_path": str(onnx_path)}
        # record first: an engine under its final name always has its record already
        atomic_write_bytes(self.record_path(key), json.dumps(record, indent=1, sort_keys=True).encode())
        engine = atomic_write_bytes(self.engine_path(key), bytes(engine_bytes))
        log.warning("built TensorRT engine %s in %.1f s (%.1f MB)", engine, seconds, len(engine_bytes) / 1e6)
        return CachedEngine(engine, key, True, seconds, components)
