"""OpenStack Glance / Huawei IMS: waiting for an image to reach a status."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from urllib.parse import quote

from workbench.core.auth import Auth
from workbench.core.errors import InvalidResponse
from workbench.core.http import HttpCore, decode_json
from workbench.core.operations.model import Operation, OperationStatus
from workbench.core.operations.poller import Poller, PollOutcome
from workbench.core.retry import parse_retry_after

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
