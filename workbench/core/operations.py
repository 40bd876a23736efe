"""Long-running operations: one model for every cloud, pollers, and a tracker.

- ``Operation`` is what a driver's ``send`` returns for work that finishes
  later (a Kusto image build, a Yandex image create, a Glance upload). It is
  plain data, serialisable to JSON with everything needed to resume polling.
- A ``Poller`` knows one provider's way to ask "done yet?": ``ArmAsyncPoller``
  (Azure-AsyncOperation, then Location, then provisioningState, as azure-core's
  ARM polling does), ``YandexOperationPoller`` (the Operation service's
  ``done``) and ``GlanceStatusPoller`` (the image's ``status``).
- ``OperationTracker`` polls many operations concurrently on one event loop,
  one task each, each on its own schedule: never earlier than the server's
  ``Retry-After``, otherwise backing off 1 s, 2 s, 4 s ... up to a cap. It
  emits an event on every change, cancels where the API can, stops at a
  deadline, and saves/resumes unfinished operations across restarts.

A driver's part is small::

    response = await http.send(request, provider="kusto", auth=auth, expect=(200, 201))
    op = poller.start(response, kind="create", target=name)   # an Operation
    tracker.track(op)                                         # polled from now on
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from workbench.core.auth import Auth
from workbench.core.errors import (
    GRPC_CODES,
    ApiError,
    InvalidResponse,
    TransportError,
    WorkbenchError,
    clean_text,
    parse_error_json,
)
from workbench.core.files import write_atomic
from workbench.core.http import HttpCore, check_same_origin, decode_json
from workbench.core.retry import parse_retry_after

logger = logging.getLogger(__name__)

#: Version of the file ``OperationTracker.save`` writes.
STATE_VERSION = 1
#: Poll records kept per operation in a saved file (the newest).
SAVED_POLL_RECORDS = 20


class OperationStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        return self is not OperationStatus.RUNNING


class CancelNotSupported(WorkbenchError):
    """The provider's API has no way to cancel this kind of operation."""


@dataclass(slots=True)
class PollRecord:
    """One poll: when it was sent and answered, and what the server asked."""

    #: When the poll was sent (epoch seconds).
    at: float
    #: When its answer (or failure) arrived.
    answered: float
    #: The wait the server asked for in that answer (Retry-After), if any.
    retry_after: float | None
    #: The earliest moment the previous answer allowed this poll, if it set one.
    allowed_at: float | None
    #: The status after this poll ("running", ..., or "error").
    status: str

    @property
    def early(self) -> bool:
        return self.allowed_at is not None and self.at < self.allowed_at


@dataclass
class Operation:
    id: str
    provider: str
    #: What is being done: "create", "update", "delete", "upload", ...
    kind: str
    #: What it is done to: a resource id, image id or name.
    target: str
    status: OperationStatus = OperationStatus.RUNNING
    #: 0.0 .. 1.0 when the provider reports it.
    progress: float | None = None
    started: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    last_poll: float | None = None
    next_poll_at: float | None = None
    #: The earliest moment the server allows the next poll (from Retry-After).
    not_before: float | None = None
    polls: int = 0
    #: Why it failed, or a note on the last poll that failed while it runs.
    error: str | None = None
    #: The last answer's decoded body.
    raw: Any = None
    #: The final resource, fetched once the operation succeeded.
    result: Any = None
    #: What the poller needs to resume (URLs, ids); JSON-serialisable.
    poll_state: dict[str, Any] = field(default_factory=dict)
    #: Profile name, to find the right poller when two accounts share a provider.
    profile: str = ""
    description: str = ""
    #: Stop polling at this moment (epoch seconds).
    deadline: float | None = None
    timed_out: bool = False
    cancel_requested: bool = False
    poll_log: list[PollRecord] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.status.terminal

    @property
    def early_polls(self) -> int:
        """Polls sent before the server's Retry-After allowed them (must be 0)."""
        return sum(1 for record in self.poll_log if record.early)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operation:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        missing = {"id", "provider", "kind", "target"} - values.keys()
        if missing:
            raise ValueError(f"operation record: missing {sorted(missing)}")
        values["status"] = OperationStatus(values.get("status", "running"))
        values["poll_log"] = [PollRecord(**record) for record in values.get("poll_log") or []]
        return cls(**values)

    def snapshot(self) -> Operation:
        """A copy for events: later polls do not change what a subscriber got."""
        copy = Operation(**{f.name: getattr(self, f.name) for f in fields(self)})
        copy.poll_state = dict(self.poll_state)
        copy.poll_log = list(self.poll_log)
        return copy


