"""What the README's set-up installs: the node launcher, the launch file, and the README's node
command (issue 12, items 3 and 5).

`ros2` / `launch` are not on PyPI, so the installed launcher lib/owss_ros/perception_node (what
`ros2 run` and `ros2 launch` execute) is run directly, from outside the source tree and without
PYTHONPATH. The launch file's node is read from its syntax tree with launch_ros's rules (the
command it builds: executable, --params-file / -p in order, -r remappings, additional_env) and
compared with the README's direct command, which is then run as written.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import sys
from pathlib import Path

from perception_node_harness import REPO_ROOT, NodeProcess, RosTestClient, connect_to_node, write_params_file

PREFIX = Path(sys.prefix)  # the venv scripts/setup.sh builds the package into
LAUNCHER = PREFIX / "lib" / "owss_ros" / "perception_node"
SHARE = PREFIX / "share" / "owss_ros"
SOURCE_LAUNCH_FILE = REPO_ROOT / "launch" / "perception.launch.py"
INSTALLED_LAUNCH_FILE = SHARE / "launch" / "perception.launch.py"
README = REPO_ROOT / "README.md"
NODE_NAME = "perception_node"  # the node's default name


# ----------------------------------------------------------------------------- the launch file
class LaunchReader:
    """Evaluates the perception Node(...) of a launch file with default launch arguments."""

    def __init__(self, path: Path, share: Path, prefix: Path, env: dict[str, str] | None = None,
                 arguments: dict[str, str] | None = None):
        self.tree = ast.parse(path.read_text())
        self.function = next(n for n in self.tree.body
                             if isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description")
        self.share, self.prefix = share, prefix
        self.env = dict(env or {})
        self.arguments = dict(arguments or {})
        self.names = {t.id: n.value for n in ast.walk(self.function) if isinstance(n, ast.Assign)
                      for t in n.targets if isinstance(t, ast.Name)}
        self.names |= {t.id: n.value for n in self.tree.body if isinstance(n, ast.Assign)
                       for t in n.targets if isinstance(t, ast.Name)}
        self.defaults = {c.args[0].value: next(k.value for k in c.keywords if k.arg == "default_value")
                         for c in self._calls("DeclareLaunchArgument")}

    def _calls(self, name):
        return [n for n in ast.walk(self.function) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]

    def value(self, node):
        """A substitution (or a list of them) as the string launch would make of it."""
        if isinstance(node, ast.Constant):
            return str(node.value)
        if isinstance(node, ast.Name):
            return self.value(self.names[node.id])
        if isinstance(node, (ast.List, ast.Tuple)):
            return "".join(self.value(e) for e in node.elts)
        if isinstance(node, ast.Call):
            kind, args = node.func.id, node.args
            kwargs = {k.arg: k.value for k in node.keywords}
            if kind == "FindPackageShare":
                assert self.value(args[0]) == "owss_ros"
                return str(self.share)
            if kind == "PathJoinSubstitution":
                return os.path.join(*(self.value(e) for e in args[0].elts))
            if kind == "LaunchConfiguration":
                name = self.value(args[0])
                return self.arguments[name] if name in self.arguments else self.value(self.defaults[name])
            if kind == "EnvironmentVariable":
                name = self.value(args[0])
                return self.env[name] if name in self.env else self.value(kwargs["default_value"])
        raise AssertionError(f"the launch reader does not know {ast.unparse(node)}: extend it")

    def perception_node(self) -> dict:
        (call,) = [c for c in self._calls("Node")
                   if any(k.arg == "executable" and ast.literal_eval(k.value) == NODE_NAME for k in c.keywords)]
        kwargs = {k.arg: k.value for k in call.keywords}
        parameters = []
        for item in kwargs["parameters"].elts:
            if isinstance(item, ast.Dict):  # launch_ros writes these to a file; the same as -p
                parameters += [("-p", f"{self.value(k)}:={self.value(v)}") for k, v in zip(item.keys, item.values)]
            else:
                parameters.append(("--params-file", self.value(item)))
        env = kwargs.get("additional_env")
        env = self.names[env.id] if isinstance(env, ast.Name) else env
        env = {} if env is None else {self.value(k): self.value(v) for k, v in zip(env.keys, env.values)}
        return {
            "env": env,
            "executable": str(self.prefix / "lib" / self.value(kwargs["package"]) / self.value(kwargs["executable"])),
            "name": self.value(kwargs["name"]),
            "namespace": "/" + self.value(kwargs["namespace"]).strip("/"),
            "parameters": parameters,
            "remappings": {self.value(p.elts[0]): self.value(p.elts[1]) for p in kwargs["remappings"].elts},
        }


# ----------------------------------------------------------------------------- the README command
def readme_node_command(readme: Path = README) -> str:
    """The shell lines under the README's "# here ..." comment in "### The node"."""
    section = readme.read_text().split("### The node", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# here"))
    command = []
    for line in lines[start + 1:]:
        if line.startswith("#"):
            break
        command.append(line)
    return "\n".join(command)


def command_words(text: str, variables: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """(leading VAR=value assignments, argv) of a shell command, with $VAR / ${VAR} expanded."""
    text = text.replace("\\\n", " ")
    for name, value in sorted(variables.items(), key=lambda item: -len(item[0])):
        text = re.sub(r"\$\{?" + name + r"\}?", value, text)
    words = shlex.split(text)
    env = {}
    while "=" in words[0] and not words[0].startswith(("/", ".")):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def parse_command(text: str, variables: dict[str, str]) -> dict:
    """``[VAR=value ...] executable --ros-args ...`` in the form of :meth:`LaunchReader.perception_node`."""
    env, words = command_words(text, variables)
    executable, ros_args = words[0], words[1:]
    assert ros_args[0] == "--ros-args", words
    pairs = list(zip(ros_args[1::2], ros_args[2::2]))
    assert len(ros_args) % 2 == 1 and all(flag in ("-r", "-p", "--params-file") for flag, _ in pairs), ros_args
    remaps = dict(value.split(":=", 1) for flag, value in pairs if flag == "-r")
    return {
        "env": env, "executable": executable,
        "name": remaps.pop("__node", NODE_NAME), "namespace": "/" + remaps.pop("__ns", "/").strip("/"),
        "parameters": [(flag, value) for flag, value in pairs if flag != "-r"], "remappings": remaps,
    }


def without_profile(env) -> dict[str, str]:
    return {k: v for k, v in env.items() if k not in ("FASTDDS_DEFAULT_PROFILES_FILE", "FASTRTPS_DEFAULT_PROFILES_FILE")}


# ----------------------------------------------------------------------------- tests
def test_readme_node_command_is_what_the_launch_file_starts():
    share, prefix = "/PREFIX/share/owss_ros", Path("/PREFIX")
    launched = LaunchReader(SOURCE_LAUNCH_FILE, Path(share), prefix).perception_node()
    readme = parse_command(readme_node_command(), {"VIRTUAL_ENV": str(prefix)})
    assert readme == launched
    assert set(launched["remappings"]) == {"image", "image/compressed", "camera_info"}
    assert launched["env"] == {"FASTDDS_DEFAULT_PROFILES_FILE": f"{share}/config/fastdds_large_images.xml"}


def test_readme_command_parser_sees_drift():
    share, prefix = "/PREFIX/share/owss_ros", Path("/PREFIX")
    launched = LaunchReader(SOURCE_LAUNCH_FILE, Path(share), prefix).perception_node()
    text = readme_node_command()
    variables = {"VIRTUAL_ENV": str(prefix)}
    assert "-r camera_info:=/camera/camera_info" in text
    assert parse_command(text.replace(" -r camera_info:=/camera/camera_info", ""), variables) != launched
    assert parse_command(text.replace("FASTDDS_DEFAULT_PROFILES_FILE=", "X="), variables) != launched


def test_launch_reader_follows_launch_arguments_and_an_existing_profile():
    node = LaunchReader(SOURCE_LAUNCH_FILE, SHARE, PREFIX, env={"FASTDDS_DEFAULT_PROFILES_FILE": "/etc/own.xml"},
                        arguments={"camera_topic": "/front/image", "namespace": "front"}).perception_node()
    assert node["env"] == {"FASTDDS_DEFAULT_PROFILES_FILE": "/etc/own.xml"}  # the integrator's profile wins
    assert node["remappings"]["image/compressed"] == "/front/image/compressed"
    assert node["namespace"] == "/front"


def test_installed_launch_file_is_current_and_names_installed_files():
    assert INSTALLED_LAUNCH_FILE.is_file(), "run scripts/setup.sh (or scripts/build_interfaces.sh)"
    assert INSTALLED_LAUNCH_FILE.read_text() == SOURCE_LAUNCH_FILE.read_text(), \
        "the installed launch file is stale: run scripts/build_interfaces.sh"
    compile(INSTALLED_LAUNCH_FILE.read_text(), str(INSTALLED_LAUNCH_FILE), "exec")
    imports = {n.module.split(".")[0] for n in ast.walk(ast.parse(INSTALLED_LAUNCH_FILE.read_text()))
               if isinstance(n, ast.ImportFrom)}
    imports |= {a.name.split(".")[0] for n in ast.walk(ast.parse(INSTALLED_LAUNCH_FILE.read_text()))
                if isinstance(n, ast.Import) for a in n.names}
    assert imports <= {"launch", "launch_ros", "ament_index_python"}  # what a ROS 2 install has
    node = LaunchReader(INSTALLED_LAUNCH_FILE, SHARE, PREFIX).perception_node()
    assert os.access(node["executable"], os.X_OK), node["executable"]
    files = [value for flag, value in node["parameters"] if flag == "--params-file"]
    files += [value.split(":=", 1)[1] for flag, value in node["parameters"] if value.startswith("model_path:=")]
    files += list(node["env"].values())
    assert len(files) == 3 and all(Path(f).is_file() for f in files), files


def test_installed_launcher_runs_the_readme_command_outside_the_source_tree(ros_context, tmp_path):
    """Before the fix: ModuleNotFoundError: No module named 'owss_ros.ros' (the installed
    interface-only owss_ros shadowed the sources)."""
    assert LAUNCHER.is_file(), "run scripts/setup.sh (or scripts/build_interfaces.sh)"
    readme_env, argv = command_words(readme_node_command(), {"VIRTUAL_ENV": str(PREFIX)})
    assert argv[0] == str(LAUNCHER)
    env = without_profile({k: v for k, v in os.environ.items() if k != "PYTHONPATH"}) | readme_env
    namespace = "/test_installed_launcher"
    overrides = write_params_file(tmp_path / "overrides.yaml", class_store_path=str(tmp_path / "store.json"),
                                  cpu_threads=1, cache_directory=str(tmp_path / "cache"),
                                  mask_directory=str(tmp_path / "masks"))
    process = NodeProcess([], namespace, tmp_path / "node.log", command=tuple(argv[:1]), env=env, cwd=tmp_path,
                          large_image_profile=False)
    assert process.warnings == []  # the README's command sets the profile
    process.start(*argv[2:], "--params-file", str(overrides))
    client = RosTestClient(ros_context, "installed_launcher_client")
    try:
        connect_to_node(client, process, namespace, timeout=90.0)  # its services answer
    finally:
        client.close()
        code = process.stop()
    log = process.log()
    assert code == 0, log
    assert "ready: model" in log and "19 classes" in log
    assert "ModuleNotFoundError" not in log and "Fast DDS runs with its built-in transports" not in log


def test_installed_launcher_warns_without_the_large_image_profile(tmp_path):
    import subprocess

    env = without_profile({k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    result = subprocess.run([str(LAUNCHER), "--ros-args", "-p", "model_path:=/nonexistent.safetensors",
                             "-p", "class_store_path:=", "-r", "__ns:=/test_installed_warning"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0  # no such model
    assert "[WARN] [perception_node]: Fast DDS runs with its built-in transports" in result.stderr
    assert "best-effort camera frames larger than about 512 KiB" in result.stderr  # says why, and the fix:
    assert "FASTDDS_DEFAULT_PROFILES_FILE" in result.stderr
    assert "ModuleNotFoundError" not in result.stderr


def test_development_install_puts_the_source_tree_first():
    """The .pth of scripts/build_interfaces.sh: a plain interpreter of the venv, outside the
    repository and without PYTHONPATH, imports owss_ros from the source tree (the generated
    msg/srv from the venv beside it)."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    code = "import owss_ros, owss_ros.ros.perception_node, owss_ros.srv; print(owss_ros.__file__)"
    result = subprocess.run([str(PREFIX / "bin" / "python"), "-c", code], cwd="/", env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert Path(result.stdout.strip()).resolve() == (REPO_ROOT / "owss_ros" / "__init__.py").resolve()
