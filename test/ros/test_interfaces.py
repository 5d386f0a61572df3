"""The generated owss_ros interfaces agree with the core library.

Needs the interfaces built and installed first: scripts/build_interfaces.sh. What the services
and latched topics do is tested on the real node (test_node_classes, test_node_operator_flow,
test_node_class_transfer), not on servers written inside a test.
"""

from __future__ import annotations

from owss_ros.core.classes import UNKNOWN_ID

try:
    from owss_ros.msg import ClassInfo, ClassList
    from owss_ros.srv import AddClass, RemoveClass
except ImportError as error:  # a clear message instead of a bare ImportError
    raise ImportError(
        f"owss_ros interfaces are not installed; run scripts/build_interfaces.sh ({error})"
    ) from error


def test_constants_match_the_core_library():
    assert ClassList.UNKNOWN_ID == UNKNOWN_ID == 255
    assert (ClassInfo.ORIGIN_BASE, ClassInfo.ORIGIN_NPM, ClassInfo.ORIGIN_PLM) == (0, 1, 2)
    assert RemoveClass.Request().class_id == UNKNOWN_ID  # an empty request selects no class
    assert AddClass.Request().lambda_novel == 0.0  # <= 0: use the node's parameter
