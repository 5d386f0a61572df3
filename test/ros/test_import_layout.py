"""Source tree + installed interfaces import together, in fresh interpreters.

Developers run from the repository root, where `import owss_ros` is the source package; the
generated owss_ros.msg / owss_ros.srv (and their typesupport libraries) are installed in the
environment by scripts/build_interfaces.sh. owss_ros/__init__.py extends the package path so
both are found. Fresh interpreters are used because the test process has them imported already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_python(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )


def test_source_package_sees_installed_interfaces_with_python_c():
    result = run_python(
        "-c",
        "import owss_ros\n"
        "from owss_ros.srv import AddClass, ListClasses, RemoveClass\n"
        "from owss_ros.msg import ClassInfo, ClassList\n"
        "AddClass.Request(); ClassList()\n"
        "print(owss_ros.__file__)",
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_relative_to(REPO_ROOT / "owss_ros")


@pytest.mark.parametrize("module", ["owss_ros.srv._add_class", "owss_ros.msg._class_list"])
def test_python_dash_m_resolves_generated_modules(module):
    result = run_python("-m", module)
    assert result.returncode == 0, result.stderr


def test_library_layers_import_no_ros_and_runtime_imports_no_tools():
    layers = ["owss_ros.core", "owss_ros.data", "owss_ros.backends.factory", "owss_ros.backends.pipeline",
              "owss_ros.evaluation", "owss_ros.training.trainer", "owss_ros.runtime", "owss_ros.runtime.engine",
              "owss_ros.core.calibration"]
    result = run_python(
        "-c",
        "import sys, importlib\n"
        f"for m in {layers!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('rclpy', 'sensor_msgs', 'std_msgs',"
        " 'diagnostic_msgs') or m.startswith(('owss_ros.ros', 'owss_ros.msg', 'owss_ros.srv', 'owss_ros.tools')))\n"
        "assert not bad, bad",
    )
    assert result.returncode == 0, result.stderr
    node = run_python("-c", "import sys, owss_ros.ros.perception_node\n"
                            "bad = [m for m in sys.modules if m.startswith('owss_ros.tools')]\nassert not bad, bad")
    assert node.returncode == 0, node.stderr
