"""Pseudo Label Method (paper Sec. 4.3, Algorithm 1, Fig. 5).

The DMLNet is split into a frozen encoder (backbone) and branch heads. The base head h_in
labels the N base classes; branch head h_out,t (t = 1..k) is a DMLNet head of dimension
N + t trained with the encoder and every older head frozen, on pseudo labels: the older
heads' predictions, overwritten by the operator's annotation of the new class. At inference
each branch head contributes the binary map "my newest class wins here" and later heads
overwrite earlier ones (Algorithm 1 without its last two lines).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from owss_ros.core.classes import IGNORE_INDEX
from owss_ros.core.losses import DMLLoss
from owss_ros.core.prototypes import one_hot_squared_distances, upsample
from owss_ros.core.scoring import close_set_labels


def pseudo_labels(base_labels: Tensor, branch_masks: Sequence[Tensor], annotation: Tensor,
                  num_base: int) -> Tensor:
    """Algorithm 1: PL_{in+k} from M_in, the binary maps M_out,1..k and Y_out,k+1.

    Args:
        base_labels: (B, H, W) close-set labels M_in of the base head (ids 0..N-1).
        branch_masks: k binary (B, H, W) maps, M_out,t from branch head t.
        annotation: (B, H, W) binary operator mask Y_out,k+1 of the new class.
        num_base: N.
    Returns:
        (B, H, W) int64 pseudo labels with ids 0..N+k (the new class is N + k, 0-based).
    """
    labels = base_labels.clone().long()
    for t, mask in enumerate(branch_masks):  # lines 1-6
        labels[mask.bool()] = num_base + t
    labels[annotation.bool()] = num_base + len(branch_masks)  # line 8
    return labels


class PLMSegmenter(nn.Module):
    """Encoder + base head + branch heads, labelled by Algorithm 1 at inference."""

    def __init__(self, encoder: nn.Module, base_head: nn.Module, num_base: int, temperature: float,
                 refiner: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.base_head = base_head
        self.refiner = refiner  # the base net's stride-4 refiner (base head only; branch heads stay at stride 8)
        self.branch_heads = nn.ModuleList()
        self.num_base = num_base
        self.temperature = float(temperature)

    @property
    def num_classes(self) -> int:
        return self.num_base + len(self.branch_heads)

    def labels_from_features(self, features: Tensor, size: tuple[int, int] | None = None,
                             num_heads: int | None = None, image: Tensor | None = None) -> Tensor:
        """Algorithm 1 inference using the base head and the first ``num_heads`` branches
        (``image``: the encoder's input, needed when the base has a refiner)."""
        heads = list(self.branch_heads)[: len(self.branch_heads) if num_heads is None else num_heads]
        labels = self._argmin(self._base_outputs(features, image), size)
        for t, head in enumerate(heads):
            newest = self.num_base + t
            labels = torch.where(self._argmin(head(features), size) == newest,
                                 torch.full_like(labels, newest), labels)
        return labels

    def forward(self, image: Tensor) -> Tensor:
        return self.labels_from_features(self.encoder(image), tuple(image.shape[-2:]), image=image)

    def _base_outputs(self, features: Tensor, image: Tensor | None) -> Tensor:
        outputs = self.base_head(features)
        if self.refiner is None:
            return outputs
        if image is None:
            raise ValueError("this base net refines its head's outputs from the image: pass image=")
        return self.refiner(outputs, image)

    def _argmin(self, embedding: Tensor, size: tuple[int, int] | None) -> Tensor:
        if size is not None:
            embedding = upsample(embedding, size)
        return close_set_labels(one_hot_squared_distances(embedding, self.temperature))


def train_branch_head(
    segmenter: PLMSegmenter,
    images: Tensor,
    annotations: Tensor,
    head_factory: Callable[[int], nn.Module],
    steps: int = 200,
    lr: float = 1e-3,
    lambda_vl: float = 0.01,
    ignore_mask: Tensor | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> nn.Module:
    """Train and append the branch head for one new class (paper Fig. 5).

    Args:
        images: (Q, 3, H, W) normalised shots.
        annotations: (Q, H, W) binary masks of the new class (Y_out,k+1).
        head_factory: builds a fresh head given its output dimension N + k + 1.
        ignore_mask: optional (Q, H, W) pixels to leave out of the loss (e.g. void).
    Returns:
        The trained head (already appended to ``segmenter.branch_heads``).
    """
    segmenter.eval()
    with torch.no_grad():  # encoder and older heads are frozen: compute their outputs once
        features = segmenter.encoder(images)
        size = tuple(annotations.shape[-2:])
        base = segmenter.labels_from_features(features, size, num_heads=0, image=images)
        masks = [segmenter.labels_from_features(features, size, num_heads=t + 1, image=images) == segmenter.num_base + t
                 for t in range(len(segmenter.branch_heads))]
        targets = pseudo_labels(base, masks, annotations, segmenter.num_base)
        if ignore_mask is not None:
            targets[ignore_mask.bool()] = IGNORE_INDEX
    num_outputs = segmenter.num_classes + 1
    head = head_factory(num_outputs).to(features.device)
    loss_fn = DMLLoss(lambda_vl)
    optimizer = torch.optim.Adam(head.parameters(), lr=lr)
    head.train()
    for step in range(steps):
        embedding = upsample(head(features), size)
        loss = loss_fn(one_hot_squared_distances(embedding, segmenter.temperature), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if progress is not None:
            progress(step, loss.item())
    head.eval()
    segmenter.branch_heads.append(head)
    return head
