"""scripts/anomaly_tail.py: the FPR95 tails on hand-made score maps."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "anomaly_tail.py"
_spec = importlib.util.spec_from_file_location("anomaly_tail", SCRIPT)
anomaly_tail = importlib.util.module_from_spec(_spec)
sys.modules["anomaly_tail"] = anomaly_tail  # dataclasses look their module up there
_spec.loader.exec_module(anomaly_tail)


def test_label_edge_distance_counts_pixels_to_the_nearest_label_change():
    label = np.zeros((5, 8), np.int64)
    label[:, 4:] = 1
    distance = anomaly_tail.label_edge_distance(label)
    assert distance[2, 4] == 0 and distance[2, 3] == 1 and distance[2, 0] == 4 and distance[2, 7] == 3


def _row(name, score, anomaly):
    h, w = score.shape
    return anomaly_tail.ImageScores(name, score, np.zeros((h, w), np.int64), anomaly,
                                    np.zeros((h, w), np.int64), np.zeros((h, w, 3), np.uint8))


def test_report_finds_the_threshold_fpr_and_the_image_holding_the_missed_pixels(capsys):
    h, w = 10, 10
    anomaly = np.zeros((h, w), np.uint8)
    anomaly[2:6, 2:7] = 1  # 20 anomaly pixels per image
    anomaly[0, 0] = 255  # void is left out
    caught = np.where(anomaly == 1, 0.9, 0.0).astype(np.float32)
    caught[9, :] = 0.95  # 10 of 79 inliers score above every anomaly pixel
    missed = np.where(anomaly == 1, 0.9, 0.0).astype(np.float32)
    missed[2, 2:6] = [0.01, 0.02, 0.03, 0.04]  # 4 of the 40 anomaly pixels score low, in the second image
    rows = [_row("caught", caught, anomaly), _row("missed", missed, anomaly)]
    tails = anomaly_tail.report(anomaly_tail.pooled(rows), rows, ["road"], tpr=0.95)
    assert 0.02 < tails["threshold"] < 0.03  # the 5% quantile: two of the 40 anomaly pixels below it
    assert tails["worst"] == [1]
    assert tails["fpr"] == 10 / 158  # the 0.95 row of the first image; void and anomaly pixels excluded
    assert "missed: 2 of 20" in capsys.readouterr().out
