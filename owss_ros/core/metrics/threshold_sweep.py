"""Exact threshold-sweep accumulator fed with tie groups in ascending score order.

Every distinct score value ``v`` is one threshold step (all pixels sharing a score switch to
"anomalous" together). The caller streams groups ``(v, p_v, n_v)`` — value, number of positive
and of negative pixels with exactly that score — in strictly increasing ``v``. With the totals
``P`` and ``N`` known up front, the counts at threshold ``v`` (pixels with score ``>= v``) are::

    TP(v) = P - #positives with score < v
    FP(v) = N - #negatives with score < v

so the metrics are sums of per-group terms that need no descending pass:

* AUROC (trapezoids in count space, sklearn ``roc_auc_score``)::

      AUROC = sum_v n_v * (2 TP(v) - p_v) / (2 P N)

  (the step from the next higher threshold, at (FP - n_v, TP - p_v), to (FP, TP)). The numerator
  is accumulated as an exact integer.
* average precision (sklearn ``average_precision_score``, step-wise)::

      AP = sum_v p_v * TP(v) / (TP(v) + FP(v)) / P

* FPR at TPR target: FP(v*) / N at the largest ``v*`` with ``TP(v*) / P >= target`` (TP is
  non-increasing in ``v``, so the qualifying groups form a prefix of the ascending stream).
  ``TP / P`` and ``FP / N`` are the same float64 divisions sklearn performs, so the value is
  bit-identical to ``roc_curve(drop_intermediate=False)`` + ``searchsorted``.
* best pixel F1 = max_v 2 TP(v) / (TP(v) + FP(v) + P).

Optionally the sweep keeps a downsampled curve: a group is kept when the cell index
``floor(TPR * M) + floor(FPR * M)`` changes (both rates are monotone, so at most ``2M + 1``
groups are kept, spread along both axes), plus the highest group and the ``+inf`` point.
"""

from __future__ import annotations

import math

import numpy as np

from .anomaly_results import AnomalyCurves, AnomalyMetrics


def validate_tpr_target(tpr_target: float) -> float:
    """Check ``0 < tpr_target <= 1`` (a configuration error otherwise) and return it as float."""
    tpr_target = float(tpr_target)
    if not 0.0 < tpr_target <= 1.0:
        raise ValueError(f"tpr_target must be in (0, 1], got {tpr_target}")
    return tpr_target


