"""The simulated Yandex Compute images and Operation service, in-process and over loopback."""

from __future__ import annotations

import asyncio
import re
import uuid

import httpx
import pytest
from starlette.applications import Starlette

from tests.sim.test_yandex_models import assert_proto_json
from workbench.sim import yandex
from workbench.sim.app import PREFIXES
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext

IMAGES = PREFIXES["yandex_compute"] + "/compute/v1/images"
OPERATIONS = PREFIXES["yandex_operation"] + "/operations"
IMAGE = "yandex.cloud.compute.v1.Image"
OPERATION = "yandex.cloud.operation.Operation"
ID_RE = re.compile(r"fd8[a-z0-9]{17}")
UBUNTU = "https://storage.yandexcloud.net/images-bucket/ubuntu-22.04.qcow2"


@pytest.fixture
def auth(sim_endpoints) -> dict[str, str]:
    return {"Authorization": "Bearer " + sim_endpoints["tokens"]["yandex"]}


@pytest.fixture
def folder(sim_context) -> str:
    return sim_context.demo.yandex_folder_id


@pytest.fixture
def disks(sim_context) -> tuple[str, ...]:
    return sim_context.demo.yandex_disk_ids


# -- helpers ------------------------------------------------------------------------------------
def assert_error(response: httpx.Response, status: int, code: int, *fragments: str) -> dict:
    """A google.rpc.Status body with the right code, naming what went wrong."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    for fragment in fragments:
        assert fragment in body["message"], (fragment, body["message"])
    info = [d for d in body["details"] if d["@type"] == "type.googleapis.com/google.rpc.RequestInfo"]
    assert info and info[0]["requestId"] == response.headers["x-request-id"]
    assert_proto_json(body, "google.rpc.Status")
    return body


async def create(client, auth, folder, **fields) -> httpx.Response:
    return await client.post(IMAGES, json={"folderId": folder, **fields}, headers=auth)


async def poll(client, auth, op_id: str, limit: int = 10) -> tuple[dict, int]:
    """Poll an operation until done; returns it and the number of polls it took."""
    for polls in range(1, limit + 1):
        response = await client.get(f"{OPERATIONS}/{op_id}", headers=auth)
        assert response.status_code == 200, response.text
        op = response.json()
        assert_proto_json(op, OPERATION)
        if op["done"]:
            return op, polls
    raise AssertionError(f"operation {op_id} not done after {limit} polls")


async def list_all(client, auth, **params) -> tuple[list[dict], int]:
    images, pages, token = [], 0, None
    while True:
        query = {**params, **({"pageToken": token} if token else {})}
        response = await client.get(IMAGES, params=query, headers=auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert_proto_json(body, "yandex.cloud.compute.v1.ListImagesResponse")
        images += body.get("images", [])
        pages += 1
        token = body.get("nextPageToken")
        if not token:
            return images, pages
        assert pages < 1000


# -- authentication and common headers ----------------------------------------------------------
async def test_every_answer_carries_request_and_trace_ids(sim_client, auth, folder):
    ok = await sim_client.get(IMAGES, params={"folderId": folder}, headers=auth)
    missing = await sim_client.get(f"{IMAGES}/fd8nosuchimage000000", headers=auth)
    for response in (ok, missing):
        assert uuid.UUID(response.headers["x-request-id"])
        assert response.headers["x-server-trace-id"]
    assert ok.headers["x-request-id"] != missing.headers["x-request-id"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}])
async def test_requests_without_a_bearer_token_are_unauthenticated(sim_client, folder, headers):
    response = await sim_client.get(IMAGES, params={"folderId": folder}, headers=headers)
    assert_error(response, 401, 16, "Authorization")


async def test_unknown_expired_and_foreign_tokens_are_refused(sim_client, sim_context, folder):
    arm = sim_context.tokens.issue("arm", "someone").value
    for token in ("t1.9euNotAToken", arm):
        response = await sim_client.get(IMAGES, params={"folderId": folder}, headers={"Authorization": f"Bearer {token}"})
        assert_error(response, 401, 16, "Token is invalid or has expired.")
    token = sim_context.tokens.issue("yandex", "ajeuser").value
    headers = {"Authorization": f"Bearer {token}"}
    assert (await sim_client.get(IMAGES, params={"folderId": folder}, headers=headers)).status_code == 200
    sim_context.tokens.expire_all()
    assert_error(await sim_client.get(IMAGES, params={"folderId": folder}, headers=headers), 401, 16)


async def test_unknown_paths_and_verbs_answer_in_the_yandex_error_shape(sim_client, auth):
    assert_error(await sim_client.get(PREFIXES["yandex_compute"] + "/compute/v1/nothing", headers=auth), 404, 5)
    wrong_verb = await sim_client.put(f"{IMAGES}/fd8x", json={}, headers=auth)
    assert_error(wrong_verb, 405, 12, "Method Not Allowed")
    assert "PATCH" in wrong_verb.headers["allow"]


# -- get ------------------------------------------------------------------------------------------
async def test_get_returns_a_seeded_image_in_proto3_json(sim_client, auth, folder):
    images, _ = await list_all(sim_client, auth, folderId=folder)
    wanted = next(i for i in images if i.get("family") == "windows-2022-dc-gvlk")
    response = await sim_client.get(f"{IMAGES}/{wanted['id']}", headers=auth)
    assert response.status_code == 200
    image = response.json()
    assert image == wanted
    assert ID_RE.fullmatch(image["id"]) and image["folderId"] == folder
    assert image["os"] == {"type": "WINDOWS"} and image["productIds"]
    assert int(image["minDiskSize"]) == 50 * 2**30 and isinstance(image["storageSize"], str)
    assert_proto_json(image, IMAGE)


async def test_get_unknown_image_is_not_found_with_the_real_message(sim_client, auth):
    response = await sim_client.get(f"{IMAGES}/fd8nosuchimage000000", headers=auth)
    assert_error(response, 404, 5)
    assert response.json()["message"] == "Image fd8nosuchimage000000 not found"


async def test_get_with_an_overlong_id_is_invalid(sim_client, auth):
    assert_error(await sim_client.get(f"{IMAGES}/{'x' * 51}", headers=auth), 400, 3, "imageId", "50")


# -- list -----------------------------------------------------------------------------------------
async def test_list_needs_a_folder_and_a_visible_one(sim_client, auth):
    assert_error(await sim_client.get(IMAGES, headers=auth), 400, 3, "folderId")
    assert_error(await sim_client.get(IMAGES, params={"folderId": "f" * 51}, headers=auth), 400, 3, "folderId", "50")
    assert_error(await sim_client.get(IMAGES, params={"folderId": "b1gsomeoneelse000000"}, headers=auth), 403, 7)


@pytest.mark.parametrize("params, field", [
    ({"pageSize": "1001"}, "pageSize"), ({"pageSize": "-5"}, "pageSize"), ({"pageSize": "many"}, "pageSize"),
    ({"pageToken": "t" * 101}, "pageToken"), ({"pageToken": "fd8nosuchimage000000"}, "pageToken"),
    ({"orderBy": "size desc"}, "orderBy"), ({"orderBy": "name sideways"}, "orderBy"),
    ({"filter": "f" * 1001}, "filter"),
])
async def test_list_parameters_are_validated(sim_client, auth, folder, params, field):
    response = await sim_client.get(IMAGES, params={"folderId": folder, **params}, headers=auth)
    body = assert_error(response, 400, 3, field)
    violations = [d for d in body["details"] if d["@type"].endswith("google.rpc.BadRequest")]
    assert violations[0]["fieldViolations"][0]["field"] == field


@pytest.mark.parametrize("sim_config", [SimConfig(seed_images=250, operation_polls=2, operation_retry_after=0)])
async def test_list_pages_default_to_100_and_cover_every_image_once(sim_client, auth, folder, sim_context):
    first = (await sim_client.get(IMAGES, params={"folderId": folder}, headers=auth)).json()
    assert len(first["images"]) == 100 and first["nextPageToken"]
    total = len(sim_context.states["yandex"].folder_ids[folder])
    assert total > 250
    for size in (7, 1000):
        images, pages = await list_all(sim_client, auth, folderId=folder, pageSize=size)
        ids = [i["id"] for i in images]
        assert len(ids) == len(set(ids)) == total
        assert ids == sorted(ids)  # "id asc" when orderBy is omitted
        assert pages == -(-total // size)


async def test_list_orders_by_created_at_and_name(sim_client, auth, folder):
    newest_first, _ = await list_all(sim_client, auth, folderId=folder, pageSize=4, orderBy="createdAt desc")
    stamps = [i["createdAt"] for i in newest_first]
    assert stamps == sorted(stamps, reverse=True) and len(set(stamps)) > 10
    by_name, _ = await list_all(sim_client, auth, folderId=folder, pageSize=5, orderBy="name")
    names = [i["name"] for i in by_name]
    assert names == sorted(names)
    by_name_desc, _ = await list_all(sim_client, auth, folderId=folder, pageSize=3, orderBy="name desc")
    assert [i["name"] for i in by_name_desc] == names[::-1]


async def test_an_empty_list_is_an_empty_object(sim_client, auth, folder):
    response = await sim_client.get(IMAGES, params={"folderId": folder, "filter": 'name="no-such"'}, headers=auth)
    assert response.status_code == 200 and response.json() == {}


async def test_list_takes_proto_spelled_query_parameters(sim_client, auth, folder):
    response = await sim_client.get(IMAGES, params={"folder_id": folder, "page_size": "2"}, headers=auth)
    assert response.status_code == 200 and len(response.json()["images"]) == 2


async def test_filters_select_by_name_family_status_and_id(sim_client, auth, folder):
    everything, _ = await list_all(sim_client, auth, folderId=folder)
    one = everything[3]

    async def matching(expression: str) -> list[dict]:
        found, _ = await list_all(sim_client, auth, folderId=folder, filter=expression, pageSize=2)
        return found

    assert [i["id"] for i in await matching(f'name="{one["name"]}"')] == [one["id"]]
    assert [i["id"] for i in await matching(f"id = '{one['id']}'")] == [one["id"]]
    debian = await matching('family IN ("debian-12", "debian-11")')
    assert {i["family"] for i in debian} == {"debian-12", "debian-11"} and len(debian) == 5
    assert [i["status"] for i in await matching('status != "READY"')] == ["ERROR"]
    not_debian = await matching('family NOT IN ("debian-12", "debian-11")')
    assert len(not_debian) == len(everything) - 5
    both = await matching('family = "debian-12" AND name != "debian-12-v20241021"')
    assert {i["name"] for i in both} == {"debian-12-v20240415", "debian-12-v20240715"}
    escaped = await matching(r"""name = 'ubuntu-22-04-lts-v20240916' AND name != "a\"b\\" """)
    assert [i["name"] for i in escaped] == ["ubuntu-22-04-lts-v20240916"]


@pytest.mark.parametrize("expression, fragment", [
    ("name = ubuntu", "quoted value"), ('size = "1"', "cannot filter by 'size'"), ('name ~ "x"', "unexpected"),
    ('name = "x" AND', "after AND"), ('name = "x" OR name = "y"', "AND"), ('name IN ("a", "b"', ")"),
    ('name = "unterminated', "unterminated"), ('name', "operator"),
])
async def test_bad_filters_are_invalid_arguments(sim_client, auth, folder, expression, fragment):
    response = await sim_client.get(IMAGES, params={"folderId": folder, "filter": expression}, headers=auth)
    assert_error(response, 400, 3, "filter", fragment)


async def test_paging_continues_after_the_anchor_image_is_deleted(sim_client, auth, folder, disks):
    made = []
    for n in range(4):
        op = (await create(sim_client, auth, folder, name=f"page-{n}", diskId=disks[0])).json()
        await poll(sim_client, auth, op["id"])
        made.append(op["metadata"]["imageId"])
    query = {"folderId": folder, "filter": 'name IN ("page-0", "page-1", "page-2", "page-3")', "pageSize": 2,
             "orderBy": "name"}
    first = (await sim_client.get(IMAGES, params=query, headers=auth)).json()
    assert [i["id"] for i in first["images"]] == made[:2]
    deleted = await sim_client.delete(f"{IMAGES}/{made[1]}", headers=auth)
    await poll(sim_client, auth, deleted.json()["id"])
    rest = (await sim_client.get(IMAGES, params={**query, "pageToken": first["nextPageToken"]}, headers=auth)).json()
    assert [i["id"] for i in rest["images"]] == made[2:] and "nextPageToken" not in rest


# -- latestByFamily ---------------------------------------------------------------------------------
async def test_latest_by_family_is_the_newest_ready_image(sim_client, auth, folder):
    versions, _ = await list_all(sim_client, auth, folderId=folder, filter='family="ubuntu-2204-lts"')
    assert len(versions) == 3
    newest = max(versions, key=lambda i: i["createdAt"])
    response = await sim_client.get(f"{IMAGES}:latestByFamily", params={"folderId": folder, "family": "ubuntu-2204-lts"},
                                    headers=auth)
    assert response.status_code == 200 and response.json() == newest
    assert_proto_json(response.json(), IMAGE)


async def test_a_new_image_becomes_latest_only_when_ready(sim_client, auth, folder):
    params = {"folderId": folder, "family": "debian-12"}
    before = (await sim_client.get(f"{IMAGES}:latestByFamily", params=params, headers=auth)).json()
    op = (await create(sim_client, auth, folder, name="debian-12-custom", family="debian-12", imageId=before["id"])).json()
    still = (await sim_client.get(f"{IMAGES}:latestByFamily", params=params, headers=auth)).json()
    assert still["id"] == before["id"]
    await poll(sim_client, auth, op["id"])
    after = (await sim_client.get(f"{IMAGES}:latestByFamily", params=params, headers=auth)).json()
    assert after["id"] == op["metadata"]["imageId"] and after["name"] == "debian-12-custom"


async def test_latest_by_family_errors(sim_client, auth, folder):
    url = f"{IMAGES}:latestByFamily"
    assert_error(await sim_client.get(url, params={"folderId": folder, "family": "no-such-family"}, headers=auth),
                 404, 5, "no-such-family")
    assert_error(await sim_client.get(url, params={"folderId": folder, "family": "Bad_Family"}, headers=auth),
                 400, 3, "family", "regular expression")
    assert_error(await sim_client.get(url, params={"family": "debian-12"}, headers=auth), 400, 3, "folderId")


# -- create ------------------------------------------------------------------------------------------
async def test_create_returns_a_running_operation_and_a_creating_image(sim_client, auth, folder, disks):
    response = await create(sim_client, auth, folder, name="web-v4", description="frontend build 4",
                            labels={"env": "prod"}, family="web-frontend", diskId=disks[0])
    assert response.status_code == 200 and response.headers["retry-after"] == "0"
    op = response.json()
    assert_proto_json(op, OPERATION)
    assert op["done"] is False and "response" not in op and "error" not in op
    assert op["description"] == "Create image" and op["createdBy"] == "ajedemoserviceacc000"
    assert ID_RE.fullmatch(op["id"])
    assert op["metadata"]["@type"] == "type.googleapis.com/yandex.cloud.compute.v1.CreateImageMetadata"
    image_id = op["metadata"]["imageId"]
    creating = (await sim_client.get(f"{IMAGES}/{image_id}", headers=auth)).json()
    assert creating["status"] == "CREATING" and "storageSize" not in creating
    assert_proto_json(creating, IMAGE)


async def test_operation_is_done_after_the_configured_polls_with_the_image(sim_client, auth, folder, disks):
    op = (await create(sim_client, auth, folder, name="polled", diskId=disks[1])).json()
    done, polls = await poll(sim_client, auth, op["id"])
    assert polls == 2  # SimConfig(operation_polls=2)
    assert done["response"]["@type"] == "type.googleapis.com/yandex.cloud.compute.v1.Image"
    image = {k: v for k, v in done["response"].items() if k != "@type"}
    assert image["status"] == "READY" and image["id"] == op["metadata"]["imageId"]
    assert done["modifiedAt"] >= done["createdAt"]
    assert (await sim_client.get(f"{IMAGES}/{image['id']}", headers=auth)).json() == image
    # inherited from the Windows disk: os, licences; sizes known once READY
    assert image["os"] == {"type": "WINDOWS"} and image["productIds"]
    assert int(image["minDiskSize"]) == 50 * 2**30 and int(image["storageSize"]) > 0


@pytest.mark.parametrize("source", ["imageId", "snapshotId", "uri"])
async def test_every_source_kind_creates_an_image(sim_client, auth, folder, sim_context, source):
    state = sim_context.states["yandex"]
    value = {"imageId": next(i for i, img in state.images.items() if img.get("family") == "debian-12"),
             "snapshotId": sim_context.demo.yandex_snapshot_ids[0], "uri": UBUNTU}[source]
    op = (await create(sim_client, auth, folder, name=f"from-{source.lower()}", **{source: value})).json()
    done, _ = await poll(sim_client, auth, op["id"])
    assert done["response"]["status"] == "READY" and done["response"]["name"] == f"from-{source.lower()}"


async def test_explicit_fields_override_what_the_source_gives(sim_client, auth, folder, disks):
    op = (await create(sim_client, auth, folder, name="override", diskId=disks[1], os={"type": "LINUX"},
                       productIds=["f2emylicence00000000"], pooled=True, minDiskSize=str(60 * 2**30),
                       hardwareGeneration={"generation2Features": {}})).json()
    image = (await poll(sim_client, auth, op["id"]))[0]["response"]
    assert image["os"] == {"type": "LINUX"} and image["productIds"] == ["f2emylicence00000000"]
    assert image["pooled"] is True and image["minDiskSize"] == str(60 * 2**30)
    assert image["hardwareGeneration"] == {"generation2Features": {}}


@pytest.mark.parametrize("body, field", [
    ({}, "source"),
    ({"diskId": "fhm1", "snapshotId": "fd8s"}, "source"),
    ({"folderId": "", "diskId": "fhm1"}, "folderId"),
    ({"folderId": "f" * 51, "diskId": "fhm1"}, "folderId"),
    ({"name": "Bad Name"}, "name"),
    ({"description": "d" * 257}, "description"),
    ({"labels": {"Env": "x"}}, "labels"),
    ({"labels": {f"k{i}": "v" for i in range(65)}}, "labels"),
    ({"labels": {"env": "v" * 64}}, "labels"),
    ({"family": "x"}, "family"),
    ({"minDiskSize": "1024"}, "minDiskSize"),
    ({"minDiskSize": "4398046511105"}, "minDiskSize"),
    ({"productIds": ["p" * 51]}, "productIds[0]"),
    ({"imageId": "i" * 51, "diskId": None}, "imageId"),
    ({"uri": "https://example.com/b/x.qcow2", "diskId": None}, "uri"),
    ({"uri": "https://storage.yandexcloud.net/b/x.iso", "diskId": None}, "uri"),
    ({"os": {"type": "BEOS"}}, "os.type"),
    ({"hardwareGeneration": {"legacyFeatures": {}, "generation2Features": {}}}, "hardwareGeneration"),
    ({"sizeGb": 10}, "sizeGb"),
])
async def test_create_rules_are_enforced_naming_the_field(sim_client, auth, folder, disks, body, field):
    payload = {"folderId": folder, "diskId": disks[0], **body}
    payload = {k: v for k, v in payload.items() if v is not None}
    if field == "source" and not body:
        payload.pop("diskId")
    response = await sim_client.post(IMAGES, json=payload, headers=auth)
    error = assert_error(response, 400, 3, "Request validation error", field)
    bad_request = next(d for d in error["details"] if d["@type"] == "type.googleapis.com/google.rpc.BadRequest")
    assert field in [v["field"] for v in bad_request["fieldViolations"]]


async def test_create_refuses_bodies_that_are_not_json_objects(sim_client, auth):
    for content in (b"{not json", b"[1, 2]"):
        response = await sim_client.post(IMAGES, content=content, headers={**auth, "Content-Type": "application/json"})
        assert_error(response, 400, 3, "JSON")


@pytest.mark.parametrize("source, message", [
    ({"imageId": "fd8nosuchimage000000"}, "Image fd8nosuchimage000000 not found"),
    ({"diskId": "fhmnosuchdisk0000000"}, "Disk fhmnosuchdisk0000000 not found"),
    ({"snapshotId": "fd8nosuchsnap0000000"}, "Snapshot fd8nosuchsnap0000000 not found"),
])
async def test_an_id_source_must_exist(sim_client, auth, folder, source, message):
    response = await create(sim_client, auth, folder, name="orphan", **source)
    assert assert_error(response, 404, 5)["message"] == message


async def test_a_source_image_must_be_ready(sim_client, auth, folder, disks):
    pending = (await create(sim_client, auth, folder, name="pending", diskId=disks[0])).json()
    response = await create(sim_client, auth, folder, name="copy", imageId=pending["metadata"]["imageId"])
    assert_error(response, 400, 9, "not ready")


async def test_names_are_unique_per_folder(sim_client, auth, folder, disks):
    assert (await create(sim_client, auth, folder, name="twin", diskId=disks[0])).status_code == 200
    assert_error(await create(sim_client, auth, folder, name="twin", diskId=disks[2]), 409, 6, "twin")
    assert (await create(sim_client, auth, folder, diskId=disks[0])).status_code == 200  # names are optional
    assert (await create(sim_client, auth, folder, diskId=disks[0])).status_code == 200


async def test_create_needs_write_access_to_the_folder(sim_client, auth, disks):
    assert_error(await create(sim_client, auth, "b1gsomeoneelse000000", diskId=disks[0]), 403, 7)


async def test_min_disk_size_must_hold_the_source_data(sim_client, auth, folder, disks):
    response = await create(sim_client, auth, folder, name="tiny", diskId=disks[1], minDiskSize=str(5 * 2**30))
    assert_error(response, 400, 3, "minDiskSize", "source data")


# -- idempotency ----------------------------------------------------------------------------------------
async def test_a_repeated_create_with_the_same_key_returns_the_same_operation(sim_client, auth, folder, disks,
                                                                                sim_context):
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = {"folderId": folder, "name": "once", "diskId": disks[0]}
    first = (await sim_client.post(IMAGES, json=body, headers=headers)).json()
    again = (await sim_client.post(IMAGES, json=body, headers=headers)).json()
    assert again["id"] == first["id"]
    await poll(sim_client, auth, first["id"])
    after_done = (await sim_client.post(IMAGES, json=body, headers=headers)).json()
    assert after_done["id"] == first["id"] and after_done["done"] is True  # the current status, no 409
    named, _ = await list_all(sim_client, auth, folderId=folder, filter='name="once"')
    assert len(named) == 1


async def test_concurrent_twins_with_one_key_make_one_image(sim_client, auth, folder, disks):
    headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
    body = {"folderId": folder, "name": "raced", "diskId": disks[0]}
    answers = await asyncio.gather(*(sim_client.post(IMAGES, json=body, headers=headers) for _ in range(8)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["id"] for a in answers}) == 1


async def test_the_same_key_with_another_body_or_a_non_uuid_key_is_invalid(sim_client, auth, folder, disks):
    key = str(uuid.uuid4())
    headers = {**auth, "Idempotency-Key": key}
    assert (await create(sim_client, headers, folder, name="first", diskId=disks[0])).status_code == 200
    assert_error(await create(sim_client, headers, folder, name="second", diskId=disks[0]), 400, 3, key)
    bad = {**auth, "Idempotency-Key": "not-a-uuid"}
    assert_error(await create(sim_client, bad, folder, name="third", diskId=disks[0]), 400, 3, "Idempotency-Key", "UUID")


async def test_a_reused_key_is_reported_before_the_new_body_is_checked(sim_client, auth, folder, disks):
    key = str(uuid.uuid4())
    headers = {**auth, "Idempotency-Key": key}
    assert (await create(sim_client, headers, folder, name="keyed", diskId=disks[0])).status_code == 200
    reused = "was already used with a different request"
    # bodies that would fail validation on their own ("Bad Name", no source) still name the key
    assert_error(await create(sim_client, headers, folder, name="Bad Name", diskId=disks[0]), 400, 3, key, reused)
    assert_error(await create(sim_client, headers, folder, name="no-source"), 400, 3, key, reused)
    image = await _ready_image(sim_client, auth, folder, disks, "patched")
    assert_error(await sim_client.patch(f"{IMAGES}/{image['id']}", json={"name": "Nope"}, headers=headers),
                 400, 3, key, reused)
    assert_error(await sim_client.delete(f"{IMAGES}/{image['id']}", headers=headers), 400, 3, key, reused)


async def test_a_repeated_update_with_the_same_key_returns_the_same_operation(sim_client, auth, folder, disks):
    image = await _ready_image(sim_client, auth, folder, disks, "updated-once")
    url, headers = f"{IMAGES}/{image['id']}", {**auth, "Idempotency-Key": str(uuid.uuid4())}
    first = await sim_client.patch(url, json={"description": "v2"}, headers=headers)
    assert first.status_code == 200, first.text
    again = await sim_client.patch(url, json={"description": "v2"}, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    listed = (await sim_client.get(f"{url}/operations", headers=auth)).json()["operations"]
    assert [op["description"] for op in listed] == ["Create image", "Update image"]
    assert_error(await sim_client.patch(url, json={"description": "v3"}, headers=headers), 400, 3,
                 headers["Idempotency-Key"])


async def test_a_repeated_delete_with_the_same_key_returns_the_same_operation(sim_client, auth, folder, disks):
    image = await _ready_image(sim_client, auth, folder, disks, "deleted-once")
    url, headers = f"{IMAGES}/{image['id']}", {**auth, "Idempotency-Key": str(uuid.uuid4())}
    first = (await sim_client.delete(url, headers=headers)).json()
    # without the key, a second delete of a DELETING image is refused; with it, the first answer comes back
    assert_error(await sim_client.delete(url, headers=auth), 400, 9, "DELETING")
    again = await sim_client.delete(url, headers=headers)
    assert again.status_code == 200 and again.json()["id"] == first["id"]


# -- operations: get, cancel, failure -----------------------------------------------------------------------
async def test_unknown_operation_is_not_found(sim_client, auth):
    assert_error(await sim_client.get(f"{OPERATIONS}/fd8nosuchop000000000", headers=auth), 404, 5,
                 "Operation fd8nosuchop000000000 not found")
    assert_error(await sim_client.get(f"{OPERATIONS}/fd8nosuchop000000000"), 401, 16)


async def test_cancelling_a_running_create_ends_it_cancelled_with_no_image(sim_client, auth, folder, disks):
    op = (await create(sim_client, auth, folder, name="doomed", diskId=disks[0])).json()
    cancelled = await sim_client.get(f"{OPERATIONS}/{op['id']}:cancel", headers=auth)
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert_proto_json(body, OPERATION)
    assert body["done"] is True and body["error"]["code"] == 1 and "response" not in body
    assert_error(await sim_client.get(f"{IMAGES}/{op['metadata']['imageId']}", headers=auth), 404, 5)
    assert (await poll(sim_client, auth, op["id"]))[0]["error"]["code"] == 1  # stays cancelled
    # the name is free again
    assert (await create(sim_client, auth, folder, name="doomed", diskId=disks[0])).status_code == 200


async def test_cancel_is_a_get_and_only_for_running_creates(sim_client, auth, folder, disks):
    op = (await create(sim_client, auth, folder, name="finished", diskId=disks[0])).json()
    assert_error(await sim_client.post(f"{OPERATIONS}/{op['id']}:cancel", headers=auth), 405, 12)
    await poll(sim_client, auth, op["id"])
    assert_error(await sim_client.get(f"{OPERATIONS}/{op['id']}:cancel", headers=auth), 400, 9, "already done")
    deleting = (await sim_client.delete(f"{IMAGES}/{op['metadata']['imageId']}", headers=auth)).json()
    assert_error(await sim_client.get(f"{OPERATIONS}/{deleting['id']}:cancel", headers=auth), 400, 9, "cannot be cancelled")


async def test_an_injected_failure_ends_the_operation_with_an_error_and_no_image(sim_client, sim_context, auth,
                                                                                 folder, disks):
    sim_context.faults.update({"rate": 1.0, "kinds": ["fail_operation"]})
    op = (await create(sim_client, auth, folder, name="unlucky", diskId=disks[0])).json()
    assert op["done"] is False
    done, polls = await poll(sim_client, auth, op["id"])
    assert polls == 2 and done["error"]["code"] == 13 and "response" not in done
    assert_error(await sim_client.get(f"{IMAGES}/{op['metadata']['imageId']}", headers=auth), 404, 5)


@pytest.mark.parametrize("kind, status, code", [("throttle", 429, 8), ("unavailable", 503, 14)])
async def test_injected_429_and_503_use_the_yandex_error_shape(sim_client, sim_context, auth, folder, kind, status, code):
    sim_context.faults.update({"rate": 1.0, "kinds": [kind], "retry_after": 2})
    for url in (IMAGES, f"{OPERATIONS}/fd8any"):
        response = await sim_client.get(url, params={"folderId": folder}, headers=auth)
        assert_error(response, status, code)
        assert response.headers["retry-after"] == "2"
    sim_context.faults.update({"rate": 0.0})
    assert (await sim_client.get(IMAGES, params={"folderId": folder}, headers=auth)).status_code == 200


@pytest.mark.parametrize("sim_config", [SimConfig(operation_polls=0, operation_retry_after=3)])
async def test_zero_polls_means_done_at_once(sim_client, auth, folder, disks):
    response = await create(sim_client, auth, folder, name="instant", diskId=disks[0])
    assert response.json()["done"] is True and response.json()["response"]["status"] == "READY"
    assert "retry-after" not in response.headers


@pytest.mark.parametrize("sim_config", [SimConfig(operation_polls=4, operation_retry_after=3)])
async def test_retry_after_is_advertised_while_running(sim_client, auth, folder, disks):
    op = (await create(sim_client, auth, folder, name="slow", diskId=disks[0])).json()
    for _ in range(3):
        running = await sim_client.get(f"{OPERATIONS}/{op['id']}", headers=auth)
        assert running.json()["done"] is False and running.headers["retry-after"] == "3"
    finished = await sim_client.get(f"{OPERATIONS}/{op['id']}", headers=auth)
    assert finished.json()["done"] is True and "retry-after" not in finished.headers


# -- update and delete ----------------------------------------------------------------------------------------
async def _ready_image(client, auth, folder, disks, name: str) -> dict:
    op = (await create(client, auth, folder, name=name, description="to edit", labels={"a": "b"},
                       diskId=disks[0])).json()
    return (await poll(client, auth, op["id"]))[0]["response"]


async def test_update_changes_the_masked_fields(sim_client, auth, folder, disks):
    image = await _ready_image(sim_client, auth, folder, disks, "editable")
    body = {"updateMask": "name,description,labels,minDiskSize", "name": "edited", "description": "",
            "labels": {"env": "test"}, "minDiskSize": str(30 * 2**30)}
    response = await sim_client.patch(f"{IMAGES}/{image['id']}", json=body, headers=auth)
    assert response.status_code == 200
    op = response.json()
    assert op["description"] == "Update image" and op["metadata"]["imageId"] == image["id"]
    assert op["metadata"]["@type"].endswith("UpdateImageMetadata")
    done = (await poll(sim_client, auth, op["id"]))[0]["response"]
    assert done["name"] == "edited" and "description" not in done and done["labels"] == {"env": "test"}
    assert done["minDiskSize"] == str(30 * 2**30) and done["createdAt"] == image["createdAt"]
    assert_proto_json({k: v for k, v in done.items() if k != "@type"}, IMAGE)


async def test_update_without_a_mask_changes_the_fields_given(sim_client, auth, folder, disks):
    image = await _ready_image(sim_client, auth, folder, disks, "partly")
    op = (await sim_client.patch(f"{IMAGES}/{image['id']}", json={"description": "new words"}, headers=auth)).json()
    done = (await poll(sim_client, auth, op["id"]))[0]["response"]
    assert done["description"] == "new words" and done["name"] == "partly" and done["labels"] == {"a": "b"}


async def test_update_errors(sim_client, auth, folder, disks):
    image = await _ready_image(sim_client, auth, folder, disks, "guarded")
    await _ready_image(sim_client, auth, folder, disks, "taken")
    url = f"{IMAGES}/{image['id']}"
    assert_error(await sim_client.patch(url, json={"updateMask": "status"}, headers=auth), 400, 3, "updateMask")
    assert_error(await sim_client.patch(url, json={"name": "Nope"}, headers=auth), 400, 3, "name")
    assert_error(await sim_client.patch(url, json={"name": "taken"}, headers=auth), 409, 6, "taken")
    assert_error(await sim_client.patch(url, json={"minDiskSize": str(2**30)}, headers=auth), 400, 3, "minDiskSize")
    assert_error(await sim_client.patch(f"{IMAGES}/fd8nosuchimage000000", json={"name": "x"}, headers=auth), 404, 5)


async def test_delete_marks_deleting_then_removes(sim_client, auth, folder, disks):
    image = await _ready_image(sim_client, auth, folder, disks, "short-lived")
    op = (await sim_client.delete(f"{IMAGES}/{image['id']}", headers=auth)).json()
    assert op["description"] == "Delete image" and op["metadata"]["@type"].endswith("DeleteImageMetadata")
    assert (await sim_client.get(f"{IMAGES}/{image['id']}", headers=auth)).json()["status"] == "DELETING"
    assert_error(await sim_client.delete(f"{IMAGES}/{image['id']}", headers=auth), 400, 9, "DELETING")
    done = (await poll(sim_client, auth, op["id"]))[0]
    assert done["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    assert_error(await sim_client.get(f"{IMAGES}/{image['id']}", headers=auth), 404, 5)


async def test_a_creating_image_cannot_be_deleted(sim_client, auth, folder, disks):
    op = (await create(sim_client, auth, folder, name="busy", diskId=disks[0])).json()
    assert_error(await sim_client.delete(f"{IMAGES}/{op['metadata']['imageId']}", headers=auth), 400, 9, "CREATING")


async def test_image_operations_are_listed_with_paging(sim_client, auth, folder, disks):
    image = await _ready_image(sim_client, auth, folder, disks, "audited")
    await sim_client.patch(f"{IMAGES}/{image['id']}", json={"description": "v2"}, headers=auth)
    url = f"{IMAGES}/{image['id']}/operations"
    first = (await sim_client.get(url, params={"pageSize": 1}, headers=auth)).json()
    assert_proto_json(first, "yandex.cloud.compute.v1.ListImageOperationsResponse")
    assert first["operations"][0]["description"] == "Create image"
    second = (await sim_client.get(url, params={"pageSize": 1, "pageToken": first["nextPageToken"]}, headers=auth)).json()
    assert second["operations"][0]["description"] == "Update image" and "nextPageToken" not in second
    assert_error(await sim_client.get(url, params={"pageSize": 5000}, headers=auth), 400, 3, "pageSize")


# -- scale -----------------------------------------------------------------------------------------------------
def test_one_hundred_thousand_extra_images_seed_and_page():
    ctx = SimContext(SimConfig(seed_images=100_000))
    app = Starlette(routes=yandex.mounts(ctx))
    state = ctx.states["yandex"]
    folder = ctx.demo.yandex_folder_id
    assert len(state.folder_ids[folder]) > 100_000
    token = ctx.tokens.issue("yandex", "ajeuser").value
    async def pages() -> tuple[dict, list[dict]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim.test") as client:
            headers = {"Authorization": f"Bearer {token}"}
            oldest = await client.get(IMAGES, params={"folderId": folder, "pageSize": 1000, "orderBy": "createdAt"},
                                      headers=headers)
            assert len(oldest.json()["images"]) == 1000 and oldest.json()["nextPageToken"]
            one = await client.get(IMAGES, params={"folderId": folder, "filter": 'name="bulk-image-054321"'},
                                   headers=headers)
            return oldest.json()["images"][0], one.json()["images"]

    oldest, named = asyncio.run(pages())
    assert oldest["name"] == "bulk-image-000000" and oldest["createdAt"] == "2023-01-01T00:00:00Z"
    assert [i["name"] for i in named] == ["bulk-image-054321"]
    assert named[0]["createdAt"] == "2023-02-07T17:21:00Z"  # one image a minute from 2023-01-01


# -- over real loopback HTTP --------------------------------------------------------------------------------------
def test_the_whole_flow_over_loopback(sim_server):
    doc = sim_server.endpoints
    headers = {"Authorization": "Bearer " + doc["tokens"]["yandex"], "Idempotency-Key": str(uuid.uuid4())}
    folder, disk = doc["yandex_ids"]["folder_id"], doc["yandex_ids"]["disk_ids"][0]
    compute, operations = doc["yandex_compute"], doc["yandex_operation"]
    with httpx.Client(timeout=10) as client:
        created = client.post(f"{compute}/compute/v1/images", headers=headers,
                              json={"folderId": folder, "name": "over-the-wire", "diskId": disk})
        assert created.status_code == 200 and created.headers["x-request-id"]
        op = created.json()
        assert client.post(f"{compute}/compute/v1/images", headers=headers,
                           json={"folderId": folder, "name": "over-the-wire", "diskId": disk}).json()["id"] == op["id"]
        for _ in range(10):
            op = client.get(f"{operations}/operations/{op['id']}", headers=headers).json()
            if op["done"]:
                break
        assert op["done"] and op["response"]["status"] == "READY"
        assert_proto_json(op, OPERATION)
        listed, token = [], None
        while True:
            params = {"folderId": folder, "pageSize": 5, **({"pageToken": token} if token else {})}
            page = client.get(f"{compute}/compute/v1/images", params=params, headers=headers).json()
            assert_proto_json(page, "yandex.cloud.compute.v1.ListImagesResponse")
            listed += page.get("images", [])
            token = page.get("nextPageToken")
            if not token:
                break
        assert op["metadata"]["imageId"] in {i["id"] for i in listed}
        assert_error(client.get(f"{compute}/compute/v1/images/fd8nosuchimage000000", headers=headers), 404, 5)
        assert client.get(f"{operations}/operations/{op['id']}:cancel", headers=headers).json()["code"] == 9
