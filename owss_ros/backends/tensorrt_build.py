"""Building a TensorRT engine from the exported ONNX graph (TensorRT 10.x and 11.x).

``tensorrt`` is imported only inside these functions, so this module imports anywhere; where
TensorRT or a CUDA GPU is missing, :class:`TensorRTUnavailableError` says what to do. What
the installed TensorRT offers is probed, never assumed (:mod:`.tensorrt_compat`): TensorRT 11
removed the weak-typing API (``BuilderFlag.FP16``, precision constraints, ``layer.precision``,
``set_output_type``, ``platform_has_fast_fp16``) that 10.x still has.

Build recipe (:func:`~owss_ros.backends.tensorrt_compat.choose_recipe`):
  * FP32: the exported graph (strongly typed on >= 10.12, where NVIDIA recommends it);
  * FP16 on 11.x and >= 10.12: the strongly-typed route. The network body is converted to
    half precision inside the ONNX (:mod:`.onnx_fp16`), scoring stays fp32 there, and the
    network is created ``STRONGLY_TYPED``, so TensorRT runs exactly those types;
  * FP16 on 10.0-10.11 (Jetson): ``BuilderFlag.FP16`` and every scoring layer (each layer
    outside the network body with a float input or output: distances, softmax, sums,
    thresholds, ArgMin, comparisons) constrained to FP32 with OBEY_PRECISION_CONSTRAINTS,
    because the distance sum (Eq. 7) and the 1e30 "unused slot" distance overflow FP16.
Common to all: one optimisation profile (K in [1, K_max], opt K = what the node feeds; the
image range for a dynamic ONNX), a workspace limit, detailed profiling verbosity (so
:func:`engine_layer_information` can show each layer's precision), a timing cache persisted
beside the engine cache, and everything on CUDA device ``device_index``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from owss_ros.backends.engine_cache import BuildEnvironment, EngineBuildOptions
from owss_ros.backends.onnx_metadata import GraphInfo
from owss_ros.backends.tensorrt_compat import (
    BuildRecipe,
    TensorRTCapabilities,
    UnsupportedTensorRTError,
    choose_recipe,
    probe_capabilities,
)

log = logging.getLogger(__name__)

# ONNX node-name prefixes of the FramePipeline network body (the part allowed to run in FP16).
FP16_LAYER_PREFIXES = ("/model/",)
BOUNDARY_CAST_SUFFIXES = ("__cast_fp16", "__cast_fp32", "__cast_out")  # node names given by onnx_fp16


class TensorRTUnavailableError(RuntimeError):
    """TensorRT cannot run here (package missing or unsupported, or no CUDA GPU)."""


def import_tensorrt():
    """The ``tensorrt`` module, checked to be a real, supported TensorRT (10.x / 11.x)."""
    try:
        import tensorrt as trt
    except ImportError as error:
        raise TensorRTUnavailableError(
            f"TensorRT not installed: the `tensorrt` Python package cannot be imported ({error}). Install TensorRT "
            "from JetPack (Jetson), an NVIDIA TensorRT / PyTorch container, or `pip install tensorrt` (it pulls "
            "its libraries from NVIDIA's index), or use backend 'onnxruntime' (CPU, or CUDA with "
            "onnxruntime-gpu).") from error
    try:
        caps = probe_capabilities(trt)
    except ValueError as error:
        raise TensorRTUnavailableError(f"TensorRT not installed properly: {error}") from error
    if not caps.supported:
        raise TensorRTUnavailableError(f"TensorRT {caps.version} is not supported (this code supports 10.x and "
                                       "11.x); upgrade TensorRT or use backend 'onnxruntime'")
    return trt


def require_cuda_gpu(device_index: int = 0) -> None:
    import torch

    if not torch.cuda.is_available():
        raise TensorRTUnavailableError(
            f"no CUDA GPU: torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda or 'none - a CPU-only build'}). TensorRT needs an NVIDIA GPU, its driver and a "
            "CUDA build of PyTorch (used for device buffers); or use backend 'onnxruntime'.")
    if not 0 <= device_index < torch.cuda.device_count():
        raise TensorRTUnavailableError(f"CUDA device {device_index} requested; {torch.cuda.device_count()} visible")


def tensorrt_availability(device_index: int = 0) -> tuple[bool, str]:
    """(usable, reason) without raising: for 'auto' choices and benchmark skip lists."""
    try:
        trt = import_tensorrt()
        require_cuda_gpu(device_index)
    except TensorRTUnavailableError as error:
        return False, str(error)
    return True, f"TensorRT {trt.__version__}"


def tensorrt_capabilities() -> TensorRTCapabilities:
    return probe_capabilities(import_tensorrt())


def recipe_for(precision: str) -> BuildRecipe:
    """The build recipe the installed TensorRT gets for ``precision`` (raises when there is none)."""
    try:
        return choose_recipe(tensorrt_capabilities(), precision)
    except UnsupportedTensorRTError as error:
        raise TensorRTUnavailableError(str(error)) from error


def current_build_environment(device_index: int = 0, precision: str | None = None) -> BuildEnvironment:
    """TensorRT version, GPU and, for ``precision``, the build recipe: what an engine is valid for."""
    import torch

    trt = import_tensorrt()
    require_cuda_gpu(device_index)
    major, minor = torch.cuda.get_device_capability(device_index)
    recipe = recipe_for(precision).name if precision else ""
    return BuildEnvironment(trt.__version__, torch.cuda.get_device_name(device_index), f"{major}.{minor}", recipe)


def profile_shapes(info: GraphInfo, options: EngineBuildOptions) -> dict[str, tuple[tuple, tuple, tuple]]:
    """(min, opt, max) shape per input for the optimisation profile."""
    c, k_opt, k_max = info.embedding_dim, options.opt_prototypes, options.max_prototypes
    if k_max > info.max_prototypes:
        raise ValueError(f"engine K_max {k_max} exceeds the ONNX export's {info.max_prototypes}")
    if info.input_hw is not None:
        image = tuple((1, *info.input_hw, 3) for _ in range(3))
    elif options.image is None:
        raise ValueError("the ONNX has a dynamic image size: the engine needs an image profile (input size)")
    else:
        image = tuple((1, *hw, 3) for hw in (options.image.min_hw, options.image.opt_hw, options.image.max_hw))
    return {
        "image": image,
        "novel_prototypes": ((1, c), (k_opt, c), (k_max, c)),
        "novel_thresholds": ((1,), (k_opt,), (k_max,)),
        "novel_valid": ((1,), (k_opt,), (k_max,)),
        "score_params": tuple((len(info.param_names),) for _ in range(3)),
    }


def network_creation_flags(trt, caps: TensorRTCapabilities, recipe: BuildRecipe) -> int:
    flags = 0
    if caps.major < 10 and caps.has_explicit_batch_flag:  # ignored (deprecated) from 10.0 on
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    if recipe.strongly_typed and caps.has_strongly_typed_flag:  # required on 10.x, accepted and ignored on 11
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    return flags


def onnx_bytes_for_recipe(onnx_path: Path, recipe: BuildRecipe) -> bytes:
    """The graph TensorRT parses: as exported, or with the fp16 network body (strong FP16)."""
    if not recipe.fp16_body_onnx:
        return onnx_path.read_bytes()
    import onnx

    from owss_ros.backends.onnx_fp16 import convert_body_to_fp16

    return convert_body_to_fp16(onnx.load(str(onnx_path)), FP16_LAYER_PREFIXES).SerializeToString()


def _parse_onnx(trt, builder, logger, onnx_path: Path, flags: int, model_bytes: bytes):
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model_bytes, str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    return network, parser


def is_body_layer(name: str, prefixes: tuple[str, ...] = FP16_LAYER_PREFIXES) -> bool:
    return name.startswith(prefixes)


def keep_scoring_in_fp32(trt, network, prefixes: tuple[str, ...] = FP16_LAYER_PREFIXES) -> list[str]:
    """Weak-typing FP16 (10.x): constrain every layer outside the body that reads or writes a
    float tensor to FP32 compute (and its float outputs to FP32). Non-float layers that consume
    floats (ArgMin/TopK, comparisons, casts) are constrained too: their *inputs* are then FP32.
    Returns the constrained layer names."""
    floats = {trt.float32, trt.float16}
    constrained = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if is_body_layer(layer.name, prefixes) or layer.type == trt.LayerType.CONSTANT:
            continue
        inputs = [layer.get_input(j) for j in range(layer.num_inputs)]
        outputs = [layer.get_output(j) for j in range(layer.num_outputs)]
        if not any(t is not None and t.dtype in floats for t in inputs + outputs):
            continue
        layer.precision = trt.float32
        for j, out in enumerate(outputs):
            if out.dtype in floats:
                layer.set_output_type(j, trt.float32)
        constrained.append(layer.name)
    return constrained


def _apply_weak_fp16(trt, caps: TensorRTCapabilities, builder, config, network) -> None:
    if caps.has_platform_has_fast_fp16 and not builder.platform_has_fast_fp16:
        log.warning("this GPU has no fast FP16; building FP16 anyway (consider --fp32)")
    config.set_flag(trt.BuilderFlag.FP16)
    strict = caps.has_obey_constraints
    config.set_flag(trt.BuilderFlag.OBEY_PRECISION_CONSTRAINTS if strict else trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
    constrained = keep_scoring_in_fp32(trt, network)
    log.info("FP16 build (weakly typed): %d scoring layers %s FP32", len(constrained),
             "constrained to" if strict else "preferring")


def _progress_monitor(trt, caps: TensorRTCapabilities):
    """A progress monitor that logs the builder's top-level phases, or None."""
    if not caps.has_progress_monitor:
        return None

    class LoggingProgressMonitor(trt.IProgressMonitor):
        def __init__(self):
            trt.IProgressMonitor.__init__(self)
            self._lock = threading.Lock()
            self._started: dict[str, float] = {}

        def phase_start(self, phase_name, parent_phase, num_steps):
            with self._lock:
                self._started[phase_name] = time.monotonic()
            if parent_phase is None:
                log.info("TensorRT build: %s (%d steps)", phase_name, num_steps)

        def step_complete(self, phase_name, step):
            return True  # never cancel

        def phase_finish(self, phase_name):
            with self._lock:
                started = self._started.pop(phase_name, None)
            if started is not None and time.monotonic() - started > 5.0:
                log.info("TensorRT build: %s done in %.0f s", phase_name, time.monotonic() - started)

    return LoggingProgressMonitor()


