"""A tiny DMLNet must be able to overfit one synthetic image (DCE + VL, random init)."""

import pytest
import torch
import torch.nn.functional as F

from owss_ros.core.checkpoint import ModelSpec, build_model, load_model, save_model
from owss_ros.core.losses import DMLLoss


def synthetic_pair(h=64, w=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    label = (yy > h // 2).long() * 2 + (xx > (w // 3 + yy // 4)).long()  # 4 regions, slanted edge
    palette = torch.rand(4, 3, generator=g)
    image = palette[label].permute(2, 0, 1) + 0.3 * torch.randn(3, h, w, generator=g)
    # a batch of the image and its mirror: BatchNorm needs more than one sample when training
    return torch.stack([image, image.flip(-1)]), torch.stack([label, label.flip(-1)])


def pixel_accuracy(model, image, label):
    model.eval()
    with torch.no_grad():
        emb = F.interpolate(model(image), size=label.shape[-2:], mode="bilinear", align_corners=False)
        return float((model.base_distances(emb).argmin(1) == label).float().mean())


@pytest.mark.slow
def test_tiny_dmlnet_overfits_one_image():
    torch.manual_seed(0)
    model = build_model(ModelSpec(backbone="fast_scnn", class_names=["a", "b", "c", "d"]))
    image, label = synthetic_pair()
    assert pixel_accuracy(model, image, label) < 0.6
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    loss_fn = DMLLoss(lambda_vl=0.01)
    for _ in range(60):
        model.train()
        emb = F.interpolate(model(image), size=label.shape[-2:], mode="bilinear", align_corners=False)
        loss = loss_fn(model.base_distances(emb), label)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert pixel_accuracy(model, image, label) > 0.95


def test_save_and_load_round_trip(tmp_path):
    torch.manual_seed(1)
    spec = ModelSpec(backbone="fast_scnn", class_names=["a", "b", "c"])
    model = build_model(spec).eval()
    path = tmp_path / "m.safetensors"
    save_model(path, model, spec)
    loaded, loaded_spec = load_model(path)
    assert loaded_spec == spec
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    # plain state dicts load with weights_only=True when given a spec
    torch.save(model.state_dict(), tmp_path / "m.pt")
    again, _ = load_model(tmp_path / "m.pt", spec)
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x))
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.safetensors")


def test_close_set_prediction_labels_at_input_size_for_both_kinds_and_through_ddp():
    from owss_ros.core.dmlnet import CrossEntropyNet, DMLNet, close_set_prediction

    # the "network" halves the resolution; outputs nearest prototype 0 / largest logit 0 on the
    # left half of the image and 2 on the right half, also at the blended boundary columns
    images = torch.zeros(2, 3, 4, 8)
    images[:, :, :, :4] = torch.tensor([3.0, 0.5, 0.0])[:, None, None]
    images[:, :, :, 4:] = torch.tensor([0.0, 0.4, 2.5])[:, None, None]
    expected = torch.zeros(2, 4, 8, dtype=torch.long)
    expected[:, :, 4:] = 2
    for model in (DMLNet(torch.nn.AvgPool2d(2), 3), CrossEntropyNet(torch.nn.AvgPool2d(2), 3)):
        assert model(images).shape[-2:] == (2, 4)
        assert torch.equal(close_set_prediction(model, images), expected)
        wrapper = torch.nn.Module()
        wrapper.module = model
        wrapper.forward = model.forward
        assert torch.equal(close_set_prediction(wrapper, images), expected)


def test_a_failed_save_leaves_the_previous_model_and_no_temporary(tmp_path, monkeypatch):
    import os

    spec = ModelSpec(backbone="fast_scnn", class_names=["a", "b"])
    path = tmp_path / "m.safetensors"
    torch.manual_seed(0)
    save_model(path, build_model(spec), spec)
    before = path.read_bytes()

    def failing_replace(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", failing_replace)
    torch.manual_seed(1)
    with pytest.raises(OSError, match="disk gone"):
        save_model(path, build_model(spec), spec)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]
    load_model(path)
