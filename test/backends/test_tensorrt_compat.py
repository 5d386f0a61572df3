"""TensorRT 10.x / 11.x differences, decided without TensorRT: fake ``tensorrt`` modules shaped
like each version's published API (10.x: tensorrt-stubs 10.13; 11.x: 10.x minus what the
strong-typing migration guide lists as removed), the recipe choice, the weak-typing FP32
constraints, the inspector check of layer precisions and the engine-vs-ONNX I/O check."""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
import types
from pathlib import Path

import pytest
import torch

from owss_ros.backends import tensorrt_build
from owss_ros.backends.engine_cache import BuildEnvironment, EngineBuildOptions, EngineCache
from owss_ros.backends.onnx_metadata import GraphInfo
from owss_ros.backends.score_params import PARAM_NAMES
from owss_ros.backends.tensorrt_build import (
    TensorRTUnavailableError,
    engine_io_mismatches,
    half_precision_scoring_layers,
    import_tensorrt,
    keep_scoring_in_fp32,
    network_creation_flags,
    profile_shapes,
)
from owss_ros.backends.tensorrt_compat import (
    RECIPE_VERSION,
    UnsupportedTensorRTError,
    choose_recipe,
    parse_version,
    probe_capabilities,
    torch_dtype_map,
)


class _Enum:
    def __init__(self, **members):
        for name, value in members.items():
            setattr(self, name, value)


def fake_tensorrt(version: str, weak_typing: bool = True, int64: bool = True, strongly_typed: bool = True):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = version
    for i, name in enumerate(("float32", "float16", "int32", "int8", "uint8", "bool")):
        setattr(trt, name, f"DataType.{name}")
    if int64:
        trt.int64 = "DataType.int64"
    flags = {"TF32": 6}
    if weak_typing:
        flags.update(FP16=0, OBEY_PRECISION_CONSTRAINTS=9, PREFER_PRECISION_CONSTRAINTS=10)
    trt.BuilderFlag = _Enum(**flags)
    creation = {"EXPLICIT_BATCH": 0}
    if strongly_typed:
        creation["STRONGLY_TYPED"] = 1
    trt.NetworkDefinitionCreationFlag = _Enum(**creation)
    layer_attrs = {"name": "", "type": None}
    if weak_typing:
        layer_attrs.update(precision=None, set_output_type=lambda self, i, t: None)
    trt.ILayer = type("ILayer", (), layer_attrs)
    trt.Builder = type("Builder", (), {"platform_has_fast_fp16": True} if weak_typing else {})
    trt.IBuilderConfig = type("IBuilderConfig", (), {"create_timing_cache": None, "set_timing_cache": None,
                                                      "get_timing_cache": None})
    trt.ICudaEngine = type("ICudaEngine", (), {"create_engine_inspector": None})
    trt.LayerInformationFormat = _Enum(JSON=1, ONELINE=0)
    trt.ProfilingVerbosity = _Enum(DETAILED=2, LAYER_NAMES_ONLY=0, NONE=1)
    trt.IProgressMonitor = type("IProgressMonitor", (), {})
    trt.LayerType = _Enum(CONSTANT="CONSTANT", CONVOLUTION="CONVOLUTION", TOPK="TOPK", SHAPE="SHAPE")
    trt.TensorIOMode = _Enum(INPUT="INPUT", OUTPUT="OUTPUT")
    return trt


TRT_10_3 = dict(version="10.3.0.30")  # JetPack 6
TRT_10_13 = dict(version="10.13.0.35")
TRT_11 = dict(version="11.4.0.106", weak_typing=False)


def test_version_parsing():
    assert parse_version("10.13.0.35") == (10, 13, 0)
    assert parse_version("11.1") == (11, 1, 0)
    assert parse_version("8.6.1.post1") == (8, 6, 1)
    with pytest.raises(ValueError):
        parse_version("unknown")


