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
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import logging
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from workbench.providers.kusto.models import (
    API_VERSION,
    MANAGED_BASE_IMAGE_NAMES,
    RESOURCE_TYPE,
    CheckNameRequest,
    CreateOrUpdateSandboxCustomImage,
)
from workbench.sim.app import PREFIXES
from workbench.sim.context import SimContext

_log = logging.getLogger(__name__)

SUPPORTED_API_VERSIONS: tuple[str, ...] = (API_VERSION,)
#: Images per list page unless ``config.extra["kusto_page_size"]`` says otherwise.
DEFAULT_PAGE_SIZE = 200

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_RESOURCE_GROUP_CHARS = re.compile(r"^[-\w.()]+$")
_NOT_FOUND_FIX = "For more details please go to https://aka.ms/ARMResourceNotFoundFix"

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

_IN_PROGRESS, _SUCCEEDED, _FAILED, _CANCELED = "InProgress", "Succeeded", "Failed", "Canceled"
# operationKind of the operations this service runs
_CREATE_OR_UPDATE, _UPDATE, _DELETE = (
    "SandboxCustomImageCreateOrUpdate",
    "SandboxCustomImageUpdate",
    "SandboxCustomImageDelete",
)
_TERMINAL = frozenset({_SUCCEEDED, _FAILED, _CANCELED})


