"""ClassSet -> owss_ros/ClassList (the latched ~/class_list topic and ListClasses reply)."""

from __future__ import annotations

from owss_ros.core.class_set import ClassOrigin, ClassSet
from owss_ros.core.classes import UNKNOWN_ID
from owss_ros.msg import ClassInfo, ClassList

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
