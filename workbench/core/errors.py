"""Typed errors, and one parser for every provider's error body.

Each cloud answers a failed request in its own shape; ``parse_error`` reads all
of them into one ``ApiError`` so the app, the command line and notebooks show
the same thing: provider, HTTP status, the provider's error code, its message,
details and the request id support will ask for.

Bodies come from servers we do not control, so parsing is defensive: sizes are
bounded, control characters (terminal escapes) are removed, and whatever does
not match a known shape falls back to a bounded excerpt of the raw text.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.core.masking import mask_text

if TYPE_CHECKING:
    import httpx

    from workbench.core.preview import RequestPreview

#: Longest message kept in an ApiError (characters).
MAX_MESSAGE = 2_000
#: Longest raw body excerpt kept in an ApiError (characters).
MAX_RAW_TEXT = 8_000
#: Bodies larger than this are not parsed as JSON, only excerpted.
MAX_PARSED_BODY = 1_000_000
#: Detail entries kept.
MAX_DETAILS = 50

#: Response headers that carry the server's request id, most specific first.
REQUEST_ID_HEADERS = ("x-ms-request-id", "request-id", "x-openstack-request-id", "x-request-id")

#: google.rpc.Code numbers (Yandex errors carry the number) -> names.
GRPC_CODES = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}

# Error codes that mean "your credentials", whatever the HTTP status.
_AUTH_CODES = re.compile(
    r"(?i)(authenticat|authoriz|unauthori[sz]ed|invalid_client|invalid_grant|unauthorized_client|"
    r"invalid_token|expiredauthenticationtoken|^unauthenticated$|^permission_denied$)"
)


class WorkbenchError(Exception):
    """The base of every error the workbench raises on purpose."""


class ApiError(WorkbenchError):
    """A provider answered with an error status.

    ``request`` is the request that failed, masked; ``raw_text`` a bounded,
    masked excerpt of the body, for when the parsed fields are not enough.
    """

    def __init__(
        self,
        provider: str,
        status: int,
        code: str,
        message: str,
        details: list[Any] | None = None,
        request_id: str | None = None,
        request: RequestPreview | None = None,
        raw_text: str = "",
        *,
        target: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.request_id = request_id
        self.request = request
        self.raw_text = raw_text
        self.target = target
        #: What the server asked for in Retry-After (seconds), when it did.
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f"{self.provider}: HTTP {self.status}"
        if self.code:
            head += f" {self.code}"
        text = f"{head}: {self.message}" if self.message else head
        if self.target:
            text += f" (target: {self.target})"
        where = []
        if self.request is not None:
            where.append(f"{self.request.method} {self.request.url}")
        if self.request_id:
            where.append(f"request id {self.request_id}")
        if where:
            text += f" [{'; '.join(where)}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.provider!r}, {self.status}, {self.code!r}, {self.message!r})"

    def details_text(self) -> str:
        """The details as readable lines (for an error panel)."""
        lines = []
        for item in self.details:
            if isinstance(item, Mapping):
                code = item.get("code") or item.get("key") or item.get("@type") or ""
                message = item.get("message") or item.get("value") or item.get("info") or ""
                if not isinstance(message, str):
                    message = json.dumps(message, ensure_ascii=False)
                target = item.get("target")
                line = f"{code}: {message}" if code else str(message)
                lines.append(f"{line} (target: {target})" if target else line)
            else:
                lines.append(str(item))
        return "\n".join(lines)


class AuthError(ApiError):
    """Authentication or authorization failed (401, or a 403 whose code says so,
    or a token endpoint refusing the credentials)."""


class TransportError(WorkbenchError):
    """No HTTP answer: connection refused or dropped, DNS, TLS, or a timeout."""

    def __init__(self, provider: str, message: str, request: RequestPreview | None = None,
                 *, timeout: bool = False) -> None:
        self.provider = provider
        self.message = message
        self.request = request
        self.timeout = timeout
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.provider}: {self.message}"
        if self.request is not None:
            text += f" [{self.request.method} {self.request.url}]"
        return text


class InvalidResponse(WorkbenchError):
    """An answer that cannot be trusted or used: not JSON where JSON is due,
    too large, a paging link to another host, a link loop, a missing field."""

    def __init__(self, provider: str, message: str, request: RequestPreview | None = None,
                 *, status: int | None = None, excerpt: str = "") -> None:
        self.provider = provider
        self.message = message
        self.request = request
        self.status = status
        self.excerpt = excerpt
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.provider}: invalid response: {self.message}"
        if self.request is not None:
            text += f" [{self.request.method} {self.request.url}]"
        return text


# -- parsing -------------------------------------------------------------------


@dataclass
class ErrorInfo:
    """What an error body says, whatever its shape."""

    code: str = ""
    message: str = ""
    details: list[Any] = field(default_factory=list)
    target: str | None = None
    request_id: str | None = None


_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_TAG_RE = re.compile(r"<[^>]*>")
_BR_RE = re.compile(r"(?i)<br\s*/?>")
_SPACES_RE = re.compile(r"[ \t\r\f\v]+")
_STATUS_LINE_RE = re.compile(r"^\s*(\d{3})\s+([A-Za-z][A-Za-z \-']{1,60})\s*$")


def clean_text(text: str, limit: int = MAX_MESSAGE) -> str:
    """Text fit for a terminal: no control characters (escape sequences from a
    hostile server), collapsed blank space, bounded length."""
    text = _CONTROL_RE.sub("", text)
    text = "\n".join(_SPACES_RE.sub(" ", line).strip() for line in text.splitlines())
    text = re.sub(r"\n{2,}", "\n", text).strip()
    if len(text) > limit:
        text = text[:limit] + f"… ({len(text) - limit} more characters)"
    return text


def _strip_html(text: str) -> str:
    text = _BR_RE.sub("\n", text)
    text = re.sub(r"(?is)<(script|style)[^>]*>.*?</\1>", "", text)
    text = _TAG_RE.sub("", text)
    return html.unescape(text)


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)


def _code_from_status_text(code: str, title: str = "") -> str:
    """Glance/Keystone say "404 Not Found" or 404 + "Not Found": keep the words."""
    match = _STATUS_LINE_RE.match(code)
    if match:
        return match.group(2).strip()
    if code.isdigit() and title:
        return title
    return code


def _bounded_details(items: Any) -> list[Any]:
    if not isinstance(items, list):
        return []
    return items[:MAX_DETAILS]


def parse_error_json(body: Any) -> ErrorInfo | None:
    """Read any known error shape from a decoded JSON body, else None.

    Known shapes:
    - ARM ErrorResponse ``{"error": {code, message, target, details, additionalInfo}}``
    - Keystone ``{"error": {"code": 401, "message", "title"}}``
    - Huawei IMS ``{"error": {"code": "IMG.0001", "message"}}``
    - Entra ``{"error": "invalid_client", "error_description"}``
    - Azure Batch ``{"code", "message": {"lang", "value"}, "values": [{key, value}]}``
    - Glance ``{"message", "code": "404 Not Found", "title"}``
    - Yandex ``{"code": 5, "message", "details": [...]}`` (gRPC code numbers)
    - Huawei API gateway ``{"error_code", "error_msg"}``
    """
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("odata.error"), dict):
        body = body["odata.error"]  # OData v3 wrapper, as older Batch/Storage answers
    error = body.get("error")
    if isinstance(error, dict):
        # ARM, Keystone, IMS (and Yandex operations' google.rpc.Status)
        code = error.get("code")
        title = _str(error.get("title"))
        if isinstance(code, int) and "title" not in error and code in GRPC_CODES:
            code_text = GRPC_CODES[code]
        else:
            code_text = _code_from_status_text(_str(code), title)
        details = _bounded_details(error.get("details"))
        info = _bounded_details(error.get("additionalInfo"))
        message = error.get("message")
        if isinstance(message, dict):
            message = message.get("value")  # {"lang", "value"}
        return ErrorInfo(
            code=code_text,
            message=_str(message),
            details=details + info,
            target=_str(error.get("target")) or None,
            request_id=_request_id_from_details(details),
        )
    if isinstance(error, str):
        # OAuth2 / Entra token endpoint
        request_id = _str(body.get("trace_id") or body.get("correlation_id")) or None
        return ErrorInfo(code=error, message=_str(body.get("error_description")), request_id=request_id)
    if "error_code" in body or "error_msg" in body:
        return ErrorInfo(code=_str(body.get("error_code")), message=_str(body.get("error_msg")),
                         request_id=_str(body.get("request_id")) or None)
    message = body.get("message", body.get("Message"))
    code = body.get("code", body.get("Code"))
    if isinstance(message, dict):
        # BatchError: message is {"lang", "value"}; values are {key, value} pairs
        values = _bounded_details(body.get("values"))
        return ErrorInfo(code=_str(code), message=_str(message.get("value")), details=values,
                         request_id=_batch_request_id(_str(message.get("value"))))
    if message is not None or code is not None:
        if isinstance(code, int) and not isinstance(code, bool) and "title" not in body:
            code_text = GRPC_CODES.get(code, str(code))  # Yandex
        else:
            code_text = _code_from_status_text(_str(code), _str(body.get("title")))
        details = _bounded_details(body.get("details"))
        return ErrorInfo(code=code_text, message=_str(message), details=details,
                         request_id=_request_id_from_details(details))
    for key in ("detail", "error_message", "faultstring"):
        if isinstance(body.get(key), str):
            return ErrorInfo(code="", message=body[key])
    return None


def _request_id_from_details(details: list[Any]) -> str | None:
    # google.rpc.RequestInfo in Yandex details: {"@type": ...RequestInfo, "requestId": ...}
    for item in details:
        if isinstance(item, dict) and isinstance(item.get("requestId"), str):
            return item["requestId"]
    return None


def _batch_request_id(message: str) -> str | None:
    match = re.search(r"RequestId:([0-9a-fA-F-]{8,})", message)
    return match.group(1) if match else None


def _parse_text(text: str) -> ErrorInfo:
    """Glance/webob HTML or plain-text error pages, or anything else."""
    code = ""
    if "<" in text and ">" in text:
        title = re.search(r"(?is)<title[^>]*>(.*?)</title>", text)
        if title:
            code = _code_from_status_text(html.unescape(title.group(1)).strip())
        text = re.sub(r"(?is)<head[^>]*>.*?</head>", "", text)
        text = re.sub(r"(?is)<h1[^>]*>.*?</h1>", "", text)
        text = _strip_html(text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines and _STATUS_LINE_RE.match(lines[0]):
        # webob plain text: "404 Not Found\n\nThe resource could not be found..."
        code = code or _code_from_status_text(lines[0])
        lines = lines[1:]
    return ErrorInfo(code=code, message="\n".join(lines))


def request_id_of(headers: Mapping[str, str]) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return clean_text(value, 200)
    return None


def parse_error(
    provider: str,
    response: httpx.Response,
    *,
    request: RequestPreview | None = None,
    secrets: Iterable[str] = (),
    auth: bool = False,
    retry_after: float | None = None,
) -> ApiError:
    """The ``ApiError`` (or ``AuthError``) for a failed ``response``.

    ``request`` defaults to the response's own request, masked. ``auth=True``
    says the response came from a token endpoint, so any failure is an
    ``AuthError``. Every text kept is masked with ``secrets``.
    """
    from workbench.core.preview import RequestPreview

    secrets = list(secrets)
    if request is None:
        try:
            request = RequestPreview.from_httpx(response.request)
        except RuntimeError:
            request = None
    if request is not None:
        request = request.masked(secrets)
    try:
        content = response.content
    except Exception:  # noqa: BLE001 - a stream not read, or closed: no body to parse
        content = b""
    text = content[:MAX_PARSED_BODY].decode("utf-8", "replace")
    info: ErrorInfo | None = None
    if content and len(content) <= MAX_PARSED_BODY and text.lstrip()[:1] in ("{", "["):
        try:
            info = parse_error_json(json.loads(text))
        except (ValueError, RecursionError):
            info = None
    if info is None:
        info = _parse_text(text) if text.strip() else ErrorInfo()
    status = response.status_code
    code = clean_text(info.code, 200)
    message = info.message
    if message and (_BR_RE.search(message) or "</" in message):
        message = _strip_html(message)  # Glance puts webob's HTML fragments in JSON messages
    message = clean_text(mask_text(message, secrets)) if message else ""
    if not message:
        message = response.reason_phrase or ""
    if not code and not message:
        message = f"HTTP {status}"
    request_id = request_id_of(response.headers) or (clean_text(info.request_id, 200) if info.request_id else None)
    is_auth = auth or status == 401 or (status == 403 and bool(_AUTH_CODES.search(code)))
    cls = AuthError if is_auth else ApiError
    return cls(
        provider,
        status,
        code,
        message,
        details=_mask_details(info.details, secrets),
        request_id=request_id,
        request=request,
        raw_text=clean_text(mask_text(text, secrets), MAX_RAW_TEXT) if text else "",
        target=clean_text(info.target, 200) if info.target else None,
        retry_after=retry_after,
    )


def _mask_details(details: list[Any], secrets: list[str]) -> list[Any]:
    if not secrets:
        return details
    try:
        return json.loads(mask_text(json.dumps(details, ensure_ascii=False), secrets))
    except (TypeError, ValueError):
        return []


__all__ = [
    "WorkbenchError",
    "ApiError",
    "AuthError",
    "TransportError",
    "InvalidResponse",
    "ErrorInfo",
    "GRPC_CODES",
    "REQUEST_ID_HEADERS",
    "clean_text",
    "parse_error",
    "parse_error_json",
    "request_id_of",
]
