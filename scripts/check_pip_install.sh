#!/usr/bin/env bash
# CI step: `pip install .` in a clean virtual environment with no ROS wheels, then run real
# commands of the installed library from outside the source tree (issue 12: a pip-installable
# library for training servers). Pins come from requirements/ml.txt as constraints, so torch is
# the 2.13.0 CPU build (an unpinned torch would pull a multi-GB CUDA build).
# Environment: PIP_CHECK_VENV (default: a fresh temporary folder, removed afterwards).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python_bin="${PYTHON:-python3}"
work="$(mktemp -d)"
venv="${PIP_CHECK_VENV:-${work}/venv}"
trap 'rm -rf "${work}"' EXIT

echo "check_pip_install.sh: clean venv ${venv}"
"${python_bin}" -m venv "${venv}"
py="${venv}/bin/python"
# No ROS in this environment: neither the wheels nor a sourced ROS setup may leak in.
unset PYTHONPATH AMENT_PREFIX_PATH ROS_DISTRO LD_LIBRARY_PATH VIRTUAL_ENV
# setuptools reuses build/setuptools (setup.py): a stale copy of a deleted module would be installed
rm -rf "${repo_root}/build/setuptools"
"${py}" -m pip install --quiet -c "${repo_root}/requirements/ml.txt" "${repo_root}[ort,bag]" 2>&1 \
  | { grep -v "is ignored: it is neither a file nor a directory" || true; }
if "${py}" -m pip list 2>/dev/null | grep -iE '^(ros-|rclpy )'; then
  echo "check_pip_install.sh: ROS packages were installed into the clean venv" >&2
  exit 1
fi

cd "${work}"  # not the source tree: everything below must come from the installed package
"${py}" - <<'PY'
import importlib.util
import sys

import owss_ros
import owss_ros.backends.onnxruntime_backend
import owss_ros.backends.torch_backend
import owss_ros.bag
import owss_ros.core.class_names
import owss_ros.evaluation
import owss_ros.training

assert "site-packages" in owss_ros.__file__, owss_ros.__file__
ros = sorted(m for m in sys.modules if m.split(".")[0] in ("rclpy", "sensor_msgs", "std_msgs"))
assert not ros, f"ROS modules imported: {ros}"
assert importlib.util.find_spec("rclpy") is None, "rclpy is importable in the clean venv"
assert importlib.util.find_spec("owss_ros.ros") is None, "the ROS node was installed by pip"
# every module the wheel ships imports without ROS (setup.py leaves the ROS-only tools out)
import pkgutil
modules = [m.name for m in pkgutil.walk_packages(owss_ros.__path__, "owss_ros.")
           if not m.name.endswith(".__main__")]  # those run a command
for name in modules:
    importlib.import_module(name)
ros = sorted(m for m in sys.modules if m.split(".")[0] in ("rclpy", "sensor_msgs", "std_msgs", "launch"))
assert not ros, f"ROS modules imported: {ros}"
for name in ("owss_ros.tools.ros_client", "owss_ros.tools.node_process", "owss_ros.tools.demo.run_demo"):
    assert name not in modules, f"{name} (ROS only) was installed"
import torch
print(f"imports ok: {len(modules)} modules of owss_ros {owss_ros.__version__} from {owss_ros.__file__}, "
      f"torch {torch.__version__}")
PY
# the commands that need the ROS node say so instead of failing on an import
for command in demo benchmark-node; do
  if "${py}" -m owss_ros.cli "${command}" > out.txt 2>&1; then
    echo "check_pip_install.sh: owss_ros ${command} ran without ROS" >&2
    exit 1
  fi
  grep -q "does not install: use the ROS package" out.txt || { cat out.txt >&2; exit 1; }
done
"${py}" -m owss_ros.cli --help > help.txt
grep -q "generate" help.txt
"${venv}/bin/owss_ros" generate --help > /dev/null
"${py}" -m owss_ros.cli generate --out "${work}/data" --train 2 --val 1 --size 128x64
test "$(find "${work}/data" -name '*.png' | wc -l)" -ge 6
"${py}" -m owss_ros.bag.sample_bag --out "${work}/bag" --frames 2 --size 64x32
"${py}" -c "
from owss_ros.bag import read_image_frames
frames = list(read_image_frames('${work}/bag'))
assert len(frames) == 2 and frames[0].rgb.shape == (32, 64, 3), frames
print('bag ok:', len(frames), 'frames')"
echo "check_pip_install.sh: pip install . and its commands work without ROS"