def _load_timing_cache(config, caps: TensorRTCapabilities, path: Path | None):
    if path is None or not caps.has_timing_cache:
        return None
    data = b""
    if path.is_file():
        data = path.read_bytes()
        log.info("TensorRT timing cache %s (%.0f kB)", path, len(data) / 1e3)
    cache = config.create_timing_cache(data)
    if cache is None or not config.set_timing_cache(cache, False):
        log.warning("TensorRT did not accept the timing cache %s (another TensorRT/GPU?); starting a new one", path)
        cache = config.create_timing_cache(b"")
        config.set_timing_cache(cache, False)
    return cache


def _save_timing_cache(config, path: Path | None) -> None:
    if path is None:
        return
    from owss_ros.core.atomic_file import atomic_write_bytes

    cache = config.get_timing_cache()
    if cache is not None:
        atomic_write_bytes(path, bytes(cache.serialize()))


def build_serialized_engine(onnx_path: str | Path, options: EngineBuildOptions, info: GraphInfo | None = None,
                            device_index: int = 0, timing_cache_path: str | Path | None = None,
                            recipe: BuildRecipe | None = None) -> bytes:
    """Parse ``onnx_path`` and build a serialized engine on CUDA device ``device_index``
    (blocking; seconds to minutes)."""
    import torch

    from owss_ros.backends.onnx_export import read_graph_info

    trt = import_tensorrt()
    caps = probe_capabilities(trt)
    require_cuda_gpu(device_index)
    recipe = recipe or recipe_for(options.precision)
    onnx_path = Path(onnx_path)
    info = info or read_graph_info(onnx_path)
    timing_cache_path = Path(timing_cache_path) if timing_cache_path else None
    log.info("TensorRT %s build on cuda:%d, %s", caps.version, device_index, recipe.describe())
    with torch.cuda.device(device_index):  # the builder uses the current CUDA device
        logger = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(logger)
        network, _parser = _parse_onnx(trt, builder, logger, onnx_path, network_creation_flags(trt, caps, recipe),
                                       onnx_bytes_for_recipe(onnx_path, recipe))  # the parser owns the weights
        config = builder.create_builder_config()
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_bytes))
        if caps.has_detailed_profiling:
            config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # layer precisions in the inspector
        if recipe.weak_fp16:
            _apply_weak_fp16(trt, caps, builder, config, network)
        shapes = profile_shapes(info, options)
        profile = builder.create_optimization_profile()
        for i in range(network.num_inputs):
            tensor = network.get_input(i)
            if tensor.name not in shapes:
                raise RuntimeError(f"unexpected network input {tensor.name!r} in {onnx_path}")
            if any(d < 0 for d in tuple(tensor.shape)):  # only dynamic inputs take a profile
                profile.set_shape(tensor.name, *shapes[tensor.name])
        config.add_optimization_profile(profile)
        _timing_cache = _load_timing_cache(config, caps, timing_cache_path)
        monitor = _progress_monitor(trt, caps)  # must outlive the build
        if monitor is not None:
            config.progress_monitor = monitor
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} ({options.describe()}, "
                               f"{recipe.describe()}); see the TensorRT messages above (try --fp32 or a larger "
                               "workspace)")
        _save_timing_cache(config, timing_cache_path)
    return bytes(serialized)


