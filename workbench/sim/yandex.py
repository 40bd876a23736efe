"""Simulated Yandex Compute Cloud images and the Operation service.

Two hosts share one state, as in Yandex Cloud: compute.api.cloud.yandex.net
(``PREFIXES["yandex_compute"]``) serves ``/compute/v1/images...`` and
operation.api.cloud.yandex.net (``PREFIXES["yandex_operation"]``) serves
``/operations/{id}`` and ``/operations/{id}:cancel`` (a GET, per
operation_service.proto). Bodies are canonical proto3 JSON (see
``workbench.providers.yandex.models``); errors are ``google.rpc.Status`` bodies
with the HTTP status of the API design guide's table.

Behaviour taken from the API design guide: ``Idempotency-Key`` (a UUID) makes a
state-changing call return the operation it started the first time; a failed or
cancelled create returns the system to its previous state, so the image is gone;
page sizes run 0..1000, 0 meaning 100.
"""

from __future__ import annotations

import bisect
import json
import random
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.providers.yandex import models as ym
from workbench.providers.yandex.models import Code
from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.demo import DemoIdentity
from workbench.sim.faults import FaultInjector
from workbench.sim.tokens import IssuedToken, bearer

SERVICE = "yandex"
ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
#: Compute images and their operations have ids like ``fd8`` + 17 characters
IMAGE_ID_PREFIX = "fd8"
OPERATION_ID_PREFIX = "fd8"
GIB = 1024**3
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


class RequestIds:
    """Give every answer ``x-request-id`` and ``x-server-trace-id``, as the API does.

    The request id is also the ``requestId`` of the error details.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = str(uuid.uuid4())
        trace_id = f"{secrets.token_hex(8)}:{secrets.token_hex(8)}:{secrets.token_hex(8)}:1"
        scope[REQUEST_ID_KEY] = request_id

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-request-id"] = request_id
                headers["x-server-trace-id"] = trace_id
            await send(message)

        await self.app(scope, receive, send_with_ids)


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
    except (ValueError, UnicodeDecodeError) as exc:
        raise YandexApiError(Code.INVALID_ARGUMENT, f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise YandexApiError(Code.INVALID_ARGUMENT, "Request body must be a JSON object")
    return body


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
    return RequestIds(app)


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


# -- time and ids -----------------------------------------------------------------------
def timestamp(seconds: float) -> str:
    return ym.format_timestamp(datetime.fromtimestamp(seconds, timezone.utc))


class IdGenerator:
    """Ids that look like Yandex's: a 3-character prefix and 17 of ``[a-z0-9]``."""

    def __init__(self, seed: str | None = None) -> None:
        self._random = random.Random(seed) if seed is not None else random.SystemRandom()

    def new(self, prefix: str) -> str:
        return prefix + "".join(self._random.choices(ID_ALPHABET, k=20 - len(prefix)))

    def many(self, prefix: str, count: int) -> list[str]:
        # one draw of random bytes mapped onto the alphabet: fast for 100,000 ids
        width = 20 - len(prefix)
        chars = self._random.randbytes(width * count).translate(_BYTE_TO_ID_CHAR).decode()
        return [prefix + chars[i:i + width] for i in range(0, width * count, width)]


_BYTE_TO_ID_CHAR = bytes(ord(ID_ALPHABET[b % len(ID_ALPHABET)]) for b in range(256))


# -- list filters and ordering ----------------------------------------------------------
#: fields a list filter may name -> key in the image's JSON
FILTER_FIELDS = ("id", "name", "family", "status")
ORDER_FIELDS = ("id", "name", "createdAt")


@dataclass(frozen=True)
class Condition:
    field: str
    values: frozenset[str]
    negate: bool

    def matches(self, image: dict) -> bool:
        return (image.get(self.field, "") in self.values) != self.negate


