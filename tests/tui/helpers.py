"""Helpers shared by the app's Pilot and snapshot tests.

``wait_for`` polls a condition with a deadline while the app runs (never a
sleep); ``SimWorkspace`` is a workspace on a fresh in-process simulator with the
demo profiles; ``MemoryKeyring`` a real keyring backend kept in memory;
``HeldResponses`` a transport that lets the simulator answer a request but holds
the answer back until the test releases it (a request in flight).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from textual.pilot import Pilot
from textual.widgets import Input

from workbench.connect import Workspace
from workbench.profiles.importers import from_simulator
from workbench.sim.app import build_app, endpoints_document
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext
from workbench.tui.editors.base import EditorWidget, FieldError

__all__ = ["BASE", "HeldResponses", "KustoRenameEditor", "SimWorkspace", "make_workspace", "plain",
           "wait_for"]

BASE = "http://sim.test"


async def wait_for(pilot: Pilot, condition: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    """Poll ``condition`` (letting the app run) until it is truthy, or fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.02)


class SimWorkspace:
    """A workspace on an in-process simulator, with the demo profiles.

    The profiles are saved in ``home`` and their secrets kept in the session's
    memory. ``transport`` wraps the simulator's ASGI transport (``HeldResponses``).
    """

    def __init__(
        self,
        home: Path,
        config: SimConfig | None = None,
        *,
        transport: Callable[[httpx.AsyncBaseTransport], httpx.AsyncBaseTransport] | None = None,
    ) -> None:
        self.context = SimContext(config or SimConfig(operation_polls=2, operation_retry_after=0))
        self.asgi = build_app(context=self.context)
        self.endpoints = endpoints_document(BASE, self.context)
        self.warnings: list[str] = []
        inner: httpx.AsyncBaseTransport = httpx.ASGITransport(app=self.asgi)
        self.transport = transport(inner) if transport is not None else inner
        self.workspace = Workspace(home, transport=self.transport, on_warning=self.warnings.append)
        for candidate in from_simulator(self.endpoints):
            self.workspace.profiles.save(candidate.profile)
            candidate.use_for_session(self.workspace.secrets)


def make_workspace(home: Path, config: SimConfig | None = None) -> SimWorkspace:
    return SimWorkspace(home, config)


def plain(widget: Any) -> str:
    """What a ``Static`` shows, as plain text (markup, Rich renderables and Content alike)."""
    from rich.console import Console

    content = widget.content
    with open(os.devnull, "w") as devnull:
        console = Console(width=300, color_system=None, record=True, file=devnull)
        console.print(content)
        return console.export_text()


class HeldResponses(httpx.AsyncBaseTransport):
    """Forward every request; hold back the answer to the first one ``hold`` picks.

    The simulator has handled that request (the image is being created) but the
    client does not know yet: ``held`` is set then, and the answer is returned
    once the test sets ``release``.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, hold: Callable[[httpx.Request], bool]) -> None:
        self.inner = inner
        self.hold = hold
        self.held = asyncio.Event()
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if not self.held.is_set() and self.hold(request):
            self.held.set()
            await self.release.wait()
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class KustoRenameEditor(EditorWidget):
    """A minimal editor: the name of the Kusto image to rebuild on Python 3.11.7."""

    title = "Test editor"

    def compose(self):
        yield Input(self.image.name if self.image is not None else "", id="image-name")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.request_changed()

    def build_request(self):
        name = self.query_one("#image-name", Input).value
        if not name:
            raise FieldError("image-name", "required")
        return self.driver.update(name, language_version="3.11.7")
