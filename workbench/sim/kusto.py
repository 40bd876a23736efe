"""Simulated Azure Resource Manager for Kusto sandbox custom images (api-version 2024-04-13).

Served at ``PREFIXES["kusto"]``, the root ``KustoManagementClient(base_url=...)``
takes. What real clients rely on, and this module therefore does:

- PUT answers 201 (create, ``Creating``) or 200 (update, ``Accepted``), never
  202, with an absolute ``Azure-AsyncOperation`` URL back at the simulator
  (carrying its own api-version) and ``Retry-After``; ``provisioningState`` goes
  Accepted -> Creating -> Succeeded (or Failed) over ``operation_polls`` polls
  of that URL, and once the status says Succeeded the resource already says so.
- PATCH merges (JSON merge patch) and answers 202; DELETE answers 202 with
  ``Azure-AsyncOperation`` and ``Location``, or 204 when the image is absent.
- The list pages with an absolute ``nextLink`` (``$skiptoken``).
- Every error is an ARM ``ErrorResponse``; every answer carries
  ``x-ms-request-id`` and ``x-ms-correlation-request-id``.

ARM resource names and path literals are case-insensitive, and so is the name of
the ``api-version`` query parameter.

This module holds the resource provider's handlers and its paths;
``kusto_arm`` what ARM does in front of it, ``kusto_state`` the clusters,
images and operations, ``kusto_seed`` what they start with.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import logging
import re
from typing import Any, Awaitable, Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from workbench.providers.kusto.models import (
    API_VERSION,
    MANAGED_BASE_IMAGE_NAMES,
    CheckNameRequest,
    CreateOrUpdateSandboxCustomImage,
)
from workbench.sim import kusto_seed
from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext
from workbench.sim.http_util import AnyMethodRoute, ResponseHeaders, service_mount, service_root
from workbench.sim.kusto_arm import (
    ArmError,
    arm_error_response,
    arm_ids,
    authenticate,
    bad_request,
    check_api_version,
    invalid,
    json_object,
    query_param,
    render_error,
)
from workbench.sim.kusto_state import (
    CANCELED,
    CREATE_OR_UPDATE,
    DELETE,
    FAILED,
    TERMINAL,
    UPDATE,
    Cluster,
    KustoState,
    Operation,
)

_log = logging.getLogger(__name__)

SUPPORTED_API_VERSIONS: tuple[str, ...] = (API_VERSION,)
#: Images per list page unless ``config.extra["kusto_page_size"]`` says otherwise.
DEFAULT_PAGE_SIZE = 200
# The seeded catalog, under its name from before the split into modules (tests count it).
_CATALOG = kusto_seed.CATALOG

_CLUSTER_PATH = (
    r"subscriptions/(?P<sub>[^/]*)/resourceGroups/(?P<rg>[^/]*)"
    r"/providers/Microsoft\.Kusto/clusters/(?P<cluster>[^/]+)"
)
_IMAGES_PATH = re.compile(rf"^{_CLUSTER_PATH}/sandboxCustomImages/?$", re.IGNORECASE)
_IMAGE_PATH = re.compile(rf"^{_CLUSTER_PATH}/sandboxCustomImages/(?P<image>[^/]+)/?$", re.IGNORECASE)
_CHECK_NAME_PATH = re.compile(rf"^{_CLUSTER_PATH}/sandboxCustomImagesCheckNameAvailability/?$", re.IGNORECASE)
_OPERATION_PATH = re.compile(
    r"^subscriptions/(?P<sub>[^/]+)/providers/Microsoft\.Kusto/locations/(?P<location>[^/]+)"
    r"/operationResults/(?P<operation>[^/]+)/?$",
    re.IGNORECASE,
)
_CLUSTER_CHILD_PATH = re.compile(rf"^{_CLUSTER_PATH}/(?P<child>[^/]+)", re.IGNORECASE)

#: the properties a caller sets; provisioningState is the service's
_USER_PROPERTIES = ("language", "languageVersion", "baseImageName", "requirementsFileContent")


class KustoService:
    """The Microsoft.Kusto sandbox custom image API over one ``KustoState``."""

    def __init__(self, ctx: SimContext, state: KustoState) -> None:
        self.ctx = ctx
        self.state = state
        #: path pattern -> {method: handler}
        self.routes: tuple[tuple[re.Pattern, dict[str, Callable[..., Awaitable[Response]]]], ...] = (
            (_IMAGES_PATH, {"GET": self.list_images}),
            (_IMAGE_PATH, {"GET": self.get_image, "PUT": self.put_image, "PATCH": self.patch_image, "DELETE": self.delete_image}),
            (_CHECK_NAME_PATH, {"POST": self.check_name}),
            (_OPERATION_PATH, {"GET": self.get_operation}),
        )

    @property
    def page_size(self) -> int:
        return max(1, int(self.ctx.config.extra.get("kusto_page_size", DEFAULT_PAGE_SIZE)))

    async def handle(self, request: Request) -> Response:
        try:
            return await self._dispatch(request)
        except ArmError as exc:
            return exc.response()
        except Exception:  # a simulator bug still answers in ARM's shape
            _log.exception("kusto simulator failed on %s %s", request.method, request.url.path)
            return arm_error_response(500, "InternalServerError", "The simulator failed to process the request.")

    async def _dispatch(self, request: Request) -> Response:
        check_api_version(request, SUPPORTED_API_VERSIONS)
        authenticate(self.ctx, request)
        path = request.path_params["path"]
        for pattern, methods in self.routes:
            match = pattern.match(path)
            if match is None:
                continue
            handler = methods.get(request.method)
            if handler is None:
                raise ArmError(
                    405, "MethodNotAllowed",
                    f"The requested resource does not support http method '{request.method}'.",
                    headers={"Allow": ", ".join(methods)},
                )
            return await handler(request, **match.groupdict())
        child = _CLUSTER_CHILD_PATH.match(path)
        if child is not None:
            raise ArmError(
                404, "InvalidResourceType",
                f"The resource type '{child['child']}' could not be found in the namespace 'Microsoft.Kusto' "
                f"for api version '{API_VERSION}'.",
            )
        raise ArmError(404, "NotFound", f"No Microsoft.Kusto sandbox custom image API is served at '/{path}'.")

    # -- list --------------------------------------------------------------------
    async def list_images(self, request: Request, sub: str, rg: str, cluster: str) -> Response:
        skiptoken = query_param(request, "$skiptoken")
        after = _decode_skiptoken(skiptoken) if skiptoken else None
        page_size = self.page_size
        with self.state.lock:
            found = self.state.find_cluster(sub, rg, cluster)
            start = bisect.bisect_right(found.order, after) if after is not None else 0
            keys = found.order[start : start + page_size]
            value = [found.image_body(found.images[key]) for key in keys]
            more = start + page_size < len(found.order)
        body: dict[str, Any] = {"value": value}
        if more:
            token = base64.urlsafe_b64encode(keys[-1].encode()).decode().rstrip("=")
            base = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
            body["nextLink"] = f"{base}?api-version={API_VERSION}&$skiptoken={token}"
        return JSONResponse(body)

    # -- one image -------------------------------------------------------------
    async def get_image(self, request: Request, sub: str, rg: str, cluster: str, image: str) -> Response:
        with self.state.lock:
            found = self.state.find_cluster(sub, rg, cluster)
            record = found.images.get(image.lower())
            if record is None:
                raise self.state.image_not_found(found, image)
            return JSONResponse(found.image_body(record))

    async def put_image(self, request: Request, sub: str, rg: str, cluster: str, image: str) -> Response:
        # ARM resolves the path before the resource provider reads the body.
        with self.state.lock:
            found = self.state.find_cluster(sub, rg, cluster)
        body = await json_object(request)
        properties = _validated_properties(body)
        key = image.lower()
        with self.state.lock:
            _check_base_image(found, key, properties)
            existing = found.images.get(key)
            if existing is None:
                record = {"name": image, "properties": {}, "operation": None}
                found.add(key, record)
            else:
                record = existing
            # As the service's examples answer: a create (201) is already
            # Creating, an update (200) is Accepted and becomes Creating on the first poll.
            state = "Accepted" if existing is not None else "Creating"
            record["properties"] = {**properties, "provisioningState": state}
            op = self.state.start_operation(found, key, CREATE_OR_UPDATE)
            response_body = found.image_body(record)
        return JSONResponse(
            response_body, status_code=200 if existing is not None else 201, headers=self._async_headers(request, op)
        )

    async def patch_image(self, request: Request, sub: str, rg: str, cluster: str, image: str) -> Response:
        key = image.lower()
        with self.state.lock:
            found = self.state.find_cluster(sub, rg, cluster)
            if key not in found.images:
                raise self.state.image_not_found(found, image)
        body = await json_object(request)
        patch = body.get("properties")
        if patch is None:
            patch = {}
        if not isinstance(patch, dict):
            raise invalid("properties", "The property 'properties' must be a JSON object.")
        with self.state.lock:
            record = found.images.get(key)
            if record is None:  # deleted while the body was read
                raise self.state.image_not_found(found, image)
            merged = {k: v for k, v in record["properties"].items() if k in _USER_PROPERTIES}
            for name, value in patch.items():
                if name not in _USER_PROPERTIES:
                    continue  # read-only (provisioningState) and unknown members are ignored, as ARM does
                if value is None:
                    merged.pop(name, None)
                else:
                    merged[name] = value
            properties = _validated_properties({"properties": merged})
            _check_base_image(found, key, properties)
            record["properties"] = {**properties, "provisioningState": "Accepted"}
            op = self.state.start_operation(found, key, UPDATE)
            response_body = found.image_body(record)
        return JSONResponse(response_body, status_code=202, headers=self._async_headers(request, op, location=True))

    async def delete_image(self, request: Request, sub: str, rg: str, cluster: str, image: str) -> Response:
        key = image.lower()
        with self.state.lock:
            found = self.state.find_cluster(sub, rg, cluster)
            record = found.images.get(key)
            if record is None:
                return Response(status_code=204)
            record["properties"]["provisioningState"] = "Deleting"
            op = self.state.start_operation(found, key, DELETE)
        return Response(status_code=202, headers=self._async_headers(request, op, location=True))

    async def check_name(self, request: Request, sub: str, rg: str, cluster: str) -> Response:
        with self.state.lock:
            found = self.state.find_cluster(sub, rg, cluster)
        body = await json_object(request)
        try:
            checked = CheckNameRequest.model_validate(body)
        except ValidationError as exc:
            raise bad_request(exc) from None
        name = checked.name
        if not name.strip() or "/" in name:
            result = {
                "name": name,
                "nameAvailable": False,
                "reason": "Invalid",
                "message": f"Name '{name}' is invalid: a sandbox custom image name must not be empty or contain '/'.",
            }
        else:
            with self.state.lock:
                taken = name.lower() in found.images
            result = {"name": name, "nameAvailable": not taken}
            if taken:
                # Worded as the service's own example (which carries no reason).
                result["message"] = f"Name '{name}' is already taken. Please specify a different name"
        return JSONResponse(result)

    # -- operation status --------------------------------------------------------
    async def get_operation(self, request: Request, sub: str, location: str, operation: str) -> Response:
        with self.state.lock:
            op = self.state.operations.get(operation.lower())
            if op is None or op.subscription.lower() != sub.lower() or op.location.lower() != location.lower():
                raise ArmError(
                    404, "ResourceNotFound",
                    f"The operation '{operation}' was not found in subscription '{sub}' and location '{location}'.",
                )
            self.state.poll(op)
            body = op.body()
            status, error = op.status, op.error
        headers = self._async_headers(request, op, location=False) if status not in TERMINAL else {}
        if (query_param(request, "operationResultResponseType") or "").lower() == "location":
            # Location-style polling: 202 while running, then the outcome as a status code.
            if status not in TERMINAL:
                return Response(status_code=202, headers=headers)
            if status == FAILED:
                raise ArmError(400, error["code"], error["message"])
            if status == CANCELED:
                raise ArmError(409, error["code"], error["message"])
        return JSONResponse(body, headers=headers)

    def _async_headers(self, request: Request, op: Operation, location: bool = False) -> dict[str, str]:
        url = f"{service_root(request)}{op.path}?api-version={API_VERSION}"
        headers = {"Azure-AsyncOperation": url, "Retry-After": str(self.ctx.config.operation_retry_after)}
        if location:
            headers["Location"] = f"{url}&operationResultResponseType=Location"
        return headers


def _decode_skiptoken(token: str) -> str:
    try:
        key = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
        if not key:
            raise ValueError("empty continuation key")
        return key
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ArmError(
            400, "InvalidSkipToken",
            f"The $skiptoken '{token}' is not valid: follow the nextLink of the previous page as it is.",
            target="$skiptoken",
        ) from None


def _validated_properties(body: dict) -> dict:
    """The user-settable properties of a valid PUT body, in the service's member order."""
    try:
        model = CreateOrUpdateSandboxCustomImage.model_validate(body)
    except ValidationError as exc:
        raise bad_request(exc) from None
    return {k: v for k, v in model.properties.to_json_dict().items() if k in _USER_PROPERTIES}


