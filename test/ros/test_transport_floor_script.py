"""scripts/ros_transport_floor.py: the echo process answers the frames over real rclpy + Fast DDS."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ros_transport_floor.py"


def test_floor_script_gets_frames_back_and_prints_latencies():
    run = subprocess.run([sys.executable, str(SCRIPT), "--seconds", "1", "--rate", "10", "--executor", "single"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    found = re.search(r"(\d+) / (\d+) frames back; e2e \(ms\) p50 ([\d.]+) p90 ([\d.]+) p99 ([\d.]+)", run.stdout)
    assert found, run.stdout
    received, sent = int(found.group(1)), int(found.group(2))
    p50, p99 = float(found.group(3)), float(found.group(5))
    assert sent == 10 and 1 <= received <= sent
    assert 0.0 < p50 <= p99 < 1000.0
