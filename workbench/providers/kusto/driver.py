"""The Kusto driver: sandbox custom images of one cluster, through Azure Resource Manager.

Construct it with plain settings (what a profile holds)::

    driver = KustoDriver.connect(
        subscription_id="12345678-1234-1234-1234-123456789098",
        resource_group="kustorptest",
        cluster="kustoCluster",
        credential=AzureCredential("client_secret", tenant_id=..., client_id=..., client_secret=...),
        base_url="https://management.azure.com",          # the simulator's "kusto" endpoint in demos
    )
    async for image in driver.list_images():
        ...
    op = await driver.send(driver.create_or_update("img", language_version="3.10.8"))
    tracker.track(op, poller=driver.poller())

or, when the HTTP core and auth already exist, ``KustoDriver(http=..., auth=...,
base_url=..., subscription_id=..., resource_group=..., cluster=...)``.

Image ids in summaries are the image names (unique within the cluster);
``get_image`` takes a name or the full ARM resource id.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from workbench.core.auth import Auth
from workbench.core.errors import InvalidResponse
from workbench.core.http import HttpCore
from workbench.core.images import ImageSummary
from workbench.core.operations import ArmAsyncPoller, Operation
from workbench.core.requestlog import RequestLog
from workbench.core.retry import RetryPolicy
from workbench.providers.azure_auth import ARM_SCOPE, AzureCredential
from workbench.providers.base import ApiRequest, Driver
from workbench.providers.kusto.models import (
    API_VERSION,
    CheckNameResult,
    SandboxCustomImage,
    UpdateSandboxCustomImage,
    UpdateSandboxCustomImageProperties,
)
from workbench.providers.kusto.requests import (
    CheckNameAvailability,
    ClusterScope,
    CreateOrUpdateImage,
    DeleteImage,
    GetImage,
    ImageRequest,
    ListImages,
    UpdateImage,
)

#: Azure Resource Manager in the public cloud.
ARM_ENDPOINT = "https://management.azure.com"


def image_summary(item: dict[str, Any], raw: Any = None) -> ImageSummary:
    """The common summary of one ARM image body (a dict: no model on the list path)."""
    props = item.get("properties") or {}
    name = (item.get("name") or "").rsplit("/", 1)[-1]
    state = props.get("provisioningState") or ""
    language = props.get("language") or ""
    return ImageSummary(
        provider="kusto",
        id=name,
        name=name,
        status=state,
        os=language,
        extras={
            "language": language,
            "languageVersion": props.get("languageVersion") or "",
            "baseImageName": props.get("baseImageName") or "",
            "provisioningState": state,
        },
        raw=item if raw is None else raw,
    )


class KustoDriver(Driver):
    provider = "kusto"

    def __init__(
        self,
        *,
        http: HttpCore,
        auth: Auth,
        subscription_id: str,
        resource_group: str,
        cluster: str,
        base_url: str = ARM_ENDPOINT,
        api_version: str = API_VERSION,
        profile: str = "",
    ) -> None:
        self.scope = ClusterScope(subscription_id=subscription_id, resource_group=resource_group, cluster=cluster)
        self.api_version = api_version
        super().__init__(http=http, auth=auth, base_url=base_url, profile=profile)
        self._poller = ArmAsyncPoller(http, auth, provider=self.provider)

    @classmethod
    def connect(
        cls,
        *,
        subscription_id: str,
        resource_group: str,
        cluster: str,
        base_url: str = ARM_ENDPOINT,
        api_version: str = API_VERSION,
        credential: AzureCredential | None = None,
        auth: Auth | Callable[[HttpCore], Auth] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        retry: RetryPolicy | None = None,
        log: RequestLog | None = None,
        timeout: float | httpx.Timeout = 30.0,
        profile: str = "",
    ) -> KustoDriver:
        """A driver with its own HTTP core; authenticate with ``credential``
        (Entra client secret, Azure CLI or static token, scope ARM) or a ready
        ``auth`` (or a function of the new core returning one).

        ``timeout`` is an ``httpx.Timeout`` (a profile's, every phase set), or
        seconds for every phase but connecting, which waits at most 10 s."""
        if (credential is None) == (auth is None):
            raise ValueError("credential / auth: give exactly one way to authenticate")
        # Checked before a client exists that would need closing.
        ClusterScope(subscription_id=subscription_id, resource_group=resource_group, cluster=cluster)
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        http = HttpCore(base_url=base_url, transport=transport, verify=verify, ca_bundle=ca_bundle, retry=retry,
                        log=log, timeout=timeout)
        if credential is not None:
            auth = credential.build(scope=ARM_SCOPE, http=http, provider=cls.provider)
        elif callable(auth) and not isinstance(auth, Auth):
            auth = auth(http)
        assert isinstance(auth, Auth)
        return cls(http=http, auth=auth, subscription_id=subscription_id, resource_group=resource_group,
                   cluster=cluster, base_url=base_url, api_version=api_version, profile=profile)

    # -- building requests -------------------------------------------------------
    def create_or_update(
        self,
        image_name: str,
        *,
        language_version: str | None = None,
        base_image_name: str | None = None,
        requirements: str | None = None,
        requirements_file: str | os.PathLike[str] | None = None,
        language: str = "Python",
    ) -> CreateOrUpdateImage:
        return CreateOrUpdateImage.build(
            self.scope, image_name, language_version=language_version, base_image_name=base_image_name,
            requirements=requirements, requirements_file=requirements_file, language=language,
            api_version=self.api_version,
        )

    def update(self, image_name: str, **properties: Any) -> UpdateImage:
        """A PATCH of the given properties (snake_case; None removes one)."""
        body = UpdateSandboxCustomImage(properties=UpdateSandboxCustomImageProperties(**properties))
        return UpdateImage(scope=self.scope, image_name=image_name, body=body, api_version=self.api_version)

    def delete(self, image_name: str) -> DeleteImage:
        return DeleteImage(scope=self.scope, image_name=image_name, api_version=self.api_version)

    def check_name(self, name: str) -> CheckNameAvailability:
        return CheckNameAvailability(scope=self.scope, name=name, api_version=self.api_version)

    # -- reading -------------------------------------------------------------------
    async def list_images(self, *, limit: int | None = None, **filters: Any) -> AsyncIterator[ImageSummary]:
        """Every image of the cluster, following ``nextLink`` (ARM sets the page size)."""
        if filters:
            raise ValueError(f"{', '.join(sorted(filters))}: unknown filter; the Kusto list API has no filters")
        first = ListImages(scope=self.scope, api_version=self.api_version)
        async for item in self.http.follow_pages(
            first.url(self.base_url),
            provider=self.provider,
            auth=self.auth,
            next_of=_next_link,
            items_of=_items,
            limit=limit,
        ):
            yield image_summary(item)

    async def get_image(self, image_id: str) -> ImageSummary:
        """One image by name or ARM resource id; ``raw`` is a ``SandboxCustomImage``."""
        request = GetImage(scope=self.scope, image_name=self._image_name(image_id), api_version=self.api_version)
        return _full_summary(await self.request_json(request))

    def _image_name(self, image_id: str) -> str:
        if not image_id.startswith("/"):
            return image_id
        # /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.Kusto/clusters/{c}/sandboxCustomImages/{name}
        parts = image_id.strip("/").split("/")
        expected = self.scope.path().strip("/").lower().split("/")
        if (len(parts) != len(expected) + 2 or [p.lower() for p in parts[: len(expected)]] != expected
                or parts[-2].lower() != "sandboxcustomimages"):
            raise ValueError(f"image_id: {image_id!r} is not a sandbox custom image of cluster "
                             f"/{self.scope.path().strip('/')}")
        return parts[-1]

    # -- editing -------------------------------------------------------------------
    async def send(self, request: ApiRequest) -> Any:
        """Create/update/delete -> an ``Operation`` (track it with ``poller()``);
        ``GetImage`` -> an ``ImageSummary``; ``CheckNameAvailability`` -> a
        ``CheckNameResult``."""
        if isinstance(request, (CreateOrUpdateImage, UpdateImage, DeleteImage)):
            return await self._start_operation(request)
        if isinstance(request, GetImage):
            return _full_summary(await self.request_json(request))
        if isinstance(request, CheckNameAvailability):
            return CheckNameResult.model_validate(await self.request_json(request))
        raise TypeError(f"{type(request).__name__} is not a Kusto request this driver sends "
                        "(use list_images() to list)")

    async def _start_operation(self, request: ImageRequest) -> Operation:
        response = await self.request(request)
        if isinstance(request, CreateOrUpdateImage):
            kind = "create" if response.status_code == 201 else "update"
        elif isinstance(request, UpdateImage):
            kind = "update"
        else:
            kind = "delete"
        return self._poller.start(response, kind=kind, target=request.image_name, description=request.summary(),
                                  profile=self.profile)

    def poller(self) -> ArmAsyncPoller:
        return self._poller


def _full_summary(body: Any) -> ImageSummary:
    """A summary whose ``raw`` is the validated ``SandboxCustomImage``; a body
    that is not one (empty, not an object, without its ``name``) is refused."""
    if not isinstance(body, dict):
        raise InvalidResponse("kusto", "expected a SandboxCustomImage object")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidResponse("kusto", "the image has no name")
    try:
        model = SandboxCustomImage.model_validate(body)
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        raise InvalidResponse("kusto", f"the image does not parse: {exc}") from None
    return image_summary(body, model)


def _next_link(page: Any) -> str | None:
    link = page.get("nextLink") if isinstance(page, dict) else None
    return link if isinstance(link, str) and link else None


def _items(page: Any) -> list[dict[str, Any]]:
    value = page.get("value") if isinstance(page, dict) else None
    if not isinstance(value, list):
        raise InvalidResponse("kusto", "a list page without a 'value' array (not a SandboxCustomImagesListResult)")
    return [item for item in value if isinstance(item, dict)]


__all__ = ["ARM_ENDPOINT", "KustoDriver", "image_summary"]