@pytest.mark.parametrize("fake, fp16_recipe, strongly_typed", [
    (TRT_10_3, "weak-fp16-fp32-scoring", False),
    (TRT_10_13, "strong-fp16-body", True),
    (TRT_11, "strong-fp16-body", True),
])
def test_recipe_follows_what_the_version_offers(fake, fp16_recipe, strongly_typed):
    caps = probe_capabilities(fake_tensorrt(**fake))
    fp16 = choose_recipe(caps, "fp16")
    assert fp16.name == fp16_recipe and fp16.strongly_typed == strongly_typed
    assert fp16.fp16_body_onnx == (fp16_recipe == "strong-fp16-body") and fp16.weak_fp16 != fp16.fp16_body_onnx
    assert fp16.version == RECIPE_VERSION
    fp32 = choose_recipe(caps, "fp32")
    assert fp32.name == "fp32" and not fp32.weak_fp16 and not fp32.fp16_body_onnx


def test_tensorrt_11_capabilities_have_no_weak_typing():
    caps = probe_capabilities(fake_tensorrt(**TRT_11))
    assert not (caps.has_fp16_flag or caps.has_obey_constraints or caps.has_layer_precision
                or caps.has_platform_has_fast_fp16)
    assert caps.has_strongly_typed_flag and caps.strong_typing_recommended


def test_unsupported_versions_are_refused_with_a_message(monkeypatch):
    with pytest.raises(UnsupportedTensorRTError, match="TensorRT 8.6.1 is not supported.*10.x and 11.x"):
        choose_recipe(probe_capabilities(fake_tensorrt("8.6.1", int64=False)), "fp16")
    monkeypatch.setitem(sys.modules, "tensorrt", fake_tensorrt("8.6.1", int64=False))
    with pytest.raises(TensorRTUnavailableError, match="8.6.1 is not supported"):
        import_tensorrt()
    # a version offering neither strong typing nor the FP16 flag can still build FP32
    bare = probe_capabilities(fake_tensorrt("10.0.1", weak_typing=False, strongly_typed=False))
    with pytest.raises(UnsupportedTensorRTError, match="build with precision fp32"):
        choose_recipe(bare, "fp16")
    assert choose_recipe(bare, "fp32").name == "fp32"


def test_a_stub_or_namespace_package_is_not_mistaken_for_tensorrt(monkeypatch):
    """`pip install tensorrt-stubs` alone makes `import tensorrt` succeed as an empty namespace."""
    monkeypatch.setitem(sys.modules, "tensorrt", types.ModuleType("tensorrt"))
    with pytest.raises(TensorRTUnavailableError, match="no __version__"):
        import_tensorrt()
    ok, reason = tensorrt_build.tensorrt_availability()
    assert not ok and "not installed properly" in reason


def test_dtype_map_skips_types_this_tensorrt_lacks():
    assert torch.int64 not in torch_dtype_map(fake_tensorrt("8.6.1", int64=False)).values()
    assert torch_dtype_map(fake_tensorrt(**TRT_10_13))["DataType.int64"] is torch.int64


def test_network_flags_per_recipe():
    for fake in (TRT_10_3, TRT_10_13, TRT_11):
        trt = fake_tensorrt(**fake)
        caps = probe_capabilities(trt)
        flags = network_creation_flags(trt, caps, choose_recipe(caps, "fp16"))
        assert flags == (0 if fake is TRT_10_3 else 1 << 1)  # EXPLICIT_BATCH is never passed on >= 10


class _Tensor:
    def __init__(self, dtype):
        self.dtype = dtype


class _Layer:
    def __init__(self, name, type_, inputs, outputs):
        self.name, self.type = name, type_
        self._inputs, self._outputs = [_Tensor(t) for t in inputs], [_Tensor(t) for t in outputs]
        self.num_inputs, self.num_outputs = len(inputs), len(outputs)
        self.precision = None
        self.output_types = {}

    def get_input(self, i):
        return self._inputs[i]

    def get_output(self, i):
        return self._outputs[i]

    def set_output_type(self, i, dtype):
        self.output_types[i] = dtype


class _Network:
    def __init__(self, layers):
        self.layers = layers
        self.num_layers = len(layers)

    def get_layer(self, i):
        return self.layers[i]


