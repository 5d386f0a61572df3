"""Options that make CPU training faster (bf16 autocast, loss on a coarser label grid) and the
photometric augmentations for generalisation: each must keep the training signal intact."""

import numpy as np
import pytest
import torch

from owss_ros.training.config import load_train_config
from owss_ros.training.trainer import Trainer
from owss_ros.training.transforms import TrainTransform, hue_rotation_matrix

from .conftest import tiny_overrides


def _batch(trainer, n=2):
    items = [trainer.train_set[i] for i in range(n)]
    return torch.stack([a for a, _ in items]), torch.stack([b for _, b in items])


def test_bf16_loss_matches_fp32_and_stays_float32(tiny_cityscapes, tmp_path):
    fp32 = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "a") + ["schedule.precision=fp32"]))
    bf16 = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path / "b") + ["schedule.precision=bf16"]))
    images, labels = _batch(fp32)
    a, b = fp32.loss(images, labels), bf16.loss(images, labels)
    assert b.dtype == torch.float32  # distances and the loss are computed in fp32
    assert abs(a.item() - b.item()) < 0.05 * a.item()  # same initial weights: bf16 rounding only
    b.backward()
    grads = [p.grad for p in bf16.model.parameters() if p.grad is not None]
    assert grads and all(g.dtype == torch.float32 and torch.isfinite(g).all() for g in grads)


def test_unknown_precision_is_refused(tiny_cityscapes, tmp_path):
    trainer = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path) + ["schedule.precision=fp8"]))
    with pytest.raises(ValueError, match="bf16 \\| fp32"):
        trainer.loss(*_batch(trainer))


def test_loss_stride_subsamples_labels_at_grid_centres(tiny_cityscapes, tmp_path, monkeypatch):
    trainer = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path) + ["schedule.loss_stride=2"]))
    images, labels = _batch(trainer)
    seen = {}
    original = trainer.loss_fn.forward

    def spy(distances, target):
        seen["distances"], seen["target"] = distances.shape, target
        return original(distances, target)

    monkeypatch.setattr(trainer.loss_fn, "forward", spy)
    trainer.loss(images, labels)
    assert seen["distances"][-2:] == (32, 32) and seen["target"].shape == (2, 32, 32)
    assert torch.equal(seen["target"], labels[:, 1::2, 1::2])


def test_history_records_iterations_per_second_and_wall_time(tiny_cityscapes, tmp_path):
    trainer = Trainer(load_train_config(None, tiny_overrides(tiny_cityscapes, tmp_path)))
    trainer.fit()
    logged = [h for h in trainer.history if "loss" in h]
    assert all(h["iterations_per_s"] > 0 for h in logged)
    walls = [h["wall_s"] for h in logged]
    assert walls == sorted(walls) and walls[-1] > 0


def test_hue_rotation_is_identity_at_zero_and_keeps_grey_grey():
    np.testing.assert_allclose(hue_rotation_matrix(0.0), np.eye(3), atol=1e-5)
    grey = np.full((1, 3), 128.0, np.float32)
    np.testing.assert_allclose(grey @ hue_rotation_matrix(0.3), grey, atol=1e-3)
    red = np.array([[200.0, 30.0, 30.0]], np.float32)
    assert np.abs(red @ hue_rotation_matrix(0.25) - red).max() > 50  # a quarter turn changes the colour


def test_camera_effects_are_deterministic_per_seed_and_leave_labels_alone():
    rng_image = np.random.default_rng(0)
    image = rng_image.integers(0, 256, (48, 96, 3), dtype=np.uint8)
    label = rng_image.integers(0, 19, (48, 96)).astype(np.int64)
    t = TrainTransform((32, 64), (1.0, 1.0), hflip=False, color_jitter=0.0, hue=0.1, gamma=0.3, blur=1.0, noise=8.0)
    plain = TrainTransform((32, 64), (1.0, 1.0), hflip=False, color_jitter=0.0)
    x1, y1 = t(image, label, np.random.default_rng(5))
    x2, y2 = t(image, label, np.random.default_rng(5))
    x0, y0 = plain(image, label, np.random.default_rng(5))
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert torch.equal(y1, y0)  # photometric only: the crop and the labels are unchanged
    assert not torch.allclose(x1, x0)


def _corner_object_scene():
    """A 100x200 scene of class 0 with a 2x2 class-18 object in the far corner, and an ignore band."""
    label = np.zeros((100, 200), np.int64)
    label[90:92, 195:197] = 18
    label[:5] = 255
    return np.zeros((100, 200, 3), np.uint8), label


def test_class_centred_crops_hold_a_rare_class_as_often_as_the_classes_present_say():
    image, label = _corner_object_scene()
    centred = TrainTransform((32, 64), (1.0, 1.0), hflip=False, color_jitter=0.0, class_centred_crop=1.0)
    uniform = TrainTransform((32, 64), (1.0, 1.0), hflip=False, color_jitter=0.0)
    rng = np.random.default_rng(0)
    crops = [centred(image, label, rng)[1] for _ in range(400)]
    with_object = np.mean([(y == 18).any().item() for y in crops])
    assert 0.4 < with_object < 0.6  # two classes present (ignore is not a class): each drawn half the time
    assert all(tuple(y.shape) == (32, 64) for y in crops)
    uniform_share = np.mean([(uniform(image, label, rng)[1] == 18).any().item() for _ in range(400)])
    assert uniform_share < 0.05  # a random crop rarely reaches the corner


def test_class_centred_crop_off_by_default_and_deterministic_per_seed():
    image, label = _corner_object_scene()
    assert TrainTransform((32, 64)).class_centred_crop == 0.0
    t = TrainTransform((32, 64), (0.8, 1.2), color_jitter=0.0, class_centred_crop=0.5)
    a = [t(image, label, np.random.default_rng(seed))[1] for seed in range(5)]
    b = [t(image, label, np.random.default_rng(seed))[1] for seed in range(5)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
