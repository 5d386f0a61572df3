"""onnxruntime backend against the torch reference, and runtime inputs that need no re-export."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from backend_test_helpers import SMALL_SIZES, TEST_MAX_PROTOTYPES, graph_inputs, structured_frame

from owss_ros.backends.onnxruntime_backend import CPU, CUDA, TENSORRT, OnnxRuntimeBackend, resolve_providers
from owss_ros.backends.pipeline import FramePipeline
from owss_ros.backends.torch_backend import TorchBackend
from owss_ros.core.checkpoint import load_model
from owss_ros.core.class_set import ClassSet
from owss_ros.core.classes import UNKNOWN_ID

ANOMALY_TOLERANCE = 1e-3
LABEL_AGREEMENT = 0.999


def _pair(model_path, onnx_path, hw, output_resolution="model"):
    model, _ = load_model(model_path)
    return (TorchBackend(FramePipeline(model), hw, output_resolution=output_resolution),
            OnnxRuntimeBackend(onnx_path, hw, output_resolution))


def _assert_agree(expected, got, label=""):
    close = (expected.close_labels == got.close_labels).mean()
    open_ = (expected.open_labels == got.open_labels).mean()
    diff = float(np.abs(expected.anomaly - got.anomaly).max())
    print(f"{label}: close labels equal {close:.5f}, open labels equal {open_:.5f}, anomaly max |diff| {diff:.2e}")
    assert close >= LABEL_AGREEMENT and open_ >= LABEL_AGREEMENT
    assert diff <= ANOMALY_TOLERANCE


@pytest.mark.parametrize("hw", SMALL_SIZES, ids=lambda hw: f"{hw[0]}x{hw[1]}")
def test_onnxruntime_matches_torch_at_two_sizes_from_one_export(model_path, dynamic_export, hw):
    torch_backend, ort_backend = _pair(model_path, dynamic_export.path, hw)
    frame = structured_frame(hw, seed=hw[0])
    expected = torch_backend.infer(frame, graph_inputs())
    got = ort_backend.infer(frame, graph_inputs())
    assert got.close_labels.shape == hw and got.close_labels.dtype == np.uint8
    assert got.open_labels.dtype == np.uint8 and got.anomaly.dtype == np.float32
    assert len(np.unique(expected.close_labels)) >= 3  # a label map worth comparing
    _assert_agree(expected, got, f"{hw}")
    assert set(got.timings_ms) == {"preprocess", "inference", "copy_out"}

    embedding = ort_backend.embed(frame)
    assert embedding.shape == (19, *hw)
    assert np.abs(embedding - torch_backend.embed(frame)).max() <= 1e-3


def test_camera_resolution_and_letterbox_match_torch(model_path, dynamic_export):
    torch_backend, ort_backend = _pair(model_path, dynamic_export.path, (64, 128), "camera")
    frame = structured_frame((100, 120))  # taller aspect: padded on the right
    expected = torch_backend.infer(frame, graph_inputs())
    got = ort_backend.infer(frame, graph_inputs())
    assert got.close_labels.shape == (100, 120) and got.anomaly.shape == (100, 120)
    _assert_agree(expected, got, "camera 100x120")
    assert ort_backend.embed(frame).shape == (19, 64, 77)  # scaled frame, padding cropped


def test_taught_prototype_changes_output_without_reexport(model_path, dynamic_export):
    torch_backend, ort_backend = _pair(model_path, dynamic_export.path, (128, 256))
    onnx_bytes = dynamic_export.path.read_bytes()
    session = ort_backend.session
    frame = structured_frame((128, 256), seed=3)
    classes = ClassSet.from_base([f"c{i}" for i in range(19)], capacity=TEST_MAX_PROTOTYPES)
    before = ort_backend.infer(frame, graph_inputs(class_set=classes))
    assert not (before.open_labels == 19).any()

    y, x = 60, 130
    embedding = ort_backend.embed(frame)
    prototype = embedding[:, y, x]
    # a radius that admits about half the frame's pixels, whatever the weights (random or bundled)
    radius = float(np.median(((embedding - prototype[:, None, None]) ** 2).sum(axis=0)))
    taught, entry = classes.with_novel("cone", prototype, lambda_novel=radius)
    novel = graph_inputs(class_set=taught)
    assert novel.novel_prototypes.shape == (1, 19)  # dynamic K: only the slots up to the last used one
    after = ort_backend.infer(frame, novel)
    assert entry.class_id == 19
    assert after.open_labels[y, x] == 19
    changed = after.open_labels == 19
    assert 0 < changed.sum() < changed.size
    assert (after.close_labels == before.close_labels).all()  # close-set labels do not see NPM classes
    _assert_agree(torch_backend.infer(frame, novel), after, "with a taught class")

    removed, _ = taught.without("cone")
    again = ort_backend.infer(frame, graph_inputs(class_set=removed))
    assert (again.open_labels == before.open_labels).all()
    assert ort_backend.session is session and dynamic_export.path.read_bytes() == onnx_bytes


def test_score_parameters_change_output_without_reexport(model_path, dynamic_export):
    torch_backend, ort_backend = _pair(model_path, dynamic_export.path, (64, 128))
    frame = structured_frame((64, 128), seed=5)
    never = ort_backend.infer(frame, graph_inputs(lambda_out=1.0))
    always = ort_backend.infer(frame, graph_inputs(lambda_out=0.0))
    assert not (never.open_labels == UNKNOWN_ID).any()
    assert (never.open_labels == never.close_labels).all()
    assert (always.open_labels == UNKNOWN_ID).mean() == (always.anomaly > 0).mean() > 0.5

    maps = {}
    for mode in ("eds_mmsp", "eds", "mmsp"):
        inputs = graph_inputs(score_mode=mode, eds_normalization="image_minmax")
        maps[mode] = ort_backend.infer(frame, inputs)
        _assert_agree(torch_backend.infer(frame, inputs), maps[mode], mode)
    assert np.abs(maps["eds"].anomaly - maps["mmsp"].anomaly).max() > 0.05
    assert np.abs(maps["eds_mmsp"].anomaly - maps["mmsp"].anomaly).max() > 0.01


def test_inputs_outside_the_export_are_refused(dynamic_export):
    backend = OnnxRuntimeBackend(dynamic_export.path, (64, 128))
    frame = structured_frame((64, 128))
    with pytest.raises(ValueError, match=f"1..{TEST_MAX_PROTOTYPES}"):
        backend.infer(frame, graph_inputs(TEST_MAX_PROTOTYPES + 1))
    with pytest.raises(ValueError, match="params must be"):
        backend.infer(frame, dataclasses.replace(graph_inputs(), score_vector=graph_inputs().score_vector[:5]))
    with pytest.raises(ValueError, match="dynamic input size"):
        OnnxRuntimeBackend(dynamic_export.path)
    with pytest.raises(ValueError, match="uint8 RGB frame"):
        backend.infer(frame.astype(np.float32), graph_inputs())


def test_provider_choice(dynamic_export):
    assert resolve_providers("auto", available=[TENSORRT, CUDA, CPU]) == [TENSORRT, CUDA, CPU]
    assert resolve_providers("auto", available=[CUDA, CPU]) == [CUDA, CPU]
    assert resolve_providers("cuda", available=[CUDA, CPU]) == [CUDA, CPU]
    assert resolve_providers("tensorrt,cuda", available=[TENSORRT, CUDA, CPU]) == [TENSORRT, CUDA, CPU]
    with pytest.raises(ValueError, match="onnxruntime-gpu"):
        resolve_providers("cuda", available=[CPU])
    backend = OnnxRuntimeBackend(dynamic_export.path, (64, 128), providers="auto", intra_op_threads=1)
    import onnxruntime as ort

    expected = [p for p in (TENSORRT, CUDA, CPU) if p in ort.get_available_providers()]
    assert backend.session.get_providers() == expected
    assert backend.session.get_session_options().intra_op_num_threads == 1
    assert backend.describe()["providers"] == expected


def test_embed_runs_the_network_alone_and_equals_the_full_graph(model_path, dynamic_export):
    _, ort_backend = _pair(model_path, dynamic_export.path, (64, 128))
    frame = structured_frame((64, 128), seed=11)
    taught = ort_backend.embed(frame)
    network = ort_backend._embedding_session
    assert [i.name for i in network.get_inputs()] == ["image"]  # no prototypes, no score params: no scoring
    full_inputs = {"image": frame[None], **graph_inputs().feed()}
    (full,) = ort_backend.session.run(["embedding"], full_inputs)
    (alone,) = network.run(["embedding"], {"image": frame[None]})
    np.testing.assert_allclose(alone, full, atol=1e-5)
    assert taught.shape == (19, 64, 128)
