import contextlib
import json
import resource
import signal

import numpy as np
import pytest
import torch
from PIL import Image

from owss_ros.cli.main import main
from owss_ros.core.checkpoint import ModelSpec, load_model
from owss_ros.core.plm import train_branch_head
from owss_ros.evaluation.plm_checkpoint import load_plm_segmenter, save_plm_segmenter, segmenter_from_model

from .conftest import BASE16


def test_saved_plm_segmenter_reproduces_its_predictions(tmp_path, tiny_models):
    base, spec = load_model(tiny_models["dml16"])
    segmenter = segmenter_from_model(base)
    torch.manual_seed(0)
    images = torch.randn(2, 3, 64, 128)
    masks = torch.zeros(2, 64, 128, dtype=torch.bool)
    masks[:, 10:30, 20:70] = True
    for name in ("car", "truck"):
        train_branch_head(segmenter, images, masks, base.net.new_head, steps=3, lr=0.01)
    with torch.no_grad():
        expected = segmenter(images)
    document = save_plm_segmenter(tmp_path / "plm.safetensors", segmenter, spec,
                                  [{"class_name": "car"}, {"class_name": "truck"}], "abc")
    loaded, read_back, _ = load_plm_segmenter(tmp_path / "plm.safetensors")
    with torch.no_grad():
        assert torch.equal(loaded(images), expected)
    assert read_back == document == json.loads((tmp_path / "plm.json").read_text())
    assert read_back["class_names"] == BASE16 + ["car", "truck"]
    assert [h["num_outputs"] for h in read_back["branch_heads"]] == [17, 18]



@contextlib.contextmanager
def disk_full_after(num_bytes):
    """Writes of a file past ``num_bytes`` fail with EFBIG (a real failing write, as on a full disk)."""
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (num_bytes, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, handler)


def test_a_failed_plm_save_keeps_the_previous_segmenter_and_leaves_no_temporary(tmp_path, tiny_models):
    base, spec = load_model(tiny_models["dml16"])
    segmenter = segmenter_from_model(base)
    images, masks = torch.randn(1, 3, 64, 128), torch.ones(1, 64, 128, dtype=torch.bool)
    train_branch_head(segmenter, images, masks, base.net.new_head, steps=1, lr=0.01)
    path = tmp_path / "plm.safetensors"
    save_plm_segmenter(path, segmenter, spec, [{"class_name": "car"}])
    before = path.read_bytes()
    train_branch_head(segmenter, images, masks, base.net.new_head, steps=1, lr=0.01)
    with disk_full_after(4096), pytest.raises(OSError):
        save_plm_segmenter(path, segmenter, spec, [{"class_name": "car"}, {"class_name": "truck"}])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plm.json", "plm.safetensors"]
    assert load_plm_segmenter(path)[1]["class_names"] == BASE16 + ["car"]

def test_train_plm_command_from_dataset_then_from_mask_files(tmp_path, tiny_data, tiny_models):
    first = tmp_path / "car.safetensors"
    assert main(["train-plm", "--model", str(tiny_models["dml16"]), "--data", str(tiny_data), "--data-class", "car",
                 "--shots", "2", "--min-shot-pixels", "20", "--steps", "3", "--out", str(first)]) == 0
    segmenter, document, _ = load_plm_segmenter(first)
    assert segmenter.num_classes == 17 and document["class_names"][-1] == "car"
    assert len(document["branch_heads"][0]["training"]["shots"]) == 2

    image = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
    mask = np.zeros((64, 128), np.uint8)
    mask[30:50, 10:40] = 255
    Image.fromarray(image).save(tmp_path / "shot.png")
    Image.fromarray(mask).save(tmp_path / "shot_mask.png")
    second = tmp_path / "car_bus.safetensors"
    assert main(["train-plm", "--model", str(first), "--class-name", "bus", "--shot", str(tmp_path / "shot.png"),
                 str(tmp_path / "shot_mask.png"), "--steps", "3", "--out", str(second)]) == 0
    segmenter2, document2, _ = load_plm_segmenter(second)
    assert segmenter2.num_classes == 18 and document2["class_names"][-2:] == ["car", "bus"]
    assert document2["branch_heads"][1]["training"]["annotated_pixels"] == 20 * 30
    for key, value in segmenter.state_dict().items():  # the first head and the base are carried over unchanged
        assert torch.equal(segmenter2.state_dict()[key], value), key
    assert ModelSpec(**document2["base_spec"]).class_names == BASE16
