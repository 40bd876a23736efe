"""The Yandex Compute driver against the simulator over real loopback HTTP.

Listing across many pages, reads, creates from every source kind with every
documented field, idempotent retries (a dropped create makes exactly one image),
throttling with Retry-After honoured, every error shape, operations tracked to
done, cancelled, failed, resumed after a restart, and 200 at once.
"""

from __future__ import annotations

import asyncio
import json
import math
import shlex
import uuid
from collections.abc import Mapping

import httpx
import pytest
from pydantic import ValidationError

from tests.waits import Waits
from workbench.core.errors import ApiError, AuthError, TransportError
from workbench.core.operations import Operation, OperationStatus, OperationTracker
from workbench.core.retry import RetryPolicy
from workbench.providers.base import ApiRequest
from workbench.providers.yandex import models as ym
from workbench.providers.yandex.driver import YandexDriver, image_summary
from workbench.providers.yandex.requests import (
    CancelOperation,
    CreateImage,
    DeleteImage,
    GetImage,
    ListImages,
    UpdateImage,
    filter_expression,
)
from workbench.sim.config import SimConfig
from workbench.sim.server import SimServer

UBUNTU_URI = "https://storage.yandexcloud.net/images-bucket/ubuntu-22.04.qcow2"


# -- helpers ---------------------------------------------------------------------------------
def connect(server: SimServer, *, retry: RetryPolicy | None = None, **credentials) -> YandexDriver:
    doc = server.endpoints
    credentials = credentials or {"oauth_token": doc["yandex_credentials"]["oauth_token"]}
    return YandexDriver.connect(
        folder_id=doc["yandex_ids"]["folder_id"],
        compute_endpoint=doc["yandex_compute"],
        operation_endpoint=doc["yandex_operation"],
        iam_endpoint=doc["yandex_iam"],
        retry=retry or RetryPolicy(max_attempts=4, sleep=Waits()),
        **credentials,
    )


async def set_faults(server: SimServer, **settings) -> None:
    """Change fault injection through the simulator's admin API."""
    async with httpx.AsyncClient() as client:
        response = await client.put(server.base_url + "/_sim/faults", json=settings)
        assert response.status_code == 200, response.text


def state(server: SimServer):
    return server.context.states["yandex"]


def images_named(server: SimServer, name: str) -> list[dict]:
    return [image for image in state(server).images.values() if image.get("name") == name]


def api_calls(driver: YandexDriver, method: str | None = None, contains: str = "") -> list:
    return [e for e in driver.http.log.entries()
            if "/iam/" not in e.url and (method is None or e.method == method) and contains in e.url]


@pytest.fixture
async def driver(sim_server):
    async with connect(sim_server) as driver:
        yield driver


@pytest.fixture
def ids(sim_server) -> dict:
    return sim_server.endpoints["yandex_ids"]


async def track_all(driver: YandexDriver, *ops: Operation, timeout: float = 30) -> list[Operation]:
    async with OperationTracker({"yandex": driver.poller()}, min_interval=0.01) as tracker:
        for op in ops:
            tracker.track(op)
        await tracker.wait_all(timeout=timeout)
    return list(ops)


# -- listing -----------------------------------------------------------------------------------
async def test_lists_every_image_across_many_pages_asking_for_the_largest_page():
    with SimServer(SimConfig(seed_images=5_000, operation_retry_after=0)) as server:
        folder = server.endpoints["yandex_ids"]["folder_id"]
        expected = list(state(server).folder_ids[folder])
        assert len(expected) > 5_000
        async with connect(server) as driver:
            listed = [image async for image in driver.list_images()]
            assert [image.id for image in listed] == expected  # the API's order, each once
            pages = api_calls(driver, "GET", "/compute/v1/images?")
            assert len(pages) == math.ceil(len(expected) / 1000)
            assert all("pageSize=1000" in e.url for e in pages)
            assert "pageToken" not in pages[0].url
            assert all(f"pageToken={listed[1000 * n - 1].id}" in e.url for n, e in enumerate(pages) if n)
            # a smaller page size pages more, with the same result
            driver.http.log.clear()
            small = [image.id async for image in driver.list_images(page_size=250)]
            assert small == expected and len(api_calls(driver, "GET")) == math.ceil(len(expected) / 250)