# -- what a built engine holds ------------------------------------------------------------

_ONNX_TO_TRT = {1: "float32", 10: "float16", 16: "bfloat16", 6: "int32", 7: "int64", 2: "uint8", 3: "int8",
                9: "bool"}  # onnx.TensorProto element type -> tensorrt DataType attribute


def onnx_io_signature(onnx_path: str | Path) -> dict[str, tuple[bool, str, tuple[int, ...]]]:
    """name -> (is_input, TensorRT dtype name, dims with -1 for dynamic) of the ONNX graph's I/O."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    signature = {}
    for is_input, values in ((True, graph.input), (False, graph.output)):
        for value in values:
            tensor_type = value.type.tensor_type
            dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tensor_type.shape.dim)
            signature[value.name] = (is_input, _ONNX_TO_TRT.get(tensor_type.elem_type, f"onnx:{tensor_type.elem_type}"), dims)
    return signature


def engine_io_mismatches(engine, trt, signature: dict, profile: dict | None) -> list[str]:
    """What differs between a deserialized engine's I/O and the ONNX it should come from:
    names, direction, dtypes, static dimensions, and (when ``profile`` is given) the
    optimisation profile 0 of each input. Empty when they agree."""
    problems = []
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    if sorted(names) != sorted(signature):
        return [f"tensors {sorted(names)}, the ONNX has {sorted(signature)}"]
    if profile is not None and engine.num_optimization_profiles < 1:
        problems.append("no optimisation profile")
    for name in names:
        is_input, dtype_name, dims = signature[name]
        if (engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT) != is_input:
            problems.append(f"{name}: {'input' if is_input else 'output'} in the ONNX, not in the engine")
        expected_dtype = getattr(trt, dtype_name, None)
        got_dtype = engine.get_tensor_dtype(name)
        if expected_dtype is None or got_dtype != expected_dtype:
            problems.append(f"{name}: dtype {got_dtype}, the ONNX has {dtype_name}")
        shape = tuple(engine.get_tensor_shape(name))
        if len(shape) != len(dims) or any(d >= 0 and s != d for s, d in zip(shape, dims)):
            problems.append(f"{name}: shape {shape}, the ONNX has {dims} (-1 = dynamic)")
        dynamic = any(d < 0 for d in dims)
        if is_input and dynamic and profile is not None and name in profile and engine.num_optimization_profiles >= 1:
            got = tuple(tuple(d) for d in engine.get_tensor_profile_shape(name, 0))
            if got != tuple(tuple(d) for d in profile[name]):
                problems.append(f"{name}: profile (min, opt, max) {got}, expected {profile[name]}")
    return problems


def check_engine_io(engine, trt, engine_path: str | Path, info: GraphInfo) -> None:
    """Raise RuntimeError unless ``engine`` matches the ONNX and options in its cache record
    (an engine without a record, e.g. copied by hand, is checked against the pipeline's names)."""
    from owss_ros.backends.engine_cache import options_from_record, read_engine_record

    record = read_engine_record(engine_path)
    onnx_path = Path(record["onnx_path"]) if record and record.get("onnx_path") else None
    if onnx_path is None or not onnx_path.is_file():
        from owss_ros.backends.pipeline import INPUT_NAMES, OUTPUT_NAMES

        names = sorted(engine.get_tensor_name(i) for i in range(engine.num_io_tensors))
        if names != sorted(INPUT_NAMES + OUTPUT_NAMES):
            raise RuntimeError(f"{engine_path} has tensors {names}, expected {sorted(INPUT_NAMES + OUTPUT_NAMES)}")
        log.warning("cannot check %s against its ONNX (no cache record or the ONNX is gone): names only",
                    engine_path)
        return
    profile = profile_shapes(info, options_from_record(record))
    problems = engine_io_mismatches(engine, trt, onnx_io_signature(onnx_path), profile)
    if problems:
        raise RuntimeError(f"TensorRT engine {engine_path} does not match {onnx_path}: " + "; ".join(problems)
                           + " (delete the engine and rebuild it with `owss_ros build-engine`)")


def engine_layer_information(engine) -> list[dict]:
    """The engine's layers as the IEngineInspector reports them (JSON; needs DETAILED verbosity
    for precisions). Empty when this TensorRT has no inspector."""
    trt = import_tensorrt()
    if not probe_capabilities(trt).has_engine_inspector:
        return []
    inspector = engine.create_engine_inspector()
    text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
    layers = json.loads(text).get("Layers", [])
    return [layer if isinstance(layer, dict) else {"Name": str(layer)} for layer in layers]


def _is_half(datatype: str) -> bool:
    upper = datatype.upper()
    return "HALF" in upper or "FP16" in upper or "FLOAT16" in upper


def half_precision_scoring_layers(layers: list[dict], prefixes: tuple[str, ...] = FP16_LAYER_PREFIXES) -> list[str]:
    """Scoring layers that compute in half precision: must be empty for an FP16 engine.

    A layer is *body* when every ONNX node name in it (fused layers join them with ' + ') is
    under ``prefixes`` or is a boundary Cast of :mod:`.onnx_fp16`. Any other layer with a
    half-precision output is flagged (unless it ends in the boundary Cast to float16), and so is a layer without any body node that reads a
    half-precision input (a layer fused across the boundary may read the body's FP16 output)."""
    found = []
    for entry in layers:
        name = str(entry.get("Name", ""))
        parts = [p.strip() for p in name.replace("||", "+").split("+") if p.strip()]
        body = [is_body_layer(p, prefixes) or p.endswith(BOUNDARY_CAST_SUFFIXES) for p in parts]
        if parts and all(body):
            continue

        def half(key: str) -> bool:
            return any(_is_half(str(t.get("Format/Datatype", ""))) for t in entry.get(key, []) if isinstance(t, dict))

        casts_to_half = any(p.endswith("__cast_fp16") for p in parts)  # e.g. normaliser + its boundary Cast
        if (half("Outputs") and not casts_to_half) or (not any(body) and half("Inputs")):
            found.append(name)
    return found
