"""Check an ONNX graph against the ONNX-TensorRT parser's documented operator and type rules.

TensorRT cannot run everywhere (not in CI here), but what its ONNX parser accepts is
documented: this lints an exported graph against those rules, so a graph change that
TensorRT would refuse fails a CPU test instead of a vehicle's start-up.

Sources of the rule table (read, not copied):
  * the support matrix, https://github.com/onnx/onnx-tensorrt/blob/main/docs/operators.md
    (the "ONNX-TensorRT 10.1 GA" revision, 96e7811; TensorRT 10.0 supports opsets 9-20):
    per-operator supported types and restrictions, and the notes "UINT8 is only supported as
    network input or output tensor types" and "limited support for DOUBLE";
  * one rule from the parser's source, not in the matrix: a Conv whose weights are a runtime
    tensor needs their output-channel count at build time (importerUtils.cpp,
    ``convMultiInput``: ``K = inputs.at(1).shape().d[0]`` becomes the layer's output maps).
The table lists the operators these graphs use or could plausibly use; an operator missing
from it is reported too (add it from the matrix when a graph starts using it).
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx
from onnx import TensorProto

F, H, BF, I32, I64, U8, B = "FP32", "FP16", "BF16", "INT32", "INT64", "UINT8", "BOOL"
FLOATS = (F, H, BF)
NUMERIC = (F, H, BF, I32, I64)
ANY = (F, H, BF, I32, I64, B)

# operator -> supported types of its data inputs (docs/operators.md, "Supported Types")
SUPPORTED_TYPES: dict[str, tuple[str, ...]] = {
    "Abs": NUMERIC, "Add": NUMERIC, "And": (B,), "ArgMax": NUMERIC, "ArgMin": NUMERIC,
    "AveragePool": FLOATS, "BatchNormalization": FLOATS, "Cast": (F, H, BF, I32, I64, U8, B),
    "Ceil": FLOATS, "Clip": FLOATS, "Concat": ANY, "Constant": ANY, "ConstantOfShape": ANY, "Conv": FLOATS,
    "ConvTranspose": FLOATS, "CumSum": FLOATS, "Div": NUMERIC, "Einsum": FLOATS, "Equal": NUMERIC,
    "Erf": FLOATS, "Exp": FLOATS, "Expand": ANY, "Flatten": ANY, "Floor": FLOATS, "Gather": ANY,
    "Gemm": FLOATS, "GlobalAveragePool": FLOATS, "GlobalMaxPool": FLOATS, "Greater": NUMERIC,
    "GreaterOrEqual": NUMERIC, "HardSigmoid": FLOATS, "Identity": ANY, "LeakyRelu": FLOATS, "Less": NUMERIC,
    "LessOrEqual": NUMERIC, "Log": FLOATS, "MatMul": FLOATS, "Max": NUMERIC, "MaxPool": FLOATS,
    "Min": NUMERIC, "Mul": NUMERIC, "Neg": NUMERIC, "Not": (B,), "Or": (B,), "Pad": NUMERIC,
    "Pow": FLOATS, "PRelu": FLOATS, "Range": NUMERIC, "Reciprocal": FLOATS, "ReduceL2": FLOATS, "ReduceMax": NUMERIC,
    "ReduceMean": NUMERIC, "ReduceMin": NUMERIC, "ReduceSum": NUMERIC, "Relu": NUMERIC, "Reshape": ANY,
    "Resize": FLOATS, "Shape": ANY, "Sigmoid": FLOATS, "Slice": ANY, "Softmax": FLOATS, "Split": ANY,
    "Sqrt": FLOATS, "Squeeze": ANY, "Sub": NUMERIC, "Tanh": FLOATS, "Tile": ANY, "TopK": NUMERIC,
    "Transpose": ANY, "Unsqueeze": ANY, "Where": ANY, "Xor": (B,),
}
# the matrix's "N" rows among operators a segmentation export could emit
UNSUPPORTED = frozenset({"BitShift", "BitwiseAnd", "BitwiseNot", "BitwiseOr", "BitwiseXor", "Col2Im",
                         "Compress", "ConvInteger", "Det", "DynamicQuantizeLinear", "MatMulInteger",
                         "Optional", "StringNormalizer", "Unique"})
# which inputs carry the type the matrix talks about (the rest are indices, shapes, axes)
_TYPED_INPUTS = {"Where": (1, 2), "Resize": (0,), "Pad": (0,), "Slice": (0,), "Gather": (0,), "Expand": (0,),
                 "Reshape": (0,), "Tile": (0,), "Squeeze": (0,), "Unsqueeze": (0,), "TopK": (0,), "Clip": (0,),
                 "CumSum": (0,), "ReduceSum": (0,), "ReduceMax": (0,), "ReduceMin": (0,), "ReduceMean": (0,),
                 "Split": (0,), "ConstantOfShape": (), "Range": (0, 1, 2), "Shape": (0,), "Flatten": (0,)}
_ALL_INPUTS = ("Add", "Sub", "Mul", "Div", "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And",
               "Or", "Xor", "Max", "Min", "MatMul", "Concat", "Pow", "Einsum", "Gemm", "PRelu")
# "`axes` (or `axis`) must be an initializer / a constant tensor": operator -> input position
_CONSTANT_INPUTS = {"ReduceSum": 1, "ReduceMax": 1, "ReduceMin": 1, "ReduceMean": 1, "Slice": 3, "Pad": 3,
                    "Squeeze": 1, "Unsqueeze": 1, "CumSum": 1}
_RESIZE_MODES = {"nearest", "linear"}
_RESIZE_TRANSFORMS = {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners"}
_RESIZE_NEAREST = {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"}
_TYPE_NAMES = {TensorProto.FLOAT: F, TensorProto.FLOAT16: H, TensorProto.BFLOAT16: BF, TensorProto.INT32: I32,
               TensorProto.INT64: I64, TensorProto.UINT8: U8, TensorProto.BOOL: B, TensorProto.DOUBLE: "DOUBLE",
               TensorProto.INT8: "INT8"}
OPSETS = (9, 20)


@dataclass(frozen=True)
class Violation:
    rule: str  # short id, e.g. "uint8-intermediate"
    node: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.node}: {self.detail}"


def _attr(node: onnx.NodeProto, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def lint_tensorrt(model: onnx.ModelProto) -> list[Violation]:
    """Every documented ONNX-TensorRT rule the graph breaks (empty: the parser should take it)."""
    found: list[Violation] = []
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or not OPSETS[0] <= opset <= OPSETS[1]:
        found.append(Violation("opset", "<graph>", f"opset {opset}, TensorRT 10 supports {OPSETS[0]}-{OPSETS[1]}"))
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    graph = inferred.graph
    values = {v.name: v.type.tensor_type for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
    types = {name: t.elem_type for name, t in values.items()}
    types.update({i.name: i.data_type for i in graph.initializer})
    constants = {i.name for i in graph.initializer}
    constants.update(n.output[0] for n in graph.node if n.op_type == "Constant")
    io_names = {v.name for v in graph.input} | {v.name for v in graph.output}

    for name, elem in types.items():
        if elem == TensorProto.UINT8 and name not in io_names:
            found.append(Violation("uint8-intermediate", name, "UINT8 is only supported as network input or output"))
        if elem == TensorProto.DOUBLE:
            found.append(Violation("double", name, "DOUBLE has limited support (cast down to FLOAT)"))

    for node in graph.node:
        label = node.name or f"{node.op_type}({','.join(node.output)})"
        if node.domain not in ("", "ai.onnx"):
            found.append(Violation("custom-domain", label, f"operator domain {node.domain!r} needs a plugin"))
            continue
        op = node.op_type
        if op in UNSUPPORTED or op not in SUPPORTED_TYPES:
            why = "unsupported by the parser" if op in UNSUPPORTED else "not in the rule table (check the matrix)"
            found.append(Violation("operator", label, f"{op}: {why}"))
            continue
        if op in _ALL_INPUTS:
            positions = range(len(node.input))
        else:
            positions = _TYPED_INPUTS.get(op, (0,))
        checked = [node.input[p] for p in positions if p < len(node.input) and node.input[p]]
        if op in ("Constant", "ConstantOfShape"):
            checked = list(node.output)
        for tensor in checked:
            type_name = _TYPE_NAMES.get(types.get(tensor), f"onnx type {types.get(tensor)}")
            if type_name not in SUPPORTED_TYPES[op] and type_name != "DOUBLE":
                found.append(Violation("type", label, f"{op} on {type_name} ({tensor}); supported: "
                                                      f"{', '.join(SUPPORTED_TYPES[op])}"))
        position = _CONSTANT_INPUTS.get(op)
        if position is not None and position < len(node.input) and node.input[position] \
                and node.input[position] not in constants:
            found.append(Violation("constant-axes", label, f"{op}: axes input {node.input[position]!r} must be an "
                                                           "initializer"))
        if op == "Resize":
            mode = _attr(node, "mode", "nearest")
            transform = _attr(node, "coordinate_transformation_mode", "half_pixel")
            if mode not in _RESIZE_MODES or transform not in _RESIZE_TRANSFORMS:
                found.append(Violation("resize", label, f"mode {mode}, coordinate transformation {transform}"))
            if mode == "nearest" and _attr(node, "nearest_mode", "round_prefer_floor") not in _RESIZE_NEAREST:
                found.append(Violation("resize", label, f"nearest_mode {_attr(node, 'nearest_mode')}"))
            if _attr(node, "antialias", 0) or _attr(node, "keep_aspect_ratio_policy", "stretch") != "stretch":
                found.append(Violation("resize", label, "antialias / keep_aspect_ratio_policy other than stretch"))
        if op in ("AveragePool", "MaxPool"):
            kernel = _attr(node, "kernel_shape", [])
            if len(kernel) not in (2, 3) or any(d != 1 for d in _attr(node, "dilations", []) or []):
                found.append(Violation("pool", label, f"{op}: 2D/3D only, dilations all ones"))
            if op == "MaxPool" and len(node.output) > 1 and node.output[1]:
                found.append(Violation("pool", label, "MaxPool Indices output unsupported"))
        if op == "TopK" and len(node.input) > 1 and node.input[1] in constants:
            k = next((onnx.numpy_helper.to_array(i) for i in graph.initializer if i.name == node.input[1]), None)
            if k is not None and int(k.reshape(-1)[0]) >= 3840:
                found.append(Violation("topk", label, "K must be less than 3840"))
        if op == "Conv" and len(node.input) > 1 and node.input[1] not in constants:
            weight = values.get(node.input[1])
            dims = list(weight.shape.dim) if weight is not None else []
            if not dims or not dims[0].HasField("dim_value"):
                found.append(Violation("conv-dynamic-output-channels", label,
                                       f"weights {node.input[1]!r} are a runtime tensor with an unknown output-"
                                       "channel count; the parser needs it at build time"))
    return found
