"""Latest-frame-wins hand-over from the camera callback to the single inference thread.

The camera callback only :meth:`FrameMailbox.post_frame`\\ s: a frame that the worker has
not picked up yet is replaced (and counted as dropped), so a slow model never builds a queue
and always works on the newest frame. Other work that needs the inference backend (embedding
frames for a taught class) is posted as a job; the worker alternates jobs and frames, so a job
waits for at most one frame and frames wait for at most one job.

:class:`InferenceWorker` is that single thread. Backends are not thread-safe, so every backend
call of the engine happens on it.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable


@dataclass
class PostedFrame:
    """A camera frame as received, with the monotonic time it arrived."""

    frame: Any
    received_at: float  # time.monotonic()


@dataclass
class FrameCounters:
    received: int = 0
    dropped: int = 0  # replaced by a newer frame before the worker took it


class FrameMailbox:
    """One slot for the newest frame plus a FIFO of backend jobs, behind one condition."""

    def __init__(self):
        self._condition = threading.Condition()
        self._frame: PostedFrame | None = None
        self._jobs: collections.deque[tuple[Callable[[], Any], Future]] = collections.deque()
        self._last_was_job = False
        self._closed = False
        self.counters = FrameCounters()

    def post_frame(self, frame: Any) -> None:
        posted = PostedFrame(frame, time.monotonic())
        with self._condition:
            self.counters.received += 1
            if self._frame is not None:
                self.counters.dropped += 1
            self._frame = posted
            self._condition.notify()

    def post_job(self, job: Callable[[], Any]) -> Future:
        """Run ``job()`` on the worker; the future carries its result or exception."""
        future: Future = Future()
        with self._condition:
            if self._closed:
                future.set_exception(RuntimeError("the inference worker has stopped"))
                return future
            self._jobs.append((job, future))
            self._condition.notify()
        return future

    def take(self, timeout: float | None = None):
        """The next item: a ``(job, future)`` tuple, a :class:`PostedFrame`, or None.

        Jobs and frames alternate when both are pending. None means closed or timed out.
        """
        with self._condition:
            if not self._condition.wait_for(
                    lambda: self._closed or self._frame is not None or self._jobs, timeout):
                return None
            if self._closed:
                return None
            take_job = bool(self._jobs) and (self._frame is None or not self._last_was_job)
            self._last_was_job = take_job
            if take_job:
                return self._jobs.popleft()
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        with self._condition:
            self._closed = True
            pending, self._jobs = list(self._jobs), collections.deque()
            self._condition.notify_all()
        for _, future in pending:
            future.set_exception(RuntimeError("the inference worker has stopped"))


class InferenceWorker:
    """The one thread that runs the backend: frames go to ``process_frame``, jobs are called."""

    def __init__(self, mailbox: FrameMailbox, process_frame: Callable[[PostedFrame], None],
                 report_error: Callable[[BaseException], None]):
        self._mailbox = mailbox
        self._process_frame = process_frame
        self._report_error = report_error
        self._thread = threading.Thread(target=self._run, name="owss_inference", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._mailbox.close()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._mailbox.take()
            if item is None:
                return
            if isinstance(item, PostedFrame):
                try:
                    self._process_frame(item)
                except Exception as error:  # noqa: BLE001 - a bad frame must not end the thread
                    self._report_error(error)
                continue
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as error:  # noqa: BLE001 - handed to the waiting caller
                future.set_exception(error)
