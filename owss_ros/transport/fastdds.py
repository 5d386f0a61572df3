"""Environment for a ROS 2 process that must receive or send camera-size images best effort.

Fast DDS (the default rmw, ``rmw_fastrtps_cpp``) with its built-in transports loses best-effort
samples larger than its 512 KiB shared-memory segment: they go over UDP in 64 KB fragments and
a frame is lost with any one of them. ``config/fastdds_large_images.xml`` gives each participant
a 64 MiB shared-memory segment (UDPv4 kept for discovery and other hosts). Fast DDS reads the
profile from ``FASTDDS_DEFAULT_PROFILES_FILE`` when the process creates its first participant,
so the variable must be set before ``rclpy.init()`` - in practice in the environment the node
process is started with - and in the publisher's process too (the camera driver).

    env = large_image_environment()          # a copy of os.environ with the profile set
    subprocess.Popen([...perception_node...], env=env)

This module imports no ROS; :func:`apply_large_image_profile` edits ``os.environ`` in place for
the current process (call it before rclpy is initialised); :func:`transport_warnings` says why a
process's environment would lose large frames (the node launcher and the dev tools print it).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PROFILE_NAME = "fastdds_large_images.xml"
PROFILE_ENV = "FASTDDS_DEFAULT_PROFILES_FILE"
LEGACY_PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"  # read by Fast DDS 2.x (Humble, Iron)
OVERRIDE_ENV = "OWSS_FASTDDS_PROFILE"  # another profile file, or "none" to leave transports alone
FASTDDS_RMW = "rmw_fastrtps_cpp"
SEGMENT_BYTES = 64 * 1024 * 1024  # must match <segment_size> in the profile


class TransportProfileError(RuntimeError):
    """The large-image profile cannot be found or used."""


def default_profile_path() -> Path:
    """The profile shipped with the package: the source tree's config/, else share/owss_ros/config/."""
    source = Path(__file__).resolve().parents[2] / "config" / PROFILE_NAME
    if source.is_file():
        return source
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:  # no ROS: only the source tree can hold it
        raise TransportProfileError(f"{source} not found (and ament_index_python is not installed)") from None
    try:
        installed = Path(get_package_share_directory("owss_ros")) / "config" / PROFILE_NAME
    except PackageNotFoundError:
        raise TransportProfileError(f"{source} not found and owss_ros is not installed as a ROS package") from None
    if not installed.is_file():
        raise TransportProfileError(f"neither {source} nor {installed} exists")
    return installed


def large_image_environment(base: Mapping[str, str] | None = None, profile: str | os.PathLike | None = None,
                            *, override: bool = False) -> dict[str, str]:
    """A copy of ``base`` (default ``os.environ``) that makes Fast DDS carry large images.

    Leaves the environment unchanged (a copy) when it selects another rmw than Fast DDS, when
    ``OWSS_FASTDDS_PROFILE=none``, or when a profile file is already set and ``override`` is
    false (the integrator's own profile wins). ``OWSS_FASTDDS_PROFILE=<file>`` picks another file.
    """
    env = dict(os.environ if base is None else base)
    rmw = env.get("RMW_IMPLEMENTATION", "").strip()
    if rmw and rmw != FASTDDS_RMW:
        return env
    choice = env.get(OVERRIDE_ENV, "").strip()
    if choice.lower() == "none":
        return env
    if not override and (env.get(PROFILE_ENV) or env.get(LEGACY_PROFILE_ENV)):
        return env
    path = Path(profile or choice or default_profile_path()).resolve()
    if not path.is_file():
        raise TransportProfileError(f"Fast DDS profile {path} does not exist")
    env[PROFILE_ENV] = str(path)
    if LEGACY_PROFILE_ENV in env:  # Kilted's rmw warns that this name is deprecated: only replaced, never added
        env[LEGACY_PROFILE_ENV] = str(path)
    return env


def apply_large_image_profile(profile: str | os.PathLike | None = None, *, override: bool = False) -> str | None:
    """Sets the profile in ``os.environ`` (before ``rclpy.init()``); returns the file in effect."""
    env = large_image_environment(profile=profile, override=override)
    for name in (PROFILE_ENV, LEGACY_PROFILE_ENV):
        if name in env:
            os.environ[name] = env[name]
    return os.environ.get(PROFILE_ENV) or os.environ.get(LEGACY_PROFILE_ENV)


def shared_memory_warning(segment_bytes: int = SEGMENT_BYTES, participants: int = 2,
                          shm_dir: str = "/dev/shm") -> str | None:
    """A sentence when ``shm_dir`` cannot hold ``participants`` segments (e.g. docker's 64 MiB)."""
    try:
        total = shutil.disk_usage(shm_dir).total
    except OSError:
        return f"{shm_dir} is missing: Fast DDS shared memory is unavailable and large best-effort frames are lost"
    needed = segment_bytes * participants
    if total < needed:
        return (f"{shm_dir} holds {total // 2**20} MiB, but {participants} participants with "
                f"{segment_bytes // 2**20} MiB shared-memory segments need {needed // 2**20} MiB; "
                "large best-effort frames will be lost (docker: --shm-size=1g or --ipc=host)")
    return None


def transport_warnings(env: Mapping[str, str] | None = None, participants: int = 2) -> list[str]:
    """Why camera-size best-effort frames may not arrive for a process with ``env`` (default
    ``os.environ``): Fast DDS without a profile, a profile file that is missing, or a /dev/shm
    too small for the segments. Empty when nothing is wrong (or another rmw is selected)."""
    env = os.environ if env is None else env
    rmw = env.get("RMW_IMPLEMENTATION", "").strip()
    if rmw and rmw != FASTDDS_RMW:
        return []
    profile = env.get(PROFILE_ENV) or env.get(LEGACY_PROFILE_ENV)
    if not profile:
        return [f"Fast DDS runs with its built-in transports: best-effort camera frames larger than about "
                f"512 KiB (1280x720 rgb8 and up) are lost before they reach the node. Set {PROFILE_ENV} to "
                f"share/owss_ros/config/{PROFILE_NAME} in this process and in the camera driver's "
                "(the launch file does it for the node)."]
    if not Path(profile).is_file():
        return [f"{PROFILE_ENV}={profile} does not exist: Fast DDS falls back to its built-in transports "
                "and large best-effort frames are lost"]
    warning = shared_memory_warning(participants=participants)
    return [warning] if warning else []
