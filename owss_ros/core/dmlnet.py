"""DMLNet (paper Sec. 4.1) and its conventionally trained cross-entropy twin.

Both wrap the same segmentation network (an ``encoder`` and a ``head``; see
:mod:`owss_ros.core.model`). DMLNet reads the head's C = N outputs as an embedding f(X) and
classifies by squared Euclidean distance to fixed prototypes T * e_t (Eq. 2, 5); the twin
reads them as logits of a learnable classifier (the MSP / MaxLogit / Energy baselines).
Outputs stay at feature resolution (1/8, or 1/4 with a refiner); callers upsample embeddings bilinearly.
"""

from __future__ import annotations

from torch import Tensor, nn

from owss_ros.core.prototypes import DEFAULT_TEMPERATURE, one_hot_squared_distances, upsample
from owss_ros.core.scoring import close_set_labels


class _WrappedSegmentationNet(nn.Module):
    """A segmentation network (``encoder`` + ``head``) whose N outputs are read one way."""

    def __init__(self, net: nn.Module, num_classes: int):
        super().__init__()
        self.net = net
        self.num_classes = num_classes

    @property
    def encoder(self) -> nn.Module:
        return self.net.encoder

    @property
    def head(self) -> nn.Module:
        return self.net.head

    @property
    def refiner(self) -> nn.Module | None:
        """The stride-4 refiner of the base head's outputs, if the net has one."""
        return getattr(self.net, "refiner", None)

    def forward(self, image: Tensor) -> Tensor:
        """Normalised (B, 3, H, W) image -> (B, N, H/s, W/s) outputs at feature resolution (stride 8, or 4
        with a refiner)."""
        return self.net(image)


class DMLNet(_WrappedSegmentationNet):
    """Embedding network with fixed one-hot prototypes scaled by T (Eq. 2): outputs are f(X)."""

    def __init__(self, net: nn.Module, num_classes: int, temperature: float = DEFAULT_TEMPERATURE):
        super().__init__(net, num_classes)
        if temperature <= 0:
            raise ValueError(f"temperature T must be > 0, got {temperature}")
        self.temperature = float(temperature)

    def base_distances(self, embedding: Tensor) -> Tensor:
        """(B, N, h, w) squared distances to the base prototypes."""
        return one_hot_squared_distances(embedding, self.temperature)


class CrossEntropyNet(_WrappedSegmentationNet):
    """The same network trained with softmax cross-entropy: outputs are logits."""


def upsampled_output(model: nn.Module, images: Tensor) -> Tensor:
    """Embeddings (DMLNet) or logits (twin) of (B, 3, H, W) images at the input size
    (:func:`owss_ros.core.prototypes.upsample`): what evaluation and calibration score."""
    return upsample(model(images), images.shape[-2:])


def close_set_prediction(model: nn.Module, images: Tensor) -> Tensor:
    """(B, H, W) close-set labels at the input size: Eq. 5 (nearest base prototype) for a
    DMLNet, argmax of the logits for the twin. A DDP wrapper is looked through."""
    out = upsampled_output(model, images)
    core = model.module if hasattr(model, "module") else model
    if isinstance(core, DMLNet):
        return close_set_labels(core.base_distances(out))
    return out.argmax(dim=1)
