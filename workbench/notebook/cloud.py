"""One profile's cloud: reading images, building requests, previewing and sending them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.format import to_jsonable
from workbench.notebook.errors import UnsupportedAction
from workbench.notebook.images import Image, ImageTable
from workbench.notebook.operations import Operation
from workbench.notebook.requests import Request, RequestView

if TYPE_CHECKING:
    from workbench.notebook.bench import Workbench
    from workbench.providers.base import ApiRequest, Driver


class Cloud:
    """One profile's cloud: list and read images, build, preview and send requests.

    Builders return a ``Request`` (nothing is sent until ``send``); which exist
    depends on the provider: ``patch`` and ``edit`` (Glance/IMS), ``create_image`` and
    ``update_image`` (Yandex), ``put_image`` and ``update_image`` (Kusto),
    ``delete_image`` (all but Batch), ``list_request`` (Batch: preview the
    supported-images request). ``request(api_request)`` wraps any request model
    built by hand.
    """

    def __init__(self, bench: Workbench, name: str, provider: str) -> None:
        self._bench = bench
        self.name = name
        self.provider = provider

    @property
    def driver(self) -> Driver:
        """The profile's driver (advanced). It lives on the workbench's loop: run its
        coroutines with ``workbench.run(...)`` / ``await workbench.run_async(...)``."""
        return self._bench._call(self._bench._workspace.driver, self.name)

    # -- reading ------------------------------------------------------------------
    async def _list(self, limit: int | None, filters: dict[str, Any]) -> ImageTable:
        driver = self._bench._workspace.driver(self.name)
        images = [Image(summary, self.name) async for summary in driver.list_images(limit=limit, **filters)]
        return ImageTable(images, profile=self.name, provider=self.provider, limit=limit, filters=filters)

    def images(self, limit: int | None = 100, **filters: Any) -> ImageTable:
        """Images (following the cloud's paging) up to ``limit`` (None: all). ``filters``
        are the driver's: ``status="active"`` (Glance), ``family="web"`` (Yandex),
        ``filter=odata.os_type.eq("linux")`` (Batch), ..."""
        return self._bench._run(self._list(limit, filters))

    async def images_async(self, limit: int | None = 100, **filters: Any) -> ImageTable:
        return await self._bench._run_async(self._list(limit, filters))

    async def _get(self, image_id: str) -> Image:
        driver = self._bench._workspace.driver(self.name)
        return Image(await driver.get_image(image_id), self.name)

    def image(self, image_id: str) -> Image:
        """One image, with the provider's full model as ``raw``."""
        return self._bench._run(self._get(image_id))

    async def image_async(self, image_id: str) -> Image:
        return await self._bench._run_async(self._get(image_id))

    # -- building -------------------------------------------------------------------
    def _need(self, action: str, *providers: str) -> None:
        if self.provider not in providers:
            names = "/".join("IMS" if p == "ims" else p.capitalize() for p in providers)
            raise UnsupportedAction(f"{action} is for {names} profiles; profile '{self.name}' is {self.provider}")

    def _build(self, make: Callable[[Any], ApiRequest]) -> Request:
        def build() -> ApiRequest:
            return make(self._bench._workspace.driver(self.name))

        return Request(self, self._bench._call(build))

    def request(self, api_request: ApiRequest) -> Request:
        """Wrap a request model built by hand (any ``ApiRequest`` of this provider)."""
        return Request(self, api_request)

    def patch(self, image_id: str, operations: Sequence[Mapping[str, Any]], *, dialect: str | None = None) -> Request:
        """A Glance/IMS JSON patch: ``[{"op": "replace", "path": "/min_disk", "value": 20}, ...]``,
        sent as ``dialect`` v2.1 (default: the profile's) or v2.0."""
        self._need("patch", "glance", "ims")
        options = {"dialect": dialect} if dialect else {}
        return self._build(lambda d: d.patch_request(image_id, [dict(op) for op in operations], **options))

    async def _edit(self, image: Image | str, changes: dict[str, Any], dialect: str | None) -> Request:
        driver = self._bench._workspace.driver(self.name)
        if isinstance(image, str):
            image = Image(await driver.get_image(image), self.name)
        before = image.raw
        if before is None:
            raise ValueError("image: has no full model to edit (read it with cloud.image(id))")
        after = before.to_api() if hasattr(before, "to_api") else dict(to_jsonable(before))
        after.update(changes)
        options = {"dialect": dialect} if dialect else {}
        return Request(self, driver.edit_request(before, after, **options))

    def edit(self, image: Image | str, changes: Mapping[str, Any] | None = None, *, dialect: str | None = None,
             **more: Any) -> Request:
        """The minimal Glance/IMS JSON patch that sets ``changes`` (and keyword changes) on
        ``image`` (an ``Image`` from ``image()``, or an id: then it is read first). A value
        of None removes a custom property. Read-only attributes are refused here."""
        self._need("edit", "glance", "ims")
        return self._bench._run(self._edit(image, {**(changes or {}), **more}, dialect))

    async def edit_async(self, image: Image | str, changes: Mapping[str, Any] | None = None, *,
                         dialect: str | None = None, **more: Any) -> Request:
        self._need("edit", "glance", "ims")
        return await self._bench._run_async(self._edit(image, {**(changes or {}), **more}, dialect))

    def create_image(self, **fields: Any) -> Request:
        """A Yandex image create: ``name`` and exactly one source (``image_id``, ``disk_id``,
        ``snapshot_id`` or ``uri``), plus ``family``, ``labels``, ``min_disk_size``, ``os``, ..."""
        self._need("create_image", "yandex")
        return self._build(lambda d: d.create_image_request(**fields))

    def put_image(self, name: str, *, language_version: str | None = None, base_image_name: str | None = None,
                  requirements: str | None = None, requirements_file: str | Path | None = None,
                  language: str = "Python") -> Request:
        """A Kusto sandbox image create-or-update: exactly one of ``language_version`` and
        ``base_image_name``; requirements as text or read from ``requirements_file``."""
        self._need("put_image", "kusto")
        return self._build(lambda d: d.create_or_update(
            name, language_version=language_version, base_image_name=base_image_name, requirements=requirements,
            requirements_file=requirements_file, language=language))

    def update_image(self, image_id: str, **fields: Any) -> Request:
        """A Yandex image update (name, description, min_disk_size, labels) or a Kusto PATCH."""
        self._need("update_image", "yandex", "kusto")
        if self.provider == "kusto":
            return self._build(lambda d: d.update(image_id, **fields))
        from workbench.providers.yandex.requests import UpdateImage

        return Request(self, UpdateImage(image_id=image_id, **fields))

    def delete_image(self, image_id: str) -> Request:
        """A delete (Kusto: an operation; Glance/IMS: done at once; Yandex: an operation)."""
        self._need("delete_image", "kusto", "glance", "ims", "yandex")
        if self.provider == "kusto":
            return self._build(lambda d: d.delete(image_id))
        if self.provider == "yandex":
            from workbench.providers.yandex.requests import DeleteImage

            return Request(self, DeleteImage(image_id=image_id))
        from workbench.providers.glance.requests import DeleteImage as GlanceDeleteImage

        return Request(self, GlanceDeleteImage(image_id=image_id))

    def list_request(self, **filters: Any) -> Request:
        """The Batch supported-images request (``filter``, ``maxresults``, ``timeout``), to preview."""
        self._need("list_request", "batch")
        return self._build(lambda d: d.list_request(**filters))

    # -- previewing and sending ---------------------------------------------------------
    def _api_request(self, request: Request | ApiRequest) -> ApiRequest:
        if isinstance(request, Request):
            if request.cloud.name != self.name:
                raise ValueError(f"request: built for profile '{request.cloud.name}', not '{self.name}'")
            return request.api_request
        return request

    def preview(self, request: Request | ApiRequest) -> RequestView:
        """The exact HTTP request ``send`` would make, secrets masked (nothing is sent)."""
        api_request = self._api_request(request)

        async def preview() -> RequestView:
            driver = self._bench._workspace.driver(self.name)
            resolve = getattr(driver, "resolve_endpoint", None)
            if resolve is not None:  # Glance/IMS may read the endpoint from the Keystone catalog
                await resolve()
            return RequestView(driver.preview(api_request), api_request.summary())

        return self._bench._run(preview())

    async def _send(self, api_request: ApiRequest) -> Any:
        from workbench.core.images import ImageSummary
        from workbench.core.operations import Operation as CoreOperation

        workspace = self._bench._workspace
        result = await workspace.driver(self.name).send(api_request)
        if isinstance(result, CoreOperation):
            tracked = workspace.track(result, profile=self.name)
            self._bench._latest[tracked.id] = tracked.snapshot()
            return Operation(self._bench, tracked.id)
        if isinstance(result, ImageSummary):
            return Image(result, self.name)
        return result

    def send(self, request: Request | ApiRequest, *, wait: bool = True, timeout: float | None = None,
             display: bool | None = None, check: bool = True) -> Any:
        """Send ``request``. The answer: an ``Image`` for an image, an ``Operation`` for work
        that finishes later (tracked; with ``wait`` its progress shows until it ends, see
        ``Operation.wait``), else the provider's decoded answer. API failures raise
        ``workbench.core.errors.ApiError``."""
        result = self._bench._run(self._send(self._api_request(request)))
        if isinstance(result, Operation) and wait:
            result.wait(timeout, display=display, check=check)
        return result

    async def send_async(self, request: Request | ApiRequest, *, wait: bool = True, timeout: float | None = None,
                         display: bool | None = None, check: bool = True) -> Any:
        result = await self._bench._run_async(self._send(self._api_request(request)))
        if isinstance(result, Operation) and wait:
            await result.wait_async(timeout, display=display, check=check)
        return result

    def __repr__(self) -> str:
        return f"<Cloud {self.name} ({self.provider})>"