def test_weak_fp16_constrains_every_scoring_layer_that_touches_floats():
    trt = fake_tensorrt(**TRT_10_3)
    f32, f16, i32, b = trt.float32, trt.float16, trt.int32, trt.bool
    layers = [
        _Layer("/model/net/conv/Conv", "CONVOLUTION", [f32], [f32]),  # body: free to run FP16
        _Layer("/Resize", "RESIZE", [f32], [f32]),
        _Layer("/ArgMin", "TOPK", [f32], [f32, i32]),  # float in, index out: was skipped before
        _Layer("/Less", "ELEMENTWISE", [f32, f32], [b]),  # comparison of distances
        _Layer("/Shape", "SHAPE", [f32], [i32]),
        _Layer("/Constant_3", "CONSTANT", [], [f32]),
        _Layer("/Cast_2", "CAST", [b], [i32]),  # no float anywhere: nothing to constrain
    ]
    constrained = keep_scoring_in_fp32(trt, _Network(layers))
    assert constrained == ["/Resize", "/ArgMin", "/Less", "/Shape"]
    by_name = {layer.name: layer for layer in layers}
    assert all(by_name[n].precision == f32 for n in constrained)
    assert by_name["/ArgMin"].output_types == {0: f32}  # the int32 index output keeps its type
    assert by_name["/Less"].output_types == {}
    assert by_name["/model/net/conv/Conv"].precision is None and by_name["/Constant_3"].precision is None


def test_inspector_check_flags_half_precision_scoring_layers():
    def io(*datatypes):
        return [{"Name": f"t{i}", "Format/Datatype": d} for i, d in enumerate(datatypes)]

    layers = [
        {"Name": "/model/net/a/Conv + /model/net/a/Relu", "Inputs": io("Half"), "Outputs": io("Half")},
        {"Name": "/normalizer/Mul + x__cast_fp16", "Inputs": io("Float"), "Outputs": io("Row major linear FP16")},
        {"Name": "/normalizer/Mul", "Inputs": io("Float"), "Outputs": io("Half")},  # weak typing, no Cast
        {"Name": "/model/net/head/Conv + embedding__cast_out", "Inputs": io("Half"), "Outputs": io("Float")},
        {"Name": "/Resize", "Inputs": io("Float"), "Outputs": io("Float")},
        {"Name": "/ReduceSum", "Inputs": io("Half"), "Outputs": io("Float")},  # reads half: computes in half
        {"Name": "/model/net/last/Conv + /Sub", "Inputs": io("Half"), "Outputs": io("Half")},  # fused across
        {"Name": "/ArgMin", "Inputs": io("Float"), "Outputs": io("Float", "Int32")},
    ]
    assert half_precision_scoring_layers(layers) == ["/normalizer/Mul", "/ReduceSum",
                                                     "/model/net/last/Conv + /Sub"]


class _Engine:
    def __init__(self, tensors, profiles=1):
        self.tensors = tensors  # name -> (mode, dtype, shape, profile)
        self.num_io_tensors = len(tensors)
        self.num_optimization_profiles = profiles

    def get_tensor_name(self, i):
        return list(self.tensors)[i]

    def get_tensor_mode(self, name):
        return self.tensors[name][0]

    def get_tensor_dtype(self, name):
        return self.tensors[name][1]

    def get_tensor_shape(self, name):
        return self.tensors[name][2]

    def get_tensor_profile_shape(self, name, index):
        return self.tensors[name][3]


INFO = GraphInfo("0" * 64, tuple(f"c{i}" for i in range(19)), 19, 4, (64, 128), "input", PARAM_NAMES, "int32")


def _signature_and_engine():
    trt = fake_tensorrt(**TRT_10_13)
    options = EngineBuildOptions(max_prototypes=4)
    profile = profile_shapes(INFO, options)
    signature = {
        "image": (True, "uint8", (1, 64, 128, 3)),
        "novel_prototypes": (True, "float32", (-1, 19)),
        "score_params": (True, "float32", (11,)),
        "close_labels": (False, "int32", (1, 64, 128)),
        "embedding": (False, "float32", (1, 19, -1, -1)),
    }
    engine = {
        "image": ("INPUT", trt.uint8, (1, 64, 128, 3), None),
        "novel_prototypes": ("INPUT", trt.float32, (-1, 19), profile["novel_prototypes"]),
        "score_params": ("INPUT", trt.float32, (11,), None),
        "close_labels": ("OUTPUT", trt.int32, (1, 64, 128), None),
        "embedding": ("OUTPUT", trt.float32, (1, 19, 8, 16), None),  # TensorRT may resolve a dynamic dim
    }
    return trt, signature, engine, profile


