"""What the installed TensorRT Python API offers, and the build recipe that follows from it.

Supported: TensorRT **10.x** (JetPack 6 ships 10.3) and **11.x** (``pip install tensorrt``).
8.x and older are refused with a message (their tensor-address runtime API and INT64 type are
missing). Nothing here assumes an attribute exists: every one that differs between 10 and 11
is probed with ``getattr`` / ``hasattr``, so a removed API gives a recipe choice or a clear
:class:`~owss_ros.backends.tensorrt_build.TensorRTUnavailableError`, never an AttributeError.

Checked against (see the README's backend section for what ran where):
  * TensorRT 11 removed weak typing: ``BuilderFlag.FP16``/``BF16``/``INT8``,
    ``OBEY``/``PREFER_PRECISION_CONSTRAINTS``, ``ILayer.precision``, ``set_output_type``,
    ``Builder.platform_has_fast_fp16``; every network is strongly typed and the
    ``STRONGLY_TYPED`` creation flag is accepted and ignored. Weak typing is deprecated from
    10.12, where ``STRONGLY_TYPED`` is the recommended opt-in. (NVIDIA/TensorRT,
    .agents/skills/trt-strong-typing-migration/SKILL.md, TensorRT 11.1 OSS.)
  * ``EXPLICIT_BATCH`` is ignored since 10.0 (tensorrt-stubs 10.13 docstring).
  * the 10.13 Python API surface: the published ``tensorrt-stubs`` package
    (test/backends/test_tensorrt_api_surface.py checks every attribute used here);
  * the 11.1 Python bindings' source (NVIDIA/TensorRT python/src): the removed names above and
    ``EXPLICIT_BATCH`` are not bound; everything else used here (timing cache, inspector,
    profiling verbosity, progress monitor, tensor-address runtime, ``int64``) is.

Recipes (:func:`choose_recipe`):
  * ``fp32``: the exported fp32 graph, strongly typed where the flag is recommended (>= 10.12),
    otherwise a default network without precision flags (all FP32; TF32 as TensorRT defaults).
  * ``strong-fp16-body``: FP16 on >= 10.12 and 11.x. The network body is converted to half
    precision *inside the ONNX* (:mod:`owss_ros.backends.onnx_fp16`), scoring stays fp32 there,
    and the network is built strongly typed, so TensorRT runs exactly those types.
  * ``weak-fp16-fp32-scoring``: FP16 on 10.0-10.11 (Jetson). ``BuilderFlag.FP16`` plus
    per-layer FP32 constraints on every scoring layer (obeyed, not only preferred).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

# Bump when anything in the recipe changes that a cached engine reflects (flags, the fp16
# conversion, constrained layers, profiling verbosity): it is part of the engine cache key.
RECIPE_VERSION = 2
SUPPORTED_MAJORS = (10, 11)
STRONG_TYPING_RECOMMENDED_FROM = (10, 12)

RECIPES = ("fp32", "strong-fp16-body", "weak-fp16-fp32-scoring")


def parse_version(text: str) -> tuple[int, int, int]:
    """'10.13.0.35' -> (10, 13, 0); missing parts are 0; raises ValueError when unparseable."""
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    if not parts:
        raise ValueError(f"cannot read a TensorRT version from {text!r}")
    return tuple(parts + [0] * (3 - len(parts)))  # type: ignore[return-value]


def _member(enum, name: str) -> bool:
    return enum is not None and hasattr(enum, name)


@dataclass(frozen=True)
class TensorRTCapabilities:
    version: str
    version_tuple: tuple[int, int, int]
    has_strongly_typed_flag: bool
    has_explicit_batch_flag: bool
    has_fp16_flag: bool  # BuilderFlag.FP16 (removed in 11)
    has_obey_constraints: bool
    has_prefer_constraints: bool
    has_layer_precision: bool  # ILayer.precision / set_output_type (removed in 11)
    has_platform_has_fast_fp16: bool
    has_int64: bool
    has_bf16: bool
    has_timing_cache: bool
    has_progress_monitor: bool
    has_engine_inspector: bool
    has_detailed_profiling: bool

    @property
    def major(self) -> int:
        return self.version_tuple[0]

    @property
    def supported(self) -> bool:
        return self.major in SUPPORTED_MAJORS

    @property
    def strong_typing_recommended(self) -> bool:
        return self.has_strongly_typed_flag and self.version_tuple[:2] >= STRONG_TYPING_RECOMMENDED_FROM

    @property
    def weak_fp16_available(self) -> bool:
        return self.has_fp16_flag and self.has_layer_precision and (self.has_obey_constraints
                                                                    or self.has_prefer_constraints)

    def to_dict(self) -> dict:
        return asdict(self)


def probe_capabilities(trt) -> TensorRTCapabilities:
    """Look at a ``tensorrt`` module (real, or a fake in tests) without calling into CUDA."""
    version = getattr(trt, "__version__", None)
    if not isinstance(version, str):
        raise ValueError("the imported `tensorrt` module has no __version__: it is not a TensorRT installation "
                         "(a stub-only or namespace package?)")
    flags = getattr(trt, "BuilderFlag", None)
    creation = getattr(trt, "NetworkDefinitionCreationFlag", None)
    layer = getattr(trt, "ILayer", None)
    builder = getattr(trt, "Builder", None)
    config = getattr(trt, "IBuilderConfig", None)
    engine = getattr(trt, "ICudaEngine", None)
    verbosity = getattr(trt, "ProfilingVerbosity", None)
    return TensorRTCapabilities(
        version=version,
        version_tuple=parse_version(version),
        has_strongly_typed_flag=_member(creation, "STRONGLY_TYPED"),
        has_explicit_batch_flag=_member(creation, "EXPLICIT_BATCH"),
        has_fp16_flag=_member(flags, "FP16"),
        has_obey_constraints=_member(flags, "OBEY_PRECISION_CONSTRAINTS"),
        has_prefer_constraints=_member(flags, "PREFER_PRECISION_CONSTRAINTS"),
        has_layer_precision=layer is not None and hasattr(layer, "precision") and hasattr(layer, "set_output_type"),
        has_platform_has_fast_fp16=builder is not None and hasattr(builder, "platform_has_fast_fp16"),
        has_int64=hasattr(trt, "int64"),
        has_bf16=hasattr(trt, "bfloat16"),
        has_timing_cache=config is not None and hasattr(config, "create_timing_cache")
        and hasattr(config, "set_timing_cache") and hasattr(config, "get_timing_cache"),
        has_progress_monitor=hasattr(trt, "IProgressMonitor"),
        has_engine_inspector=engine is not None and hasattr(engine, "create_engine_inspector")
        and hasattr(trt, "LayerInformationFormat"),
        has_detailed_profiling=_member(verbosity, "DETAILED"),
    )


class UnsupportedTensorRTError(RuntimeError):
    """This TensorRT version, or this precision on it, cannot be built by this code."""


@dataclass(frozen=True)
class BuildRecipe:
    name: str  # one of RECIPES
    precision: str  # "fp16" / "fp32" as requested
    strongly_typed: bool  # create the network with STRONGLY_TYPED
    fp16_body_onnx: bool  # build from the ONNX with the network body converted to fp16
    weak_fp16: bool  # BuilderFlag.FP16 + FP32 constraints on scoring layers
    version: int = RECIPE_VERSION

    def describe(self) -> str:
        typing = "strongly typed" if self.strongly_typed else "weakly typed"
        return f"recipe {self.name} v{self.version} ({typing})"


def choose_recipe(caps: TensorRTCapabilities, precision: str) -> BuildRecipe:
    """The build recipe for ``precision`` on this TensorRT (see the module docstring)."""
    if not caps.supported:
        raise UnsupportedTensorRTError(
            f"TensorRT {caps.version} is not supported: this code supports TensorRT "
            f"{' and '.join(f'{m}.x' for m in SUPPORTED_MAJORS)} (use backend 'onnxruntime' instead)")
    if precision == "fp32":
        return BuildRecipe("fp32", "fp32", caps.strong_typing_recommended or caps.major >= 11, False, False)
    if precision != "fp16":
        raise ValueError(f"precision must be 'fp16' or 'fp32', got {precision!r}")
    if caps.strong_typing_recommended:
        return BuildRecipe("strong-fp16-body", "fp16", True, True, False)
    if caps.weak_fp16_available:
        return BuildRecipe("weak-fp16-fp32-scoring", "fp16", False, False, True)
    if caps.has_strongly_typed_flag:  # e.g. a 10.x build without the weak-typing API
        return BuildRecipe("strong-fp16-body", "fp16", True, True, False)
    raise UnsupportedTensorRTError(f"TensorRT {caps.version} offers neither strong typing nor the FP16 builder "
                                   "flag: build with precision fp32")


def torch_dtype_map(trt) -> dict:
    """TensorRT DataType -> torch dtype for the types this TensorRT has (int64 is absent on 8.x)."""
    import torch

    pairs = (("float32", torch.float32), ("float16", torch.float16), ("bfloat16", torch.bfloat16),
             ("int32", torch.int32), ("int64", torch.int64), ("int8", torch.int8), ("uint8", torch.uint8),
             ("bool", torch.bool))
    return {getattr(trt, name): dtype for name, dtype in pairs if hasattr(trt, name)}
