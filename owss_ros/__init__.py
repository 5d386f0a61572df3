"""owss_ros: open world semantic segmentation (DMLNet) as a ROS 2 perception node.

``owss_ros.core`` is the pure library (no ROS imports); ``owss_ros.backends``,
``owss_ros.cli`` and ``owss_ros.ros`` are thin adapters around it.
"""

__path__ = __import__("pkgutil").extend_path(__path__, __name__)  # + installed owss_ros.msg/.srv

__version__ = "0.1.0"
