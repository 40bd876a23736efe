"""The OpenStack Glance v2 images driver, also for Huawei IMS's native OpenStack API.

One image endpoint (the service root, such as ``https://glance:9292``; a path
prefix like ``https://cloud/image`` is kept) serves the account. It is given
explicitly, or read from the Keystone token's service catalog on first use
(``resolve_endpoint``). Authentication is ``X-Auth-Token`` (see ``auth``).

Use it from settings and secrets::

    driver = GlanceDriver.connect(auth_url="https://keystone:5000/v3", username="demo", password=...,
                                  user_domain_name="Default", project_name="demo",
                                  project_domain_name="Default", region="RegionOne")
    async for image in driver.list_images(visibility="private", sort="name:asc"):
        ...
    image = await driver.send(driver.patch_request(image_id, [{"op": "replace", "path": "/name",
                                                                "value": "web-2"}]))
    request = driver.edit_request(before, after)      # the minimal patch, computed
    op = await driver.send(UploadImageData(image_id=..., data=...))  # an Operation
    tracker.register("glance", driver.poller()); tracker.track(op)   # until ``active``

or from parts (the profile glue does this)::

    GlanceDriver(http=HttpCore(...), auth=keystone_auth(http, ...) | static_token(...) | NoAuth(),
                 endpoint="https://..." or None (from the catalog), flavour="glance" | "ims",
                 patch_dialect="v2.1" | "v2.0", profile="name")
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel

from workbench.core.auth import Auth
from workbench.core.errors import ApiError, InvalidResponse, WorkbenchError
from workbench.core.http import HttpCore, check_http_url
from workbench.core.images import ImageSummary
from workbench.core.operations import GlanceStatusPoller, Operation, PollOutcome
from workbench.core.requestlog import LogEntry, RequestLog
from workbench.core.retry import RetryPolicy
from workbench.providers.base import ApiRequest, Driver
from workbench.providers.glance.auth import (
    GLANCE_SERVICE_TYPES,
    IMS_SERVICE_TYPES,
    KeystoneAuth,
    keystone_auth,
    service_root,
    static_token,
)
from workbench.providers.glance.models import Flavour, Image, ImsImage, PatchDialect, PatchOperation
from workbench.providers.glance.requests import (
    LIST_FILTERS,
    MAX_PAGE,
    CreateImage,
    DeleteImage,
    GetImage,
    GlanceRequest,
    ListImages,
    PatchImage,
    UploadImageData,
    edit_request,
)

FLAVOURS: tuple[str, ...] = ("glance", "ims")
DIALECTS: tuple[str, ...] = ("v2.1", "v2.0")


class EndpointUnknown(WorkbenchError):
    """The image endpoint comes from the Keystone catalog and no token was fetched yet."""


# -- summaries ---------------------------------------------------------------------------------
def _text(value: Any) -> str:
    return "" if value is None else str(value)


def image_summary(image: Mapping[str, Any], provider: str = "glance", raw: Any = None) -> ImageSummary:
    """The common summary of an image's JSON (fast: no model is built; the
    list path calls this 100,000 times for 100,000 images).

    ``os`` is Glance's ``os_distro`` (else ``os_type``), IMS's ``__platform``
    (else ``__os_type``); extras are ``visibility``, ``disk_format`` and
    ``updated_at``, as the API names them.
    """
    get = image.get
    image_id, name, status, created = get("id"), get("name"), get("status"), get("created_at")
    visibility, disk_format, updated = get("visibility"), get("disk_format"), get("updated_at")
    os_name = get("os_distro") or get("__platform") or get("os_type") or get("__os_type")
    size = get("size")
    # Strings from JSON are used as they are; anything else goes through _text.
    return ImageSummary(
        provider,
        image_id if image_id.__class__ is str else _text(image_id),
        name if name.__class__ is str else _text(name),
        status if status.__class__ is str else _text(status),
        os_name if os_name.__class__ is str else _text(os_name),
        size if size.__class__ is int else None,
        created if created.__class__ is str else _text(created),
        {"visibility": visibility if visibility.__class__ is str else _text(visibility),
         "disk_format": disk_format if disk_format.__class__ is str else _text(disk_format),
         "updated_at": updated if updated.__class__ is str else _text(updated)},
        image if raw is None else raw,
    )


def _page_images(page: Any, provider: str) -> list[Any]:
    if not isinstance(page, dict) or not isinstance(page.get("images"), list):
        raise InvalidResponse(provider, "expected an images page (an object with an 'images' list)")
    # An item that is not an object cannot be an image: skip it, as Kusto and Batch do.
    return [item for item in page["images"] if isinstance(item, dict)]


# -- operations --------------------------------------------------------------------------------
class _EndpointPoller(GlanceStatusPoller):
    """``GlanceStatusPoller`` that learns the endpoint from its driver when it
    first polls (the catalog is read with the first token)."""

    def __init__(self, driver: GlanceDriver) -> None:
        super().__init__(driver.http, driver.auth, driver.endpoint or "", provider=driver.provider)
        self._driver = driver

    async def poll(self, op: Operation) -> PollOutcome:
        if not self.endpoint:
            self.endpoint = await self._driver.resolve_endpoint()
        return await super().poll(op)


# -- the driver ---------------------------------------------------------------------------------
class GlanceDriver(Driver):
    """Images of one OpenStack project through Glance v2 (``flavour="glance"``)
    or Huawei IMS's Glance-compatible API (``flavour="ims"``: IMS's image
    attributes and its rule that only custom attributes, ``name`` and
    ``__description`` may change).

    ``endpoint`` is the image service root, or None to read it from the
    Keystone catalog (``auth`` must then be a ``KeystoneAuth``).
    ``patch_dialect`` is the default JSON-patch media type of edits.
    """

    provider = "glance"

    def __init__(
        self,
        *,
        http: HttpCore,
        auth: Auth,
        endpoint: str | None = None,
        flavour: Flavour = "glance",
        patch_dialect: PatchDialect = "v2.1",
        page_size: int = MAX_PAGE,
        profile: str = "",
    ) -> None:
        if flavour not in FLAVOURS:
            raise ValueError(f"flavour: must be 'glance' or 'ims', got {flavour!r}")
        if patch_dialect not in DIALECTS:
            raise ValueError(f"patch_dialect: must be 'v2.1' or 'v2.0', got {patch_dialect!r}")
        if not 1 <= page_size <= MAX_PAGE:
            raise ValueError(f"page_size: must be between 1 and {MAX_PAGE}, got {page_size}")
        if endpoint is None and not isinstance(auth, KeystoneAuth):
            raise ValueError("endpoint: required unless the auth is Keystone's (whose catalog lists it)")
        # Not Driver.__init__: the base URL may only be known after the first token.
        self.http = http
        self.auth = auth
        self.profile = profile
        self.provider = flavour  # type: ignore[misc]  # "glance" or "ims", per instance
        self.flavour: Flavour = flavour
        self.patch_dialect: PatchDialect = patch_dialect
        self.page_size = page_size
        self.endpoint: str | None = None
        self.base_url = ""
        if endpoint is not None:
            self._set_endpoint(_check_endpoint("endpoint", endpoint))
        self._poller = _EndpointPoller(self)

    def _set_endpoint(self, endpoint: str) -> None:
        self.endpoint = self.base_url = service_root(endpoint)
        # Next links and polls may go to this host only (never to Keystone's).
        self.http.allow_origin(self.endpoint)

    @classmethod
    def connect(
        cls,
        *,
        flavour: Flavour = "glance",
        image_endpoint: str | None = None,
        auth_url: str | None = None,
        username: str | None = None,
        user_id: str | None = None,
        password: str | None = None,
        user_domain_name: str | None = None,
        user_domain_id: str | None = None,
        project_id: str | None = None,
        project_name: str | None = None,
        project_domain_name: str | None = None,
        project_domain_id: str | None = None,
        application_credential_id: str | None = None,
        application_credential_name: str | None = None,
        application_credential_secret: str | None = None,
        token: str | None = None,
        auth: Auth | None = None,
        interface: str = "public",
        region: str | None = None,
        service_types: Iterable[str] | None = None,
        patch_dialect: PatchDialect = "v2.1",
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy | None = None,
        log: RequestLog | None = None,
        profile: str = "",
    ) -> GlanceDriver:
        """A driver with its own ``HttpCore`` and auth from exactly one of:

        - ``password`` (with ``username`` + ``user_domain_*`` or ``user_id``,
          and ``project_id`` or ``project_name`` + ``project_domain_*``) at ``auth_url``;
        - ``application_credential_secret`` (with ``application_credential_id``) at ``auth_url``;
        - ``token`` (a token already issued; needs ``image_endpoint``);
        - ``auth`` (any ``Auth``, such as ``NoAuth()`` for a Glance without
          Keystone; needs ``image_endpoint``).

        With Keystone, the image endpoint is ``image_endpoint`` when given,
        else the catalog's (``interface``, ``region``, ``service_types``:
        "image" for Glance, "ims" then "image" for IMS).
        ``transport`` replaces the network (in-process use).
        """
        if image_endpoint is not None:
            image_endpoint = _check_endpoint("image_endpoint", image_endpoint)
        given = [name for name, value in (("password", password),
                                          ("application_credential_secret", application_credential_secret),
                                          ("token", token), ("auth", auth)) if value]
        if len(given) != 1:
            raise ValueError("glance auth: exactly one of password, application_credential_secret, token, auth "
                             "must be given" + (f", got {', '.join(given)}" if given else ""))
        if (token or auth) and image_endpoint is None:
            raise ValueError(f"image_endpoint: required with {given[0]} (there is no catalog to find it in)")
        if (password or application_credential_secret) and not auth_url:
            raise ValueError(f"auth_url: required with {given[0]} (the Keystone v3 URL)")
        extra: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        http = HttpCore(transport=transport, verify=verify, ca_bundle=ca_bundle, retry=retry, log=log, **extra)
        chosen: Auth
        if auth is not None:
            chosen = auth
        elif token:
            chosen = static_token(token)
        else:
            assert auth_url is not None
            types = tuple(service_types) if service_types else (
                IMS_SERVICE_TYPES if flavour == "ims" else GLANCE_SERVICE_TYPES)
            chosen = keystone_auth(
                http, auth_url=auth_url, password=password, username=username, user_id=user_id,
                user_domain_name=user_domain_name, user_domain_id=user_domain_id, project_id=project_id,
                project_name=project_name, project_domain_name=project_domain_name,
                project_domain_id=project_domain_id, application_credential_id=application_credential_id,
                application_credential_name=application_credential_name,
                application_credential_secret=application_credential_secret, service_types=types,
                interface=interface, region=region, endpoint_override=image_endpoint,
            )
        return cls(http=http, auth=chosen, endpoint=image_endpoint, flavour=flavour, patch_dialect=patch_dialect,
                   profile=profile)

    # -- the endpoint ------------------------------------------------------------------------
    async def resolve_endpoint(self) -> str:
        """The image service root, read from the Keystone catalog the first
        time (which fetches a token). Every read and ``send`` calls it."""
        if self.endpoint is None:
            assert isinstance(self.auth, KeystoneAuth)
            self._set_endpoint(await self.auth.image_endpoint())
        assert self.endpoint is not None
        return self.endpoint

    def build(self, request: ApiRequest) -> httpx.Request:
        if self.endpoint is None:
            raise EndpointUnknown(
                f"{self.provider}: the image endpoint comes from the Keystone catalog and is not known yet: "
                "await driver.resolve_endpoint() (any read does it) or set image_endpoint")
        return request.to_httpx(self.endpoint)

    # -- reading -------------------------------------------------------------------------------
    async def list_images(
        self,
        *,
        limit: int | None = None,
        page_size: int | None = None,
        **filters: Any,
    ) -> AsyncIterator[ImageSummary]:
        """Images, following the relative ``next`` links to the end or ``limit``.

        Filters (the API's names): ``name``, ``status``, ``visibility``
        (also ``all``), ``tag`` (a list means every tag), ``owner``, ``sort``
        (``"name:asc,created_at:desc"``), ``disk_format``, ``container_format``,
        ``member_status``, ``os_hidden``, ``protected``. Each page asks for
        ``page_size`` images (the server's largest page, 1000, by default).
        """
        unknown = sorted(set(filters) - set(LIST_FILTERS))
        if unknown:
            raise ValueError(f"unknown filter(s) {', '.join(unknown)}: filter by {', '.join(LIST_FILTERS)}")
        if limit is not None and limit <= 0:
            return
        size = page_size if page_size is not None else self.page_size
        if not 1 <= size <= MAX_PAGE:
            raise ValueError(f"page_size: must be between 1 and {MAX_PAGE}, got {size}")
        if limit is not None:
            size = min(size, limit)
        query = ListImages(limit=size, **filters)
        endpoint = await self.resolve_endpoint()
        provider = self.provider

        def next_page(page: Any) -> str | None:
            link = page.get("next") if isinstance(page, dict) else None
            if not isinstance(link, str) or not link:
                return None
            # Relative to the service root, which may carry a path prefix
            # (/glance): append, do not urljoin.
            return endpoint + link if link.startswith("/") else link

        async for image in self.http.follow_pages(query.url(endpoint), provider=provider, auth=self.auth,
                                                  next_of=next_page, items_of=lambda page: _page_images(page, provider),
                                                  limit=limit):
            yield image_summary(image, provider)

    async def get_image(self, image_id: str) -> ImageSummary:
        """One image; ``raw`` is the full ``Image`` (``ImsImage`` on IMS) model."""
        return self._full_summary(await self._json(GetImage(image_id=image_id)))

    def _full_summary(self, body: Any) -> ImageSummary:
        if not isinstance(body, dict):
            raise InvalidResponse(self.provider, "expected an image object")
        model_type = ImsImage if self.flavour == "ims" else Image
        try:
            model = model_type.model_validate(body)
        except ValueError as exc:
            raise InvalidResponse(self.provider, f"the image does not parse: {exc}") from None
        return image_summary(body, self.provider, raw=model)

    async def _json(self, request: ApiRequest) -> Any:
        await self.resolve_endpoint()
        return await self.request_json(request)

    # -- building requests -------------------------------------------------------------------------
    def patch_request(self, image_id: str, operations: Iterable[PatchOperation | Mapping[str, Any]], *,
                      dialect: PatchDialect | None = None) -> PatchImage:
        """A ``PatchImage`` in this driver's dialect and flavour (checked now)."""
        return PatchImage(image_id=image_id, operations=list(operations), dialect=dialect or self.patch_dialect,
                          flavour=self.flavour)

    def edit_request(self, before: Mapping[str, Any] | BaseModel | ImageSummary,
                     after: Mapping[str, Any] | BaseModel | ImageSummary, *,
                     dialect: PatchDialect | None = None) -> PatchImage:
        """The minimal ``PatchImage`` from the image as it was to the image as
        edited (dicts, ``Image`` models, or summaries from ``get_image``)."""
        return edit_request(_unwrap(before), _unwrap(after), dialect=dialect or self.patch_dialect,
                            flavour=self.flavour)

    def create_request(self, **fields: Any) -> CreateImage:
        fields.setdefault("flavour", self.flavour)
        return CreateImage(**fields)

    # -- sending -----------------------------------------------------------------------------------
    async def send(self, request: ApiRequest) -> Any | Operation:
        """Send a request: the image (an ``ImageSummary`` with the full model)
        for reads, creates and patches; None for a delete; the decoded page for
        ``ListImages``; an ``Operation`` for an upload (tracked until the image
        is ``active``)."""
        if not isinstance(request, GlanceRequest):
            raise TypeError(f"GlanceDriver cannot send a {type(request).__name__} (not a Glance request)")
        if isinstance(request, (CreateImage, PatchImage)) and request.flavour != self.flavour:
            builder = "create_request" if isinstance(request, CreateImage) else "patch_request"
            raise ValueError(f"flavour: the request was checked for {request.flavour!r}, this driver is "
                             f"{self.flavour!r}: build it with driver.{builder}()")
        await self.resolve_endpoint()
        if isinstance(request, DeleteImage):
            await self._delete(request)
            return None
        if request.returns == "nothing":
            await self.request(request)
            return None
        if request.returns == "upload":
            assert isinstance(request, UploadImageData)
            await self.request(request)
            return self._poller.start(request.image_id, kind="upload", description=request.summary(),
                                      profile=self.profile)
        body = await self.request_json(request)
        if request.returns == "image":
            return self._full_summary(body)
        return body

    async def _delete(self, request: DeleteImage) -> None:
        """Delete an image; a delete whose 204 was lost still succeeds.

        DELETE is idempotent, so the core replays it when an answer is lost. If
        the lost answer was the 204, the replay finds the image gone (404): that
        delete worked. A 404 is only taken as success after an attempt that may
        have reached Glance (no answer, or a 5xx); after a 401 or 429 it did not.
        """
        path = request.path()
        attempts: list[LogEntry] = []

        def note(entry: LogEntry) -> None:
            if entry.provider == self.provider and entry.method == "DELETE" and \
                    entry.url.split("?", 1)[0].endswith(path):
                attempts.append(entry)

        unsubscribe = self.http.log.subscribe(note)
        try:
            await self.request(request)
        except ApiError as error:
            earlier = attempts[:-1]  # the last one is the 404 itself
            if error.status != 404 or not any(e.status is None or e.status >= 500 for e in earlier):
                raise
        finally:
            unsubscribe()

    async def update(self, image_id: str, operations: Iterable[PatchOperation | Mapping[str, Any]], *,
                     dialect: PatchDialect | None = None) -> ImageSummary:
        """Patch an image; the image as it now is."""
        return await self.send(self.patch_request(image_id, operations, dialect=dialect))

    def poller(self) -> GlanceStatusPoller:
        return self._poller


def _unwrap(image: Any) -> Any:
    if isinstance(image, ImageSummary):
        return image.raw
    return image


def _check_endpoint(field: str, url: str) -> str:
    if check_http_url(field, url).query:
        raise ValueError(f"{field}: must not carry a query string")
    return service_root(str(url))


__all__ = ["EndpointUnknown", "FLAVOURS", "GlanceDriver", "image_summary"]
