#!/usr/bin/env bash
# Build and install the owss_ros ROS package (interfaces + launcher + launch/config/models) into
# the active Python virtual environment, which the ros-kilted-* wheels make a ROS prefix; the
# Python code runs from this source tree (development install, see CMakeLists.txt).
#
#   . .venv/bin/activate && scripts/build_interfaces.sh
#
# Re-running is incremental: CMake reconfigures only when CMakeLists.txt, package.xml or an
# interface file changed, and rebuilds only what changed. Build tree: build/ (gitignored).
# Environment: BUILD_DIR (default build), BUILD_JOBS (default 2).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${BUILD_DIR:-${repo_root}/build}"
jobs="${BUILD_JOBS:-2}"

if [[ -z "${VIRTUAL_ENV:-}" ]]; then
  echo "build_interfaces.sh: activate the virtual environment first (. .venv/bin/activate)" >&2
  exit 1
fi
python_exe="$(command -v python)"
# What sourcing a ROS setup.bash would provide: ament's CMake looks up installed typesupports
# and other resources in the ament index under AMENT_PREFIX_PATH (and the install prefix).
export AMENT_PREFIX_PATH="${VIRTUAL_ENV}${AMENT_PREFIX_PATH:+:${AMENT_PREFIX_PATH}}"

# Configure when there is no complete build tree yet (cmake_install.cmake is written by a
# successful generate step) or it was made for another environment; otherwise the generated
# build system re-runs CMake by itself when CMakeLists.txt, package.xml or msg/srv change.
cache_file="${build_dir}/CMakeCache.txt"
cached_prefix="$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "${cache_file}" 2>/dev/null || true)"
cached_sources="$(sed -n 's/^OWSS_ROS_INSTALL_PYTHON_SOURCES:BOOL=//p' "${build_dir}/CMakeCache.txt" 2>/dev/null || true)"
if [[ ! -f "${build_dir}/cmake_install.cmake" || "${cached_prefix}" != "${VIRTUAL_ENV}" || "${cached_sources}" != "OFF" ]]; then
  cmake -S "${repo_root}" -B "${build_dir}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="${VIRTUAL_ENV}" \
    -DCMAKE_INSTALL_PREFIX="${VIRTUAL_ENV}" \
    -DPython3_EXECUTABLE="${python_exe}" \
    -DBUILD_TESTING=OFF \
    -DOWSS_ROS_INSTALL_PYTHON_SOURCES=OFF
fi

cmake --build "${build_dir}" -j "${jobs}"
# Installs the generated owss_ros.msg / owss_ros.srv (+ typesupport) and owss_ros_source_tree.pth
# (the source tree first on sys.path: the sources are not copied) into site-packages, the
# launcher into lib/owss_ros/ and the interface files, launch file and data into share/owss_ros/.
cmake --install "${build_dir}" > "${build_dir}/install.log"
echo "build_interfaces.sh: installed owss_ros into ${VIRTUAL_ENV} (log: ${build_dir}/install.log)"
