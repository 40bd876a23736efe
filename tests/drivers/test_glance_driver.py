"""The Glance / IMS driver against the simulator over real loopback HTTP (and in-process).

Listing across many pages (relative ``next`` links under a path prefix, the
largest page), filters, reads, creates, uploads tracked until ``active``,
deletes, patches in both JSON-patch dialects with their exact bodies and media
types, patches computed with ``jsonpatch``, client-side checks that mirror the
server, every error shape, retries under throttling with ``Retry-After``
honoured, no retry of what is not safe to repeat, and previews with the token
masked.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import shlex
import struct
import uuid

import httpx
import jsonpatch
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.waits import Waits
from workbench.core.auth import NoAuth
from workbench.core.http import HttpCore
from workbench.core.errors import ApiError, AuthError, InvalidResponse, TransportError
from workbench.core.operations import Operation, OperationStatus, OperationTracker
from workbench.core.retry import RetryPolicy
from workbench.providers.glance.driver import GlanceDriver, image_summary
from workbench.providers.glance.models import PATCH_V20_MEDIA_TYPE, PATCH_V21_MEDIA_TYPE, Image, ImsImage
from workbench.providers.glance.requests import (
    CreateImage,
    DeleteImage,
    GetImage,
    ListImages,
    PatchImage,
    UploadImageData,
    patch_between,
)
from workbench.sim.config import SimConfig
from workbench.sim.glance import snapshot
from workbench.sim.server import SimServer

CIRROS = "1bea47ed-f6a9-463b-b423-14b9cca9ad27"  # public, from the API reference's sample


# -- helpers ---------------------------------------------------------------------------------
def connect(server: SimServer, flavour: str = "glance", *, retry: RetryPolicy | None = None,
            **options) -> GlanceDriver:
    doc = server.endpoints
    kc = doc["keystone_credentials"]
    return GlanceDriver.connect(
        flavour=flavour, auth_url=doc["keystone"], username=kc["username"], password=kc["password"],
        user_domain_name=kc["user_domain_name"], project_name=kc["project_name"],
        project_domain_name=kc["project_domain_name"], retry=retry or RetryPolicy(max_attempts=4, sleep=Waits()),
        **options)


async def set_faults(server: SimServer, **settings) -> None:
    """Change fault injection through the simulator's admin API."""
    async with httpx.AsyncClient() as client:
        response = await client.put(server.base_url + "/_sim/faults", json=settings)
        assert response.status_code == 200, response.text


def state(server: SimServer, flavour: str = "glance"):
    return server.context.states[flavour]


def stored(server: SimServer, image_id: str, flavour: str = "glance") -> dict:
    with state(server, flavour).lock:
        return snapshot(state(server, flavour).images[image_id])


def visible_ids(server: SimServer, flavour: str = "glance") -> list[str]:
    """What the default list shows the demo project, newest first."""
    project = server.endpoints["keystone_credentials"]["project_id"]
    st = state(server, flavour)
    with st.lock:
        return [image_id for _, image_id in reversed(st.order)
                if (st.images[image_id]["visibility"] == "public" or st.images[image_id]["owner"] == project)
                and not st.images[image_id].get("os_hidden", False)]


def api_calls(driver: GlanceDriver, method: str | None = None, contains: str = "") -> list:
    return [e for e in driver.http.log.entries()
            if "/auth/tokens" not in e.url and (method is None or e.method == method) and contains in e.url]


def header(entry, name: str) -> str | None:
    return httpx.Headers(list(entry.request_headers)).get(name)


@pytest.fixture
async def driver(sim_server):
    async with connect(sim_server) as driver:
        await driver.resolve_endpoint()
        yield driver


@pytest.fixture
async def ims(sim_server):
    async with connect(sim_server, "ims") as driver:
        await driver.resolve_endpoint()
        yield driver


async def new_image(driver: GlanceDriver, **fields) -> str:
    fields.setdefault("name", f"drv-test-{uuid.uuid4().hex[:8]}")
    image = await driver.send(driver.create_request(**fields))
    return image.id


def tiny_qcow2(virtual_size: int = 1 << 30) -> bytes:
    """A header-only qcow2 (as Glance's format inspector needs)."""
    cluster_bits = 16
    header_bytes = struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, 0, 0, cluster_bits, virtual_size, 0, 16,
                               3 << cluster_bits, 1 << cluster_bits, 1, 0, 0, 0, 0, 0, 4, 104)
    return header_bytes.ljust(4 << cluster_bits, b"\0")


