"""ROS 2 adapters around :mod:`owss_ros.core`: message conversion and the perception node.

Importing this package pulls in ROS message modules (sensor_msgs, std_msgs); the core
library never imports it.
"""
