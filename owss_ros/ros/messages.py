"""Engine values <-> ROS messages: the class list, /diagnostics, the scaled CameraInfo, and an
AddClass request turned into the engine's teaching arguments.

CameraInfo for the published maps: at model resolution (the frame scaled with its aspect ratio
kept) or, unchanged but for the header, at camera resolution. Intrinsics scale with the image:
fx, fy, and the principal point in ROS pixel coordinates (the centre of the top-left pixel is
(0, 0)), so c' = (c + 0.5) s - 0.5. Distortion is unchanged (it is defined on normalised
coordinates); width / height, the ROI and the projection matrix P follow; binning is reset.

AddClass: masks come inline (``masks``, mono8 / 8UC1) or as PNG files inside the mask directory
(``mask_paths``); frames inline (``images``) or by header stamp from the engine's ring buffer
(``frame_stamps``; {0, 0} = the newest frame). The i-th mask belongs to the i-th frame.
"""

from __future__ import annotations

import math

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from sensor_msgs.msg import CameraInfo

from owss_ros.core.class_names import check_stamp_message
from owss_ros.core.class_set import ClassOrigin, ClassSet
from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.msg import ClassInfo, ClassList, LabelInfo, VisionClass
from owss_ros.ros.image_conversion import image_to_mono8
from owss_ros.ros.input_frames import frame_from_message
from owss_ros.runtime.engine import Health
from owss_ros.runtime.frames import FrameRejectedError
from owss_ros.runtime.teaching import TeachingError

_ORIGIN_CODES = {
    ClassOrigin.BASE: ClassInfo.ORIGIN_BASE,
    ClassOrigin.NPM: ClassInfo.ORIGIN_NPM,
    ClassOrigin.PLM: ClassInfo.ORIGIN_PLM,
}


def class_list_message(class_set: ClassSet, lambda_out: float, lambda_novel: float,
                       stamp, frame_id: str) -> ClassList:
    msg = ClassList(threshold=float(lambda_out), novel_threshold=float(lambda_novel),
                    unknown_id=UNKNOWN_ID)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.classes = [
        ClassInfo(id=e.class_id, name=e.name, color=list(e.color), origin=_ORIGIN_CODES[e.origin])
        for e in sorted(class_set.entries, key=lambda e: e.class_id)
    ]
    return msg


UNKNOWN_CLASS_NAME = "unknown"


def label_info_message(class_list: ClassList) -> LabelInfo:
    """The class map of ``class_list`` in vision_msgs/LabelInfo's fields (255 = unknown)."""
    msg = LabelInfo(threshold=class_list.threshold)
    msg.header = class_list.header
    msg.class_map = [VisionClass(class_id=c.id, class_name=c.name) for c in class_list.classes]
    msg.class_map.append(VisionClass(class_id=UNKNOWN_ID, class_name=UNKNOWN_CLASS_NAME))
    return msg


def diagnostic_array(name: str, hardware_id: str, report: Health, stamp) -> DiagnosticArray:
    if report.errors:
        level, message = DiagnosticStatus.ERROR, "; ".join(report.errors)
    elif report.warnings:
        level, message = DiagnosticStatus.WARN, "; ".join(report.warnings)
    else:
        level, message = DiagnosticStatus.OK, "ok"
    values = [KeyValue(key=k, value=str(v)) for k, v in report.counters.items()]
    for stage, (p50, p99, samples) in report.latencies.items():
        values.append(KeyValue(key=f"latency_ms.{stage}.p50", value=f"{p50:.2f}"))
        values.append(KeyValue(key=f"latency_ms.{stage}.p99", value=f"{p99:.2f}"))
        values.append(KeyValue(key=f"latency_ms.{stage}.samples", value=str(samples)))
    values += [KeyValue(key=k, value=str(v)) for k, v in report.facts.items()]
    status = DiagnosticStatus(level=level, name=name, message=message, hardware_id=hardware_id, values=values)
    array = DiagnosticArray(status=[status])
    array.header.stamp = stamp
    return array


def scaled_camera_info(info: CameraInfo, width: int, height: int, header) -> CameraInfo:
    """``info`` rescaled from its own width/height to ``width`` x ``height``, with ``header``."""
    if info.width == 0 or info.height == 0:
        raise ValueError("camera_info has zero width or height")
    sx, sy = width / info.width, height / info.height
    out = CameraInfo()
    out.header.stamp = header.stamp
    out.header.frame_id = header.frame_id
    out.width, out.height = int(width), int(height)
    out.distortion_model = info.distortion_model
    out.d = list(info.d)
    out.r = list(info.r)
    k = list(info.k)
    k[0], k[2] = k[0] * sx, (k[2] + 0.5) * sx - 0.5
    k[4], k[5] = k[4] * sy, (k[5] + 0.5) * sy - 0.5
    out.k = k
    p = list(info.p)
    p[0], p[2], p[3] = p[0] * sx, (p[2] + 0.5) * sx - 0.5, p[3] * sx
    p[5], p[6], p[7] = p[5] * sy, (p[6] + 0.5) * sy - 0.5, p[7] * sy
    out.p = p
    out.binning_x = out.binning_y = 0
    roi = info.roi
    out.roi.x_offset = int(round(roi.x_offset * sx))
    out.roi.y_offset = int(round(roi.y_offset * sy))
    out.roi.width = int(round(roi.width * sx))
    out.roi.height = int(round(roi.height * sy))
    out.roi.do_rectify = roi.do_rectify
    return out



def request_lambda_novel(value: float) -> float | None:
    """AddClass.lambda_novel; None (follow the node's parameter) when it is <= 0."""
    if not math.isfinite(value):
        raise TeachingError(f"lambda_novel must be a finite number, got {value}")
    return None if value <= 0 else float(value)


def teaching_arguments(request, max_pixels: int) -> tuple[list, list]:
    """(frames, masks) for :meth:`OpenWorldEngine.teach` from an AddClass request: frames as RGB
    arrays or stamps in ns, masks as mono8 arrays or mask file names."""
    if bool(request.masks) == bool(request.mask_paths):
        raise TeachingError("give the masks either inline (masks) or as files (mask_paths), not both or "
                            f"neither (got {len(request.masks)} masks, {len(request.mask_paths)} mask_paths)")
    if bool(request.images) == bool(request.frame_stamps):
        raise TeachingError("give the frames either inline (images) or by stamp (frame_stamps), not both or "
                            f"neither (got {len(request.images)} images, {len(request.frame_stamps)} frame_stamps)")
    frames = [check_stamp_message(s, f"frame_stamps[{i}]") for i, s in enumerate(request.frame_stamps)]
    for i, image in enumerate(request.images):
        try:
            frames.append(frame_from_message(image, max_pixels))
        except FrameRejectedError as error:
            raise TeachingError(f"shot {i}: frame refused: {error}") from error
    masks: list = list(request.mask_paths)
    for i, message in enumerate(request.masks):
        if int(message.width) * int(message.height) > max_pixels:
            raise TeachingError(f"shot {i}: the mask is larger than max_image_pixels")
        try:
            masks.append(np.asarray(image_to_mono8(message)))
        except ValueError as error:
            raise TeachingError(f"shot {i}: unusable mask: {error}") from error
    return frames, masks
