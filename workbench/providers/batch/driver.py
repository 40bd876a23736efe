"""The Azure Batch driver: the images a Batch account's pools can use.

The supported-images API is read-only (``GET {batchUrl}/supportedimages``), so
the driver lists and reads; ``send`` refuses. Construct it with plain settings::

    driver = BatchDriver.connect(
        account_url="https://demoaccount.westus.batch.azure.com",   # the simulator's "batch" endpoint in demos
        account_name="demoaccount",
        account_key="...",                     # Shared Key, or:
        # credential=AzureCredential("client_secret", ...)   Entra, scope https://batch.core.windows.net/.default
    )
    async for image in driver.list_images(filter=odata.os_type.eq("linux"), limit=50):
        ...

Image ids. The API has no id for an image; an image is identified by the node
agent SKU that runs it and its image reference, so a summary's ``id`` is::

    {nodeAgentSKUId}|{publisher}:{offer}:{sku}:{version}
    e.g. "batch.node.ubuntu 22.04|Canonical:0001-com-ubuntu-server-jammy:22_04-lts:latest"

(``{nodeAgentSKUId}|{virtualMachineImageId}`` for a Compute Gallery image).
``|`` never occurs in a node agent SKU id. ``name`` is the image reference
part alone (the Marketplace URN as the Azure CLI writes it). ``get_image``
takes such an id and asks the service with a ``$filter`` on the agent and
reference, so it reads one small page, not the whole list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any
from urllib.parse import urlsplit

import httpx

from workbench.core.auth import Auth
from workbench.core.errors import InvalidResponse, WorkbenchError
from workbench.core.http import HttpCore
from workbench.core.images import ImageSummary
from workbench.core.operations import Operation, PollOutcome, Poller
from workbench.core.requestlog import RequestLog
from workbench.core.retry import RetryPolicy
from workbench.providers.azure_auth import BATCH_SCOPE, AzureCredential
from workbench.providers.base import ApiRequest, Driver
from workbench.providers.batch import odata
from workbench.providers.batch.auth import BatchSharedKey
from workbench.providers.batch.models import API_VERSION, ImageInformation
from workbench.providers.batch.requests import MAX_RESULTS, ListSupportedImages, request_headers

#: Separates the node agent SKU id from the image reference in an image id.
ID_SEPARATOR = "|"
#: A listing longer than this many pages is refused (a server paging forever).
MAX_PAGES = 10_000


class ReadOnlyApi(WorkbenchError, NotImplementedError):
    """The provider's API has nothing to send: it only lists."""


class ImageNotFound(WorkbenchError, LookupError):
    """No supported image has the given id."""


def reference_key(reference: dict[str, Any]) -> str:
    """``publisher:offer:sku:version`` (or the gallery image id)."""
    gallery = reference.get("virtualMachineImageId")
    if gallery:
        return str(gallery)
    return (f"{reference.get('publisher') or ''}:{reference.get('offer') or ''}:{reference.get('sku') or ''}:"
            f"{reference.get('version') or 'latest'}")


def batch_image_id(item: dict[str, Any]) -> str:
    """The id this driver gives an ``ImageInformation`` dict (see the module docs)."""
    return f"{item.get('nodeAgentSKUId') or ''}{ID_SEPARATOR}{reference_key(item.get('imageReference') or {})}"


def image_summary(item: dict[str, Any], raw: Any = None) -> ImageSummary:
    """The common summary of one ``ImageInformation`` dict (no model on the list path)."""
    reference = item.get("imageReference") or {}
    agent = item.get("nodeAgentSKUId") or ""
    key = reference_key(reference)
    verification = item.get("verificationType") or ""
    os_type = item.get("osType") or ""
    return ImageSummary(
        provider="batch",
        id=f"{agent}{ID_SEPARATOR}{key}",  # batch_image_id(), inlined for speed
        name=key,
        status=verification,
        os=os_type,
        extras={
            "nodeAgentSKUId": agent,
            "publisher": reference.get("publisher") or "",
            "offer": reference.get("offer") or "",
            "sku": reference.get("sku") or "",
            "osType": os_type,
            "verificationType": verification,
            "batchSupportEndOfLife": item.get("batchSupportEndOfLife") or "",
        },
        raw=item if raw is None else raw,
    )


