"""Simulated OpenStack Glance v2, and the same API in Huawei IMS flavour.

Behaviour follows a real Glance 33 server (probed with the requests the tests
repeat against it), not only the API reference:

- version discovery: ``GET /`` answers 300 with the versions document, whose
  ``self`` links carry this simulator's host, port and service prefix;
- list paging with ``limit``/``marker`` and a *relative* ``next`` link
  (``/v2/images?...``), default page 25, at most 1000; a marker that names no
  image is a 400, a marker after the last image a 200 with an empty page;
- ``PATCH`` with both JSON-patch media types, validated op by op like Glance's
  request deserializer, then applied atomically;
- errors are webob pages negotiated on ``Accept``: JSON
  ``{"message", "code", "title"}`` for ``application/json``, HTML for ``*/*``
  and ``text/html``, plain text when there is no ``Accept`` header;
- ``X-Auth-Token`` must be a token from the simulator's Keystone (401 in
  keystonemiddleware's JSON shape otherwise); the caller is a *member* of the
  token's project, not an admin.

The IMS flavour (its own prefix and state) serves images with Huawei's
extension attributes and enforces IMS's rule for the native PATCH: only custom
attributes, the name and ``__description`` may change.

The service is split by concept: ``glance_state`` (images, visibility, list
order), ``glance_query`` (the list query), ``glance_patch`` (PATCH rules),
``glance_schema``, ``glance_errors`` (webob's pages), ``glance_disk`` (the
format inspector) and ``glance_seed`` (catalogs and fast bulk seeding). This
module holds the request handlers and mounts both endpoints.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from typing import Any, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router

from workbench.providers.glance.models import CORE_ATTRIBUTES, PATCH_MEDIA_TYPES, RESERVED_NAMESPACE
from workbench.sim import glance_seed
from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.glance_disk import INSPECTED_FORMATS, inspect_disk
from workbench.sim.glance_errors import GlanceError, render_glance_error, request_id, unsupported_media_type
from workbench.sim.glance_patch import apply_patch, parse_patch
from workbench.sim.glance_query import ListQuery
from workbench.sim.glance_schema import image_schema, images_schema, schema_violation
from workbench.sim.glance_seed import seed_bulk
from workbench.sim.glance_state import Caller, GlanceState, now_iso, snapshot
from workbench.sim.http_util import (AnyMethodRoute, ResponseHeaders, ServiceRootWithoutSlash, media_type, service_mount,
                                     service_root, simulator_root)

NOT_HELD = "The simulator holds no file for this seeded image; upload to an image created here to download it."

# Version documents exactly as the reference servers list them.
_GLANCE_VERSIONS = [("v2.15", "SUPPORTED")] + [(f"v2.{n}", "SUPPORTED") for n in range(13, 7, -1)] + [
    ("v2.17", "CURRENT")] + [(f"v2.{n}", "SUPPORTED") for n in range(7, -1, -1)]
_IMS_VERSIONS = [("v2.2", "CURRENT"), ("v2.1", "SUPPORTED"), ("v2.0", "SUPPORTED"),
                 ("v1.1", "DEPRECATED"), ("v1.0", "DEPRECATED")]

# What a create may not set (403), in Glance's two wordings.
_CREATE_READ_ONLY = ("created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size",
                     "virtual_size", "direct_url", "self", "file", "schema", "stores")
_CREATE_RESERVED = ("location", "deleted", "deleted_at", "locations")


# --------------------------------------------------------------------------------
# Bodies in, answers out
# --------------------------------------------------------------------------------

class _Unauthorized(GlanceError):
    """No valid Keystone token: keystonemiddleware answers, not Glance."""

    def __init__(self) -> None:
        super().__init__(401)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise GlanceError(400, "Body expected in request.")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep for json
        raise GlanceError(400, "Malformed JSON in request body.") from None


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    # Glance's serializer: json.dumps with the default separators.
    return Response(json.dumps(body), status, headers={"x-openstack-request-id": request_id(), **(headers or {})},
                    media_type="application/json")


def _empty(status: int = 204) -> Response:
    # Glance's empty answers carry webob's default content type.
    response = Response(b"", status, headers={"x-openstack-request-id": request_id()})
    response.headers["content-type"] = "text/html; charset=UTF-8"
    return response


# --------------------------------------------------------------------------------
# The HTTP service
# --------------------------------------------------------------------------------

class GlanceService:
    """The request handlers of one endpoint (Glance or IMS) over its state."""

    def __init__(self, ctx: SimContext, state: GlanceState, prefix: str) -> None:
        self.ctx = ctx
        self.state = state
        self.prefix = prefix
        self.versions = _IMS_VERSIONS if state.flavour == "ims" else _GLANCE_VERSIONS

    # -- plumbing -----------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        table: list[tuple[str, Callable]] = [
            ("/", self.versions_root),
            ("/versions", self.versions_list),
            ("/v2/images", self._dispatch({"GET": self.list_images, "POST": self.create_image})),
            ("/v2/images/{image_id}", self._dispatch(
                {"GET": self.show_image, "PATCH": self.update_image, "DELETE": self.delete_image})),
            ("/v2/images/{image_id}/file", self._dispatch({"GET": self.download, "PUT": self.upload})),
            ("/v2/images/{image_id}/tags/{tag}", self._dispatch({"PUT": self.add_tag, "DELETE": self.delete_tag})),
            ("/v2/schemas/image", self._dispatch({"GET": self.image_schema})),
            ("/v2/schemas/images", self._dispatch({"GET": self.images_schema})),
            ("/{path:path}", self.fallback),
        ]
        # Every method (PROPFIND too) reaches the handler, which answers 405 the way Glance does.
        return [AnyMethodRoute(path, endpoint) for path, endpoint in table]

    def _dispatch(self, handlers: dict[str, Callable]) -> Callable:
        async def endpoint(request: Request) -> Response:
            try:
                caller = self._authenticate(request)
                handler = handlers.get(request.method)
                if handler is None:
                    allowed = ", ".join(handlers)
                    raise GlanceError(405, headers={"Allow": allowed},
                                      body=f"The method {request.method} is not allowed for this resource. <br /><br />\n")
                return await handler(request, caller)
            except GlanceError as error:
                return self.error_response(request, error)
        return endpoint

    def _authenticate(self, request: Request) -> Caller:
        token = self.ctx.tokens.check("keystone", request.headers.get("x-auth-token"))
        if token is None or not token.project_id:
            raise _Unauthorized()
        return Caller(token.project_id)

    def error_response(self, request: Request, error: GlanceError) -> Response:
        if isinstance(error, _Unauthorized):
            # keystonemiddleware answers before Glance: always JSON.
            root = simulator_root(request, self.prefix)
            body = {"error": {"code": 401, "title": "Unauthorized",
                              "message": "The request you have made requires authentication."}}
            return Response(json.dumps(body), 401, media_type="application/json; charset=UTF-8",
                            headers={"WWW-Authenticate": f'Keystone uri="{root}{PREFIXES["keystone"]}"'})
        return render_glance_error(request, error)

    def render_fault(self, request: Request, status: int, code: str, message: str) -> Response:
        return render_glance_error(request, GlanceError(status, message))

    def _visible(self, image_id: str, caller: Caller, missing: GlanceError | None = None) -> dict:
        image = self.state.images.get(image_id)
        if image is None or not caller.can_see(image):
            raise missing or GlanceError(404, f"No image found with ID {image_id}")
        return image

    def _may_modify(self, image: dict, caller: Caller, action: str = "modify_image") -> None:
        if not caller.owns(image):
            raise GlanceError(403, f"You are not authorized to complete {action} action.")

    # -- version discovery ----------------------------------------------------------
    def versions_document(self, root: str) -> dict:
        return {"versions": [
            {"id": vid, "status": status, "links": [{"rel": "self", "href": f"{root}/{vid.split('.')[0]}/"}]}
            for vid, status in self.versions]}

    async def versions_root(self, request: Request) -> Response:
        return _json(self.versions_document(service_root(request)), 300)

    async def versions_list(self, request: Request) -> Response:
        return _json(self.versions_document(service_root(request)), 200)

    async def fallback(self, request: Request) -> Response:
        path = request.path_params["path"]
        root = service_root(request)
        if re.fullmatch(r"v2(\.\d+)?", path):
            return Response(b"", 302, headers={"Location": f"{root}/v2/", "x-openstack-request-id": request_id()},
                            media_type="text/plain; charset=utf8")
        if re.match(r"v\d", path) and not path.startswith("v2/"):
            return _json(self.versions_document(root), 300)
        try:
            self._authenticate(request)
            raise GlanceError(404)
        except GlanceError as error:
            return self.error_response(request, error)

    # -- schemas ----------------------------------------------------------------------
    async def image_schema(self, request: Request, caller: Caller) -> Response:
        return _json(self.state.schema)

    async def images_schema(self, request: Request, caller: Caller) -> Response:
        return _json(images_schema(self.state.flavour))

    # -- images -------------------------------------------------------------------------
    async def list_images(self, request: Request, caller: Caller) -> Response:
        items = list(request.query_params.multi_items())
        query = ListQuery(items)
        images, next_marker = self.state.page(caller, query)
        # first/next keep every parameter (the last value of repeated ones), marker aside
        params = dict(items)
        params.pop("marker", None)
        encoded = urlencode(params)
        body: dict[str, Any] = {"images": images, "first": "/v2/images" + (f"?{encoded}" if encoded else ""),
                                "schema": "/v2/schemas/images"}
        if next_marker:
            body["next"] = "/v2/images?" + urlencode({**params, "marker": next_marker})
        return _json(body)

    async def show_image(self, request: Request, caller: Caller) -> Response:
        with self.state.lock:
            image = snapshot(self._visible(request.path_params["image_id"], caller))
        return _json(image)

    async def create_image(self, request: Request, caller: Caller) -> Response:
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise GlanceError(400, "Request body must be a JSON object.")
        for key in body:
            if key in _CREATE_READ_ONLY:
                raise GlanceError(403, f"Attribute '{key}' is read-only.")
            if key in _CREATE_RESERVED or key.startswith(RESERVED_NAMESPACE):
                raise GlanceError(403, detail=f"Attribute '{key}' is reserved.")
        if problem := schema_violation(self.state.schema, body):
            raise GlanceError(400, problem)
        props = dict(body)
        tags = list(dict.fromkeys(props.pop("tags", [])))
        image_id = props.pop("id", None) or str(uuid.uuid4())
        core = {key: props.pop(key) for key in list(props) if key in CORE_ATTRIBUTES}
        for key in ("min_ram", "min_disk"):
            if core.get(key, 0) < 0:
                raise GlanceError(400, f"Invalid value '{core[key]}' for parameter '{key}': Cannot be a negative value")
        if core.get("visibility") == "public":
            raise GlanceError(403, "You are not authorized to complete publicize_image action.")
        owner = core.pop("owner", None) or caller.project_id
        if owner != caller.project_id:
            raise GlanceError(403, f"You are not permitted to create images owned by '{owner}'.")
        with self.state.lock:
            if image_id in self.state.images:
                raise GlanceError(409, f"Image ID {image_id} already exists!")
            image = snapshot(self.state.new_image(image_id, owner, core, props, tags))
        location = f"{service_root(request)}/v2/images/{image_id}"
        return _json(image, 201, headers={"Location": location, "OpenStack-image-store-ids": "fs"})

    async def update_image(self, request: Request, caller: Caller) -> Response:
        versions = {PATCH_MEDIA_TYPES[0]: 4, PATCH_MEDIA_TYPES[1]: 10}
        media = media_type(request)
        if media not in versions:
            raise unsupported_media_type(
                media, "Image PATCH expects Content-Type one of: " + ", ".join(PATCH_MEDIA_TYPES),
                headers={"Accept-Patch": ", ".join(PATCH_MEDIA_TYPES)})
        raw = await _json_body(request)
        changes = parse_patch(raw, versions[media], self.state)
        image_id = request.path_params["image_id"]
        with self.state.lock:
            image = self._visible(image_id, caller)
            self._may_modify(image, caller)
            patched = apply_patch(image, changes, self.state.flavour)
            if changes:
                patched["updated_at"] = now_iso()
            self.state.replace(patched)
            result = snapshot(patched)
        return _json(result)

    async def delete_image(self, request: Request, caller: Caller) -> Response:
        image_id = request.path_params["image_id"]
        with self.state.lock:
            image = self._visible(image_id, caller, GlanceError(404, f"Failed to find image {image_id} to delete"))
            self._may_modify(image, caller, "delete_image")
            if image.get("protected"):
                raise GlanceError(403, f"Image {image_id} is protected and cannot be deleted.")
            self.state.drop(image_id)
        return _empty()

    # -- image data ---------------------------------------------------------------------
    async def upload(self, request: Request, caller: Caller) -> Response:
        media = media_type(request)
        if media != "application/octet-stream":
            raise unsupported_media_type(media, f"Invalid content type {media}")
        image_id = request.path_params["image_id"]
        state = self.state
        with state.lock:
            self._may_modify(self._visible(image_id, caller), caller, "upload_image")
            image = state.writable(image_id)
            if image["status"] != "queued":
                raise GlanceError(409, f"Image status transition from {image['status']} to saving is not allowed")
            if not image.get("disk_format") or not image.get("container_format"):
                raise GlanceError(400, "Properties disk_format, container_format must be set prior to saving data.")
            image["status"] = "saving"  # visible to other callers while the data streams in
            state.touch()
        data = bytearray()
        try:
            async for chunk in request.stream():
                data.extend(chunk)
        except BaseException:
            with state.lock:
                if image_id in state.images:
                    state.images[image_id]["status"] = "queued"
                    state.touch()
            raise
        found, virtual_size = inspect_disk(bytes(data))
        declared = image["disk_format"]
        with state.lock:
            current = state.images.get(image_id)
            if current is None:
                raise GlanceError(410, f"Image {image_id} could not be found after upload. "
                                       "The image may have been deleted during the upload.")
            state.touch()
            if declared in INSPECTED_FORMATS and found != declared:
                current["status"] = "queued"
                raise unsupported_media_type(media, f"Image disk_format {declared} does not match stream data {found}")
            if self.ctx.faults.operation_should_fail():
                # A fault-injected failed upload fails as a full store does in Glance
                # (image_data.py: StorageFull -> 413, the image restored to queued).
                current["status"] = "queued"
                raise GlanceError(413, "Image storage media is full: "
                                       "There is not enough disk space on the image storage media.")
            if declared not in INSPECTED_FORMATS and declared != "raw":
                virtual_size = None  # formats Glance does not inspect report no virtual size
            current.update(size=len(data), virtual_size=virtual_size, checksum=hashlib.md5(data).hexdigest(),
                           status="active", updated_at=now_iso())
            if state.flavour == "ims":
                current["__image_size"] = str(len(data))
            else:
                current.update(os_hash_algo="sha512", os_hash_value=hashlib.sha512(data).hexdigest(), stores="fs")
            state.files[image_id] = bytes(data)
        return _empty()

    async def download(self, request: Request, caller: Caller) -> Response:
        image_id = request.path_params["image_id"]
        with self.state.lock:
            image = self._visible(image_id, caller)
            data = self.state.files.get(image_id)
            status = image["status"]
            checksum = image.get("checksum")
        if status == "deactivated":
            raise GlanceError(403, "The requested image has been deactivated. Image data download is forbidden.")
        if status == "queued" or (status != "active" and data is None):
            return Response(b"", 204, headers={"x-openstack-request-id": request_id()})
        if data is None:
            raise GlanceError(404, detail=NOT_HELD)
        return Response(data, 200, media_type="application/octet-stream",
                        headers={"Content-MD5": checksum or "", "x-openstack-request-id": request_id()})

    # -- tags -----------------------------------------------------------------------------
    async def add_tag(self, request: Request, caller: Caller) -> Response:
        image_id, tag = request.path_params["image_id"], request.path_params["tag"]
        with self.state.lock:
            self._may_modify(self._visible(image_id, caller, GlanceError(404, f"Image {image_id} not found.")), caller)
            if problem := schema_violation(self.state.schema, {"tags": [tag]}):
                raise GlanceError(400, problem)
            image = self.state.writable(image_id)
            if tag not in image["tags"]:
                image["tags"].append(tag)
            image["updated_at"] = now_iso()
            self.state.touch()
        return _empty()

    async def delete_tag(self, request: Request, caller: Caller) -> Response:
        image_id, tag = request.path_params["image_id"], request.path_params["tag"]
        with self.state.lock:
            self._may_modify(self._visible(image_id, caller, GlanceError(404, f"Image {image_id} not found.")), caller)
            image = self.state.writable(image_id)
            if tag not in image["tags"]:
                raise GlanceError(404)
            image["tags"].remove(tag)
            image["updated_at"] = now_iso()
            self.state.touch()
        return _empty()


# --------------------------------------------------------------------------------
# Mounting
# --------------------------------------------------------------------------------

def _service(ctx: SimContext, key: str, flavour: str) -> list[BaseRoute]:
    state = GlanceState(flavour, ctx)
    glance_seed.seed(state, ctx)
    ctx.states[key] = state
    prefix = PREFIXES[key]
    service = GlanceService(ctx, state, prefix)
    api = ctx.faults.wrap(Router(routes=service.routes()), service.render_fault)
    # Injected faults and 404s carry a request id too, as every Glance answer does.
    app = ResponseHeaders(api, lambda scope: {"x-openstack-request-id": request_id()}, keep_existing=True)
    return [Route(prefix, ServiceRootWithoutSlash(app, prefix)), service_mount(prefix, app)]


def mounts(ctx: SimContext) -> list[BaseRoute]:
    """Glance at PREFIXES["glance"] and the IMS flavour at PREFIXES["ims"] (separate state)."""
    return _service(ctx, "glance", "glance") + _service(ctx, "ims", "ims")


# Names other code imports from here, from before the split into modules.
__all__ = ["Caller", "GlanceError", "GlanceService", "GlanceState", "ListQuery", "apply_patch", "image_schema",
           "images_schema", "inspect_disk", "mounts", "parse_patch", "render_glance_error", "schema_violation",
           "seed_bulk", "snapshot"]
