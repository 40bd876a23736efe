"""What Azure Resource Manager does in front of the Kusto resource provider.

Every error is an ARM ``ErrorResponse``; every answer carries
``x-ms-request-id`` and ``x-ms-correlation-request-id`` (the caller's, when it
sent one); the ``api-version`` query parameter is required and, like every ARM
query parameter name, case-insensitive; requests need an Entra bearer token
for management.azure.com, and a 401 says where to get one; bodies must be JSON
objects.
"""

from __future__ import annotations

import json
import uuid

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.http_util import media_type, simulator_root


# -- errors ------------------------------------------------------------------------------
class ArmError(Exception):
    """An answer in ARM's ErrorResponse shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        details: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.target, self.details, self.headers = target, details or [], headers or {}

    def response(self) -> JSONResponse:
        return arm_error_response(self.status, self.code, self.message, self.target, self.details, self.headers)


def arm_error_response(
    status: int,
    code: str,
    message: str,
    target: str | None = None,
    details: list[dict] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {"code": code, "message": message, "target": target, "details": details or [], "additionalInfo": []}
    }
    return JSONResponse(body, status_code=status, headers=headers)


def render_error(request: Request, status: int, code: str, message: str) -> Response:
    """The fault injector's renderer: ARM's shape for injected 429/503."""
    return arm_error_response(status, code, message)


def bad_request(exc: ValidationError) -> ArmError:
    """A 400 listing each invalid member of the body in ``details``; the first is the message."""
    details = []
    for error in exc.errors(include_url=False):
        target = ".".join(str(part) for part in error["loc"]) or None
        if error["type"] == "missing":
            message = f"The property '{target}' is required."
        elif "error" in error.get("ctx", {}):
            message = str(error["ctx"]["error"])
        else:
            message = f"'{target}': {error['msg']}."
        details.append({"code": "BadRequest", "message": message, "target": target})
    first = details[0]
    return ArmError(400, "BadRequest", first["message"], target=first["target"], details=details)


def invalid(target: str, message: str) -> ArmError:
    """A 400 about one member of the body; ``details`` lists it as validation errors do."""
    return ArmError(400, "BadRequest", message, target=target, details=[{"code": "BadRequest", "message": message, "target": target}])


# -- request and correlation ids ---------------------------------------------------------
def arm_ids(scope: Scope) -> dict[str, str]:
    """ARM's request id, and the caller's correlation id (or a new one), for one answer."""
    correlation = ""
    for name, value in scope.get("headers", []):
        if name == b"x-ms-correlation-request-id":
            correlation = value.decode("latin-1")
    correlation = correlation or str(uuid.uuid4())
    request_id = str(uuid.uuid4())
    return {"x-ms-request-id": request_id, "x-ms-correlation-request-id": correlation}


# -- checks every request passes ---------------------------------------------------------
def query_param(request: Request, name: str) -> str | None:
    """A query parameter by case-insensitive name (ARM's rule), else None."""
    wanted = name.lower()
    for key, value in request.query_params.multi_items():
        if key.lower() == wanted:
            return value
    return None


def check_api_version(request: Request, supported: tuple[str, ...]) -> None:
    """The request names one of the resource provider's ``supported`` api-versions."""
    version = query_param(request, "api-version")
    if not version:
        raise ArmError(
            400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."
        )
    if version not in supported:
        raise ArmError(
            400, "InvalidApiVersionParameter",
            f"The api-version '{version}' is invalid. The supported versions are '{','.join(supported)}'.",
            target="api-version",
        )


def authenticate(ctx: SimContext, request: Request) -> None:
    """The request must carry a live bearer token for ARM (audience "arm")."""
    authorization = request.headers.get("authorization")
    if not authorization:
        raise _unauthorized(
            ctx, request, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
            "The authentication failed because of missing 'Authorization' header.",
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized(
            ctx, request, "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
            "The authentication failed because the 'Authorization' header is not a Bearer token.",
        )
    if ctx.tokens.check("arm", token.strip()) is None:
        raise _unauthorized(
            ctx, request, "InvalidAuthenticationToken", "The access token is invalid.",
            "The access token is unknown, expired or not issued for https://management.azure.com/.",
        )


def _unauthorized(ctx: SimContext, request: Request, code: str, message: str, description: str) -> ArmError:
    entra = simulator_root(request, PREFIXES["kusto"]) + PREFIXES["entra"]
    challenge = (
        f'Bearer authorization_uri="{entra}/{ctx.demo.entra_tenant_id}", '
        f'error="invalid_token", error_description="{description}"'
    )
    return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})


# -- bodies ------------------------------------------------------------------------------
async def json_object(request: Request) -> dict:
    """The body, which must be a JSON object sent as JSON (or without a content type)."""
    media = media_type(request)
    if media is not None and media != "application/json" and not media.endswith("+json") and media != "text/json":
        raise ArmError(
            415, "UnsupportedMediaType",
            f"The content media type '{request.headers['content-type']}' is not supported. "
            "Only 'application/json' is supported.",
        )
    raw = await request.body()
    if not raw.strip():
        raise ArmError(
            400, "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'the request body is empty; "
            "send a JSON object'.",
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ArmError(
            400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: '{exc}'."
        ) from None
    if not isinstance(body, dict):
        raise ArmError(
            400, "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'the request body must be a JSON "
            f"object, got {type(body).__name__}'.",
        )
    return body


__all__ = ["ArmError", "arm_error_response", "arm_ids", "authenticate", "bad_request", "check_api_version",
           "invalid", "json_object", "query_param", "render_error"]
