"""Every exported graph variant against the ONNX-TensorRT parser's documented rules.

Rules: owss_ros/backends/onnx_tensorrt_lint.py, written from
https://github.com/onnx/onnx-tensorrt/blob/main/docs/operators.md (ONNX-TensorRT 10.1 GA) and the
parser's Conv importer. Variants: every score resolution x label dtype the export offers, a
fixed-size export, and the fp16-body graph the strongly-typed TensorRT FP16 build parses.
The linter itself is checked on small graphs that break one rule each.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from owss_ros.backends.onnx_export import ExportOptions, export_onnx
from owss_ros.backends.onnx_fp16 import convert_body_to_fp16
from owss_ros.backends.onnx_tensorrt_lint import lint_tensorrt
from owss_ros.backends.pipeline import LABEL_DTYPES, SCORE_RESOLUTIONS

VARIANTS = [ExportOptions(max_prototypes=4, score_resolution=r, label_dtype=d)
            for r, d in itertools.product(SCORE_RESOLUTIONS, LABEL_DTYPES)]
VARIANTS.append(ExportOptions(max_prototypes=4, fixed_hw=(64, 128), label_dtype="int32"))
REFINED_VARIANTS = [ExportOptions(max_prototypes=4, score_resolution=r, label_dtype="int32") for r in ("input", "feature")]


@pytest.fixture(scope="module")
def exports(random_model_path, tmp_path_factory):
    folder = tmp_path_factory.mktemp("lint")
    return {o.cache_tag(): onnx.load(str(export_onnx(random_model_path, folder / f"{o.cache_tag()}.onnx", o).path))
            for o in VARIANTS}


@pytest.mark.parametrize("options", VARIANTS, ids=[o.cache_tag() for o in VARIANTS])
@pytest.mark.parametrize("body", ["fp32", "fp16"])
def test_exported_variant_passes_the_parser_rules(exports, options, body):
    model = exports[options.cache_tag()]
    if body == "fp16":
        model = convert_body_to_fp16(model)
    violations = lint_tensorrt(model)
    assert not violations, "\n".join(map(str, violations))


@pytest.mark.parametrize("options", REFINED_VARIANTS, ids=[o.cache_tag() for o in REFINED_VARIANTS])
def test_a_stride_4_refined_model_exports_within_the_parser_rules(tmp_path, options):
    from backend_test_helpers import save_random_model

    path = save_random_model(tmp_path / "s4.safetensors", seed=2, backbone="fast_scnn_s4")
    model = onnx.load(str(export_onnx(path, tmp_path / "s4.onnx", options).path))
    for body in (model, convert_body_to_fp16(model)):
        violations = lint_tensorrt(body)
        assert not violations, "\n".join(map(str, violations))


def _graph(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _value(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


def _rules(model):
    return sorted({v.rule for v in lint_tensorrt(model)})


def test_linter_flags_a_uint8_intermediate_tensor():
    model = _graph([helper.make_node("Cast", ["x"], ["y"], to=TensorProto.UINT8, name="c1"),
                    helper.make_node("Cast", ["y"], ["z"], to=TensorProto.INT32, name="c2")],
                   [_value("x", TensorProto.FLOAT, [4])], [_value("z", TensorProto.INT32, [4])])
    assert _rules(model) == ["uint8-intermediate"]


def test_linter_flags_a_runtime_conv_weight_with_dynamic_output_channels():
    model = _graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                   [_value("x", TensorProto.FLOAT, [1, 3, 8, 8]), _value("w", TensorProto.FLOAT, ["K", 3, 1, 1])],
                   [_value("y", TensorProto.FLOAT, [1, "K", 8, 8])])
    assert _rules(model) == ["conv-dynamic-output-channels"]
    static = _graph([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")],
                    [_value("x", TensorProto.FLOAT, [1, 3, 8, 8]), _value("w", TensorProto.FLOAT, [5, 3, 1, 1])],
                    [_value("y", TensorProto.FLOAT, [1, 5, 8, 8])])
    assert _rules(static) == []


def test_linter_flags_types_operators_axes_and_resize_modes():
    softmax_int = _graph([helper.make_node("Softmax", ["x"], ["y"], name="s")],
                         [_value("x", TensorProto.INT32, [2, 3])], [_value("y", TensorProto.INT32, [2, 3])])
    assert _rules(softmax_int) == ["type"]
    bitshift = _graph([helper.make_node("BitShift", ["x", "x"], ["y"], direction="LEFT", name="b")],
                      [_value("x", TensorProto.UINT32, [2])], [_value("y", TensorProto.UINT32, [2])])
    assert "operator" in _rules(bitshift)
    dynamic_axes = _graph([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0, name="r")],
                          [_value("x", TensorProto.FLOAT, [2, 3]), _value("axes", TensorProto.INT64, [1])],
                          [_value("y", TensorProto.FLOAT, None)])
    assert _rules(dynamic_axes) == ["constant-axes"]
    const_axes = _graph([helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=0, name="r")],
                        [_value("x", TensorProto.FLOAT, [2, 3])], [_value("y", TensorProto.FLOAT, [2])],
                        [numpy_helper.from_array(np.array([1], np.int64), "axes")])
    assert _rules(const_axes) == []
    cubic = _graph([helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="cubic", name="rs")],
                   [_value("x", TensorProto.FLOAT, [1, 1, 4, 4])], [_value("y", TensorProto.FLOAT, [1, 1, 8, 8])],
                   [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")])
    assert _rules(cubic) == ["resize"]
    double = _graph([helper.make_node("Relu", ["x"], ["y"], name="r")],
                    [_value("x", TensorProto.DOUBLE, [2])], [_value("y", TensorProto.DOUBLE, [2])])
    assert _rules(double) == ["double"]
    assert _rules(_graph([helper.make_node("Relu", ["x"], ["y"])], [_value("x", TensorProto.FLOAT, [2])],
                         [_value("y", TensorProto.FLOAT, [2])], opset=21)) == ["opset"]