# -- listing -----------------------------------------------------------------------------------
def test_lists_every_image_across_many_pages_asking_for_the_largest_page():
    with SimServer(SimConfig(seed_images=3_500)) as server:
        expected = visible_ids(server)
        assert len(expected) > 3_500

        async def run() -> None:
            async with connect(server) as driver:
                listed = [image async for image in driver.list_images()]
                assert [image.id for image in listed] == expected  # the API's order, each once
                pages = api_calls(driver, "GET", "/v2/images?")
                assert len(pages) == math.ceil(len(expected) / 1000)
                assert all("limit=1000" in e.url for e in pages)
                assert "marker" not in pages[0].url
                # the relative next link was appended to the endpoint (its /glance prefix kept)
                for n, entry in enumerate(pages[1:], start=1):
                    assert entry.url.startswith(server.endpoints["glance"] + "/v2/images?")
                    assert f"marker={listed[1000 * n - 1].id}" in entry.url
                # a smaller page pages more, with the same result
                driver.http.log.clear()
                small = [image.id async for image in driver.list_images(page_size=400)]
                assert small == expected and len(api_calls(driver)) == math.ceil(len(expected) / 400)

        asyncio.run(run())


async def test_a_limit_stops_paging_and_asks_no_more_than_needed(driver):
    five = [image async for image in driver.list_images(limit=5)]
    assert len(five) == 5
    assert len(api_calls(driver)) == 1 and "limit=5" in api_calls(driver)[0].url
    driver.http.log.clear()
    assert [image async for image in driver.list_images(limit=0)] == [] and not api_calls(driver)
    twenty = [image async for image in driver.list_images(limit=12, page_size=5)]
    assert len(twenty) == 12 and len({i.id for i in twenty}) == 12 and len(api_calls(driver)) == 3


async def test_summaries_carry_the_common_fields_and_glance_extras(sim_server, driver):
    listed = [image async for image in driver.list_images()]
    assert [image.id for image in listed] == visible_ids(sim_server)
    for image in listed:
        wire = stored(sim_server, image.id)
        assert image.provider == "glance" and image.name == (wire["name"] or "")
        assert image.status == wire["status"] and image.created == wire["created_at"]
        assert image.size == wire["size"]
        assert image.os == (wire.get("os_distro") or wire.get("os_type") or "")
        assert image.extras == {"visibility": wire["visibility"], "disk_format": wire["disk_format"] or "",
                                "updated_at": wire["updated_at"]}
        assert image.raw == wire  # the dict as listed: no model per image in the list path
    windows = [image for image in listed if image.name.startswith("Windows Server")]
    assert windows and windows[0].os == "windows"


async def test_ims_summaries_use_ims_attributes(sim_server, ims):
    listed = [image async for image in ims.list_images()]
    assert [image.id for image in listed] == visible_ids(sim_server, "ims")
    example = next(image for image in listed if image.id == "33ad552d-1149-471c-8190-ff6776174a00")
    assert (example.provider, example.name, example.os, example.size) == ("ims", "ims_test", "Ubuntu", 2)
    assert example.extras == {"visibility": "private", "disk_format": "vhd", "updated_at": "2015-12-08T02:30:49Z"}


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        ({"name": "debian-12-genericcloud-amd64"}, lambda i: i["name"] == "debian-12-genericcloud-amd64"),
        ({"status": "queued"}, lambda i: i["status"] == "queued"),
        ({"visibility": "private"}, lambda i: i["visibility"] == "private"),
        ({"tag": "lts"}, lambda i: "lts" in i["tags"]),
        ({"tag": ["ubuntu", "lts"]}, lambda i: {"ubuntu", "lts"} <= set(i["tags"])),
        ({"owner": "5ef70662f8b34079a6eddb8da9d75fe8"}, lambda i: i["owner"] == "5ef70662f8b34079a6eddb8da9d75fe8"),
        ({"disk_format": "raw"}, lambda i: i["disk_format"] == "raw"),
        ({"os_hidden": True}, lambda i: i.get("os_hidden") is True),
        ({"protected": True}, lambda i: i.get("protected") is True),
    ],
)
async def test_filters_are_sent_with_the_api_names(sim_server, driver, filters, check):
    found = [image async for image in driver.list_images(**filters)]
    assert found and all(check(stored(sim_server, image.id)) for image in found)
    if "os_hidden" not in filters:
        everything = [image async for image in driver.list_images()]
        assert {i.id for i in found} == {i.id for i in everything if check(stored(sim_server, i.id))}
    first = api_calls(driver)[0].url
    for name in filters:
        assert f"{name}=" in first


