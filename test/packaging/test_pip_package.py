"""setup.py builds a wheel of the ROS-free library only, and leaves the ament package alone.

The full check (a clean venv without ROS, `pip install .`, real commands) is
scripts/check_pip_install.sh, run by .ci/run; this builds the wheel from the working tree
(no network, no install) and looks inside.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_wheel_holds_the_library_without_the_ros_node(tmp_path):
    # setuptools reuses its build folder: a module deleted from the tree would stay in the wheel
    shutil.rmtree(REPO_ROOT / "build" / "setuptools", ignore_errors=True)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(REPO_ROOT)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel,) = tmp_path.glob("owss_ros-*.whl")
    version = re.search(r"<version>([^<]+)</version>", (REPO_ROOT / "package.xml").read_text()).group(1)
    assert wheel.name.startswith(f"owss_ros-{version}-py3-none-any")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("owss_ros/__init__.py", "owss_ros/core/class_names.py", "owss_ros/cli/main.py",
                   "owss_ros/data/synthetic/scene.py", "owss_ros/training/__init__.py",
                   "owss_ros/evaluation/__init__.py", "owss_ros/backends/torch_backend.py",
                   "owss_ros/bag/mcap_bag.py", "owss_ros/transport/fastdds.py"):
        assert module in names, module
    assert not [n for n in names if n.startswith(("owss_ros/ros/", "owss_ros/msg/", "owss_ros/srv/"))]
    # dev tools: the ROS-free ones ship (the CLI's backend / scoring benchmarks use them), the ones
    # that drive the node as a ROS process do not
    for module in ("owss_ros/tools/backend_benchmark.py", "owss_ros/tools/ros_env.py",
                   "owss_ros/tools/demo/sample_drive.py", "owss_ros/tools/demo/camera_source.py"):
        assert module in names, module
    for module in ("owss_ros/tools/ros_client.py", "owss_ros/tools/node_process.py",
                   "owss_ros/tools/node_benchmark.py", "owss_ros/tools/demo/run_demo.py"):
        assert module not in names, module
    shipped = [n for n in names if n.endswith(".py")]
    assert not {n: ros for n in shipped if (ros := ros_imports_at_import_time(zipfile.ZipFile(wheel).read(n)))}
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    requires = [line for line in text.splitlines() if line.startswith("Requires-Dist:")]
    assert any(r.startswith("Requires-Dist: torch") for r in requires)
    assert not [r for r in requires if re.search(r"rclpy|ros-|ros_", r)]
    entry_points = zipfile.ZipFile(wheel).read(metadata.replace("METADATA", "entry_points.txt")).decode()
    assert "owss_ros = owss_ros.cli.main:main" in entry_points


ROS_MODULES = ("rclpy", "launch", "launch_ros", "sensor_msgs", "std_msgs", "builtin_interfaces",
               "diagnostic_msgs", "rcl_interfaces", "owss_ros.ros", "owss_ros.msg", "owss_ros.srv",
               "owss_ros.tools.ros_client", "owss_ros.tools.node_process", "owss_ros.tools.node_benchmark",
               "owss_ros.tools.demo.run_demo")


def ros_imports_at_import_time(source: bytes) -> list[str]:
    """Modules of ROS (or left out of the wheel) that a module imports at its top level."""
    found = []
    for node in ast.parse(source).body:
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        found += [n for n in names if any(n == m or n.startswith(m + ".") for m in ROS_MODULES)]
    return found


def test_ros_import_check_sees_top_level_imports_only():
    assert ros_imports_at_import_time(b"import rclpy\nfrom owss_ros.srv import AddClass\n") == ["rclpy", "owss_ros.srv"]
    assert ros_imports_at_import_time(b"def f():\n    import rclpy\nimport numpy\n") == []


def test_the_repository_root_stays_an_ament_cmake_package():
    package_xml = (REPO_ROOT / "package.xml").read_text()
    assert "<build_type>ament_cmake</build_type>" in package_xml
    # ament_cmake_python generates its own setup.py in the build tree; the root setup.py is
    # for pip only and must not be what CMake installs the sources with.
    assert "setup.py" not in (REPO_ROOT / "CMakeLists.txt").read_text()
