"""Run the simulator as a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Callable

import uvicorn

from workbench.sim.app import build_app, endpoints_document
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext


class _Server(uvicorn.Server):
    """uvicorn's server with a hook once the socket is listening."""

    def __init__(self, config: uvicorn.Config, on_started: Callable[["_Server"], None] | None) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self._on_started is not None and self.started:
            self._on_started(self)

    def bound_port(self) -> int:
        for server in self.servers:
            for sock in server.sockets:
                return sock.getsockname()[1]
        raise RuntimeError("the simulator is not listening")


def _uvicorn_config(app, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # Large listings and many concurrent pollers are normal here.
        backlog=2048,
        timeout_keep_alive=30,
    )


class SimServer:
    """The simulator on ``host:port`` in a background thread (port 0: any free port).

    Use as a context manager; ``endpoints`` is the same document ``workbench sim`` prints.
    ``context`` serves a context made beforehand (other demo identities, say)
    instead of a fresh one of ``config``.
    """

    def __init__(self, config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0,
                 log_level: str = "warning", *, context: SimContext | None = None) -> None:
        self.context = context if context is not None else SimContext(config or SimConfig())
        self.app = build_app(context=self.context)
        self.host = host
        self._server = _Server(_uvicorn_config(self.app, host, port, log_level), None)
        self._thread: threading.Thread | None = None
        self.endpoints: dict = {}

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self._server.bound_port()}"

    def start(self, timeout: float = 30.0) -> "SimServer":
        self._thread = threading.Thread(target=self._server.run, name="workbench-sim", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the simulator failed to start (is the port taken?)")
            if time.monotonic() > deadline:
                raise TimeoutError("the simulator did not start in time")
            time.sleep(0.01)
        self.endpoints = endpoints_document(self.base_url, self.context)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_forever(config: SimConfig, host: str, port: int, endpoints_file: str | None = None,
                  log_level: str = "warning") -> None:
    """Run in the foreground; print the endpoints document once listening."""
    context = SimContext(config)
    app = build_app(context=context)

    def announce(server: _Server) -> None:
        shown_host = host if ":" not in host else f"[{host}]"
        doc = endpoints_document(f"http://{shown_host}:{server.bound_port()}", context)
        line = json.dumps(doc, separators=(",", ":"))
        if endpoints_file:
            with open(endpoints_file, "w", encoding="utf-8") as fh:
                fh.write(line + "\n")
        print(line, flush=True)

    server = _Server(_uvicorn_config(app, host, port, log_level), announce)
    asyncio.run(server.serve())