async def test_a_limit_stops_paging_and_asks_no_more_than_needed(sim_server, driver):
    five = [image async for image in driver.list_images(limit=5)]
    assert len(five) == 5
    assert len(api_calls(driver)) == 1 and "pageSize=5" in api_calls(driver)[0].url
    driver.http.log.clear()
    assert [image async for image in driver.list_images(limit=0)] == [] and not api_calls(driver)
    twenty = [image async for image in driver.list_images(limit=20, page_size=8)]
    assert [i.id for i in twenty] == sorted(i.id for i in twenty) and len(twenty) == 20
    assert len(api_calls(driver)) == 3


async def test_summaries_carry_the_common_fields_and_yandex_extras(sim_server, driver):
    seeded = {image["id"]: image for image in state(sim_server).images.values()}
    listed = [image async for image in driver.list_images()]
    assert {image.id for image in listed} == set(seeded)
    for image in listed:
        wire = seeded[image.id]
        assert image.provider == "yandex" and image.name == wire.get("name", "")
        assert image.status == wire["status"] and image.created == wire["createdAt"]
        assert image.os == wire["os"]["type"] and image.size == int(wire.get("size", wire.get("storageSize")))
        assert image.extras == {"family": wire.get("family", ""), "minDiskSize": wire.get("minDiskSize", "")}
        assert image.raw == wire  # the dict as listed: no model per image in the list path
    windows = [image for image in listed if image.extras["family"] == "windows-2022-dc-gvlk"]
    assert windows and all(image.os == "WINDOWS" for image in windows)


@pytest.mark.parametrize(
    ("filters", "check"),
    [
        ({"family": "ubuntu-2204-lts"}, lambda i: i.extras["family"] == "ubuntu-2204-lts"),
        ({"status": ["ERROR", "CREATING"]}, lambda i: i.status in ("ERROR", "CREATING")),
        ({"name": "web-frontend-v3"}, lambda i: i.name == "web-frontend-v3"),
        ({"filter": 'family="web-frontend"', "status": "READY"}, lambda i: i.extras["family"] == "web-frontend"),
    ],
)
async def test_filters_are_sent_as_the_api_expression(sim_server, driver, filters, check):
    found = [image async for image in driver.list_images(**filters)]
    everything = [image async for image in driver.list_images()]
    assert found and all(check(image) for image in found)
    assert {i.id for i in found} == {i.id for i in everything if check(i)}
    assert "filter=" in api_calls(driver)[0].url


async def test_order_by_is_passed_through(driver):
    newest_first = [image async for image in driver.list_images(order_by="createdAt desc")]
    created = [image.created for image in newest_first]
    assert len(created) > 20 and created == sorted(created, reverse=True)
    assert "orderBy=createdAt+desc" in api_calls(driver)[0].url


def test_filter_expressions_quote_values():
    assert filter_expression(name='we"ird\\name') == r'name="we\"ird\\name"'
    assert filter_expression("status=\"READY\"", family=["a", "b"]) == 'status="READY" AND family IN ("a", "b")'
    with pytest.raises(ValueError, match="unknown filter.*labels"):
        filter_expression(labels="x")


async def test_bad_list_arguments_fail_before_anything_is_sent(driver):
    with pytest.raises(ValueError, match="unknown filter.*size.*filter by id, name, family, status"):
        [image async for image in driver.list_images(size="1")]
    with pytest.raises(ValidationError, match="pageSize: must be between 0 and 1000"):
        [image async for image in driver.list_images(page_size=1001)]
    assert not api_calls(driver)


async def test_a_filter_the_api_refuses_is_an_invalid_argument_naming_the_field(driver):
    with pytest.raises(ApiError) as caught:
        [image async for image in driver.list_images(filter="labels.env = 'prod'")]
    error = caught.value
    assert (error.status, error.code) == (400, "INVALID_ARGUMENT")
    assert error.message.startswith("Request validation error: filter:")
    violations = [d for d in error.details if d.get("@type", "").endswith("google.rpc.BadRequest")]
    assert violations[0]["fieldViolations"][0]["field"] == "filter"
    assert uuid.UUID(error.request_id)


