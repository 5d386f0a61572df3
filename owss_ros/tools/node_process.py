"""Start the perception node as a separate process, as ``ros2 launch`` would (no launch here).

``python -m owss_ros.ros.perception_node --ros-args --params-file ... -r __ns:=...`` from the
repository root; used by the demo, the node benchmark and the end-to-end tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_NAME = "perception_node"


class NodeProcess:
    def __init__(self, params_files: list[Path] | Path, namespace: str, log_path: Path,
                 remappings: dict[str, str] | None = None):
        self.params_files = [params_files] if isinstance(params_files, (str, Path)) else list(params_files)
        self.namespace = namespace
        self.log_path = Path(log_path)
        self.remappings = dict(remappings or {})
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def node_path(self) -> str:
        return f"{self.namespace}/{NODE_NAME}"

    def start(self, *ros_args: str) -> "NodeProcess":
        """Start the node; ``ros_args`` follow the params files (e.g. another --params-file)."""
        command = [sys.executable, "-m", "owss_ros.ros.perception_node", "--ros-args"]
        for params_file in self.params_files:
            command += ["--params-file", str(params_file)]
        for source, target in self.remappings.items():
            command += ["-r", f"{source}:={target}"]
        command += [*ros_args, "-r", f"__ns:={self.namespace}"]
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=dict(os.environ),
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