async def test_sort_is_passed_through(driver):
    by_name = [image.name async for image in driver.list_images(sort="name:asc")]
    assert len(by_name) > 10 and by_name == sorted(by_name)
    assert "sort=name%3Aasc" in api_calls(driver)[0].url
    newest_size_first = [image async for image in driver.list_images(sort=["size:desc", "name"])]
    sizes = [image.size or 0 for image in newest_size_first if image.size is not None]
    assert sizes == sorted(sizes, reverse=True)


async def test_bad_list_arguments_fail_before_anything_is_sent(driver):
    with pytest.raises(ValueError, match="unknown filter.*size_min.*filter by name, status"):
        [image async for image in driver.list_images(size_min=1)]
    with pytest.raises(ValidationError, match="status\n.*'ready' is not an image status"):
        [image async for image in driver.list_images(status="ready")]
    with pytest.raises(ValidationError, match="visibility\n.*must be one of community, public"):
        [image async for image in driver.list_images(visibility="everyone")]
    with pytest.raises(ValidationError, match="sort key 'colour' is not one of name, status"):
        [image async for image in driver.list_images(sort="colour:asc")]
    with pytest.raises(ValidationError, match="sort direction 'up'"):
        [image async for image in driver.list_images(sort="name:up")]
    with pytest.raises(ValueError, match="page_size: must be between 1 and 1000"):
        [image async for image in driver.list_images(page_size=1001)]
    assert not api_calls(driver)


def hostile_pages(next_link: str) -> GlanceDriver:
    """A server that hands out a hostile next link (the driver must not follow it)."""
    async def images(request):
        return JSONResponse({"images": [{"id": "a", "name": "a", "status": "active"}], "next": next_link,
                             "first": "/v2/images", "schema": "/v2/schemas/images"})
    app = Starlette(routes=[Route("/img/v2/images", images)])
    return GlanceDriver(http=HttpCore(transport=httpx.ASGITransport(app=app)), auth=NoAuth(),
                        endpoint="http://cloud.test/img")


@pytest.mark.parametrize(("link", "message"), [
    ("http://elsewhere.test/v2/images?marker=a", "not one of this profile's hosts"),
    ("/v2/images?limit=1000", "paging loops"),
])
async def test_next_links_off_the_endpoint_host_or_in_a_loop_are_refused(link, message):
    async with hostile_pages(link) as driver:
        with pytest.raises(InvalidResponse, match=message):
            [image async for image in driver.list_images()]


# -- reading -------------------------------------------------------------------------------------
async def test_get_image_returns_the_full_model(sim_server, driver):
    image = await driver.get_image(CIRROS)
    assert isinstance(image.raw, Image) and image.raw.id == CIRROS
    assert image.raw.checksum == "64d7c1cd2b6f60c92c14662941cb7913" and image.size == 13167616
    ubuntu = next(i for i in [x async for x in driver.list_images(name="ubuntu-24.04-server-cloudimg-amd64")])
    full = await driver.get_image(ubuntu.id)
    assert full.raw.properties["os_distro"] == "ubuntu" and full.raw.tags == ["ubuntu", "lts"]


async def test_get_image_on_ims_returns_the_ims_model(ims):
    image = await ims.get_image("33ad552d-1149-471c-8190-ff6776174a00")
    assert isinstance(image.raw, ImsImage)
    assert (image.raw.description, image.raw.os_type, image.raw.platform) == ("ims test", "Linux", "Ubuntu")


async def test_a_missing_image_is_a_typed_404(driver):
    missing = str(uuid.uuid4())
    with pytest.raises(ApiError) as caught:
        await driver.get_image(missing)
    error = caught.value
    assert (error.provider, error.status, error.code) == ("glance", 404, "Not Found")
    assert error.message == f"No image found with ID {missing}"
    assert error.request_id and error.request_id.startswith("req-")
    assert error.request.method == "GET" and error.request.url.endswith(missing)
    assert type(error) is ApiError


async def test_one_page_as_is_and_an_unknown_marker_is_a_400(driver):
    page = await driver.send(ListImages(limit=2))
    assert len(page["images"]) == 2 and page["next"].startswith("/v2/images?limit=2&marker=")
    missing = str(uuid.uuid4())
    with pytest.raises(ApiError) as caught:
        await driver.send(ListImages(marker=missing))
    assert (caught.value.status, caught.value.code) == (400, "Bad Request")
    assert caught.value.message == f"No image found with ID {missing}"
    # JSON error bodies need this header on every request (else HTML or plain text)
    assert all(header(e, "Accept") == "application/json" for e in api_calls(driver))


