"""Camera-size frames over real FastDDS between two processes (issue 12, defect 1).

Each case starts a best-effort, keep-last-1 subscriber (the node's camera QoS) and a publisher
of 1920x1080 rgb8 frames (6.2 MB) at 10 Hz as separate processes, in a random isolated ROS
domain with localhost-only discovery. With Fast DDS's built-in transports the frames are lost
(measured here: 0 of 16 on a quiet machine, 5-6 of 16 beside a busy process); with config/fastdds_large_images.xml in both processes
they arrive (measured: 16 of 16). The thresholds leave room for a loaded CI machine, where a
keep-last-1 subscriber may legitimately skip a frame it was too slow to take.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from owss_ros.transport import fastdds

REPO_ROOT = Path(__file__).resolve().parents[2]
FRAMES = 16


def _base_env() -> dict[str, str]:
    env = dict(os.environ)
    for name in (fastdds.PROFILE_ENV, fastdds.LEGACY_PROFILE_ENV, "FASTDDS_BUILTIN_TRANSPORTS",
                 fastdds.OVERRIDE_ENV, "ROS_LOCALHOST_ONLY"):
        env.pop(name, None)
    env["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(201, 230))
    env["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _probe(role: str, env: dict[str, str], *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "owss_ros.transport.image_probe", role, *extra],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(proc: subprocess.Popen) -> dict[str, str]:
    """The probe's ``WORD rest`` lines as {WORD: rest}."""
    out, err = proc.communicate(timeout=90)
    assert proc.returncode == 0, err[-2000:]
    return dict(line.split(" ", 1) for line in out.splitlines() if line[:1].isupper() and " " in line)


def send_1080p(sub_env, pub_env, sub_args=(), pub_args=()) -> tuple[int, int, dict[str, str]]:
    """(frames sent, frames received, the subscriber's report)."""
    sub = _probe("sub", sub_env, "--seconds", "60", "--frames", str(FRAMES), *sub_args)
    time.sleep(1.0)
    pub = _probe("pub", pub_env, "--size", "1920x1080", "--frames", str(FRAMES), "--rate", "10", *pub_args)
    sent = int(_report(pub)["SENT"])  # the publisher lingers 1 s after its last frame
    if sub.poll() is None:
        sub.send_signal(signal.SIGUSR1)  # frames still in flight have had that second to arrive
    received = _report(sub)
    return sent, int(received["RECEIVED"]), received


@pytest.fixture(scope="module")
def ros_available():
    pytest.importorskip("rclpy")
    pytest.importorskip("sensor_msgs.msg")


def test_default_transports_lose_1080p_best_effort_frames(ros_available):
    env = _base_env()
    sent, received, _ = send_1080p(env, env)
    print(f"default transports: sent {sent}, received {received}")
    assert sent == FRAMES
    # measured 0 of 16 on a quiet machine, 5-6 of 16 beside a busy process (timing decides which fragments
    # survive); the profile test below demands >= 3/4, so the contrast is the point
    assert received < FRAMES * 3 // 4, "Fast DDS now carries large best-effort frames by default"


def test_large_image_profile_delivers_1080p_best_effort_frames(ros_available):
    base = _base_env()
    pub_env = fastdds.large_image_environment(base)  # the helper a launcher uses for a process
    assert pub_env[fastdds.PROFILE_ENV].endswith("config/fastdds_large_images.xml")
    # the subscriber sets it in-process before rclpy.init (apply_large_image_profile)
    sent, received, report = send_1080p(base, pub_env, sub_args=("--large-image-profile",))
    print(f"large-image profile: sent {sent}, received {received}, one hop {report.get('LATENCY_MS')}")
    assert sent == FRAMES
    assert received >= FRAMES * 3 // 4
    # one hop of a 6.2 MB frame: stamped before publish(), so positive; keep-last-1 never hands over a
    # stale frame, so well under a second even on a loaded machine (quiet here: tens of ms)
    latency = dict(field.split("=") for field in report["LATENCY_MS"].split())
    assert 0.0 < float(latency["p50"]) <= float(latency["p99"]) < 1000.0


# --- the environment helper (no ROS) -------------------------------------------------------------

def test_environment_sets_the_profile_and_keeps_the_rest():
    env = fastdds.large_image_environment({"PATH": "/bin"})
    assert env["PATH"] == "/bin"
    assert Path(env[fastdds.PROFILE_ENV]).is_file()
    # Kilted's rmw_fastrtps warns "FASTRTPS_DEFAULT_PROFILES_FILE ... is deprecated" when it is set
    assert fastdds.LEGACY_PROFILE_ENV not in env
    legacy = fastdds.large_image_environment({fastdds.LEGACY_PROFILE_ENV: "/etc/old.xml"}, override=True)
    assert legacy[fastdds.LEGACY_PROFILE_ENV] == legacy[fastdds.PROFILE_ENV]  # replaced, so ours is used


def test_transport_warnings_name_what_loses_large_frames(tmp_path):
    (missing_profile,) = fastdds.transport_warnings({})
    assert "built-in transports" in missing_profile and fastdds.PROFILE_NAME in missing_profile
    (missing_file,) = fastdds.transport_warnings({fastdds.PROFILE_ENV: str(tmp_path / "nope.xml")})
    assert "does not exist" in missing_file
    assert fastdds.transport_warnings({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"}) == []
    profile = fastdds.large_image_environment({})
    assert fastdds.transport_warnings(profile) == ([] if fastdds.shared_memory_warning() is None
                                                    else [fastdds.shared_memory_warning()])


def test_environment_respects_other_rmw_an_existing_profile_and_opt_out(tmp_path):
    assert fastdds.PROFILE_ENV not in fastdds.large_image_environment({"RMW_IMPLEMENTATION": "rmw_cyclonedds_cpp"})
    own = {fastdds.PROFILE_ENV: "/etc/my_profile.xml"}
    assert fastdds.large_image_environment(own)[fastdds.PROFILE_ENV] == "/etc/my_profile.xml"
    assert fastdds.large_image_environment(own, override=True)[fastdds.PROFILE_ENV] != "/etc/my_profile.xml"
    assert fastdds.PROFILE_ENV not in fastdds.large_image_environment({fastdds.OVERRIDE_ENV: "none"})
    other = tmp_path / "p.xml"
    other.write_text("<dds/>")
    assert fastdds.large_image_environment({fastdds.OVERRIDE_ENV: str(other)})[fastdds.PROFILE_ENV] == str(other)
    with pytest.raises(fastdds.TransportProfileError, match="does not exist"):
        fastdds.large_image_environment({fastdds.OVERRIDE_ENV: str(tmp_path / "missing.xml")})


def test_profile_segment_matches_the_constant():
    import xml.etree.ElementTree as ET

    root = ET.parse(fastdds.default_profile_path()).getroot()
    ns = {"d": "http://www.eprosima.com"}
    sizes = [int(e.text) for e in root.iterfind(".//d:transport_descriptor/d:segment_size", ns)]
    assert sizes == [fastdds.SEGMENT_BYTES]
    assert root.find(".//d:participant[@is_default_profile='true']", ns) is not None


def test_shared_memory_warning(tmp_path):
    assert fastdds.shared_memory_warning(segment_bytes=1, participants=1, shm_dir=str(tmp_path)) is None
    message = fastdds.shared_memory_warning(segment_bytes=2**60, shm_dir=str(tmp_path))
    assert message and "--shm-size" in message
    assert "missing" in fastdds.shared_memory_warning(shm_dir=str(tmp_path / "nope"))
