"""owss_ros.ros.messages: engine values <-> ROS messages (in-process, fast)."""

from __future__ import annotations

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo, Image

from owss_ros.ros.image_conversion import mono8_to_image, rgb_to_image
from owss_ros.ros.messages import request_lambda_novel, scaled_camera_info, teaching_arguments
from owss_ros.runtime.teaching import TeachingError
from owss_ros.srv import AddClass


''' + open("/tmp/cam_test.py").read().rstrip() + '''


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
