"""``Waits``: a ``RetryPolicy`` sleep for tests, recording each wait instead of sleeping it out."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Waits:
    """Records every wait in ``waits``. ``on_wait()`` runs at each wait;
    ``then()`` (a coroutine function) once, at wait number ``after``: a test
    turns the faults off there, say."""

    def __init__(self, on_wait: Callable[[], None] | None = None, *, after: int | None = None,
                 then: Callable[[], Awaitable[None]] | None = None) -> None:
        self.waits: list[float] = []
        self.on_wait = on_wait
        self.after = after
        self.then = then

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_wait is not None:
            self.on_wait()
        if self.then is not None and len(self.waits) == self.after:
            await self.then()
        await asyncio.sleep(0)
