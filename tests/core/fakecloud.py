"""A small Starlette app with ARM-style and Yandex-style long-running operations.

It plays the server side of the tracker tests, and keeps the server's own
count of polls that arrived before the Retry-After it sent allowed (``early``),
so "never poll earlier than asked" is checked by the server, not by the client
that might be wrong about it.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOKEN = "fake-cloud-token-0123456789"


@dataclass
class FakeOp:
    id: str
    name: str
    polls: int = 0
    needed: int = 2
    fail: bool = False
    canceled: bool = False
    not_before: float = 0.0
    poll_times: list[float] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.canceled or self.polls >= self.needed


class FakeCloud:
    def __init__(self, *, polls_needed: int = 2, retry_after: int | None = 1, async_header: bool = True,
                 clock=time.monotonic) -> None:
        self.polls_needed = polls_needed
        #: False: ARM PUT answers without Azure-AsyncOperation, and clients
        #: poll the resource's provisioningState (each GET counts as a poll).
        self.async_header = async_header
        self.retry_after = retry_after
        self.clock = clock
        self.ops: dict[str, FakeOp] = {}
        self.early = 0
        self.requests = 0
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[
            Route("/arm/images/{name}", self.arm_put, methods=["PUT"]),
            Route("/arm/images/{name}", self.arm_get, methods=["GET"]),
            Route("/arm/images/{name}", self.arm_delete, methods=["DELETE"]),
            Route("/arm/operationResults/{op_id}", self.arm_status, methods=["GET"]),
            Route("/arm/locations/{op_id}", self.arm_location, methods=["GET"]),
            Route("/compute/images", self.yandex_create, methods=["POST"]),
            Route("/operations/{op_id}", self.yandex_operation, methods=["GET"]),
        ])

    # -- helpers ---------------------------------------------------------------
    def _authorised(self, request: Request) -> bool:
        self.requests += 1
        return request.headers.get("authorization") == f"Bearer {TOKEN}"

    def _new_op(self, name: str, needed: int | None = None) -> FakeOp:
        op = FakeOp(id=f"op{next(self._ids):05d}", name=name, needed=self.polls_needed if needed is None else needed,
                    fail=name.startswith("fail"))
        self.ops[op.id] = op
        self._promise(op)
        return op

    def _promise(self, op: FakeOp) -> dict[str, str]:
        """Headers telling the client when to come back, remembered for the check."""
        if self.retry_after is None:
            op.not_before = 0.0
            return {}
        op.not_before = self.clock() + self.retry_after
        return {"Retry-After": str(self.retry_after)}

    def _polled(self, op: FakeOp) -> None:
        now = self.clock()
        op.poll_times.append(now)
        if now < op.not_before:
            self.early += 1
        op.polls += 1

    @staticmethod
    def _unauthorised() -> JSONResponse:
        return JSONResponse({"error": {"code": "AuthenticationFailed", "message": "no token"}}, status_code=401)

    # -- ARM -------------------------------------------------------------------
    async def arm_put(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        name = request.path_params["name"]
        op = self._new_op(name)
        base = str(request.base_url).rstrip("/")
        headers = self._promise(op)
        if self.async_header:
            headers["Azure-AsyncOperation"] = f"{base}/arm/operationResults/{op.id}?api-version=2024-04-13"
        body = {"name": name, "properties": {"provisioningState": "Creating"}}
        return JSONResponse(body, status_code=201, headers=headers)

    async def arm_get(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        name = request.path_params["name"]
        op = next((o for o in self.ops.values() if o.name == name), None)
        if op is None:
            return JSONResponse({"error": {"code": "NotFound", "message": f"{name} not found"}}, status_code=404)
        headers = {}
        if not self.async_header and not op.done:
            self._polled(op)
            headers = self._promise(op) if not op.done else {}
        state = "Creating" if not op.done else ("Failed" if op.fail else "Succeeded")
        return JSONResponse({"name": name, "properties": {"provisioningState": state, "language": "Python"}},
                            headers=headers)

    async def arm_delete(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        op = self._new_op(request.path_params["name"])
        base = str(request.base_url).rstrip("/")
        return Response(status_code=202, headers={"Location": f"{base}/arm/locations/{op.id}", **self._promise(op)})

    async def arm_status(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        op = self.ops[request.path_params["op_id"]]
        self._polled(op)
        if not op.done:
            headers = self._promise(op)
            percent = 100.0 * op.polls / op.needed
            return JSONResponse({"id": op.id, "status": "InProgress", "percentComplete": percent}, headers=headers)
        if op.fail:
            return JSONResponse({"id": op.id, "status": "Failed",
                                 "error": {"code": "ImageBuildFailed", "message": "pip install failed"}})
        return JSONResponse({"id": op.id, "status": "succeeded"})  # ARM statuses are case-insensitive

    async def arm_location(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        op = self.ops[request.path_params["op_id"]]
        self._polled(op)
        if not op.done:
            return Response(status_code=202, headers=self._promise(op))
        return Response(status_code=204)

    # -- Yandex ----------------------------------------------------------------
    def _operation(self, op: FakeOp) -> dict:
        body: dict = {
            "id": op.id,
            "description": f"Create image {op.name}",
            "done": op.done,
            "metadata": {"@type": "type.googleapis.com/yandex.cloud.compute.v1.CreateImageMetadata",
                         "imageId": f"img-{op.id}"},
        }
        if op.canceled:
            body["error"] = {"code": 1, "message": "Operation cancelled", "details": []}
        elif op.done and op.fail:
            body["error"] = {"code": 9, "message": "Source disk is not ready", "details": []}
        elif op.done:
            body["response"] = {"@type": "type.googleapis.com/yandex.cloud.compute.v1.Image",
                                "id": f"img-{op.id}", "name": op.name, "status": "READY"}
        return body

    async def yandex_create(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        payload = await request.json()
        op = self._new_op(payload["name"], needed=payload.get("polls"))
        return JSONResponse(self._operation(op), headers=self._promise(op))

    async def yandex_operation(self, request: Request) -> Response:
        if not self._authorised(request):
            return self._unauthorised()
        op_id = request.path_params["op_id"]
        cancel = op_id.endswith(":cancel")
        op = self.ops.get(op_id.removesuffix(":cancel"))
        if op is None:
            return JSONResponse({"code": 5, "message": f"Operation {op_id} not found"}, status_code=404)
        if cancel:
            if not op.done:
                op.canceled = True
            return JSONResponse(self._operation(op))
        self._polled(op)
        headers = self._promise(op) if not op.done else {}
        return JSONResponse(self._operation(op), headers=headers)


class LoopbackServer:
    """``app`` served by uvicorn on a free loopback port, in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                lifespan="off", backlog=2048)
        self.server = uvicorn.Server(config)
        self.thread = None
        self.base_url = ""

    def __enter__(self) -> LoopbackServer:
        import threading

        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the loopback server did not start")
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc_info) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
