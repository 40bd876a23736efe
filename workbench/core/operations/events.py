"""What a tracker tells its subscribers: one event per change of an operation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.operations.model import Operation

if TYPE_CHECKING:
    from workbench.core.operations.tracker import OperationTracker


@dataclass(frozen=True, slots=True)
class OperationEvent:
    #: "tracked", "updated", "finished" or "removed"
    kind: str
    #: A snapshot of the operation at the time of the event.
    operation: Operation


EventCallback = Callable[[OperationEvent], Any]

_CLOSED = object()


class EventStream:
    """Tracker events as an async iterator; ``close()`` (or ``async with``)
    unsubscribes. Keeps at most ``maxsize`` undelivered events (oldest dropped)."""

    def __init__(self, tracker: OperationTracker, maxsize: int = 10_000) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._maxsize = maxsize
        self._tracker = tracker
        self._closed = False
        tracker.subscribe(self._put)

    def _put(self, event: Any) -> None:
        if self._closed:
            return
        if self._queue.qsize() >= self._maxsize:
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._tracker.unsubscribe(self._put)
            self._queue.put_nowait(_CLOSED)
            self._closed = True

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> OperationEvent:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # stay closed for later readers
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
