"""ONNX export: validity, metadata, determinism, atomic writes, fixed-size and int32 variants."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from backend_test_helpers import TEST_MAX_PROTOTYPES, graph_inputs, structured_frame

from owss_ros.backends import onnx_export
from owss_ros.backends.onnx_export import ExportOptions, export_onnx
from owss_ros.backends.onnx_metadata import DEFAULT_SCORE_RESOLUTION, FORMAT_VERSION
from owss_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from owss_ros.backends.pipeline import INPUT_NAMES, OUTPUT_NAMES, FramePipeline
from owss_ros.backends.score_params import PARAM_NAMES
from owss_ros.backends.torch_backend import TorchBackend
from owss_ros.core.checkpoint import file_fingerprint, load_model, read_spec


def test_export_passes_checker_and_carries_metadata(dynamic_export, model_path):
    model = onnx.load(str(dynamic_export.path))
    onnx.checker.check_model(model, full_check=True)
    assert "full_check passed" in dynamic_export.checker
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert [i.name for i in model.graph.input] == list(INPUT_NAMES)
    assert [o.name for o in model.graph.output] == list(OUTPUT_NAMES)
    image_dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert image_dims == [1, "height", "width", 3]
    k_dims = [i.type.tensor_type.shape.dim[0].dim_param for i in model.graph.input[1:4]]
    assert k_dims == ["prototypes"] * 3

    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["owss_ros.format_version"] == str(FORMAT_VERSION)
    assert meta["owss_ros.model_fingerprint"] == file_fingerprint(model_path)
    assert json.loads(meta["owss_ros.class_names"]) == list(read_spec(model_path).class_names)
    assert meta["owss_ros.embedding_dim"] == "19"
    assert meta["owss_ros.max_prototypes"] == str(TEST_MAX_PROTOTYPES)
    assert meta["owss_ros.input_size"] == "dynamic"
    assert meta["owss_ros.score_resolution"] == DEFAULT_SCORE_RESOLUTION
    assert json.loads(meta["owss_ros.param_names"]) == list(PARAM_NAMES)
    assert meta["owss_ros.label_dtype"] == "uint8"
    data = dynamic_export.path.read_bytes()
    assert dynamic_export.sha256 == hashlib.sha256(data).hexdigest()
    assert dynamic_export.size_bytes == len(data)


def test_export_is_deterministic(random_model_path, tmp_path):
    """Same weights + options -> same bytes, in this process and in another one with another
    hash seed (the ONNX sha256 keys the TensorRT engine cache)."""
    first = export_onnx(random_model_path, tmp_path / "a.onnx", ExportOptions(max_prototypes=TEST_MAX_PROTOTYPES))
    second = export_onnx(random_model_path, tmp_path / "b.onnx", ExportOptions(max_prototypes=TEST_MAX_PROTOTYPES))
    assert first.sha256 == second.sha256
    assert (tmp_path / "a.onnx").read_bytes() == (tmp_path / "b.onnx").read_bytes()
    repo = Path(__file__).resolve().parents[2]
    script = ("import sys; from owss_ros.backends.onnx_export import ExportOptions, export_onnx; "
              "export_onnx(sys.argv[1], sys.argv[2], ExportOptions(max_prototypes=int(sys.argv[3])))")
    subprocess.run([sys.executable, "-c", script, str(random_model_path), str(tmp_path / "c.onnx"),
                    str(TEST_MAX_PROTOTYPES)], cwd=repo, env={**os.environ, "PYTHONHASHSEED": "12345"},
                   check=True, capture_output=True)
    assert hashlib.sha256((tmp_path / "c.onnx").read_bytes()).hexdigest() == first.sha256


def test_failed_export_leaves_previous_file_untouched(random_model_path, tmp_path, monkeypatch):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"previous export")

    def broken_validation(model, label_dtype):
        raise ValueError("simulated validation failure")

    monkeypatch.setattr(onnx_export, "validate_graph", broken_validation)
    with pytest.raises(ValueError, match="simulated"):
        export_onnx(random_model_path, out)
    assert out.read_bytes() == b"previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


def test_fixed_size_int32_export_refuses_other_sizes_and_letterboxes_frames(random_model_path, tmp_path):
    """Fixed 64x128 export with int32 labels (the TensorRT variant), run by onnxruntime."""
    report = export_onnx(random_model_path, tmp_path / "fixed.onnx",
                         ExportOptions(max_prototypes=2, fixed_hw=(64, 128), label_dtype="int32"))
    assert report.info.input_hw == (64, 128)
    model = onnx.load(str(report.path))
    assert {p.key: p.value for p in model.metadata_props}["owss_ros.input_size"] == "64x128"
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [1, 64, 128, 3]
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.INT32

    # the raw graph refuses another size ...
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    novel = graph_inputs(2)
    feed = {"image": np.zeros((1, 128, 256, 3), np.uint8), **novel.feed()}
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        session.run(None, feed)
    # ... the backend refuses another model input size with an actionable message ...
    with pytest.raises(ValueError, match="fixed input size 64x128.*--fixed-size 128x256"):
        OnnxRuntimeBackend(report.path, input_hw=(128, 256))
    # ... and letterboxes camera frames of any size into 64x128.
    backend = OnnxRuntimeBackend(report.path, output_resolution="camera")
    assert backend.input_hw == (64, 128)
    frame = structured_frame((90, 300))
    result = backend.infer(frame, novel)
    assert result.close_labels.shape == (90, 300) and result.close_labels.dtype == np.uint8
    assert result.anomaly.shape == (90, 300) and result.anomaly.dtype == np.float32

    model_torch, _ = load_model(random_model_path)
    reference = TorchBackend(FramePipeline(model_torch), (64, 128), output_resolution="camera")
    expected = reference.infer(frame, novel)
    assert (result.close_labels == expected.close_labels).mean() >= 0.999
    assert (result.open_labels == expected.open_labels).mean() >= 0.999
    assert np.abs(result.anomaly - expected.anomaly).max() <= 1e-3


def test_feature_resolution_export_matches_torch(random_model_path, tmp_path):
    report = export_onnx(random_model_path, tmp_path / "feature.onnx",
                         ExportOptions(max_prototypes=2, score_resolution="feature"))
    session_backend = OnnxRuntimeBackend(report.path, input_hw=(128, 256))
    model, _ = load_model(random_model_path)
    reference = TorchBackend(FramePipeline(model, "feature"), (128, 256))
    frame = structured_frame((96, 256))  # letterboxed: 96 of 128 rows are image
    got = session_backend.infer(frame, graph_inputs(2))
    expected = reference.infer(frame, graph_inputs(2))
    assert got.close_labels.shape == (96, 256)  # upsampled from 1/8 and cropped
    assert (got.close_labels == expected.close_labels).mean() >= 0.999
    assert np.abs(got.anomaly - expected.anomaly).max() <= 1e-3