def test_engine_io_check_accepts_a_matching_engine_and_names_each_mismatch():
    trt, signature, tensors, profile = _signature_and_engine()
    assert engine_io_mismatches(_Engine(tensors), trt, signature, profile) == []

    wrong = dict(tensors)
    wrong["close_labels"] = ("OUTPUT", trt.uint8, (1, 64, 128), None)
    wrong["image"] = ("INPUT", trt.uint8, (1, 32, 128, 3), None)
    wrong["novel_prototypes"] = ("INPUT", trt.float32, (-1, 19), ((1, 19), (2, 19), (4, 19)))  # opt K 2
    problems = engine_io_mismatches(_Engine(wrong), trt, signature, profile)
    assert len(problems) == 3
    assert any(p.startswith("close_labels: dtype") for p in problems)
    assert any(p.startswith("image: shape") for p in problems)
    assert any(p.startswith("novel_prototypes: profile") for p in problems)

    renamed = {("labels" if k == "close_labels" else k): v for k, v in tensors.items()}
    assert "tensors" in engine_io_mismatches(_Engine(renamed), trt, signature, profile)[0]


def test_opt_k_is_what_the_node_feeds():
    assert EngineBuildOptions(max_prototypes=16).opt_prototypes == 16
    assert profile_shapes(INFO, EngineBuildOptions(max_prototypes=4))["novel_valid"] == ((1,), (4,), (4,))


def test_recipe_is_part_of_the_cache_key(tmp_path):
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"graph")
    cache = EngineCache(tmp_path / "engines")
    weak = BuildEnvironment("10.3.0", "Orin", "8.7", "weak-fp16-fp32-scoring")
    strong = BuildEnvironment("10.3.0", "Orin", "8.7", "strong-fp16-body")
    a = cache.get_or_build(onnx_file, weak, EngineBuildOptions(), lambda p, o: b"weak")
    b = cache.get_or_build(onnx_file, strong, EngineBuildOptions(), lambda p, o: b"strong")
    assert a.key != b.key and a.built and b.built
    assert a.components["recipe_version"] == RECIPE_VERSION
    assert cache.timing_cache_path(weak) == cache.timing_cache_path(strong)  # timings are per TensorRT + GPU
    assert cache.timing_cache_path(weak) != cache.timing_cache_path(BuildEnvironment("10.3.0", "A100", "8.0"))


def _build_in_process(directory: str, onnx_file: str, counter: str, result: str) -> None:
    def slow_build(path, options):
        with open(counter, "a") as f:
            f.write("built\n")
        time.sleep(1.5)
        return b"engine bytes"

    cached = EngineCache(directory, lock_poll_seconds=0.05).get_or_build(
        onnx_file, BuildEnvironment("10.3.0", "Orin", "8.7", "fp32"), EngineBuildOptions(precision="fp32"),
        slow_build)
    Path(result).write_text(json.dumps({"built": cached.built, "path": str(cached.path)}))


def test_two_processes_building_the_same_engine_build_it_once(tmp_path):
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"graph")
    counter = tmp_path / "builds.txt"
    context = multiprocessing.get_context("spawn")
    procs = [context.Process(target=_build_in_process,
                             args=(str(tmp_path / "engines"), str(onnx_file), str(counter), str(tmp_path / f"r{i}")))
             for i in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    results = [json.loads((tmp_path / f"r{i}").read_text()) for i in range(2)]
    assert counter.read_text().count("built") == 1
    assert sorted(r["built"] for r in results) == [False, True]
    assert results[0]["path"] == results[1]["path"]


def test_gpu_check_skips_with_the_reason_where_it_cannot_run():
    import subprocess

    if tensorrt_build.tensorrt_availability()[0]:
        pytest.skip("TensorRT and a CUDA GPU are here: run bash scripts/gpu_check.sh instead")
    root = Path(__file__).resolve().parents[2]
    for command in (["bash", "scripts/gpu_check.sh"], [sys.executable, "scripts/gpu_check.py"]):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("SKIPPED: ") and ("CUDA GPU" in done.stdout or "TensorRT" in done.stdout)
