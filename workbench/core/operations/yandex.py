"""Yandex Cloud operations: the Operation service, and the resource an operation worked on."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from workbench.core.auth import Auth
from workbench.core.errors import GRPC_CODES, ApiError, InvalidResponse, clean_text
from workbench.core.http import HttpCore, decode_json
from workbench.core.operations.model import Operation, OperationStatus
from workbench.core.operations.poller import Poller, PollOutcome
from workbench.core.retry import parse_retry_after

#: How a protobuf ``Any`` (an operation's metadata or response) prefixes its ``@type``.
_ANY_TYPE_PREFIX = "type.googleapis.com/"


@dataclass(frozen=True, slots=True)
class YandexResource:
    """The kind of resource a poller's operations work on (images, say), so
    that the final state is read from its service once an operation is done.

    The driver supplies it: the core knows no service but the Operation service.
    """

    #: The resource's message name (``yandex.cloud.compute.v1.Image``): an
    #: operation's ``response`` of this type is given without its ``@type``.
    type_name: str
    #: The operation metadata's field naming the resource (``imageId``).
    id_field: str
    #: Where ``Operation.poll_state`` keeps the resource's id (``image_id``).
    state_key: str
    #: The metadata message name of a delete (``...DeleteImageMetadata``),
    #: which leaves no resource to read.
    delete_metadata: str
    #: The URL that reads one resource, from its id.
    url: Callable[[str], str | httpx.URL]

    def id_of(self, operation: Mapping[str, Any]) -> str:
        """The resource an operation works on: its metadata's id field, else its response's id."""
        metadata = operation.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get(self.id_field), str):
            return metadata[self.id_field]
        response = operation.get("response")
        if isinstance(response, dict) and isinstance(response.get("id"), str):
            return response["id"]
        return ""

    def deleted_by(self, op: Operation) -> bool:
        """A delete leaves no resource behind (told by its kind or its metadata's type)."""
        metadata = op.raw.get("metadata") if isinstance(op.raw, dict) else None
        type_name = str(metadata.get("@type", "")).removeprefix(_ANY_TYPE_PREFIX) if isinstance(metadata, dict) else ""
        return op.kind == "delete" or type_name == self.delete_metadata

    def untagged(self, message: Any) -> Any:
        """``message`` as the resource's service returns it: without the ``@type`` an operation adds."""
        if isinstance(message, dict) and message.get("@type") == _ANY_TYPE_PREFIX + self.type_name:
            return {key: value for key, value in message.items() if key != "@type"}
        return message


class YandexOperationPoller(Poller):
    """Yandex Cloud operations: ``GET {operation_endpoint}/operations/{id}``
    until ``done``, then ``error`` (a google.rpc.Status) or ``response``.
    Cancel is ``GET /operations/{id}:cancel`` (operation_service.proto).

    The final state is the operation's ``response``; with a ``resource`` it
    is read again from the resource's service (``GET resource.url(id)``), as
    an SDK refreshes a resource after its operation. ``poll_state`` then keeps
    the resource's id beside ``operation_id``: enough to resume after a
    restart with a poller made the same way.
    """

    def __init__(self, http: HttpCore, auth: Auth, operation_endpoint: str, *, provider: str = "yandex",
                 clock: Callable[[], float] = time.time, resource: YandexResource | None = None) -> None:
        self.http = http
        self.auth = auth
        self.endpoint = operation_endpoint.rstrip("/")
        self.provider = provider
        self.resource = resource
        self._clock = clock

    def _url(self, op: Operation, suffix: str = "") -> str:
        return f"{self.endpoint}/operations/{quote(op.poll_state['operation_id'], safe='')}{suffix}"

    def start(self, operation: httpx.Response | Mapping[str, Any], *, kind: str, target: str = "",
              description: str = "", profile: str = "", retry_after: float | None = None) -> Operation:
        """The Operation for an answer that is a Yandex ``Operation`` (the
        response itself, so its Retry-After is honoured, or its decoded body).
        With a ``resource``, ``target`` defaults to the resource's id."""
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
        if self.resource is not None:
            resource_id = self.resource.id_of(op.raw)
            op.poll_state[self.resource.state_key] = resource_id
            op.target = op.target or resource_id
            if op.status is OperationStatus.SUCCEEDED:
                # Done in its first answer: nothing will be polled, so the result
                # is the operation's own response (the resource, as its service lists it).
                op.result = None if self.resource.deleted_by(op) else self.resource.untagged(op.result)
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
        try:
            return await self._get(self._url(op, ":cancel"))
        except ApiError as exc:
            # FAILED_PRECONDITION: the operation is done already (perhaps our
            # own cancel, retried after its answer was lost) or cannot be
            # cancelled. Its state tells which; only the first is not an error.
            if exc.code != "FAILED_PRECONDITION":
                raise
            outcome = await self.poll(op)
            if outcome.status is OperationStatus.RUNNING:
                raise
            return outcome

    async def final(self, op: Operation) -> Any:
        response = op.raw.get("response") if isinstance(op.raw, dict) else None
        resource = self.resource
        if resource is None:
            # As the Yandex SDK does: the result is the operation's `response`
            # (the Image for a create), with its type tag.
            return response
        if resource.deleted_by(op):
            return None
        resource_id = op.poll_state.get(resource.state_key) or (
            resource.id_of(op.raw) if isinstance(op.raw, dict) else "")
        if not resource_id:
            return resource.untagged(response)
        try:
            return await self.http.get_json(resource.url(resource_id), provider=self.provider, auth=self.auth)
        except ApiError as exc:
            if exc.status == 404:  # deleted since: the operation's response is all there is
                return resource.untagged(response)
            raise
