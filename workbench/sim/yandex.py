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

This module holds the handlers and mounts both hosts; ``yandex_gateway`` (errors,
request ids, routing), ``yandex_state``, ``yandex_filter`` (the list filter) and
``yandex_seed`` hold the rest.
"""

from __future__ import annotations

import bisect
import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from workbench.providers.yandex import models as ym
from workbench.providers.yandex.models import Code
from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.http_util import service_mount
from workbench.sim.yandex_filter import parse_filter, parse_order_by
from workbench.sim.yandex_gateway import (
    YandexApiError,
    authenticate,
    json_body,
    parse_request,
    query_params,
    resource,
    service_app,
    timestamp,
    validation_error,
)
from workbench.sim.yandex_seed import seed
from workbench.sim.yandex_state import GIB, IMAGE_ID_PREFIX, SimOperation, YandexComputeState

SERVICE = "yandex"

#: A validated request body, handed from ``validate`` to ``start`` (see ``_once_per_key``).
Spec = TypeVar("Spec")


# -- idempotency ---------------------------------------------------------------------------
def idempotency_key(request: Request) -> str | None:
    """The ``Idempotency-Key`` header (a UUID), if sent."""
    key = request.headers.get("idempotency-key", "").strip()
    if not key:
        return None
    try:
        uuid.UUID(key)
    except ValueError:
        raise validation_error([("Idempotency-Key", f"must be a UUID, got {key!r}")]) from None
    return key


def fingerprint(request: Request, body: dict | None = None) -> str:
    """What makes two calls with one idempotency key the same call."""
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

    def _once_per_key(self, request: Request, body: dict | None, validate: Callable[[], Spec],
                      start: Callable[[Spec], SimOperation]) -> Response:
        """Answer a state-changing call: ``validate()`` the request, then ``start`` its
        operation under the state's lock, once per ``Idempotency-Key``.

        A call that repeats a key gets the operation the key started, as it is now; the
        key with another method, path or body is INVALID_ARGUMENT (``state.replay``). The
        key is looked up before ``validate``, so that a reused key is reported before the
        new body's own errors, and again under the lock, as a concurrent twin may have
        started the operation in between.
        """
        key, print_ = idempotency_key(request), fingerprint(request, body)
        state = self.state
        with state.lock:
            replayed = state.replay(key, print_)
        if replayed is not None:
            return self._operation_response(replayed)
        spec = validate()
        with state.lock:
            replayed = state.replay(key, print_)
            if replayed is not None:
                return self._operation_response(replayed)
            op = start(spec)
            state.remember(key, print_, op)
            return self._operation_response(op)

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

    # -- ImageService ----------------------------------------------------------------
    async def get_image(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        return JSONResponse(self._image(request.path_params["image_id"]))

    async def latest_by_family(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        query = parse_request(ym.GetImageLatestByFamilyRequest, query_params(request, "folderId", "family"))
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
        query = parse_request(
            ym.ListImagesRequest,
            query_params(request, "folderId", "pageSize", "pageToken", "filter", "orderBy"),
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

        def validate() -> ym.CreateImageRequest:
            spec = parse_request(ym.CreateImageRequest, body)
            self._check_folder(spec.folder_id, write=True)
            return spec

        return self._once_per_key(request, body, validate, lambda spec: self._start_create(spec, token.subject))

    def _start_create(self, spec: ym.CreateImageRequest, created_by: str) -> SimOperation:
        """The new image and its create operation (the caller holds the state's lock)."""
        state = self.state
        if spec.name and (spec.folder_id, spec.name) in state.names:
            raise YandexApiError(Code.ALREADY_EXISTS, f"Image with name {spec.name} already exists")
        now = time.time()
        image, pending_sizes = self._new_image(spec, self._source(spec), now)
        state.add_image(image, now)
        state.pending_sizes[image["id"]] = pending_sizes
        return state.new_operation(
            "create", image["id"], created_by, self.ctx.config.operation_polls,
            will_fail=self.ctx.faults.operation_should_fail(),
        )

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

        def validate() -> ym.UpdateImageRequest:
            return parse_request(ym.UpdateImageRequest, {**body, "imageId": image_id})

        return self._once_per_key(request, body, validate,
                                  lambda spec: self._start_update(image_id, spec, token.subject))

    def _start_update(self, image_id: str, spec: ym.UpdateImageRequest, created_by: str) -> SimOperation:
        """The changed image and its update operation (the caller holds the state's lock)."""
        state = self.state
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
        return state.new_operation("update", image_id, created_by, self.ctx.config.operation_polls)

    async def delete_image(self, request: Request) -> Response:
        token = authenticate(self.ctx, request)
        image_id = request.path_params["image_id"]
        return self._once_per_key(request, None, lambda: None,
                                  lambda _: self._start_delete(image_id, token.subject))

    def _start_delete(self, image_id: str, created_by: str) -> SimOperation:
        """The image marked DELETING and its delete operation (the caller holds the state's lock)."""
        image = self._image(image_id)
        self._check_folder(image["folderId"], write=True)
        if image["status"] in ("CREATING", "DELETING"):
            raise YandexApiError(
                Code.FAILED_PRECONDITION, f"Image {image_id} cannot be deleted in status {image['status']}"
            )
        self.state.set_status(image_id, "DELETING")
        return self.state.new_operation("delete", image_id, created_by, self.ctx.config.operation_polls)

    async def list_image_operations(self, request: Request) -> Response:
        authenticate(self.ctx, request)
        image_id = request.path_params["image_id"]
        query = parse_request(ym.ListImageOperationsRequest,
                            {**query_params(request, "pageSize", "pageToken"), "imageId": image_id})
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
        service_mount(PREFIXES["yandex_compute"], service_app(compute_routes, ctx.faults)),
        service_mount(PREFIXES["yandex_operation"], service_app(operation_routes, ctx.faults)),
    ]


__all__ = ["ComputeImages", "SERVICE", "fingerprint", "idempotency_key", "mounts"]
