"""DDS transport settings for camera-size images (no ROS imports in :mod:`.fastdds`)."""
