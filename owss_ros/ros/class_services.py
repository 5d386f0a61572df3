"""The operator's class services of the perception node: requests -> engine calls -> responses.

    ~/add_class       teach a class by NPM (Eq. 11) from frames / buffered stamps + masks
    ~/remove_class    forget a taught class (by name or id)
    ~/import_class    add a class exported by another node with the same model (fingerprint-checked)
    ~/list_classes    the class set (as ~/class_list)
    ~/export_class    a taught class as a JSON document (name, prototype, lambda_novel, fingerprint)
    ~/snapshot_frame  pin the newest frame for teaching and return its stamp (no race with the buffer)

Changes run in one callback group (serialised); reads in another, so they never wait for a change.
A change's engine call runs on a helper thread while its handler awaits it (:mod:`.blocking_calls`),
so teaching never holds the node's single-threaded executor away from camera frames.
A bad request gets success = false and the reason; the node and the stored classes are untouched.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.msg import ClassList
from owss_ros.ros.blocking_calls import BlockingCalls
from owss_ros.ros.image_conversion import rgb_to_image
from owss_ros.ros.messages import request_lambda_novel, teaching_arguments
from owss_ros.runtime.engine import REQUEST_ERRORS, OpenWorldEngine
from owss_ros.runtime.ring_buffer import format_stamp_ns
from owss_ros.srv import AddClass, ExportClass, ImportClass, ListClasses, RemoveClass, SnapshotFrame


class ClassServices:
    def __init__(self, node, engine: OpenWorldEngine, class_list: Callable[[], ClassList], change_group,
                 read_group):
        self._node, self._engine, self._class_list = node, engine, class_list
        self._log = node.get_logger()
        self._changes = BlockingCalls(node, "owss_class_changes")
        self.services = [
            node.create_service(AddClass, "~/add_class", self._on_add_class, callback_group=change_group),
            node.create_service(RemoveClass, "~/remove_class", self._on_remove_class, callback_group=change_group),
            node.create_service(ImportClass, "~/import_class", self._on_import_class, callback_group=change_group),
            node.create_service(ListClasses, "~/list_classes", self._on_list_classes, callback_group=read_group),
            node.create_service(ExportClass, "~/export_class", self._on_export_class, callback_group=read_group),
            node.create_service(SnapshotFrame, "~/snapshot_frame", self._on_snapshot_frame, callback_group=read_group),
        ]

    def close(self) -> None:
        self._changes.close()

    def resolved_names(self) -> list[str]:
        return [self._node.resolve_service_name(s.srv_name) for s in self.services]

    def _parameter(self, name: str):
        return self._node.get_parameter(name).value

    def _on_list_classes(self, request, response):
        response.classes = self._class_list()
        return response

    async def _on_remove_class(self, request, response):
        name = request.class_name.strip()
        try:
            removed = await self._changes.run(self._engine.forget, name if name else int(request.class_id))
            response.success, response.message = True, f"removed class {removed.class_id} {removed.name!r}"
        except REQUEST_ERRORS as error:
            response.success, response.message = False, f"not removed: {error}"
            self._log.warning(response.message)
        return response

    async def _on_add_class(self, request, response):
        response.success, response.class_id = False, UNKNOWN_ID
        try:
            lambda_novel = request_lambda_novel(request.lambda_novel)
            frames, masks = teaching_arguments(request, self._parameter("max_image_pixels"))
            result = await self._changes.run(self._engine.teach, request.class_name, frames, masks, lambda_novel)
            response.success, response.class_id, response.pixels_used = True, result.entry.class_id, result.pixels
            response.nearest_prototype_distance = result.nearest_distance
            response.nearest_class_name = result.nearest_name
            response.message = result.message
        except REQUEST_ERRORS as error:
            response.message = f"class not added: {error}"
            self._log.warning(response.message)
        except Exception as error:  # noqa: BLE001 - a request must never take the node down
            response.message = f"class not added: internal error {type(error).__name__}: {error}"
            self._log.error(response.message)
        return response

    def _on_snapshot_frame(self, request, response):
        response.success = False
        try:
            stamp_ns, (height, width) = self._engine.snapshot_newest()
            if request.return_image:
                response.image = rgb_to_image(np.ascontiguousarray(self._engine.buffered_frame(stamp_ns)), "rgb8")
                response.image.header.stamp.sec, response.image.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
                response.image.header.frame_id = self._node.latest_frame_id
        except REQUEST_ERRORS as error:
            response.message = f"no frame pinned: {error}"
            self._log.warning(response.message)
            return response
        response.success, response.width, response.height = True, width, height
        response.stamp.sec, response.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        response.message = (f"pinned the {width}x{height} frame at stamp {format_stamp_ns(stamp_ns)} for "
                            f"{self._parameter('pinned_frame_timeout'):g} s or until a class is taught from it: "
                            f"frame_stamps: [{{sec: {response.stamp.sec}, nanosec: {response.stamp.nanosec}}}]")
        self._log.info(response.message)
        return response

    def _on_export_class(self, request, response):
        try:
            response.class_json = self._engine.export_class(request.class_name).decode()
            response.success, response.message = True, f"exported class {request.class_name!r}"
        except REQUEST_ERRORS as error:
            response.success, response.message = False, f"not exported: {error}"
            self._log.warning(response.message)
        return response

    async def _on_import_class(self, request, response):
        response.success, response.class_id = False, UNKNOWN_ID
        try:
            entry = await self._changes.run(self._engine.import_class, request.class_json, request.class_name)
            response.success, response.class_id = True, entry.class_id
            response.message = f"imported class {entry.class_id} {entry.name!r}"
        except REQUEST_ERRORS as error:
            response.message = f"not imported: {error}"
            self._log.warning(response.message)
        except Exception as error:  # noqa: BLE001 - a request must never take the node down
            response.message = f"not imported: internal error {type(error).__name__}: {error}"
            self._log.error(response.message)
        return response
