"""What every command shares: its workspace, secret prompts, and how failures are told.

A command function receives the parsed arguments and an ``Output``; it raises
the typed errors of the core (``ApiError``, ``ProfileError``, ``SecretError``,
...) and ``main`` turns them into one message and a non-zero exit status here.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.cli.output import Output

if TYPE_CHECKING:
    import argparse

    from workbench.connect import Workspace

__all__ = [
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "error_document",
    "error_message",
    "open_workspace",
    "run_in_workspace",
    "tty_prompt",
]

EXIT_OK = 0
#: A request, a profile, a secret or an operation failed.
EXIT_ERROR = 1
#: The command line itself is wrong (argparse uses 2 as well).
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

T = TypeVar("T")


class CommandError(Exception):
    """A failure the command explains itself (``message``), with its exit status."""

    def __init__(self, message: str, *, status: int = EXIT_ERROR, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


# --------------------------------------------------------------------------- prompts
def tty_prompt(label: str) -> str | None:
    """Ask for a secret on the terminal (not echoed); None when there is no terminal."""
    if not sys.stdin.isatty():
        return None
    import getpass

    try:
        return getpass.getpass(f"{label}: ") or None
    except (EOFError, KeyboardInterrupt):
        return None


# --------------------------------------------------------------------------- the workspace
def open_workspace(args: argparse.Namespace, output: Output) -> Workspace:
    """The command's workspace: the user's profiles, or the embedded simulator with ``--demo``."""
    from workbench.connect import Workspace

    if getattr(args, "demo", False):
        output.note("demo: starting the embedded simulator (profiles demo-kusto, demo-glance, demo-ims, "
                    "demo-batch, demo-yandex; nothing is saved)")
        return Workspace.demo(prompt=tty_prompt, on_warning=output.warn)
    return Workspace(prompt=tty_prompt, on_warning=output.warn)


def run_in_workspace(args: argparse.Namespace, output: Output,
                     body: Callable[[Workspace], Awaitable[T]]) -> T:
    """Run ``body(workspace)`` on a fresh event loop and close the workspace afterwards."""
    import asyncio

    async def main() -> T:
        workspace = open_workspace(args, output)
        try:
            return await body(workspace)
        finally:
            await workspace.aclose()

    return asyncio.run(main())


# --------------------------------------------------------------------------- failures
def _validation_lines(exc: Any) -> list[str]:
    lines = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
        message = str(error.get("msg", ""))
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        # Models that name the field in their own message need no second prefix.
        named = message.startswith(f"{loc}:") or message.startswith(f"{loc}[")
        lines.append(f"{loc}: {message}" if loc and not named else message)
    return lines


def error_message(exc: BaseException) -> str:
    """The one message a person reads for ``exc`` (typed errors carry everything)."""
    from pydantic import ValidationError

    from workbench.core.errors import ApiError

    if isinstance(exc, ValidationError):
        return "invalid request: " + "; ".join(_validation_lines(exc))
    if isinstance(exc, ApiError):
        text = str(exc)
        # Detail entries that say nothing (a bare RequestInfo @type) are left out.
        details = [line for line in exc.details_text().splitlines() if line.strip() and not line.rstrip().endswith(":")]
        return "\n".join([text, *details])
    if isinstance(exc, CommandError):
        return exc.message
    return str(exc) or type(exc).__name__


def error_document(exc: BaseException) -> dict[str, Any]:
    """``exc`` as JSON for ``--json`` runs: type, message, and the API error's fields."""
    from pydantic import ValidationError

    from workbench.core.errors import ApiError, InvalidResponse, TransportError

    doc: dict[str, Any] = {"type": type(exc).__name__, "message": error_message(exc)}
    if isinstance(exc, ApiError):
        doc.update(
            provider=exc.provider,
            status=exc.status,
            code=exc.code,
            message=exc.message,
            details=exc.details,
            request_id=exc.request_id,
            target=exc.target,
            request=(f"{exc.request.method} {exc.request.url}" if exc.request is not None else None),
        )
    elif isinstance(exc, (TransportError, InvalidResponse)):
        doc["provider"] = exc.provider
    elif isinstance(exc, ValidationError):
        doc["problems"] = _validation_lines(exc)
    elif isinstance(exc, CommandError) and exc.code:
        doc["code"] = exc.code
    return {"error": doc}


def is_expected(exc: BaseException) -> bool:
    """Failures we explain in one message (anything else is a bug: show the traceback)."""
    from pydantic import ValidationError

    from workbench.core.errors import WorkbenchError

    return isinstance(exc, (WorkbenchError, ValidationError, CommandError, ValueError, OSError))
