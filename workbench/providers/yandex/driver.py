"""The Yandex Compute Cloud images driver.

Two hosts serve one account, as in Yandex Cloud: the Compute API
(compute.api.cloud.yandex.net: images) and the Operation service
(operation.api.cloud.yandex.net: the status of the work a create, update or
delete started). Authentication is an IAM token (see ``auth``).

Use it from settings and secrets::

    driver = YandexDriver.connect(folder_id="b1g...", oauth_token="y0_...")
    async for image in driver.list_images(family="web"):
        ...
    op = await driver.send(driver.create_image_request(name="web-3", disk_id="fhm..."))
    tracker.register("yandex", driver.poller())
    tracker.track(op)   # polled until done; op.result is the image from Compute

or from parts (the profile glue does this)::

    YandexDriver(folder_id=..., http=HttpCore(...), auth=yandex_auth(http, ...),
                 compute_endpoint=..., operation_endpoint=...)
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx

from workbench.core.auth import Auth
from workbench.core.errors import InvalidResponse
from workbench.core.http import HttpCore, check_http_url
from workbench.core.images import ImageSummary
from workbench.core.operations import Operation, YandexOperationPoller, YandexResource
from workbench.core.requestlog import RequestLog
from workbench.core.retry import RetryPolicy
from workbench.providers.base import ApiRequest, Driver
from workbench.providers.yandex import models as ym
from workbench.providers.yandex.auth import IAM_ENDPOINT, ServiceAccountKey, yandex_auth
from workbench.providers.yandex.requests import (
    OPERATION,
    CancelOperation,
    CreateImage,
    DeleteImage,
    GetImage,
    GetImageLatestByFamily,
    GetOperation,
    ListImageOperations,
    ListImages,
    MutatingRequest,
    UpdateImage,
    YandexRequest,
    filter_expression,
)

PROVIDER = "yandex"
COMPUTE_ENDPOINT = "https://compute.api.cloud.yandex.net"
OPERATION_ENDPOINT = "https://operation.api.cloud.yandex.net"


# -- summaries ---------------------------------------------------------------------------
def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def image_summary(image: Mapping[str, Any], raw: Any = None) -> ImageSummary:
    """The common summary of an image's proto3 JSON (fast: no model is built).

    ``size`` is the image's total size (``size``), else its storage size;
    extras are ``family`` and ``minDiskSize`` (bytes), as the API names them.
    """
    os_value = image.get("os")
    os_type = os_value.get("type", "") if isinstance(os_value, dict) else ""
    size = image.get("size")
    if size is None:
        size = image.get("storageSize")
    min_disk = image.get("minDiskSize")
    return ImageSummary(
        PROVIDER,
        str(image.get("id", "")),
        str(image.get("name", "")),
        str(image.get("status", ym.ImageStatus.STATUS_UNSPECIFIED.value)),
        os=str(os_type),
        size=_int_or_none(size),
        created=str(image.get("createdAt", "")),
        extras={"family": str(image.get("family", "")), "minDiskSize": "" if min_disk is None else str(min_disk)},
        raw=image if raw is None else raw,
    )


def _full_summary(body: Any) -> ImageSummary:
    """A summary whose ``raw`` is the validated ``Image`` model."""
    if not isinstance(body, dict):
        raise InvalidResponse(PROVIDER, "expected an Image object")
    if not isinstance(body.get("id"), str) or not body["id"]:
        raise InvalidResponse(PROVIDER, "the image has no id")
    try:
        model = ym.Image.model_validate(body)
    except ValueError as exc:
        raise InvalidResponse(PROVIDER, f"the image does not parse: {exc}") from None
    return image_summary(body, raw=model)


def _page_items(page: Any, key: str) -> list[Any]:
    if not isinstance(page, dict):
        raise InvalidResponse(PROVIDER, f"expected a list page (an object with {key!r}), got {type(page).__name__}")
    items = page.get(key) or []
    if not isinstance(items, list):
        raise InvalidResponse(PROVIDER, f"the page's {key!r} is not a list")
    # An item that is not an object cannot be an image or operation: skip it, as Kusto and Batch do.
    return [item for item in items if isinstance(item, dict)]


# -- operations ----------------------------------------------------------------------------
def _image_resource(compute_endpoint: str) -> YandexResource:
    """Image operations' final state: the image read from Compute
    (``GET /compute/v1/images/{imageId}``); a delete has none."""
    return YandexResource(
        type_name=ym.Image.PROTO_NAME,
        id_field="imageId",
        state_key="image_id",
        delete_metadata=ym.DeleteImageMetadata.PROTO_NAME,
        url=lambda image_id: GetImage(image_id=image_id).url(compute_endpoint),
    )


# -- the driver ------------------------------------------------------------------------------
class YandexDriver(Driver):
    """Images of one Yandex Cloud folder.

    ``compute_endpoint`` and ``operation_endpoint`` are the two API roots
    (the public cloud's by default); ``auth`` an IAM-token ``Auth`` (see
    ``workbench.providers.yandex.auth.yandex_auth``).
    """

    provider = PROVIDER

    def __init__(
        self,
        *,
        folder_id: str,
        http: HttpCore,
        auth: Auth,
        compute_endpoint: str = COMPUTE_ENDPOINT,
        operation_endpoint: str = OPERATION_ENDPOINT,
        profile: str = "",
    ) -> None:
        _check_folder_id(folder_id)
        compute_endpoint = _check_endpoint("compute_endpoint", compute_endpoint)
        operation_endpoint = _check_endpoint("operation_endpoint", operation_endpoint)
        super().__init__(http=http, auth=auth, base_url=compute_endpoint, profile=profile)
        self.folder_id = folder_id.strip()
        self.operation_endpoint = operation_endpoint
        http.allow_origin(operation_endpoint)
        self._poller = YandexOperationPoller(http, auth, operation_endpoint, provider=PROVIDER,
                                             resource=_image_resource(compute_endpoint))

    @classmethod
    def connect(
        cls,
        *,
        folder_id: str,
        oauth_token: str | None = None,
        service_account_key: ServiceAccountKey | Mapping[str, Any] | str | bytes | None = None,
        iam_token: str | None = None,
        compute_endpoint: str = COMPUTE_ENDPOINT,
        operation_endpoint: str = OPERATION_ENDPOINT,
        iam_endpoint: str = IAM_ENDPOINT,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        log: RequestLog | None = None,
        profile: str = "",
    ) -> YandexDriver:
        """A driver with its own ``HttpCore`` and auth from exactly one of
        ``oauth_token``, ``service_account_key`` (the key file's JSON or dict)
        or ``iam_token``. ``transport`` replaces the network (in-process use)."""
        # Check what can be checked before a client exists.
        for name, url in (("compute_endpoint", compute_endpoint), ("operation_endpoint", operation_endpoint),
                          ("iam_endpoint", iam_endpoint)):
            _check_endpoint(name, url)
        _check_folder_id(folder_id)
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        http = HttpCore(transport=transport, verify=verify, ca_bundle=ca_bundle, retry=retry, log=log, **extra)
        auth = yandex_auth(http, oauth_token=oauth_token, service_account_key=service_account_key,
                           iam_token=iam_token, iam_endpoint=iam_endpoint)
        return cls(folder_id=folder_id, http=http, auth=auth, compute_endpoint=compute_endpoint,
                   operation_endpoint=operation_endpoint, profile=profile)

    # -- building ----------------------------------------------------------------------
    def build(self, request: ApiRequest) -> httpx.Request:
        base = self.operation_endpoint if getattr(request, "service", None) == OPERATION else self.base_url
        return request.to_httpx(base)

    def create_image_request(self, **fields: Any) -> CreateImage:
        """A ``CreateImage`` in this driver's folder (unless ``folder_id`` is given)."""
        fields.setdefault("folder_id", self.folder_id)
        return CreateImage(**fields)

    # -- reading -----------------------------------------------------------------------
    async def list_images(
        self,
        *,
        limit: int | None = None,
        folder_id: str | None = None,
        filter: str | None = None,
        order_by: str | None = None,
        page_size: int = ym.PAGE_SIZE_MAX,
        **fields: str | Iterable[str],
    ) -> AsyncIterator[ImageSummary]:
        """The folder's images, following ``nextPageToken`` to the end or ``limit``.

        ``filter`` is the API's expression (``family="web" AND status="READY"``);
        ``id``, ``name``, ``family`` and ``status`` may also be given as
        keyword filters (a list of values means ``IN``). ``order_by`` is
        ``"<id|name|createdAt> [asc|desc]"``.
        """
        if limit is not None and limit <= 0:
            return
        size = min(page_size, limit) if limit is not None else page_size
        query = ListImages(folder_id=folder_id or self.folder_id, page_size=size,
                           filter=filter_expression(filter, **fields), order_by=order_by or "")
        async for image in self._pages(query.url(self.base_url), "images", limit):
            yield image_summary(image)

    async def get_image(self, image_id: str) -> ImageSummary:
        return _full_summary(await self.request_json(GetImage(image_id=image_id)))

    async def latest_by_family(self, family: str, *, folder_id: str | None = None) -> ImageSummary:
        """The newest READY image of ``family`` (``NOT_FOUND`` if it has none)."""
        request = GetImageLatestByFamily(folder_id=folder_id or self.folder_id, family=family)
        return _full_summary(await self.request_json(request))

    async def image_operations(self, image_id: str, *, limit: int | None = None) -> AsyncIterator[dict]:
        """The operations that changed an image (proto3 JSON dicts), page by page."""
        if limit is not None and limit <= 0:
            return
        first = ListImageOperations(image_id=image_id, page_size=ym.PAGE_SIZE_MAX).url(self.base_url)
        async for operation in self._pages(first, "operations", limit):
            yield operation

    def _pages(self, first: httpx.URL, key: str, limit: int | None) -> AsyncIterator[Any]:
        """Items under ``key`` of ``first`` and the pages its ``nextPageToken`` leads to."""

        def next_page(page: Any) -> httpx.URL | None:
            token = page.get("nextPageToken") if isinstance(page, dict) else None
            if token is not None and not isinstance(token, str):
                raise InvalidResponse(PROVIDER, "the page's nextPageToken is not a string")
            return first.copy_set_param("pageToken", token) if token else None

        return self.http.follow_pages(first, provider=PROVIDER, auth=self.auth, next_of=next_page,
                                      items_of=lambda page: _page_items(page, key), limit=limit)

    # -- editing -----------------------------------------------------------------------
    async def send(self, request: ApiRequest) -> Any | Operation:
        """Send a request: an ``Operation`` for creates, updates and deletes
        (and operation reads), an ``ImageSummary`` for image reads, the decoded
        page for list pages."""
        if not isinstance(request, YandexRequest):
            raise TypeError(f"YandexDriver cannot send a {type(request).__name__} (not a Yandex request)")
        if request.returns == "operation":
            response = await self.request(request)
            kind = request.kind if isinstance(request, MutatingRequest) else "operation"
            target = getattr(request, "image_id", "") if isinstance(request, (UpdateImage, DeleteImage)) else ""
            return self._poller.start(response, kind=kind, target=target, description=request.summary(),
                                      profile=self.profile)
        body = await self.request_json(request)
        if request.returns == "image":
            return _full_summary(body)
        return body

    async def create_image(self, **fields: Any) -> Operation:
        """Send a ``CreateImage`` in this folder; the Operation to track."""
        return await self.send(self.create_image_request(**fields))

    async def operation(self, operation_id: str, *, kind: str = "operation") -> Operation:
        """An operation by id (one started elsewhere, say by ``yc``), to track."""
        response = await self.request(GetOperation(operation_id=operation_id))
        return self._poller.start(response, kind=kind, description=f"Operation {operation_id}",
                                  profile=self.profile)

    async def cancel(self, operation: Operation | str) -> Operation:
        """Ask the Operation service to cancel; the operation as it then stands."""
        operation_id = operation.id if isinstance(operation, Operation) else operation
        kind = operation.kind if isinstance(operation, Operation) else "operation"
        response = await self.request(CancelOperation(operation_id=operation_id))
        return self._poller.start(response, kind=kind, profile=self.profile)

    def poller(self) -> YandexOperationPoller:
        return self._poller


def _check_folder_id(folder_id: str) -> None:
    if not isinstance(folder_id, str) or not folder_id.strip():
        raise ValueError("folder_id: required (the folder whose images to manage, b1g...)")
    if len(folder_id.strip()) > ym.ID_MAX_LENGTH:
        raise ValueError(f"folder_id: must be at most {ym.ID_MAX_LENGTH} characters")


def _check_endpoint(field: str, url: str) -> str:
    check_http_url(field, url)
    return str(url).rstrip("/")


__all__ = [
    "COMPUTE_ENDPOINT",
    "OPERATION_ENDPOINT",
    "YandexDriver",
    "image_summary",
]
