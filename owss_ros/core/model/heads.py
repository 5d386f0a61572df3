"""Per-pixel output heads (class logits for a CE net, embeddings for DMLNet).

Two designs, matching the encoders:

* ``"pspnet"`` - the PSPNet classifier (Zhao et al., 2017): conv3x3 -> BN -> ReLU ->
  Dropout2d(0.1) -> conv1x1. The PSPNet encoder already ends with the paper's 3x3 "reduce to
  512 channels" layer, so each head adds its own 3x3 layer (default 256 channels) before the
  1x1 output: a DMLNet PLM branch head (Cen et al., 2021, Sec. 4.3), trained on a frozen
  encoder, is then more than a linear probe.
* ``"fast_scnn"`` - the Fast-SCNN classifier (Poudel et al., 2019, Table 1): two DSConv
  layers -> Dropout2d(0.1) -> conv1x1 (the dropout is our addition; the paper lists none).

Heads never upsample; callers resize the ``(B, num_outputs, h, w)`` output.
"""

from __future__ import annotations

from torch import nn

from .initialization import init_conv_linear, init_module_weights
from .layers import ConvBNReLU, DepthwiseSeparableConv

HEAD_DESIGNS: tuple[str, ...] = ("pspnet", "fast_scnn")


class SegmentationHead(nn.Sequential):
    """``features`` (B, in_channels, h, w) -> ``outputs`` (B, num_outputs, h, w)."""

    def __init__(self, design: str, layers: list[nn.Module], in_channels: int, num_outputs: int) -> None:
        super().__init__(*layers)
        self.design = design
        self.in_channels = in_channels
        self.num_outputs = num_outputs
        init_module_weights(self)
        init_conv_linear(self.output_conv)

    @property
    def output_conv(self) -> nn.Conv2d:
        return self[-1]


def build_head(
    in_channels: int,
    num_outputs: int,
    design: str = "pspnet",
    hidden_channels: int | None = None,
    dropout: float = 0.1,
) -> SegmentationHead:
    """Creates a freshly initialised head of the given design.

    ``hidden_channels`` defaults to 256 for ``"pspnet"`` and ``in_channels`` (128) for
    ``"fast_scnn"``.
    """
    if num_outputs < 1:
        raise ValueError(f"num_outputs must be >= 1, got {num_outputs}")
    if design == "pspnet":
        hidden = 256 if hidden_channels is None else hidden_channels
        layers = [ConvBNReLU(in_channels, hidden, kernel_size=3)]
    elif design == "fast_scnn":
        hidden = in_channels if hidden_channels is None else hidden_channels
        layers = [DepthwiseSeparableConv(in_channels, hidden), DepthwiseSeparableConv(hidden, hidden)]
    else:
        raise ValueError(f"unknown head design {design!r}; choose one of {HEAD_DESIGNS}")
    layers += [nn.Dropout2d(dropout), nn.Conv2d(hidden, num_outputs, kernel_size=1, bias=True)]
    return SegmentationHead(design, layers, in_channels, num_outputs)
