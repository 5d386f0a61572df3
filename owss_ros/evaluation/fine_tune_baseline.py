"""FT: the catastrophic-forgetting baseline of paper Table 4 ("Finetune").

The whole DMLNet is fine-tuned on the shots of the new class with only that class labelled
(every other pixel is unannotated = ignored, assumption 1 of Sec. 4.3). The metric space gets
one more dimension per new class: the head's output convolution gains a freshly initialised
output channel and the prototypes become the N + 1 one-hot vectors T e_t (Sec. 4.2); the loss
is the training loss DCE + lambda_VL VL (Sec. 4.1). Nothing stops the network from mapping
every pixel to the new prototype, which is the forgetting the paper shows (old IoUs near 0).
All weights train (BatchNorm affine parameters included); BatchNorm running statistics stay
frozen, since a batch of 1 to 5 shots cannot estimate them (with 1 shot PyTorch refuses to).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.core.dmlnet import DMLNet
from owss_ros.core.losses import DMLLoss
from owss_ros.core.model.initialization import init_conv_linear
from owss_ros.core.dmlnet import upsampled_output


def extend_output_dimension(model: DMLNet, extra: int = 1) -> DMLNet:
    """A copy of ``model`` with ``extra`` more embedding dimensions / one-hot prototypes.

    The old output channels keep their weights; the new ones are initialised like a new head's
    output layer (and, in a stride-4 net, pass the refiner unchanged at first).
    """
    net = copy.deepcopy(model.net)
    old: nn.Conv2d = net.head.output_conv
    new = nn.Conv2d(old.in_channels, old.out_channels + extra, kernel_size=1, bias=old.bias is not None)
    init_conv_linear(new)
    with torch.no_grad():
        new.weight[: old.out_channels] = old.weight
        if old.bias is not None:
            new.bias[: old.out_channels] = old.bias
    net.head[len(net.head) - 1] = new.to(old.weight.device)
    net.head.num_outputs = old.out_channels + extra
    if net.refiner is not None:  # a stride-4 net: its refiner reads and writes the N outputs too
        net.refiner = net.refiner.widened(extra)
    return DMLNet(net, model.num_classes + extra, model.temperature)


def fine_tune_new_class(model: DMLNet, images: Tensor, masks: Tensor, steps: int = 20, lr: float = 1e-3,
                        lambda_vl: float = 0.01) -> DMLNet:
    """FT for one new class: extend by one dimension, train all parameters on the shots.

    ``images`` (Q, 3, H, W) normalised, ``masks`` (Q, H, W) bool. Returns the new model in eval mode.
    """
    tuned = extend_output_dimension(model, 1)
    new_id = tuned.num_classes - 1
    targets = torch.full(masks.shape, IGNORE_INDEX, dtype=torch.long)
    targets[masks.bool()] = new_id
    loss_fn = DMLLoss(lambda_vl)
    optimizer = torch.optim.Adam(tuned.parameters(), lr=lr)
    tuned.train()
    for module in tuned.modules():  # 1 to 5 shots cannot estimate batch statistics (1-shot cannot at all)
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.eval()
    for _ in range(steps):
        loss = loss_fn(tuned.base_distances(upsampled_output(tuned, images)), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return tuned.eval()
