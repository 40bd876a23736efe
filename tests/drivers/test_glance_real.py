"""The Glance driver against a REAL OpenStack Glance (``$GLANCE_ENDPOINT``).

``.ci/run`` starts one with ``shared/real-glance/start-glance.sh`` (Glance 33,
noauth: no Keystone, so the driver runs with ``NoAuth`` and an explicit
endpoint) and exports its URL. Without it every test here skips, saying why.
Every image made here is named ``drv-test-...``, tagged with this run's tag,
and deleted afterwards.
"""

from __future__ import annotations

import json
import math
import struct
import uuid

import httpx
import pytest

from tests.real_glance import real_glance_endpoint
from workbench.core.auth import NoAuth
from workbench.core.errors import ApiError
from workbench.core.operations import OperationStatus, OperationTracker
from workbench.core.retry import RetryPolicy
from workbench.providers.glance.driver import GlanceDriver
from workbench.providers.glance.models import PATCH_V20_MEDIA_TYPE, PATCH_V21_MEDIA_TYPE, Image
from workbench.providers.glance.requests import DeleteImage, UploadImageData

pytestmark = pytest.mark.real_glance

RUN_TAG = f"drv-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def endpoint() -> str:
    found, reason = real_glance_endpoint()
    if found is None:
        pytest.skip(reason)
    return found


class CreatedImages:
    """Ids of the images a test made, deleted (unprotected first) when it ends."""

    def __init__(self, driver: GlanceDriver) -> None:
        self.driver = driver
        self.ids: list[str] = []

    async def create(self, **fields):
        fields.setdefault("name", f"drv-test-{uuid.uuid4().hex[:8]}")
        fields["tags"] = [RUN_TAG, *fields.get("tags", [])]
        image = await self.driver.send(self.driver.create_request(**fields))
        self.ids.append(image.id)
        return image

    async def delete_all(self) -> None:
        for image_id in self.ids:
            try:
                await self.driver.update(image_id, [{"op": "replace", "path": "/protected", "value": False}])
                await self.driver.send(DeleteImage(image_id=image_id))
            except ApiError as error:
                assert error.status == 404, error  # deleted by the test itself


@pytest.fixture
async def driver(endpoint):
    async with GlanceDriver.connect(image_endpoint=endpoint, auth=NoAuth(),
                                    retry=RetryPolicy(max_attempts=1)) as driver:
        yield driver


@pytest.fixture
async def images(driver):
    made = CreatedImages(driver)
    try:
        yield made
    finally:
        await made.delete_all()


def header(entry, name: str) -> str | None:
    return httpx.Headers(list(entry.request_headers)).get(name)


async def test_list_follows_relative_next_links_across_pages(driver, images, endpoint):
    made = [await images.create() for _ in range(5)]
    driver.http.log.clear()
    listed = [image async for image in driver.list_images(tag=RUN_TAG, page_size=2)]
    assert sorted(image.id for image in listed) == sorted(image.id for image in made)
    assert [image.created for image in listed] == sorted((image.created for image in listed), reverse=True)
    pages = driver.http.log.entries()
    assert len(pages) == math.ceil(5 / 2)  # the third page ends the listing: no next link
    assert all(e.url.startswith(f"{endpoint}/v2/images?limit=2") for e in pages)
    assert "marker=" not in pages[0].url and all(f"marker={listed[2 * n - 1].id}" in e.url
                                                 for n, e in enumerate(pages) if n)
    assert all(image.raw["name"].startswith("drv-test-") for image in listed)
    assert [image async for image in driver.list_images(tag=RUN_TAG, limit=3)][-1].id == listed[2].id


async def test_get_parses_into_the_model(driver, images):
    made = await images.create(disk_format="raw", container_format="bare", min_ram=256, properties={"k": "v"})
    image = await driver.get_image(made.id)
    assert isinstance(image.raw, Image) and image.status == "queued"
    assert (image.raw.disk_format, image.raw.min_ram, image.raw.properties) == ("raw", 256, {"k": "v"})
    assert image.extras["visibility"] == "shared" and image.extras["disk_format"] == "raw"


