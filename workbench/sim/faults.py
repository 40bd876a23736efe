"""Fault injection for the simulated services (off by default).

Each service wraps its ASGI app with ``FaultInjector.wrap`` and a function that
renders an error in the service's own documented shape, so an injected 429 from
Batch is a BatchError, one from Glance is Glance's error, and so on.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
from collections import Counter
from typing import Callable

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.sim.config import FAULT_KINDS, SimConfig

#: (request, status, code, message) -> a response in the service's error shape
ErrorRenderer = Callable[[Request, int, str, str], Response]


class FaultInjector:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._random = random.Random(config.random_seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    # -- settings, changeable at run time through the admin endpoint --------
    def settings(self) -> dict:
        c = self.config
        return {
            "rate": c.fault_rate,
            "kinds": list(c.fault_kinds),
            "latency_ms": c.latency_ms,
            "retry_after": c.fault_retry_after,
            "operation_polls": c.operation_polls,
            "injected": dict(self.counts),
        }

    def update(self, settings: dict) -> None:
        c = self.config
        if "rate" in settings:
            c.fault_rate = float(settings["rate"])
        if "kinds" in settings:
            c.fault_kinds = tuple(settings["kinds"])
        if "latency_ms" in settings:
            c.latency_ms = int(settings["latency_ms"])
        if "retry_after" in settings:
            c.fault_retry_after = float(settings["retry_after"])
        if "operation_polls" in settings:
            c.operation_polls = int(settings["operation_polls"])
        c.validate()

    # -- decisions ----------------------------------------------------------
    def _roll(self) -> str | None:
        """The fault kind for this request, or None."""
        c = self.config
        request_kinds = [k for k in c.fault_kinds if k != "fail_operation"]
        if c.fault_rate <= 0 or not request_kinds:
            return None
        with self._lock:
            if self._random.random() >= c.fault_rate:
                return None
            kind = self._random.choice(request_kinds)
            self.counts[kind] += 1
            return kind

    def operation_should_fail(self) -> bool:
        """Whether a newly started long-running operation should end Failed."""
        c = self.config
        if c.fault_rate <= 0 or "fail_operation" not in c.fault_kinds:
            return False
        with self._lock:
            if self._random.random() < c.fault_rate:
                self.counts["fail_operation"] += 1
                return True
        return False

    # -- middleware ---------------------------------------------------------
    def wrap(self, app: ASGIApp, render_error: ErrorRenderer) -> ASGIApp:
        return _FaultMiddleware(app, self, render_error)


class _FaultMiddleware:
    def __init__(self, app: ASGIApp, injector: FaultInjector, render_error: ErrorRenderer) -> None:
        self.app = app
        self.injector = injector
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        config = self.injector.config
        if config.latency_ms > 0:
            await asyncio.sleep(config.latency_ms / 1000)
        kind = self.injector._roll()
        if kind == "latency":
            await asyncio.sleep(max(config.latency_ms, 200) / 1000 * 3)
        elif kind in ("throttle", "unavailable"):
            status = 429 if kind == "throttle" else 503
            message = (
                "Too many requests; retry after the interval in Retry-After."
                if status == 429
                else "The service is temporarily unavailable; retry later."
            )
            code = "TooManyRequests" if status == 429 else "ServiceUnavailable"
            response = self.render_error(Request(scope, receive), status, code, message)
            response.headers["Retry-After"] = _format_seconds(config.fault_retry_after)
            await response(scope, receive, send)
            return
        elif kind == "drop":
            # The request is processed (its effect happens), then the connection
            # is cut before the answer arrives: the hardest case for a client.
            await self.app(scope, receive, _swallow)
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
            await send({"type": "http.response.body", "body": b"{", "more_body": True})
            raise httpx.RemoteProtocolError("simulated dropped connection")
        await self.app(scope, receive, send)


async def _swallow(message: Message) -> None:
    return None


def _format_seconds(seconds: float) -> str:
    # Retry-After carries whole seconds (RFC 9110); round up so a client never
    # comes back earlier than intended.
    return str(math.ceil(seconds))


__all__ = ["FaultInjector", "ErrorRenderer", "FAULT_KINDS"]
