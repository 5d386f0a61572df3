"""Where does FPR95 come from? The anomaly pixels below the TPR-95 threshold and the inliers above it.

    python scripts/anomaly_tail.py --model models/default/model.safetensors \
        --anomaly-data data/synthetic_calibration/anomaly --images 100 --panels out/anomaly_tail

FPR95 is set by the hardest 5% of the anomaly pixels: the threshold is their 5% quantile of the
anomaly probability (DML-EDS+MMSP, Eq. 9-10, fixed EDS range), and every inlier scored above it is
a false positive. This prints how those two tails are made: the images and predicted classes of
the missed anomaly pixels and their distance to the object's edge, the false positives by class
and by distance to a label edge, and FPR95 with label edges or object edges left out (how much is
resolution, how much is the metric space). ``--panels`` writes crops (image | score | mask) of the
images that hold most of the missed pixels. Run it on the calibration split, never the test split,
when the answer will steer training. Dev tool; no ROS.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from owss_ros.core.open_set import ScoringConfig
from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.networks import load_network, run_network

METHOD = "dml_eds_mmsp"
EDGE_DISTANCES = (1, 2, 3, 5, 8)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="models/default/model.safetensors")
    parser.add_argument("--anomaly-data", default="data/synthetic_calibration/anomaly")
    parser.add_argument("--images", type=int, default=100, help="first N images (0 = all)")
    parser.add_argument("--tpr", type=float, default=0.95)
    parser.add_argument("--panels", default=None, help="folder for crops of the worst images")
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args(argv)


def label_edge_distance(label: np.ndarray) -> np.ndarray:
    """Pixels to the nearest change of the close-set label (4-neighbourhood)."""
    edges = np.zeros(label.shape, bool)
    edges[:, 1:] |= label[:, 1:] != label[:, :-1]
    edges[1:, :] |= label[1:, :] != label[:-1, :]
    return ndimage.distance_transform_edt(~edges)


@dataclass
class ImageScores:
    name: str
    score: np.ndarray  # (H, W) anomaly probability
    predicted: np.ndarray  # (H, W) close-set label
    anomaly: np.ndarray  # (H, W) 0 inlier, 1 anomaly, 255 void
    label: np.ndarray  # (H, W) close-set ground truth
    rgb: np.ndarray


def score_split(network, split: AnomalySplit) -> list[ImageScores]:
    scoring = ScoringConfig(temperature=network.spec.temperature, eds_normalization="fixed")
    rows = []
    for index in range(len(split)):
        sample = split[index]
        output = run_network(network, sample.image, scoring)
        rows.append(ImageScores(sample.name, output.scores[METHOD][0].numpy(), output.close_labels[0].numpy(),
                                sample.anomaly, sample.label, sample.rgb))
    return rows


def pooled(rows: list[ImageScores]) -> dict[str, np.ndarray]:
    keys = ("score", "predicted", "anomaly", "label", "label_edge", "object_depth", "image")
    parts = {key: [] for key in keys}
    for index, row in enumerate(rows):
        keep = row.anomaly != 255
        values = {"score": row.score, "predicted": row.predicted, "anomaly": row.anomaly, "label": row.label,
                  "label_edge": label_edge_distance(row.label),
                  "object_depth": ndimage.distance_transform_edt(row.anomaly == 1),
                  "image": np.full(row.anomaly.shape, index)}
        for key in keys:
            parts[key].append(values[key][keep])
    return {key: np.concatenate(value) for key, value in parts.items()}


def report(px: dict[str, np.ndarray], rows: list[ImageScores], class_names, tpr: float) -> dict:
    """Print the tails; returns the threshold, the FPR at it and the images worst first."""
    pos, neg = px["anomaly"] == 1, px["anomaly"] == 0
    threshold = float(np.quantile(px["score"][pos], 1.0 - tpr))
    fp, missed = neg & (px["score"] >= threshold), pos & (px["score"] < threshold)
    n_fp, n_missed = max(int(fp.sum()), 1), max(int(missed.sum()), 1)  # shares of an empty tail print 0
    print(f"{len(rows)} images, {pos.sum()} anomaly / {neg.sum()} inlier pixels; threshold at TPR {tpr:.0%}: "
          f"{threshold:.3g}; FPR {fp.sum() / neg.sum():.1%}")
    for below in (1e-3, 1e-2, 0.1):
        print(f"  anomaly pixels scored below {below:g}: {(px['score'][pos] < below).mean():.1%}")
    per_image = np.bincount(px["image"][missed], minlength=len(rows))
    worst = [int(i) for i in np.argsort(-per_image) if per_image[i] > 0][:8]
    print("  missed anomaly pixels by image:")
    for i in worst:
        total = int((rows[i].anomaly == 1).sum())
        print(f"    {rows[i].name}: {per_image[i]} of {total} ({per_image[i] / max(total, 1):.0%}), "
              f"{per_image[i] / n_missed:.1%} of the missed")
    predicted = np.bincount(px["predicted"][missed], minlength=len(class_names))
    print("  missed anomaly pixels predicted as: " + ", ".join(
        f"{class_names[c]} {predicted[c] / n_missed:.0%}" for c in np.argsort(-predicted)[:5] if predicted[c]))
    for k in EDGE_DISTANCES:
        print(f"  within {k} px of an edge: missed anomaly {(missed & (px['object_depth'] <= k)).sum() / n_missed:.1%} "
              f"(all anomaly {(pos & (px['object_depth'] <= k)).sum() / pos.sum():.1%}); false positives "
              f"{(fp & (px['label_edge'] <= k)).sum() / n_fp:.1%} (all inliers {(neg & (px['label_edge'] <= k)).sum() / neg.sum():.1%})")
    labels = px["label"].clip(0, len(class_names))
    fp_by_class = np.bincount(labels[fp], minlength=len(class_names) + 1)
    all_by_class = np.bincount(labels[neg], minlength=len(class_names) + 1)
    names = list(class_names) + ["void"]
    print("  false positives by class (share of all, rate within the class): " + ", ".join(
        f"{names[c]} {fp_by_class[c] / n_fp:.0%} ({fp_by_class[c] / max(all_by_class[c], 1):.0%})"
        for c in np.argsort(-fp_by_class)[:8]))
    for k in (1, 2, 3):
        inner = neg & (px["label_edge"] > k)
        deep = pos & (px["object_depth"] > k)
        deep_fpr = "n/a (no such pixel)"
        if deep.any():
            deep_threshold = np.quantile(px["score"][deep], 1.0 - tpr)
            deep_fpr = f"{(neg & (px['score'] >= deep_threshold)).sum() / neg.sum():.1%}"
        print(f"  FPR without inliers <= {k} px from a label edge: {(inner & fp).sum() / max(inner.sum(), 1):.1%}; "
              f"TPR counted only > {k} px inside objects: {deep_fpr}")
    return {"threshold": threshold, "fpr": float(fp.sum() / neg.sum()), "worst": worst}


def save_panels(rows: list[ImageScores], worst: list[int], folder: Path, margin: int = 20) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for i in worst[:4]:
        row = rows[i]
        ys, xs = np.nonzero(row.anomaly == 1)
        y0, y1 = max(ys.min() - margin, 0), ys.max() + margin
        x0, x1 = max(xs.min() - margin, 0), xs.max() + margin
        score = (np.repeat(row.score[..., None], 3, -1) * 255).astype(np.uint8)
        mask = np.zeros_like(row.rgb)
        mask[..., 0] = (row.anomaly == 1) * 255
        panel = np.concatenate([part[y0:y1, x0:x1] for part in (row.rgb, score, mask)], 1)
        Image.fromarray(panel).save(folder / f"{row.name}.png")
    print(f"  panels of the {min(len(worst), 4)} worst images in {folder}")


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    network = load_network(args.model, expected_kind="dml")
    rows = score_split(network, AnomalySplit(args.anomaly_data, max_images=args.images))
    tails = report(pooled(rows), rows, network.spec.class_names, args.tpr)
    if args.panels:
        save_panels(rows, tails["worst"], Path(args.panels))


if __name__ == "__main__":
    main()
