import pytest
import torch
from torch import nn

from owss_ros.core.plm import PLMSegmenter, pseudo_labels, train_branch_head

T = 3.0
RED, GREEN, BLUE, YELLOW, CYAN = (1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1)


def test_algorithm1_pseudo_labels():
    base = torch.tensor([[[0, 1, 2, 0]]])
    m1 = torch.tensor([[[1, 1, 0, 0]]], dtype=torch.bool)  # branch 1 claims pixels 0, 1
    m2 = torch.tensor([[[0, 1, 0, 0]]], dtype=torch.bool)  # branch 2 (later) overwrites pixel 1
    y = torch.tensor([[[0, 0, 1, 1]]], dtype=torch.bool)  # new annotation wins last
    assert pseudo_labels(base, [m1, m2], y, num_base=3).tolist() == [[[3, 4, 5, 5]]]
    assert pseudo_labels(base, [], y, num_base=3).tolist() == [[[0, 1, 3, 3]]]


def colour_image(layout):
    """(H, W) grid of colour tuples -> (1, 3, H, W) float image."""
    return torch.tensor(layout, dtype=torch.float32).permute(2, 0, 1)[None]


def make_segmenter():
    base_head = nn.Conv2d(3, 3, 1)
    with torch.no_grad():  # red/green/blue land exactly on prototypes T*e_0..2
        base_head.weight.copy_(torch.eye(3)[:, :, None, None] * T)
        base_head.bias.zero_()
    return PLMSegmenter(nn.Identity(), base_head.requires_grad_(False), num_base=3, temperature=T)


def head_factory(num_outputs):
    torch.manual_seed(num_outputs)
    return nn.Sequential(nn.Conv2d(3, 16, 1), nn.ReLU(), nn.Conv2d(16, num_outputs, 1))


def scene(novel):
    rows = [[RED] * 4 + [novel] * 4, [GREEN] * 4 + [novel] * 4, [BLUE] * 8, [RED, GREEN, BLUE, novel] * 2]
    image = colour_image(rows)
    mask = torch.tensor([[c == novel for c in row] for row in rows])[None]
    return image, mask


def test_plm_learns_new_classes_and_keeps_old_ones():
    seg = make_segmenter()
    image, yellow = scene(YELLOW)
    before = seg(image)
    assert set(before[yellow].tolist()) <= {0, 1}  # yellow is mislabelled by the base head

    frozen = [p.clone() for p in seg.base_head.parameters()]
    train_branch_head(seg, image, yellow, head_factory, steps=300, lr=0.05)
    after = seg(image)
    assert torch.all(after[yellow] == 3)
    assert torch.equal(after[~yellow], before[~yellow])  # old classes are untouched
    assert all(torch.equal(a, b) for a, b in zip(frozen, seg.base_head.parameters()))

    image2, cyan = scene(CYAN)
    train_branch_head(seg, image2, cyan, head_factory, steps=300, lr=0.05)
    assert len(seg.branch_heads) == 2 and seg.num_classes == 5
    assert torch.all(seg(image2)[cyan] == 4)
    # PLM-all: the first branch still labels yellow where the second one does not claim it
    assert torch.all(seg(image)[yellow] == 3)


class _ShiftRefiner(nn.Module):
    """A stand-in stride-4 refiner that makes every base pixel look green, whatever the head said."""

    def forward(self, outputs, image):
        return torch.zeros_like(outputs) + torch.tensor([0.0, T, 0.0])[None, :, None, None]


def test_a_refined_base_labels_through_its_refiner_and_needs_the_image():
    plain = make_segmenter()
    refined = PLMSegmenter(nn.Identity(), plain.base_head, num_base=3, temperature=T, refiner=_ShiftRefiner())
    image, yellow = scene(YELLOW)
    assert torch.all(refined(image) == 1)  # the refiner's output decides the base labels
    assert not torch.all(plain(image) == 1)
    with pytest.raises(ValueError, match="image="):
        refined.labels_from_features(image, tuple(image.shape[-2:]))
    train_branch_head(refined, image, yellow, head_factory, steps=300, lr=0.05)
    after = refined(image)
    assert torch.all(after[yellow] == 3) and torch.all(after[~yellow] == 1)  # pseudo labels came from the refiner
