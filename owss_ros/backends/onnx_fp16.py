"""The strongly-typed FP16 variant of an exported graph: network body in half precision, scoring in fp32.

TensorRT 11 builds every network strongly typed (no ``BuilderFlag.FP16``, no per-layer
precision): the precision must be in the ONNX. This converts the data path of the network
body (nodes named ``/model/...``, the DMLNet embedding network) to float16 and leaves
everything else as exported:

* the input normalisation and every scoring op (distances, softmax, sums, thresholds,
  the 1e30 "unused slot" distance, which overflows float16's 65504) stay float32;
* inside the body, only the *data path* is converted: a node of a data op (Conv, Relu,
  MatMul, Resize, ...) becomes float16 when one of its float inputs comes from outside the
  body or is already float16. Index arithmetic that the tracer emits for dynamic shapes
  (Shape -> Cast -> Div -> Floor ...) stays float32, so no size computation loses precision;
* constants feeding converted nodes get float16 copies (a value beyond float16's range is an
  error, not a silent inf); other tensors crossing the boundary get explicit ``Cast`` nodes,
  so the graph's inputs and outputs keep their types (``embedding`` stays float32).

The result passes ``onnx.checker`` and strict shape inference, and onnxruntime runs it
(test/backends/test_onnx_fp16.py compares it with the fp32 graph on CPU).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from owss_ros.core.atomic_file import atomic_write_bytes

log = logging.getLogger(__name__)

BODY_PREFIXES = ("/model/",)
METADATA_KEY = "owss_ros.body_precision"
FP16_MAX = 65504.0

# Ops whose float inputs/outputs all share one type T, so they can run in float16 as a whole.
DATA_OPS = frozenset({
    "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Conv", "ConvTranspose", "Div", "Expand",
    "Flatten", "Gather", "Gemm", "GlobalAveragePool", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu",
    "MatMul", "MaxPool", "Mul", "Pad", "PRelu", "ReduceMax", "ReduceMean", "ReduceSum", "Relu", "Reshape",
    "Resize", "Sigmoid", "Slice", "Split", "Squeeze", "Sub", "Tile", "Transpose", "Unsqueeze", "Where",
})
# Input positions that must stay float32 whatever T is (Resize: roi and scales).
FP32_INPUT_POSITIONS = {"Resize": (1, 2)}


def _elem_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    types = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        types[value.name] = value.type.tensor_type.elem_type
    for init in inferred.graph.initializer:
        types[init.name] = init.data_type
    return types


def _constant_arrays(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    arrays[node.output[0]] = numpy_helper.to_array(attr.t)
    return arrays


def convert_body_to_fp16(model: onnx.ModelProto, prefixes: tuple[str, ...] = BODY_PREFIXES) -> onnx.ModelProto:
    """A copy of ``model`` with the body's data path in float16 (see the module docstring)."""
    model = copy.deepcopy(model)
    graph = model.graph
    types = _elem_types(model)
    constants = _constant_arrays(graph)
    graph_outputs = {o.name for o in graph.output}
    produced_in_body = {out for n in graph.node if n.name.startswith(prefixes) for out in n.output}

    half: set[str] = set()  # tensors that are float16 after the conversion
    half_nodes: set[int] = set()
    for index, node in enumerate(graph.node):
        if not node.name.startswith(prefixes) or node.op_type not in DATA_OPS:
            continue
        if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
            continue
        keep = FP32_INPUT_POSITIONS.get(node.op_type, ())
        floats = [name for pos, name in enumerate(node.input)
                  if name and pos not in keep and types.get(name) == TensorProto.FLOAT]
        entering = [n for n in floats if n not in constants and n not in produced_in_body]
        if floats and (any(n in half for n in floats) or entering):
            half_nodes.add(index)
            half.update(o for o in node.output if types.get(o) == TensorProto.FLOAT)

    new_initializers: dict[str, onnx.TensorProto] = {}
    to_half: dict[str, str] = {}  # fp32 tensor -> its fp16 version (constant copy or Cast output)
    to_float: dict[str, str] = {}  # fp16 tensor -> its fp32 Cast
    nodes: list[onnx.NodeProto] = []

    def half_version(name: str) -> str:
        if name in to_half:
            return to_half[name]
        converted = f"{name}__fp16"
        if name in constants:
            value = constants[name]
            if value.size and float(np.nanmax(np.abs(value))) > FP16_MAX:
                raise ValueError(f"constant {name} has values beyond float16's range ({FP16_MAX}); "
                                 "it cannot feed a float16 layer")
            new_initializers[converted] = numpy_helper.from_array(value.astype(np.float16), converted)
        else:
            nodes.append(helper.make_node("Cast", [name], [converted], name=f"{name}__cast_fp16",
                                          to=TensorProto.FLOAT16))
        to_half[name] = converted
        return converted

    def float_version(name: str) -> str:
        if name not in to_float:
            converted = f"{name}__fp32"
            nodes.append(helper.make_node("Cast", [name], [converted], name=f"{name}__cast_fp32",
                                          to=TensorProto.FLOAT))
            to_float[name] = converted
        return to_float[name]

    # graph outputs produced in float16 are renamed and Cast back to float32 under their name
    renamed_outputs = {name: f"{name}__fp16_out" for name in graph_outputs if name in half}
    for index, node in enumerate(graph.node):
        node = copy.deepcopy(node)
        if index in half_nodes:
            keep = FP32_INPUT_POSITIONS.get(node.op_type, ())
            for pos, name in enumerate(node.input):
                if name in renamed_outputs:
                    node.input[pos] = renamed_outputs[name]
                elif name and pos not in keep and types.get(name) == TensorProto.FLOAT and name not in half:
                    node.input[pos] = half_version(name)
            for pos, name in enumerate(node.output):
                if name in renamed_outputs:
                    node.output[pos] = renamed_outputs[name]
        else:
            for pos, name in enumerate(node.input):
                if name in half and name not in renamed_outputs:
                    node.input[pos] = float_version(name)
        nodes.append(node)
        for original, internal in renamed_outputs.items():
            if internal in node.output:
                nodes.append(helper.make_node("Cast", [internal], [original], name=f"{original}__cast_out",
                                              to=TensorProto.FLOAT))

    del graph.node[:]
    graph.node.extend(nodes)
    graph.initializer.extend(new_initializers.values())
    used = {name for n in graph.node for name in n.input} | {o.name for o in graph.output}
    unused = [init for init in graph.initializer if init.name not in used]  # fp32 originals now only in fp16
    for init in unused:
        graph.initializer.remove(init)
    del graph.value_info[:]
    model.metadata_props.add(key=METADATA_KEY, value="float16")
    onnx.checker.check_model(model, full_check=True)
    log.info("fp16 body: %d of %d nodes converted, %d constants copied to float16, %d casts", len(half_nodes),
             len(graph.node), len(new_initializers), len(to_half) - len(new_initializers) + len(to_float))
    return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)


def body_precision(model: onnx.ModelProto) -> str:
    """'float16' for a graph from :func:`convert_body_to_fp16`, else 'float32'."""
    return next((p.value for p in model.metadata_props if p.key == METADATA_KEY), "float32")


def write_fp16_body_onnx(src: str | Path, dst: str | Path) -> Path:
    """Convert ``src`` and write the result atomically to ``dst`` (returns ``dst``)."""
    model = onnx.load(str(src))
    return atomic_write_bytes(dst, convert_body_to_fp16(model).SerializeToString())
