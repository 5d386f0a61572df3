"""The rules a taught class must satisfy (issue 12, defect 7): names, masks, stamps, prototypes."""

import numpy as np
import pytest
import torch

from owss_ros.core import class_names as cn
from owss_ros.core.class_names import TeachingRuleError
from owss_ros.core.class_set import ClassSet
from owss_ros.core.classes import CITYSCAPES_NAMES
from owss_ros.core.npm import novel_prototype

N = 19


@pytest.mark.parametrize("name", ["animal", "traffic_cone", "moose_2", "a", "x" * 64, "k9"])
def test_valid_names_pass_unchanged(name):
    assert cn.check_new_class_name(name, CITYSCAPES_NAMES) == name


@pytest.mark.parametrize("name, fragment", [
    ("", "empty"),
    ("x" * 100_000, "too long: 100000 characters"),
    ("x" * 65, "at most 64"),
    ("ani\nmal", "not allowed"),
    ("animal\n", "white space"),
    (" animal", "white space"),
    ("Animal", "use 'animal'"),
    ("ANIMAL", "use 'animal'"),
    ("traffic cone", "use 'traffic_cone'"),
    ("a/b/../c", "'.', '/'"),
    ("2fast", "start with a letter"),
    ("_x", "start with a letter"),
    ("élan", "start with a letter"),
    ("caf\u00e9", "'é'"),
    ("moose;rm", "';'"),
])
def test_invalid_names_are_refused_with_the_reason(name, fragment):
    with pytest.raises(TeachingRuleError) as err:
        cn.check_new_class_name(name, CITYSCAPES_NAMES)
    assert fragment in str(err.value)
    assert len(str(err.value)) < 400  # a 100,000-character name is not echoed back


def test_non_string_name_is_refused():
    with pytest.raises(TeachingRuleError, match="must be a string"):
        cn.check_new_class_name(None, CITYSCAPES_NAMES)


@pytest.mark.parametrize("name", ["unknown", "void", "ignore"])
def test_reserved_names(name):
    with pytest.raises(TeachingRuleError, match="reserved"):
        cn.check_new_class_name(name, CITYSCAPES_NAMES)


@pytest.mark.parametrize("name, base", [("car", "car"), ("traffic_light", "traffic light"),
                                        ("traffic_sign", "traffic sign")])
def test_base_class_names_are_refused(name, base):
    with pytest.raises(TeachingRuleError, match=f"base class {base!r}"):
        cn.check_new_class_name(name, CITYSCAPES_NAMES)


def test_taught_names_clash_ignoring_case_and_separators():
    with pytest.raises(TeachingRuleError, match="already exists"):
        cn.check_new_class_name("animal", CITYSCAPES_NAMES, ["animal"])
    with pytest.raises(TeachingRuleError, match="clashes with the taught class 'Animal'"):
        cn.check_new_class_name("animal", CITYSCAPES_NAMES, ["Animal"])  # e.g. from an old store
    with pytest.raises(TeachingRuleError, match="clashes"):
        cn.check_new_class_name("road_works", CITYSCAPES_NAMES, ["road-works"])
    assert cn.check_new_class_name("animal_2", CITYSCAPES_NAMES, ["animal"]) == "animal_2"


def test_class_set_variant_uses_base_and_taught_entries():
    cs, _ = ClassSet.cityscapes(capacity=2).with_novel("animal", torch.ones(N))
    assert cn.check_new_class_name_in(cs, "moose") == "moose"
    with pytest.raises(TeachingRuleError, match="base class 'sidewalk'"):
        cn.check_new_class_name_in(cs, "sidewalk")
    with pytest.raises(TeachingRuleError, match="already exists"):
        cn.check_new_class_name_in(cs, "animal")


def test_mask_pixel_minimum():
    assert cn.MIN_MASK_PIXELS >= 16
    assert cn.check_mask_pixels(cn.MIN_MASK_PIXELS) == cn.MIN_MASK_PIXELS
    with pytest.raises(TeachingRuleError, match=r"shot 0: the mask covers 1 pixel at model resolution 512x256; at least 64"):
        cn.check_mask_pixels(1, "shot 0", resolution_hw=(256, 512))
    with pytest.raises(TeachingRuleError, match="covers 0 pixels"):
        cn.check_mask_pixels(0)
    with pytest.raises(TeachingRuleError, match="at least 10"):
        cn.check_mask_pixels(9, minimum=10)


@pytest.mark.parametrize("sec, nanosec, expected", [
    (0, 0, 0), (1732530000, 0, 1732530000 * 10**9), (1, 999_999_999, 1_999_999_999),
    (np.int32(5), np.uint32(7), 5 * 10**9 + 7),
])
def test_valid_stamps(sec, nanosec, expected):
    assert cn.check_stamp(sec, nanosec) == expected


@pytest.mark.parametrize("sec, nanosec, fragment", [
    (1732530000, 1_000_000_000, "nanosec must be in [0, 999999999], got 1000000000"),
    (0, -1, "nanosec must be in"),
    (-1, 0, "sec must not be negative"),
    (1.5, 0, "sec must be an integer"),
    (0, True, "nanosec must be an integer"),
])
def test_invalid_stamps(sec, nanosec, fragment):
    with pytest.raises(TeachingRuleError) as err:
        cn.check_stamp(sec, nanosec, "frame_stamps[0]")
    assert fragment in str(err.value) and str(err.value).startswith("frame_stamps[0]")


def test_stamp_message_duck_typing():
    class Time:
        sec, nanosec = 3, 1_000_000_000
    with pytest.raises(TeachingRuleError, match="nanosec"):
        cn.check_stamp_message(Time())


def _prototype(embedding, mask):
    mean, _ = novel_prototype(torch.from_numpy(embedding)[None], torch.from_numpy(mask)[None])
    return mean.numpy().astype(np.float32)


def test_the_same_mask_under_a_second_name_is_refused():
    rng = np.random.default_rng(0)
    embedding = rng.normal(size=(N, 32, 64)).astype(np.float32)
    mask = np.zeros((32, 64), np.uint8)
    mask[10:20, 10:30] = 1
    cs, _ = ClassSet.cityscapes(capacity=3).with_novel("animal", _prototype(embedding, mask))
    with pytest.raises(TeachingRuleError, match="identical to that of the taught class 'animal'"):
        cn.check_distinct_prototype_in(cs, _prototype(embedding, mask), name="moose")
    # float rounding of a store round trip is still the same class
    with pytest.raises(TeachingRuleError):
        cn.check_distinct_prototype_in(cs, _prototype(embedding, mask) + 1e-5)
    # another object of the same frame is a different class
    other = np.zeros_like(mask)
    other[22:30, 40:60] = 1
    distance = cn.check_distinct_prototype_in(cs, _prototype(embedding, other), name="moose")
    assert distance > cn.DUPLICATE_PROTOTYPE_SQ_DISTANCE


def test_distinct_prototype_with_nothing_taught_and_shape_mismatch():
    assert cn.check_distinct_prototype(np.ones(N), []) == float("inf")
    with pytest.raises(TeachingRuleError, match="19 values"):
        cn.check_distinct_prototype(np.ones(N), [("a", np.ones(3))])


def test_module_imports_no_ros():
    import subprocess
    import sys
    code = ("import sys, owss_ros.core.class_names\n"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('rclpy', 'sensor_msgs')]\n"
            "assert not bad, bad")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