async def test_a_folder_without_access_is_permission_denied(driver):
    with pytest.raises(ApiError) as caught:
        [image async for image in driver.list_images(folder_id="b1gsomeoneelses00000")]
    assert (caught.value.status, caught.value.code) == (403, "PERMISSION_DENIED")
    assert isinstance(caught.value, AuthError)  # the credentials do not reach it
    assert caught.value.message == "Permission denied"


# -- reading one image ----------------------------------------------------------------------------
async def test_get_image_returns_the_full_model(sim_server, driver):
    wire = next(i for i in state(sim_server).images.values() if i.get("name") == "web-frontend-v2")
    image = await driver.get_image(wire["id"])
    assert isinstance(image.raw, ym.Image)
    assert image.raw.id == wire["id"] and image.raw.labels == {"env": "prod", "team": "web"}
    assert image.raw.to_wire() == wire  # nothing lost on the way
    assert image.name == "web-frontend-v2" and image.extras["family"] == "web-frontend"
    assert (await driver.send(GetImage(image_id=wire["id"]))).raw == image.raw


async def test_an_unknown_image_is_not_found_with_the_request_id(driver):
    with pytest.raises(ApiError) as caught:
        await driver.get_image("fd8nosuchimage000000")
    error = caught.value
    assert (error.provider, error.status, error.code) == ("yandex", 404, "NOT_FOUND")
    assert error.message == "Image fd8nosuchimage000000 not found"
    entry = api_calls(driver)[-1]
    assert error.request_id == dict(entry.response_headers)["x-request-id"]
    assert error.request is not None and error.request.url.endswith("/compute/v1/images/fd8nosuchimage000000")
    with pytest.raises(ValidationError, match="imageId: required"):
        await driver.get_image("")


async def test_latest_by_family_is_the_newest_ready_image(sim_server, driver):
    family = [i for i in state(sim_server).images.values() if i.get("family") == "ubuntu-2204-lts"]
    newest = max(family, key=lambda i: i["createdAt"])
    latest = await driver.latest_by_family("ubuntu-2204-lts")
    assert latest.id == newest["id"] and isinstance(latest.raw, ym.Image)
    assert "family=ubuntu-2204-lts" in api_calls(driver)[-1].url
    with pytest.raises(ApiError) as caught:
        await driver.latest_by_family("no-such-family")
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")
    assert caught.value.message == "Image with family no-such-family not found"
    with pytest.raises(ValidationError, match="family: value 'Bad_Family' does not match"):
        await driver.latest_by_family("Bad_Family")


# -- creating -------------------------------------------------------------------------------------
def source_for(kind: str, server: SimServer) -> dict:
    doc = server.endpoints["yandex_ids"]
    if kind == "image_id":
        return {"image_id": images_named(server, "debian-12-v20241021")[0]["id"]}
    if kind == "disk_id":
        return {"disk_id": doc["disk_ids"][1]}
    if kind == "snapshot_id":
        return {"snapshot_id": doc["snapshot_ids"][0]}
    return {"uri": UBUNTU_URI}


@pytest.mark.parametrize("kind", ["image_id", "disk_id", "snapshot_id", "uri"])
async def test_a_create_from_each_source_kind_is_tracked_to_the_ready_image(sim_server, driver, kind):
    name = f"from-{kind.replace('_', '-')}"
    request = driver.create_image_request(name=name, **source_for(kind, sim_server))
    op = await driver.send(request)
    assert isinstance(op, Operation) and op.status is OperationStatus.RUNNING
    assert (op.provider, op.kind) == ("yandex", "create")
    image_id = op.raw["metadata"]["imageId"]
    assert op.target == image_id and op.poll_state == {"operation_id": op.id, "image_id": image_id}
    assert op.description == request.summary() and name in op.description
    assert (await driver.get_image(image_id)).status == "CREATING"
    await track_all(driver, op)
    assert op.status is OperationStatus.SUCCEEDED and op.error is None and op.polls >= 2
    # the final state was read from Compute, as an SDK refreshes the resource
    assert api_calls(driver, "GET", f"/compute/v1/images/{image_id}")[-1].status == 200
    assert op.result == state(sim_server).images[image_id]
    assert op.result["status"] == "READY" and op.result["name"] == name
    assert int(op.result["size"]) > 0
    json.dumps(op.to_dict())  # the finished operation serialises


