"""create_backend: the 'auto' choice, on-the-fly ONNX export cache, and actionable errors."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest
from backend_test_helpers import graph_inputs, save_random_model, structured_frame

from owss_ros.backends.factory import (
    BackendUnavailableError,
    auto_candidates,
    backend_availability,
    create_backend,
)
from owss_ros.backends.onnx_export import ExportOptions, export_onnx
from owss_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from owss_ros.backends.torch_backend import TorchBackend
from owss_ros.core.checkpoint import file_fingerprint


def test_auto_picks_onnxruntime_cpu_on_this_machine(random_model_path, tmp_path):
    availability = backend_availability()
    if availability["tensorrt"].available or "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has a GPU backend; 'auto' is expected to pick it")
    assert auto_candidates() == [("onnxruntime", "cpu")]
    backend = create_backend("auto", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path,
                             max_prototypes=4)
    assert isinstance(backend, OnnxRuntimeBackend)
    assert backend.describe()["providers"] == ["CPUExecutionProvider"]
    result = backend.infer(structured_frame((64, 128)), graph_inputs())
    assert result.close_labels.shape == (64, 128)


def test_onnx_is_exported_once_per_weights_and_reused(random_model_path, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="owss_ros.backends.factory"):
        first = create_backend("onnxruntime", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path,
                               max_prototypes=4)
        assert any("exporting" in r.getMessage() for r in caplog.records)
        caplog.clear()
        mtime = first.onnx_path.stat().st_mtime_ns
        second = create_backend("onnxruntime", model_path=random_model_path, input_hw=(128, 256),
                                cache_dir=tmp_path, max_prototypes=4)
        assert any("using cached ONNX" in r.getMessage() for r in caplog.records)
    assert second.onnx_path == first.onnx_path and second.onnx_path.stat().st_mtime_ns == mtime
    assert file_fingerprint(random_model_path)[:16] in first.onnx_path.name
    assert first.onnx_path.parent == tmp_path / "onnx"

    other_weights = save_random_model(tmp_path / "other.safetensors", seed=1)
    third = create_backend("onnxruntime", model_path=other_weights, input_hw=(64, 128), cache_dir=tmp_path,
                           max_prototypes=4)
    assert third.onnx_path != first.onnx_path
    assert third.info.model_fingerprint == file_fingerprint(other_weights)


def test_named_backends_and_their_errors(random_model_path, tmp_path):
    torch_backend = create_backend("torch", model_path=random_model_path, input_hw=(64, 128))
    assert isinstance(torch_backend, TorchBackend)
    if not backend_availability()["tensorrt"].available:
        unavailable = "backend 'tensorrt' unavailable: (TensorRT not installed|no CUDA GPU)"
        with pytest.raises(BackendUnavailableError, match=unavailable):
            create_backend("tensorrt", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown backend 'tflite'"):
        create_backend("tflite", model_path=random_model_path)
    with pytest.raises(FileNotFoundError, match="model weights not found.*owss_ros train"):
        create_backend("onnxruntime", model_path=tmp_path / "missing.safetensors", input_hw=(64, 128),
                       cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="owss_ros export"):
        create_backend("onnxruntime", onnx_path=tmp_path / "missing.onnx", input_hw=(64, 128))
    with pytest.raises(ValueError, match="onnxruntime provider.*not available"):
        create_backend("onnxruntime", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path,
                       providers="tensorrt" if "TensorrtExecutionProvider" not in ort.get_available_providers()
                       else "nonexistent")


def test_given_onnx_must_come_from_the_given_weights(random_model_path, tmp_path):
    other_weights = save_random_model(tmp_path / "other.safetensors", seed=2)
    stale = export_onnx(other_weights, tmp_path / "stale.onnx", ExportOptions(max_prototypes=2)).path
    with pytest.raises(ValueError, match="exported from other weights.*owss_ros export"):
        create_backend("onnxruntime", model_path=random_model_path, onnx_path=stale, input_hw=(64, 128))
    backend = create_backend("onnxruntime", model_path=other_weights, onnx_path=stale, input_hw=(64, 128))
    result = backend.infer(structured_frame((64, 128)), graph_inputs(2))
    assert result.anomaly.dtype == np.float32


def test_onnx_shipped_beside_the_model_is_used_when_it_matches(tmp_path):
    from owss_ros.backends.factory import ensure_onnx

    model = save_random_model(tmp_path / "shipped" / "model.safetensors", seed=3)
    shipped = model.with_suffix(".onnx")
    export_onnx(model, shipped, ExportOptions(max_prototypes=4))
    assert ensure_onnx(model, tmp_path / "cache", max_prototypes=4) == shipped
    assert not (tmp_path / "cache").exists()  # nothing exported at start-up
    # other options, or an export of other weights under the same name, are not used
    assert ensure_onnx(model, tmp_path / "cache", max_prototypes=8) != shipped
    other = save_random_model(tmp_path / "other" / "model.safetensors", seed=4)
    shipped.replace(other.with_suffix(".onnx"))
    export_onnx(other, shipped, ExportOptions(max_prototypes=4))  # other weights' graph beside `model`
    assert ensure_onnx(model, tmp_path / "cache", max_prototypes=4) != shipped
