"""The ``Workbench`` (profiles, drivers and operations of one session on its private loop),
and the module functions ``demo()`` and ``open()``."""

from __future__ import annotations

import concurrent.futures
import threading
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.notebook.cloud import Cloud
from workbench.notebook.errors import WorkbenchWarning
from workbench.notebook.loop import Changes, LoopThread
from workbench.notebook.operations import Operation
from workbench.notebook.render import card, esc, html_table, text_table

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.core.operations import Operation as CoreOperation
    from workbench.core.operations import OperationEvent

T = TypeVar("T")


class Workbench:
    """Profiles, drivers and operations of one session, on a private event loop.

    ``Workbench()`` uses your saved profiles (``$WORKBENCH_HOME`` or the user
    config directory; secrets from the OS keyring or ``WORKBENCH_SECRET_*``
    variables; ``prompt(label)`` is asked for any other, from the workbench's
    own thread, so it must not need the notebook's input box). ``demo()`` makes one on the
    embedded simulator. ``close()`` (or ``with``) ends it; so does the end of
    the program.
    """

    def __init__(self, home: str | Path | None = None, *, prompt: Callable[[str], str | None] | None = None,
                 _workspace: Workspace | None = None) -> None:
        if _workspace is None:
            from workbench.connect import Workspace

            _workspace = Workspace(home, prompt=prompt, on_warning=lambda text: None)
        self._workspace = _workspace
        self._loop = LoopThread()
        self._changes = Changes()
        #: The latest snapshot of every operation this session tracked, by id.
        self._latest: dict[str, CoreOperation] = {}
        self._warned = 0
        self._closed = False
        # The subscriber must not hold the Workbench: dropping the last reference closes it.
        latest, changes = self._latest, self._changes

        def on_event(event: OperationEvent) -> None:  # on the loop thread
            latest[event.operation.id] = event.operation
            changes.notify()

        self._call(self._workspace.tracker.subscribe, on_event)
        self._finalizer = weakref.finalize(self, _shutdown, self._loop, self._workspace)

    # -- running work on the loop ---------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Workbench is closed")

    def _flush_warnings(self) -> None:
        new = self._workspace.warnings[self._warned:]
        self._warned += len(new)
        for text in new:
            warnings.warn(text, WorkbenchWarning, stacklevel=4)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            self._check_open()
        try:
            return self._loop.run(coro)
        finally:
            self._flush_warnings()

    async def _run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            self._check_open()
        try:
            return await self._loop.run_async(coro)
        finally:
            self._flush_warnings()

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """A plain function run on the loop thread (the workspace is not thread-safe)."""

        async def call() -> T:
            return function(*args)

        return self._run(call())

    def run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Run a coroutine of a driver (``cloud.driver``) on the workbench's loop and return its result."""
        self._check_open()

        async def wrapped() -> T:
            return await awaitable

        return self._loop.run(wrapped(), timeout)

    async def run_async(self, awaitable: Awaitable[T]) -> T:
        self._check_open()

        async def wrapped() -> T:
            return await awaitable

        return await self._loop.run_async(wrapped())

    # -- profiles ----------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace:
        """The underlying ``workbench.connect.Workspace`` (touch it only on the loop: ``run``)."""
        return self._workspace

    @property
    def is_demo(self) -> bool:
        return self._workspace.is_demo

    def profiles(self) -> list[str]:
        """The names of the saved profiles (the demo's, for a demo)."""
        return self._call(self._workspace.profiles.names)

    def open(self, profile: str) -> Cloud:
        """The cloud of profile ``profile`` (its driver opens on first use)."""
        self._check_open()
        loaded = self._call(self._workspace.profile, profile)
        return Cloud(self, loaded.name, loaded.provider)

    __getitem__ = open

    @property
    def demo_ids(self) -> dict[str, Any]:
        """For a demo: the simulator's identifiers to use in requests (Yandex disks and
        snapshots, the Kusto cluster, the Batch account); no secrets."""
        endpoints = self._workspace.demo_endpoints or {}
        ids: dict[str, Any] = {}
        if "yandex_ids" in endpoints:
            ids["yandex"] = dict(endpoints["yandex_ids"])
        if "kusto_ids" in endpoints:
            ids["kusto"] = dict(endpoints["kusto_ids"])
        if "batch_account" in endpoints:
            ids["batch"] = {"account_name": endpoints["batch_account"]["name"]}
        return ids

    # -- operations --------------------------------------------------------------------
    def operations(self) -> list[Operation]:
        """Every operation tracked in this session, oldest first."""
        ops = self._call(lambda: list(self._workspace.tracker.operations))
        for op in ops:
            self._latest.setdefault(op.id, op.snapshot())
        return [Operation(self, op.id) for op in sorted(ops, key=lambda o: o.started)]

    def resume(self) -> list[Operation]:
        """Poll again the unfinished operations remembered from earlier runs; the ones that
        cannot be resumed are reported as warnings."""

        async def resume() -> list[CoreOperation]:
            started, problems = self._workspace.resume()
            for op_id, why in problems.items():
                self._workspace.warnings.append(f"operation {op_id}: {why}")
            for op in started:
                self._latest[op.id] = op.snapshot()
            return started

        return [Operation(self, op.id) for op in self._run(resume())]

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop polling, save unfinished operations, close connections (and the demo simulator)."""
        if not self._closed:
            self._closed = True
            self._finalizer()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Workbench:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._closed:
            self._closed = True
            self._finalizer.detach()
            await self._loop.run_async(self._workspace.aclose())
            self._loop.stop()

    def _summary(self) -> tuple[str, list[tuple[str, str, str]]]:
        rows = []
        for name in self._call(self._workspace.profiles.names):
            try:
                profile = self._call(self._workspace.profile, name)
                rows.append((name, profile.provider, profile.description))
            except Exception as exc:  # noqa: BLE001 - a damaged profile file is listed, not fatal
                rows.append((name, "?", f"cannot be read: {exc}"))
        kind = "demo on the embedded simulator" if self.is_demo else "your saved profiles"
        return kind, rows

    def __repr__(self) -> str:
        if self._closed:
            return "<Workbench (closed)>"
        kind, rows = self._summary()
        return f"Workbench: {kind}\n" + text_table(["profile", "provider", "description"],
                                                    [list(r) for r in rows])

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        if self._closed:
            return card("<b>Workbench</b> (closed)")
        kind, rows = self._summary()
        return card(f"<div><b>Workbench</b> — {esc(kind)}</div>"
                     + html_table(["profile", "provider", "description"], rows))


def _shutdown(loop: LoopThread, workspace: Workspace) -> None:
    """Close ``workspace`` on ``loop``, then stop the loop (at close() or the program's end)."""
    if loop.thread.is_alive():
        try:
            loop.run(workspace.aclose(), timeout=30)
        except (Exception, concurrent.futures.CancelledError):  # noqa: BLE001 - closing is best effort
            pass
        loop.stop()


def demo(*, seed_images: int = 0, latency_ms: int = 0, operation_polls: int | None = None,
         fault_rate: float = 0.0, config: Any = None) -> Workbench:
    """A workbench on the embedded simulator (started now on a free loopback port) with
    the profiles ``demo-kusto``, ``demo-glance``, ``demo-ims``, ``demo-batch`` and
    ``demo-yandex``: no keyring, nothing saved. ``seed_images`` adds that many images per
    cloud; ``latency_ms``, ``fault_rate`` and ``operation_polls`` shape the simulator
    (or give a whole ``workbench.sim.config.SimConfig`` as ``config``)."""
    from workbench.connect import Workspace
    from workbench.sim.config import SimConfig

    if config is None:
        config = SimConfig(seed_images=seed_images, latency_ms=latency_ms, fault_rate=fault_rate)
        if operation_polls is not None:
            config.operation_polls = operation_polls
        config.validate()
    return Workbench(_workspace=Workspace.demo(config=config, on_warning=lambda text: None))


_default: Workbench | None = None
_default_lock = threading.Lock()


def open(profile: str) -> Cloud:  # noqa: A001 - ``workbench.open("prod")`` reads best
    """The cloud of your saved profile ``profile`` (one shared ``Workbench()`` per program)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = Workbench()
        bench = _default
    return bench.open(profile)
