"""Fleet sharing: a class taught on one node moves to another node running the same model
(``owss_ros class-export`` / ``class-import`` against two real node processes), and is refused
for other weights; the store-file variant of the same commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from owss_ros.cli.main import main as cli_main
from owss_ros.core.checkpoint import file_fingerprint
from owss_ros.core.class_store import load_class_set
from owss_ros.ros.image_conversion import mono8_to_image
from owss_ros.srv import AddClass, ExportClass, ImportClass, ListClasses
from perception_node_harness import (
    REPO_ROOT,
    NodeProcess,
    RosTestClient,
    connect_to_node,
    fast_node_parameters,
    rectangle_frame,
    rgb_frame_message,
    write_params_file,
    write_test_model,
)

FRAME, MASK = rectangle_frame((20, 20, 80), (250, 230, 0), (10, 50, 20, 70))
SOURCE, TARGET = "/vehicle_a", "/vehicle_b"


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("transfer")


@pytest.fixture(scope="module")
def model_path(work_dir):
    return write_test_model(work_dir / "model.safetensors", seed=7)


@pytest.fixture(scope="module")
def nodes(ros_context, work_dir, model_path):
    started = {}
    for namespace in (SOURCE, TARGET):
        vehicle = work_dir / namespace.strip("/")
        vehicle.mkdir()
        params = write_params_file(vehicle / "params.yaml", **fast_node_parameters(model_path, vehicle))
        started[namespace] = NodeProcess(params, namespace, vehicle / "node.log").start()
    yield started
    for node in started.values():
        assert node.stop() == 0, node.log()


@pytest.fixture(scope="module")
def client(ros_context, nodes):
    client = RosTestClient(ros_context)
    for namespace, node in nodes.items():
        connect_to_node(client, node, namespace)
    yield client
    client.close()


def owss_ros_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "owss_ros.cli", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=120)


def class_names(client, namespace) -> list[str]:
    response = client.call(ListClasses, f"{namespace}/perception_node/list_classes", ListClasses.Request())
    return [c.name for c in response.classes.classes]


def test_a_taught_class_moves_between_two_nodes_with_the_cli(client, work_dir, model_path):
    taught = client.call(AddClass, f"{SOURCE}/perception_node/add_class", AddClass.Request(
        class_name="traffic_cone", images=[rgb_frame_message(FRAME, 1)], masks=[mono8_to_image(MASK)],
        lambda_novel=7.5))
    assert taught.success, taught.message
    exported = work_dir / "traffic_cone.json"
    result = owss_ros_cli("class-export", "--node", f"{SOURCE}/perception_node", "--name", "traffic_cone",
                          "-o", str(exported))
    assert result.returncode == 0, result.stderr
    document = json.loads(exported.read_text())
    assert document["model_fingerprint"] == file_fingerprint(model_path)
    assert document["class"]["name"] == "traffic_cone" and document["class"]["lambda_novel"] == 7.5

    result = owss_ros_cli("class-import", "--node", f"{TARGET}/perception_node", str(exported))
    assert result.returncode == 0, result.stderr
    assert "imported class 19 'traffic_cone'" in result.stdout
    assert class_names(client, TARGET)[19:] == ["traffic_cone"]
    stored = load_class_set(work_dir / "vehicle_b" / "class_store.json", file_fingerprint(model_path))
    source = load_class_set(work_dir / "vehicle_a" / "class_store.json")
    assert stored.find("traffic_cone").prototype == source.find("traffic_cone").prototype
    assert stored.find("traffic_cone").lambda_novel == 7.5

    again = owss_ros_cli("class-import", "--node", f"{TARGET}/perception_node", str(exported))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_import_refuses_a_class_made_for_other_weights(client, work_dir):
    other = write_test_model(work_dir / "other_model.safetensors", seed=8)
    store = work_dir / "other_store.json"
    exported = work_dir / "traffic_cone.json"
    result = owss_ros_cli("class-import", "--store", str(store), "--model", str(other), str(exported))
    assert result.returncode == 1
    assert "was exported from model" in result.stderr and "another embedding space" in result.stderr
    assert not store.exists()
    response = client.call(ImportClass, f"{TARGET}/perception_node/import_class", ImportClass.Request(
        class_json=exported.read_text().replace('"traffic_cone"', '"cone"')))
    assert not response.success and "checksum mismatch" in response.message
    assert class_names(client, TARGET)[19:] == ["traffic_cone"]  # the node's classes are intact


def test_store_files_export_and_import_without_a_node(work_dir, model_path, capsys):
    """The same commands on store files (in this process: no node, no ROS call)."""
    store_a = work_dir / "vehicle_a" / "class_store.json"
    exported = work_dir / "from_store.json"
    assert cli_main(["class-export", "--store", str(store_a), "--model", str(model_path), "--name", "traffic_cone",
                     "-o", str(exported)]) == 0, capsys.readouterr().err
    fresh = work_dir / "fresh_store.json"
    assert cli_main(["class-import", "--store", str(fresh), "--model", str(model_path), "--as", "cone",
                     str(exported)]) == 0, capsys.readouterr().err
    assert [e.name for e in load_class_set(fresh, file_fingerprint(model_path)).novel_entries] == ["cone"]
    capsys.readouterr()
    assert cli_main(["class-export", "--store", str(store_a), "--model", str(model_path), "--name", "road",
                     "-o", str(work_dir / "road.json")]) == 1
    assert "base class" in capsys.readouterr().err


def test_export_of_an_unknown_class_is_refused_over_the_service(client):
    response = client.call(ExportClass, f"{SOURCE}/perception_node/export_class",
                           ExportClass.Request(class_name="no_such_class"))
    assert not response.success and "no class 'no_such_class'" in response.message and response.class_json == ""
    assert "traffic_cone" in class_names(client, SOURCE)  # still answering, classes intact
