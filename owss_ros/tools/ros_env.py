"""Helpers every dev tool and the tests share: an isolated ROS domain, a node parameter file,
latency summaries. Dev-only (owss_ros.tools is imported by no runtime module; tested)."""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path

import numpy as np
import yaml

ROS_DOMAIN_RANGE = (100, 200)


@contextlib.contextmanager
def isolated_ros_environment():
    """A random ROS_DOMAIN_ID and localhost-only discovery for this process and the node; restored after."""
    names = ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE", "ROS_LOCALHOST_ONLY")
    saved = {name: os.environ.get(name) for name in names}
    domain_id = random.SystemRandom().randint(*ROS_DOMAIN_RANGE)
    os.environ["ROS_DOMAIN_ID"] = str(domain_id)
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.pop("ROS_LOCALHOST_ONLY", None)  # deprecated in Kilted; rmw warns when it is set
    try:
        yield domain_id
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def write_params_file(path: Path, **values) -> Path:
    """A ROS 2 parameter file applying ``values`` to every node ("/**")."""
    path = Path(path)
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": values}}))
    return path


def latency_summary(values_ms) -> dict:
    """count, p50, p99, max and mean (ms) of a list of latencies; None values when it is empty."""
    values = np.asarray(list(values_ms), dtype=np.float64)
    if values.size == 0:
        return {"count": 0, "p50": None, "p99": None, "max": None, "mean": None}
    return {"count": int(values.size), "p50": float(np.percentile(values, 50)),
            "p99": float(np.percentile(values, 99)), "max": float(values.max()), "mean": float(values.mean())}