@dataclass(slots=True)
class PollOutcome:
    status: OperationStatus
    progress: float | None = None
    #: Seconds the server asked to wait before the next poll.
    retry_after: float | None = None
    raw: Any = None
    error: str | None = None
    #: Entries to merge into ``Operation.poll_state`` (a new Location, ...).
    state: dict[str, Any] | None = None


class Poller(ABC):
    """How to poll one provider's operations. Stateless: all state lives in
    ``Operation.poll_state``, so one poller serves any number of operations."""

    provider: str = ""

    @abstractmethod
    async def poll(self, op: Operation) -> PollOutcome:
        """Ask once how ``op`` is doing."""

    async def cancel(self, op: Operation) -> PollOutcome | None:
        """Ask the provider to cancel ``op``; raise ``NotImplementedError`` if it cannot."""
        raise NotImplementedError

    async def final(self, op: Operation) -> Any:
        """The resource's final state after ``op`` succeeded (default: the last answer)."""
        return op.raw

    @property
    def can_cancel(self) -> bool:
        return type(self).cancel is not Poller.cancel


def _error_text(body: Any) -> str | None:
    info = parse_error_json(body) if isinstance(body, dict) else None
    if info is None:
        return None
    text = f"{info.code}: {info.message}" if info.code else info.message
    return clean_text(text) or None


# -- Azure Resource Manager ----------------------------------------------------

_ARM_SUCCEEDED = "succeeded"
_ARM_FAILED = "failed"
_ARM_CANCELED = ("canceled", "cancelled")


def _arm_status(word: str | None) -> OperationStatus:
    word = (word or "").lower()
    if word == _ARM_SUCCEEDED:
        return OperationStatus.SUCCEEDED
    if word == _ARM_FAILED:
        return OperationStatus.FAILED
    if word in _ARM_CANCELED:
        return OperationStatus.CANCELED
    return OperationStatus.RUNNING


def _json_or_none(response: httpx.Response) -> Any:
    if not response.content.strip():
        return None
    try:
        return json.loads(response.content)
    except (ValueError, RecursionError):
        return None


