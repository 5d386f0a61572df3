"""Start the perception node as a separate process, as ``ros2 launch`` would (no launch here).

``python -m owss_ros.ros.perception_node --ros-args --params-file ... -r __ns:=...`` from the
repository root (or another ``command``, e.g. the installed launcher); used by the demo, the
node benchmark and the end-to-end tests. Like the launch file, the node's environment gets the
large-image Fast DDS profile (:func:`owss_ros.transport.fastdds.large_image_environment`);
whatever would still lose camera-size frames is printed as a warning.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from owss_ros.transport.fastdds import large_image_environment, transport_warnings

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_NAME = "perception_node"
SOURCE_COMMAND = (sys.executable, "-m", "owss_ros.ros.perception_node")


class NodeProcess:
    def __init__(self, params_files: list[Path] | Path, namespace: str, log_path: Path,
                 remappings: dict[str, str] | None = None, *, command: tuple[str, ...] = SOURCE_COMMAND,
                 env: Mapping[str, str] | None = None, cwd: Path = REPO_ROOT, large_image_profile: bool = True):
        self.params_files = [params_files] if isinstance(params_files, (str, Path)) else list(params_files)
        self.namespace = namespace
        self.log_path = Path(log_path)
        self.remappings = dict(remappings or {})
        self.command = tuple(str(part) for part in command)
        base = dict(os.environ if env is None else env)
        self.env = large_image_environment(base) if large_image_profile else base
        self.cwd = Path(cwd)
        self.warnings = transport_warnings(self.env)
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def node_path(self) -> str:
        return f"{self.namespace}/{NODE_NAME}"

    def argv(self, *ros_args: str) -> list[str]:
        """The command line: ``ros_args`` follow the params files and remappings."""
        command = [*self.command, "--ros-args"]
        for params_file in self.params_files:
            command += ["--params-file", str(params_file)]
        for source, target in self.remappings.items():
            command += ["-r", f"{source}:={target}"]
        return [*command, *ros_args, "-r", f"__ns:={self.namespace}"]

    def start(self, *ros_args: str) -> "NodeProcess":
        """Start the node; ``ros_args`` follow the params files (e.g. another --params-file)."""
        for warning in self.warnings:
            print(f"[node_process] warning: {warning}", file=sys.stderr, flush=True)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(self.argv(*ros_args), cwd=self.cwd, env=self.env,
                                        stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def wait_exit(self, timeout: float = 60.0) -> int:
        return self.process.wait(timeout)

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (a clean shutdown), then SIGKILL if it does not exit in ``timeout`` s."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode
