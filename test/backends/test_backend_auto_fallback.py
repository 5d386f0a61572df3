"""backend 'auto': any failure of a candidate (import, build, load, first inference) falls back
to the next one with the reason logged. The candidates are fakes that fail the way a real
TensorRT 11 or a broken CUDA install does; the last one is the real onnxruntime CPU backend."""

from __future__ import annotations

import logging

import pytest

from owss_ros.backends import factory
from owss_ros.backends.factory import BackendUnavailableError, create_backend
from owss_ros.backends.onnxruntime_backend import OnnxRuntimeBackend


class _FailsOnFirstFrame:
    """Loads fine, then fails on its first inference (e.g. a CUDA kernel error)."""

    name = "fake-cuda"
    input_hw = (64, 128)

    class info:  # noqa: N801 - mimics GraphInfo's fields used by the first-inference check
        embedding_dim, max_prototypes, num_classes = 19, 4, 19

    def infer(self, frame, inputs):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    def describe(self):
        return {"backend": self.name}


@pytest.fixture
def fake_candidates(monkeypatch):
    real_create = factory._create
    calls = []

    def create(name, **kwargs):
        calls.append((name, kwargs["providers"]))
        if name == "tensorrt":  # what TensorRT 11 did to the old FP16 build
            raise AttributeError("'tensorrt.tensorrt.Builder' object has no attribute 'platform_has_fast_fp16'")
        if kwargs["providers"] == "cuda":
            return _FailsOnFirstFrame()
        return real_create(name, **kwargs)

    monkeypatch.setattr(factory, "auto_candidates",
                        lambda: [("tensorrt", None), ("onnxruntime", "cuda"), ("onnxruntime", "cpu")])
    monkeypatch.setattr(factory, "_create", create)
    return calls


def test_auto_falls_back_on_any_failure_with_the_reason_logged(fake_candidates, random_model_path, tmp_path,
                                                                caplog):
    with caplog.at_level(logging.ERROR, logger="owss_ros.backends.factory"):
        backend = create_backend("auto", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path,
                                 max_prototypes=4)
    assert isinstance(backend, OnnxRuntimeBackend)
    assert fake_candidates == [("tensorrt", None), ("onnxruntime", "cuda"), ("onnxruntime", "cpu")]
    messages = [r.getMessage() for r in caplog.records]
    assert any("tensorrt" in m and "AttributeError" in m and "platform_has_fast_fp16" in m for m in messages)
    assert any("onnxruntime (cuda)" in m and "no kernel image" in m for m in messages)


def test_auto_reports_every_reason_when_nothing_works(monkeypatch, random_model_path, tmp_path):
    def create(name, **kwargs):
        if name == "tensorrt":
            raise ImportError("libnvinfer.so.11: cannot open shared object file")
        raise ValueError("onnxruntime provider 'cuda' is not available")

    monkeypatch.setattr(factory, "auto_candidates", lambda: [("tensorrt", None), ("onnxruntime", "cuda")])
    monkeypatch.setattr(factory, "_create", create)
    with pytest.raises(BackendUnavailableError, match="tensorrt: ImportError: libnvinfer.*onnxruntime: ValueError"):
        create_backend("auto", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path)


def test_auto_does_not_swallow_an_interrupt(monkeypatch, random_model_path, tmp_path):
    def create(name, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(factory, "auto_candidates", lambda: [("tensorrt", None), ("onnxruntime", "cpu")])
    monkeypatch.setattr(factory, "_create", create)
    with pytest.raises(KeyboardInterrupt):
        create_backend("auto", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path)


def test_a_named_backend_still_raises_its_own_error(monkeypatch, random_model_path, tmp_path):
    monkeypatch.setattr(factory, "_create", lambda name, **kwargs: (_ for _ in ()).throw(AttributeError("boom")))
    with pytest.raises(AttributeError, match="boom"):
        create_backend("tensorrt", model_path=random_model_path, input_hw=(64, 128), cache_dir=tmp_path)
