"""A long-running operation the workbench tracks: its state, waiting for its end, its display."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from workbench.core.format import format_duration
from workbench.notebook.errors import OperationFailed
from workbench.notebook.progress import LiveDisplay, execution_count
from workbench.notebook.render import card, esc, json_text

if TYPE_CHECKING:
    from workbench.core.operations import Operation as CoreOperation
    from workbench.notebook.bench import Workbench

#: How often a waiting call refreshes the progress display when nothing happened (seconds).
REFRESH_INTERVAL = 1.0


class Operation:
    """A long-running operation the workbench tracks (a Kusto build, a Yandex create, ...).

    ``operation`` is its latest state (``workbench.core.operations.Operation``);
    ``status``, ``progress``, ``error``, ``result`` and ``done`` read from it.
    ``wait()`` / ``await wait_async()`` show live progress until it ends.
    """

    def __init__(self, bench: Workbench, op_id: str) -> None:
        self._bench = bench
        self.id = op_id
        #: The IPython execution count of the cell whose live display shows this
        #: operation: that cell's result is not displayed a second time.
        self._shown_in: int | None = None

    @property
    def operation(self) -> CoreOperation:
        return self._bench._latest[self.id]

    @property
    def status(self) -> str:
        return self.operation.status.value

    @property
    def done(self) -> bool:
        return self.operation.done

    @property
    def progress(self) -> float | None:
        return self.operation.progress

    @property
    def error(self) -> str | None:
        return self.operation.error

    @property
    def result(self) -> Any:
        """The final resource once it succeeded (fetched from the API as the SDKs do)."""
        return self.operation.result

    @property
    def failed(self) -> bool:
        return self.done and self.status != "succeeded"

    # -- waiting ----------------------------------------------------------------
    def wait(self, timeout: float | None = None, *, display: bool | None = None, check: bool = True) -> Operation:
        """Block until the operation ends, showing its progress (``display``: None
        picks IPython or a terminal, False shows nothing). ``TimeoutError`` after
        ``timeout`` seconds (the operation goes on); ``OperationFailed`` if it
        fails and ``check``."""
        live = LiveDisplay.choose(display)
        live.show(self)
        changes = self._bench._changes
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = changes.version
        try:
            while not self.done:
                seen = changes.wait(seen, self._next_wait(deadline, timeout))
                live.update(self)
        finally:
            live.close(self)
        if check and self.failed:
            raise OperationFailed(self)
        return self

    async def wait_async(self, timeout: float | None = None, *, display: bool | None = None,
                         check: bool = True) -> Operation:
        """``wait`` for ``await``: the caller's loop runs on while the operation is polled."""
        live = LiveDisplay.choose(display)
        live.show(self)
        changes = self._bench._changes
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = changes.version
        try:
            while not self.done:
                seen = await changes.wait_async(seen, self._next_wait(deadline, timeout))
                live.update(self)
        finally:
            live.close(self)
        if check and self.failed:
            raise OperationFailed(self)
        return self

    def _next_wait(self, deadline: float | None, timeout: float | None) -> float:
        """How long to wait for the next change (the display refreshes at least this often)."""
        if deadline is None:
            return REFRESH_INTERVAL
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"operation {self.id} still {self.status} after {timeout} s "
                               "(it goes on: wait again, or cancel it)")
        return min(REFRESH_INTERVAL, remaining)

    def cancel(self) -> Operation:
        """Ask the cloud to cancel (``CancelNotSupported`` where its API cannot)."""
        self._bench._run(self._bench._workspace.tracker.cancel(self.id))
        return self

    async def cancel_async(self) -> Operation:
        await self._bench._run_async(self._bench._workspace.tracker.cancel(self.id))
        return self

    # -- display ------------------------------------------------------------------
    def _elapsed(self) -> float:
        op = self.operation
        return (op.updated if op.done else time.time()) - op.started

    def _line(self) -> str:
        op = self.operation
        percent = f" {op.progress:.0%}" if op.progress is not None else ""
        text = (f"{op.kind} {op.target or op.id} [{op.provider}{' · ' + op.profile if op.profile else ''}]: "
                f"{op.status.value}{percent} · {op.polls} poll{'s' if op.polls != 1 else ''} · "
                f"{format_duration(self._elapsed())}")
        if op.error:
            text += f" · {op.error}"
        return text

    def __repr__(self) -> str:
        return f"<Operation {self.id} {self._line()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        op = self.operation
        status = op.status.value
        if op.done:
            value = 1 if status == "succeeded" else (op.progress or 0)
            bar = f'<progress max="1" value="{value:.3f}"></progress>'
        elif op.progress is not None:
            bar = f'<progress max="1" value="{op.progress:.3f}"></progress> {op.progress:.0%}'
        else:
            bar = "<progress></progress>"  # indeterminate: the API reports no percentage
        head = (f"<b>{esc(op.kind)}</b> {esc(op.target or op.id)} "
                f'<span class="wb-note">{esc(op.provider)}{" · " + esc(op.profile) if op.profile else ""}</span>'
                f' — <span class="wb-{esc(status)}">{esc(status)}</span>')
        facts = (f'<div class="wb-note">operation {esc(op.id)} · {op.polls} poll{"s" if op.polls != 1 else ""}'
                 f" · {esc(format_duration(self._elapsed()))}</div>")
        inner = f"<div>{head}</div><div>{bar}</div>{facts}"
        if op.description:
            inner += f'<div class="wb-note">{esc(op.description)}</div>'
        if op.error:
            css = "wb-error" if op.done else "wb-note"
            inner += f'<div class="{css}">{esc(op.error)}</div>'
        if op.done and op.result is not None:
            inner += f"<details><summary>result</summary><pre>{esc(json_text(op.result))}</pre></details>"
        return card(inner)

    def _mimebundle(self) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def _ipython_display_(self) -> None:
        # The live display of this cell already shows it: do not show it twice.
        if self._shown_in is not None and self._shown_in == execution_count():
            return
        from IPython.display import display

        display(self._mimebundle(), raw=True)
