"""owss_ros.ros.messages: engine values <-> ROS messages (in-process, fast)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time

from owss_ros.ros.image_conversion import mono8_to_image, rgb_to_image
from owss_ros.core.class_names import TeachingRuleError
from owss_ros.core.class_set import ClassSet
from owss_ros.ros.messages import class_list_message, label_info_message, request_lambda_novel, teaching_arguments
from owss_ros.runtime.teaching import TeachingError
from owss_ros.srv import AddClass


def test_add_class_request_becomes_frames_and_masks():
    request = AddClass.Request(class_name="cone", mask_paths=["a.png"])
    request.frame_stamps = [Time(sec=3, nanosec=5)]
    frames, masks = teaching_arguments(request, 1000)
    assert frames == [3_000_000_005] and masks == ["a.png"]
    inline = AddClass.Request(class_name="cone", images=[rgb_to_image(np.zeros((4, 6, 3), np.uint8))],
                              masks=[mono8_to_image(np.ones((4, 6), np.uint8))])
    frames, masks = teaching_arguments(inline, 1000)
    assert frames[0].shape == (4, 6, 3) and masks[0].shape == (4, 6)
    with pytest.raises(TeachingError, match="not both or neither"):
        teaching_arguments(AddClass.Request(class_name="cone"), 1000)
    with pytest.raises(TeachingError, match="max_image_pixels"):
        teaching_arguments(inline, 10)
    assert request_lambda_novel(0.0) is None and request_lambda_novel(2.5) == 2.5
    with pytest.raises(TeachingError):
        request_lambda_novel(float("nan"))


def test_frame_stamps_must_be_valid_times():
    request = AddClass.Request(class_name="cone", mask_paths=["a.png", "b.png"])
    request.frame_stamps = [Time(sec=3, nanosec=999_999_999), Time(sec=3, nanosec=1_000_000_000)]
    with pytest.raises(TeachingRuleError, match=r"frame_stamps\[1\]: nanosec must be in \[0, 999999999\]"):
        teaching_arguments(request, 1000)


def test_label_info_maps_every_id_to_its_name_and_255_to_unknown():
    class_set, _ = ClassSet.cityscapes().with_novel("cone", [0.0] * 19)
    class_list = class_list_message(class_set, 0.4, 4.0, Time(sec=7), "cam")
    info = label_info_message(class_list)
    assert (info.header.stamp.sec, info.header.frame_id) == (7, "cam")
    assert info.threshold == pytest.approx(0.4)
    assert [(c.class_id, c.class_name) for c in info.class_map][18:] == [(18, "bicycle"), (19, "cone"),
                                                                          (255, "unknown")]
