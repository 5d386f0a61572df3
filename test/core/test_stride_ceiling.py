"""scripts/stride_ceiling.py: the oracle of a stride-s output grid."""

import importlib.util
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "stride_ceiling.py"
_spec = importlib.util.spec_from_file_location("stride_ceiling", SCRIPT)
stride_ceiling = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stride_ceiling)


def test_a_large_region_survives_every_stride_and_a_thin_pole_only_a_fine_one():
    label = np.zeros((64, 64), np.int64)
    label[:, 40:] = 1  # a wide region, on the 8-pixel grid
    label[10:50, 20:22] = 2  # a 2-pixel pole
    label[0:4, 0:4] = 255  # void is no class
    for stride in (1, 2, 4, 8):
        oracle = stride_ceiling.oracle_labels(label, 3, stride)
        assert oracle.shape == label.shape
        assert (oracle[:, 44:] == 1).all()
    assert np.array_equal(stride_ceiling.oracle_labels(label, 3, 1)[label != 255], label[label != 255])
    assert (stride_ceiling.oracle_labels(label, 3, 2)[10:50, 20:22] == 2).mean() > 0.9
    assert (stride_ceiling.oracle_labels(label, 3, 8)[10:50, 20:22] == 2).mean() < 0.1
