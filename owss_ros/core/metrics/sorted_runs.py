"""Bounded-memory external sort of labelled scores: spill sorted runs, k-way merge them back.

Used by the exact pooled anomaly meter. Scores are kept as float64 (lossless for float16/32/64
inputs, so ties are exactly those of the input).

Buffer: one float64 array of ``chunk_pixels`` entries; anomaly (positive) scores fill it from the
front and in-distribution (negative) scores from the back, so no label array is stored. When it
is full both halves are sorted in place and written as two raw float64 "runs" (``tofile``) in a
private temporary directory. Memory in RAM is therefore ``8 * chunk_pixels`` bytes for the buffer
plus the caller's current image.

Merge (:func:`merge_sorted_runs`): each run is read through a window of at most
``max(MIN_WINDOW_PIXELS, budget_pixels // number_of_runs)`` values, so the merge holds about
``budget_pixels`` values in RAM however many runs there are. Per round, ``bound`` = the minimum
over runs of the last value of their window (runs whose window already reaches the run's end do
not constrain it). Every value
``< bound`` of every run is then inside its window and is emitted; the values ``== bound`` may
continue past a window (ties across blocks and runs), so they are *counted* by binary search in
the run file instead of being loaded, and emitted as one tie group. Each round finishes at least
one window, so the merge terminates; each emitted batch is strictly above the previous one, and
every distinct score forms exactly one group.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass
from typing import Iterator

import numpy as np

_ITEM_BYTES = np.dtype(np.float64).itemsize
MIN_WINDOW_PIXELS = 1024


@dataclass
class SortedRun:
    """One ascending float64 run: in RAM (``array``) or in a raw file (``path``)."""

    is_positive: bool
    length: int
    array: np.ndarray | None = None
    path: str | None = None


class _RunReader:
    """Reads slices of a run without mapping the whole file into memory."""

    def __init__(self, run: SortedRun):
        self.run = run
        self._file = open(run.path, "rb") if run.path is not None else None

    def read(self, start: int, stop: int) -> np.ndarray:
        if self._file is None:
            return self.run.array[start:stop]
        self._file.seek(start * _ITEM_BYTES)
        return np.fromfile(self._file, dtype=np.float64, count=stop - start)

    def count_up_to(self, bound: float, start: int) -> int:
        """First index ``>= start`` whose value is ``> bound`` (binary search, O(log n) reads)."""
        if self._file is None:
            return start + int(np.searchsorted(self.run.array[start:], bound, side="right"))
        low, high = start, self.run.length
        while low < high:
            middle = (low + high) // 2
            if self.read(middle, middle + 1)[0] <= bound:
                low = middle + 1
            else:
                high = middle
        return low

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def group_ties(sorted_values: np.ndarray, is_positive: np.ndarray):
    """Collapse ascending values into distinct values with positive and negative counts."""
    starts = np.flatnonzero(np.concatenate(([True], sorted_values[1:] != sorted_values[:-1])))
    sizes = np.diff(np.append(starts, len(sorted_values)))
    pos_counts = np.add.reduceat(is_positive, starts, dtype=np.int64)
    return sorted_values[starts], pos_counts, sizes - pos_counts


def merge_sorted_runs(runs: list[SortedRun], budget_pixels: int = 1 << 20,
                      min_window_pixels: int = MIN_WINDOW_PIXELS
                      ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(values, pos_counts, neg_counts)`` batches of tie groups in ascending order.

    Values are strictly increasing within and across batches. Each run is read through a window
    of ``max(min_window_pixels, budget_pixels // len(runs))`` values (peak memory: a few times
    the sum of the windows, for the per-round sort).
    """
    if budget_pixels < 1 or min_window_pixels < 1:
        raise ValueError("budget_pixels and min_window_pixels must be >= 1")
    readers = [_RunReader(run) for run in runs if run.length > 0]
    block_pixels = max(min_window_pixels, budget_pixels // max(len(readers), 1))
    try:
        cursor = [0] * len(readers)
        window = [np.zeros(0)] * len(readers)
        window_start = [0] * len(readers)
        active = list(range(len(readers)))
        while active:
            for i in active:
                end = window_start[i] + len(window[i])
                length = readers[i].run.length
                if cursor[i] >= end or (end - cursor[i] < block_pixels // 4 and end < length):
                    window_start[i] = cursor[i]
                    window[i] = readers[i].read(cursor[i], min(cursor[i] + block_pixels, length))
            block = {i: window[i][cursor[i] - window_start[i]:] for i in active}
            reaches_end = {i: window_start[i] + len(window[i]) == readers[i].run.length for i in active}
            constraining = [block[i][-1] for i in active if not reaches_end[i]]
            bound = min(constraining) if constraining else max(block[i][-1] for i in active)

            parts, labels = [], []
            tie_pos = tie_neg = 0
            for i in active:
                values = block[i]
                below = int(np.searchsorted(values, bound, side="left"))
                if below:
                    parts.append(values[:below])
                    labels.append(np.full(below, readers[i].run.is_positive))
                if values[-1] > bound or reaches_end[i]:
                    stop = cursor[i] + int(np.searchsorted(values, bound, side="right"))
                else:  # the tie with ``bound`` may continue past this window
                    stop = readers[i].count_up_to(bound, cursor[i] + len(values))
                ties = stop - cursor[i] - below
                if readers[i].run.is_positive:
                    tie_pos += ties
                else:
                    tie_neg += ties
                cursor[i] = stop

            if parts:
                merged = np.concatenate(parts)
                merged_labels = np.concatenate(labels)
                if len(parts) > 1:
                    order = np.argsort(merged, kind="stable")
                    merged, merged_labels = merged[order], merged_labels[order]
                values, pos_counts, neg_counts = group_ties(merged, merged_labels)
            else:
                values = np.zeros(0)
                pos_counts = neg_counts = np.zeros(0, dtype=np.int64)
            if tie_pos + tie_neg:
                values = np.append(values, bound)
                pos_counts = np.append(pos_counts, tie_pos)
                neg_counts = np.append(neg_counts, tie_neg)
            yield values, pos_counts, neg_counts
            active = [i for i in active if cursor[i] < readers[i].run.length]
    finally:
        for reader in readers:
            reader.close()


class SortedRunSpiller:
    """Fixed-size score buffer that spills sorted runs to a private temporary directory.

    ``buffered_pixels`` never exceeds ``capacity`` (= ``chunk_pixels``); ``peak_buffered_pixels``
    records the largest fill seen. The directory is removed by :meth:`clear`, :meth:`close` or
    when the object is garbage collected.
    """

    def __init__(self, chunk_pixels: int, spill_dir: str | None = None):
        if chunk_pixels < 1:
            raise ValueError("chunk_pixels must be >= 1")
        self.capacity = int(chunk_pixels)
        self._spill_parent = spill_dir
        self._buffer: np.ndarray | None = None
        self._num_pos = 0
        self._num_neg = 0
        self._runs: list[SortedRun] = []
        self._directory: str | None = None
        self._cleanup = None
        self.peak_buffered_pixels = 0

    @property
    def buffered_pixels(self) -> int:
        return self._num_pos + self._num_neg

    @property
    def num_spilled_runs(self) -> int:
        return len(self._runs)

    @property
    def directory(self) -> str | None:
        return self._directory

    def add(self, positive_scores: np.ndarray, negative_scores: np.ndarray) -> None:
        """Buffer scores of positive and negative pixels, spilling whenever the buffer is full."""
        pos_left, neg_left = positive_scores, negative_scores
        while len(pos_left) or len(neg_left):
            if self.buffered_pixels == self.capacity:
                self.spill()
            if self._buffer is None:
                self._buffer = np.empty(self.capacity, dtype=np.float64)
            free = self.capacity - self.buffered_pixels
            take = min(free, len(pos_left))
            self._buffer[self._num_pos:self._num_pos + take] = pos_left[:take]
            self._num_pos += take
            pos_left = pos_left[take:]
            free -= take
            take = min(free, len(neg_left))
            end = self.capacity - self._num_neg
            self._buffer[end - take:end] = neg_left[:take]
            self._num_neg += take
            neg_left = neg_left[take:]
            self.peak_buffered_pixels = max(self.peak_buffered_pixels, self.buffered_pixels)

    def _buffer_halves(self) -> tuple[np.ndarray, np.ndarray]:
        if self._buffer is None:
            return np.zeros(0), np.zeros(0)
        positives = self._buffer[:self._num_pos]
        negatives = self._buffer[self.capacity - self._num_neg:]
        positives.sort()
        negatives.sort()
        return positives, negatives

    def _ensure_directory(self) -> str:
        if self._directory is None:
            self._directory = tempfile.mkdtemp(prefix="owss_metric_runs_", dir=self._spill_parent)
            self._cleanup = weakref.finalize(self, shutil.rmtree, self._directory, True)
        return self._directory

    def spill(self) -> None:
        """Sort the buffer halves and write them as runs; the buffer becomes empty."""
        directory = self._ensure_directory()
        for is_positive, values in zip((True, False), self._buffer_halves()):
            if len(values):
                path = os.path.join(directory, f"run{len(self._runs):06d}_{'pos' if is_positive else 'neg'}.f64")
                values.tofile(path)
                self._runs.append(SortedRun(is_positive=is_positive, length=len(values), path=path))
        self._num_pos = self._num_neg = 0

    def runs(self) -> list[SortedRun]:
        """All spilled runs plus the (sorted in place) buffer halves as in-RAM runs."""
        positives, negatives = self._buffer_halves()
        in_ram = [SortedRun(True, len(positives), array=positives),
                  SortedRun(False, len(negatives), array=negatives)]
        return self._runs + [run for run in in_ram if run.length]

    def clear(self) -> None:
        """Forget every score and delete the run files (keeps the buffer allocation)."""
        self._num_pos = self._num_neg = 0
        self._runs = []
        self.peak_buffered_pixels = 0
        if self._cleanup is not None:
            self._cleanup()
        self._directory = None
        self._cleanup = None

    def close(self) -> None:
        """:meth:`clear` and release the buffer."""
        self.clear()
        self._buffer = None
