"""Background prototypes (beyond the paper): what a taught class's shots show it is not."""

import hashlib
import json

import pytest
import torch

from owss_ros.core.class_set import ClassSet, ClassSetError
from owss_ros.core.class_store import decode_class_set, decode_taught_class, encode_class_set, encode_taught_class
from owss_ros.core.npm import (
    MAX_BACKGROUND_PER_CLASS,
    NO_NOVEL_CLASS,
    background_prototypes,
    kmeans_centres,
    novel_class_beside_base,
)
from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.core.open_set import ScoringConfig

C = 4


def _shot(h=8, w=8):
    """One (1, C, h, w) shot: a 3x3 mask in the top-left, two unknown blobs elsewhere, rest known."""
    features = torch.zeros(1, C, h, w)
    mask = torch.zeros(1, h, w)
    mask[0, :3, :3] = 1
    features[0, :, :3, :3] = torch.tensor([1.0, 0, 0, 0])[:, None, None]
    unknown = torch.zeros(1, h, w, dtype=torch.bool)
    unknown[0, :3, :3] = True  # the class itself is unknown too: never a background
    unknown[0, 3, :3] = True  # the band next to the mask
    unknown[0, 6:, :2] = True  # blob A
    features[0, :, 6:, :2] = torch.tensor([0, 2.0, 0, 0])[:, None, None]
    unknown[0, 6:, 6:] = True  # blob B
    features[0, :, 6:, 6:] = torch.tensor([0, 0, 3.0, 0])[:, None, None]
    return features, mask, unknown


def test_background_is_the_unknown_cells_outside_the_mask_and_its_band():
    features, mask, unknown = _shot()
    centres = background_prototypes(features, mask, unknown, 2, band_cells=1, min_cells=1)
    expected = {(0.0, 2.0, 0.0, 0.0), (0.0, 0.0, 3.0, 0.0)}
    assert {tuple(round(v, 4) for v in row.tolist()) for row in centres} == expected
    one = background_prototypes(features, mask, unknown, 1, band_cells=1, min_cells=1)
    torch.testing.assert_close(one[0], torch.tensor([0.0, 1.0, 1.5, 0.0]))  # 4 + 4 cells of the two blobs
    assert background_prototypes(features, mask, unknown, 0).shape == (0, C)
    assert background_prototypes(features, mask, unknown, 2, min_cells=9).shape == (0, C)  # 8 cells qualify


def test_without_the_band_the_cells_next_to_the_mask_count():
    features, mask, unknown = _shot()
    features[0, :, 3, :3] = torch.tensor([0, 0, 0, 5.0])[:, None]
    centres = background_prototypes(features, mask, unknown, 3, band_cells=0, min_cells=1)
    assert any(bool(torch.allclose(row, torch.tensor([0, 0, 0, 5.0]))) for row in centres)
    banded = background_prototypes(features, mask, unknown, 3, band_cells=1, min_cells=1)
    assert not any(bool(torch.allclose(row, torch.tensor([0, 0, 0, 5.0]))) for row in banded)


def test_count_is_bounded():
    features, mask, unknown = _shot()
    with pytest.raises(ValueError, match="count"):
        background_prototypes(features, mask, unknown, MAX_BACKGROUND_PER_CLASS + 1)


def test_kmeans_is_deterministic_and_stops_at_the_distinct_points():
    points = torch.tensor([[0.0, 0.0], [0.1, 0.0], [10.0, 0.0], [10.1, 0.0]])
    a, b = kmeans_centres(points, 2), kmeans_centres(points, 2)
    assert torch.equal(a, b)
    assert sorted(round(float(x), 2) for x in a[:, 0]) == [0.05, 10.05]
    assert len(kmeans_centres(torch.ones(5, 2), 3)) == 1  # one distinct point: one centre


def test_a_background_slot_never_labels_but_takes_its_pixels_from_the_class():
    # slot 0: the class at distance 1 (lambda 4); slot 1: a background at distance 0.5 (lambda 0)
    novel = torch.tensor([[1.0, 1.0, 1.0], [0.5, 2.0, 9.0]])[None, :, None, :]  # (1, K=2, 1, 3 pixels)
    base = torch.full((1, 1, 3), 20.0)
    index = novel_class_beside_base(novel, base, torch.tensor([4.0, 0.0]))
    assert index[0, 0].tolist() == [NO_NOVEL_CLASS, 0, 0]


