"""What Yandex Cloud's REST gateway does the same way for every service.

Errors are ``google.rpc.Status`` bodies with the HTTP status of the API design
guide's table, routing errors included; every answer carries ``x-request-id``
(also the ``requestId`` of the error details) and ``x-server-trace-id``; query
parameters come in camelCase or in proto spelling; timestamps are proto3 JSON.
Compute, Operation and IAM are all served this way.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Scope

from workbench.providers.yandex import models as ym
from workbench.providers.yandex.models import Code
from workbench.sim.context import SimContext
from workbench.sim.faults import FaultInjector
from workbench.sim.http_util import ResponseHeaders
from workbench.sim.tokens import IssuedToken, bearer

ANY = ym.ANY_TYPE_PREFIX
REQUEST_ID_KEY = "workbench.yandex.request_id"  # in the ASGI scope


# -- errors ----------------------------------------------------------------------------
class YandexApiError(Exception):
    """An error answered as a ``google.rpc.Status`` body."""

    def __init__(self, code: Code, message: str, details: list[dict] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def response(self, request: Request, status: int | None = None) -> JSONResponse:
        return error_response(request, self.code, self.message, self.details, status, self.headers)


def request_id_of(request: Request) -> str:
    return request.scope.get(REQUEST_ID_KEY) or str(uuid.uuid4())


def error_response(request: Request, code: Code, message: str, details: list[dict] | None = None,
                   status: int | None = None, headers: dict[str, str] | None = None) -> JSONResponse:
    request_info = {"@type": ANY + "google.rpc.RequestInfo", "requestId": request_id_of(request)}
    body = {"code": int(code), "message": message, "details": [*(details or []), request_info]}
    return JSONResponse(body, status_code=status or ym.http_status_for(code), headers=headers)


def validation_error(violations: list[tuple[str, str]]) -> YandexApiError:
    bad_request = {
        "@type": ANY + "google.rpc.BadRequest",
        "fieldViolations": [{"field": f, "description": d} for f, d in violations],
    }
    return YandexApiError(
        Code.INVALID_ARGUMENT, "Request validation error: " + ym.describe_violations(violations), [bad_request]
    )


def render_fault(request: Request, status: int, code: str, message: str) -> Response:
    """Injected 429/503 answers, in the Yandex error shape."""
    grpc_code = Code.RESOURCE_EXHAUSTED if status == 429 else Code.UNAVAILABLE
    return error_response(request, grpc_code, message, status=status)


# -- requests ----------------------------------------------------------------------------
def _request_ids(scope: Scope) -> dict[str, str]:
    """``x-request-id`` and ``x-server-trace-id`` for one request, as the API sends them.

    The request id is left in the scope: it is also the ``requestId`` of the error details.
    """
    request_id = str(uuid.uuid4())
    trace_id = f"{secrets.token_hex(8)}:{secrets.token_hex(8)}:{secrets.token_hex(8)}:1"
    scope[REQUEST_ID_KEY] = request_id
    return {"x-request-id": request_id, "x-server-trace-id": trace_id}


def authenticate(ctx: SimContext, request: Request) -> IssuedToken:
    """The caller's IAM token (``Authorization: Bearer``), else UNAUTHENTICATED."""
    value = bearer(request.headers.get("authorization"))
    if value is None:
        raise YandexApiError(Code.UNAUTHENTICATED, "Authorization header with a Bearer IAM token is required")
    token = ctx.tokens.check("yandex", value)
    if token is None:
        raise YandexApiError(Code.UNAUTHENTICATED, "Token is invalid or has expired.")
    return token


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except RecursionError:
        raise YandexApiError(Code.INVALID_ARGUMENT, "Request body is not valid JSON: nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise YandexApiError(Code.INVALID_ARGUMENT, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise YandexApiError(Code.INVALID_ARGUMENT, "Request body must be a JSON object")
    return body


def query_params(request: Request, *names: str) -> dict[str, str]:
    """The named query parameters present, each in camelCase or in proto spelling."""
    found: dict[str, str] = {}
    for name in names:
        snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
        for spelling in (name, snake):
            if spelling in request.query_params:
                found[name] = request.query_params[spelling]
                break
    return found


def parse_request(model: type[ym.RequestModel], data: dict) -> Any:
    """``data`` as a request model, or INVALID_ARGUMENT naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_error(ym.field_violations(exc)) from None


# -- routing -----------------------------------------------------------------------------
def service_app(routes: list[BaseRoute], faults: FaultInjector | None) -> ASGIApp:
    """A Starlette app whose routing errors are Yandex errors too, with ids and (optionally) faults."""

    async def routing_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            # The REST gateway answers a wrong verb with 405 and code UNIMPLEMENTED
            return error_response(request, Code.UNIMPLEMENTED, "Method Not Allowed", status=405,
                                  headers=dict(exc.headers or {}))
        if exc.status_code == 404:
            return error_response(request, Code.NOT_FOUND, "Not Found")
        return error_response(request, ym.code_for_http_status(exc.status_code), str(exc.detail),
                              status=exc.status_code)

    app: ASGIApp = Starlette(routes=routes, exception_handlers={HTTPException: routing_error})
    if faults is not None:
        app = faults.wrap(app, render_fault)
    return ResponseHeaders(app, _request_ids)


Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except YandexApiError as exc:
            return exc.response(request)

    return run


def resource(path: str, **handlers: Handler) -> Route:
    """One route per path, so a wrong verb's 405 lists every verb the path takes."""

    async def dispatch(request: Request) -> Response:
        return await handlers[request.method if request.method != "HEAD" else "GET"](request)

    return Route(path, endpoint(dispatch), methods=list(handlers))


# -- wire values -------------------------------------------------------------------------
def timestamp(seconds: float) -> str:
    """A proto3 JSON timestamp."""
    return ym.format_timestamp(datetime.fromtimestamp(seconds, timezone.utc))


__all__ = ["ANY", "Handler", "YandexApiError", "authenticate", "endpoint", "error_response", "json_body",
           "parse_request", "query_params", "render_fault", "request_id_of", "resource", "service_app",
           "timestamp", "validation_error"]