class ArmAsyncPoller(Poller):
    """ARM long-running operations, in azure-core's order of preference:

    1. ``Azure-AsyncOperation``: poll that URL; its body's ``status`` says
       InProgress / Succeeded / Failed / Canceled (case-insensitive);
    2. ``Location``: poll it; 202 while running, 200/201/204 when done;
    3. a PUT/PATCH without either: poll the resource's ``provisioningState``.

    After success the final resource is fetched from the resource URL (PUT,
    PATCH), the body's ``resourceLocation``, or the Location (POST); a DELETE
    has none.
    """

    def __init__(self, http: HttpCore, auth: Auth, *, provider: str = "kusto",
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.auth = auth
        self.provider = provider
        self._clock = clock

    def _link(self, url: str | None, base: str) -> str | None:
        if not url:
            return None
        allowed = self.http.allowed_origins or {base}
        return str(check_same_origin(url, allowed, provider=self.provider, base=base))

    def start(self, response: httpx.Response, *, kind: str, target: str, description: str = "",
              profile: str = "") -> Operation:
        """The Operation for the first answer of an ARM PUT/PATCH/DELETE/POST."""
        request = response.request
        method = request.method.upper()
        resource_url = str(request.url)
        body = _json_or_none(response)
        async_url = self._link(response.headers.get("azure-asyncoperation"), resource_url)
        location = self._link(response.headers.get("location"), resource_url)
        state: dict[str, Any] = {"method": method, "resource_url": resource_url, "async_url": async_url,
                                 "location": location}
        status = OperationStatus.RUNNING
        error = None
        if async_url:
            state["mode"] = "async"
            resource_location = body.get("resourceLocation") if isinstance(body, dict) else None
            if isinstance(resource_location, str):
                state["final_url"] = self._link(resource_location, resource_url)
            elif method in ("PUT", "PATCH"):
                state["final_url"] = resource_url
            elif method == "POST":
                state["final_url"] = location
            else:
                state["final_url"] = None
        elif location:
            state["mode"] = "location"
        elif method in ("PUT", "PATCH"):
            state["mode"] = "body"
            code = response.status_code
            provisioning = _provisioning_state(body)
            if code == 202:
                status = OperationStatus.RUNNING
            elif code == 201:
                status = _arm_status(provisioning) if provisioning else OperationStatus.RUNNING
            elif code == 200:
                status = _arm_status(provisioning) if provisioning else OperationStatus.SUCCEEDED
            else:  # 204
                status = OperationStatus.SUCCEEDED
            if status is OperationStatus.FAILED:
                error = f"provisioningState {provisioning}"
        else:
            state["mode"] = "done"  # nothing to poll: the answer is the outcome
            status = OperationStatus.SUCCEEDED
        now = self._clock()
        retry_after = parse_retry_after(response.headers)
        op_id = async_url.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0] if async_url else ""
        op = Operation(
            id=op_id or uuid.uuid4().hex,
            provider=self.provider,
            kind=kind,
            target=target,
            status=status,
            started=now,
            updated=now,
            raw=body,
            error=error,
            poll_state=state,
            profile=profile,
            description=description,
        )
        if retry_after is not None:
            op.not_before = now + retry_after
            op.next_poll_at = op.not_before
        if status is OperationStatus.SUCCEEDED:
            op.result = body
        return op

    async def poll(self, op: Operation) -> PollOutcome:
        state = op.poll_state
        mode = state.get("mode")
        if mode == "done":
            return PollOutcome(OperationStatus.SUCCEEDED, raw=op.raw)
        if mode == "async":
            response = await self.http.request("GET", state["async_url"], provider=self.provider, auth=self.auth,
                                               expect=(200, 201, 202, 204))
            body = decode_json(response, self.provider)
            if not isinstance(body, dict) or not isinstance(body.get("status"), str):
                raise InvalidResponse(self.provider, "the Azure-AsyncOperation status has no 'status' field",
                                      status=response.status_code)
            status = _arm_status(body["status"])
            progress = body.get("percentComplete")
            error = None
            if status in (OperationStatus.FAILED, OperationStatus.CANCELED):
                error = _error_text(body) or f"status {body['status']}"
            return PollOutcome(
                status,
                progress=float(progress) / 100 if isinstance(progress, (int, float)) else None,
                retry_after=parse_retry_after(response.headers),
                raw=body,
                error=error,
            )
        if mode == "location":
            response = await self.http.request("GET", state["location"], provider=self.provider, auth=self.auth,
                                               expect=(200, 201, 202, 204))
            new_location = self._link(response.headers.get("location"), state["location"])
            update = {"location": new_location} if new_location else None
            if response.status_code == 202:
                return PollOutcome(OperationStatus.RUNNING, retry_after=parse_retry_after(response.headers),
                                   raw=_json_or_none(response), state=update)
            return PollOutcome(OperationStatus.SUCCEEDED, raw=_json_or_none(response), state=update)
        if mode == "body":
            response = await self.http.request("GET", state["resource_url"], provider=self.provider, auth=self.auth,
                                               expect=(200, 201, 202, 204))
            body = _json_or_none(response)
            provisioning = _provisioning_state(body)
            status = _arm_status(provisioning) if provisioning else OperationStatus.SUCCEEDED
            return PollOutcome(
                status,
                retry_after=parse_retry_after(response.headers),
                raw=body,
                error=f"provisioningState {provisioning}" if status in (OperationStatus.FAILED,
                                                                        OperationStatus.CANCELED) else None,
            )
        raise InvalidResponse(self.provider, f"unknown ARM polling mode {mode!r} in operation {op.id}")

    async def final(self, op: Operation) -> Any:
        state = op.poll_state
        if state.get("mode") != "async":
            return op.raw  # Location's last answer, or the resource itself
        url = state.get("final_url")
        if not url:
            return None  # a DELETE: nothing left to fetch
        return await self.http.get_json(url, provider=self.provider, auth=self.auth)


def _provisioning_state(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("properties"), dict):
        value = body["properties"].get("provisioningState")
        return value if isinstance(value, str) else None
    return None


# -- Yandex Cloud --------------------------------------------------------------


