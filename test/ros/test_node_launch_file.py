"""launch/perception.launch.py, config/perception.yaml and config/owss.rviz.

`launch` / `launch_ros` are not on PyPI, so the launch file cannot run here: it is compiled and
its structure checked from the syntax tree. The shipped parameter file is checked against the
node's declared parameters and used to start the real node.
"""

from __future__ import annotations

import ast
import py_compile
import re

import yaml

from owss_ros.ros import perception_parameters as params
from owss_ros.core.calibration import load_calibration
from owss_ros.core.open_set import ScoringConfig
from owss_ros.srv import ListClasses
from perception_node_harness import (
    REPO_ROOT,
    NodeProcess,
    RosTestClient,
    connect_to_node,
    write_params_file,
    write_test_model,
)

LAUNCH_FILE = REPO_ROOT / "launch" / "perception.launch.py"
CONFIG_FILE = REPO_ROOT / "config" / "perception.yaml"
RVIZ_FILE = REPO_ROOT / "config" / "owss.rviz"
ALL_SPECS = params.MODEL_PARAMETERS + params.STRUCTURAL_PARAMETERS + params.runtime_parameters(ScoringConfig(), 19)


def calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and getattr(n.func, "id", getattr(n.func, "attr", None)) == name]


def keyword(call, name):
    return next(k.value for k in call.keywords if k.arg == name)


def test_launch_file_compiles_and_declares_its_arguments(tmp_path):
    py_compile.compile(str(LAUNCH_FILE), cfile=str(tmp_path / "launch.pyc"), doraise=True)
    tree = ast.parse(LAUNCH_FILE.read_text())
    assert any(isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description" for n in tree.body)
    declared = {c.args[0].value for c in calls(tree, "DeclareLaunchArgument")}
    assert declared == {"camera_topic", "camera_info_topic", "namespace", "params_file", "model", "backend", "rviz"}
    used = {c.args[0].value for c in calls(tree, "LaunchConfiguration")}
    assert used == declared  # every argument is used, nothing undeclared is read


def test_launch_file_starts_the_installed_executable_with_remappings():
    tree = ast.parse(LAUNCH_FILE.read_text())
    nodes = {ast.literal_eval(keyword(c, "executable")): c for c in calls(tree, "Node")}
    perception = nodes["perception_node"]
    assert ast.literal_eval(keyword(perception, "package")) == "owss_ros"
    remapped = {ast.literal_eval(pair.elts[0]) for pair in keyword(perception, "remappings").elts}
    assert remapped == {"image", "image/compressed", "camera_info"}
    overrides = keyword(perception, "parameters").elts[1]
    assert {ast.literal_eval(k) for k in overrides.keys} == {"model_path", "backend"}
    imports = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert {"launch", "launch_ros.actions"} <= imports
    assert "owss.rviz" in ast.unparse(nodes["rviz2"])


def commented_values(text: str) -> dict:
    """``# name: value`` lines of the parameter file (documented defaults), parsed as YAML."""
    found = {}
    for line in re.findall(r"^\s*#\s*(\w+:\s*\S.*)$", text, flags=re.MULTILINE):
        try:
            found.update(yaml.safe_load(line))
        except (yaml.YAMLError, TypeError, ValueError):
            pass
    return found


def test_parameter_file_pins_the_declared_defaults():
    text = CONFIG_FILE.read_text()
    values = yaml.safe_load(text)["/**"]["ros__parameters"]
    commented = commented_values(text)
    declared = {spec.name: spec for spec in ALL_SPECS}
    assert set(values) <= set(declared), set(values) - set(declared)
    assert set(declared) <= set(values) | set(commented), set(declared) - set(values) - set(commented)
    for name, spec in declared.items():
        shown = values[name] if name in values else commented[name]
        assert type(shown) is type(spec.default), name  # ROS parameters are strictly typed: 20 is not 20.0
        assert shown == spec.default, f"{name}: config/perception.yaml says {shown!r}, the declaration {spec.default!r}"
        if spec.choices:
            assert shown in spec.choices, name


def test_shipped_parameter_file_sets_no_scoring_that_contradicts_a_calibration():
    """The bug of issue 10: the file set eds_normalization image_max while the bundled calibration
    was made for fixed. Scoring values come from the calibration; the file must not set them."""
    values = yaml.safe_load(CONFIG_FILE.read_text())["/**"]["ros__parameters"]
    assert not set(values) & {"score_mode", "eds_normalization", "eds_range", "beta", "gamma"}
    bundled = load_calibration(REPO_ROOT / "models" / "default" / "calibration.yaml")
    defaults = {s.name: s.default for s in params.runtime_parameters(bundled.scoring_config(), 19)}
    config = params.scoring_config_from({**defaults, **{k: v for k, v in values.items() if k in defaults}}, 3.0)
    assert (config.score_mode.value, config.eds_normalization.value) == ("eds_mmsp", "fixed")
    assert config.lambda_out == bundled.lambda_out


def test_rviz_config_shows_camera_overlay_and_anomaly():
    config = yaml.safe_load(RVIZ_FILE.read_text())
    displays = config["Visualization Manager"]["Displays"]
    topics = {d["Topic"]["Value"] for d in displays if d["Class"] == "rviz_default_plugins/Image"}
    assert topics == {"/camera/image_raw", "/perception_node/overlay", "/perception_node/anomaly"}


def test_shipped_parameter_file_starts_the_node(ros_context, tmp_path):
    model = write_test_model(tmp_path / "model.safetensors")
    overrides = write_params_file(tmp_path / "overrides.yaml", model_path=str(model),  # backend stays auto
                                  class_store_path=str(tmp_path / "store.json"), cpu_threads=1,
                                  cache_directory=str(tmp_path / "cache"))
    process = NodeProcess(CONFIG_FILE, "/test_shipped_config", tmp_path / "node.log")
    process.start("--params-file", str(overrides))
    client = RosTestClient(ros_context, "shipped_config_client")
    try:
        connect_to_node(client, process, "/test_shipped_config")
        response = client.call(ListClasses, "/test_shipped_config/list_classes", ListClasses.Request())
        assert len(response.classes.classes) == 19
    finally:
        client.close()
        assert process.stop() == 0, process.log()
    assert "input 512x256" in process.log()  # the shipped input size (the bundled model's scale)
    assert "'backend': 'onnxruntime'" in process.log()  # auto: onnxruntime on a CPU-only machine
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx"))  # exported on the fly into the cache