def _check_base_image(cluster: Cluster, key: str, properties: dict) -> None:
    """baseImageName names a managed image or another custom image of the cluster."""
    base = properties.get("baseImageName")
    if base is None or base in MANAGED_BASE_IMAGE_NAMES:
        return
    if base.lower() == key:
        raise invalid("properties.baseImageName", f"baseImageName: the sandbox custom image '{base}' cannot be its own base image.")
    if base.lower() not in cluster.images:
        raise invalid(
            "properties.baseImageName",
            f"baseImageName '{base}' is neither a managed image ({', '.join(MANAGED_BASE_IMAGE_NAMES)}) nor an "
            f"existing sandbox custom image of cluster '{cluster.name}'.",
        )


def build_state(ctx: SimContext) -> KustoState:
    """A seeded state, as ``mounts`` serves it."""
    state = KustoState(ctx)
    kusto_seed.seed(state)
    return state


def mounts(ctx: SimContext) -> list[BaseRoute]:
    state = build_state(ctx)
    ctx.states["kusto"] = state
    service = KustoService(ctx, state)
    # Every method and path reaches handle, which answers 404/405 in ARM's shape.
    api = Starlette(routes=[AnyMethodRoute("/{path:path}", service.handle)])
    # ARM's request and correlation ids go on every answer, injected faults included.
    app = ResponseHeaders(ctx.faults.wrap(api, render_error), arm_ids)
    return [service_mount(PREFIXES["kusto"], app)]


__all__ = ["ArmError", "KustoService", "KustoState", "SUPPORTED_API_VERSIONS", "build_state", "mounts", "render_error"]
