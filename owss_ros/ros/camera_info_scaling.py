"""CameraInfo for the published maps: at model resolution (the frame scaled with its aspect ratio
kept) or, unchanged but for the header, at camera resolution.

Intrinsics scale with the image: fx, fy, and the principal point in ROS pixel coordinates
(the centre of the top-left pixel is (0, 0)), so c' = (c + 0.5) s - 0.5. Distortion is
unchanged (it is defined on normalised coordinates). width / height, the ROI and the
projection matrix P follow; binning is reset, since the scaled image is the new full image.
"""

from __future__ import annotations

from sensor_msgs.msg import CameraInfo


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

