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
    assert declared == {"camera_topic", "camera_info_topic", "namespace", "params_file", "model", "backend", "rviz",
                        "fastdds_profile"}
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
    assert "owss.rviz" in ast.unparse(tree)  # handed to the RViz node (see the rviz tests below)
    assert ast.unparse(keyword(perception, "additional_env")) == "large_images"


def launch_function(tree, name):
    """One top-level function of the launch file, compiled on its own (launch is not importable here)."""
    (function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
    module = ast.fix_missing_locations(ast.Module(body=[function], type_ignores=[]))
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    namespace = {"PackageNotFoundError": PackageNotFoundError, "get_package_prefix": get_package_prefix}
    exec(compile(module, str(LAUNCH_FILE), "exec"), namespace)
    return namespace[name]


def test_rviz_is_looked_up_before_it_is_started(tmp_path, monkeypatch):
    """rviz:=true where rviz2 is missing aborted the whole launch (FindPackageShare / the
    executable lookup fail); now the package is looked up in the ament index first."""
    package_installed = launch_function(ast.parse(LAUNCH_FILE.read_text()), "package_installed")
    monkeypatch.setenv("AMENT_PREFIX_PATH", str(tmp_path))
    assert package_installed("rviz2") is False
    marker = tmp_path / "share" / "ament_index" / "resource_index" / "packages" / "rviz2"
    marker.parent.mkdir(parents=True)
    marker.write_text("")
    assert package_installed("rviz2") is True
    assert package_installed("owss_ros") is False  # only what the index under the prefix lists


def test_rviz_missing_is_a_warning_and_the_node_still_starts():
    tree = ast.parse(LAUNCH_FILE.read_text())
    (rviz_function,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "rviz_if_requested"]
    generate = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "generate_launch_description")
    # nothing about rviz2 is resolved while the description is built: only inside the opaque function
    assert "rviz2" not in ast.unparse(generate)
    assert "rviz_if_requested" in ast.unparse(calls(generate, "OpaqueFunction")[0])
    body = rviz_function.body
    missing = next(n for n in body if isinstance(n, ast.If) and "package_installed('rviz2')" in ast.unparse(n.test))
    assert ast.unparse(missing.body[-1]) == "return []"
    assert ".warning(" in ast.unparse(missing.body[0]) and "rviz2 is not installed" in ast.unparse(missing.body[0])
    started = calls(rviz_function, "Node")
    assert len(started) == 1 and ast.literal_eval(keyword(started[0], "package")) == "rviz2"
    assert ast.unparse(keyword(started[0], "additional_env")) == "environment"


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
        response = client.call(ListClasses, "/test_shipped_config/perception_node/list_classes", ListClasses.Request())
        assert len(response.classes.classes) == 19
    finally:
        client.close()
        assert process.stop() == 0, process.log()
    assert "input 512x256" in process.log()  # the shipped input size (the bundled model's scale)
    assert "'backend': 'onnxruntime'" in process.log()  # auto: onnxruntime on a CPU-only machine
    assert list((tmp_path / "cache" / "onnx").glob("*.onnx"))  # exported on the fly into the cache
