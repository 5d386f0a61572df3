"""TensorRT backend: clear errors where it cannot run (here), the real build + agreement on a GPU.

The ``gpu`` tests skip here with "TensorRT not installed" / "no CUDA GPU"; on a machine with
both they build real engines (FP32 and FP16) from the int32-label export and compare them
with the torch reference.
"""

from __future__ import annotations

import builtins
import importlib.util

import numpy as np
import pytest
import torch
from backend_test_helpers import graph_inputs, structured_frame

from owss_ros.backends.engine_cache import EngineBuildOptions, ImageProfile
from owss_ros.backends.onnx_export import ExportOptions, export_onnx
from owss_ros.backends.onnx_metadata import GraphInfo
from owss_ros.backends.pipeline import FramePipeline
from owss_ros.backends.score_params import PARAM_NAMES
from owss_ros.backends.tensorrt_backend import TensorRTBackend, prepare_engine
from owss_ros.backends.tensorrt_build import (
    TensorRTUnavailableError,
    engine_layer_information,
    half_precision_scoring_layers,
    import_tensorrt,
    profile_shapes,
    require_cuda_gpu,
)
from owss_ros.backends.torch_backend import TorchBackend
from owss_ros.core.checkpoint import load_model
from owss_ros.core.class_set import ClassSet

INFO = GraphInfo("0" * 64, tuple(f"c{i}" for i in range(19)), 19, 8, None, "input", PARAM_NAMES, "int32")


def _gpu_skip_reason() -> str | None:
    if importlib.util.find_spec("tensorrt") is None:
        return "TensorRT not installed"
    if not torch.cuda.is_available():
        return "no CUDA GPU"
    return None


def test_missing_tensorrt_is_reported_clearly(monkeypatch):
    real_import = builtins.__import__

    def no_tensorrt(name, *args, **kwargs):
        if name == "tensorrt":
            raise ImportError("No module named 'tensorrt'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorrt)
    with pytest.raises(TensorRTUnavailableError, match="TensorRT not installed.*JetPack.*onnxruntime"):
        import_tensorrt()
    with pytest.raises(TensorRTUnavailableError, match="TensorRT not installed"):
        TensorRTBackend("unused.engine", INFO, (64, 128))


def test_missing_gpu_is_reported_clearly(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(TensorRTUnavailableError, match="no CUDA GPU"):
        require_cuda_gpu()


def test_profile_covers_k_range_and_image_size():
    options = EngineBuildOptions(max_prototypes=8, opt_prototypes=2,
                                 image=ImageProfile((256, 512), (512, 1024), (720, 1280)))
    shapes = profile_shapes(INFO, options)
    assert shapes["novel_prototypes"] == ((1, 19), (2, 19), (8, 19))
    assert shapes["novel_thresholds"] == shapes["novel_valid"] == ((1,), (2,), (8,))
    assert shapes["image"] == ((1, 256, 512, 3), (1, 512, 1024, 3), (1, 720, 1280, 3))
    assert shapes["score_params"] == ((11,), (11,), (11,))
    fixed = GraphInfo(**{**INFO.__dict__, "input_hw": (64, 128)})
    assert profile_shapes(fixed, EngineBuildOptions(max_prototypes=8))["image"] == ((1, 64, 128, 3),) * 3
    with pytest.raises(ValueError, match="dynamic image size"):
        profile_shapes(INFO, EngineBuildOptions(max_prototypes=8))
    with pytest.raises(ValueError, match="exceeds"):
        profile_shapes(INFO, EngineBuildOptions(max_prototypes=16))


@pytest.mark.gpu
@pytest.mark.parametrize("precision, label_agreement, anomaly_tolerance, anomaly_max", [
    ("fp32", 0.999, 1e-3, 1e-3),
    ("fp16", 0.99, 2e-2, 5e-2),  # p99 / max; the random model's widened head amplifies FP16 rounding most
])
def test_tensorrt_engine_matches_torch(model_path, tmp_path, precision, label_agreement, anomaly_tolerance,
                                       anomaly_max):
    reason = _gpu_skip_reason()
    if reason:
        pytest.skip(reason)
    hw = (128, 256)
    export = export_onnx(model_path, tmp_path / "trt.onnx", ExportOptions(max_prototypes=4, label_dtype="int32"))
    cached, info = prepare_engine(export.path, hw, tmp_path / "engines", precision=precision)
    assert cached.built
    again, _ = prepare_engine(export.path, hw, tmp_path / "engines", precision=precision)
    assert not again.built and again.path == cached.path

    backend = TensorRTBackend(cached.path, info, hw)
    layers = engine_layer_information(backend.engine)  # IEngineInspector, DETAILED verbosity
    assert layers and half_precision_scoring_layers(layers) == []  # FP16 keeps scoring in FP32
    model, _ = load_model(model_path)
    reference = TorchBackend(FramePipeline(model), hw)
    frame = structured_frame(hw, seed=7)
    classes = ClassSet.from_base([f"c{i}" for i in range(19)], capacity=4)
    got = backend.infer(frame, graph_inputs(class_set=classes))
    expected = reference.infer(frame, graph_inputs(class_set=classes))
    diff_map = np.abs(got.anomaly - expected.anomaly)
    diff = float(diff_map.max())
    print(f"TensorRT {precision}: close equal {(got.close_labels == expected.close_labels).mean():.5f}, "
          f"anomaly max |diff| {diff:.2e}")
    assert got.close_labels.dtype == np.uint8 and got.close_labels.shape == hw
    assert (got.close_labels == expected.close_labels).mean() >= label_agreement
    assert (got.open_labels == expected.open_labels).mean() >= label_agreement
    assert float(np.quantile(diff_map, 0.99)) <= anomaly_tolerance and diff <= anomaly_max

    prototype = backend.embed(frame)[:, 60, 130]
    assert np.abs(backend.embed(frame) - reference.embed(frame)).max() <= 10 * anomaly_tolerance
    taught, _ = classes.with_novel("cone", prototype, lambda_novel=4.0)
    with_class = backend.infer(frame, graph_inputs(class_set=taught))
    assert with_class.open_labels[60, 130] == 19
    one_slot = backend.infer(frame, graph_inputs(1, lambda_out=1.0))  # K change: rebinding
    assert (one_slot.open_labels == one_slot.close_labels).all()
