"""Export :class:`~owss_ros.backends.pipeline.FramePipeline` to one validated ONNX file.

    report = export_onnx("models/default/model.safetensors", "models/default/model.onnx")

* legacy TorchScript exporter (``dynamo=False``), opset 17: the dynamo exporter needs
  onnxscript and writes opset 18;
* inputs/outputs named as in :data:`pipeline.INPUT_NAMES` / :data:`pipeline.OUTPUT_NAMES`;
* the prototype count K is a dynamic axis (1..``max_prototypes``, the maximum recorded in the
  metadata and enforced by the backends and the TensorRT optimisation profile); the image
  size is dynamic, or fixed with ``fixed_hw``;
* validated with ``onnx.checker`` (full check) and strict shape inference, and checked to
  still take every runtime input (nothing folded into a constant);
* metadata as in :mod:`.onnx_metadata`; written atomically;
* deterministic: the same weights and options give the same bytes, so the file's sha256 is a
  sound cache key for TensorRT engines.

onnx-simplifier is not used (not installed here); TensorRT and onnxruntime do their own
constant folding and fusion.
"""

from __future__ import annotations

import hashlib
import io
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch

from owss_ros.core.atomic_file import atomic_write_bytes
from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, GraphInfo, format_hw
from owss_ros.backends.pipeline import (
    FULL_SIZE_MAPS,
    INPUT_NAMES,
    LABEL_DTYPES,
    OUTPUT_NAMES,
    SCORE_RESOLUTIONS,
    FramePipeline,
)
from owss_ros.backends.score_params import PARAM_NAMES, pack_score_params
from owss_ros.core.checkpoint import file_fingerprint, load_model
from owss_ros.core.npm import DEFAULT_GRAPH_SLOTS
from owss_ros.core.open_set import ScoringConfig

log = logging.getLogger(__name__)

OPSET = 17
K_AXIS = "prototypes"
_ONNX_TYPE_NAMES = {onnx.TensorProto.UINT8: "uint8", onnx.TensorProto.INT32: "int32",
                    onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT64: "int64"}


@dataclass(frozen=True)
class ExportOptions:
    max_prototypes: int = DEFAULT_GRAPH_SLOTS
    fixed_hw: tuple[int, int] | None = None  # None = dynamic H, W
    score_resolution: str = DEFAULT_SCORE_RESOLUTION
    label_dtype: str = "uint8"  # "int32" for the TensorRT variant (see pipeline.py)
    trace_hw: tuple[int, int] = (64, 128)  # example size traced for a dynamic export

    def __post_init__(self) -> None:
        if self.max_prototypes < 1:
            raise ValueError(f"max_prototypes must be >= 1, got {self.max_prototypes}")
        if self.score_resolution not in SCORE_RESOLUTIONS:
            raise ValueError(f"score_resolution must be one of {SCORE_RESOLUTIONS}, got {self.score_resolution!r}")
        if self.label_dtype not in LABEL_DTYPES:
            raise ValueError(f"label_dtype must be one of {tuple(LABEL_DTYPES)}, got {self.label_dtype!r}")

    def cache_tag(self) -> str:
        """Short, file-name-safe summary (for caches keyed by weights + options)."""
        return (f"k{self.max_prototypes}-{format_hw(self.fixed_hw)}-{self.score_resolution}-"
                f"{self.label_dtype}")


@dataclass(frozen=True)
class ExportReport:
    path: Path
    sha256: str
    size_bytes: int
    checker: str  # human-readable validation summary
    info: GraphInfo
    seconds: float


def _example_inputs(num_classes: int, hw: tuple[int, int], k: int) -> tuple[torch.Tensor, ...]:
    return (torch.zeros(1, *hw, 3, dtype=torch.uint8), torch.zeros(k, num_classes), torch.ones(k),
            torch.zeros(k), pack_score_params(ScoringConfig(), num_classes))


def _dynamic_axes(options: ExportOptions) -> dict[str, dict[int, str]]:
    axes: dict[str, dict[int, str]] = {name: {0: K_AXIS} for name in INPUT_NAMES[1:4]}
    if options.fixed_hw is None:
        axes["image"] = {1: "height", 2: "width"}
        maps_hw = {1: "height", 2: "width"} if options.score_resolution in FULL_SIZE_MAPS else \
            {1: "scored_height", 2: "scored_width"}
        for name in OUTPUT_NAMES[:3]:
            axes[name] = dict(maps_hw)
        axes["embedding"] = {2: "feature_height", 3: "feature_width"}
    return axes