def _tokenize_filter(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "\"'":
            j, chars = i + 1, []
            while j < len(text) and text[j] != ch:
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1  # C-style escapes: \" \' \\
                chars.append(text[j])
                j += 1
            if j >= len(text):
                raise _filter_error(text, f"unterminated string starting at position {i}")
            tokens.append(("string", "".join(chars)))
            i = j + 1
        elif text.startswith("!=", i):
            tokens.append(("op", "!="))
            i += 2
        elif ch in "=(),":
            tokens.append(("op" if ch == "=" else "punct", ch))
            i += 1
        elif ch.isalpha() or ch == "_":
            j = i
            while j < len(text) and (text[j].isalnum() or text[j] in "_."):
                j += 1
            tokens.append(("word", text[i:j]))
            i = j
        else:
            raise _filter_error(text, f"unexpected character {ch!r} at position {i}")
    return tokens


def _filter_error(text: str, reason: str) -> YandexApiError:
    return validation_error([("filter", f"invalid expression {text!r}: {reason}")])


def parse_filter(text: str) -> tuple[Condition, ...]:
    """``<field> <op> <value> [AND ...]`` with ``=``, ``!=``, ``IN``, ``NOT IN``."""
    tokens = _tokenize_filter(text)
    conditions: list[Condition] = []
    pos = 0

    def take(kind: str | None = None, value: str | None = None, what: str = "") -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise _filter_error(text, f"expected {what or value or kind} at the end")
        token_kind, token_value = tokens[pos]
        if (kind and token_kind != kind) or (value and token_value.upper() != value):
            raise _filter_error(text, f"expected {what or value or kind}, got {token_value!r}")
        pos += 1
        return token_value

    while pos < len(tokens):
        name = take("word", what="a field name")
        if name not in FILTER_FIELDS:
            raise _filter_error(text, f"cannot filter by {name!r}; filterable fields: {', '.join(FILTER_FIELDS)}")
        negate = False
        kind, value = tokens[pos] if pos < len(tokens) else ("", "")
        if kind == "op":
            negate = take("op") == "!="
            values = [take("string", what="a quoted value")]
        else:
            if value.upper() == "NOT":
                take("word", "NOT")
                negate = True
            take("word", "IN", what="an operator (=, !=, IN, NOT IN)")
            take("punct", "(")
            values = [take("string", what="a quoted value")]
            while pos < len(tokens) and tokens[pos] == ("punct", ","):
                pos += 1
                values.append(take("string", what="a quoted value"))
            take("punct", ")")
        conditions.append(Condition(name, frozenset(values), negate))
        if pos < len(tokens):
            take("word", "AND")
            if pos >= len(tokens):
                raise _filter_error(text, "expected a condition after AND")
    return tuple(conditions)


def parse_order_by(text: str) -> tuple[str, bool]:
    """``"createdAt desc"`` -> ("createdAt", True); ``"id asc"`` when empty."""
    words = text.split()
    if not words:
        return "id", False
    if len(words) > 2 or words[0] not in ORDER_FIELDS or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
        raise validation_error([(
            "orderBy", f"must be '<field> [asc|desc]' with a field of {', '.join(ORDER_FIELDS)}, got {text!r}",
        )])
    return words[0], len(words) == 2 and words[1].lower() == "desc"


# -- state ------------------------------------------------------------------------------
@dataclass
class SimOperation:
    id: str
    description: str
    kind: str  # "create", "update" or "delete"
    image_id: str
    metadata_type: str
    created_at: float
    created_by: str
    polls_needed: int
    will_fail: bool = False
    modified_at: float = 0.0
    polls: int = 0
    done: bool = False
    error: dict | None = None
    response: dict | None = None

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "id": self.id,
            "description": self.description,
            "createdAt": timestamp(self.created_at),
            "createdBy": self.created_by,
            "modifiedAt": timestamp(self.modified_at or self.created_at),
            "done": self.done,  # the REST gateway states done even when false
            "metadata": {"@type": ANY + self.metadata_type, "imageId": self.image_id},
        }
        if self.error is not None:
            wire["error"] = self.error
        elif self.response is not None:
            wire["response"] = self.response
        if not wire["createdBy"]:
            del wire["createdBy"]
        return wire


@dataclass
class _View:
    version: int
    keys: list
    ids: list[str]


