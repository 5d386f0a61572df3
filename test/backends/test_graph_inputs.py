"""GraphInputs feeds only the novel slots in use (dynamic K), keeping slot indices (class ids) stable."""

from __future__ import annotations

import numpy as np

from owss_ros.backends.graph_inputs import GraphInputs
from owss_ros.core.class_set import ClassSet
from owss_ros.core.open_set import ScoringConfig

N = 19


def _taught(names, capacity=16):
    classes = ClassSet.from_base([f"c{i}" for i in range(N)], capacity=capacity)
    for i, name in enumerate(names):
        classes, _ = classes.with_novel(name, np.eye(N)[i] * 3.0 + 0.5, lambda_novel=1.0 + i)
    return classes


def test_nothing_taught_feeds_one_unused_slot():
    inputs = GraphInputs.build(_taught([]), ScoringConfig())
    assert inputs.slots == 1
    assert inputs.novel_valid.tolist() == [0.0]


def test_only_slots_up_to_the_last_used_one_are_fed():
    classes = _taught(["a", "b", "c"])
    inputs = GraphInputs.build(classes, ScoringConfig())
    assert inputs.slots == 3
    assert inputs.novel_valid.tolist() == [1.0, 1.0, 1.0]
    assert inputs.novel_thresholds.tolist() == [1.0, 2.0, 3.0]


def test_a_removed_class_between_used_ones_stays_an_unused_slot():
    classes, _ = _taught(["a", "b", "c"]).without("b")
    inputs = GraphInputs.build(classes, ScoringConfig())
    assert inputs.slots == 3  # "c" keeps slot 2, so its class id N + 2 does not move
    assert inputs.novel_valid.tolist() == [1.0, 0.0, 1.0]
    np.testing.assert_allclose(inputs.novel_prototypes[2], np.eye(N)[2] * 3.0 + 0.5)
    last_removed, _ = classes.without("c")
    assert GraphInputs.build(last_removed, ScoringConfig()).slots == 1
