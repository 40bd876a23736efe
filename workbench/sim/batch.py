"""Simulated Azure Batch data plane: list supported images (api-version 2023-11-01.18.0).

``GET {batchUrl}/supportedimages`` as the service answers it: the ``$filter``
subset of ``workbench.providers.batch.odata``, ``maxresults`` paging with an
absolute ``odata.nextLink``, case-insensitive query parameter names, the
``request-id`` / ``client-request-id`` / ``ETag`` / ``Last-Modified`` headers,
``application/json;odata=minimalmetadata`` bodies with ``odata.metadata``, and
every error as a BatchError. Requests authenticate with a Microsoft Entra
bearer token (audience "batch") or a Shared Key signature, verified the way the
service does: HMAC-SHA256 of the canonical string with the account key.

The catalog lives in ``batch_catalog``, the Shared Key canonical string and
signature in ``batch_shared_key``; this module holds the HTTP service.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qsl, quote

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from workbench.providers.batch.models import API_VERSION
from workbench.providers.batch.odata import FilterSyntaxError, compile_filter, parse_filter
from workbench.sim.app import PREFIXES
from workbench.sim.batch_catalog import BatchState, generated_images
from workbench.sim.batch_shared_key import sign, string_to_sign
from workbench.sim.context import SimContext
from workbench.sim.http_util import service_mount, service_root, simulator_root
from workbench.sim.tokens import bearer

#: api-versions this simulator answers (the real service accepts every released one).
API_VERSIONS = (API_VERSION,)
CONTENT_TYPE = "application/json;odata=minimalmetadata"
MAX_RESULTS = 1000
#: The service spends at most 30 s on a request; a larger ``timeout`` means 30.
DEFAULT_TIMEOUT = 30
#: Shared Key requests must be created within 15 minutes of reaching the service.
MAX_CLOCK_SKEW = timedelta(minutes=15)
ERROR_METADATA = "/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"
LIST_METADATA = "/$metadata#supportedimages"

# The user messages of the Batch status and error codes reference.
MESSAGES = {
    "AuthenticationFailed": "Server failed to authenticate the request. Make sure the value of Authorization "
    "header is formed correctly including the signature.",
    "InvalidAuthenticationInfo": "The authentication information was not provided in the correct format. "
    "Verify the value of Authorization header.",
    "MissingRequiredQueryParameter": "A query parameter that's mandatory for this request is not specified.",
    "InvalidQueryParameterValue": "Value for one of the query parameters specified in the request URI is invalid.",
    "OutOfRangeQueryParameterValue": "A query parameter specified in the request URI is outside the permissible range.",
    "UnsupportedRequestVersion": "The specified request version is not supported.",
    "InvalidHeaderValue": "The value for one of the HTTP headers is not in the correct format.",
    "InvalidUri": "The requested URI does not represent any resource on the server.",
    "UnsupportedHttpVerb": "The resource doesn't support the specified HTTP verb.",
    "ServerBusy": "The server is currently unable to receive requests. Please retry your request.",
}
# Codes the fault injector uses, in the Batch service's own words.
_FAULT_CODES = {"ServiceUnavailable": "ServerBusy"}


class BatchApiError(Exception):
    """An error answer: status, BatchError code, ``values`` and extra headers."""

    def __init__(self, status: int, code: str, values: Sequence[tuple[str, str]] = (),
                 message: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message or MESSAGES.get(code, code)
        self.values = list(values)
        self.headers = headers or {}


# -- the HTTP service ---------------------------------------------------------------

def _dotnet_time(moment: datetime) -> str:
    """``moment`` as .NET writes it: seven fractional digits."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _echo_headers(request: Request, request_id: str) -> dict[str, str]:
    headers = {"request-id": request_id, "DataServiceVersion": "3.0"}
    client_id = request.headers.get("client-request-id")
    if client_id and request.headers.get("return-client-request-id", "").strip().lower() == "true":
        headers["client-request-id"] = client_id
    return headers


def error_response(request: Request, status: int, code: str, message: str | None = None,
                   values: Sequence[tuple[str, str]] = (), headers: dict[str, str] | None = None) -> Response:
    """A BatchError answer, as the service writes it."""
    code = _FAULT_CODES.get(code, code)
    request_id = str(uuid.uuid4())
    text = message or MESSAGES.get(code, code)
    body: dict = {
        "odata.metadata": service_root(request) + ERROR_METADATA,
        "code": code,
        "message": {
            "lang": "en-US",
            "value": f"{text}\nRequestId:{request_id}\nTime:{_dotnet_time(datetime.now(timezone.utc))}",
        },
    }
    if values:
        body["values"] = [{"key": key, "value": value} for key, value in values]
    all_headers = _echo_headers(request, request_id)
    all_headers.update(headers or {})
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, headers=all_headers,
                    media_type=CONTENT_TYPE)


