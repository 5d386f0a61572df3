"""Weight initialisation so that randomly initialised networks train.

* Convolutions: He/Kaiming normal (He et al., 2015) with the fan-out of the ReLU that follows,
  computed per group (``out_channels / groups * k * k``) so depthwise convolutions get the
  right scale (``nn.init.kaiming_normal_`` miscounts the fan-out of grouped convolutions).
* BatchNorm: weight 1, bias 0.
* The last 1x1 convolution of a head is linear (it produces logits / embeddings), so it uses
  ``std = 1 / sqrt(fan_in)``: output variance stays close to the input's, i.e. O(1).
* Residual blocks may zero the last BN weight (Goyal et al., 2017) so each block starts as
  the identity; see :mod:`.resnet`.
"""

from __future__ import annotations

import math

from torch import nn


def init_conv_relu(conv: nn.Conv2d) -> None:
    kh, kw = conv.kernel_size
    fan_out = conv.out_channels // conv.groups * kh * kw
    nn.init.normal_(conv.weight, mean=0.0, std=math.sqrt(2.0 / fan_out))
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def init_conv_linear(conv: nn.Conv2d) -> None:
    kh, kw = conv.kernel_size
    fan_in = conv.in_channels // conv.groups * kh * kw
    nn.init.normal_(conv.weight, mean=0.0, std=1.0 / math.sqrt(fan_in))
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def init_module_weights(module: nn.Module) -> None:
    """Kaiming-initialises every Conv2d and resets every BatchNorm in ``module``."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            init_conv_relu(m)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
