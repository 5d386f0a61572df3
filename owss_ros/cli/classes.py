"""``owss_ros class-export`` / ``owss_ros class-import``: move a taught class between vehicles.

A taught class (name, prototype, lambda_novel, model fingerprint) is exported from a running node
(``--node``, its ~/export_class service) or from a class store file (``--store`` with the model it
was made for), and imported into another node (~/import_class) or store file running the SAME model:

    owss_ros class-export --node /front/perception_node --name traffic_cone -o traffic_cone.json
    owss_ros class-import --node /rear/perception_node traffic_cone.json
    owss_ros class-import --store ~/.ros/owss_ros/class_store.json --model models/default/model.safetensors \\
        traffic_cone.json                # with the node that owns the store stopped

A class made for other weights is refused (its prototype lives in another embedding space), and
the teaching rules apply as for AddClass (name rule, a prototype already taught, free slots).
The node commands need ROS (rclpy and the owss_ros interfaces); the store commands do not.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SERVICE_TIMEOUT_S = 30.0


def register(subparsers) -> None:
    export = subparsers.add_parser("class-export", help="export a taught class to a file",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source(export)
    export.add_argument("--name", required=True, help="the taught class to export")
    export.add_argument("-o", "--output", type=Path, required=True, help="file to write (JSON)")
    export.set_defaults(func=run_export)
    imported = subparsers.add_parser("class-import", help="import an exported class",
                                     description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_source(imported)
    imported.add_argument("file", type=Path, help="a file written by class-export")
    imported.add_argument("--as", dest="as_name", default="", help="import under this name instead")
    imported.add_argument("--max-novel-classes", type=int, default=16,
                          help="novel class slots of the store (the node's max_novel_classes; --store only)")
    imported.set_defaults(func=run_import)


def _add_source(parser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--node", help="a running perception node, e.g. /front/perception_node")
    where.add_argument("--store", type=Path, help="a class store file (class_store_path of a stopped node)")
    parser.add_argument("--model", type=Path, help="the model weights the store is for (with --store)")
    parser.add_argument("--timeout", type=float, default=SERVICE_TIMEOUT_S, help="service timeout (s, with --node)")


def run_export(args) -> int:
    try:
        document = _export_from_node(args) if args.node else _export_from_store(args)
    except RefusedError as error:
        print(f"class-export: {error}", file=sys.stderr)
        return 1
    args.output.write_text(document)
    print(f"class-export: wrote {args.name!r} to {args.output}")
    return 0


def run_import(args) -> int:
    try:
        document = args.file.read_text()
    except OSError as error:
        print(f"class-import: cannot read {args.file}: {error}", file=sys.stderr)
        return 1
    try:
        line = _import_into_node(args, document) if args.node else _import_into_store(args, document)
    except RefusedError as error:
        print(f"class-import: {error}", file=sys.stderr)
        return 1
    print(f"class-import: {line}")
    return 0


class RefusedError(RuntimeError):
    """The export or import was refused; the message says why."""


# ----------------------------------------------------------------------------- class store files
def _store_registry(args, capacity: int = 16):
    from owss_ros.core.checkpoint import file_fingerprint, read_spec
    from owss_ros.runtime.class_registry import ClassRegistry
    from owss_ros.runtime.engine import base_class_set

    if args.model is None:
        raise RefusedError("--store needs --model, the weights the store was made for")
    try:
        spec = read_spec(args.model)
        registry, _ = ClassRegistry.open(base_class_set(spec.class_names, capacity), args.store.expanduser(),
                                         file_fingerprint(args.model), "refuse")
    except Exception as error:  # noqa: BLE001 - unreadable model or store: say which and why
        raise RefusedError(str(error)) from error
    return registry


def _export_from_store(args) -> str:
    from owss_ros.core.class_store import ClassStoreError, encode_taught_class

    if not args.store.expanduser().is_file():
        raise RefusedError(f"no class store at {args.store}")
    registry = _store_registry(args)
    entry = registry.current.find(args.name)
    if entry is None:
        raise RefusedError(f"no class {args.name!r} in {args.store}")
    try:
        return encode_taught_class(entry, registry.model_fingerprint).decode()
    except ClassStoreError as error:
        raise RefusedError(str(error)) from error


def _import_into_store(args, document: str) -> str:
    from owss_ros.core.class_store import decode_taught_class
    from owss_ros.runtime.engine import REQUEST_ERRORS
    from owss_ros.runtime.teaching import with_imported

    registry = _store_registry(args, args.max_novel_classes)
    try:
        exported = decode_taught_class(document, str(args.file), expected_fingerprint=registry.model_fingerprint)
        entry = registry.change(lambda current: with_imported(current, exported, args.as_name))
    except REQUEST_ERRORS as error:
        raise RefusedError(str(error)) from error
    return f"imported class {entry.class_id} {entry.name!r} into {args.store}"


# ----------------------------------------------------------------------------- running nodes
def _call_node(args, srv_type, srv_name: str, request):
    import rclpy
    from rclpy.context import Context

    from owss_ros.tools.ros_client import RosClient

    context = Context()
    rclpy.init(context=context)
    client = RosClient(context, "owss_ros_class_transfer")
    try:
        service = f"{args.node.rstrip('/')}/{srv_name}"
        return client.call(srv_type, service, request, args.timeout)
    except TimeoutError as error:
        raise RefusedError(f"{error} (is the node running, and is this its full name?)") from error
    finally:
        client.close()
        rclpy.try_shutdown(context=context)


def _export_from_node(args) -> str:
    from owss_ros.srv import ExportClass

    response = _call_node(args, ExportClass, "export_class", ExportClass.Request(class_name=args.name))
    if not response.success:
        raise RefusedError(response.message)
    return response.class_json


def _import_into_node(args, document: str) -> str:
    from owss_ros.srv import ImportClass

    response = _call_node(args, ImportClass, "import_class", ImportClass.Request(class_json=document, class_name=args.as_name))
    if not response.success:
        raise RefusedError(response.message)
    return response.message + f" on {args.node}"