async def test_every_documented_create_field_reaches_the_image(sim_server, driver, ids):
    fields = {
        "name": "all-fields",
        "description": "every field of CreateImageRequest",
        "labels": {"env": "test", "owner": "workbench"},
        "family": "all-fields-family",
        "min_disk_size": 60 * 1024**3,
        "product_ids": ["f2eprod0000000000001"],
        "os": {"type": "WINDOWS"},
        "pooled": True,
        "hardware_generation": {"generation2Features": {}},
        "disk_id": ids["disk_ids"][1],
    }
    request = driver.create_image_request(**fields)
    body = driver.preview(request).json
    assert body == {
        "folderId": ids["folder_id"], "name": "all-fields", "description": "every field of CreateImageRequest",
        "labels": {"env": "test", "owner": "workbench"}, "family": "all-fields-family",
        "minDiskSize": str(60 * 1024**3), "productIds": ["f2eprod0000000000001"], "diskId": ids["disk_ids"][1],
        "os": {"type": "WINDOWS"}, "pooled": True, "hardwareGeneration": {"generation2Features": {}},
    }
    [op] = await track_all(driver, await driver.send(request))
    image = ym.Image.model_validate(op.result)
    assert (image.name, image.description, image.family) == ("all-fields", fields["description"], "all-fields-family")
    assert image.labels == fields["labels"] and image.min_disk_size == fields["min_disk_size"]
    assert image.product_ids == ["f2eprod0000000000001"] and image.os.type is ym.OsType.WINDOWS
    assert image.pooled is True and image.hardware_generation.generation2_features is not None
    assert image.status is ym.ImageStatus.READY
    assert (await driver.latest_by_family("all-fields-family")).id == image.id


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({}, "source: exactly one of imageId, diskId, snapshotId, uri must be set"),
        ({"disk_id": "fhm1", "snapshot_id": "fd81"}, "source: only one of imageId, diskId, snapshotId, uri may be set"),
        ({"disk_id": "fhm1", "name": "Bad Name"}, "name: value 'Bad Name' does not match"),
        ({"disk_id": "fhm1", "family": "x"}, "family: value 'x' does not match"),
        ({"disk_id": "fhm1", "description": "d" * 257}, "description: length must be at most 256"),
        ({"disk_id": "fhm1", "min_disk_size": 1024}, "minDiskSize: must be between 4194304 and 4398046511104"),
        ({"disk_id": "fhm1", "labels": {"Env": "x"}}, "Env"),
        ({"uri": "https://example.com/image.qcow2"}, "uri: only links to images stored in Object Storage"),
        ({"uri": "https://storage.yandexcloud.net/bucket/image.iso"}, "uri: only Qcow2, VMDK, VHD and RAW"),
        ({"disk_id": "fhm1", "idempotency_key": "retry-1"}, "Idempotency-Key: must be a UUID"),
        ({"disk_id": "fhm1", "colour": "blue"}, "colour"),
        ({"disk_id": "fhm1", "folder_id": ""}, "folderId: required field is missing"),
    ],
)
async def test_create_rules_are_checked_before_sending_naming_the_field(driver, fields, fragment):
    with pytest.raises(ValidationError, match=fragment.replace("(", r"\(")):
        driver.create_image_request(**fields)
    assert len(driver.http.log) == 0


async def test_preview_and_curl_show_the_exact_request_with_secrets_masked(sim_server, driver, ids):
    canary = sim_server.endpoints["yandex_credentials"]["oauth_token"]
    request = driver.create_image_request(name="previewed", uri=UBUNTU_URI, labels={"k": "v"})
    preview = driver.preview(request)
    assert preview.method == "POST"
    assert preview.url == sim_server.endpoints["yandex_compute"] + "/compute/v1/images"
    assert preview.header("Idempotency-Key") == request.idempotency_key
    assert uuid.UUID(request.idempotency_key).version == 4
    assert preview.header("Content-Type") == "application/json" and preview.header("Authorization") == "Bearer ***"
    assert preview.json == {"folderId": ids["folder_id"], "name": "previewed", "labels": {"k": "v"}, "uri": UBUNTU_URI}
    argv = shlex.split(driver.curl(request))
    assert argv[:4] == ["curl", "-X", "POST", preview.url]
    assert f"Idempotency-Key: {request.idempotency_key}" in argv and "Authorization: Bearer ***" in argv
    assert json.loads(argv[argv.index("--data-raw") + 1]) == preview.json
    assert canary not in " ".join(argv) and len(driver.http.log) == 0  # nothing sent, no token fetched
    # an operation read goes to the Operation service's host
    cancel = driver.preview(CancelOperation(operation_id="fd8op"))
    assert cancel.url == sim_server.endpoints["yandex_operation"] + "/operations/fd8op:cancel"
    assert cancel.method == "GET"


