"""The core's Yandex poller against the simulated Compute and Operation services (in-process).

With a ``YandexResource`` the final state is read again from the resource's
service (falling back to the operation's response if it is gone), a delete has
none, and a cancel that meets FAILED_PRECONDITION reports how a finished
operation ended. The resource here is built by hand, as any driver would.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from workbench.core.auth import StaticToken
from workbench.core.errors import ApiError
from workbench.core.http import HttpCore
from workbench.core.operations import (
    Operation,
    OperationStatus,
    OperationTracker,
    YandexOperationPoller,
    YandexResource,
)
from workbench.core.retry import RetryPolicy

IMAGE_TYPE = "type.googleapis.com/yandex.cloud.compute.v1.Image"


@pytest.fixture
async def http(sim_app):
    transport = httpx.ASGITransport(app=sim_app)
    async with HttpCore(transport=transport, retry=RetryPolicy(max_attempts=1)) as core:
        yield core


@pytest.fixture
def auth(sim_endpoints) -> StaticToken:
    return StaticToken.bearer(sim_endpoints["tokens"]["yandex"])


@pytest.fixture
def images_url(sim_endpoints) -> str:
    return sim_endpoints["yandex_compute"] + "/compute/v1/images"


@pytest.fixture
def images(sim_context) -> dict:
    """The simulator's images by id, as Compute serves them."""
    return sim_context.states["yandex"].images


@pytest.fixture
def poller(http, auth, sim_endpoints, images_url) -> YandexOperationPoller:
    resource = YandexResource(
        type_name="yandex.cloud.compute.v1.Image",
        id_field="imageId",
        state_key="image_id",
        delete_metadata="yandex.cloud.compute.v1.DeleteImageMetadata",
        url=lambda image_id: f"{images_url}/{image_id}",
    )
    return YandexOperationPoller(http, auth, sim_endpoints["yandex_operation"], resource=resource)


async def send(poller: YandexOperationPoller, method: str, url: str, *, kind: str, **body) -> Operation:
    response = await poller.http.request(method, url, provider="yandex", auth=poller.auth, json=body or None,
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
    return poller.start(response, kind=kind)


async def create(poller: YandexOperationPoller, sim_context, images_url: str, name: str) -> Operation:
    demo = sim_context.demo
    return await send(poller, "POST", images_url, kind="create", folderId=demo.yandex_folder_id, name=name,
                      diskId=demo.yandex_disk_ids[0])


async def track(poller: YandexOperationPoller, op: Operation) -> Operation:
    async with OperationTracker({"yandex": poller}, backoff_initial=0.01, min_interval=0.01) as tracker:
        tracker.track(op)
        return await tracker.wait(op.id, timeout=10)


def compute_reads(http: HttpCore, image_id: str) -> list:
    return [e for e in http.log.entries() if e.method == "GET" and e.url.endswith(f"/compute/v1/images/{image_id}")]


# -- the final state ---------------------------------------------------------------------
async def test_a_create_ends_with_the_image_read_from_compute(poller, http, sim_context, images_url, images):
    op = await create(poller, sim_context, images_url, "core-final")
    image_id = op.raw["metadata"]["imageId"]
    assert op.status is OperationStatus.RUNNING
    # the resource's id is kept to resume with, and names the target when none was given
    assert op.poll_state == {"operation_id": op.id, "image_id": image_id} and op.target == image_id
    await track(poller, op)
    assert op.status is OperationStatus.SUCCEEDED and op.error is None
    assert [e.status for e in compute_reads(http, image_id)] == [200]
    assert op.result == images[image_id] and op.result["status"] == "READY"
    assert op.raw["response"]["@type"] == IMAGE_TYPE and "@type" not in op.result


async def test_an_image_gone_before_the_final_read_leaves_the_operations_response(
        poller, http, sim_context, images_url, images):
    op = await track(poller, await create(poller, sim_context, images_url, "core-gone"))
    image_id = op.target
    del images[image_id]  # deleted by someone else since the operation finished
    final = await poller.final(op)
    assert compute_reads(http, image_id)[-1].status == 404
    assert final == {k: v for k, v in op.raw["response"].items() if k != "@type"} and final["id"] == image_id


async def test_a_delete_has_no_final_state(poller, http, sim_context, images_url, images):
    created = await track(poller, await create(poller, sim_context, images_url, "core-delete"))
    image_id = created.target
    reads = len(compute_reads(http, image_id))
    deleted = await track(poller, await send(poller, "DELETE", f"{images_url}/{image_id}", kind="delete"))
    assert (deleted.status, deleted.result, deleted.target) == (OperationStatus.SUCCEEDED, None, image_id)
    assert len(compute_reads(http, image_id)) == reads and image_id not in images
    # known as a delete by its metadata too, when the kind does not say so
    again = poller.start(deleted.raw, kind="operation")
    assert again.status is OperationStatus.SUCCEEDED and again.result is None


async def test_an_operation_done_at_once_is_its_response_untagged(poller, http, sim_context, images_url, images):
    sim_context.faults.update({"operation_polls": 0})
    op = await create(poller, sim_context, images_url, "core-instant")
    assert op.status is OperationStatus.SUCCEEDED
    assert op.result == images[op.target] and "@type" not in op.result
    assert compute_reads(http, op.target) == []  # nothing polled, nothing read


async def test_without_a_resource_the_result_is_the_operations_response(poller, http, sim_context, images_url):
    bare = YandexOperationPoller(http, poller.auth, poller.endpoint)
    op = await track(bare, await create(bare, sim_context, images_url, "core-bare"))
    image_id = op.raw["metadata"]["imageId"]
    assert op.poll_state == {"operation_id": op.id} and op.target == ""
    assert op.result == op.raw["response"] and op.result["@type"] == IMAGE_TYPE
    assert compute_reads(http, image_id) == []


# -- cancel ------------------------------------------------------------------------------
async def test_a_second_cancel_reports_how_the_operation_ended(poller, http, sim_context, images_url):
    sim_context.faults.update({"operation_polls": 1000})
    op = await create(poller, sim_context, images_url, "core-cancel")
    first = await poller.cancel(op)
    assert first.status is OperationStatus.CANCELED
    # the retry of a cancel whose answer was lost meets FAILED_PRECONDITION (done already):
    # the operation's state is read instead, and tells it was cancelled
    second = await poller.cancel(op)
    assert second.status is OperationStatus.CANCELED and second.error.startswith("CANCELLED")
    cancels = [e.status for e in http.log.entries() if e.url.endswith(f"/operations/{op.id}:cancel")]
    assert cancels == [200, 400]


async def test_a_running_operation_that_cannot_be_cancelled_still_raises(poller, sim_context, images_url):
    created = await track(poller, await create(poller, sim_context, images_url, "core-keep"))
    sim_context.faults.update({"operation_polls": 1000})
    update = await send(poller, "PATCH", f"{images_url}/{created.target}", kind="update",
                        updateMask="description", description="new words")
    with pytest.raises(ApiError) as caught:
        await poller.cancel(update)
    assert (caught.value.status, caught.value.code) == (400, "FAILED_PRECONDITION")
    assert "cannot be cancelled" in caught.value.message
    assert (await poller.poll(update)).status is OperationStatus.RUNNING
