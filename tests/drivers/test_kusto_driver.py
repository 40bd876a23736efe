"""The Kusto driver against the simulated ARM service: over real loopback HTTP
(``sim_server``) for every feature, and in-process where the same test runs both ways."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
from pydantic import ValidationError

from tests.waits import Waits
from workbench.core.errors import ApiError, AuthError
from workbench.core.operations import Operation, OperationStatus, OperationTracker
from workbench.core.retry import RetryPolicy
from workbench.providers.azure_auth import AzureCredential, EntraClientCredentials, static_bearer
from workbench.providers.kusto.driver import KustoDriver
from workbench.providers.kusto.models import CheckNameResult, SandboxCustomImage
from workbench.providers.kusto.requests import (
    MAX_REQUIREMENTS_BYTES,
    ClusterScope,
    CreateOrUpdateImage,
    RequirementsFileError,
)
from workbench.sim.app import build_app, endpoints_document
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext

CATALOG = 10  # images of the demo cluster before seeding
SEEDED = 250
PAGE_SIZE = 50
CANARY_TOKEN = "canary-static-token-5b1f0e9d2c"


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(operation_polls=2, operation_retry_after=0, seed_images=SEEDED,
                     extra={"kusto_page_size": PAGE_SIZE})


def credential(endpoints: dict, secret: str | None = None) -> AzureCredential:
    creds = endpoints["entra_credentials"]
    return AzureCredential("client_secret", tenant_id=creds["tenant_id"], client_id=creds["client_id"],
                           client_secret=secret or creds["client_secret"], authority=endpoints["entra"])


def connect(endpoints: dict, *, transport=None, retry: RetryPolicy | None = None, **overrides) -> KustoDriver:
    ids = endpoints["kusto_ids"]
    settings = dict(subscription_id=ids["subscription_id"], resource_group=ids["resource_group"],
                    cluster=ids["cluster"], base_url=endpoints["kusto"])
    settings.update(overrides)
    if "auth" not in settings and "credential" not in settings:
        settings["credential"] = credential(endpoints)
    return KustoDriver.connect(transport=transport, retry=retry or RetryPolicy(max_attempts=4, sleep=Waits()),
                               **settings)


@pytest.fixture
async def kusto(sim_server):
    async with connect(sim_server.endpoints) as driver:
        yield driver


@pytest.fixture(params=["loopback", "in_process"])
async def any_kusto(request, sim_config):
    """The same driver over real HTTP and through ASGITransport."""
    if request.param == "loopback":
        server = request.getfixturevalue("sim_server")
        async with connect(server.endpoints) as driver:
            yield driver
    else:
        ctx = SimContext(sim_config)
        app = build_app(context=ctx)
        async with connect(endpoints_document("http://sim.test", ctx), transport=httpx.ASGITransport(app=app)) as driver:
            yield driver


async def set_faults(server, **settings) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.put(server.endpoints["admin"] + "/faults", json=settings)
        assert answer.status_code == 200, answer.text


def tracker() -> OperationTracker:
    return OperationTracker(min_interval=0.02, backoff_initial=0.02, backoff_max=0.2)


def api_entries(driver: KustoDriver, method: str | None = None) -> list:
    return [e for e in driver.http.log.entries()
            if "/oauth2/" not in e.url and (method is None or e.method == method)]


# -- listing and reading ---------------------------------------------------------


async def test_list_follows_next_link_across_every_page(any_kusto):
    images = [image async for image in any_kusto.list_images()]
    assert len(images) == CATALOG + SEEDED
    assert len({image.id for image in images}) == len(images)
    pages = api_entries(any_kusto, "GET")
    assert len(pages) == -(-(CATALOG + SEEDED) // PAGE_SIZE)  # 6 pages of 50
    assert all("$skiptoken=" in e.url for e in pages[1:])
    first = next(image for image in images if image.name == "customImage1")
    assert (first.provider, first.id, first.status, first.os) == ("kusto", "customImage1", "Succeeded", "Python")
    assert first.extras == {"language": "Python", "languageVersion": "3.10.8", "baseImageName": "",
                            "provisioningState": "Succeeded"}
    assert first.raw["id"].endswith("/SandboxCustomImages/customImage1")  # the list keeps the JSON dict
    based = next(image for image in images if image.name == "customImage2")
    assert based.extras["baseImageName"] == "customImage1" and based.extras["languageVersion"] == ""


async def test_list_stops_at_the_limit_without_reading_further_pages(kusto):
    images = [image async for image in kusto.list_images(limit=PAGE_SIZE + 5)]
    assert len(images) == PAGE_SIZE + 5
    assert len(api_entries(kusto, "GET")) == 2


async def test_list_has_no_filters(kusto):
    with pytest.raises(ValueError, match="^status: unknown filter"):
        [image async for image in kusto.list_images(status="Succeeded")]


async def test_get_image_by_name_or_arm_id(any_kusto):
    image = await any_kusto.get_image("sandboxCustomImage1")
    assert isinstance(image.raw, SandboxCustomImage)
    assert image.raw.properties.base_image_name == "Python3_11_7"
    assert image.extras["baseImageName"] == "Python3_11_7" and image.status == "Succeeded"
    by_id = await any_kusto.get_image(image.raw.id)
    assert by_id.raw == image.raw
    other = image.raw.id.replace("/Clusters/kustoCluster/", "/Clusters/otherCluster/")
    with pytest.raises(ValueError, match="^image_id: .* is not a sandbox custom image of cluster"):
        await any_kusto.get_image(other)


# -- errors, in ARM's shape ------------------------------------------------------


async def test_a_missing_image_is_a_404_arm_error(kusto):
    with pytest.raises(ApiError) as caught:
        await kusto.get_image("noSuchImage")
    error = caught.value
    assert (error.provider, error.status, error.code) == ("kusto", 404, "ResourceNotFound")
    assert "sandboxCustomImages/noSuchImage" in error.message
    assert error.request_id  # x-ms-request-id
    assert error.request.method == "GET" and "noSuchImage" in error.request.url


async def test_an_unknown_api_version_is_the_arm_error(sim_server):
    async with connect(sim_server.endpoints, api_version="2019-01-21") as driver:
        with pytest.raises(ApiError) as caught:
            await driver.get_image("customImage1")
    assert (caught.value.status, caught.value.code, caught.value.target) == (400, "InvalidApiVersionParameter",
                                                                             "api-version")


async def test_an_unknown_resource_group_is_the_arm_error(sim_server):
    async with connect(sim_server.endpoints, resource_group="no-such-group") as driver:
        with pytest.raises(ApiError) as caught:
            [image async for image in driver.list_images()]
    assert (caught.value.status, caught.value.code) == (404, "ResourceGroupNotFound")


async def test_a_base_image_the_service_does_not_know_is_a_400_with_details(kusto):
    with pytest.raises(ApiError) as caught:
        await kusto.send(kusto.create_or_update("img", base_image_name="notAnImage"))
    error = caught.value
    assert (error.status, error.code, error.target) == (400, "BadRequest", "properties.baseImageName")
    assert "neither a managed image" in error.message
    assert error.details and error.details[0]["target"] == "properties.baseImageName"
    assert "properties.baseImageName" in error.details_text()


async def test_a_token_the_service_rejects_is_an_auth_error_that_hides_the_token(sim_server):
    async with connect(sim_server.endpoints, auth=static_bearer(CANARY_TOKEN)) as driver:
        request = driver.create_or_update("img", language_version="3.10.8")
        curl = driver.curl(request)
        with pytest.raises(AuthError) as caught:
            await driver.send(request)
    error = caught.value
    assert (error.status, error.code) == (401, "InvalidAuthenticationToken")
    assert "Authorization: Bearer ***" in curl
    log = json.dumps([e.as_dict() for e in driver.http.log.entries()])
    for text in (curl, str(error), repr(error), error.raw_text, json.dumps(error.request.headers), log):
        assert CANARY_TOKEN not in text
    assert len(api_entries(driver)) == 1  # a static token is not refreshed


# -- validation before anything is sent --------------------------------------------


@pytest.mark.parametrize(("kwargs", "rule"), [
    ({"language_version": "3.10.8", "base_image_name": "Python3_10_8"},
     "exactly one of languageVersion and baseImageName must be specified, got both"),
    ({}, "exactly one of languageVersion and baseImageName must be specified, got neither"),
    ({"language_version": "3.10.8", "language": "R"}, "language must be 'Python'"),
    ({"language_version": "three"}, "languageVersion must be a Python version"),
])
async def test_the_body_rules_are_checked_before_sending(kusto, kwargs, rule):
    with pytest.raises(ValidationError, match=rule):
        kusto.create_or_update("img", **kwargs)
    assert kusto.http.log.entries() == []


@pytest.mark.parametrize(("field", "value", "rule"), [
    ("resource_group", "r" * 91, "resource_group must be 1 to 90 characters long, got 91"),
    ("resource_group", "bad/group", "resource_group may hold only"),
    ("resource_group", "ends.", "must not end with '.'"),
    ("subscription_id", "not-a-guid", "subscription_id must be a GUID"),
    ("cluster", "..", "cluster: '..' is not a valid path segment"),
])
def test_the_cluster_scope_is_checked(field, value, rule):
    settings = {"subscription_id": "12345678-1234-1234-1234-123456789098", "resource_group": "rg", "cluster": "c"}
    settings[field] = value
    with pytest.raises(ValidationError, match=rule) as caught:
        ClusterScope(**settings)
    assert caught.value.errors()[0]["loc"] == (field,)


async def test_timeout_is_an_httpx_timeout_as_given_or_seconds_with_a_short_connect():
    def connect_with(**options) -> KustoDriver:
        return KustoDriver.connect(subscription_id="12345678-1234-1234-1234-123456789098", resource_group="rg",
                                   cluster="c", auth=static_bearer(CANARY_TOKEN), **options)

    given = httpx.Timeout(connect=3.0, read=42.0, write=7.0, pool=1.0)
    async with connect_with(timeout=given) as driver:
        assert driver.http.client.timeout == given
    async with connect_with(timeout=25) as driver:
        assert driver.http.client.timeout == httpx.Timeout(25.0, connect=10.0)
    async with connect_with() as driver:
        assert driver.http.client.timeout == httpx.Timeout(30.0, connect=10.0)


@pytest.mark.parametrize("name", ["", "a/b", ".", " "])
def test_image_names_that_would_change_the_path_are_refused(kusto, name):
    with pytest.raises(ValidationError, match="image_name"):
        kusto.create_or_update(name, language_version="3.10.8")


def test_requirements_file_problems_name_the_file_and_the_rule(kusto, tmp_path):
    with pytest.raises(RequirementsFileError, match=r"^requirements_file: '.*missing.txt' does not exist"):
        kusto.create_or_update("img", language_version="3.10.8", requirements_file=tmp_path / "missing.txt")
    with pytest.raises(RequirementsFileError, match="is a directory"):
        kusto.create_or_update("img", language_version="3.10.8", requirements_file=tmp_path)
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * (MAX_REQUIREMENTS_BYTES + 1))
    with pytest.raises(RequirementsFileError, match=rf"is {MAX_REQUIREMENTS_BYTES + 1} bytes; a requirements file "
                                                    rf"may be at most {MAX_REQUIREMENTS_BYTES} bytes"):
        kusto.create_or_update("img", language_version="3.10.8", requirements_file=big)
    binary = tmp_path / "wheel.whl"
    binary.write_bytes(b"PK\x03\x04\xff\xfe")
    with pytest.raises(RequirementsFileError, match="is not UTF-8 text"):
        kusto.create_or_update("img", language_version="3.10.8", requirements_file=binary)
    locked = tmp_path / "locked.txt"
    locked.write_text("numpy")
    if os.geteuid() != 0:  # root reads any file
        locked.chmod(0)
        try:
            with pytest.raises(RequirementsFileError, match="cannot be read: Permission denied"):
                kusto.create_or_update("img", language_version="3.10.8", requirements_file=locked)
        finally:
            locked.chmod(0o600)
    with pytest.raises(ValueError, match="not both"):
        kusto.create_or_update("img", language_version="3.10.8", requirements="a", requirements_file=locked)


# -- operations ------------------------------------------------------------------------


async def test_create_then_update_are_tracked_to_succeeded_and_the_final_state_is_fetched(kusto, sim_server,
                                                                                         tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==1.26.4\n# comment\nscikit-learn==1.4.2\n", encoding="utf-8")
    request = kusto.create_or_update("trackedImage", base_image_name="Python3_11_7", requirements_file=requirements)
    assert request.json_body() == {"properties": {"language": "Python", "baseImageName": "Python3_11_7",
                                                  "requirementsFileContent": requirements.read_text()}}
    op = await kusto.send(request)
    assert isinstance(op, Operation)
    assert (op.provider, op.kind, op.target, op.status) == ("kusto", "create", "trackedImage", OperationStatus.RUNNING)
    assert op.poll_state["async_url"].startswith(sim_server.endpoints["kusto"] + "/subscriptions/")
    async with tracker() as ops:
        ops.track(op, poller=kusto.poller())
        await ops.wait(op.id, timeout=20)
    assert op.status is OperationStatus.SUCCEEDED, op.error
    assert op.polls == 2 and op.early_polls == 0
    assert op.result["properties"]["provisioningState"] == "Succeeded"  # fetched from the resource
    assert op.result["properties"]["requirementsFileContent"] == requirements.read_text()

    update = await kusto.send(kusto.create_or_update("trackedImage", language_version="3.11.7"))
    assert update.kind == "update"
    async with tracker() as ops:
        ops.track(update, poller=kusto.poller())
        await ops.wait(update.id, timeout=20)
    image = await kusto.get_image("trackedImage")
    assert image.status == "Succeeded"
    assert image.raw.properties.language_version == "3.11.7" and image.raw.properties.base_image_name is None


async def test_patch_update_is_tracked_to_succeeded(kusto):
    op = await kusto.send(kusto.update("customImage7", requirements_file_content="Requests==2.31.0"))
    assert op.kind == "update" and op.poll_state["mode"] == "async"
    async with tracker() as ops:
        ops.track(op, poller=kusto.poller())
        await ops.wait(op.id, timeout=20)
    assert op.status is OperationStatus.SUCCEEDED, op.error
    image = await kusto.get_image("customImage7")
    assert image.raw.properties.requirements_file_content == "Requests==2.31.0"
    assert image.raw.properties.language_version == "3.10.8"  # merge patch: the rest kept


async def test_delete_is_tracked_and_the_image_is_gone(kusto):
    request = kusto.delete("customImage8")
    assert request.destructive
    op = await kusto.send(request)
    assert op.kind == "delete" and op.status is OperationStatus.RUNNING
    async with tracker() as ops:
        ops.track(op, poller=kusto.poller())
        await ops.wait(op.id, timeout=20)
    assert op.status is OperationStatus.SUCCEEDED and op.result is None
    with pytest.raises(ApiError) as caught:
        await kusto.get_image("customImage8")
    assert caught.value.status == 404
    # Deleting what is not there: 204, an operation already finished.
    again = await kusto.send(kusto.delete("customImage8"))
    assert again.status is OperationStatus.SUCCEEDED and again.done


async def test_check_name(kusto):
    taken = await kusto.send(kusto.check_name("customImage1"))
    free = await kusto.send(kusto.check_name("brandNewImage"))
    assert isinstance(taken, CheckNameResult)
    assert taken.name_available is False and "already taken" in taken.message
    assert free.name_available is True


async def test_200_concurrent_operations_are_tracked_to_completion(kusto, sim_server):
    names = [f"bulkImage{i:03d}" for i in range(200)]
    ops = await asyncio.gather(*(
        kusto.send(kusto.create_or_update(name, language_version="3.10.8" if i % 2 else None,
                                          base_image_name=None if i % 2 else "Python3_10_8"))
        for i, name in enumerate(names)
    ))
    events = []
    async with tracker() as ops_tracker:
        ops_tracker.subscribe(events.append)
        for op in ops:
            ops_tracker.track(op, poller=kusto.poller())
        done = await ops_tracker.wait_all(timeout=120)
    assert len(done) == 200 and len({op.id for op in done}) == 200
    assert all(op.status is OperationStatus.SUCCEEDED for op in done), [op.error for op in done if op.error][:3]
    assert all(op.result["properties"]["provisioningState"] == "Succeeded" for op in done)
    assert sum(op.early_polls for op in done) == 0
    assert len([e for e in events if e.kind == "finished"]) == 200
    # the server agrees: every image exists and is built
    state = sim_server.context.states["kusto"]
    cluster = next(c for c in state.clusters.values() if c.name == "kustoCluster")
    assert all(cluster.images[name.lower()]["properties"]["provisioningState"] == "Succeeded" for name in names)


async def test_an_injected_operation_failure_ends_failed_with_the_arm_error(kusto, sim_server):
    await set_faults(sim_server, rate=1.0, kinds=["fail_operation"])
    op = await kusto.send(kusto.create_or_update("doomedImage", language_version="3.10.8"))
    async with tracker() as ops:
        ops.track(op, poller=kusto.poller())
        await ops.wait(op.id, timeout=20)
    assert op.status is OperationStatus.FAILED
    assert op.error == ("SandboxCustomImageOperationFailed: Building sandbox custom image 'doomedImage' failed "
                        "(a failure injected by the simulator).")
    assert op.raw["status"] == "Failed" and op.raw["error"]["code"] == "SandboxCustomImageOperationFailed"
    assert op.result is None
    await set_faults(sim_server, rate=0.0)
    assert (await kusto.get_image("doomedImage")).status == "Failed"


async def test_an_unfinished_operation_resumes_after_a_restart(kusto, tmp_path):
    op = await kusto.send(kusto.create_or_update("resumedImage", language_version="3.10.8"))
    saved = tmp_path / "operations.json"
    first = OperationTracker({"kusto": kusto.poller()}, state_path=saved)
    first.track(op)
    first.save()  # before the loop could run a single poll: as if the app stopped at once
    await first.aclose()
    assert op.polls == 0 and not op.done
    async with tracker() as second:
        second.register("kusto", kusto.poller())
        [loaded] = second.load(saved)
        assert loaded.status is OperationStatus.RUNNING
        second.resume()
        await second.wait(loaded.id, timeout=20)
    assert loaded.status is OperationStatus.SUCCEEDED
    assert loaded.result["properties"]["provisioningState"] == "Succeeded"


# -- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status"), [("throttle", 429), ("unavailable", 503)])
async def test_a_read_is_retried_after_the_servers_retry_after(sim_server, kind, status):
    waits = Waits(on_wait=lambda: sim_server.context.faults.update({"rate": 0.0}))
    async with connect(sim_server.endpoints, retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await driver.get_image("customImage1")  # a token first, with no faults
        await set_faults(sim_server, rate=1.0, kinds=[kind], retry_after=1)
        image = await driver.get_image("customImage2")
    assert image.name == "customImage2"
    gets = api_entries(driver, "GET")
    assert [e.status for e in gets] == [200, status, 200]
    assert [e.attempt for e in gets[1:]] == [1, 2]
    assert len(waits.waits) == 1 and waits.waits[0] >= 1.0  # Retry-After: 1 honoured


async def test_retries_give_up_with_the_servers_error_and_retry_after(sim_server):
    waits = Waits()
    async with connect(sim_server.endpoints, retry=RetryPolicy(max_attempts=3, sleep=waits)) as driver:
        await driver.get_image("customImage1")
        await set_faults(sim_server, rate=1.0, kinds=["throttle"], retry_after=2)
        with pytest.raises(ApiError) as caught:
            await driver.get_image("customImage1")
    assert (caught.value.status, caught.value.code) == (429, "TooManyRequests")
    assert caught.value.retry_after == 2
    assert [e.status for e in api_entries(driver, "GET")] == [200, 429, 429, 429]
    assert len(waits.waits) == 2 and all(wait >= 2.0 for wait in waits.waits)


async def test_a_patch_is_never_retried(sim_server):
    waits = Waits()
    async with connect(sim_server.endpoints, retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await driver.get_image("customImage1")
        await set_faults(sim_server, rate=1.0, kinds=["unavailable"], retry_after=1)
        with pytest.raises(ApiError) as caught:
            await driver.send(driver.update("customImage1", requirements_file_content="x"))
    assert caught.value.status == 503
    assert [e.method for e in api_entries(driver, "PATCH")] == ["PATCH"]
    assert waits.waits == []


async def test_a_put_is_retried_and_creates_one_image(sim_server):
    waits = Waits(on_wait=lambda: sim_server.context.faults.update({"rate": 0.0}))
    async with connect(sim_server.endpoints, retry=RetryPolicy(max_attempts=4, sleep=waits)) as driver:
        await driver.get_image("customImage1")
        await set_faults(sim_server, rate=1.0, kinds=["throttle"], retry_after=1)
        op = await driver.send(driver.create_or_update("retriedImage", language_version="3.10.8"))
        names = [image.name async for image in driver.list_images() if image.name == "retriedImage"]
    assert op.kind == "create" and names == ["retriedImage"]
    assert [e.status for e in api_entries(driver, "PUT")] == [429, 201]


# -- authentication ---------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_once_and_concurrent_requests_share_one_fetch(sim_server):
    async with connect(sim_server.endpoints) as driver:
        assert isinstance(driver.auth, EntraClientCredentials)
        names = ["customImage1", "customImage2", "customImage7", "customImage8", "sandboxCustomImage1"] * 10
        first = await asyncio.gather(*(driver.get_image(name) for name in names))
        assert driver.auth.cache.fetches == 1
        async with httpx.AsyncClient() as client:
            await client.post(sim_server.endpoints["admin"] + "/tokens/expire")
        again = await asyncio.gather(*(driver.get_image(name) for name in names))
    assert [i.name for i in first] == [i.name for i in again] == names
    assert driver.auth.cache.fetches == 2  # 50 requests met the 401; one new token served them all
    token_posts = [e for e in driver.http.log.entries() if "/oauth2/v2.0/token" in e.url]
    assert len(token_posts) == 2


async def test_preview_curl_and_log_never_show_a_secret(sim_server):
    secret = sim_server.endpoints["entra_credentials"]["client_secret"]
    async with connect(sim_server.endpoints) as driver:
        request = driver.create_or_update("previewImage", language_version="3.10.8", requirements="numpy")
        assert isinstance(request, CreateOrUpdateImage) and request.is_idempotent()  # a PUT: safe to retry
        preview = driver.preview(request)
        assert preview.method == "PUT"
        assert preview.url == (f"{sim_server.endpoints['kusto']}/subscriptions/12345678-1234-1234-1234-123456789098"
                               "/resourceGroups/kustorptest/providers/Microsoft.Kusto/clusters/kustoCluster"
                               "/sandboxCustomImages/previewImage?api-version=2024-04-13")
        assert preview.header("authorization") == "Bearer ***"
        assert preview.json == {"properties": {"language": "Python", "languageVersion": "3.10.8",
                                               "requirementsFileContent": "numpy"}}
        curl = driver.curl(request)
        assert driver.http.log.entries() == []  # previewing sends nothing, not even a token request
        await driver.send(request)
        token = driver.auth.cache.token.value
    log = json.dumps([e.as_dict() for e in driver.http.log.entries()])
    assert curl.startswith("curl -X PUT ") and "-H 'Authorization: Bearer ***'" in curl
    for text in (curl, log, repr(driver.auth)):
        assert secret not in text and token not in text