# -- creating, uploading, deleting ----------------------------------------------------------------
async def test_create_upload_and_track_until_active(sim_server, driver):
    created = await driver.send(driver.create_request(name="drv-test-upload", disk_format="qcow2",
                                                      container_format="bare", tags=["x"], properties={"k": "v"}))
    assert created.status == "queued" and created.raw.properties == {"k": "v"} and created.raw.tags == ["x"]
    post = api_calls(driver, "POST")[0]
    assert json.loads(post.request_body) == {"name": "drv-test-upload", "disk_format": "qcow2",
                                             "container_format": "bare", "tags": ["x"], "k": "v"}
    data = tiny_qcow2()
    op = await driver.send(UploadImageData(image_id=created.id, data=data))
    assert isinstance(op, Operation) and op.kind == "upload" and op.target == created.id and not op.done
    put = api_calls(driver, "PUT")[0]
    assert put.status == 204 and header(put, "Content-Type") == "application/octet-stream"
    async with OperationTracker({"glance": driver.poller()}, min_interval=0.01, backoff_initial=0.01) as tracker:
        tracker.track(op)
        done = await tracker.wait(op.id, timeout=30)
    assert done.status is OperationStatus.SUCCEEDED and done.result["status"] == "active"
    assert done.result["checksum"] == hashlib.md5(data).hexdigest() and done.result["size"] == len(data)
    assert stored(sim_server, created.id)["status"] == "active"


async def test_an_upload_is_tracked_after_a_restart_by_a_new_driver(sim_server, driver):
    image_id = await new_image(driver, disk_format="raw", container_format="bare")
    op = await driver.send(UploadImageData(image_id=image_id, data=b"\0" * 4096))
    saved = json.loads(json.dumps(op.to_dict()))
    async with connect(sim_server) as fresh:  # endpoint not read yet: the poller reads the catalog
        assert fresh.endpoint is None
        async with OperationTracker({"glance": fresh.poller()}, min_interval=0.01, backoff_initial=0.01) as tracker:
            resumed = tracker.track(Operation.from_dict(saved))
            done = await tracker.wait(resumed.id, timeout=30)
    assert done.status is OperationStatus.SUCCEEDED and done.result["size"] == 4096


async def test_many_uploads_are_tracked_concurrently(driver):
    ids = await asyncio.gather(*(new_image(driver, disk_format="raw", container_format="bare") for _ in range(20)))
    ops = await asyncio.gather(*(driver.send(UploadImageData(image_id=i, data=i.encode())) for i in ids))
    async with OperationTracker({"glance": driver.poller()}, min_interval=0.01, backoff_initial=0.01) as tracker:
        for op in ops:
            tracker.track(op)
        done = await tracker.wait_all(timeout=60)
    assert all(op.status is OperationStatus.SUCCEEDED for op in done) and len(done) == 20
    assert {op.result["id"] for op in done} == set(ids) and all(op.early_polls == 0 for op in done)


async def test_an_upload_whose_data_is_not_its_disk_format_is_a_415(driver):
    image_id = await new_image(driver, disk_format="qcow2", container_format="bare")
    with pytest.raises(ApiError) as caught:
        await driver.send(UploadImageData(image_id=image_id, data=b"just bytes"))
    assert (caught.value.status, caught.value.code) == (415, "Unsupported Media Type")
    assert "does not match stream data raw" in caught.value.message


async def test_delete_and_its_errors(sim_server, driver):
    image_id = await new_image(driver)
    assert await driver.send(DeleteImage(image_id=image_id)) is None
    assert image_id not in state(sim_server).images
    with pytest.raises(ApiError) as gone:
        await driver.send(DeleteImage(image_id=image_id))
    assert gone.value.status == 404 and gone.value.message == f"Failed to find image {image_id} to delete"
    protected = await new_image(driver, protected=True)
    with pytest.raises(ApiError) as refused:
        await driver.send(DeleteImage(image_id=protected))
    assert (refused.value.status, refused.value.code) == (403, "Forbidden")
    assert refused.value.message == f"Image {protected} is protected and cannot be deleted."
    assert DeleteImage.destructive


async def test_create_rules_are_checked_before_sending(driver, ims):
    with pytest.raises(ValidationError, match="disk_format: 'zvhd2' is an IMS format"):
        driver.create_request(name="x", disk_format="zvhd2")
    assert ims.create_request(name="x", disk_format="zvhd2").json_body() == {"name": "x", "disk_format": "zvhd2"}
    with pytest.raises(ValidationError, match="'status' is read-only"):
        driver.create_request(name="x", properties={"status": "active"})
    with pytest.raises(ValidationError, match="'os_glance_x' is reserved"):
        driver.create_request(name="x", properties={"os_glance_x": "1"})
    with pytest.raises(ValueError, match="flavour: the request was checked for 'ims'"):
        await driver.send(ims.create_request(name="x"))
    assert not api_calls(driver)


