"""Shared fixtures for the backend tests: small DMLNets on disk and one dynamic ONNX export each.

``model_path`` is parametrised over a random-weights fast_scnn (always) and the bundled
models/default/model.safetensors (skipped with a reason while it does not exist). The random
model's last 1x1 convolution is re-drawn with a larger spread so its label maps hold many
classes (freshly initialised, nearly every pixel gets the same class, which would make label
agreement checks weak).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from backend_test_helpers import BUNDLED_MODEL, TEST_MAX_PROTOTYPES, save_random_model

from owss_ros.backends.onnx_export import ExportOptions, export_onnx


@pytest.fixture(scope="session")
def random_model_path(tmp_path_factory) -> Path:
    return save_random_model(tmp_path_factory.mktemp("random_model") / "model.safetensors", seed=0)


@pytest.fixture(scope="session", params=["random", "bundled"])
def model_path(request, random_model_path) -> Path:
    if request.param == "bundled":
        if not BUNDLED_MODEL.is_file():
            pytest.skip(f"bundled model {BUNDLED_MODEL} not there yet")
        return BUNDLED_MODEL
    return random_model_path


@pytest.fixture(scope="session")
def dynamic_export(model_path, tmp_path_factory):
    """One dynamic-size export (K 1..4) per model, shared by the tests."""
    out = tmp_path_factory.mktemp("onnx") / "pipeline.onnx"
    return export_onnx(model_path, out, ExportOptions(max_prototypes=TEST_MAX_PROTOTYPES))
