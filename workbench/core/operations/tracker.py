"""The OperationTracker: polls many operations concurrently, each on its own schedule.

One task per operation: never earlier than the server's ``Retry-After``,
otherwise backing off 1 s, 2 s, 4 s ... up to a cap. It emits an event on
every change (``events``), cancels where the API can, stops at a deadline,
and saves/resumes unfinished operations across restarts (the file's format:
``statefile``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

from workbench.core.errors import ApiError, TransportError, WorkbenchError
from workbench.core.files import write_atomic
from workbench.core.operations.events import EventCallback, EventStream, OperationEvent
from workbench.core.operations.model import Operation, OperationStatus, PollRecord
from workbench.core.operations.poller import Poller, PollOutcome
from workbench.core.operations.statefile import (
    SAVED_POLL_RECORDS,
    STATE_VERSION,
    read_state_file,
)

logger = logging.getLogger(__name__)


class CancelNotSupported(WorkbenchError):
    """The provider's API has no way to cancel this kind of operation."""


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransportError):
        return True
    if isinstance(exc, ApiError):
        return exc.status >= 500 or exc.status == 429
    return False


class OperationTracker:
    """Polls operations until they finish, each in its own task.

    ``clock`` (epoch seconds) and ``sleep`` are injectable for tests. The
    schedule of one operation: the first poll at the server's initial
    Retry-After if it gave one, else after ``backoff_initial``; after each
    answer, its Retry-After (never less, but at least ``min_interval`` so a
    "Retry-After: 0" cannot become a busy loop) or, when it gave none,
    ``backoff_initial`` doubling per such answer up to ``backoff_max``.
    """

    def __init__(
        self,
        pollers: Mapping[str, Poller] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_initial: float = 1.0,
        backoff_max: float = 15.0,
        min_interval: float = 0.2,
        max_poll_errors: int = 5,
        poll_log_limit: int = 500,
        state_path: str | os.PathLike[str] | None = None,
        autosave_delay: float = 0.5,
    ) -> None:
        self._pollers: dict[str, Poller] = dict(pollers or {})
        self._clock = clock
        self._sleep = sleep
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.min_interval = min_interval
        self.max_poll_errors = max_poll_errors
        self.poll_log_limit = poll_log_limit
        self.state_path = Path(state_path) if state_path else None
        self.autosave_delay = autosave_delay
        self._ops: dict[str, Operation] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finished: dict[str, asyncio.Event] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._subscribers: list[EventCallback] = []
        self._save_handle: asyncio.TimerHandle | None = None

    # -- pollers ---------------------------------------------------------------
    def register(self, provider: str, poller: Poller, *, profile: str | None = None) -> None:
        """Use ``poller`` for ``provider``'s operations (of ``profile`` only, if given)."""
        self._pollers[f"{provider}/{profile}" if profile else provider] = poller

    def poller_for(self, op: Operation) -> Poller | None:
        if op.profile and f"{op.provider}/{op.profile}" in self._pollers:
            return self._pollers[f"{op.provider}/{op.profile}"]
        return self._pollers.get(op.provider)

    # -- tracking --------------------------------------------------------------
    def track(self, op: Operation, *, deadline: float | None = None, poller: Poller | None = None) -> Operation:
        """Start polling ``op`` (``deadline``: seconds from now to give up).

        Call it on the event loop the tracker polls on. Tracking an id that is
        already tracked returns the tracked one; an operation that finished in
        its first answer is recorded (and announced) without polling.
        """
        if op.id in self._ops:
            return self._ops[op.id]
        if poller is not None:
            self.register(op.provider, poller, profile=op.profile or None)
        if not op.done and self.poller_for(op) is None:
            raise LookupError(f"no poller registered for provider {op.provider!r}"
                              + (f" (profile {op.profile!r})" if op.profile else ""))
        if deadline is not None:
            op.deadline = self._clock() + deadline
        self._ops[op.id] = op
        self._finished[op.id] = asyncio.Event()
        self._emit("tracked", op)
        if op.done:
            self._finish(op)  # finished in its first answer: nothing to poll
        else:
            self._start(op)
        self._schedule_save()
        return op

    def _start(self, op: Operation) -> None:
        self._wake[op.id] = asyncio.Event()
        self._tasks[op.id] = asyncio.get_running_loop().create_task(self._run(op), name=f"poll {op.id}")

    def get(self, op_id: str) -> Operation:
        return self._ops[op_id]

    @property
    def operations(self) -> list[Operation]:
        return list(self._ops.values())

    def running(self) -> list[Operation]:
        return [op for op in self._ops.values() if not op.done]

    def set_deadline(self, op_id: str, seconds: float | None) -> None:
        """Give up on ``op_id`` ``seconds`` from now (None: never)."""
        op = self._ops[op_id]
        op.deadline = None if seconds is None else self._clock() + seconds
        self._emit("updated", op)
        self._wake_up(op_id)

    async def cancel(self, op_id: str) -> Operation:
        """Ask the provider to cancel; ``CancelNotSupported`` if its API cannot.

        The operation stays tracked until the provider reports it finished
        (canceled, or done before the cancel took effect).
        """
        op = self._ops[op_id]
        if op.done:
            return op
        poller = self.poller_for(op)
        if poller is None or not poller.can_cancel:
            raise CancelNotSupported(f"{op.provider} cannot cancel a {op.kind} operation; "
                                     "use a deadline or forget() to stop watching it")
        try:
            outcome = await poller.cancel(op)
        except NotImplementedError:
            raise CancelNotSupported(f"{op.provider} cannot cancel a {op.kind} operation") from None
        op.cancel_requested = True
        if outcome is not None and not op.done:
            self._apply(op, outcome, self._clock())
        if op.done:
            task = self._tasks.get(op_id)
            if task is not None and task is not asyncio.current_task():
                task.cancel()
            self._finish(op)
        else:
            self._emit("updated", op)
        return op

    def forget(self, op_id: str) -> None:
        """Stop watching ``op_id`` and drop it (the provider is not told)."""
        task = self._tasks.pop(op_id, None)
        if task is not None:
            task.cancel()
        op = self._ops.pop(op_id, None)
        event = self._finished.pop(op_id, None)
        self._wake.pop(op_id, None)
        if event is not None:
            event.set()
        if op is not None:
            self._emit("removed", op)
            self._schedule_save()

    async def wait(self, op_id: str, timeout: float | None = None) -> Operation:
        """The operation once it has finished (``TimeoutError`` after ``timeout`` s)."""
        event = self._finished[op_id]
        op = self._ops[op_id]
        if timeout is None:
            await event.wait()
        else:
            async with asyncio.timeout(timeout):
                await event.wait()
        return op

    async def wait_all(self, timeout: float | None = None) -> list[Operation]:
        """Every operation being polled (or finished), once all have finished.
        Loaded operations that were not resumed (no poller) are not waited for."""
        ops = [op for op in self._ops.values() if op.done or op.id in self._tasks]
        waits = [self._finished[op.id].wait() for op in ops if op.id in self._finished]
        if timeout is None:
            await asyncio.gather(*waits)
        else:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*waits)
        return ops

    # -- events ----------------------------------------------------------------
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` on every change (synchronously, on the
        tracker's loop); returns an unsubscriber."""
        self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: EventCallback) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def events(self, maxsize: int = 10_000) -> EventStream:
        """Events as an async iterator: ``async with tracker.events() as s: async for e in s: ...``"""
        return EventStream(self, maxsize)

    def _emit(self, kind: str, op: Operation) -> None:
        if not self._subscribers:
            return
        event = OperationEvent(kind, op.snapshot())
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not stop the polling
                logger.exception("operation event subscriber failed")

    # -- the polling loop ------------------------------------------------------
    def _wake_up(self, op_id: str) -> None:
        event = self._wake.get(op_id)
        if event is not None:
            event.set()

    async def _sleep_until(self, op: Operation, when: float) -> bool:
        """Sleep until ``when`` (by the tracker's clock); True if woken early
        by a change (deadline, cancel) that needs the schedule re-read."""
        wake = self._wake[op.id]
        while True:
            remaining = when - self._clock()
            if remaining <= 0:
                return False
            if wake.is_set():
                wake.clear()
                return True
            sleeper = asyncio.ensure_future(self._sleep(remaining))
            waker = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
            if wake.is_set():
                wake.clear()
                return True

    def _backoff(self, quiet_polls: int) -> float:
        return min(self.backoff_max, self.backoff_initial * (2 ** max(0, quiet_polls - 1)))

    async def _run(self, op: Operation) -> None:
        poller = self.poller_for(op)
        assert poller is not None
        errors = 0
        quiet = 0  # answers in a row without a Retry-After: the backoff exponent
        try:
            if op.next_poll_at is None:
                # The server's initial Retry-After, else our first backoff step.
                op.next_poll_at = op.not_before if op.not_before is not None else self._clock() + self.backoff_initial
            while not op.done:
                due = max(op.next_poll_at or 0.0, op.not_before or 0.0)
                if op.deadline is not None and due >= op.deadline:
                    if await self._sleep_until(op, op.deadline):
                        continue
                    self._expire(op)
                    break
                if await self._sleep_until(op, due):
                    continue
                sent = self._clock()
                allowed = op.not_before
                try:
                    outcome = await poller.poll(op)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every failure is recorded on the operation
                    answered = self._clock()
                    errors += 1
                    retry_after = exc.retry_after if isinstance(exc, ApiError) else None
                    self._record(op, PollRecord(sent, answered, retry_after, allowed, "error"))
                    op.polls += 1
                    op.last_poll = sent
                    op.updated = answered
                    if _is_transient(exc) and errors < self.max_poll_errors:
                        op.error = f"poll {errors} of {self.max_poll_errors} failed, will retry: {exc}"
                        wait = self._backoff(errors)
                        if retry_after is not None:
                            wait = max(wait, retry_after)
                            op.not_before = answered + retry_after
                        op.next_poll_at = answered + wait
                        self._emit("updated", op)
                        continue
                    op.status = OperationStatus.FAILED
                    op.error = f"polling failed: {exc}"
                    break
                errors = 0
                answered = self._clock()
                op.polls += 1
                op.last_poll = sent
                self._record(op, PollRecord(sent, answered, outcome.retry_after, allowed, outcome.status.value))
                op.error = None
                self._apply(op, outcome, answered)
                if op.done:
                    if op.status is OperationStatus.SUCCEEDED:
                        try:
                            op.result = await poller.final(op)
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:  # noqa: BLE001
                            op.error = f"succeeded, but reading the final state failed: {exc}"
                    break
                if outcome.retry_after is not None:
                    quiet = 0
                    wait = max(outcome.retry_after, self.min_interval)
                else:
                    quiet += 1
                    wait = self._backoff(quiet)
                op.next_poll_at = answered + wait
                self._emit("updated", op)
        except asyncio.CancelledError:
            if not op.done:
                raise
        finally:
            self._tasks.pop(op.id, None)
        self._finish(op)

    def _apply(self, op: Operation, outcome: PollOutcome, answered: float) -> None:
        op.status = outcome.status
        if outcome.progress is not None:
            op.progress = outcome.progress
        if outcome.raw is not None:
            op.raw = outcome.raw
        if outcome.error:
            op.error = outcome.error
        if outcome.state:
            op.poll_state.update(outcome.state)
        op.not_before = answered + outcome.retry_after if outcome.retry_after is not None else None
        op.updated = answered

    def _record(self, op: Operation, record: PollRecord) -> None:
        op.poll_log.append(record)
        if len(op.poll_log) > self.poll_log_limit:
            del op.poll_log[: len(op.poll_log) - self.poll_log_limit]

    def _expire(self, op: Operation) -> None:
        op.status = OperationStatus.FAILED
        op.timed_out = True
        op.updated = self._clock()
        op.error = (f"stopped watching: the deadline passed before the operation finished; "
                    f"it may still be running at {op.provider}")

    def _finish(self, op: Operation) -> None:
        op.next_poll_at = None
        event = self._finished.get(op.id)
        if event is not None and not event.is_set():
            event.set()
            self._emit("finished", op)
            self._schedule_save()

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | os.PathLike[str] | None = None, *, include_finished: bool = False) -> Path:
        """Write operations (unfinished ones, unless ``include_finished``) to a
        JSON file atomically: a crash mid-write leaves the previous file."""
        target = Path(path) if path is not None else self.state_path
        if target is None:
            raise ValueError("save: no path given and the tracker has no state_path")
        ops = []
        for op in self._ops.values():
            if include_finished or not op.done:
                data = op.to_dict()
                data["poll_log"] = data["poll_log"][-SAVED_POLL_RECORDS:]
                ops.append(data)
        document = {"version": STATE_VERSION, "saved_at": self._clock(), "operations": ops}
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(target, json.dumps(document, ensure_ascii=False, default=str).encode("utf-8"))

    def load(self, path: str | os.PathLike[str] | None = None) -> list[Operation]:
        """Read operations saved by ``save`` (not yet polled: call ``resume``).
        A missing file is no operations; a damaged one raises ``ValueError``
        and loads nothing."""
        source = Path(path) if path is not None else self.state_path
        if source is None:
            raise ValueError("load: no path given and the tracker has no state_path")
        loaded = []
        for record in read_state_file(source):
            op = Operation.from_dict(record)
            if op.id not in self._ops:
                self._ops[op.id] = op
                self._finished[op.id] = asyncio.Event()
                if op.done:
                    self._finished[op.id].set()
                loaded.append(op)
        return loaded

    def resume(self, ids: Iterable[str] | None = None) -> list[Operation]:
        """Start polling every unfinished operation (of ``ids`` only, if given)
        that is not being polled and has a registered poller; returns those
        started. The others stay as they are, unpolled. The saved schedule is
        kept: an operation the server asked to wait is not polled earlier."""
        wanted = None if ids is None else set(ids)
        started = []
        for op in self._ops.values():
            if wanted is not None and op.id not in wanted:
                continue
            if op.done or op.id in self._tasks or self.poller_for(op) is None:
                continue
            self._start(op)
            self._emit("tracked", op)
            started.append(op)
        return started

    def _schedule_save(self) -> None:
        if self.state_path is None or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        def save() -> None:
            self._save_handle = None
            try:
                self.save()
            except OSError:
                logger.exception("could not save operations to %s", self.state_path)

        self._save_handle = loop.call_later(self.autosave_delay, save)

    async def aclose(self) -> None:
        """Stop every polling task (operations stay as they are: save first to resume later)."""
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
            if self.state_path is not None:
                self.save()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def __aenter__(self) -> OperationTracker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