# -- patching ------------------------------------------------------------------------------------
async def test_a_v21_patch_sends_the_documented_body_and_media_type(sim_server, driver):
    image_id = await new_image(driver, properties={"old": "1"})
    updated = await driver.update(image_id, [
        {"op": "replace", "path": "/name", "value": "drv-test-renamed"},
        {"op": "add", "path": "/owner_team", "value": "web"},
        {"op": "remove", "path": "/old"},
        {"op": "replace", "path": "/tags", "value": ["a", "b"]},
    ])
    patch = api_calls(driver, "PATCH")[0]
    assert header(patch, "Content-Type") == PATCH_V21_MEDIA_TYPE
    assert json.loads(patch.request_body) == [
        {"op": "replace", "path": "/name", "value": "drv-test-renamed"},
        {"op": "add", "path": "/owner_team", "value": "web"},
        {"op": "remove", "path": "/old"},
        {"op": "replace", "path": "/tags", "value": ["a", "b"]},
    ]
    assert updated.name == "drv-test-renamed" and isinstance(updated.raw, Image)
    assert updated.raw.properties == {"owner_team": "web"} and updated.raw.tags == ["a", "b"]
    wire = stored(sim_server, image_id)
    assert wire["name"] == "drv-test-renamed" and "old" not in wire and wire["owner_team"] == "web"


async def test_a_v20_patch_sends_the_documented_body_and_media_type(sim_server):
    async with connect(sim_server, patch_dialect="v2.0") as driver:
        image_id = await new_image(driver, properties={"old": "1"})
        updated = await driver.update(image_id, [
            {"op": "replace", "path": "/name", "value": "drv-test-v20"},
            {"add": "/extra", "value": "x"},  # either shape is accepted as input
            {"op": "remove", "path": "/old"},
        ])
        patch = api_calls(driver, "PATCH")[0]
        assert header(patch, "Content-Type") == PATCH_V20_MEDIA_TYPE
        assert json.loads(patch.request_body) == [{"replace": "/name", "value": "drv-test-v20"},
                                                  {"add": "/extra", "value": "x"}, {"remove": "/old"}]
        assert updated.name == "drv-test-v20" and updated.raw.properties == {"extra": "x"}
        # per request, the other dialect
        again = await driver.update(image_id, [{"op": "replace", "path": "/extra", "value": "y"}], dialect="v2.1")
        assert header(api_calls(driver, "PATCH")[1], "Content-Type") == PATCH_V21_MEDIA_TYPE
        assert again.raw.properties == {"extra": "y"}


@pytest.mark.parametrize(("operations", "dialect", "status", "message"), [
    ([{"op": "remove", "path": "/nope"}], "v2.1", 409, "Property nope does not exist."),
    ([{"op": "replace", "path": "/nope", "value": "y"}], "v2.1", 409, "Property nope does not exist."),
    ([{"op": "add", "path": "/name", "value": "x"}], "v2.0", 409, "Property name already present."),
    ([{"op": "replace", "path": "/owner", "value": "someone"}], "v2.1", 403, "Owner can't be updated by non admin."),
    ([{"op": "replace", "path": "/visibility", "value": "public"}], "v2.1", 403,
     "You are not authorized to complete publicize_image action."),
])
async def test_server_refusals_are_typed_errors_and_nothing_changes(sim_server, driver, operations, dialect, status,
                                                                    message):
    image_id = await new_image(driver)
    before = stored(sim_server, image_id)
    # a valid first operation: the patch is atomic, so it is not applied either
    request = driver.patch_request(image_id, [{"op": "add", "path": "/first", "value": "1"}, *operations],
                                   dialect=dialect)
    with pytest.raises(ApiError) as caught:
        await driver.send(request)
    error = caught.value
    assert error.status == status and error.code == {409: "Conflict", 403: "Forbidden"}[status]
    assert error.message.endswith(message) and not isinstance(error, AuthError)
    assert stored(sim_server, image_id) == before
    assert len(api_calls(driver, "PATCH")) == 1  # a refusal is not retried


