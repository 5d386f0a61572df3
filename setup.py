"""pip-installable ROS-free part of owss_ros: `pip install .` (or `pip install ".[ort,bag]"`).

Installs the library and command line (core, data, training, evaluation, backends, runtime,
cli, bag, transport, and the ROS-free dev tools: backend / scoring benchmarks, the sample drive)
on a machine without ROS, e.g. a GPU training server. NOT installed: the ROS node (owss_ros.ros)
and the dev tools that drive it as a ROS process (ROS_ONLY_MODULES below: they import rclpy or
start the node); `owss_ros demo` / `benchmark-node` then say that they need the ROS package.
The repository root stays one ament_cmake package (package.xml, CMakeLists.txt) built by colcon /
scripts/build_interfaces.sh, which never run this file (colcon identifies the package by
package.xml, build type ament_cmake).

torch: on a GPU server pip takes the CUDA build matching the range below; for the tested pins
(torch 2.13.0 CPU, ...) use `pip install -c requirements/ml.txt ".[ort,bag]"`.
onnxruntime is an extra (`ort`) because the CPU package must not sit beside onnxruntime-gpu.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

# module -> why it is left out of the wheel (it needs ROS 2 and this package's node)
ROS_ONLY_MODULES = {
    "owss_ros.tools.ros_client": "imports rclpy",
    "owss_ros.tools.node_process": "starts the ROS node",
    "owss_ros.tools.node_benchmark": "runs the ROS node",
    "owss_ros.tools.demo.run_demo": "runs the ROS node",
}


class BuildPyWithoutRos(build_py):
    """build_py that leaves the ROS-only modules of otherwise ROS-free packages out."""

    def find_package_modules(self, package, package_dir):
        return [entry for entry in super().find_package_modules(package, package_dir)
                if f"{entry[0]}.{entry[1]}" not in ROS_ONLY_MODULES]

ROOT = Path(__file__).resolve().parent
# One version for both packagings: package.xml's.
VERSION = re.search(r"<version>([^<]+)</version>", (ROOT / "package.xml").read_text()).group(1).strip()

setup(
    name="owss_ros",
    version=VERSION,
    description="Open-world semantic segmentation (DMLNet): library, training and evaluation, without ROS",
    long_description=__doc__,
    long_description_content_type="text/plain",
    license="Apache-2.0",
    python_requires=">=3.10",
    # Namespace-aware: a sub-package without __init__.py (e.g. owss_ros/tools) is found too.
    packages=find_namespace_packages(
        include=["owss_ros", "owss_ros.*"],
        exclude=["owss_ros.ros", "owss_ros.ros.*", "*.__pycache__"]),
    install_requires=[
        "numpy>=1.26",
        "torch>=2.4",
        "onnx>=1.16",
        "safetensors>=0.4",
        "pyyaml>=6.0",
        "tqdm>=4.66",
        "pillow>=10.0",
        "matplotlib>=3.8",
        "scipy>=1.11",
    ],
    extras_require={
        "ort": ["onnxruntime>=1.18"],  # CPU inference backend; GPU hosts install onnxruntime-gpu instead
        "bag": ["rosbags>=0.10"],  # rosbag2 / MCAP replay and recording (owss_ros.bag)
        "test": ["pytest>=8", "pytest-timeout>=2.3", "scikit-learn>=1.4"],
    },
    entry_points={"console_scripts": ["owss_ros = owss_ros.cli.main:main"]},
    cmdclass={"build_py": BuildPyWithoutRos},
    # setuptools' default build folder is ./build, which is the CMake build tree
    # (scripts/build_interfaces.sh); keep the wheel build in a folder of its own inside it.
    options={"build": {"build_base": "build/setuptools"}},
)
