"""Fixtures for tests that use real ROS 2 (rclpy + FastDDS from the ros-kilted wheels).

Each test session picks a random ROS domain in 100..200 and keeps discovery on this host,
so parallel runs and other ROS processes on the machine do not see each other's traffic.
Each test module gets its own rclpy context (init at first use, shutdown at module end).
"""

from __future__ import annotations

import os
import random

import pytest

ROS_TEST_DOMAIN_RANGE = (100, 200)


@pytest.fixture(scope="session", autouse=True)
def isolated_ros_domain():
    """Sets ROS_DOMAIN_ID (random 100..200) and localhost-only discovery for the session."""
    domain_id = random.SystemRandom().randint(*ROS_TEST_DOMAIN_RANGE)
    saved = {name: os.environ.get(name) for name in
             ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY")}
    os.environ["ROS_DOMAIN_ID"] = str(domain_id)
    # Kilted: ROS_AUTOMATIC_DISCOVERY_RANGE replaces ROS_LOCALHOST_ONLY, which is deprecated
    # (rmw warns when it is set), so the old variable is removed rather than set.
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.pop("ROS_LOCALHOST_ONLY", None)
    yield domain_id
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


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
