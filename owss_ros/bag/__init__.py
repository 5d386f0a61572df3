"""rosbag2 (MCAP) replay and recording without ROS: camera frames in, output images out.

:mod:`owss_ros.bag.mcap_bag` reads sensor_msgs/Image and CompressedImage topics of a rosbag2
bag as numpy frames and writes mono8 / 32FC1 / rgb8 images to an MCAP bag; it uses the pure
Python ``rosbags`` library (no ROS install, no rclpy), so it runs on a training server too.
:mod:`owss_ros.bag.sample_bag` writes a small camera bag from the synthetic scene generator.
"""

from owss_ros.bag.mcap_bag import BagFrame, BagError, ImageBagWriter, image_topics, read_image_frames

__all__ = ["BagError", "BagFrame", "ImageBagWriter", "image_topics", "read_image_frames"]