@dataclass
class YandexComputeState:
    """Images, disks, snapshots and operations of one simulator instance.

    Image records are canonical proto3 JSON dicts and are never mutated: a
    change replaces the record, so a reader holding one needs no lock.
    """

    demo: DemoIdentity
    lock: threading.Lock = field(default_factory=threading.Lock)
    images: dict[str, dict] = field(default_factory=dict)
    created: dict[str, float] = field(default_factory=dict)
    folder_ids: dict[str, list[str]] = field(default_factory=dict)  # sorted ids per folder
    names: dict[tuple[str, str], str] = field(default_factory=dict)
    families: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    tombstones: dict[str, dict] = field(default_factory=dict)  # deleted images, for page tokens
    pending_sizes: dict[str, dict] = field(default_factory=dict)  # sizes a CREATING image gets at READY
    disks: dict[str, dict] = field(default_factory=dict)
    snapshots: dict[str, dict] = field(default_factory=dict)
    operations: dict[str, SimOperation] = field(default_factory=dict)
    image_operations: dict[str, list[str]] = field(default_factory=dict)
    idempotency: dict[str, tuple[str, str]] = field(default_factory=dict)
    ids: IdGenerator = field(default_factory=IdGenerator)
    version: int = 0
    views: OrderedDict = field(default_factory=OrderedDict)

    @property
    def writable_folders(self) -> set[str]:
        return {self.demo.yandex_folder_id}

    # -- indexes (callers hold the lock) --------------------------------------------
    def add_image(self, image: dict, created: float) -> None:
        image_id, folder = image["id"], image["folderId"]
        self.images[image_id] = image
        self.created[image_id] = created
        bisect.insort(self.folder_ids.setdefault(folder, []), image_id)
        if image.get("name"):
            self.names[(folder, image["name"])] = image_id
        if image.get("family"):
            self.families.setdefault((folder, image["family"]), set()).add(image_id)
        self.version += 1

    def replace_image(self, image: dict) -> None:
        old = self.images[image["id"]]
        folder = old["folderId"]
        if old.get("name") != image.get("name"):
            if old.get("name"):
                self.names.pop((folder, old["name"]), None)
            if image.get("name"):
                self.names[(folder, image["name"])] = image["id"]
        self.images[image["id"]] = image
        self.version += 1

    def remove_image(self, image_id: str) -> None:
        image = self.images.pop(image_id)
        folder = image["folderId"]
        ids = self.folder_ids[folder]
        del ids[bisect.bisect_left(ids, image_id)]
        if image.get("name") and self.names.get((folder, image["name"])) == image_id:
            del self.names[(folder, image["name"])]
        if image.get("family"):
            self.families.get((folder, image["family"]), set()).discard(image_id)
        self.tombstones[image_id] = image
        self.version += 1

    def set_status(self, image_id: str, status: str, **changes: Any) -> dict:
        image = {**self.images[image_id], "status": status, **changes}
        self.replace_image(image)
        return image

    # -- listing -----------------------------------------------------------------------
    def sort_key(self, order: str, image_id: str, image: dict) -> Any:
        if order == "name":
            return (image.get("name", ""), image_id)
        if order == "createdAt":
            return (self.created[image_id], image_id)  # kept for deleted images too, for page tokens
        return image_id

    def view(self, folder: str, filter_text: str, conditions: tuple[Condition, ...], order: str) -> _View:
        """The folder's matching image ids in ascending ``order``, cached per state version."""
        if not conditions and order == "id":
            ids = self.folder_ids.get(folder, [])
            return _View(self.version, ids, ids)
        cache_key = (folder, filter_text, order)
        cached = self.views.get(cache_key)
        if cached is not None and cached.version == self.version:
            self.views.move_to_end(cache_key)
            return cached
        images = self.images
        ids = [i for i in self.folder_ids.get(folder, []) if all(c.matches(images[i]) for c in conditions)]
        if order == "id":
            keys = ids
        else:  # keys are (value, id) tuples: sorting them sorts the ids
            keys = sorted(self.sort_key(order, i, images[i]) for i in ids)
            ids = [key[1] for key in keys]
        view = _View(self.version, keys, ids)
        self.views[cache_key] = view
        while len(self.views) > 32:
            self.views.popitem(last=False)
        return view

    # -- operations --------------------------------------------------------------------
    def new_operation(self, kind: str, image_id: str, created_by: str, polls_needed: int,
                      will_fail: bool = False) -> SimOperation:
        description, metadata = {
            "create": ("Create image", "yandex.cloud.compute.v1.CreateImageMetadata"),
            "update": ("Update image", "yandex.cloud.compute.v1.UpdateImageMetadata"),
            "delete": ("Delete image", "yandex.cloud.compute.v1.DeleteImageMetadata"),
        }[kind]
        op = SimOperation(
            id=self.ids.new(OPERATION_ID_PREFIX), description=description, kind=kind, image_id=image_id,
            metadata_type=metadata, created_at=time.time(), created_by=created_by,
            polls_needed=polls_needed, will_fail=will_fail,
        )
        self.operations[op.id] = op
        self.image_operations.setdefault(image_id, []).append(op.id)
        if polls_needed <= 0:
            self.finish(op)
        return op

    def poll(self, op: SimOperation) -> None:
        if not op.done:
            op.polls += 1
            if op.polls >= op.polls_needed:
                self.finish(op)

    def finish(self, op: SimOperation) -> None:
        op.done = True
        op.modified_at = time.time()
        if op.kind == "create":
            sizes = self.pending_sizes.pop(op.image_id, {})
            if op.will_fail:
                # A failed operation returns the system to its previous state.
                self.remove_image(op.image_id)
                op.error = {"code": int(Code.INTERNAL),
                            "message": f"Failed to create image {op.image_id}: the image data could not be imported"}
                return
            ready = self.set_status(op.image_id, "READY", **sizes)
            op.response = {"@type": ANY + ym.Image.PROTO_NAME, **ready}
        elif op.kind == "update":
            op.response = {"@type": ANY + ym.Image.PROTO_NAME, **self.images[op.image_id]}
        else:
            self.remove_image(op.image_id)
            op.response = {"@type": ANY + ym.Empty.PROTO_NAME}

    def cancel(self, op: SimOperation) -> None:
        if op.done:
            raise YandexApiError(Code.FAILED_PRECONDITION, f"Operation {op.id} is already done")
        if op.kind != "create":
            raise YandexApiError(Code.FAILED_PRECONDITION, f"Operation {op.id} cannot be cancelled")
        self.pending_sizes.pop(op.image_id, None)
        self.remove_image(op.image_id)
        op.done = True
        op.modified_at = time.time()
        op.error = {"code": int(Code.CANCELLED), "message": "Operation was cancelled"}

    # -- idempotency -------------------------------------------------------------------
    def replay(self, key: str | None, fingerprint: str) -> SimOperation | None:
        """The operation a previous call with this key started, if any."""
        if not key or key not in self.idempotency:
            return None
        known_fingerprint, op_id = self.idempotency[key]
        if known_fingerprint != fingerprint:
            raise YandexApiError(
                Code.INVALID_ARGUMENT,
                f"Idempotency key {key} was already used with a different request",
            )
        return self.operations[op_id]

    def remember(self, key: str | None, fingerprint: str, op: SimOperation) -> None:
        if key:
            self.idempotency[key] = (fingerprint, op.id)


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        return None
    try:
        uuid.UUID(key)
    except ValueError:
        raise validation_error([("Idempotency-Key", f"must be a UUID, got {key!r}")]) from None
    return key


