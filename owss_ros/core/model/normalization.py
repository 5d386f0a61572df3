"""ImageNet input normalisation as an ``nn.Module`` that can live inside an exported ONNX graph.

The encoders follow PSPNet (Zhao et al., 2017) on an ImageNet-initialised ResNet, so inputs are
normalised with the ImageNet channel statistics ``(x / 255 - mean) / std``. Fast-SCNN (Poudel et
al., 2019) uses the same normalisation here so every backbone shares one input contract.

Putting the normaliser in the graph lets a deployed model take the camera's ``uint8`` image
directly (no Python pre-processing per frame).
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)

_LAYOUTS = ("NHWC", "NCHW")
_CHANNEL_ORDERS = ("RGB", "BGR")


class ImageNormalizer(nn.Module):
    """Maps an image on the 0..255 scale to a normalised float ``(B, 3, H, W)`` tensor.

    Args:
        input_layout: ``"NHWC"`` for ``(B, H, W, 3)`` (camera / ROS layout) or ``"NCHW"`` for
            ``(B, 3, H, W)``. Fixed at construction so the exported graph is unambiguous.
        channel_order: ``"RGB"`` (default) or ``"BGR"``; BGR input is flipped to RGB first.
        mean, std: per-channel statistics in RGB order on the 0..1 scale.

    Input may be ``uint8`` or any float dtype holding values in 0..255; output is float32
    ``(x / 255 - mean) / std``.
    """

    def __init__(
        self,
        input_layout: str = "NHWC",
        channel_order: str = "RGB",
        mean: tuple[float, float, float] = IMAGENET_MEAN,
        std: tuple[float, float, float] = IMAGENET_STD,
    ) -> None:
        super().__init__()
        if input_layout not in _LAYOUTS:
            raise ValueError(f"input_layout must be one of {_LAYOUTS}, got {input_layout!r}")
        if channel_order not in _CHANNEL_ORDERS:
            raise ValueError(f"channel_order must be one of {_CHANNEL_ORDERS}, got {channel_order!r}")
        self.input_layout = input_layout
        self.channel_order = channel_order
        mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("mean_0_255", mean_t * 255.0, persistent=False)
        self.register_buffer("inv_std_0_255", 1.0 / (std_t * 255.0), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if image.dim() != 4:
            raise ValueError(f"expected a 4-D image batch, got shape {tuple(image.shape)}")
        x = image.to(torch.float32)
        if self.input_layout == "NHWC":
            x = x.permute(0, 3, 1, 2)
        if self.channel_order == "BGR":
            x = x.flip(1)
        return (x - self.mean_0_255) * self.inv_std_0_255


def normalize_image(image: torch.Tensor, input_layout: str = "NHWC", channel_order: str = "RGB") -> torch.Tensor:
    """Functional form of :class:`ImageNormalizer` (ImageNet statistics)."""
    return ImageNormalizer(input_layout, channel_order).to(image.device)(image)
