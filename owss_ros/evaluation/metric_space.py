"""How compact is a DMLNet's metric space? The measurements behind NPM and EDS.

On an anomaly split with close-set labels (the calibration split, never the test split), per pixel
at the input resolution:

* ``norm``: ||f||; on a prototype it is T.
* ``own``: ||f - T e_y||^2, the squared distance of a known pixel to its own prototype (what VL,
  Eq. 4, minimises); a compact space has own << 2 T^2 (the prototype spacing).
* ``centroid``: ||f - c||^2 with c = (T/N) 1; EDS (Eq. 7) is N * centroid + T^2 (N - 1), so
  anomalies must sit nearer c than known pixels for EDS to separate them. On a prototype
  centroid = T^2 (N - 1) / N.
* ``margin``: second-nearest minus nearest squared distance (what MMSP, Eq. 6, turns into confidence).

Reported as means over known pixels and over anomaly pixels, plus the mean ``own`` per class.
"""

from __future__ import annotations

import numpy as np
import torch

from owss_ros.evaluation.anomaly_splits import AnomalySplit
from owss_ros.evaluation.networks import LoadedNetwork
from owss_ros.core.dmlnet import upsampled_output

STATS = ("norm", "own", "centroid", "margin")


@torch.no_grad()
def _pixel_stats(network: LoadedNetwork, image: torch.Tensor) -> dict[str, torch.Tensor]:
    model = network.model
    f = upsampled_output(model, image)[0]  # (N, H, W)
    n, t = f.shape[0], model.temperature
    d = model.base_distances(f[None])[0]
    two = d.topk(2, dim=0, largest=False).values
    return {"norm": f.norm(dim=0), "centroid": ((f - t / n) ** 2).sum(dim=0), "margin": two[1] - two[0],
            "distances": d}


def metric_space_report(network: LoadedNetwork, split: AnomalySplit, max_images: int = 0) -> dict:
    """Means of :data:`STATS` over known and anomaly pixels, and ``own`` per class."""
    if network.kind != "dml":
        raise ValueError("metric-space statistics need a DMLNet")
    names = list(network.spec.class_names)
    sums = {group: {k: 0.0 for k in STATS} for group in ("known", "anomaly")}
    counts = {"known": 0, "anomaly": 0}
    own_sum, own_count = np.zeros(len(names)), np.zeros(len(names))
    count = len(split) if max_images <= 0 else min(max_images, len(split))
    for index in range(count):
        sample = split[index]
        stats = _pixel_stats(network, sample.image)
        label = torch.from_numpy(sample.label)
        known = (torch.from_numpy(sample.anomaly) == 0) & (label != 255)
        anomaly = torch.from_numpy(sample.anomaly) == 1
        own = stats["distances"].gather(0, label.clamp(0, len(names) - 1)[None])[0]
        stats["own"] = own
        for group, mask in (("known", known), ("anomaly", anomaly)):
            counts[group] += int(mask.sum())
            for k in STATS:
                if k == "own" and group == "anomaly":
                    continue
                sums[group][k] += float(stats[k][mask].double().sum())
        ids = label[known].numpy()
        np.add.at(own_sum, ids, own[known].double().numpy())
        np.add.at(own_count, ids, 1)
    means = {g: {k: sums[g][k] / max(counts[g], 1) for k in STATS if not (g == "anomaly" and k == "own")}
             for g in sums}
    t, n = network.spec.temperature, len(names)
    return {"model": network.describe(), "split": split.describe(), "images": count, "pixels": counts,
            "means": means, "own_per_class": {names[i]: own_sum[i] / own_count[i]
                                              for i in range(n) if own_count[i] > 0},
            "reference": {"prototype_spacing": 2 * t * t, "centroid_on_prototype": t * t * (n - 1) / n,
                          "norm_on_prototype": t}}


def format_report(report: dict) -> str:
    m, ref = report["means"], report["reference"]
    lines = [f"metric space of {report['model']['path']} on {report['split']['path']} ({report['images']} images)",
             f"{'':10s} {'known':>9s} {'anomaly':>9s}   reference",
             f"{'norm':10s} {m['known']['norm']:9.3f} {m['anomaly']['norm']:9.3f}   {ref['norm_on_prototype']:.3f} on a prototype",
             f"{'own':10s} {m['known']['own']:9.3f} {'-':>9s}   prototypes are {ref['prototype_spacing']:.1f} apart",
             f"{'centroid':10s} {m['known']['centroid']:9.3f} {m['anomaly']['centroid']:9.3f}   "
             f"{ref['centroid_on_prototype']:.3f} on a prototype, 0 at the centroid",
             f"{'margin':10s} {m['known']['margin']:9.3f} {m['anomaly']['margin']:9.3f}"]
    worst = sorted(report["own_per_class"].items(), key=lambda kv: -kv[1])[:5]
    lines.append("loosest classes (mean own): " + ", ".join(f"{k} {v:.2f}" for k, v in worst))
    return "\n".join(lines)