async def test_client_side_checks_name_the_path_and_rule_before_sending(driver, ims):
    cases = [
        ([{"op": "replace", "path": "/status", "value": "active"}], "/status: 'status' is read-only"),
        ([{"op": "remove", "path": "/checksum"}], "/checksum: 'checksum' is read-only"),
        ([{"op": "add", "path": "/os_glance_import", "value": "x"}], "/os_glance_import: .* is reserved"),
        ([{"op": "add", "path": "/deleted", "value": "x"}], "/deleted: 'deleted' is reserved"),
        ([{"op": "replace", "path": "/name"}], "/name: 'value' is required for 'replace'"),
        ([{"op": "add", "path": "/k"}], "/k: 'value' is required for 'add'"),
        ([{"op": "remove", "path": "/name"}], "/name: 'name' is a core attribute: it may be replaced but not removed"),
        ([{"op": "add", "path": "/k", "value": 5}], "/k: value for custom property 'k' must be a string"),
        ([{"op": "replace", "path": "/min_ram", "value": -1}], "/min_ram: value for 'min_ram' must not be negative"),
        ([{"op": "replace", "path": "/visibility", "value": "everyone"}], "/visibility: value for 'visibility'"),
        ([{"op": "add", "path": "/tags/-", "value": "x"}], "/tags/-: '/tags/-' has more than one reference token"),
        ([{"op": "move", "path": "/a", "from": "/b"}],
         r"operations\[1\] /a: op: Input should be 'add', 'remove' or 'replace'; from: Extra inputs"),
        ([{"op": "replace", "path": "/disk_format", "value": "zvhd2"}], "/disk_format: value for 'disk_format'"),
    ]
    for operations, message in cases:
        with pytest.raises(ValueError, match=message):
            driver.patch_request(CIRROS, [{"op": "replace", "path": "/name", "value": "ok"}, *operations])
    ims_cases = [
        ("/min_disk", 40, "'min_disk' cannot change on Huawei IMS: only name, __description and custom attributes"),
        ("/__os_version", "x", "'__os_version' cannot change on Huawei IMS"),
        ("/visibility", "private", "'visibility' cannot change on Huawei IMS"),
    ]
    for path, value, message in ims_cases:
        with pytest.raises(ValueError, match=rf"operations\[1\] {path}: {message}"):
            ims.patch_request(CIRROS, [{"op": "replace", "path": "/name", "value": "ok"},
                                       {"op": "replace", "path": path, "value": value}])
    assert ims.patch_request(CIRROS, [{"op": "replace", "path": "/__description", "value": "d"},
                                      {"op": "add", "path": "/team", "value": "x"}]).operations
    assert not api_calls(driver) and not api_calls(ims)


async def test_ims_patches_change_name_description_and_custom_attributes(sim_server, ims):
    example = "33ad552d-1149-471c-8190-ff6776174a00"
    updated = await ims.update(example, [{"op": "replace", "path": "/name", "value": "ims_renamed"},
                                         {"op": "replace", "path": "/__description", "value": "new text"},
                                         {"op": "add", "path": "/team", "value": "web"}])
    assert (updated.name, updated.raw.description, updated.raw.model_extra["team"]) == \
        ("ims_renamed", "new text", "web")
    assert stored(sim_server, example, "ims")["__description"] == "new text"


# -- computed patches --------------------------------------------------------------------------
async def test_an_edit_becomes_the_minimal_patch(sim_server, driver):
    image_id = await new_image(driver, tags=["a", "b"], properties={"keep": "1", "drop": "2", "change": "3"})
    before = await driver.get_image(image_id)
    after = before.raw.to_api()
    after.update(name="drv-test-edited", min_ram=512, change="33", added="4", tags=["b", "c", "c"])
    del after["drop"]
    request = driver.edit_request(before, after)
    assert sorted((op.op, op.path, op.value) for op in request.operations) == [
        ("add", "/added", "4"), ("remove", "/drop", None), ("replace", "/change", "33"),
        ("replace", "/min_ram", 512), ("replace", "/name", "drv-test-edited"), ("replace", "/tags", ["b", "c"]),
    ]
    updated = await driver.send(request)
    assert updated.raw.properties == {"keep": "1", "change": "33", "added": "4"}
    assert updated.name == "drv-test-edited" and updated.raw.min_ram == 512 and updated.raw.tags == ["b", "c"]
    # the same edit again is no change at all
    assert driver.edit_request(updated, updated).operations == []


async def test_a_computed_patch_in_v20_never_adds_what_exists(driver):
    image_id = await new_image(driver, properties={"a": "x"})
    before = (await driver.get_image(image_id)).raw.to_api()
    # a renamed property with the same value: jsonpatch says "move"
    after = {**{k: v for k, v in before.items() if k != "a"}, "b": "x", "min_disk": 5}
    assert [op["op"] for op in jsonpatch.make_patch(before, after).patch] == ["move", "replace"]
    request = driver.edit_request(before, after, dialect="v2.0")
    assert request.json_body() == [{"remove": "/a"}, {"add": "/b", "value": "x"}, {"replace": "/min_disk", "value": 5}]
    updated = await driver.send(request)
    assert updated.raw.properties == {"b": "x"} and updated.raw.min_disk == 5


