"""Close-set predictions and mIoU of a trained network on a labelled split."""

from __future__ import annotations

import torch
from torch import nn

from owss_ros.core.dmlnet import DMLNet, upsampled_output  # noqa: F401 - re-exported for callers
from owss_ros.core.metrics import ConfusionMatrixMeter, SegmentationMetrics


def close_set_prediction(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """Eq. 5 for a DMLNet (nearest prototype), argmax of the logits for the twin."""
    out = upsampled_output(model, images)
    core = model.module if hasattr(model, "module") else model
    if isinstance(core, DMLNet):
        return core.base_distances(out).argmin(dim=1)
    return out.argmax(dim=1)


@torch.no_grad()
def evaluate_miou(model: nn.Module, dataset, num_classes: int, device: torch.device,
                  max_images: int = 0) -> SegmentationMetrics:
    """mIoU over ``dataset`` (items: normalised image tensor, label tensor)."""
    was_training = model.training
    model.eval()
    meter = ConfusionMatrixMeter(num_classes)
    count = len(dataset) if max_images <= 0 else min(max_images, len(dataset))
    for index in range(count):
        image, label = dataset[index]
        pred = close_set_prediction(model, image[None].to(device))[0]
        meter.update(pred.cpu().numpy(), label.numpy())
    model.train(was_training)
    return meter.compute()
