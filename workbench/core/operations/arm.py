"""Azure Resource Manager long-running operations (Kusto, and any ARM service)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from workbench.core.auth import Auth
from workbench.core.errors import InvalidResponse, clean_text, parse_error_json
from workbench.core.http import HttpCore, check_same_origin, decode_json
from workbench.core.operations.model import Operation, OperationStatus
from workbench.core.operations.poller import Poller, PollOutcome
from workbench.core.retry import parse_retry_after


def _error_text(body: Any) -> str | None:
    info = parse_error_json(body) if isinstance(body, dict) else None
    if info is None:
        return None
    text = f"{info.code}: {info.message}" if info.code else info.message
    return clean_text(text) or None


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

