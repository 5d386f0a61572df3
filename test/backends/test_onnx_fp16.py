"""The strongly-typed FP16 graph (network body in float16, scoring in float32), run by onnxruntime
CPU against the exported float32 graph: this is the graph TensorRT >= 10.12 / 11 builds for FP16."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from backend_test_helpers import graph_inputs, structured_frame
from onnx import TensorProto, helper, numpy_helper

from owss_ros.backends.onnx_export import ExportOptions, export_onnx
from owss_ros.backends.onnx_fp16 import BODY_PREFIXES, body_precision, convert_body_to_fp16


@pytest.fixture(scope="module")
def int32_export(model_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("fp16") / "trt.onnx"
    return onnx.load(str(export_onnx(model_path, out, ExportOptions(max_prototypes=4, label_dtype="int32")).path))


def _session(model):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


def _types(model):
    inferred = onnx.shape_inference.infer_shapes(model)
    values = list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output)
    return {v.name: v.type.tensor_type.elem_type for v in values}


def test_fp16_body_keeps_io_types_and_scoring_in_float32(int32_export):
    half = convert_body_to_fp16(int32_export)
    assert body_precision(half) == "float16" and body_precision(int32_export) == "float32"
    io = lambda m: [(v.name, v.type.tensor_type.elem_type) for v in list(m.graph.input) + list(m.graph.output)]
    assert io(half) == io(int32_export)
    types = _types(half)
    body_half = [n for n in half.graph.node if n.name.startswith(BODY_PREFIXES)
                 and any(types.get(o) == TensorProto.FLOAT16 for o in n.output)]
    assert any(n.op_type == "Conv" for n in body_half)  # the network really runs in half
    for node in half.graph.node:  # outside the body only the boundary casts touch float16
        if node.name.startswith(BODY_PREFIXES) or node.op_type == "Cast":
            continue
        halves = [t for t in list(node.input) + list(node.output) if types.get(t) == TensorProto.FLOAT16]
        assert not halves, f"scoring node {node.name} ({node.op_type}) uses float16 tensors {halves}"


def test_fp16_body_agrees_with_float32_on_onnxruntime(int32_export):
    hw = (128, 256)
    frame = structured_frame(hw, seed=3)[None]
    feeds = {"image": frame, **graph_inputs(4).feed()}
    full = _session(int32_export).run(None, feeds)
    half = _session(convert_body_to_fp16(int32_export)).run(None, feeds)
    close, anomaly, open_labels, embedding = full
    h_close, h_anomaly, h_open, h_embedding = half
    print(f"fp16 body vs fp32: close equal {(close == h_close).mean():.5f}, anomaly max |diff| "
          f"{np.abs(anomaly - h_anomaly).max():.2e}, embedding max |diff| {np.abs(embedding - h_embedding).max():.2e}")
    assert h_close.dtype == close.dtype and h_anomaly.dtype == np.float32 and h_embedding.dtype == np.float32
    assert (close == h_close).mean() >= 0.99 and (open_labels == h_open).mean() >= 0.99
    diff = np.abs(anomaly - h_anomaly)  # the random model's widened head amplifies rounding most
    assert diff.mean() <= 5e-3 and np.quantile(diff, 0.99) <= 2e-2 and diff.max() <= 5e-2
    assert np.abs(embedding - h_embedding).max() <= 2e-2 * max(1.0, float(np.abs(embedding).max()))
    assert not np.array_equal(embedding, h_embedding)  # it did run in half precision


def test_a_constant_beyond_float16_range_is_an_error_not_an_inf():
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "w"], ["y"], name="/model/mul")],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(np.array([1.0, 1e6], np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ValueError, match="beyond float16's range"):
        convert_body_to_fp16(model)