async def test_patch_in_both_dialects(driver, images):
    image = await images.create(properties={"a": "1"})
    renamed = await driver.update(image.id, [{"op": "replace", "path": "/name", "value": "drv-test-v21"},
                                             {"op": "add", "path": "/b", "value": "2"}])
    assert renamed.name == "drv-test-v21" and renamed.raw.properties == {"a": "1", "b": "2"}
    v20 = await driver.update(image.id, [{"op": "replace", "path": "/name", "value": "drv-test-v20"},
                                         {"op": "remove", "path": "/a"}], dialect="v2.0")
    assert v20.name == "drv-test-v20" and v20.raw.properties == {"b": "2"}
    patches = [e for e in driver.http.log.entries() if e.method == "PATCH"]
    assert [header(e, "Content-Type") for e in patches] == [PATCH_V21_MEDIA_TYPE, PATCH_V20_MEDIA_TYPE]
    assert json.loads(patches[1].request_body) == [{"replace": "/name", "value": "drv-test-v20"}, {"remove": "/a"}]
    assert all(e.status == 200 for e in patches)


async def test_a_computed_patch_applies_on_the_real_server(driver, images):
    image = await images.create(tags=["old"], properties={"drop": "x", "keep": "y"})
    before = await driver.get_image(image.id)
    after = {**before.raw.to_api(), "name": "drv-test-computed", "min_disk": 3, "added": "z",
             "tags": [RUN_TAG, "new"]}
    del after["drop"]
    request = driver.edit_request(before, after)
    assert len(request.operations) == 5  # name, min_disk, added, drop, tags: nothing else
    updated = await driver.send(request)
    assert updated.name == "drv-test-computed" and updated.raw.min_disk == 3
    assert updated.raw.properties == {"keep": "y", "added": "z"}
    assert sorted(updated.raw.tags) == sorted([RUN_TAG, "new"])
    assert driver.edit_request(updated, updated.raw.to_api()).operations == []
    # the next edit in v2.0: an existing property is replaced, a new one added
    v20 = driver.edit_request(updated, {**updated.raw.to_api(), "added": "zz", "more": "m"}, dialect="v2.0")
    assert sorted(v20.json_body(), key=str) == [{"add": "/more", "value": "m"}, {"replace": "/added", "value": "zz"}]
    again = await driver.send(v20)
    assert again.raw.properties == {"keep": "y", "added": "zz", "more": "m"}


async def test_conflicts_and_refusals_are_typed(driver, images):
    image = await images.create()
    with pytest.raises(ApiError) as missing:
        await driver.update(image.id, [{"op": "remove", "path": "/nope"}])
    assert (missing.value.status, missing.value.code) == (409, "Conflict")
    assert missing.value.message.endswith("Property nope does not exist.")
    with pytest.raises(ApiError) as present:
        await driver.update(image.id, [{"op": "add", "path": "/name", "value": "x"}], dialect="v2.0")
    assert present.value.status == 409 and "already present" in present.value.message
    protected = await images.create(protected=True)
    with pytest.raises(ApiError) as refused:
        await driver.send(DeleteImage(image_id=protected.id))
    assert (refused.value.status, refused.value.code) == (403, "Forbidden")
    assert "is protected and cannot be deleted" in refused.value.message
    assert refused.value.request_id and refused.value.request_id.startswith("req-")


async def test_upload_is_tracked_until_active_then_formats_are_fixed(driver, images):
    image = await images.create(disk_format="raw", container_format="bare")
    data = struct.pack(">Q", 42) * 512
    op = await driver.send(UploadImageData(image_id=image.id, data=data))
    async with OperationTracker({"glance": driver.poller()}, min_interval=0.01, backoff_initial=0.05) as tracker:
        tracker.track(op)
        done = await tracker.wait(op.id, timeout=60)
    assert done.status is OperationStatus.SUCCEEDED and done.result["status"] == "active"
    assert done.result["size"] == len(data)
    # an active image's disk format is fixed: the server refuses with 403
    with pytest.raises(ApiError) as caught:
        await driver.update(image.id, [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert caught.value.status == 403
    assert caught.value.message == "Attribute disk_format can be only replaced for a queued image."


async def test_delete(driver, images):
    image = await images.create()
    assert await driver.send(DeleteImage(image_id=image.id)) is None
    with pytest.raises(ApiError) as caught:
        await driver.get_image(image.id)
    assert (caught.value.status, caught.value.code) == (404, "Not Found")
