"""An output-stride-4 refinement of a stride-8 head's outputs (beyond both papers).

Why: a predictor that is *perfect* at 1/8 resolution, bilinearly upsampled, caps the synthetic
calibration split at 80.8 mIoU (bicycle 6.9, pole 60, traffic light 63, motorcycle 64 IoU); at
1/4 the cap is 90.4 (``scripts/stride_ceiling.py``). The bundled Fast-SCNN sat at 62.8, so the
1/8 grid, not only training, bounded the thin and small classes.

Design (a light decoder in the spirit of DeepLabv3+'s, on the N outputs rather than on features):
its own two-layer stem takes the image to 1/4 (Conv3x3/2 16 -> DSConv/2 32), the head's outputs
are upsampled x2 (bilinear, as everywhere), concatenated with the stem, passed through one
DSConv (48) and a 1x1 conv back to N, and added as a residual:

    out = up(o) + W(DSConv([up(o), stem(x)]))

W starts at zero, so a refined net initialised from a stride-8 one computes exactly its
upsampled outputs and training only adds to them. About 50 MMAC at 256x512 (the Fast-SCNN
network is 420). Encoder and head are unchanged, so PLM branch heads (on encoder features)
keep stride 8.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .initialization import init_module_weights
from .layers import ConvBNReLU, DepthwiseSeparableConv

STEM_CHANNELS = 32
HIDDEN_CHANNELS = 48


class StrideFourRefiner(nn.Module):
    """(coarse (B, N, h, w), image (B, 3, H, W)) -> (B, N, ceil(H/4), ceil(W/4))."""

    output_stride = 4

    def __init__(self, num_outputs: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(ConvBNReLU(3, 16, kernel_size=3, stride=2),
                                  DepthwiseSeparableConv(16, STEM_CHANNELS, stride=2))
        self.fuse = DepthwiseSeparableConv(num_outputs + STEM_CHANNELS, HIDDEN_CHANNELS)
        self.residual = nn.Conv2d(HIDDEN_CHANNELS, num_outputs, kernel_size=1, bias=True)
        init_module_weights(self)
        nn.init.zeros_(self.residual.weight)
        nn.init.zeros_(self.residual.bias)

    def widened(self, extra: int) -> "StrideFourRefiner":
        """A copy for ``extra`` more outputs (FT's new embedding dimensions, paper Table 4): the old
        outputs are computed exactly as before, each new one starts as its upsampled coarse output
        (its residual row and its inputs to the fuse layer start at zero)."""
        n = self.residual.out_channels
        wide = StrideFourRefiner(n + extra).to(self.residual.weight.device)
        wide.stem.load_state_dict(self.stem.state_dict())
        kept = list(range(n)) + list(range(n + extra, n + extra + STEM_CHANNELS))  # old fuse inputs, new places
        (depthwise, pointwise), (wide_depthwise, wide_pointwise) = self.fuse, wide.fuse
        with torch.no_grad():
            wide_depthwise[0].weight.zero_()
            wide_depthwise[0].weight[kept] = depthwise[0].weight
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(wide_depthwise[1], name)[kept] = getattr(depthwise[1], name)
            wide_pointwise[0].weight.zero_()
            wide_pointwise[0].weight[:, kept] = pointwise[0].weight
            wide_pointwise[1].load_state_dict(pointwise[1].state_dict())
            wide.residual.weight.zero_()
            wide.residual.bias.zero_()
            wide.residual.weight[:n] = self.residual.weight
            wide.residual.bias[:n] = self.residual.bias
        return wide.train(self.training)

    def forward(self, coarse: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        skip = self.stem(image)
        up = F.interpolate(coarse, size=skip.shape[-2:], mode="bilinear", align_corners=False)
        return up + self.residual(self.fuse(torch.cat([up, skip], dim=1)))
