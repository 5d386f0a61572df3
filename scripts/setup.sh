#!/usr/bin/env bash
# One-time (and idempotent) set-up of a fresh machine: a local virtual environment .venv with
# every pinned dependency (ROS 2 Kilted wheels from PyPI, torch CPU, onnx, onnxruntime, ...),
# and the owss_ros ROS package (interfaces, Python module, launch/config) built into it.
# Re-running only reinstalls when a requirements file changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python_bin="${PYTHON:-python3}"
if ! "${python_bin}" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "setup.sh: Python 3.11 is required (the ROS 2 Kilted wheels are built for CPython 3.11); set PYTHON=..." >&2
  exit 1
fi
[[ -x .venv/bin/python ]] || "${python_bin}" -m venv .venv
# shellcheck disable=SC1091
. .venv/bin/activate

stamp=.venv/.owss_requirements.sha256
wanted="$(cat requirements/*.txt | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "${stamp}" 2>/dev/null)" != "${wanted}" ]]; then
  echo "setup.sh: installing pinned requirements into .venv (first run: a few minutes)"
  python -m pip install --quiet --upgrade pip
  python -m pip install --quiet -r requirements/ml.txt -r requirements/ros.txt -r requirements/test.txt
  # type stubs only (see the file): no dependencies, kept out of site-packages
  python -m pip install --quiet --no-deps --upgrade --target .venv/type-stubs -r requirements/type-stubs.txt
  echo "${wanted}" > "${stamp}"
fi
bash scripts/build_interfaces.sh