def test_computed_patches_follow_glance_rules():
    base = {"id": "i", "name": "n", "status": "active", "tags": ["x", "y"], "p": "1", "min_ram": 0,
            "disk_format": "qcow2"}
    assert patch_between(base, {**base, "tags": ["y", "x"]}) == []  # tags are a set
    assert [op.render() for op in patch_between(base, {**base, "p": None})] == [{"op": "remove", "path": "/p"}]
    assert [op.render() for op in patch_between(base, {**base, "a/b~c": "v"})] == [
        {"op": "add", "path": "/a~1b~0c", "value": "v"}]
    with pytest.raises(ValueError, match="/status: 'status' is read-only: only the Image service sets it"):
        patch_between(base, {**base, "status": "queued"})
    with pytest.raises(ValueError, match="/p: value for custom property 'p' must be a string"):
        patch_between(base, {**base, "p": 7})
    with pytest.raises(ValueError, match="/disk_format: disk_format can be changed only while the image is queued"):
        PatchImage(image_id="i", operations=patch_between(base, {**base, "disk_format": "raw"})).check_against(base)
    with pytest.raises(ValueError, match="/q: the image has no property 'q' to remove"):
        PatchImage(image_id="i", operations=[{"op": "remove", "path": "/q"}]).check_against(base)
    with pytest.raises(ValueError, match="/p: 'p' is already present, and a v2.0 'add' of it is refused"):
        PatchImage(image_id="i", operations=[{"add": "/p", "value": "2"}], dialect="v2.0").check_against(base)


async def test_ims_edits_are_refused_outside_the_allowed_attributes(ims):
    before = await ims.get_image("33ad552d-1149-471c-8190-ff6776174a00")
    after = {**before.raw.to_api(), "__description": "edited", "team": "x"}
    assert sorted(op.path for op in ims.edit_request(before, after).operations) == ["/__description", "/team"]
    with pytest.raises(ValueError, match="/__platform: '__platform' cannot change on Huawei IMS"):
        ims.edit_request(before, {**after, "__platform": "Debian"})


# -- retries -------------------------------------------------------------------------------------
async def test_throttled_reads_are_retried_honouring_retry_after(sim_server):
    async def calm() -> None:
        await set_faults(sim_server, rate=0.0)

    waits = Waits(after=2, then=calm)
    async with connect(sim_server, retry=RetryPolicy(max_attempts=5, sleep=waits)) as driver:
        await driver.resolve_endpoint()
        await set_faults(sim_server, rate=1.0, kinds=["throttle"], retry_after=2)
        image = await driver.get_image(CIRROS)
        assert image.id == CIRROS
        attempts = api_calls(driver, "GET")
        assert [e.status for e in attempts] == [429, 429, 200]
        assert len(waits.waits) == 2 and all(wait >= 2 for wait in waits.waits)  # never earlier than asked
        assert all(httpx.Headers(list(e.response_headers))["Retry-After"] == "2" for e in attempts[:2])


async def test_unavailable_pages_are_retried_mid_listing(sim_server):
    async def calm() -> None:
        await set_faults(sim_server, rate=0.0)

    waits = Waits(after=1, then=calm)
    async with connect(sim_server, retry=RetryPolicy(max_attempts=3, sleep=waits)) as driver:
        expected = visible_ids(sim_server)
        listed = []
        async for image in driver.list_images(page_size=5):
            listed.append(image.id)
            if len(listed) == 5:  # the first page is read: the service falls over before the second
                await set_faults(sim_server, rate=1.0, kinds=["unavailable"], retry_after=1)
        assert listed == expected
        statuses = [e.status for e in api_calls(driver, "GET")]
        assert statuses[:3] == [200, 503, 200] and statuses.count(503) == 1
        assert len(waits.waits) == 1 and waits.waits[0] >= 1  # never earlier than Retry-After


