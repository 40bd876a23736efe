"""The private event loop in a background thread, and a change counter any thread can wait on.

Every ``Workbench`` owns one ``LoopThread``: its drivers, HTTP clients and
operation tracker live there, so a plain call works inside Jupyter (whose loop
is already running) and an ``await`` never blocks the caller's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """One event loop in a daemon thread; coroutines are submitted from any thread."""

    def __init__(self, name: str = "workbench-notebook") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    @property
    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.thread.ident

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it here (never from the loop itself)."""
        if self.on_loop_thread:
            coro.close()
            raise RuntimeError("a plain (blocking) workbench call was made on the workbench's own event loop; "
                               "use the *_async variant there")
        if not self.thread.is_alive():
            coro.close()
            raise RuntimeError("this Workbench is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # Ctrl+C in a notebook, a timeout: stop the work too
            raise

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the loop from any other loop (or directly, on this one)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        if not self.thread.is_alive():
            coro.close()
            raise RuntimeError("this Workbench is closed")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if not self.on_loop_thread:
                self.thread.join(timeout)


class Changes:
    """A version counter that waiters in any thread, or on any loop, can block on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def notify(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()
            futures, self._futures = self._futures, []
        for loop, future in futures:
            with contextlib.suppress(RuntimeError):  # that waiter's loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            self._cond.wait_for(lambda: self.version != seen, timeout)
            return self.version

    async def wait_async(self, seen: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self.version != seen:
                return self.version
            self._futures.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            with self._cond:
                if (loop, future) in self._futures:
                    self._futures.remove((loop, future))
        return self.version


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