def _render_fault(request: Request, status: int, code: str, message: str) -> Response:
    return error_response(request, status, code, message)


class BatchService:
    def __init__(self, ctx: SimContext, state: BatchState) -> None:
        self.ctx = ctx
        self.state = state

    # -- authentication ---------------------------------------------------------
    def authenticate(self, request: Request, query: list[tuple[str, str]]) -> None:
        header = request.headers.get("authorization", "").strip()
        if not header:
            raise self._unauthorized(request, "The request carries no Authorization header: send a Microsoft "
                                              "Entra bearer token or a Shared Key signature.")
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() == "bearer":
            if self.ctx.tokens.check("batch", bearer(header)) is None:
                raise self._unauthorized(request, "The access token is invalid, has expired, or was not issued "
                                                  "for the Batch service.")
            return
        if scheme.lower() == "sharedkey":
            account, colon, signature = credentials.strip().partition(":")
            if colon and account and signature:
                self._verify_shared_key(request, query, account, signature)
                return
        raise BatchApiError(400, "InvalidAuthenticationInfo", [(
            "AuthenticationErrorDetail",
            "The Authorization header must be 'Bearer {token}' or 'SharedKey {account}:{signature}'.",
        )])

    def _unauthorized(self, request: Request, detail: str) -> BatchApiError:
        entra = simulator_root(request, PREFIXES["batch"]) + PREFIXES["entra"]
        challenge = (f'Bearer authorization_uri="{entra}/{self.ctx.demo.entra_tenant_id}/oauth2/authorize", '
                     f'resource_id="https://batch.core.windows.net/"')
        return BatchApiError(401, "AuthenticationFailed", [("AuthenticationErrorDetail", detail)],
                             headers={"WWW-Authenticate": challenge})

    def _verify_shared_key(self, request: Request, query: list[tuple[str, str]], account: str,
                           signature: str) -> None:
        demo = self.ctx.demo
        if account != demo.batch_account_name:
            raise _forbidden(f"The account '{account}' in the Authorization header is not this Batch account.")
        date_header = "ocp-date" if "ocp-date" in request.headers else "date"
        raw_date = request.headers.get(date_header)
        if not raw_date:
            raise _forbidden("Request date header not specified: send ocp-date (or Date).")
        try:
            sent_at = parsedate_to_datetime(raw_date)
        except (TypeError, ValueError):
            raise BatchApiError(400, "InvalidHeaderValue", [("HeaderName", date_header), ("HeaderValue", raw_date),
                                                            ("Reason", "Not an RFC 1123 date.")]) from None
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=timezone.utc)
        skew = datetime.now(timezone.utc) - sent_at
        if abs(skew) > MAX_CLOCK_SKEW:
            when = "too old" if skew > timedelta(0) else "in the future"
            raise _forbidden(f"Request date header {when}: '{raw_date}'. A request must reach the service within "
                             "15 minutes of the time in ocp-date.")

        headers = {name.lower(): value for name, value in request.headers.items()}
        # Sign over the path exactly as it arrived (the simulator's prefix included).
        raw_path = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else request.scope["path"]
        documented = string_to_sign(request.method, headers, path, query, account)
        as_sent = string_to_sign(request.method, headers, path, query, account, lowercase_names=False)
        for candidate in dict.fromkeys((documented, as_sent)):
            if hmac.compare_digest(sign(demo.batch_account_key, candidate), signature):
                return
        raise _forbidden(f"The MAC signature found in the HTTP request '{signature}' is not the same as any "
                         f"computed signature. Server used following string to sign: '{documented}'.")

    # -- GET /supportedimages ------------------------------------------------------
    def list_supported_images(self, request: Request) -> Response:
        try:
            return self._list(request)
        except BatchApiError as exc:
            return error_response(request, exc.status, exc.code, exc.message, exc.values, exc.headers)

    def _list(self, request: Request) -> Response:
        query = parse_qsl(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        self.authenticate(request, query)
        _check_headers(request)
        params: dict[str, str] = {}
        for name, value in query:
            params.setdefault(name.lower(), value)  # names are case-insensitive; first one wins

        api_version = params.get("api-version")
        if not api_version:
            raise BatchApiError(400, "MissingRequiredQueryParameter", [("QueryParameterName", "api-version")])
        if api_version not in API_VERSIONS:
            raise BatchApiError(400, "UnsupportedRequestVersion", [
                ("QueryParameterName", "api-version"), ("QueryParameterValue", api_version),
                ("Reason", f"Supported api-versions: {', '.join(API_VERSIONS)}."),
            ])

        max_results = _int_param(params, "maxresults", MAX_RESULTS, 1, MAX_RESULTS)
        # Validated like the service does; it caps the value at 30 s, and
        # nothing here runs anywhere near that long.
        _int_param(params, "timeout", DEFAULT_TIMEOUT, 1, 2**31 - 1)
        filter_text = params.get("$filter", "")
        predicate = None
        if filter_text.strip():
            try:
                predicate = compile_filter(parse_filter(filter_text))
            except FilterSyntaxError as exc:
                raise BatchApiError(400, "InvalidQueryParameterValue", [
                    ("QueryParameterName", "$filter"), ("QueryParameterValue", filter_text),
                    ("Reason", str(exc).removeprefix("$filter: ")),
                ]) from None
        start = _skiptoken(params)

        state = self.state
        page, next_index = state.page(predicate, start, max_results)
        root = service_root(request)
        body: dict = {"odata.metadata": root + LIST_METADATA, "value": page}
        if next_index is not None:
            link_params = [("api-version", api_version)]
            if filter_text:
                link_params.append(("$filter", filter_text))
            if "maxresults" in params:
                link_params.append(("maxresults", str(max_results)))
            if "timeout" in params:
                link_params.append(("timeout", params["timeout"]))
            link_params.append(("$skiptoken", _encode_skiptoken(next_index)))
            body["odata.nextLink"] = f"{root}/supportedimages?" + "&".join(
                f"{quote(name, safe='$')}={quote(value, safe='')}" for name, value in link_params
            )
        headers = _echo_headers(request, str(uuid.uuid4()))
        headers["ETag"] = state.etag
        headers["Last-Modified"] = format_datetime(state.last_modified, usegmt=True)
        return Response(json.dumps(body, separators=(",", ":")), headers=headers, media_type=CONTENT_TYPE)


# A GUID "with no decoration such as curly braces".
_PLAIN_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")


def _forbidden(detail: str) -> BatchApiError:
    return BatchApiError(403, "AuthenticationFailed", [("AuthenticationErrorDetail", detail)])


def _check_headers(request: Request) -> None:
    client_id = request.headers.get("client-request-id")
    if client_id is not None and not _PLAIN_GUID.fullmatch(client_id):
        raise BatchApiError(400, "InvalidHeaderValue", [
            ("HeaderName", "client-request-id"), ("HeaderValue", client_id),
            ("Reason", "Must be a GUID without decoration, e.g. 9C4D50EE-2D56-4CD3-8152-34347DC9F2B0."),
        ])
    flag = request.headers.get("return-client-request-id")
    if flag is not None and flag.strip().lower() not in ("true", "false"):
        raise BatchApiError(400, "InvalidHeaderValue", [
            ("HeaderName", "return-client-request-id"), ("HeaderValue", flag), ("Reason", "Must be true or false."),
        ])


def _int_param(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        if not raw.strip().isascii():  # int() would take other scripts' digits
            raise ValueError(raw)
        value = int(raw.strip())
    except ValueError:
        raise BatchApiError(400, "InvalidQueryParameterValue", [
            ("QueryParameterName", name), ("QueryParameterValue", raw), ("Reason", "Must be an integer."),
        ]) from None
    if not low <= value <= high:
        raise BatchApiError(400, "OutOfRangeQueryParameterValue", [
            ("QueryParameterName", name), ("QueryParameterValue", raw),
            ("Reason", f"Must be between {low} and {high}."),
        ])
    return value


def _encode_skiptoken(index: int) -> str:
    return base64.urlsafe_b64encode(f"supportedimages:{index}".encode()).decode().rstrip("=")


def _skiptoken(params: dict[str, str]) -> int:
    raw = params.get("$skiptoken")
    if raw is None:
        return 0
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        prefix, _, index = decoded.partition(":")
        if prefix != "supportedimages" or not index.isdigit():
            raise ValueError(decoded)
        return int(index)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BatchApiError(400, "InvalidQueryParameterValue", [
            ("QueryParameterName", "$skiptoken"), ("QueryParameterValue", raw),
            ("Reason", "Not a continuation token this service issued; follow odata.nextLink as-is."),
        ]) from None


def _app(service: BatchService) -> Starlette:
    async def not_found(request: Request, exc: HTTPException) -> Response:
        return error_response(request, 400, "InvalidUri")

    async def bad_verb(request: Request, exc: HTTPException) -> Response:
        return error_response(request, 405, "UnsupportedHttpVerb", headers=dict(exc.headers or {}))

    return Starlette(
        routes=[Route("/supportedimages", service.list_supported_images, methods=["GET"])],
        exception_handlers={404: not_found, 405: bad_verb},
    )


def mounts(ctx: SimContext) -> list[BaseRoute]:
    state = BatchState.seeded(ctx.config)
    ctx.states["batch"] = state
    service = BatchService(ctx, state)
    return [service_mount(PREFIXES["batch"], ctx.faults.wrap(_app(service), _render_fault))]


__all__ = ["mounts", "BatchState", "BatchService", "BatchApiError", "error_response", "generated_images",
           "string_to_sign", "sign", "API_VERSIONS", "CONTENT_TYPE", "MESSAGES"]