class ThresholdSweep:
    """Accumulates AUROC, AP, FPR@TPR, best F1 (and an optional curve) from ascending tie groups.

    ``curve_points``: 0 keeps no curve, ``None`` keeps every threshold, an integer ``>= 5``
    keeps at most that many points per curve.
    """

    def __init__(self, num_positive: int, num_negative: int, tpr_target: float = 0.95,
                 curve_points: int | None = 0):
        self.num_positive = int(num_positive)
        self.num_negative = int(num_negative)
        self.tpr_target = validate_tpr_target(tpr_target)
        if curve_points is not None and curve_points != 0 and curve_points < 5:
            raise ValueError("curve_points must be 0, None or >= 5")
        self._curve_points = curve_points
        self._cells = None if not curve_points else (curve_points - 3) // 2
        self._pos_below = 0
        self._neg_below = 0
        self._auroc_numerator = 0  # Python int: sum of n_v * (2 TP - p_v), exact
        self._ap_sum = 0.0
        self._fpr_at_tpr = math.nan
        self._threshold_at_tpr = math.nan
        self._best_f1 = -1.0
        self._best_f1_threshold = math.nan
        self._last_value = -math.inf
        self._last_cell = None
        self._curve_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._top_group: tuple[float, int, int] | None = None
        self._top_group_kept = False

    def add_groups(self, values: np.ndarray, pos_counts: np.ndarray, neg_counts: np.ndarray) -> None:
        """Add tie groups; ``values`` strictly increasing and above every value added before."""
        if len(values) == 0:
            return
        values = np.asarray(values, dtype=np.float64)
        p = np.asarray(pos_counts, dtype=np.int64)
        n = np.asarray(neg_counts, dtype=np.int64)
        if values[0] <= self._last_value:
            raise ValueError("tie groups must arrive in strictly increasing score order")
        cum_p = np.cumsum(p)
        cum_n = np.cumsum(n)
        tp = self.num_positive - self._pos_below - cum_p + p
        fp = self.num_negative - self._neg_below - cum_n + n
        if tp[0] > self.num_positive or fp[0] > self.num_negative or tp[-1] - p[-1] < 0 or fp[-1] - n[-1] < 0:
            raise ValueError("tie group counts exceed the announced totals")

        self._auroc_numerator += int(np.dot(n, 2 * tp - p))
        has_pos = p > 0
        if has_pos.any():
            self._ap_sum += float(np.sum(p[has_pos] * (tp[has_pos] / (tp[has_pos] + fp[has_pos]))))
        self._update_fpr_at_tpr(values, tp, fp)
        self._update_best_f1(values, tp, fp)
        if self._curve_points != 0:
            self._update_curve(values, tp, fp)

        self._pos_below += int(cum_p[-1])
        self._neg_below += int(cum_n[-1])
        self._last_value = float(values[-1])

    def _update_fpr_at_tpr(self, values, tp, fp) -> None:
        if self.num_positive == 0 or self.num_negative == 0:
            return
        qualifies = np.flatnonzero(tp / self.num_positive >= self.tpr_target)
        if len(qualifies):
            last = qualifies[-1]
            self._fpr_at_tpr = float(fp[last] / self.num_negative)
            self._threshold_at_tpr = float(values[last])

    def _update_best_f1(self, values, tp, fp) -> None:
        if self.num_positive == 0:
            return
        f1 = 2.0 * tp / (tp + fp + self.num_positive)
        best = len(f1) - 1 - int(np.argmax(f1[::-1]))  # ties: the highest threshold
        if f1[best] >= self._best_f1:
            self._best_f1 = float(f1[best])
            self._best_f1_threshold = float(values[best])

    def _update_curve(self, values, tp, fp) -> None:
        if self._cells is None:
            keep = np.ones(len(values), dtype=bool)
        else:
            cell = np.zeros(len(values), dtype=np.int64)
            if self.num_positive:
                cell += np.floor(tp / self.num_positive * self._cells).astype(np.int64)
            if self.num_negative:
                cell += np.floor(fp / self.num_negative * self._cells).astype(np.int64)
            previous = np.empty_like(cell)
            previous[0] = -1 if self._last_cell is None else self._last_cell
            previous[1:] = cell[:-1]
            keep = cell != previous
            self._last_cell = int(cell[-1])
        if keep.any():
            self._curve_parts.append((values[keep], tp[keep], fp[keep]))
        self._top_group = (float(values[-1]), int(tp[-1]), int(fp[-1]))
        self._top_group_kept = bool(keep[-1])

    def result(self) -> AnomalyMetrics:
        """The metrics of everything added so far (call after the last group)."""
        pos, neg = self.num_positive, self.num_negative
        both = pos > 0 and neg > 0
        return AnomalyMetrics(
            auroc=self._auroc_numerator / (2 * pos * neg) if both else math.nan,
            fpr_at_tpr=self._fpr_at_tpr if both else math.nan,
            aupr=self._ap_sum / pos if pos > 0 else math.nan,
            tpr_target=self.tpr_target,
            num_positive=pos,
            num_negative=neg,
            threshold_at_tpr=self._threshold_at_tpr if both else math.nan,
            best_f1=self._best_f1 if pos > 0 else math.nan,
            best_f1_threshold=self._best_f1_threshold if pos > 0 else math.nan,
        )

    def curves(self) -> AnomalyCurves:
        """The kept curve points (requires ``curve_points != 0``)."""
        if self._curve_points == 0:
            raise RuntimeError("this sweep was created with curve_points=0")
        parts = list(self._curve_parts)
        if self._top_group is not None and not self._top_group_kept:
            value, tp, fp = self._top_group
            parts.append((np.array([value]), np.array([tp]), np.array([fp])))
        if parts:
            values = np.concatenate([part[0] for part in parts])[::-1]
            tp = np.concatenate([part[1] for part in parts])[::-1].astype(np.float64)
            fp = np.concatenate([part[2] for part in parts])[::-1].astype(np.float64)
        else:
            values = tp = fp = np.zeros(0)
        tpr = tp / self.num_positive if self.num_positive else np.full(len(tp), np.nan)
        fpr = fp / self.num_negative if self.num_negative else np.full(len(fp), np.nan)
        precision = tp / np.maximum(tp + fp, 1.0)  # every kept threshold has tp + fp >= 1
        return AnomalyCurves(
            fpr=np.concatenate([[0.0 if self.num_negative else np.nan], fpr]),
            tpr=np.concatenate([[0.0 if self.num_positive else np.nan], tpr]),
            roc_thresholds=np.concatenate([[np.inf], values]),
            precision=np.concatenate([precision[::-1], [1.0]]),
            recall=np.concatenate([tpr[::-1], [0.0]]),
            pr_thresholds=values[::-1].copy(),
        )