def trace_to_onnx(pipeline: FramePipeline, options: ExportOptions) -> onnx.ModelProto:
    hw = options.fixed_hw or options.trace_hw
    example = _example_inputs(pipeline.num_classes, hw, min(2, options.max_prototypes))
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the known, checked tracer notes (shape asserts, as_tensor)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(pipeline.eval(), example, buffer, dynamo=False, opset_version=OPSET,
                          input_names=list(INPUT_NAMES), output_names=list(OUTPUT_NAMES),
                          dynamic_axes=_dynamic_axes(options), do_constant_folding=True)
    model = onnx.load_from_string(buffer.getvalue())
    _pin_batch_dimension(model)
    return model


def _pin_batch_dimension(model: onnx.ModelProto) -> None:
    """The graph takes one image (batch 1); the tracer leaves the outputs' batch dimension as
    a generated symbol (e.g. ``Castclose_labels_dim_0``): declare it as the 1 it is."""
    for output in model.graph.output:
        dim = output.type.tensor_type.shape.dim[0]
        if dim.dim_param:
            dim.dim_value = 1


def _type_summary(value_info: onnx.ValueInfoProto) -> str:
    tensor = value_info.type.tensor_type
    dims = [d.dim_param or str(d.dim_value) for d in tensor.shape.dim]
    return f"{value_info.name} {_ONNX_TYPE_NAMES.get(tensor.elem_type, tensor.elem_type)}[{','.join(dims)}]"


def validate_graph(model: onnx.ModelProto, label_dtype: str) -> str:
    """onnx.checker (full) + strict shape inference + interface checks; returns a summary."""
    onnx.checker.check_model(model, full_check=True)
    inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    inputs = [i.name for i in inferred.graph.input]
    if inputs != list(INPUT_NAMES):
        raise ValueError(f"exported graph inputs are {inputs}, expected {list(INPUT_NAMES)} "
                         "(an input was folded into a constant)")
    outputs = {o.name: o for o in inferred.graph.output}
    expected = {"close_labels": (label_dtype, 3), "anomaly": ("float32", 3), "open_labels": (label_dtype, 3),
                "embedding": ("float32", 4)}
    for name, (dtype, rank) in expected.items():
        tensor = outputs[name].type.tensor_type
        got = _ONNX_TYPE_NAMES.get(tensor.elem_type, str(tensor.elem_type))
        if got != dtype or len(tensor.shape.dim) != rank:
            raise ValueError(f"output {name} is {got} rank {len(tensor.shape.dim)}, expected {dtype} rank {rank}")
    return ("onnx.checker full_check passed; shape inference: "
            + "; ".join(_type_summary(v) for v in list(inferred.graph.input) + list(inferred.graph.output)))


def export_pipeline(pipeline: FramePipeline, out_path: str | Path, options: ExportOptions,
                    info: GraphInfo) -> ExportReport:
    """Trace, annotate, validate and atomically write ``pipeline`` as ONNX."""
    start = time.perf_counter()
    model = trace_to_onnx(pipeline, options)
    del model.metadata_props[:]
    for key, value in sorted(info.to_metadata().items()):
        model.metadata_props.add(key=key, value=value)
    checker = validate_graph(model, options.label_dtype)
    data = model.SerializeToString()
    path = atomic_write_bytes(out_path, data)
    return ExportReport(path, hashlib.sha256(data).hexdigest(), len(data), checker, info,
                        time.perf_counter() - start)


def export_onnx(model_path: str | Path, out_path: str | Path, options: ExportOptions = ExportOptions()) -> ExportReport:
    """Load DMLNet weights (safetensors) and export the per-frame pipeline to ``out_path``."""
    model, spec = load_model(model_path)
    pipeline = FramePipeline(model, options.score_resolution, options.label_dtype)
    info = GraphInfo(
        model_fingerprint=file_fingerprint(model_path), class_names=tuple(spec.class_names),
        embedding_dim=spec.num_classes, max_prototypes=options.max_prototypes, input_hw=options.fixed_hw,
        score_resolution=options.score_resolution, param_names=PARAM_NAMES, label_dtype=options.label_dtype,
        backbone=spec.backbone)
    log.info("exporting %s to ONNX (%s, K 1..%d, input %s)", model_path, options.label_dtype,
             options.max_prototypes, format_hw(options.fixed_hw))
    report = export_pipeline(pipeline, out_path, options, info)
    log.info("wrote %s (%.1f MB, sha256 %s) in %.1f s", report.path, report.size_bytes / 1e6,
             report.sha256[:16], report.seconds)
    return report


def read_graph_info(onnx_path: str | Path) -> GraphInfo:
    """The owss_ros metadata of an ONNX file (raises GraphMetadataError when absent)."""
    model = onnx.load(str(onnx_path), load_external_data=False)
    return GraphInfo.from_metadata({p.key: p.value for p in model.metadata_props}, source=str(onnx_path))
