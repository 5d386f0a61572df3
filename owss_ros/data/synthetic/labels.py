"""Label values written into the label canvas.

The canvas stores Cityscapes labelIds for the 19 train classes, ``EGO_VEHICLE`` (Cityscapes
labelId 1, void) for the optional bonnet, and the internal ``ANOMALY`` value for foreign
objects; :mod:`~owss_ros.data.synthetic.scene` converts the internal value on output.
"""

from __future__ import annotations

from owss_ros.core.classes import CITYSCAPES_CLASSES

LABEL = {c.name: c.label_id for c in CITYSCAPES_CLASSES}
UNLABELED = 0  # Cityscapes "unlabeled" (void)
EGO_VEHICLE = 1  # Cityscapes "ego vehicle" (void)
ANOMALY = 254  # internal only: never written to a labelIds file

ROAD = LABEL["road"]
SIDEWALK = LABEL["sidewalk"]
BUILDING = LABEL["building"]
WALL = LABEL["wall"]
FENCE = LABEL["fence"]
POLE = LABEL["pole"]
TRAFFIC_LIGHT = LABEL["traffic light"]
TRAFFIC_SIGN = LABEL["traffic sign"]
VEGETATION = LABEL["vegetation"]
TERRAIN = LABEL["terrain"]
SKY = LABEL["sky"]
PERSON = LABEL["person"]
RIDER = LABEL["rider"]
CAR = LABEL["car"]
TRUCK = LABEL["truck"]
BUS = LABEL["bus"]
TRAIN = LABEL["train"]
MOTORCYCLE = LABEL["motorcycle"]
BICYCLE = LABEL["bicycle"]