def fingerprint(request: Request, body: dict | None = None) -> str:
    return json.dumps([request.method, request.url.path, body or {}], sort_keys=True, separators=(",", ":"))


# -- the services ---------------------------------------------------------------------------
class ComputeImages:
    """Handlers of ImageService and OperationService over one ``YandexComputeState``."""

    def __init__(self, ctx: SimContext, state: YandexComputeState) -> None:
        self.ctx = ctx
        self.state = state

    # -- helpers -------------------------------------------------------------------
    def _operation_response(self, op: SimOperation) -> JSONResponse:
        headers = {} if op.done else {"Retry-After": str(self.ctx.config.operation_retry_after)}
        return JSONResponse(op.to_wire(), headers=headers)

    def _check_folder(self, folder_id: str, write: bool = False) -> None:
        known = self.state.writable_folders if write else set(self.state.folder_ids) | self.state.writable_folders
        if folder_id not in known:
            raise YandexApiError(Code.PERMISSION_DENIED, "Permission denied")

    def _image(self, image_id: str) -> dict:
        if len(image_id) > ym.ID_MAX_LENGTH:
            raise validation_error([("imageId", f"length must be at most {ym.ID_MAX_LENGTH} characters")])
        image = self.state.images.get(image_id)
        if image is None:
            raise YandexApiError(Code.NOT_FOUND, f"Image {image_id} not found")
        return image

    @staticmethod
    def _query(request: Request, *names: str) -> dict[str, str]:
        # the REST gateway takes query parameters in camelCase or in proto spelling
        found: dict[str, str] = {}
        for name in names:
            snake = "".join("_" + c.lower() if c.isupper() else c for c in name)
            for spelling in (name, snake):
                if spelling in request.query_params:
                    found[name] = request.query_params[spelling]
                    break
        return found

    @staticmethod
    def _parse(model: type[ym.RequestModel], data: dict) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise validation_error(ym.field_violations(exc)) from None

    # -- ImageService ----------------------------------------------------------------
    async def get_image(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        return JSONResponse(self._image(request.path_params["image_id"]))

    async def latest_by_family(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        query = self._parse(ym.GetImageLatestByFamilyRequest, self._query(request, "folderId", "family"))
        self._check_folder(query.folder_id)
        state = self.state
        with state.lock:
            candidates = [
                image_id for image_id in state.families.get((query.folder_id, query.family), ())
                if state.images[image_id]["status"] == "READY"
            ]
            if not candidates:
                raise YandexApiError(Code.NOT_FOUND, f"Image with family {query.family} not found")
            latest = max(candidates, key=lambda i: (state.created[i], i))
            return JSONResponse(state.images[latest])

    async def list_images(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        query = self._parse(
            ym.ListImagesRequest,
            self._query(request, "folderId", "pageSize", "pageToken", "filter", "orderBy"),
        )
        conditions = parse_filter(query.filter)
        order, descending = parse_order_by(query.order_by)
        self._check_folder(query.folder_id)
        state, size = self.state, query.effective_page_size
        with state.lock:
            view = state.view(query.folder_id, query.filter, conditions, order)
            after = None
            if query.page_token:
                anchor = state.images.get(query.page_token) or state.tombstones.get(query.page_token)
                if anchor is None or anchor["folderId"] != query.folder_id:
                    raise validation_error([("pageToken", f"invalid page token {query.page_token!r}")])
                after = state.sort_key(order, query.page_token, anchor)
            if descending:
                end = len(view.ids) if after is None else bisect.bisect_left(view.keys, after)
                start = max(0, end - size)
                page_ids, more = view.ids[start:end][::-1], start > 0
            else:
                start = 0 if after is None else bisect.bisect_right(view.keys, after)
                page_ids, more = view.ids[start:start + size], start + size < len(view.ids)
            images = [state.images[i] for i in page_ids]
        body: dict[str, Any] = {}
        if images:
            body["images"] = images
        if more and page_ids:
            body["nextPageToken"] = page_ids[-1]
        return JSONResponse(body)

    async def create_image(self, request: Request) -> Response:
        token = authenticate(self.ctx, request)
        body = await json_body(request)
        key, print_ = idempotency_key(request), fingerprint(request, body)
        state = self.state
        with state.lock:
            replayed = state.replay(key, print_)
        if replayed is not None:
            return self._operation_response(replayed)
        spec: ym.CreateImageRequest = self._parse(ym.CreateImageRequest, body)
        self._check_folder(spec.folder_id, write=True)
        with state.lock:
            replayed = state.replay(key, print_)  # a concurrent twin may have won the race
            if replayed is not None:
                return self._operation_response(replayed)
            if spec.name and (spec.folder_id, spec.name) in state.names:
                raise YandexApiError(Code.ALREADY_EXISTS, f"Image with name {spec.name} already exists")
            now = time.time()
            image, pending_sizes = self._new_image(spec, self._source(spec), now)
            state.add_image(image, now)
            state.pending_sizes[image["id"]] = pending_sizes
            op = state.new_operation(
                "create", image["id"], token.subject, self.ctx.config.operation_polls,
                will_fail=self.ctx.faults.operation_should_fail(),
            )
            state.remember(key, print_, op)
            return self._operation_response(op)

    def _source(self, spec: ym.CreateImageRequest) -> dict:
        """What the new image inherits from its source: sizes, os, licences, hardware."""
        kind, source_id = spec.source
        state = self.state
        if kind == "imageId":
            image = state.images.get(source_id)
            if image is None or image["folderId"] not in state.writable_folders:
                raise YandexApiError(Code.NOT_FOUND, f"Image {source_id} not found")
            if image["status"] != "READY":
                raise YandexApiError(Code.FAILED_PRECONDITION,
                                     f"Image {source_id} is not ready (status {image['status']})")
            return {
                "data": int(image.get("size", image.get("storageSize", "0"))),
                "storage": int(image.get("storageSize", "0")),
                "min_disk": int(image.get("minDiskSize", "0")),
                "os": image.get("os"), "productIds": image.get("productIds"),
                "hardwareGeneration": image.get("hardwareGeneration"),
            }
        if kind in ("diskId", "snapshotId"):
            table, noun = (state.disks, "Disk") if kind == "diskId" else (state.snapshots, "Snapshot")
            found = table.get(source_id)
            if found is None:
                raise YandexApiError(Code.NOT_FOUND, f"{noun} {source_id} not found")
            inherit_os = kind == "diskId"  # the API inherits os from an image or a disk only
            return {
                "data": found["used"], "storage": found["used"], "min_disk": found["size"],
                "os": found.get("os") if inherit_os else None, "productIds": found.get("productIds"),
                "hardwareGeneration": found.get("hardwareGeneration"),
            }
        # uri: a file in Object Storage, read only once the operation runs, so
        # its size cannot be checked against minDiskSize up front
        data = 2 * GIB + int.from_bytes(spec.uri.encode()[-4:].rjust(4, b"\0"), "big") % GIB
        data = min(data - data % (4 * 1024 * 1024), spec.min_disk_size or data)
        return {"data": data, "storage": data, "min_disk": 10 * GIB, "os": None, "productIds": None,
                "hardwareGeneration": None}

    def _new_image(self, spec: ym.CreateImageRequest, source: dict, now: float) -> tuple[dict, dict]:
        min_disk = spec.min_disk_size or source["min_disk"]
        if spec.min_disk_size and spec.min_disk_size < source["data"]:
            raise validation_error([(
                "minDiskSize",
                f"must be at least the size of the source data ({source['data']} bytes), got {spec.min_disk_size}",
            )])
        os_spec = spec.os.to_wire() if spec.os is not None else None
        if os_spec is not None and not os_spec.get("type"):
            os_spec["type"] = "LINUX"
        image: dict[str, Any] = {
            "id": self.state.ids.new(IMAGE_ID_PREFIX),
            "folderId": spec.folder_id,
            "createdAt": timestamp(now),
            "name": spec.name,
            "description": spec.description,
            "labels": dict(spec.labels),
            "family": spec.family,
            "minDiskSize": str(min_disk),
            "productIds": list(spec.product_ids or source["productIds"] or []),
            "status": "CREATING",
            "os": os_spec or source["os"] or {"type": "LINUX"},
            "pooled": spec.pooled,
            "hardwareGeneration": (
                spec.hardware_generation.to_wire() if spec.hardware_generation is not None
                else source["hardwareGeneration"] or {"legacyFeatures": {"pciTopology": "PCI_TOPOLOGY_V1"}}
            ),
        }
        image = {k: v for k, v in image.items() if v not in ("", False, None, {}, [])}  # proto3 omits defaults
        # sizes appear once the data is in place (at READY)
        return image, {"size": str(source["data"]), "storageSize": str(source["storage"])}

    async def update_image(self, request: Request) -> Response:
        token = authenticate(self.ctx, request)
        body = await json_body(request)
        image_id = request.path_params["image_id"]
        key, print_ = idempotency_key(request), fingerprint(request, body)
        state = self.state
        with state.lock:
            replayed = state.replay(key, print_)
        if replayed is not None:
            return self._operation_response(replayed)
        spec: ym.UpdateImageRequest = self._parse(ym.UpdateImageRequest, {**body, "imageId": image_id})
        with state.lock:
            replayed = state.replay(key, print_)
            if replayed is not None:
                return self._operation_response(replayed)
            image = self._image(image_id)
            self._check_folder(image["folderId"], write=True)
            if image["status"] != "READY":
                raise YandexApiError(Code.FAILED_PRECONDITION, f"Image {image_id} is not ready (status {image['status']})")
            fields = spec.fields_to_update()
            changed = dict(image)
            for name in fields:
                wire_name, value = {
                    "name": ("name", spec.name),
                    "description": ("description", spec.description),
                    "min_disk_size": ("minDiskSize", str(spec.min_disk_size) if spec.min_disk_size else ""),
                    "labels": ("labels", dict(spec.labels)),
                }[name]
                if value in ("", {}):
                    changed.pop(wire_name, None)
                else:
                    changed[wire_name] = value
            new_name = changed.get("name", "")
            if new_name and new_name != image.get("name") and (image["folderId"], new_name) in state.names:
                raise YandexApiError(Code.ALREADY_EXISTS, f"Image with name {new_name} already exists")
            data = int(image.get("size", image.get("storageSize", "0")))
            if "min_disk_size" in fields and spec.min_disk_size < data:
                raise validation_error([(
                    "minDiskSize", f"must be at least the image size ({data} bytes), got {spec.min_disk_size}",
                )])
            state.replace_image(changed)
            op = state.new_operation("update", image_id, token.subject, self.ctx.config.operation_polls)
            state.remember(key, print_, op)
            return self._operation_response(op)

    async def delete_image(self, request: Request) -> Response:
        token = authenticate(self.ctx, request)
        image_id = request.path_params["image_id"]
        key, print_ = idempotency_key(request), fingerprint(request)
        state = self.state
        with state.lock:
            replayed = state.replay(key, print_)
            if replayed is not None:
                return self._operation_response(replayed)
            image = self._image(image_id)
            self._check_folder(image["folderId"], write=True)
            if image["status"] in ("CREATING", "DELETING"):
                raise YandexApiError(
                    Code.FAILED_PRECONDITION, f"Image {image_id} cannot be deleted in status {image['status']}"
                )
            state.set_status(image_id, "DELETING")
            op = state.new_operation("delete", image_id, token.subject, self.ctx.config.operation_polls)
            state.remember(key, print_, op)
            return self._operation_response(op)

    async def list_image_operations(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        image_id = request.path_params["image_id"]
        query = self._parse(ym.ListImageOperationsRequest,
                            {**self._query(request, "pageSize", "pageToken"), "imageId": image_id})
        size, token = query.effective_page_size, query.page_token
        state = self.state
        with state.lock:
            self._image(image_id)
            op_ids = state.image_operations.get(image_id, [])
            start = 0
            if token:
                if token not in op_ids:
                    raise validation_error([("pageToken", f"invalid page token {token!r}")])
                start = op_ids.index(token) + 1
            page = op_ids[start:start + size]
            body: dict[str, Any] = {}
            if page:
                body["operations"] = [state.operations[i].to_wire() for i in page]
            if start + size < len(op_ids):
                body["nextPageToken"] = page[-1]
        return JSONResponse(body)

    # -- OperationService --------------------------------------------------------------
    async def operation(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        ref: str = request.path_params["operation_ref"]
        operation_id, cancel = (ref.removesuffix(":cancel"), True) if ref.endswith(":cancel") else (ref, False)
        state = self.state
        with state.lock:
            op = state.operations.get(operation_id)
            if op is None:
                raise YandexApiError(Code.NOT_FOUND, f"Operation {operation_id} not found")
            if cancel:
                state.cancel(op)
            else:
                state.poll(op)
            return self._operation_response(op)


# -- seed data ------------------------------------------------------------------------------
# family, name prefix, description, os, storage GB, min disk GiB, version dates, extras
_CATALOG: tuple[tuple, ...] = (
    ("ubuntu-2404-lts", "ubuntu-24-04-lts", "ubuntu 24.04 lts", "LINUX", 3.9, 8,
     ("20240812", "20241028", "20250120"), {"pci": "PCI_TOPOLOGY_V2", "pooled": True}),
    ("ubuntu-2204-lts", "ubuntu-22-04-lts", "ubuntu 22.04 lts", "LINUX", 3.5, 8,
     ("20240311", "20240610", "20240916"), {"pooled": True}),
    ("ubuntu-2004-lts", "ubuntu-20-04-lts", "ubuntu 20.04 lts", "LINUX", 3.1, 5,
     ("20231211", "20240318", "20240617"), {}),
    ("debian-12", "debian-12", "debian 12 bookworm", "LINUX", 2.2, 8,
     ("20240415", "20240715", "20241021"), {}),
    ("debian-11", "debian-11", "debian 11 bullseye", "LINUX", 2.0, 5, ("20231106", "20240205"), {}),
    ("centos-stream-9", "centos-stream-9", "centos stream 9", "LINUX", 2.6, 10, ("20240408", "20240902"), {}),
    ("almalinux-9", "almalinux-9", "almalinux 9", "LINUX", 2.4, 10, ("20240520", "20240923"), {}),
    ("windows-2022-dc-gvlk", "windows-2022-dc-gvlk", "windows server 2022 datacenter", "WINDOWS", 12.8, 50,
     ("20240515", "20240814"), {"licences": 2}),
    ("windows-2019-dc-gvlk", "windows-2019-dc-gvlk", "windows server 2019 datacenter", "WINDOWS", 11.9, 50,
     ("20231213", "20240313"), {"licences": 2}),
    ("ubuntu-2204-lts-gpu", "ubuntu-22-04-lts-gpu", "ubuntu 22.04 lts with nvidia drivers", "LINUX", 9.7, 20,
     ("20240423", "20240827"), {"nvidia": "535.104.12"}),
    ("container-optimized-image", "container-optimized-image", "container optimized image", "LINUX", 1.9, 30,
     ("20240610", "20241007"), {"gen2": True}),
)

# name, family, description, labels, status, source disk index
_CUSTOM: tuple[tuple, ...] = (
    ("web-frontend-v2", "web-frontend", "frontend build 2", {"env": "prod", "team": "web"}, "READY", 0),
    ("web-frontend-v3", "web-frontend", "frontend build 3", {"env": "prod", "team": "web"}, "READY", 0),
    ("ci-runner-base", "", "base image for ci runners", {"env": "ci"}, "READY", 2),
    ("legacy-import", "", "import from object storage failed", {"env": "dev"}, "ERROR", 1),
)


def _hardware(pci: str = "PCI_TOPOLOGY_V1", gen2: bool = False) -> dict:
    return {"generation2Features": {}} if gen2 else {"legacyFeatures": {"pciTopology": pci}}


def seed(state: YandexComputeState, extra_images: int) -> None:
    """The demo folder's catalog, its disks and snapshots, then ``extra_images`` more."""
    demo, folder = state.demo, state.demo.yandex_folder_id
    ids = IdGenerator(seed="workbench-yandex-catalog")  # stable ids from run to run
    linux_licence = ids.new("f2e")
    for family, prefix, description, os_type, storage_gb, min_gib, dates, extra in _CATALOG:
        licences = [ids.new("f2e") for _ in range(extra.get("licences", 1))]
        for index, date in enumerate(dates):
            created = datetime(int(date[:4]), int(date[4:6]), int(date[6:]), 10, 52, 46 - index, tzinfo=timezone.utc)
            storage = int(storage_gb * 1e9) + index * 37_748_736
            os_value: dict[str, Any] = {"type": os_type}
            if "nvidia" in extra:
                os_value["nvidia"] = {"driver": extra["nvidia"]}
            image = {
                "id": ids.new(IMAGE_ID_PREFIX), "folderId": folder, "createdAt": timestamp(created.timestamp()),
                "name": f"{prefix}-v{date}", "description": description, "family": family,
                "size": str(storage + 524_288_000), "storageSize": str(storage), "minDiskSize": str(min_gib * GIB),
                "productIds": licences, "status": "READY", "os": os_value,
                "hardwareGeneration": _hardware(extra.get("pci", "PCI_TOPOLOGY_V1"), extra.get("gen2", False)),
            }
            if extra.get("pooled") and index == len(dates) - 1:
                image["pooled"] = True
            state.add_image(image, created.timestamp())

    disk_specs = (  # size GiB, used bytes, os, licence, hardware
        (20, 3_221_225_472, "LINUX", linux_licence, _hardware()),
        (50, 13_958_643_712, "WINDOWS", ids.new("f2e"), _hardware()),
        (10, 1_610_612_736, "LINUX", linux_licence, _hardware(gen2=True)),
    )
    for disk_id, (size, used, os_type, licence, hardware) in zip(demo.yandex_disk_ids, disk_specs):
        state.disks[disk_id] = {"folderId": folder, "size": size * GIB, "used": used, "os": {"type": os_type},
                                "productIds": [licence], "hardwareGeneration": hardware}
    for snapshot_id, (size, used) in zip(demo.yandex_snapshot_ids, ((20, 3_019_898_880), (8, 1_124_073_472))):
        state.snapshots[snapshot_id] = {"folderId": folder, "size": size * GIB, "used": used,
                                        "productIds": [linux_licence], "hardwareGeneration": _hardware()}

    base = datetime(2024, 11, 4, 9, 15, 0, tzinfo=timezone.utc).timestamp()
    disk_ids = list(demo.yandex_disk_ids)
    for index, (name, family, description, labels, status, disk) in enumerate(_CUSTOM):
        source = state.disks[disk_ids[disk]]
        created = base + index * 86_400 * 9
        image = {
            "id": ids.new(IMAGE_ID_PREFIX), "folderId": folder, "createdAt": timestamp(created), "name": name,
            "description": description, "labels": labels, "family": family,
            "size": str(source["used"]), "storageSize": str(source["used"]), "minDiskSize": str(source["size"]),
            "productIds": source["productIds"], "status": status, "os": source["os"],
            "hardwareGeneration": source["hardwareGeneration"],
        }
        state.add_image({k: v for k, v in image.items() if v}, created)

    if extra_images:
        seed_bulk(state, folder, extra_images)


def seed_bulk(state: YandexComputeState, folder: str, count: int) -> None:
    """``count`` READY images, fast: plain dicts, shared nested values, one sort.

    One image a minute from 2023-01-01, a hundred families.
    """
    families = 100
    ids = IdGenerator(seed=f"workbench-yandex-bulk-{count}").many(IMAGE_ID_PREFIX, count)
    base = datetime(2023, 1, 1, tzinfo=timezone.utc)
    times_of_day = [f"{m // 60:02d}:{m % 60:02d}:00Z" for m in range(1440)]
    sizes = [str(2_147_483_648 + step * 4_194_304) for step in range(512)]
    family_names = [f"bulk-family-{f:02d}" for f in range(families)]
    os_value, hardware, min_disk = {"type": "LINUX"}, _hardware(), str(10 * GIB)
    images, created, names = state.images, state.created, state.names
    base_seconds = base.timestamp()
    day = ""
    for index, image_id in enumerate(ids):
        if image_id in images:  # astronomically unlikely; keep ids unique anyway
            image_id = ids[index] = state.ids.new(IMAGE_ID_PREFIX)
        minute = index % 1440
        if minute == 0:
            day = datetime.fromtimestamp(base_seconds + index * 60, timezone.utc).strftime("%Y-%m-%dT")
        name = f"bulk-image-{index:06d}"
        size = sizes[index % 512]
        images[image_id] = {
            "id": image_id, "folderId": folder, "createdAt": day + times_of_day[minute], "name": name,
            "family": family_names[index % families], "size": size, "storageSize": size,
            "minDiskSize": min_disk, "status": "READY", "os": os_value, "hardwareGeneration": hardware,
        }
        created[image_id] = base_seconds + index * 60
        names[(folder, name)] = image_id
    folder_list = state.folder_ids.setdefault(folder, [])
    folder_list.extend(ids)
    folder_list.sort()
    for number, family in enumerate(family_names):
        state.families.setdefault((folder, family), set()).update(ids[number::families])
    state.version += 1


# -- mounting ------------------------------------------------------------------------------------
def mounts(ctx: SimContext) -> list[BaseRoute]:
    state = YandexComputeState(demo=ctx.demo)
    seed(state, ctx.config.seed_images)
    ctx.states[SERVICE] = state
    service = ComputeImages(ctx, state)
    compute_routes: list[BaseRoute] = [
        resource("/compute/v1/images:latestByFamily", GET=service.latest_by_family),
        resource("/compute/v1/images", GET=service.list_images, POST=service.create_image),
        resource("/compute/v1/images/{image_id}/operations", GET=service.list_image_operations),
        resource("/compute/v1/images/{image_id}", GET=service.get_image, PATCH=service.update_image,
                 DELETE=service.delete_image),
    ]
    # Cancel is ``GET /operations/{id}:cancel`` (operation_service.proto), so one route serves both.
    operation_routes: list[BaseRoute] = [resource("/operations/{operation_ref}", GET=service.operation)]
    return [
        Mount(PREFIXES["yandex_compute"], app=service_app(compute_routes, ctx.faults)),
        Mount(PREFIXES["yandex_operation"], app=service_app(operation_routes, ctx.faults)),
    ]
