"""pip-installable ROS-free part of owss_ros: `pip install .` (or `pip install ".[ort,bag]"`).

Installs the library and command line (core, data, training, evaluation, backends, runtime,
cli, bag, transport; `owss_ros` / `python -m owss_ros.cli`) on a machine without ROS, e.g. a
GPU training server. The ROS node (owss_ros.ros) and the demo, which need rclpy and the
package's generated interfaces, are NOT installed by this file: the repository root stays one
ament_cmake package (package.xml, CMakeLists.txt) built by colcon / scripts/build_interfaces.sh,
which never run this file (colcon identifies the package by package.xml, build type ament_cmake).

torch: on a GPU server pip takes the CUDA build matching the range below; for the tested pins
(torch 2.13.0 CPU, ...) use `pip install -c requirements/ml.txt ".[ort,bag]"`.
onnxruntime is an extra (`ort`) because the CPU package must not sit beside onnxruntime-gpu.
"""

import re
from pathlib import Path

from setuptools import find_namespace_packages, setup

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
        exclude=["owss_ros.ros", "owss_ros.ros.*", "owss_ros.demo", "owss_ros.demo.*", "*.__pycache__"]),
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
    # setuptools' default build folder is ./build, which is the CMake build tree
    # (scripts/build_interfaces.sh); keep the wheel build in a folder of its own inside it.
    options={"build": {"build_base": "build/setuptools"}},
)
