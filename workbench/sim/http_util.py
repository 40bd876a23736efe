"""Small HTTP pieces every simulated service needs in the same way.

Only what is truly the same across services lives here: where a service
differs (error shapes, how bodies are read and rejected) it keeps its own code.
"""

from __future__ import annotations

import re
from typing import Any, Callable, TypeVar

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def service_root(request: Request) -> str:
    """This service's root URL as the client reached it: scheme, host, port and
    mount prefix (``root_path`` also holds any proxy prefix before it), so URLs
    built from it point back at whatever host and port the client used."""
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}".rstrip("/")


def simulator_root(request: Request, prefix: str) -> str:
    """The simulator's root as the client reached it: ``service_root`` without
    the service's own ``prefix``, ready for another service's prefix."""
    return service_root(request).removesuffix(prefix)


def media_type(request: Request) -> str | None:
    """The request's media type, lower case and without parameters (None when absent)."""
    content_type = request.headers.get("content-type")
    return content_type.split(";")[0].strip().lower() if content_type else None


class ServiceRootWithoutSlash:
    """Serves a service root reached without its trailing slash (``/glance``,
    keystoneauth's ``/keystone/v3``) exactly as the root with one."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = dict(scope, root_path=scope.get("root_path", "") + self.prefix, path=scope["path"] + "/")
        await self.app(scope, receive, send)


_R = TypeVar("_R", Mount, Route)


def across_newlines(route: _R) -> _R:
    """``route`` with its ``{path:path}`` part matching any character.

    Starlette's path regex is ``.*``, which stops at a decoded newline (``%0A``):
    such a request would escape the service's Mount (or its catch-all route)
    and get the simulator root's plain-text 404 instead of the service's error.
    """
    route.path_regex = re.compile(route.path_regex.pattern, re.DOTALL)
    return route


def service_mount(path: str, app: ASGIApp) -> Mount:
    """The Mount a service lives under, reached by any path below it (see ``across_newlines``)."""
    return across_newlines(Mount(path, app=app))


class AnyMethodRoute(Route):
    """A Route every HTTP method reaches, non-standard verbs (PROPFIND) included.

    For endpoints that answer a method they do not serve themselves, in their
    service's own error shape: a methods list would send other verbs to
    Starlette's plain-text 405 instead.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any]) -> None:
        super().__init__(path, endpoint)
        self.methods = None  # Route.matches and Route.handle then let every method through
        across_newlines(self)


#: scope -> the headers to put on the answer to that request
HeadersFor = Callable[[Scope], dict[str, str]]


class ResponseHeaders:
    """Puts headers on every answer of ``app``, injected faults and routing errors included.

    ``headers_for(scope)`` runs before the app, so it may leave values in the
    scope for the app to use (a request id the error body repeats). With
    ``keep_existing``, a header the app set itself is left as it is.
    """

    def __init__(self, app: ASGIApp, headers_for: HeadersFor, *, keep_existing: bool = False) -> None:
        self.app = app
        self.headers_for = headers_for
        self.keep_existing = keep_existing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.headers_for(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    if not (self.keep_existing and name in headers):
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["AnyMethodRoute", "HeadersFor", "ResponseHeaders", "ServiceRootWithoutSlash", "across_newlines",
           "media_type", "service_mount", "service_root", "simulator_root"]
