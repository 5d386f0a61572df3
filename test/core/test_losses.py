import math

import pytest
import torch
import torch.nn.functional as F

from owss_ros.core.losses import DMLLoss, dce_loss, log_inverse_class_weights, variance_loss
from owss_ros.core.prototypes import one_hot_squared_distances


def make(seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(2, 4, 3, 5, generator=g, requires_grad=True)
    target = torch.randint(0, 4, (2, 3, 5), generator=g)
    target[0, 0, :2] = 255
    return emb, target


def test_dce_is_cross_entropy_on_negative_distances():
    emb, target = make()
    d = one_hot_squared_distances(emb, 3.0)
    logits = -d.permute(0, 2, 3, 1).reshape(-1, 4)
    t = target.reshape(-1)
    valid = t != 255
    manual = -torch.log_softmax(logits[valid], dim=1)[torch.arange(int(valid.sum())), t[valid]].mean()
    torch.testing.assert_close(dce_loss(d, target), manual)


def test_variance_loss_is_mean_own_distance():
    emb, target = make(1)
    d = one_hot_squared_distances(emb, 3.0)
    valid = target != 255
    own = [d[b, target[b, i, j], i, j] for b, i, j in valid.nonzero().tolist()]
    torch.testing.assert_close(variance_loss(d, target), torch.stack(own).mean())


def test_hybrid_and_lambda():
    emb, target = make(2)
    d = one_hot_squared_distances(emb, 3.0)
    torch.testing.assert_close(DMLLoss(0.01)(d, target), dce_loss(d, target) + 0.01 * variance_loss(d, target))
    torch.testing.assert_close(DMLLoss(0.0)(d, target), dce_loss(d, target))


def test_all_ignored_gives_zero_with_gradient():
    emb, _ = make(3)
    d = one_hot_squared_distances(emb, 3.0)
    loss = DMLLoss()(d, torch.full((2, 3, 5), 255))
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert emb.grad is not None and float(emb.grad.abs().sum()) == 0.0


def test_vl_pulls_embedding_towards_own_prototype():
    emb = torch.zeros(1, 3, 1, 1, requires_grad=True)
    target = torch.tensor([[[1]]])
    variance_loss(one_hot_squared_distances(emb, 3.0), target).backward()
    # gradient of ||f - 3 e_1||^2 at f = 0 is -6 e_1: descending moves f towards the prototype
    torch.testing.assert_close(emb.grad.flatten(), torch.tensor([0.0, -6.0, 0.0]))


def test_dce_matches_functional_cross_entropy():
    emb, target = make(4)
    d = one_hot_squared_distances(emb, 3.0)
    torch.testing.assert_close(dce_loss(d, target), F.cross_entropy(-d, target, ignore_index=255))


def test_class_weighted_dce_is_the_weighted_mean_over_valid_pixels():
    emb, target = make(5)
    d = one_hot_squared_distances(emb, 3.0)
    weights = torch.tensor([1.0, 4.0, 0.5, 2.0])
    logits = -d.permute(0, 2, 3, 1).reshape(-1, 4)
    t = target.reshape(-1)
    valid = t != 255
    per_pixel = -torch.log_softmax(logits[valid], dim=1)[torch.arange(int(valid.sum())), t[valid]]
    w = weights[t[valid]]
    torch.testing.assert_close(dce_loss(d, target, class_weights=weights), (w * per_pixel).sum() / w.sum())
    # uniform weights are the paper's unweighted mean; VL stays unweighted inside the hybrid loss
    torch.testing.assert_close(dce_loss(d, target, class_weights=torch.full((4,), 3.0)), dce_loss(d, target))
    torch.testing.assert_close(DMLLoss(0.1, class_weights=weights)(d, target),
                               dce_loss(d, target, class_weights=weights) + 0.1 * variance_loss(d, target))


def test_log_inverse_weights_favour_rare_classes_within_a_bound():
    weights = log_inverse_class_weights([0.5, 0.1, 0.001, 0.0])
    torch.testing.assert_close(weights[0], torch.tensor(1.0 / math.log(1.52)))
    assert bool((weights[1:] > weights[:-1]).all())  # rarer -> heavier
    torch.testing.assert_close(weights[3], torch.tensor(1.0 / math.log(1.02)))  # the bound, ~50
    with pytest.raises(ValueError):
        log_inverse_class_weights([0.5, -0.1])
    with pytest.raises(ValueError):
        log_inverse_class_weights([0.5, 0.5], c=1.0)
