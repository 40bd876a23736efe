"""The driver interface every provider implements, and the typed request base.

A driver turns one profile into an authenticated client of one cloud's image
API. It lists and reads images, and sends typed edit requests (``ApiRequest``
subclasses: pydantic models of exactly what the API accepts) through the
shared ``HttpCore``; work that finishes later comes back as an ``Operation``
for the tracker, polled by the driver's ``poller()``.

Writing a request::

    class DeleteImage(ApiRequest):
        method: ClassVar[str] = "DELETE"
        destructive: ClassVar[bool] = True
        image_id: str

        def path(self) -> str:
            return f"/v2/images/{path_segment(self.image_id)}"

        def summary(self) -> str:
            return f"Delete image {self.image_id}"

and a driver::

    class GlanceDriver(Driver):
        provider = "glance"

        async def list_images(self, *, limit=None, **filters):
            async for image in self.http.follow_pages(...):
                yield to_summary(image)
        ...
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Collection, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

from workbench.core.auth import Auth
from workbench.core.http import HttpCore, decode_json
from workbench.core.images import ImageSummary
from workbench.core.operations import Operation, Poller
from workbench.core.preview import RequestPreview
from workbench.core.retry import IDEMPOTENCY_HEADERS, IDEMPOTENT_METHODS


def path_segment(value: str, *, field: str = "id") -> str:
    """``value`` percent-encoded as one URL path segment.

    Refuses what would change the path's meaning once decoded (empty, ``.``
    or ``..``), so an id can never walk the URL to another resource.
    """
    if not isinstance(value, str) or value in ("", ".", ".."):
        raise ValueError(f"{field}: {value!r} is not a valid path segment (it must be a non-empty name, "
                         "not '.' or '..')")
    return quote(value, safe="")


class ApiRequest(BaseModel):
    """The base of every typed request a driver can send.

    Subclasses are pydantic models of the API's parameters, with the API's
    rules as validators, and describe the HTTP request they stand for:

    - ``method`` (class variable) and ``path()`` (relative to the driver's
      base URL; build it with ``path_segment`` for ids);
    - ``query()``, ``headers()``;
    - ``json_body()`` for a JSON body, or ``content()`` for raw bytes (then
      set the Content-Type in ``headers()``);
    - ``idempotent``: None means "by the method" (GET, PUT, DELETE are; POST,
      PATCH are not; an ``Idempotency-Key`` header makes any request safe to
      retry);
    - ``destructive`` / ``costly``: the app asks for confirmation first;
    - ``summary()``: one line for people ("Create image web-2 in folder b1g...").
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: ClassVar[str] = "GET"
    idempotent: ClassVar[bool | None] = None
    destructive: ClassVar[bool] = False
    costly: ClassVar[bool] = False
    #: Statuses that mean success for this request.
    expect: ClassVar[tuple[int, ...]] = (200,)

    @abstractmethod
    def path(self) -> str:
        """The path after the base URL, e.g. ``/v2/images/{id}``."""

    def query(self) -> Mapping[str, Any]:
        return {}

    def headers(self) -> Mapping[str, str]:
        return {}

    def json_body(self) -> Any:
        """The JSON body, or None for no JSON body."""
        return None

    def content(self) -> bytes | None:
        """A raw body (used when ``json_body()`` is None)."""
        return None

    def summary(self) -> str:
        return f"{self.method} {self.path()}"

    def is_idempotent(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        if any(name.lower() in IDEMPOTENCY_HEADERS for name in self.headers()):
            return True
        return self.method.upper() in IDEMPOTENT_METHODS

    def url(self, base_url: str | httpx.URL) -> httpx.URL:
        """``base_url`` + ``path()`` + ``query()``; the base may carry a path
        prefix (``http://sim.test/kusto``) that is kept."""
        base = str(base_url).rstrip("/")
        path = self.path()
        if "://" in path:
            raise ValueError(f"{type(self).__name__}.path() must be relative to the base URL, got {path!r}")
        params = {key: value for key, value in self.query().items() if value is not None}
        return httpx.URL(f"{base}/{path.lstrip('/')}", params=params or None)

    def to_httpx(self, base_url: str | httpx.URL) -> httpx.Request:
        """The exact ``httpx.Request`` (without auth: the core adds it)."""
        headers = dict(self.headers())
        body = self.json_body()
        content: bytes | None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
        else:
            content = self.content()
        return httpx.Request(self.method, self.url(base_url), headers=headers, content=content)


class Driver(ABC):
    """One cloud's image API for one profile.

    Concrete drivers set ``provider``, build their ``HttpCore`` and ``Auth``
    from the profile, and implement the abstract methods. ``preview``,
    ``curl``, ``request``, ``aclose`` and the async context manager come free.
    """

    #: "kusto", "glance", "ims", "batch" or "yandex"
    provider: ClassVar[str] = ""

    def __init__(self, *, http: HttpCore, auth: Auth, base_url: str, profile: str = "") -> None:
        self.http = http
        self.auth = auth
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        http.allow_origin(self.base_url)

    # -- reading ---------------------------------------------------------------
    @abstractmethod
    def list_images(self, *, limit: int | None = None, **filters: Any) -> AsyncIterator[ImageSummary]:
        """Images, following the provider's paging to the end or ``limit``.

        Implement as an async generator (``async def ...: yield``); unknown
        filters raise ``ValueError`` naming the filter.
        """

    @abstractmethod
    async def get_image(self, image_id: str) -> ImageSummary:
        """One image; ``raw`` holds the provider's full model."""

    # -- editing ---------------------------------------------------------------
    def build(self, request: ApiRequest) -> httpx.Request:
        """The ``httpx.Request`` for ``request`` (override for several base URLs)."""
        return request.to_httpx(self.base_url)

    def preview(self, request: ApiRequest) -> RequestPreview:
        """The exact HTTP request ``send`` would make, secrets masked, without sending."""
        return self.http.preview(self.build(request), self.auth)

    def curl(self, request: ApiRequest, *, multiline: bool = False) -> str:
        """``request`` as a ``curl`` command line, secrets masked."""
        return self.preview(request).to_curl(multiline=multiline)

    async def request(self, request: ApiRequest, *, expect: Collection[int] | None = None) -> httpx.Response:
        """Send ``request`` through the core (auth, retries, log, typed errors)."""
        return await self.http.send(
            self.build(request),
            provider=self.provider,
            auth=self.auth,
            idempotent=request.is_idempotent(),
            expect=expect if expect is not None else request.expect,
        )

    async def request_json(self, request: ApiRequest, *, expect: Collection[int] | None = None) -> Any:
        """``request`` sent, its JSON answer decoded (None for an empty body)."""
        response = await self.request(request, expect=expect)
        if not response.content.strip():
            return None
        return decode_json(response, self.provider)

    @abstractmethod
    async def send(self, request: ApiRequest) -> Any | Operation:
        """Send an edit: the provider's answer, or an ``Operation`` to track."""

    @abstractmethod
    def poller(self) -> Poller:
        """The poller for this driver's operations (register it with the tracker)."""

    # -- lifecycle -------------------------------------------------------------
    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> Driver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


__all__ = ["ApiRequest", "Driver", "path_segment"]
