"""The open-world engine: everything the perception node does, without ROS.

:class:`~owss_ros.runtime.engine.OpenWorldEngine` owns the backend, the class set and its store,
the worker thread, the frame ring buffer, teaching and health. The ROS node
(:mod:`owss_ros.ros.perception_node`) only converts parameters, messages and service calls to
and from it. Nothing in this package imports ROS (tested).
"""

from owss_ros.runtime.engine import EngineConfig, FrameOutputs, Health, OpenWorldEngine, TeachResult
from owss_ros.runtime.model_files import ModelFiles, StartupError
from owss_ros.runtime.frames import Frame, FrameRejectedError

__all__ = ["EngineConfig", "Frame", "FrameOutputs", "FrameRejectedError", "Health", "ModelFiles", "OpenWorldEngine",
           "StartupError", "TeachResult"]