async def test_sending_the_same_request_again_returns_the_same_operation(sim_server, driver, ids):
    request = driver.create_image_request(name="sent-twice", disk_id=ids["disk_ids"][0])
    first = await driver.send(request)
    second = await driver.send(request)
    assert first.id == second.id and first.target == second.target
    assert len(images_named(sim_server, "sent-twice")) == 1
    keys = {dict(e.request_headers)["Idempotency-Key"] for e in api_calls(driver, "POST")}
    assert keys == {request.idempotency_key}
    # a renewed request is a new one: the name is taken now
    with pytest.raises(ApiError) as caught:
        await driver.send(request.renewed())
    assert (caught.value.status, caught.value.code) == (409, "ALREADY_EXISTS")
    assert caught.value.message == "Image with name sent-twice already exists"


async def test_a_create_retried_after_a_dropped_connection_makes_exactly_one_image(sim_server, ids):
    async def faults_off() -> None:
        await set_faults(sim_server, rate=0)

    waits = Waits(after=1, then=faults_off)
    async with connect(sim_server, retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await driver.latest_by_family("debian-12")  # token and connection ready before the faults
        await set_faults(sim_server, rate=1.0, kinds=["drop"])
        request = driver.create_image_request(name="dropped-once", disk_id=ids["disk_ids"][0])
        op = await driver.send(request)
        posts = api_calls(driver, "POST")
        assert [e.status for e in posts] == [None, 200] and posts[0].error  # dropped, then answered
        assert {dict(e.request_headers)["Idempotency-Key"] for e in posts} == {request.idempotency_key}
        assert len(waits.waits) == 1
        assert sim_server.context.faults.counts["drop"] == 1
        [op] = await track_all(driver, op)
        assert op.status is OperationStatus.SUCCEEDED
        # the dropped attempt made the image; the retry found its operation instead of making another
        [image] = images_named(sim_server, "dropped-once")
        assert op.result["id"] == image["id"] and image["status"] == "READY"
        assert [i.id async for i in driver.list_images(name="dropped-once")] == [image["id"]]


class CreateImageWithoutKey(CreateImage):
    """A create as a client without idempotency keys would send it."""

    def headers(self) -> Mapping[str, str]:
        return {}


async def test_a_create_without_a_key_is_not_retried_after_a_drop(sim_server, ids):
    waits = Waits()
    async with connect(sim_server, retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await driver.latest_by_family("debian-12")
        await set_faults(sim_server, rate=1.0, kinds=["drop"])
        request = CreateImageWithoutKey(folder_id=ids["folder_id"], name="no-key", disk_id=ids["disk_ids"][0])
        assert not request.is_idempotent()
        with pytest.raises(TransportError, match="dropped"):
            await driver.send(request)
        posts = api_calls(driver, "POST")
        assert len(posts) == 1 and waits.waits == []  # a replay could have made a second image
        assert len(images_named(sim_server, "no-key")) == 1  # the server did act on it


@pytest.mark.parametrize(("kind", "status", "code"), [("throttle", 429, "RESOURCE_EXHAUSTED"),
                                                      ("unavailable", 503, "UNAVAILABLE")])
async def test_throttling_is_retried_after_the_servers_retry_after(sim_server, ids, kind, status, code):
    async def faults_off() -> None:
        await set_faults(sim_server, rate=0)

    waits = Waits(after=2, then=faults_off)
    async with connect(sim_server, retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await driver.latest_by_family("debian-12")
        await set_faults(sim_server, rate=1.0, kinds=[kind], retry_after=3)
        op = await driver.create_image(name=f"after-{kind}", disk_id=ids["disk_ids"][0])
        assert isinstance(op, Operation)
        posts = api_calls(driver, "POST")
        assert [e.status for e in posts] == [status, status, 200]
        assert waits.waits == [3.0, 3.0]  # exactly what Retry-After asked, never less
        assert len(images_named(sim_server, f"after-{kind}")) == 1


async def test_when_throttling_outlasts_the_retries_the_error_says_so(sim_server):
    waits = Waits()
    async with connect(sim_server, retry=RetryPolicy(max_attempts=3, sleep=waits)) as driver:
        image = await driver.latest_by_family("debian-12")
        await set_faults(sim_server, rate=1.0, kinds=["throttle"], retry_after=2)
        with pytest.raises(ApiError) as caught:
            await driver.get_image(image.id)
        error = caught.value
        assert (error.status, error.code, error.retry_after) == (429, "RESOURCE_EXHAUSTED", 2.0)
        assert "Too many requests" in error.message and uuid.UUID(error.request_id)
        assert waits.waits == [2.0, 2.0] and len(api_calls(driver, "GET", image.id)) == 3


@pytest.mark.parametrize(
    ("fields", "status", "code", "fragment"),
    [
        ({"name": "web-frontend-v2", "disk_id": "DISK0"}, 409, "ALREADY_EXISTS", "Image with name web-frontend-v2"),
        ({"name": "x-missing", "disk_id": "fhmnosuchdisk0000000"}, 404, "NOT_FOUND",
         "Disk fhmnosuchdisk0000000 not found"),
        ({"name": "x-small", "disk_id": "DISK1", "min_disk_size": 4 * 1024**2}, 400, "INVALID_ARGUMENT",
         "minDiskSize: must be at least the size of the source data"),
        ({"name": "x-folder", "disk_id": "DISK0", "folder_id": "b1gsomeoneelses00000"}, 403, "PERMISSION_DENIED",
         "Permission denied"),
        ({"name": "x-error-source", "image_id": "ERRORIMAGE"}, 400, "FAILED_PRECONDITION",
         "is not ready (status ERROR)"),
    ],
)
async def test_creates_the_server_refuses_raise_its_error(sim_server, driver, ids, fields, status, code, fragment):
    fields = dict(fields)
    for key, value in fields.items():
        if value in ("DISK0", "DISK1"):
            fields[key] = ids["disk_ids"][int(value[-1])]
        elif value == "ERRORIMAGE":
            fields[key] = images_named(sim_server, "legacy-import")[0]["id"]
    with pytest.raises(ApiError) as caught:
        await driver.create_image(**fields)
    error = caught.value
    assert (error.status, error.code) == (status, code)
    assert fragment in error.message
    assert error.request is not None and error.request.method == "POST"
    assert len(api_calls(driver, "POST")) == 1  # a 4xx is never retried


# -- operations -----------------------------------------------------------------------------------
async def test_a_running_create_can_be_cancelled_and_leaves_no_image(sim_server, driver, ids):
    await set_faults(sim_server, operation_polls=1000)
    op = await driver.create_image(name="to-cancel", disk_id=ids["disk_ids"][0])
    image_id = op.target
    async with OperationTracker({"yandex": driver.poller()}, min_interval=0.01) as tracker:
        tracker.track(op)
        cancelled = await tracker.cancel(op.id)
        await tracker.wait(op.id, timeout=10)
    assert cancelled.status is OperationStatus.CANCELED and cancelled.cancel_requested
    assert cancelled.error == "CANCELLED: Operation was cancelled" and cancelled.result is None
    assert api_calls(driver, "GET", f"/operations/{op.id}:cancel")
    with pytest.raises(ApiError) as caught:
        await driver.get_image(image_id)
    assert caught.value.code == "NOT_FOUND" and not images_named(sim_server, "to-cancel")


async def test_cancel_through_the_driver_and_after_the_fact(sim_server, driver, ids):
    await set_faults(sim_server, operation_polls=1000)
    op = await driver.create_image(name="cancel-direct", disk_id=ids["disk_ids"][0])
    cancelled = await driver.cancel(op)
    assert cancelled.id == op.id and cancelled.status is OperationStatus.CANCELED
    # a second cancel (say, a retry whose first answer was lost) meets FAILED_PRECONDITION:
    # the operation is done, so the poller reports how it ended instead of failing
    outcome = await driver.poller().cancel(op)
    assert outcome.status is OperationStatus.CANCELED
    assert [e.status for e in api_calls(driver, "GET", ":cancel")] == [200, 400]


async def test_an_operation_that_cannot_be_cancelled_says_so(sim_server, driver):
    image = await driver.latest_by_family("debian-12")
    await set_faults(sim_server, operation_polls=1000)
    op = await driver.send(UpdateImage(image_id=image.id, description="new words"))
    async with OperationTracker({"yandex": driver.poller()}, min_interval=0.01) as tracker:
        tracker.track(op)
        with pytest.raises(ApiError) as caught:
            await tracker.cancel(op.id)
        assert (caught.value.status, caught.value.code) == (400, "FAILED_PRECONDITION")
        assert "cannot be cancelled" in caught.value.message
        assert not tracker.get(op.id).done
        tracker.forget(op.id)


async def test_a_failed_create_ends_failed_with_the_servers_error(sim_server, driver, ids):
    await set_faults(sim_server, rate=1.0, kinds=["fail_operation"])
    [op] = await track_all(driver, await driver.create_image(name="doomed", disk_id=ids["disk_ids"][0]))
    assert op.status is OperationStatus.FAILED and op.result is None
    assert op.error.startswith("INTERNAL: Failed to create image") and op.target in op.error
    assert not images_named(sim_server, "doomed")


async def test_update_and_delete_are_operations_with_the_final_state(sim_server, driver, ids):
    [created] = await track_all(driver, await driver.create_image(
        name="to-edit", description="old", labels={"a": "b"}, disk_id=ids["disk_ids"][0]))
    image_id = created.result["id"]
    update = UpdateImage(image_id=image_id, name="edited", description="", labels={"stage": "two"})
    assert driver.preview(update).json == {"updateMask": "name,description,labels", "name": "edited",
                                           "labels": {"stage": "two"}}
    assert driver.preview(update).method == "PATCH" and driver.preview(update).header("Idempotency-Key")
    [updated] = await track_all(driver, await driver.send(update))
    assert (updated.kind, updated.target, updated.status) == ("update", image_id, OperationStatus.SUCCEEDED)
    assert updated.result["name"] == "edited" and updated.result["labels"] == {"stage": "two"}
    assert "description" not in updated.result  # cleared through the mask
    history = [op async for op in driver.image_operations(image_id)]
    assert [op["description"] for op in history] == ["Create image", "Update image"]
    assert [op["id"] for op in history] == [created.id, updated.id] and all(op["done"] for op in history)
    delete = DeleteImage(image_id=image_id)
    assert delete.destructive and driver.preview(delete).method == "DELETE"
    [deleted] = await track_all(driver, await driver.send(delete))
    assert (deleted.kind, deleted.status, deleted.result) == ("delete", OperationStatus.SUCCEEDED, None)
    with pytest.raises(ApiError, match="not found"):
        await driver.get_image(image_id)
    # looked up by id, a delete is known by its metadata: no image to show
    by_id = await driver.operation(deleted.id)
    assert (by_id.kind, by_id.status, by_id.result) == ("operation", OperationStatus.SUCCEEDED, None)


async def test_an_update_needs_something_to_update():
    with pytest.raises(ValidationError, match="updateMask: nothing to update"):
        UpdateImage(image_id="fd8x")
    with pytest.raises(ValidationError, match="updateMask: unknown or read-only field 'family'"):
        UpdateImage(image_id="fd8x", update_mask="family")
    with pytest.raises(ValidationError, match="imageId: required"):
        DeleteImage(image_id="")


async def test_an_operation_done_at_once_needs_no_polling(sim_server, driver, ids):
    await set_faults(sim_server, operation_polls=0)
    op = await driver.create_image(name="instant", disk_id=ids["disk_ids"][0])
    assert op.status is OperationStatus.SUCCEEDED
    assert op.result["id"] == op.target and op.result["status"] == "READY" and "@type" not in op.result


async def test_an_operation_by_id_is_tracked_and_survives_a_restart(sim_server, ids, tmp_path):
    path = tmp_path / "operations.json"
    await set_faults(sim_server, operation_polls=3)
    async with connect(sim_server) as first:
        op = await first.create_image(name="resumed", disk_id=ids["disk_ids"][2])
        tracker = OperationTracker({"yandex": first.poller()}, state_path=path)
        tracker.track(op)
        tracker.save()
        await tracker.aclose()  # the app quits before the operation finishes
    async with connect(sim_server) as second:
        # a new process: the saved operation resumes with the new driver's poller
        async with OperationTracker({"yandex": second.poller()}, state_path=path, min_interval=0.01) as tracker:
            [loaded] = tracker.load()
            assert loaded.id == op.id and loaded.poll_state["image_id"] == op.target
            tracker.resume()
            done = await tracker.wait(op.id, timeout=10)
        assert done.status is OperationStatus.SUCCEEDED and done.result["name"] == "resumed"
        # the same operation, looked up by id (as if started elsewhere)
        again = await second.operation(op.id)
        assert again.status is OperationStatus.SUCCEEDED and again.target == op.target


async def test_two_hundred_concurrent_creates_are_tracked_to_done(sim_server, ids):
    async with connect(sim_server) as driver:
        requests = [driver.create_image_request(name=f"bulk-{n:03d}", disk_id=ids["disk_ids"][n % 3])
                    for n in range(200)]
        ops = await asyncio.gather(*[driver.send(request) for request in requests])
        events: list[str] = []
        async with OperationTracker({"yandex": driver.poller()}, min_interval=0.05) as tracker:
            tracker.subscribe(lambda event: events.append(event.kind))
            for op in ops:
                tracker.track(op)
            await tracker.wait_all(timeout=120)
        assert all(op.status is OperationStatus.SUCCEEDED for op in ops)
        assert len({op.target for op in ops}) == 200
        assert sorted(op.result["name"] for op in ops) == [f"bulk-{n:03d}" for n in range(200)]
        assert all(op.result["status"] == "READY" for op in ops)
        assert all(op.polls >= 2 and op.early_polls == 0 for op in ops)
        assert events.count("finished") == 200
        assert sum(1 for image in state(sim_server).images.values()
                   if image.get("name", "").startswith("bulk-") and image["status"] == "READY") == 200


# -- in-process ----------------------------------------------------------------------------------------
async def test_the_driver_works_in_process_through_an_asgi_transport(sim_app, sim_endpoints, sim_context):
    doc = sim_endpoints
    async with YandexDriver.connect(
        folder_id=doc["yandex_ids"]["folder_id"],
        service_account_key=doc["yandex_credentials"]["service_account_key"],
        compute_endpoint=doc["yandex_compute"],
        operation_endpoint=doc["yandex_operation"],
        iam_endpoint=doc["yandex_iam"],
        transport=httpx.ASGITransport(app=sim_app),
    ) as driver:
        assert driver.base_url == "http://sim.test/yandex/compute"
        listed = [image async for image in driver.list_images(page_size=7)]
        assert len(listed) == len(sim_context.states["yandex"].images)
        [op] = await track_all(driver, await driver.create_image(name="in-process", uri=UBUNTU_URI))
        assert op.status is OperationStatus.SUCCEEDED and op.result["name"] == "in-process"
        assert op.result["createdAt"] and sim_context.states["yandex"].images[op.target]["status"] == "READY"


# -- the driver itself --------------------------------------------------------------------------------
class ForeignRequest(ApiRequest):
    def path(self) -> str:
        return "/somewhere/else"


async def test_send_refuses_requests_of_other_providers(driver):
    with pytest.raises(TypeError, match="not a Yandex request"):
        await driver.send(ForeignRequest())
    page = await driver.send(ListImages(folder_id=driver.folder_id, page_size=2))
    assert len(page["images"]) == 2 and page["nextPageToken"] == page["images"][-1]["id"]


def test_the_constructor_checks_its_settings():
    with pytest.raises(ValueError, match="folder_id: required"):
        YandexDriver.connect(folder_id="", iam_token="t1.x")
    with pytest.raises(ValueError, match="compute_endpoint: must be an absolute http"):
        YandexDriver.connect(folder_id="b1g", iam_token="t1.x", compute_endpoint="compute.example")
    with pytest.raises(ValueError, match="exactly one of"):
        YandexDriver.connect(folder_id="b1g")


def test_summaries_of_sparse_images():
    summary = image_summary({"id": "fd8x"})
    assert (summary.name, summary.status, summary.os, summary.size) == ("", "STATUS_UNSPECIFIED", "", None)
    assert summary.extras == {"family": "", "minDiskSize": ""}
    assert image_summary({"id": "fd8y", "storageSize": "42"}).size == 42
