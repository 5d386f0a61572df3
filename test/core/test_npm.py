import numpy as np
import pytest
import torch

from owss_ros.core.class_set import ClassSet
from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.core.npm import NO_NOVEL_CLASS, novel_class_index, novel_prototype
from owss_ros.core.open_set import ScoringConfig, open_set_maps
from owss_ros.core.prototypes import one_hot_prototypes, one_hot_squared_distances, squared_distances

N, T = 19, 3.0


def eq12_reference(embedding, base, novel, lambdas):
    """Eq. 12 applied literally, pixel by pixel, in float64 numpy."""
    emb = embedding[0].double().numpy()
    base, novel = base.double().numpy(), novel.double().numpy()
    _, h, w = emb.shape
    out = np.full((h, w), -1)
    for i in range(h):
        for j in range(w):
            f = emb[:, i, j]
            d_base = ((base - f) ** 2).sum(1)
            d_novel = ((novel - f) ** 2).sum(1)
            for k, dk in enumerate(d_novel):
                others = np.concatenate([d_base, np.delete(d_novel, k)])
                if dk < lambdas[k] and (dk < others).all():
                    out[i, j] = k
    return out


def constructed_scene(seed=0):
    """Base pixels on/near their prototypes, plus a 6x6 blob of a novel object near the centroid."""
    g = torch.Generator().manual_seed(seed)
    h, w = 16, 20
    labels = torch.randint(0, N, (h, w), generator=g)
    emb = one_hot_prototypes(N, T)[labels].permute(2, 0, 1)[None].clone()
    emb += 0.3 * torch.randn(emb.shape, generator=g)
    novel_centre = torch.full((N,), T / N)
    novel_centre[5] += 0.3
    blob = torch.zeros(h, w, dtype=torch.bool)
    blob[4:10, 6:12] = True
    emb[0][:, blob] = novel_centre[:, None] + 0.15 * torch.randn(N, int(blob.sum()), generator=g)
    return emb, blob, novel_centre


def test_eq11_prototype_is_mean_of_masked_embeddings():
    emb, blob, _ = constructed_scene()
    operator_mask = blob.clone()
    operator_mask[4:10, 9:12] = False  # the operator marks only half of the object
    proto, pixels = novel_prototype(emb, operator_mask[None])
    assert pixels == int(operator_mask.sum()) == 18
    torch.testing.assert_close(proto, emb[0][:, operator_mask].mean(dim=1))


def test_eq11_over_several_shots_upsamples_embedding_to_mask():
    emb = torch.arange(2 * 2 * 2 * 2, dtype=torch.float32).reshape(2, 2, 2, 2)
    masks = torch.zeros(2, 2, 2)
    masks[0, 0, 0] = 1
    masks[1, 1, 1] = 1
    proto, pixels = novel_prototype(emb, masks)
    assert pixels == 2
    torch.testing.assert_close(proto, (emb[0, :, 0, 0] + emb[1, :, 1, 1]) / 2)
    # masks at twice the embedding resolution: the embedding is upsampled first
    proto_up, pixels_up = novel_prototype(emb[:1], torch.ones(1, 4, 4))
    assert pixels_up == 16
    torch.testing.assert_close(proto_up, emb[0].mean(dim=(1, 2)), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mask_hw", [(64, 128), (37, 91), (8, 16)])
def test_eq11_pools_the_mask_instead_of_upsampling_the_embedding(mask_hw):
    """The mask pooled onto the embedding grid (the adjoint of bilinear upsampling) gives the same
    prototype as upsampling the embedding to the mask and averaging there (Eq. 11 as written)."""
    g = torch.Generator().manual_seed(3)
    emb = torch.randn(2, N, 8, 16, generator=g)
    masks = (torch.rand(2, *mask_hw, generator=g) > 0.7).float()
    proto, pixels = novel_prototype(emb, masks)
    upsampled = torch.nn.functional.interpolate(emb, size=mask_hw, mode="bilinear", align_corners=False)
    expected = (upsampled * masks[:, None]).sum(dim=(0, 2, 3)) / masks.sum()
    assert pixels == int(masks.sum())
    torch.testing.assert_close(proto, expected, atol=1e-5, rtol=1e-5)


def test_empty_or_mismatched_masks_are_refused():
    with pytest.raises(ValueError, match="no pixel"):
        novel_prototype(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="same Q"):
        novel_prototype(torch.zeros(2, 3, 4, 4), torch.zeros(1, 4, 4))


@pytest.mark.parametrize("lambda_novel", [0.5, 2.0, 6.0])
def test_npm_adds_class_and_eq12_labels_exactly_the_right_pixels(lambda_novel):
    emb, blob, _ = constructed_scene()
    operator_mask = blob.clone()
    operator_mask[4:10, 9:12] = False
    proto, _ = novel_prototype(emb, operator_mask[None])
    classes, entry = ClassSet.cityscapes(capacity=4).with_novel("moose", proto, lambda_novel=lambda_novel)
    assert entry.class_id == N  # first free slot

    prototypes, thresholds, valid = classes.novel_tensors(default_lambda_novel=99.0)
    base_d = one_hot_squared_distances(emb, T)
    got = novel_class_index(squared_distances(emb, prototypes), base_d, thresholds, valid)[0]
    expected = eq12_reference(emb, one_hot_prototypes(N, T), prototypes[:1], [lambda_novel])
    assert np.array_equal(got.numpy(), expected)
    labelled = got == 0
    if lambda_novel >= 2.0:  # loose enough for the whole object, tight enough for no base pixel
        assert torch.equal(labelled, blob)

    # through the full open-set decision: the object becomes the new class id
    config = ScoringConfig(lambda_out=0.5, eds_normalization="fixed")
    maps = open_set_maps(emb, config, prototypes, thresholds, valid)
    assert torch.equal(maps.open_labels[0] == N, labelled)
    before = open_set_maps(emb, config)
    assert (before.open_labels[0][blob] == UNKNOWN_ID).float().mean() > 0.9


def test_eq12_with_two_novel_prototypes_picks_nearest_and_respects_validity():
    emb, blob, centre = constructed_scene(1)
    other = centre.clone()
    other[5] -= 0.6
    other[9] += 0.6
    prototypes = torch.stack([centre, other, torch.zeros(N)])
    lambdas = torch.tensor([5.0, 5.0, 5.0])
    valid = torch.tensor([1.0, 1.0, 0.0])
    base_d = one_hot_squared_distances(emb, T)
    got = novel_class_index(squared_distances(emb, prototypes), base_d, lambdas, valid)[0]
    expected = eq12_reference(emb, one_hot_prototypes(N, T), prototypes[:2], [5.0, 5.0])
    assert np.array_equal(got.numpy(), expected)
    assert (got == 2).sum() == 0  # the invalid slot never wins


def test_eq12_ties_and_empty_set():
    base = torch.full((1, 2, 1, 1), 10.0)
    tie = torch.tensor([1.0, 1.0]).reshape(1, 2, 1, 1)
    assert novel_class_index(tie, base, 5.0).item() == NO_NOVEL_CLASS
    none = novel_class_index(torch.zeros(1, 0, 1, 1), base, 5.0)
    assert none.item() == NO_NOVEL_CLASS
    closer_base = novel_class_index(torch.tensor([1.0]).reshape(1, 1, 1, 1), torch.full((1, 2, 1, 1), 0.5), 5.0)
    assert closer_base.item() == NO_NOVEL_CLASS
