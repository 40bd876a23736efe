"""Live progress of an operation while a call waits for it.

In a Jupyter kernel through IPython's display machinery (``display(..., display_id=True)``
then ``DisplayHandle.update``), on a terminal as one rewritten line on stderr,
otherwise not at all. IPython is never imported here: it is used only when the
program already runs under it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.notebook.operations import Operation


def ipython_shell() -> Any:
    """The running IPython shell, or None (IPython is not imported if the program did not)."""
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:  # noqa: BLE001 - a broken IPython install is no IPython
        return None


class LiveDisplay:
    """Where a waiting call shows an operation's progress: IPython, a terminal line, or nowhere."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._handle: Any = None
        self._last_line = ""

    @classmethod
    def choose(cls, wanted: bool | None) -> LiveDisplay:
        if wanted is False:
            return cls("none")
        shell = ipython_shell()
        # A terminal IPython cannot update a display in place: it would print every update.
        if shell is not None and type(shell).__name__ != "TerminalInteractiveShell":
            return cls("ipython")
        if wanted or sys.stderr.isatty():
            return cls("text")
        return cls("none")

    def show(self, op: Operation) -> None:
        if self.mode == "ipython":
            from IPython.display import display  # present: the shell is running

            self._handle = display(op._mimebundle(), raw=True, display_id=True)
            op._shown_in = execution_count()
        elif self.mode == "text":
            self._write(op)

    def update(self, op: Operation) -> None:
        if self.mode == "ipython" and self._handle is not None:
            self._handle.update(op._mimebundle(), raw=True)
        elif self.mode == "text":
            self._write(op)

    def close(self, op: Operation) -> None:
        self.update(op)
        if self.mode == "text":
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _write(self, op: Operation) -> None:
        line = op._line()
        if line != self._last_line:
            pad = max(0, len(self._last_line) - len(line))
            sys.stderr.write("\r" + line + " " * pad)
            sys.stderr.flush()
            self._last_line = line


def execution_count() -> int | None:
    shell = ipython_shell()
    return getattr(shell, "execution_count", None) if shell is not None else None
