import math

import pytest
import torch

from owss_ros.core.class_set import ClassOrigin, ClassSet, ClassSetError

N = 19


def test_base_set():
    cs = ClassSet.cityscapes(capacity=3)
    assert cs.num_base == N and cs.embedding_dim == N and cs.novel_entries == ()
    assert cs.find("road").class_id == 0 and cs.find(18).name == "bicycle"
    protos, thresholds, valid = cs.novel_tensors(4.0)
    assert protos.shape == (3, N) and valid.sum() == 0 and torch.all(thresholds == 4.0)


def test_add_remove_reuses_lowest_free_slot_and_is_immutable():
    base = ClassSet.cityscapes(capacity=3)
    a, ea = base.with_novel("moose", torch.ones(N), lambda_novel=2.0, pixels=10, shots=1)
    b, eb = a.with_novel("tyre", torch.zeros(N))
    assert (ea.class_id, eb.class_id) == (N, N + 1)
    assert ea.origin is ClassOrigin.NPM and ea.pixels == 10 and ea.created
    assert base.novel_entries == ()  # the original set is untouched
    c, removed = b.without("moose")
    assert removed == ea and c.find("moose") is None and c.find("tyre").class_id == N + 1
    d, ec = c.with_novel("cone", torch.ones(N))
    assert ec.class_id == N  # slot 0 is free again
    protos, thresholds, valid = d.novel_tensors(4.0)
    assert valid.tolist() == [1.0, 1.0, 0.0]
    assert thresholds.tolist() == [4.0, 4.0, 4.0]
    torch.testing.assert_close(protos[0], torch.ones(N))
    _, t2, _ = b.novel_tensors(4.0)
    assert t2.tolist() == [2.0, 4.0, 4.0]  # per-class lambda_novel


@pytest.mark.parametrize("name, proto, kwargs, match", [
    ("road", torch.ones(N), {}, "already exists"),
    ("  ", torch.ones(N), {}, "empty"),
    ("x", torch.ones(N - 1), {}, "18 values"),
    ("x", torch.full((N,), math.nan), {}, "NaN"),
    ("x", torch.ones(N), {"lambda_novel": -1.0}, "lambda_novel"),
])
def test_bad_additions_are_refused(name, proto, kwargs, match):
    with pytest.raises(ClassSetError, match=match):
        ClassSet.cityscapes().with_novel(name, proto, **kwargs)


def test_capacity_and_base_removal():
    cs = ClassSet.cityscapes(capacity=1)
    cs, _ = cs.with_novel("a", torch.ones(N))
    with pytest.raises(ClassSetError, match="slots are in use"):
        cs.with_novel("b", torch.ones(N))
    with pytest.raises(ClassSetError, match="base class"):
        cs.without("road")
    with pytest.raises(ClassSetError, match="no class"):
        cs.without("zebra")