class ArmError(Exception):
    """An answer in ARM's ErrorResponse shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        target: str | None = None,
        details: list[dict] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.target, self.details, self.headers = target, details or [], headers or {}

    def response(self) -> JSONResponse:
        return arm_error_response(self.status, self.code, self.message, self.target, self.details, self.headers)


def arm_error_response(
    status: int,
    code: str,
    message: str,
    target: str | None = None,
    details: list[dict] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {
        "error": {"code": code, "message": message, "target": target, "details": details or [], "additionalInfo": []}
    }
    return JSONResponse(body, status_code=status, headers=headers)


def render_error(request: Request, status: int, code: str, message: str) -> Response:
    """The fault injector's renderer: ARM's shape for injected 429/503."""
    return arm_error_response(status, code, message)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _query_param(request: Request, name: str) -> str | None:
    """A query parameter by case-insensitive name (ARM's rule), else None."""
    wanted = name.lower()
    for key, value in request.query_params.multi_items():
        if key.lower() == wanted:
            return value
    return None


def _service_root(request: Request) -> str:
    # root_path holds the mount prefix (and any proxy prefix before it); URLs
    # built from it point back at whatever host and port the client used.
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


# -- state -----------------------------------------------------------------


@dataclass
class Cluster:
    subscription: str
    resource_group: str
    name: str
    location: str
    #: lower-cased image name -> {"name": display name, "properties": {...}, "operation": id | None}
    images: dict[str, dict] = field(default_factory=dict)
    #: the keys of ``images``, sorted: list order and $skiptoken continuation
    order: list[str] = field(default_factory=list)

    def image_body(self, record: dict) -> dict:
        return {
            "id": (
                f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.Kusto/Clusters/{self.name}/SandboxCustomImages/{record['name']}"
            ),
            "name": f"{self.name}/{record['name']}",
            "type": RESOURCE_TYPE,
            "properties": dict(record["properties"]),
        }

    def add(self, key: str, record: dict) -> None:
        if key not in self.images:
            bisect.insort(self.order, key)
        self.images[key] = record

    def remove(self, key: str) -> None:
        if self.images.pop(key, None) is not None:
            index = bisect.bisect_left(self.order, key)
            if index < len(self.order) and self.order[index] == key:
                del self.order[index]


@dataclass
class Operation:
    id: str
    #: _CREATE_OR_UPDATE, _UPDATE or _DELETE
    kind: str
    subscription: str
    location: str
    cluster: Cluster
    image_key: str
    polls_needed: int
    will_fail: bool
    start_time: str = field(default_factory=_now)
    polls_seen: int = 0
    status: str = _IN_PROGRESS
    #: the image's provisioningState as this operation last left it
    provisioning_state: str = "Accepted"
    end_time: str | None = None
    error: dict | None = None

    @property
    def path(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/providers/Microsoft.Kusto"
            f"/locations/{self.location}/operationResults/{self.id}"
        )

    def percent_complete(self) -> float:
        if self.status in _TERMINAL or self.polls_needed <= 0:
            return 100.0
        return round(100.0 * self.polls_seen / self.polls_needed, 1)

    def body(self) -> dict:
        properties = {
            "operationKind": self.kind,
            "provisioningState": self.provisioning_state,
            "operationState": self.status,
        }
        body: dict[str, Any] = {
            "id": self.path,
            "name": self.id,
            "status": self.status,
            "startTime": self.start_time,
        }
        if self.end_time is not None:
            body["endTime"] = self.end_time
        body["percentComplete"] = self.percent_complete()
        body["properties"] = properties
        if self.error is not None:
            body["error"] = self.error
        return body


class KustoState:
    """Subscriptions, resource groups, clusters, their images and the operations on them."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.subscriptions: set[str] = set()
        self.resource_groups: set[tuple[str, str]] = set()
        self.clusters: dict[tuple[str, str, str], Cluster] = {}
        self.operations: dict[str, Operation] = {}

    # -- catalog -----------------------------------------------------------
    def add_cluster(self, subscription: str, resource_group: str, name: str, location: str) -> Cluster:
        cluster = Cluster(subscription, resource_group, name, location)
        with self.lock:
            self.subscriptions.add(subscription.lower())
            self.resource_groups.add((subscription.lower(), resource_group.lower()))
            self.clusters[(subscription.lower(), resource_group.lower(), name.lower())] = cluster
        return cluster

    def find_cluster(self, subscription: str, resource_group: str, name: str) -> Cluster:
        """The cluster, or the ARM error for the first part of the path that is wrong."""
        if not _GUID.match(subscription):
            raise ArmError(
                400, "InvalidSubscriptionId", f"The provided subscription identifier '{subscription}' is malformed or invalid."
            )
        if not 1 <= len(resource_group) <= 90:
            raise ArmError(
                400, "InvalidResourceGroup",
                f"The provided resource group name '{resource_group}' is {len(resource_group)} characters long. "
                "A resource group name must be between 1 and 90 characters.",
                target="resourceGroupName",
            )
        if not _RESOURCE_GROUP_CHARS.match(resource_group) or resource_group.endswith("."):
            raise ArmError(
                400, "InvalidResourceGroup",
                f"The provided resource group name '{resource_group}' has invalid characters. The name can only be "
                "a letter, digit, '-', '.', '(', ')' or '_', and cannot end with '.'.",
                target="resourceGroupName",
            )
        sub, rg = subscription.lower(), resource_group.lower()
        if sub not in self.subscriptions:
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription}' could not be found.")
        if (sub, rg) not in self.resource_groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")
        cluster = self.clusters.get((sub, rg, name.lower()))
        if cluster is None:
            raise ArmError(
                404, "ResourceNotFound",
                f"The Resource 'Microsoft.Kusto/clusters/{name}' under resource group '{resource_group}' "
                f"was not found. {_NOT_FOUND_FIX}",
            )
        return cluster

    @staticmethod
    def image_not_found(cluster: Cluster, name: str) -> ArmError:
        return ArmError(
            404, "ResourceNotFound",
            f"The Resource 'Microsoft.Kusto/clusters/{cluster.name}/sandboxCustomImages/{name}' under resource "
            f"group '{cluster.resource_group}' was not found. {_NOT_FOUND_FIX}",
        )

    # -- operations (call with the lock held) --------------------------------
    def start_operation(self, cluster: Cluster, key: str, kind: str) -> Operation:
        record = cluster.images[key]
        self._supersede(record)
        op = Operation(
            id=str(uuid.uuid4()),
            kind=kind,
            subscription=cluster.subscription,
            location=cluster.location,
            cluster=cluster,
            image_key=key,
            polls_needed=self.ctx.config.operation_polls,
            will_fail=self.ctx.faults.operation_should_fail(),
        )
        self.operations[op.id] = op
        record["operation"] = op.id
        op.provisioning_state = record["properties"]["provisioningState"]
        if op.polls_needed <= 0:
            self._finish(op)
        return op

    def _supersede(self, record: dict) -> None:
        """A new request on an image cancels the operation still running on it."""
        previous = self.operations.get(record.get("operation") or "")
        if previous is not None and previous.status not in _TERMINAL:
            previous.status = previous.provisioning_state = _CANCELED
            previous.end_time = _now()
            previous.error = {
                "code": "OperationCanceled",
                "message": f"The operation was canceled: a newer request on sandbox custom image "
                f"'{record['name']}' superseded it.",
            }
        record["operation"] = None

    def poll(self, op: Operation) -> None:
        """One status poll: the operation moves one step toward its end."""
        if op.status in _TERMINAL:
            return
        op.polls_seen += 1
        if op.polls_seen >= op.polls_needed:
            self._finish(op)
            return
        record = op.cluster.images.get(op.image_key)
        if record is not None and record.get("operation") == op.id and op.kind != _DELETE:
            record["properties"]["provisioningState"] = op.provisioning_state = "Creating"

    def _finish(self, op: Operation) -> None:
        op.end_time = _now()
        record = op.cluster.images.get(op.image_key)
        current = record is not None and record.get("operation") == op.id
        if op.will_fail:
            op.status = _FAILED
            action = "deleting" if op.kind == _DELETE else "building"
            name = record["name"] if record else op.image_key
            op.error = {
                "code": "SandboxCustomImageOperationFailed",
                "message": f"{action.capitalize()} sandbox custom image '{name}' failed "
                "(a failure injected by the simulator).",
            }
            op.provisioning_state = "Failed"
            if current:
                record["properties"]["provisioningState"] = "Failed"
                record["operation"] = None
            return
        op.status = op.provisioning_state = _SUCCEEDED
        if current and op.kind == _DELETE:
            op.cluster.remove(op.image_key)
        elif current:
            record["properties"]["provisioningState"] = "Succeeded"
            record["operation"] = None

    # -- seeding ---------------------------------------------------------------
    def seed(self) -> None:
        demo = self.ctx.demo
        cluster = self.add_cluster(
            demo.kusto_subscription_id, demo.kusto_resource_group, demo.kusto_cluster, demo.kusto_location
        )
        for name, props in _CATALOG:
            cluster.images[name.lower()] = _record(name, props)
        _generate_images(cluster, self.ctx.config.seed_images)
        cluster.order = sorted(cluster.images)

        dev = self.add_cluster(demo.kusto_subscription_id, demo.kusto_resource_group, "kustoDevCluster", "westus")
        for name, props in _DEV_CATALOG:
            dev.add(name.lower(), _record(name, props))


def _record(name: str, props: dict) -> dict:
    return {"name": name, "properties": {"language": "Python", **props, "provisioningState": "Succeeded"}, "operation": None}


# The examples' images (customImage1/2/7/8, sandboxCustomImage1) plus a realistic handful.
_CATALOG: tuple[tuple[str, dict], ...] = (
    ("customImage1", {"languageVersion": "3.10.8", "requirementsFileContent": "numpy==1.26.4\npandas==2.2.2"}),
    ("customImage2", {"baseImageName": "customImage1", "requirementsFileContent": "Requests"}),
    ("customImage7", {"languageVersion": "3.10.8", "requirementsFileContent": "Requests"}),
    ("customImage8", {"languageVersion": "3.10.8", "requirementsFileContent": "Requests"}),
    ("sandboxCustomImage1", {"baseImageName": "Python3_11_7", "requirementsFileContent": "scikit-learn==1.4.2\nscipy==1.12.0"}),
    ("torchInference", {"baseImageName": "Python3_10_8_DL", "requirementsFileContent": "torch==2.2.1\ntorchvision==0.17.1\nonnxruntime==1.17.1"}),
    ("geoAnalytics", {"languageVersion": "3.11.7", "requirementsFileContent": "shapely==2.0.3\ngeopandas==0.14.3\npyproj==3.6.1"}),
    ("nlpTextTools", {"baseImageName": "Python3_11_7_DL", "requirementsFileContent": "transformers==4.38.2\nsentencepiece==0.2.0\ntokenizers==0.15.2"}),
    ("legacyForecasting", {"baseImageName": "Python3_6_5", "requirementsFileContent": "statsmodels==0.12.2\nnumpy==1.19.5"}),
    ("anomalyDetection", {"baseImageName": "customImage1", "requirementsFileContent": "pyod==1.1.3\nadtk==0.6.2"}),
)

_DEV_CATALOG: tuple[tuple[str, dict], ...] = (
    ("devScratch", {"languageVersion": "3.11.7", "requirementsFileContent": "rich==13.7.1"}),
    ("devNotebooks", {"baseImageName": "Python3_10_8", "requirementsFileContent": "jupyterlab==4.1.5\nipywidgets==8.1.2"}),
)

_GENERATED_REQUIREMENTS = (
    "Requests",
    "numpy==1.26.4",
    "pandas==2.2.2\npyarrow==15.0.2",
    "scikit-learn==1.4.2",
    "lightgbm==4.3.0",
    "",
)


def _generate_images(cluster: Cluster, count: int) -> None:
    """``count`` more images as plain dicts (100,000 take a fraction of a second)."""
    bases = MANAGED_BASE_IMAGE_NAMES
    requirements = _GENERATED_REQUIREMENTS
    images = cluster.images
    width = max(6, len(str(count)))
    for i in range(1, count + 1):
        name = f"seedImage{i:0{width}d}"
        if i % 3:
            props = {"language": "Python", "baseImageName": bases[i % len(bases)]}
        else:
            props = {"language": "Python", "languageVersion": "3.11.7" if i % 2 else "3.10.8"}
        req = requirements[i % len(requirements)]
        if req:
            props["requirementsFileContent"] = req
        props["provisioningState"] = "Succeeded"
        images[name.lower()] = {"name": name, "properties": props, "operation": None}


# -- the HTTP service -----------------------------------------------------------

_USER_PROPERTIES = ("language", "languageVersion", "baseImageName", "requirementsFileContent")


class KustoService:
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
        self._check_api_version(request)
        self._authenticate(request)
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

    # -- checks every request passes --------------------------------------------
    def _check_api_version(self, request: Request) -> None:
        version = _query_param(request, "api-version")
        if not version:
            raise ArmError(
                400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests."
            )
        if version not in SUPPORTED_API_VERSIONS:
            raise ArmError(
                400, "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are '{','.join(SUPPORTED_API_VERSIONS)}'.",
                target="api-version",
            )

    def _authenticate(self, request: Request) -> None:
        authorization = request.headers.get("authorization")
        if not authorization:
            raise self._unauthorized(
                request, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.",
                "The authentication failed because of missing 'Authorization' header.",
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._unauthorized(
                request, "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is provided in an invalid format.",
                "The authentication failed because the 'Authorization' header is not a Bearer token.",
            )
        if self.ctx.tokens.check("arm", token.strip()) is None:
            raise self._unauthorized(
                request, "InvalidAuthenticationToken", "The access token is invalid.",
                "The access token is unknown, expired or not issued for https://management.azure.com/.",
            )

    def _unauthorized(self, request: Request, code: str, message: str, description: str) -> ArmError:
        root = _service_root(request)
        entra = root.removesuffix(PREFIXES["kusto"]) + PREFIXES["entra"]
        challenge = (
            f'Bearer authorization_uri="{entra}/{self.ctx.demo.entra_tenant_id}", '
            f'error="invalid_token", error_description="{description}"'
        )
        return ArmError(401, code, message, headers={"WWW-Authenticate": challenge})

    # -- list --------------------------------------------------------------------
    async def list_images(self, request: Request, sub: str, rg: str, cluster: str) -> Response:
        skiptoken = _query_param(request, "$skiptoken")
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
        body = await _json_object(request)
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
            op = self.state.start_operation(found, key, _CREATE_OR_UPDATE)
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
        body = await _json_object(request)
        patch = body.get("properties")
        if patch is None:
            patch = {}
        if not isinstance(patch, dict):
            raise _invalid("properties", "The property 'properties' must be a JSON object.")
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
            op = self.state.start_operation(found, key, _UPDATE)
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
            op = self.state.start_operation(found, key, _DELETE)
        return Response(status_code=202, headers=self._async_headers(request, op, location=True))

    async def check_name(self, request: Request, sub: str, rg: str, cluster: str) -> Response:
        with self.state.lock:
            found = self.state.find_cluster(sub, rg, cluster)
        body = await _json_object(request)
        try:
            checked = CheckNameRequest.model_validate(body)
        except ValidationError as exc:
            raise _bad_request(exc) from None
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
        headers = self._async_headers(request, op, location=False) if status not in _TERMINAL else {}
        if (_query_param(request, "operationResultResponseType") or "").lower() == "location":
            # Location-style polling: 202 while running, then the outcome as a status code.
            if status not in _TERMINAL:
                return Response(status_code=202, headers=headers)
            if status == _FAILED:
                raise ArmError(400, error["code"], error["message"])
            if status == _CANCELED:
                raise ArmError(409, error["code"], error["message"])
        return JSONResponse(body, headers=headers)

    def _async_headers(self, request: Request, op: Operation, location: bool = False) -> dict[str, str]:
        url = f"{_service_root(request)}{op.path}?api-version={API_VERSION}"
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


async def _json_object(request: Request) -> dict:
    content_type = request.headers.get("content-type")
    if content_type:
        media = content_type.split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json") and media != "text/json":
            raise ArmError(
                415, "UnsupportedMediaType",
                f"The content media type '{content_type}' is not supported. Only 'application/json' is supported.",
            )
    raw = await request.body()
    if not raw.strip():
        raise ArmError(
            400, "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'the request body is empty; "
            "send a JSON object'.",
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArmError(
            400, "InvalidRequestContent", f"The request content was invalid and could not be deserialized: '{exc}'."
        ) from None
    if not isinstance(body, dict):
        raise ArmError(
            400, "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'the request body must be a JSON "
            f"object, got {type(body).__name__}'.",
        )
    return body


def _validated_properties(body: dict) -> dict:
    """The user-settable properties of a valid PUT body, in the service's member order."""
    try:
        model = CreateOrUpdateSandboxCustomImage.model_validate(body)
    except ValidationError as exc:
        raise _bad_request(exc) from None
    return {k: v for k, v in model.properties.to_json_dict().items() if k in _USER_PROPERTIES}


def _bad_request(exc: ValidationError) -> ArmError:
    details = []
    for error in exc.errors(include_url=False):
        target = ".".join(str(part) for part in error["loc"]) or None
        if error["type"] == "missing":
            message = f"The property '{target}' is required."
        elif "error" in error.get("ctx", {}):
            message = str(error["ctx"]["error"])
        else:
            message = f"'{target}': {error['msg']}."
        details.append({"code": "BadRequest", "message": message, "target": target})
    first = details[0]
    return ArmError(400, "BadRequest", first["message"], target=first["target"], details=details)


def _check_base_image(cluster: Cluster, key: str, properties: dict) -> None:
    """baseImageName names a managed image or another custom image of the cluster."""
    base = properties.get("baseImageName")
    if base is None or base in MANAGED_BASE_IMAGE_NAMES:
        return
    if base.lower() == key:
        raise _invalid("properties.baseImageName", f"baseImageName: the sandbox custom image '{base}' cannot be its own base image.")
    if base.lower() not in cluster.images:
        raise _invalid(
            "properties.baseImageName",
            f"baseImageName '{base}' is neither a managed image ({', '.join(MANAGED_BASE_IMAGE_NAMES)}) nor an "
            f"existing sandbox custom image of cluster '{cluster.name}'.",
        )


def _invalid(target: str, message: str) -> ArmError:
    """A 400 about one member of the body; ``details`` lists it as validation errors do."""
    return ArmError(400, "BadRequest", message, target=target, details=[{"code": "BadRequest", "message": message, "target": target}])


class _ArmHeaders:
    """Adds ARM's request and correlation ids to every answer, injected faults included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation = ""
        for name, value in scope.get("headers", []):
            if name == b"x-ms-correlation-request-id":
                correlation = value.decode("latin-1")
        correlation = correlation or str(uuid.uuid4())
        request_id = str(uuid.uuid4())

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-ms-request-id"] = request_id
                headers["x-ms-correlation-request-id"] = correlation
            await send(message)

        await self.app(scope, receive, send_with_ids)


def build_state(ctx: SimContext) -> KustoState:
    state = KustoState(ctx)
    state.seed()
    return state


def mounts(ctx: SimContext) -> list[BaseRoute]:
    state = build_state(ctx)
    ctx.states["kusto"] = state
    service = KustoService(ctx, state)
    methods = ["GET", "PUT", "PATCH", "DELETE", "POST", "HEAD", "OPTIONS"]
    api = Starlette(routes=[Route("/{path:path}", service.handle, methods=methods)])
    app = _ArmHeaders(ctx.faults.wrap(api, render_error))
    return [Mount(PREFIXES["kusto"], app=app)]


__all__ = ["ArmError", "KustoService", "KustoState", "SUPPORTED_API_VERSIONS", "build_state", "mounts", "render_error"]
