"""Input conversion shared by the metric modules (numpy arrays or torch tensors in, numpy out).

Anomaly label convention (Fishyscapes, Lost and Found, SegmentMeIfYouCan, StreetHazards after
remapping): 1 = anomaly (the POSITIVE class), 0 = in-distribution, ``ignore_index`` (255) = void,
excluded from every metric. Scores: higher = more anomalous.
"""

from __future__ import annotations

import numpy as np

VOID_LABEL = 255


def to_numpy(array) -> np.ndarray:
    """Return ``array`` as a numpy array; torch tensors are detached and moved to the CPU first."""
    if hasattr(array, "detach"):
        array = array.detach()
    if hasattr(array, "cpu"):
        array = array.cpu()
    return np.asarray(array)


def valid_scores_and_labels(scores, labels, ignore_index: int = VOID_LABEL) -> tuple[np.ndarray, np.ndarray]:
    """Flatten one image (or any batch) and drop void pixels.

    Returns ``(scores, is_anomaly)``: 1-D float64 scores of the non-void pixels and a boolean
    array that is True where the label is 1. Raises ``ValueError`` on a shape mismatch, a NaN
    score or a label other than 0, 1 and ``ignore_index`` (input errors, not degenerate data).
    """
    score_array = to_numpy(scores)
    label_array = to_numpy(labels)
    if score_array.shape != label_array.shape:
        raise ValueError(f"scores {score_array.shape} and labels {label_array.shape} differ in shape")
    flat_scores = score_array.astype(np.float64, copy=False).ravel()
    flat_labels = label_array.ravel()
    if np.isnan(flat_scores).any():
        raise ValueError("anomaly scores contain NaN")
    valid = flat_labels != ignore_index
    is_anomaly = flat_labels == 1
    unexpected = valid & ~is_anomaly & (flat_labels != 0)
    if unexpected.any():
        found = np.unique(flat_labels[unexpected])[:5].tolist()
        raise ValueError(f"anomaly labels must be 0, 1 or {ignore_index}; found {found}")
    return flat_scores[valid], is_anomaly[valid]
