"""Building a TensorRT engine from the exported ONNX graph (TensorRT 10 Python API; 8.6 works too).

``tensorrt`` is imported only inside these functions, so this module imports anywhere; where
TensorRT or a CUDA GPU is missing, :class:`TensorRTUnavailableError` says what to do.

Build recipe: OnnxParser into an explicit-batch network (the only kind in TensorRT 10; the
flag is passed on 8.x), a workspace memory-pool limit, FP16 by default (FP32 on request),
one optimisation profile covering K in [1, K_max] (opt = a small K) and, for a dynamic
ONNX, the image height/width range. With FP16 the scoring layers (everything after the
embedding: distances, softmax, sums, thresholds) are constrained to FP32, because the
distance sum (Eq. 7) and the 1e30 "unused slot" distance overflow FP16's range (65504);
only the network (``/model/...``) and the input normalisation run in FP16.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from owss_ros.backends.engine_cache import BuildEnvironment, EngineBuildOptions
from owss_ros.backends.onnx_metadata import GraphInfo

log = logging.getLogger(__name__)

# ONNX node-name prefixes of the FramePipeline sub-modules allowed to run in FP16.
FP16_LAYER_PREFIXES = ("/model/", "/normalizer/", "Identity")  # Identity: shared weights


class TensorRTUnavailableError(RuntimeError):
    """TensorRT cannot run here (package missing, or no CUDA GPU)."""


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError as error:
        raise TensorRTUnavailableError(
            f"TensorRT not installed: the `tensorrt` Python package cannot be imported ({error}). PyPI has only "
            "a placeholder; install TensorRT from JetPack (Jetson), an NVIDIA TensorRT / PyTorch container, or "
            "NVIDIA's pip index, or use backend 'onnxruntime' (CPU, or CUDA with onnxruntime-gpu).") from error
    return trt


def require_cuda_gpu(device_index: int = 0) -> None:
    import torch

    if not torch.cuda.is_available():
        raise TensorRTUnavailableError(
            f"no CUDA GPU: torch.cuda.is_available() is False (torch {torch.__version__}, built for CUDA "
            f"{torch.version.cuda or 'none - a CPU-only build'}). TensorRT needs an NVIDIA GPU, its driver and a "
            "CUDA build of PyTorch (used for device buffers); or use backend 'onnxruntime'.")
    if device_index >= torch.cuda.device_count():
        raise TensorRTUnavailableError(f"CUDA device {device_index} requested; {torch.cuda.device_count()} visible")


def tensorrt_availability() -> tuple[bool, str]:
    """(usable, reason) without raising: for 'auto' choices and benchmark skip lists."""
    try:
        trt = import_tensorrt()
        require_cuda_gpu()
    except TensorRTUnavailableError as error:
        return False, str(error)
    return True, f"TensorRT {trt.__version__}"


def current_build_environment(device_index: int = 0) -> BuildEnvironment:
    import torch

    trt = import_tensorrt()
    require_cuda_gpu(device_index)
    major, minor = torch.cuda.get_device_capability(device_index)
    return BuildEnvironment(trt.__version__, torch.cuda.get_device_name(device_index), f"{major}.{minor}")


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
        "params": tuple((len(info.param_names),) for _ in range(3)),
    }


def _parse_onnx(trt, builder, logger, onnx_path: Path):
    flags = 0
    explicit_batch = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    if explicit_batch is not None and int(trt.__version__.split(".")[0]) < 10:
        flags |= 1 << int(explicit_batch)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    return network, parser


def _keep_scoring_in_fp32(trt, network) -> int:
    """Constrain float layers outside the network body to FP32; returns how many."""
    count = 0
    floats = (trt.float32, trt.float16)
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if layer.name.startswith(FP16_LAYER_PREFIXES) or layer.type == trt.LayerType.CONSTANT:
            continue  # the network body, and weights (deduplicated initializers appear as constants)
        outputs = [layer.get_output(j) for j in range(layer.num_outputs)]
        if not outputs or any(o.dtype not in floats for o in outputs):
            continue
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            layer.set_output_type(j, trt.float32)
        count += 1
    return count


def _progress_monitor(trt):
    """A TensorRT (>= 10) progress monitor that logs the builder's top-level phases, or None."""
    if not hasattr(trt, "IProgressMonitor"):
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


def build_serialized_engine(onnx_path: str | Path, options: EngineBuildOptions, info: GraphInfo | None = None) -> bytes:
    """Parse ``onnx_path`` and build a serialized engine (blocking; seconds to minutes)."""
    from owss_ros.backends.onnx_export import read_graph_info

    trt = import_tensorrt()
    require_cuda_gpu()
    onnx_path = Path(onnx_path)
    info = info or read_graph_info(onnx_path)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network, _parser = _parse_onnx(trt, builder, logger, onnx_path)  # the parser owns the weights: keep it
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(options.workspace_bytes))
    if options.precision == "fp16":
        if not builder.platform_has_fast_fp16:
            log.warning("this GPU has no fast FP16; building FP16 anyway (consider --fp32)")
        config.set_flag(trt.BuilderFlag.FP16)
        config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
        log.info("FP16 build; %d scoring layers kept in FP32", _keep_scoring_in_fp32(trt, network))
    shapes = profile_shapes(info, options)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        if tensor.name not in shapes:
            raise RuntimeError(f"unexpected network input {tensor.name!r} in {onnx_path}")
        if any(d < 0 for d in tuple(tensor.shape)):
            profile.set_shape(tensor.name, *shapes[tensor.name])
    config.add_optimization_profile(profile)
    monitor = _progress_monitor(trt)  # must outlive the build
    if monitor is not None:
        config.progress_monitor = monitor
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} ({options.describe()}); "
                           "see the TensorRT messages above (try --fp32 or a larger workspace)")
    return bytes(serialized)
