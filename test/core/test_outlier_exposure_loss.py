import torch

from owss_ros.core.losses import (OUTLIER_TARGET, DMLLoss, centroid_pull, dce_loss, split_outliers,
                                  uniform_posterior_loss, variance_loss)
from owss_ros.core.prototypes import one_hot_squared_distances

T = 3.0


def test_centroid_pull_is_the_squared_distance_to_the_prototype_centroid():
    f = torch.randn(2, 19, 4, 5) * 2
    d = one_hot_squared_distances(f, T)
    outlier = torch.rand(2, 4, 5) > 0.5
    direct = ((f - T / 19) ** 2).sum(dim=1)[outlier].mean()
    torch.testing.assert_close(centroid_pull(d, outlier, T), direct, rtol=1e-5, atol=1e-5)
    at_centroid = one_hot_squared_distances(torch.full((1, 19, 2, 2), T / 19), T)
    assert abs(centroid_pull(at_centroid, torch.ones(1, 2, 2, dtype=torch.bool), T).item()) < 1e-4


def test_outlier_pixels_leave_dce_and_vl_alone_and_feed_only_the_oe_term():
    f = torch.randn(1, 19, 6, 6)
    d = one_hot_squared_distances(f, T)
    target = torch.randint(0, 19, (1, 6, 6))
    target[0, :3] = OUTLIER_TARGET
    known, outlier = split_outliers(target)
    assert outlier.sum() == 18 and (known[outlier] == 255).all() and torch.equal(known[~outlier], target[~outlier])
    paper = DMLLoss(0.01)(d, target)  # lambda_oe = 0: the paper's loss on the known pixels only
    torch.testing.assert_close(paper, dce_loss(d, known) + 0.01 * variance_loss(d, known))
    with_oe = DMLLoss(0.01, lambda_oe=0.5, temperature=T)(d, target)
    torch.testing.assert_close(with_oe, paper + 0.5 * centroid_pull(d, outlier, T))


def test_oe_gradient_moves_outlier_embeddings_towards_the_centroid():
    f = (torch.eye(19)[3] * T).view(1, 19, 1, 1).repeat(1, 1, 2, 2).requires_grad_(True)  # on a prototype
    target = torch.full((1, 2, 2), OUTLIER_TARGET)
    DMLLoss(0.0, lambda_oe=1.0, temperature=T)(one_hot_squared_distances(f, T), target).backward()
    step = f.detach() - 0.1 * f.grad
    before = ((f.detach() - T / 19) ** 2).sum(dim=1)
    after = ((step - T / 19) ** 2).sum(dim=1)
    assert (after < before).all()


def test_uniform_posterior_loss_is_minimal_for_flat_logits():
    outlier = torch.ones(1, 3, 3, dtype=torch.bool)
    flat = uniform_posterior_loss(torch.zeros(1, 19, 3, 3), outlier)
    peaked = uniform_posterior_loss(torch.eye(19)[0].view(1, 19, 1, 1).repeat(1, 1, 3, 3) * 10, outlier)
    torch.testing.assert_close(flat, torch.log(torch.tensor(19.0)))
    assert peaked > flat
    assert uniform_posterior_loss(torch.zeros(1, 19, 3, 3), ~outlier).item() == 0.0