def parse_image_id(value: str) -> tuple[str, dict[str, str]]:
    """``(nodeAgentSKUId, image reference)`` of an id made by ``batch_image_id``
    (the version may be left out: it means ``latest``)."""
    agent, sep, reference = value.partition(ID_SEPARATOR)
    if not sep or not agent.strip() or not reference:
        raise ValueError(f"image_id: expected '{{nodeAgentSKUId}}|{{publisher}}:{{offer}}:{{sku}}:{{version}}', "
                         f"got {value!r}")
    if reference.startswith("/"):
        return agent, {"virtualMachineImageId": reference}
    parts = reference.split(":")
    if len(parts) not in (3, 4) or not all(parts[:3]):
        raise ValueError(f"image_id: the image reference must be publisher:offer:sku[:version], got {reference!r}")
    publisher, offer, sku = parts[:3]
    return agent, {"publisher": publisher, "offer": offer, "sku": sku,
                   "version": parts[3] if len(parts) == 4 and parts[3] else "latest"}


class _NoOperations(Poller):
    """Batch image listing starts no long-running work: nothing to poll."""

    provider = "batch"

    async def poll(self, op: Operation) -> PollOutcome:
        raise ReadOnlyApi(f"batch: operation {op.id} cannot be polled: the supported-images API starts no "
                          "long-running operations")


class BatchDriver(Driver):
    provider = "batch"

    def __init__(
        self,
        *,
        http: HttpCore,
        auth: Auth,
        account_url: str,
        account_name: str = "",
        api_version: str = API_VERSION,
        profile: str = "",
    ) -> None:
        """``account_url`` is the account endpoint (``https://{account}.{region}.batch.azure.com``)."""
        _check_account_url(account_url)
        self.account_name = account_name or account_name_of(account_url)
        self.api_version = api_version
        super().__init__(http=http, auth=auth, base_url=account_url, profile=profile)
        self._poller = _NoOperations()

    @classmethod
    def connect(
        cls,
        *,
        account_url: str,
        account_name: str = "",
        account_key: str | None = None,
        credential: AzureCredential | None = None,
        auth: Auth | Callable[[HttpCore], Auth] | None = None,
        api_version: str = API_VERSION,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool = True,
        ca_bundle: str | None = None,
        retry: RetryPolicy | None = None,
        log: RequestLog | None = None,
        timeout: float | httpx.Timeout = 60.0,
        profile: str = "",
    ) -> BatchDriver:
        """A driver with its own HTTP core, authenticated by exactly one of:
        ``account_key`` (Shared Key, with ``account_name``), ``credential``
        (Entra, scope ``https://batch.core.windows.net/.default``) or ``auth``
        (ready, or a function of the new core returning one).

        ``timeout`` is an ``httpx.Timeout`` (a profile's, every phase set), or
        seconds for every phase but connecting, which waits at most 10 s."""
        given = [name for name, value in (("account_key", account_key), ("credential", credential), ("auth", auth))
                 if value is not None]
        if len(given) != 1:
            raise ValueError(f"account_key / credential / auth: give exactly one way to authenticate, got "
                             f"{', '.join(given) or 'none'}")
        # Everything that can be checked is, before a client exists that would need closing.
        _check_account_url(account_url)
        name = account_name or account_name_of(account_url)
        if account_key is not None:
            if not name:
                raise ValueError("account_name: required for Shared Key (it is signed); the account URL "
                                 f"{account_url!r} does not name it")
            auth = BatchSharedKey(name, account_key)  # refuses a key that is not base64
        if not isinstance(timeout, httpx.Timeout):
            timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        http = HttpCore(base_url=account_url, transport=transport, verify=verify, ca_bundle=ca_bundle, retry=retry,
                        log=log, timeout=timeout)
        if account_key is not None:
            http.add_secret(account_key)
        elif credential is not None:
            auth = credential.build(scope=BATCH_SCOPE, http=http, provider=cls.provider)
        elif callable(auth) and not isinstance(auth, Auth):
            auth = auth(http)
        assert isinstance(auth, Auth)
        return cls(http=http, auth=auth, account_url=account_url, account_name=name, api_version=api_version,
                   profile=profile)

    # -- reading -------------------------------------------------------------------
    def list_request(self, *, filter: str | odata.Expr | None = None, maxresults: int | None = None,
                     timeout: int | None = None) -> ListSupportedImages:
        return ListSupportedImages.build(filter=filter, maxresults=maxresults, timeout=timeout,
                                         api_version=self.api_version)

    async def list_images(
        self,
        *,
        limit: int | None = None,
        filter: str | odata.Expr | None = None,
        maxresults: int | None = None,
        timeout: int | None = None,
        **filters: Any,
    ) -> AsyncIterator[ImageSummary]:
        """Supported images, following ``odata.nextLink`` as-is to the end or ``limit``.

        ``filter``: ``$filter`` text or an ``odata`` expression (checked
        against the supported subset before sending); ``maxresults``: page
        size, 1..1000 (default: the largest page, or ``limit`` if smaller);
        ``timeout``: seconds the service may spend per page.
        """
        if filters:
            raise ValueError(f"{', '.join(sorted(filters))}: unknown filter; Batch lists by filter (an OData "
                             "$filter), maxresults and timeout")
        if limit is not None and limit <= 0:
            return
        if maxresults is None:
            maxresults = MAX_RESULTS if limit is None else min(MAX_RESULTS, limit)
        first = self.list_request(filter=filter, maxresults=maxresults, timeout=timeout)
        async for item in self._pages(first, limit):
            yield image_summary(item)

    def _pages(self, first: ListSupportedImages, limit: int | None) -> AsyncIterator[dict[str, Any]]:
        """Items of ``first``'s page and every ``odata.nextLink`` after it.

        Each page is its own request with its own client-request-id (a retry
        of one page keeps its id): the first page goes with ``first``'s own
        headers (the id its preview showed), each next page with a fresh id.
        Next links are followed exactly as sent, but only to this account's
        host, never in a loop.
        """
        first_page = [first.headers()]

        def page_headers() -> dict[str, str]:
            return first_page.pop() if first_page else request_headers()

        return self.http.follow_pages(first.url(self.base_url), provider=self.provider, auth=self.auth,
                                      headers_for=page_headers, next_of=_next_link, items_of=_items,
                                      limit=limit, max_pages=MAX_PAGES)

    async def get_image(self, image_id: str) -> ImageSummary:
        """The image with id ``{nodeAgentSKUId}|{publisher}:{offer}:{sku}:{version}``;
        ``raw`` is its ``ImageInformation``. ``ImageNotFound`` if no such image."""
        agent, reference = parse_image_id(image_id)
        clauses = [odata.node_agent_sku_id.eq(agent)]
        if "publisher" in reference:
            clauses += [odata.publisher.eq(reference["publisher"]), odata.offer.eq(reference["offer"]),
                        odata.sku.eq(reference["sku"])]
        request = self.list_request(filter=odata.all_of(*clauses))
        wanted = f"{agent}{ID_SEPARATOR}{reference_key(reference)}"
        async with aclosing(self._pages(request, None)) as items:
            async for item in items:
                if batch_image_id(item) == wanted:
                    return image_summary(item, ImageInformation.model_validate(item))
        raise ImageNotFound(f"batch: no supported image {image_id!r} in account {self.account_name or self.base_url}")

    # -- editing -------------------------------------------------------------------
    async def send(self, request: ApiRequest) -> Any:
        raise ReadOnlyApi(
            f"batch: cannot send {type(request).__name__}: the supported-images API is read-only (there are no "
            "image edits in Azure Batch). Use list_images() or get_image(); preview() and curl() show the "
            "ListSupportedImages request."
        )

    def poller(self) -> Poller:
        return self._poller