async def test_a_create_is_never_retried(sim_server):
    waits = Waits()
    async with connect(sim_server, retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await driver.resolve_endpoint()
        count = len(state(sim_server).images)
        await set_faults(sim_server, rate=1.0, kinds=["unavailable"])
        with pytest.raises(ApiError) as caught:
            await driver.send(driver.create_request(name="drv-test-once"))
        assert caught.value.status == 503 and caught.value.retry_after == 1
        assert len(api_calls(driver, "POST")) == 1 and waits.waits == []
        await set_faults(sim_server, rate=1.0, kinds=["drop"])
        with pytest.raises(TransportError):
            await driver.send(driver.create_request(name="drv-test-dropped"))
        assert len(api_calls(driver, "POST")) == 2 and waits.waits == []
        await set_faults(sim_server, rate=0.0)
        # the dropped create did happen once on the server: never twice
        assert len(state(sim_server).images) == count + 1


async def test_a_patch_that_is_safe_to_repeat_is_retried_one_that_is_not_is_not(sim_server, driver):
    image_id = await new_image(driver, properties={"a": "1"})
    waits = driver.http.retry.sleep
    await set_faults(sim_server, rate=1.0, kinds=["unavailable"])
    with pytest.raises(ApiError):
        await driver.update(image_id, [{"op": "remove", "path": "/a"}])
    assert len(api_calls(driver, "PATCH")) == 1 and waits.waits == []
    waits.after, waits.then = 1, (lambda: set_faults(sim_server, rate=0.0))
    updated = await driver.update(image_id, [{"op": "replace", "path": "/a", "value": "2"}])
    assert updated.raw.properties == {"a": "2"}
    assert [e.status for e in api_calls(driver, "PATCH")] == [503, 503, 200]
    assert driver.patch_request(image_id, [{"add": "/b", "value": "1"}], dialect="v2.0").is_idempotent() is False


# -- previews ------------------------------------------------------------------------------------
async def test_preview_and_curl_show_the_exact_request_with_the_token_masked(driver):
    token = driver.auth.cache.token.value
    request = driver.patch_request(CIRROS, [{"op": "replace", "path": "/name", "value": "it's new"}],
                                   dialect="v2.0")
    preview = driver.preview(request)
    assert preview.method == "PATCH" and preview.url == f"{driver.endpoint}/v2/images/{CIRROS}"
    assert preview.header("Content-Type") == PATCH_V20_MEDIA_TYPE and preview.header("X-Auth-Token") == "***"
    assert preview.header("Accept") == "application/json"
    assert preview.json == [{"replace": "/name", "value": "it's new"}]
    curl = driver.curl(request)
    args = shlex.split(curl)
    assert args[:4] == ["curl", "-X", "PATCH", preview.url]
    assert f"Content-Type: {PATCH_V20_MEDIA_TYPE}" in args and "X-Auth-Token: ***" in args
    assert json.loads(args[args.index("--data-raw") + 1]) == [{"replace": "/name", "value": "it's new"}]
    assert token not in curl and token not in str(preview)
    upload = driver.curl(UploadImageData(image_id=CIRROS, data=b"\x00\xff" * 10))
    assert "--data-binary @body.bin" in upload and "20 bytes of binary data" in upload
    assert not api_calls(driver)  # previews send nothing


def test_requests_render_their_exact_urls():
    base = "https://cloud.example/image"
    assert str(ListImages(limit=50, tag=["a", "b"], sort="name:asc", os_hidden=False).url(base)) == \
        "https://cloud.example/image/v2/images?limit=50&sort=name%3Aasc&tag=a&tag=b&os_hidden=false"
    assert str(GetImage(image_id="a/b").url(base)) == "https://cloud.example/image/v2/images/a%2Fb"
    with pytest.raises(ValueError, match="image_id"):
        GetImage(image_id="..").path()
    assert CreateImage(name="x").expect == (201,) and DeleteImage(image_id="x").expect == (204,)


# -- in-process ----------------------------------------------------------------------------------
async def test_the_driver_works_in_process(sim_app, sim_endpoints):
    kc = sim_endpoints["keystone_credentials"]
    async with GlanceDriver.connect(
            flavour="ims", auth_url=sim_endpoints["keystone"],
            application_credential_id=kc["application_credential_id"],
            application_credential_secret=kc["application_credential_secret"],
            transport=httpx.ASGITransport(app=sim_app)) as driver:
        listed = [image async for image in driver.list_images(page_size=3)]
        assert driver.endpoint == sim_endpoints["ims"] and len(listed) >= 6
        assert len(api_calls(driver)) == math.ceil((len(listed) + 1) / 3)
        updated = await driver.update(listed[0].id, [{"op": "add", "path": "/team", "value": "x"}])
        assert updated.raw.model_extra["team"] == "x"


def test_image_summary_is_built_from_the_dict():
    wire = {"id": "i", "name": None, "status": "queued", "size": None, "created_at": "t", "visibility": "shared",
            "disk_format": None, "updated_at": "u"}
    summary = image_summary(wire, "ims")
    assert (summary.provider, summary.name, summary.size, summary.os) == ("ims", "", None, "")
    assert summary.extras == {"visibility": "shared", "disk_format": "", "updated_at": "u"} and summary.raw is wire