def _class_set_with_background():
    class_set = ClassSet.from_base(["a", "b", "c", "d"], capacity=3)
    class_set, _ = class_set.with_novel("x", [1.0, 0, 0, 0], lambda_novel=2.0, background=[[0, 5.0, 0, 0]])
    class_set, _ = class_set.with_novel("y", [0, 0, 1.0, 0], lambda_novel=3.0,
                                        background=[[0, 0, 0, 5.0], [0, 0, 0, 6.0]])
    return class_set


def test_graph_inputs_put_backgrounds_after_the_class_slots_with_threshold_zero():
    inputs = GraphInputs.build(_class_set_with_background(), ScoringConfig())
    assert inputs.slots == 2 + 3
    assert inputs.novel_thresholds.tolist() == [2.0, 3.0, 0.0, 0.0, 0.0]
    assert inputs.novel_valid.tolist() == [1.0] * 5
    assert inputs.novel_prototypes[2:].tolist() == [[0, 5, 0, 0], [0, 0, 0, 5], [0, 0, 0, 6]]
    removed, _ = _class_set_with_background().without("x")
    after = GraphInputs.build(removed, ScoringConfig())  # y keeps slot 1 (its id); x's background goes
    assert after.novel_valid.tolist() == [0.0, 1.0, 1.0, 1.0]
    assert after.novel_prototypes[2:].tolist() == [[0, 0, 0, 5], [0, 0, 0, 6]]


@pytest.mark.parametrize("background, reason", [
    ([[0.0, 1.0]], "must be"), ([[float("nan")] * C], "NaN"), ([[0.0] * C] * (MAX_BACKGROUND_PER_CLASS + 1), "at most"),
])
def test_bad_backgrounds_are_refused(background, reason):
    class_set = ClassSet.from_base(["a", "b", "c", "d"], capacity=3)
    with pytest.raises(ClassSetError, match=reason):
        class_set.with_novel("x", [1.0, 0, 0, 0], background=background)


def test_the_store_and_an_exported_class_keep_the_background():
    class_set = _class_set_with_background()
    assert decode_class_set(encode_class_set(class_set, "f")) == class_set
    entry = class_set.find("y")
    assert decode_taught_class(encode_taught_class(entry, "f")).background == entry.background


def test_a_store_written_before_backgrounds_loads_with_none():
    class_set = ClassSet.from_base(["a", "b", "c", "d"], capacity=3)
    class_set, _ = class_set.with_novel("x", [1.0, 0, 0, 0])
    document = json.loads(encode_class_set(class_set, "f"))
    for entry in document["classes"]:
        entry.pop("background")
    payload = {k: v for k, v in document.items() if k not in ("format", "version", "sha256")}
    document["sha256"] = hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert decode_class_set(json.dumps(document).encode()).find("x").background == ()


def test_a_background_inside_another_taught_class_is_dropped_both_ways():
    class_set = ClassSet.from_base(["a", "b", "c", "d"], capacity=3)
    class_set, _ = class_set.with_novel("x", [1.0, 0, 0, 0], lambda_novel=1.0,
                                        background=[[0, 0, 3.0, 0], [0, 0, 0, 3.0]])
    # y's radius holds x's first background; y's own second background lies inside x's radius
    class_set, y = class_set.with_novel("y", [0, 0, 2.5, 0], lambda_novel=1.0,
                                        background=[[0, 3.0, 0, 0], [1.2, 0, 0, 0]])
    assert class_set.find("x").background == ((0.0, 0.0, 0.0, 3.0),)
    assert y.background == ((0.0, 3.0, 0.0, 0.0),) == class_set.find("y").background


def test_decision_slots_are_the_one_layout_the_graph_and_the_benchmark_read():
    class_set = _class_set_with_background()
    prototypes, thresholds, valid = class_set.decision_slots(9.0)
    inputs = GraphInputs.build(class_set, ScoringConfig(lambda_novel=9.0))
    assert prototypes.tolist() == inputs.novel_prototypes.tolist()
    assert thresholds.tolist() == inputs.novel_thresholds.tolist() and valid.tolist() == inputs.novel_valid.tolist()
    empty = ClassSet.from_base(["a", "b", "c", "d"], capacity=3).decision_slots(9.0)
    assert [tuple(t.shape) for t in empty] == [(0, C), (0,), (0,)]
    assert GraphInputs.build(ClassSet.from_base(["a", "b", "c", "d"], capacity=3), ScoringConfig()).slots == 1
