"""Blocking engine calls from service handlers, without holding the node's executor.

The node spins a SingleThreadedExecutor (why: :mod:`.node_lifecycle`). A handler that waited for ``engine.teach`` (~0.2 s: one network pass per shot on the
worker) in that one thread would stop camera callbacks for as long. So the changing handlers are
coroutines: :meth:`BlockingCalls.run` hands the call to a helper thread and ``await``s it; rclpy
resumes the handler when the result is in, and meanwhile the executor goes on with camera frames
and the other services. The handler keeps its callback group for the whole call (rclpy releases a
group when the coroutine returns), and the single helper thread runs calls in the order they came.
"""

from __future__ import annotations

from concurrent.futures import Future as CallFuture
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from rclpy.task import Future


class BlockingCalls:
    def __init__(self, node, thread_name: str):
        self._node = node
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=thread_name)

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """``function(*args)`` on the helper thread; its result, or its exception raised here."""
        executor = self._node.executor
        finished: Future = Future(executor=executor)

        def hand_back(call: CallFuture) -> None:  # on the helper thread
            finished.set_result(call)
            if executor is not None:
                executor.wake()  # the executor re-runs the waiting handler on its next turn

        self._pool.submit(function, *args).add_done_callback(hand_back)
        call = await finished
        return call.result()

    def close(self) -> None:
        """No new calls; one in progress ends on its own (the engine fails its pending jobs on close)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
