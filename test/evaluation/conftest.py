"""Tiny generated data and random-weight models shared by the evaluation tests."""

import pytest
import torch

from owss_ros.core.checkpoint import ModelSpec, build_model, save_model
from owss_ros.core.classes import CITYSCAPES_NAMES
from owss_ros.data.synthetic import generate_dataset

WIDTH, HEIGHT = 128, 64
BASE16 = [name for name in CITYSCAPES_NAMES if name not in ("car", "truck", "bus")]


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory):
    """Cityscapes layout (train 16 / val 3) + Fishyscapes-style (5) + StreetHazards-style (3) splits."""
    root = tmp_path_factory.mktemp("eval_data")
    generate_dataset(root, {"train": 16, "val": 3, "anomaly": 5, "hazards": 3}, WIDTH, HEIGHT, seed=0)
    return root


@pytest.fixture(scope="session")
def calibration_data(tmp_path_factory):
    """Two independent calibration splits (seeds 1 and 2), never the test split."""
    roots = []
    for seed in (1, 2):
        root = tmp_path_factory.mktemp(f"eval_calibration{seed}")
        generate_dataset(root, {"anomaly": 4}, WIDTH, HEIGHT, seed=seed)
        roots.append(root / "anomaly")
    return roots


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Random-weight fast_scnn models: 19-class DMLNet, its CE twin, 16-class DMLNet (no car/truck/bus)."""
    folder = tmp_path_factory.mktemp("eval_models")
    paths = {}
    for seed, (name, kind, classes) in enumerate([("dml", "dml", list(CITYSCAPES_NAMES)),
                                                   ("ce", "ce", list(CITYSCAPES_NAMES)),
                                                   ("dml16", "dml", BASE16)]):
        torch.manual_seed(seed)
        spec = ModelSpec(kind=kind, class_names=classes)
        paths[name] = folder / f"{name}.safetensors"
        save_model(paths[name], build_model(spec).eval(), spec)
    return paths