class YandexOperationPoller(Poller):
    """Yandex Cloud operations: ``GET {operation_endpoint}/operations/{id}``
    until ``done``, then ``error`` (a google.rpc.Status) or ``response``.
    Cancel is ``GET /operations/{id}:cancel`` (operation_service.proto)."""

    def __init__(self, http: HttpCore, auth: Auth, operation_endpoint: str, *, provider: str = "yandex",
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.auth = auth
        self.endpoint = operation_endpoint.rstrip("/")
        self.provider = provider
        self._clock = clock

    def _url(self, op: Operation, suffix: str = "") -> str:
        return f"{self.endpoint}/operations/{quote(op.poll_state['operation_id'], safe='')}{suffix}"

    def start(self, operation: httpx.Response | Mapping[str, Any], *, kind: str, target: str,
              description: str = "", profile: str = "", retry_after: float | None = None) -> Operation:
        """The Operation for an answer that is a Yandex ``Operation`` (the
        response itself, so its Retry-After is honoured, or its decoded body)."""
        if isinstance(operation, httpx.Response):
            if retry_after is None:
                retry_after = parse_retry_after(operation.headers)
            operation = decode_json(operation, self.provider)
        if not isinstance(operation, Mapping):
            raise InvalidResponse(self.provider, "the answer is not an Operation object")
        op_id = operation.get("id")
        if not isinstance(op_id, str) or not op_id:
            raise InvalidResponse(self.provider, "the answer is not an Operation: it has no 'id'")
        now = self._clock()
        outcome = self.outcome(operation)
        op = Operation(
            id=op_id,
            provider=self.provider,
            kind=kind,
            target=target,
            status=outcome.status,
            started=now,
            updated=now,
            raw=dict(operation),
            error=outcome.error,
            poll_state={"operation_id": op_id},
            profile=profile,
            description=description or str(operation.get("description") or ""),
        )
        if retry_after is not None:
            op.not_before = op.next_poll_at = now + retry_after
        if outcome.status is OperationStatus.SUCCEEDED:
            op.result = operation.get("response")
        return op

    def outcome(self, body: Any, retry_after: float | None = None) -> PollOutcome:
        """Read a Yandex ``Operation`` body."""
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise InvalidResponse(self.provider, "expected an Operation (with an 'id'), got something else")
        if not body.get("done"):
            return PollOutcome(OperationStatus.RUNNING, retry_after=retry_after, raw=body)
        error = body.get("error")
        if isinstance(error, dict):
            code = error.get("code")
            name = GRPC_CODES.get(code, str(code)) if isinstance(code, int) else str(code or "")
            status = OperationStatus.CANCELED if code == 1 else OperationStatus.FAILED
            message = clean_text(str(error.get("message") or ""))
            return PollOutcome(status, raw=body, error=f"{name}: {message}" if name else message)
        return PollOutcome(OperationStatus.SUCCEEDED, progress=1.0, raw=body)

    async def _get(self, url: str) -> PollOutcome:
        response = await self.http.request("GET", url, provider=self.provider, auth=self.auth)
        body = decode_json(response, self.provider)
        return self.outcome(body, parse_retry_after(response.headers))

    async def poll(self, op: Operation) -> PollOutcome:
        return await self._get(self._url(op))

    async def cancel(self, op: Operation) -> PollOutcome | None:
        return await self._get(self._url(op, ":cancel"))

    async def final(self, op: Operation) -> Any:
        # As the Yandex SDK does: the result is the operation's `response`
        # (the Image for a create), with its type tag.
        if isinstance(op.raw, dict):
            return op.raw.get("response")
        return None


# -- OpenStack Glance / Huawei IMS ---------------------------------------------

#: Image statuses that end a wait for "active".
_GLANCE_FAILED = {"killed": "the upload or import failed (status killed)",
                  "deleted": "the image was deleted", "pending_delete": "the image is being deleted",
                  "deactivated": "the image was deactivated"}


class GlanceStatusPoller(Poller):
    """Waits for a Glance image to reach a status (``active`` after an upload
    or import, ``deleted`` after a delete) by reading ``GET /v2/images/{id}``."""

    def __init__(self, http: HttpCore, auth: Auth, endpoint: str, *, provider: str = "glance",
                 clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.auth = auth
        root = endpoint.rstrip("/")
        self.endpoint = root[: -len("/v2")] if root.endswith("/v2") else root
        self.provider = provider
        self._clock = clock

    def start(self, image_id: str, *, kind: str = "upload", wanted: str = "active", target: str | None = None,
              description: str = "", profile: str = "", first_poll_after: float | None = None) -> Operation:
        now = self._clock()
        op = Operation(
            id=uuid.uuid4().hex,
            provider=self.provider,
            kind=kind,
            target=target or image_id,
            started=now,
            updated=now,
            poll_state={"image_id": image_id, "wanted": wanted},
            profile=profile,
            description=description,
        )
        if first_poll_after is not None:
            op.next_poll_at = now + first_poll_after
        return op

    async def poll(self, op: Operation) -> PollOutcome:
        image_id = op.poll_state["image_id"]
        wanted = op.poll_state.get("wanted", "active")
        url = f"{self.endpoint}/v2/images/{quote(image_id, safe='')}"
        response = await self.http.request("GET", url, provider=self.provider, auth=self.auth, expect=(200, 404))
        retry_after = parse_retry_after(response.headers)
        if response.status_code == 404:
            if wanted == "deleted":
                return PollOutcome(OperationStatus.SUCCEEDED, progress=1.0)
            return PollOutcome(OperationStatus.FAILED, error=f"image {image_id} no longer exists")
        body = decode_json(response, self.provider)
        status = body.get("status") if isinstance(body, dict) else None
        if not isinstance(status, str):
            raise InvalidResponse(self.provider, "the image has no 'status'", status=response.status_code)
        if status == wanted or (wanted == "deleted" and status == "pending_delete"):
            return PollOutcome(OperationStatus.SUCCEEDED, progress=1.0, raw=body)
        if status in _GLANCE_FAILED and wanted != "deleted":
            return PollOutcome(OperationStatus.FAILED, raw=body, error=_GLANCE_FAILED[status])
        return PollOutcome(OperationStatus.RUNNING, retry_after=retry_after, raw=body)


# -- the tracker ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OperationEvent:
    #: "tracked", "updated", "finished" or "removed"
    kind: str
    #: A snapshot of the operation at the time of the event.
    operation: Operation


EventCallback = Callable[[OperationEvent], Any]

_CLOSED = object()


class EventStream:
    """Tracker events as an async iterator; ``close()`` (or ``async with``)
    unsubscribes. Keeps at most ``maxsize`` undelivered events (oldest dropped)."""

    def __init__(self, tracker: OperationTracker, maxsize: int = 10_000) -> None:
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._maxsize = maxsize
        self._tracker = tracker
        self._closed = False
        tracker.subscribe(self._put)

    def _put(self, event: Any) -> None:
        if self._closed:
            return
        if self._queue.qsize() >= self._maxsize:
            self._queue.get_nowait()
        self._queue.put_nowait(event)

    def close(self) -> None:
        if not self._closed:
            self._tracker.unsubscribe(self._put)
            self._queue.put_nowait(_CLOSED)
            self._closed = True

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> OperationEvent:
        item = await self._queue.get()
        if item is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # stay closed for later readers
            raise StopAsyncIteration
        return item

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


def read_state_file(path: Path) -> list[dict[str, Any]]:
    """The operation records in a file ``OperationTracker.save`` wrote ([] if
    there is no file), every one checked to be a valid ``Operation``.

    A file that is not such a file, or holds a record that is not an operation,
    raises ``ValueError`` naming the file: it is damaged, and nothing of it is used.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except ValueError as exc:
        raise ValueError(f"{path}: not a saved operations file ({exc})") from None
    if not isinstance(document, dict) or document.get("version") != STATE_VERSION:
        raise ValueError(f"{path}: unsupported operations file (expected version {STATE_VERSION})")
    records = document.get("operations") or []
    if not isinstance(records, list):
        raise ValueError(f"{path}: not a saved operations file ('operations' is not a list)")
    for number, record in enumerate(records, 1):
        try:
            if not isinstance(record, dict):
                raise ValueError("not an object")
            Operation.from_dict(record)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{path}: damaged operation record #{number} ({exc})") from None
    return records


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransportError):
        return True
    if isinstance(exc, ApiError):
        return exc.status >= 500 or exc.status == 429
    return False


class OperationTracker:
    """Polls operations until they finish, each in its own task.

    ``clock`` (epoch seconds) and ``sleep`` are injectable for tests. The
    schedule of one operation: the first poll at the server's initial
    Retry-After if it gave one, else after ``backoff_initial``; after each
    answer, its Retry-After (never less, but at least ``min_interval`` so a
    "Retry-After: 0" cannot become a busy loop) or, when it gave none,
    ``backoff_initial`` doubling per such answer up to ``backoff_max``.
    """

    def __init__(
        self,
        pollers: Mapping[str, Poller] | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backoff_initial: float = 1.0,
        backoff_max: float = 15.0,
        min_interval: float = 0.2,
        max_poll_errors: int = 5,
        poll_log_limit: int = 500,
        state_path: str | os.PathLike[str] | None = None,
        autosave_delay: float = 0.5,
    ) -> None:
        self._pollers: dict[str, Poller] = dict(pollers or {})
        self._clock = clock
        self._sleep = sleep
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.min_interval = min_interval
        self.max_poll_errors = max_poll_errors
        self.poll_log_limit = poll_log_limit
        self.state_path = Path(state_path) if state_path else None
        self.autosave_delay = autosave_delay
        self._ops: dict[str, Operation] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._finished: dict[str, asyncio.Event] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._subscribers: list[EventCallback] = []
        self._save_handle: asyncio.TimerHandle | None = None

    # -- pollers ---------------------------------------------------------------
    def register(self, provider: str, poller: Poller, *, profile: str | None = None) -> None:
        """Use ``poller`` for ``provider``'s operations (of ``profile`` only, if given)."""
        self._pollers[f"{provider}/{profile}" if profile else provider] = poller

    def poller_for(self, op: Operation) -> Poller | None:
        if op.profile and f"{op.provider}/{op.profile}" in self._pollers:
            return self._pollers[f"{op.provider}/{op.profile}"]
        return self._pollers.get(op.provider)

    # -- tracking --------------------------------------------------------------
    def track(self, op: Operation, *, deadline: float | None = None, poller: Poller | None = None) -> Operation:
        """Start polling ``op`` (``deadline``: seconds from now to give up).

        Call it on the event loop the tracker polls on. Tracking an id that is
        already tracked returns the tracked one; an operation that finished in
        its first answer is recorded (and announced) without polling.
        """
        if op.id in self._ops:
            return self._ops[op.id]
        if poller is not None:
            self.register(op.provider, poller, profile=op.profile or None)
        if not op.done and self.poller_for(op) is None:
            raise LookupError(f"no poller registered for provider {op.provider!r}"
                              + (f" (profile {op.profile!r})" if op.profile else ""))
        if deadline is not None:
            op.deadline = self._clock() + deadline
        self._ops[op.id] = op
        self._finished[op.id] = asyncio.Event()
        self._emit("tracked", op)
        if op.done:
            self._finish(op)  # finished in its first answer: nothing to poll
        else:
            self._start(op)
        self._schedule_save()
        return op

    def _start(self, op: Operation) -> None:
        self._wake[op.id] = asyncio.Event()
        self._tasks[op.id] = asyncio.get_running_loop().create_task(self._run(op), name=f"poll {op.id}")

    def get(self, op_id: str) -> Operation:
        return self._ops[op_id]

    @property
    def operations(self) -> list[Operation]:
        return list(self._ops.values())

    def running(self) -> list[Operation]:
        return [op for op in self._ops.values() if not op.done]

    def set_deadline(self, op_id: str, seconds: float | None) -> None:
        """Give up on ``op_id`` ``seconds`` from now (None: never)."""
        op = self._ops[op_id]
        op.deadline = None if seconds is None else self._clock() + seconds
        self._emit("updated", op)
        self._wake_up(op_id)

    async def cancel(self, op_id: str) -> Operation:
        """Ask the provider to cancel; ``CancelNotSupported`` if its API cannot.

        The operation stays tracked until the provider reports it finished
        (canceled, or done before the cancel took effect).
        """
        op = self._ops[op_id]
        if op.done:
            return op
        poller = self.poller_for(op)
        if poller is None or not poller.can_cancel:
            raise CancelNotSupported(f"{op.provider} cannot cancel a {op.kind} operation; "
                                     "use a deadline or forget() to stop watching it")
        try:
            outcome = await poller.cancel(op)
        except NotImplementedError:
            raise CancelNotSupported(f"{op.provider} cannot cancel a {op.kind} operation") from None
        op.cancel_requested = True
        if outcome is not None and not op.done:
            self._apply(op, outcome, self._clock())
        if op.done:
            task = self._tasks.get(op_id)
            if task is not None and task is not asyncio.current_task():
                task.cancel()
            self._finish(op)
        else:
            self._emit("updated", op)
        return op

    def forget(self, op_id: str) -> None:
        """Stop watching ``op_id`` and drop it (the provider is not told)."""
        task = self._tasks.pop(op_id, None)
        if task is not None:
            task.cancel()
        op = self._ops.pop(op_id, None)
        event = self._finished.pop(op_id, None)
        self._wake.pop(op_id, None)
        if event is not None:
            event.set()
        if op is not None:
            self._emit("removed", op)
            self._schedule_save()

    async def wait(self, op_id: str, timeout: float | None = None) -> Operation:
        """The operation once it has finished (``TimeoutError`` after ``timeout`` s)."""
        event = self._finished[op_id]
        op = self._ops[op_id]
        if timeout is None:
            await event.wait()
        else:
            async with asyncio.timeout(timeout):
                await event.wait()
        return op

    async def wait_all(self, timeout: float | None = None) -> list[Operation]:
        """Every operation being polled (or finished), once all have finished.
        Loaded operations that were not resumed (no poller) are not waited for."""
        ops = [op for op in self._ops.values() if op.done or op.id in self._tasks]
        waits = [self._finished[op.id].wait() for op in ops if op.id in self._finished]
        if timeout is None:
            await asyncio.gather(*waits)
        else:
            async with asyncio.timeout(timeout):
                await asyncio.gather(*waits)
        return ops

    # -- events ----------------------------------------------------------------
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call ``callback(event)`` on every change (synchronously, on the
        tracker's loop); returns an unsubscriber."""
        self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: EventCallback) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def events(self, maxsize: int = 10_000) -> EventStream:
        """Events as an async iterator: ``async with tracker.events() as s: async for e in s: ...``"""
        return EventStream(self, maxsize)

    def _emit(self, kind: str, op: Operation) -> None:
        if not self._subscribers:
            return
        event = OperationEvent(kind, op.snapshot())
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # a broken subscriber must not stop the polling
                logger.exception("operation event subscriber failed")

    # -- the polling loop ------------------------------------------------------
    def _wake_up(self, op_id: str) -> None:
        event = self._wake.get(op_id)
        if event is not None:
            event.set()

    async def _sleep_until(self, op: Operation, when: float) -> bool:
        """Sleep until ``when`` (by the tracker's clock); True if woken early
        by a change (deadline, cancel) that needs the schedule re-read."""
        wake = self._wake[op.id]
        while True:
            remaining = when - self._clock()
            if remaining <= 0:
                return False
            if wake.is_set():
                wake.clear()
                return True
            sleeper = asyncio.ensure_future(self._sleep(remaining))
            waker = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                sleeper.cancel()
                waker.cancel()
            if wake.is_set():
                wake.clear()
                return True

    def _backoff(self, quiet_polls: int) -> float:
        return min(self.backoff_max, self.backoff_initial * (2 ** max(0, quiet_polls - 1)))

    async def _run(self, op: Operation) -> None:
        poller = self.poller_for(op)
        assert poller is not None
        errors = 0
        quiet = 0  # answers in a row without a Retry-After: the backoff exponent
        try:
            if op.next_poll_at is None:
                # The server's initial Retry-After, else our first backoff step.
                op.next_poll_at = op.not_before if op.not_before is not None else self._clock() + self.backoff_initial
            while not op.done:
                due = max(op.next_poll_at or 0.0, op.not_before or 0.0)
                if op.deadline is not None and due >= op.deadline:
                    if await self._sleep_until(op, op.deadline):
                        continue
                    self._expire(op)
                    break
                if await self._sleep_until(op, due):
                    continue
                sent = self._clock()
                allowed = op.not_before
                try:
                    outcome = await poller.poll(op)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - every failure is recorded on the operation
                    answered = self._clock()
                    errors += 1
                    retry_after = exc.retry_after if isinstance(exc, ApiError) else None
                    self._record(op, PollRecord(sent, answered, retry_after, allowed, "error"))
                    op.polls += 1
                    op.last_poll = sent
                    op.updated = answered
                    if _is_transient(exc) and errors < self.max_poll_errors:
                        op.error = f"poll {errors} of {self.max_poll_errors} failed, will retry: {exc}"
                        wait = self._backoff(errors)
                        if retry_after is not None:
                            wait = max(wait, retry_after)
                            op.not_before = answered + retry_after
                        op.next_poll_at = answered + wait
                        self._emit("updated", op)
                        continue
                    op.status = OperationStatus.FAILED
                    op.error = f"polling failed: {exc}"
                    break
                errors = 0
                answered = self._clock()
                op.polls += 1
                op.last_poll = sent
                self._record(op, PollRecord(sent, answered, outcome.retry_after, allowed, outcome.status.value))
                op.error = None
                self._apply(op, outcome, answered)
                if op.done:
                    if op.status is OperationStatus.SUCCEEDED:
                        try:
                            op.result = await poller.final(op)
                        except asyncio.CancelledError:
                            raise
                        except Exception as exc:  # noqa: BLE001
                            op.error = f"succeeded, but reading the final state failed: {exc}"
                    break
                if outcome.retry_after is not None:
                    quiet = 0
                    wait = max(outcome.retry_after, self.min_interval)
                else:
                    quiet += 1
                    wait = self._backoff(quiet)
                op.next_poll_at = answered + wait
                self._emit("updated", op)
        except asyncio.CancelledError:
            if not op.done:
                raise
        finally:
            self._tasks.pop(op.id, None)
        self._finish(op)

    def _apply(self, op: Operation, outcome: PollOutcome, answered: float) -> None:
        op.status = outcome.status
        if outcome.progress is not None:
            op.progress = outcome.progress
        if outcome.raw is not None:
            op.raw = outcome.raw
        if outcome.error:
            op.error = outcome.error
        if outcome.state:
            op.poll_state.update(outcome.state)
        op.not_before = answered + outcome.retry_after if outcome.retry_after is not None else None
        op.updated = answered

    def _record(self, op: Operation, record: PollRecord) -> None:
        op.poll_log.append(record)
        if len(op.poll_log) > self.poll_log_limit:
            del op.poll_log[: len(op.poll_log) - self.poll_log_limit]

    def _expire(self, op: Operation) -> None:
        op.status = OperationStatus.FAILED
        op.timed_out = True
        op.updated = self._clock()
        op.error = (f"stopped watching: the deadline passed before the operation finished; "
                    f"it may still be running at {op.provider}")

    def _finish(self, op: Operation) -> None:
        op.next_poll_at = None
        event = self._finished.get(op.id)
        if event is not None and not event.is_set():
            event.set()
            self._emit("finished", op)
            self._schedule_save()

    # -- persistence -----------------------------------------------------------
    def save(self, path: str | os.PathLike[str] | None = None, *, include_finished: bool = False) -> Path:
        """Write operations (unfinished ones, unless ``include_finished``) to a
        JSON file atomically: a crash mid-write leaves the previous file."""
        target = Path(path) if path is not None else self.state_path
        if target is None:
            raise ValueError("save: no path given and the tracker has no state_path")
        ops = []
        for op in self._ops.values():
            if include_finished or not op.done:
                data = op.to_dict()
                data["poll_log"] = data["poll_log"][-SAVED_POLL_RECORDS:]
                ops.append(data)
        document = {"version": STATE_VERSION, "saved_at": self._clock(), "operations": ops}
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_atomic(target, json.dumps(document, ensure_ascii=False, default=str).encode("utf-8"))

    def load(self, path: str | os.PathLike[str] | None = None) -> list[Operation]:
        """Read operations saved by ``save`` (not yet polled: call ``resume``).
        A missing file is no operations; a damaged one raises ``ValueError``
        and loads nothing."""
        source = Path(path) if path is not None else self.state_path
        if source is None:
            raise ValueError("load: no path given and the tracker has no state_path")
        loaded = []
        for record in read_state_file(source):
            op = Operation.from_dict(record)
            if op.id not in self._ops:
                self._ops[op.id] = op
                self._finished[op.id] = asyncio.Event()
                if op.done:
                    self._finished[op.id].set()
                loaded.append(op)
        return loaded

    def resume(self, ids: Iterable[str] | None = None) -> list[Operation]:
        """Start polling every unfinished operation (of ``ids`` only, if given)
        that is not being polled and has a registered poller; returns those
        started. The others stay as they are, unpolled. The saved schedule is
        kept: an operation the server asked to wait is not polled earlier."""
        wanted = None if ids is None else set(ids)
        started = []
        for op in self._ops.values():
            if wanted is not None and op.id not in wanted:
                continue
            if op.done or op.id in self._tasks or self.poller_for(op) is None:
                continue
            self._start(op)
            self._emit("tracked", op)
            started.append(op)
        return started

    def _schedule_save(self) -> None:
        if self.state_path is None or self._save_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return

        def save() -> None:
            self._save_handle = None
            try:
                self.save()
            except OSError:
                logger.exception("could not save operations to %s", self.state_path)

        self._save_handle = loop.call_later(self.autosave_delay, save)

    async def aclose(self) -> None:
        """Stop every polling task (operations stay as they are: save first to resume later)."""
        if self._save_handle is not None:
            self._save_handle.cancel()
            self._save_handle = None
            if self.state_path is not None:
                self.save()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()

    async def __aenter__(self) -> OperationTracker:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


__all__ = [
    "Operation",
    "OperationStatus",
    "OperationEvent",
    "OperationTracker",
    "EventStream",
    "PollOutcome",
    "PollRecord",
    "Poller",
    "ArmAsyncPoller",
    "YandexOperationPoller",
    "GlanceStatusPoller",
    "CancelNotSupported",
    "STATE_VERSION",
    "read_state_file",
]
