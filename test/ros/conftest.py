"""Fixtures for tests that use real ROS 2 (rclpy + FastDDS from the ros-kilted wheels).

Each test session picks a random ROS domain in 100..200 and keeps discovery on this host,
so parallel runs and other ROS processes on the machine do not see each other's traffic.
Each test module gets its own rclpy context (init at first use, shutdown at module end).
"""

from __future__ import annotations

import pytest

ROS_TEST_DOMAIN_RANGE = (100, 200)


@pytest.fixture(scope="session", autouse=True)
def isolated_ros_domain():
    """ROS_DOMAIN_ID (random 100..200) and localhost-only discovery for the session
    (:func:`owss_ros.tools.ros_env.isolated_ros_environment`, the helper the demo and the
    benchmark use too)."""
    from owss_ros.tools.ros_env import isolated_ros_environment

    with isolated_ros_environment() as domain_id:
        yield domain_id


@pytest.fixture(scope="module")
def ros_context(isolated_ros_domain):
    """A fresh, initialised rclpy context for one test module; shut down afterwards."""
    import rclpy
    from rclpy.context import Context

    context = Context()
    rclpy.init(context=context, domain_id=isolated_ros_domain)
    try:
        yield context
    finally:
        rclpy.try_shutdown(context=context)
