"""Encoder + head segmentation network, the base of DMLNet (Cen et al., "Deep Metric Learning
for Open World Semantic Segmentation", ICCV 2021).

DMLNet is a segmentation network whose head outputs an embedding per pixel. Its Pseudo Label
Method (Sec. 4.3) trains new branch heads while "the parameters of all the other heads and
backbone will be frozen", so the encoder and head are separate modules and a fresh head of the
same design can be made with :meth:`SegmentationNet.new_head`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .heads import SegmentationHead, build_head


class SegmentationNet(nn.Module):
    """``forward(x) = head(encoder(x))`` at feature resolution (output stride 8, no upsampling).

    Attributes:
        encoder: normalised image (B, 3, H, W) -> features (B, encoder_channels, ceil(H/8), ceil(W/8)).
        head: features -> (B, num_outputs, ceil(H/8), ceil(W/8)).
        encoder_channels: channel count of the encoder output.
        output_stride: 8, or 4 with a :class:`~.refinement.StrideFourRefiner` (``fast_scnn_s4``).
        backbone_name: registry name this net was built from.
    """

    def __init__(
        self,
        encoder: nn.Module,
        head: SegmentationHead,
        encoder_channels: int,
        backbone_name: str = "",
        head_options: dict[str, Any] | None = None,
        refiner: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if head.in_channels != encoder_channels:
            raise ValueError(f"head expects {head.in_channels} channels, encoder gives {encoder_channels}")
        self.encoder = encoder
        self.head = head
        self.encoder_channels = encoder_channels
        self.backbone_name = backbone_name
        self.head_design = head.design
        self.head_options = dict(head_options or {})
        self.frozen_parts: tuple[str, ...] = ()
        self.refiner = refiner  # optional: (head outputs, image) -> outputs at stride 4 (.refinement)

    @property
    def output_stride(self) -> int:
        return 4 if self.refiner is not None else 8

    @property
    def num_outputs(self) -> int:
        return self.head.num_outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.refine(self.head(self.encoder(x)), x)

    def refine(self, outputs: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """The base head's ``outputs`` at this net's output stride (unchanged without a refiner)."""
        return outputs if self.refiner is None else self.refiner(outputs, image)

    def new_head(self, num_outputs: int) -> SegmentationHead:
        """A freshly initialised head of this net's design (e.g. a PLM branch head)."""
        head = build_head(self.encoder_channels, num_outputs, self.head_design, **self.head_options)
        return head.to(next(self.encoder.parameters()).device)

    FREEZABLE_PARTS = ("encoder", "head")

    def freeze_encoder(self, frozen: bool = True) -> None:
        """Stops gradients into the encoder and keeps its BatchNorm statistics fixed (eval mode)
        even when ``train()`` is called, as PLM branch-head training requires."""
        others = tuple(part for part in self.frozen_parts if part != "encoder")
        self.freeze(("encoder",) + others if frozen else others)

    def freeze(self, parts) -> None:
        """Freezes exactly the named ``parts`` (of :attr:`FREEZABLE_PARTS`): no gradients, BatchNorm
        statistics fixed even under ``train()``; the others train. E.g. ``("encoder", "head")``
        trains only a stride-4 refiner on top of a fixed stride-8 net."""
        parts = tuple(parts)
        unknown = sorted(set(parts) - set(self.FREEZABLE_PARTS))
        if unknown:
            raise ValueError(f"cannot freeze {unknown}: the parts are {list(self.FREEZABLE_PARTS)}")
        self.frozen_parts = parts
        for name in self.FREEZABLE_PARTS:
            for p in getattr(self, name).parameters():
                p.requires_grad_(name not in parts)
        self.train(self.training)

    def train(self, mode: bool = True) -> "SegmentationNet":
        super().train(mode)
        for name in self.frozen_parts:
            getattr(self, name).eval()
        return self
