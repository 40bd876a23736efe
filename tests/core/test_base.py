"""The driver interface: typed requests render exactly, and a minimal driver works end to end."""

from __future__ import annotations

import json
import shlex
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import httpx
import pytest
from pydantic import Field, ValidationError

from tests.core.fakecloud import TOKEN, FakeCloud
from workbench.core.auth import StaticToken
from workbench.core.http import HttpCore
from workbench.core.images import ImageSummary
from workbench.core.operations import Operation, OperationStatus, OperationTracker, YandexOperationPoller
from workbench.core.retry import RetryPolicy
from workbench.providers.base import ApiRequest, Driver, path_segment


class CreateImage(ApiRequest):
    method: ClassVar[str] = "POST"
    costly: ClassVar[bool] = True
    name: str = Field(pattern=r"^[a-z][-a-z0-9]{0,62}$")
    polls: int = 2
    idempotency_key: str = "k-1"

    def path(self) -> str:
        return "/compute/images"

    def headers(self) -> dict[str, str]:
        return {"Idempotency-Key": self.idempotency_key}

    def json_body(self) -> Any:
        return {"name": self.name, "polls": self.polls}

    def summary(self) -> str:
        return f"Create image {self.name}"


class DeleteImage(ApiRequest):
    method: ClassVar[str] = "DELETE"
    destructive: ClassVar[bool] = True
    expect: ClassVar[tuple[int, ...]] = (202,)
    image_id: str

    def path(self) -> str:
        return f"/arm/images/{path_segment(self.image_id, field='image_id')}"

    def query(self) -> dict[str, Any]:
        return {"api-version": "2024-04-13", "unused": None}


class FakeDriver(Driver):
    """The smallest complete driver: enough to prove the interface holds together."""

    provider = "yandex"

    async def list_images(self, *, limit: int | None = None, **filters: Any) -> AsyncIterator[ImageSummary]:
        if filters:
            raise ValueError(f"unknown filter(s): {sorted(filters)}")
        for i in range(limit or 3):
            yield ImageSummary(self.provider, f"img{i}", f"image-{i}", "READY")

    async def get_image(self, image_id: str) -> ImageSummary:
        return ImageSummary(self.provider, image_id, image_id, "READY")

    async def send(self, request: ApiRequest) -> Any | Operation:
        response = await self.request(request)
        if isinstance(request, CreateImage):
            return self.poller().start(response, kind="create", target=request.name)
        return response.json() if response.content else None

    def poller(self) -> YandexOperationPoller:
        return YandexOperationPoller(self.http, self.auth, self.base_url)


def test_request_renders_to_the_exact_http_request():
    request = CreateImage(name="web-2")
    built = request.to_httpx("http://sim.test/yandex/")
    assert built.method == "POST"
    assert str(built.url) == "http://sim.test/yandex/compute/images"
    assert built.headers["content-type"] == "application/json"
    assert built.headers["idempotency-key"] == "k-1"
    assert json.loads(built.content) == {"name": "web-2", "polls": 2}
    assert request.is_idempotent()  # POST, but with an idempotency key
    assert request.costly and not request.destructive
    delete = DeleteImage(image_id="a b/../c")
    url = delete.url("https://management.test/kusto")
    assert str(url) == "https://management.test/kusto/arm/images/a%20b%2F..%2Fc?api-version=2024-04-13"
    assert delete.is_idempotent() and delete.destructive
    assert delete.summary() == "DELETE /arm/images/a%20b%2F..%2Fc"


def test_request_validation_and_path_segments():
    with pytest.raises(ValidationError, match="name"):
        CreateImage(name="Not Valid")
    with pytest.raises(ValidationError, match="extra"):
        CreateImage(name="ok", unknown=1)
    for bad in ("", ".", ".."):
        with pytest.raises(ValueError, match="image_id"):
            DeleteImage(image_id=bad).path()


async def test_driver_preview_send_and_track():
    cloud = FakeCloud(polls_needed=1, retry_after=0)
    http = HttpCore(transport=httpx.ASGITransport(app=cloud.app), retry=RetryPolicy(max_attempts=1))
    async with FakeDriver(http=http, auth=StaticToken.bearer(TOKEN), base_url="http://cloud.test") as driver:
        request = CreateImage(name="from-driver", polls=1)
        preview = driver.preview(request)
        assert preview.header("authorization") == "Bearer ***"
        assert preview.json == {"name": "from-driver", "polls": 1}
        assert cloud.requests == 0  # a preview sends nothing
        curl = shlex.split(driver.curl(request))
        assert "Authorization: Bearer ***" in curl and TOKEN not in " ".join(curl)

        op = await driver.send(request)
        assert isinstance(op, Operation) and op.status is OperationStatus.RUNNING
        async with OperationTracker({driver.provider: driver.poller()}, min_interval=0) as tracker:
            tracker.track(op)
            await tracker.wait(op.id, timeout=10)
        assert op.status is OperationStatus.SUCCEEDED
        assert op.result["name"] == "from-driver"
        assert [i.id async for i in driver.list_images(limit=2)] == ["img0", "img1"]
    assert http.client.is_closed
