"""Close-set mIoU (evaluation.val_miou), which the trainer's validation uses too."""

import importlib.util

import pytest
import torch

from owss_ros.core.dmlnet import DMLNet
from owss_ros.evaluation.val_miou import evaluate_miou


def test_evaluate_miou_scores_nearest_prototype_labels_and_restores_training_mode():
    # the identity "network" reads the 2-channel image as the embedding: the nearest prototype
    # is class 0 on the left half, class 1 on the right half of the 2x4 image
    model = DMLNet(torch.nn.Identity(), 2).train()
    embedding = torch.zeros(2, 2, 4)
    embedding[0, :, :2] = 3.0
    embedding[1, :, 2:] = 3.0
    label = torch.zeros(2, 4, dtype=torch.long)
    label[:, 3] = 1  # ground truth: class 1 only in the last column
    dataset = [(embedding, label)] * 2
    metrics = evaluate_miou(model, dataset, 2, torch.device("cpu"))
    # class 0: 4 hits, union 6; class 1: 2 hits, union 4
    assert metrics.miou == pytest.approx((4 / 6 + 2 / 4) / 2)
    assert metrics.pixel_accuracy == pytest.approx(6 / 8)
    assert model.training
    assert evaluate_miou(model, dataset, 2, torch.device("cpu"), max_images=1).miou == pytest.approx(metrics.miou)


def test_trainer_validates_with_the_evaluation_miou_and_no_shim_is_left():
    from owss_ros.training import trainer

    assert trainer.evaluate_miou is evaluate_miou
    assert importlib.util.find_spec("owss_ros.training.evaluation") is None