def _check_account_url(account_url: str) -> None:
    if not account_url.startswith(("https://", "http://")):
        raise ValueError(f"account_url: must be the account's http(s) URL, got {account_url!r}")


def _items(page: Any) -> list[dict[str, Any]]:
    value = page.get("value") if isinstance(page, dict) else None
    if not isinstance(value, list):
        raise InvalidResponse("batch", "a page without a 'value' array (not an AccountListSupportedImagesResult)")
    return [item for item in value if isinstance(item, dict)]


def _next_link(page: dict[str, Any]) -> str | None:
    link = page.get("odata.nextLink")  # a dict: _items checked it first
    if not link:
        return None
    if not isinstance(link, str):
        raise InvalidResponse("batch", f"odata.nextLink is not a URL: {link!r}")
    return link


def account_name_of(account_url: str) -> str:
    """The account name in ``https://{account}.{region}.batch.azure.com``, else ""."""
    host = (urlsplit(account_url).hostname or "").lower()
    if host.endswith(".batch.azure.com") and host.count(".") >= 4:
        return host.split(".", 1)[0]
    return ""


__all__ = [
    "BatchDriver",
    "ID_SEPARATOR",
    "ImageNotFound",
    "ReadOnlyApi",
    "account_name_of",
    "batch_image_id",
    "image_summary",
    "parse_image_id",
    "reference_key",
]
