"""The simulated Glance v2 (and IMS flavour): discovery, auth, images, paging, data, errors."""

from __future__ import annotations

import hashlib
import struct
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from workbench.sim.app import build_app
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext
from workbench.sim.glance import GlanceState, ListQuery, inspect_disk, seed_bulk

IMS_EXAMPLE_ID = "33ad552d-1149-471c-8190-ff6776174a00"
CIRROS_SAMPLE_ID = "1bea47ed-f6a9-463b-b423-14b9cca9ad27"


@pytest.fixture
def token(sim_endpoints) -> str:
    return sim_endpoints["tokens"]["glance"]


@pytest.fixture
def auth(token) -> dict[str, str]:
    return {"X-Auth-Token": token, "Accept": "application/json"}


async def create(client, auth, prefix="/glance", **body) -> dict:
    response = await client.post(f"{prefix}/v2/images", headers=auth, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def tiny_qcow2(virtual_size: int = 1 << 30) -> bytes:
    cluster_bits = 16
    header = struct.pack(">4sIQIIQIIQQIIQQQQII", b"QFI\xfb", 3, 0, 0, cluster_bits, virtual_size, 0, 16,
                         3 << cluster_bits, 1 << cluster_bits, 1, 0, 0, 0, 0, 0, 4, 104)
    return header.ljust(4 << cluster_bits, b"\0")


# -- version discovery --------------------------------------------------------------


async def test_root_answers_300_with_versions_pointing_back_at_the_simulator(sim_client):
    for path in ("/glance", "/glance/"):
        response = await sim_client.get(path)
        assert response.status_code == 300
        versions = response.json()["versions"]
        current = [v for v in versions if v["status"] == "CURRENT"]
        assert [v["id"] for v in current] == ["v2.17"]
        assert {v["links"][0]["href"] for v in versions} == {"http://sim.test/glance/v2/"}


async def test_versions_path_answers_200_and_v2_redirects(sim_client):
    assert (await sim_client.get("/glance/versions")).status_code == 200
    redirect = await sim_client.get("/glance/v2")
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "http://sim.test/glance/v2/"
    assert (await sim_client.get("/glance/v1")).status_code == 300


async def test_ims_versions_document_is_huaweis(sim_client):
    response = await sim_client.get("/ims/")
    assert response.status_code == 300
    ids = [(v["id"], v["status"], v["links"][0]["href"]) for v in response.json()["versions"]]
    assert ids[0] == ("v2.2", "CURRENT", "http://sim.test/ims/v2/")
    assert ("v1.0", "DEPRECATED", "http://sim.test/ims/v1/") in ids


def test_version_links_carry_the_loopback_host_and_port(sim_server):
    response = httpx.get(sim_server.endpoints["glance"])
    assert response.status_code == 300
    href = response.json()["versions"][0]["links"][0]["href"]
    assert href == f"{sim_server.base_url}/glance/v2/"


# -- authentication -----------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "gAAAAAnot-a-token"}])
async def test_api_needs_a_keystone_token(sim_client, headers):
    response = await sim_client.get("/glance/v2/images", headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": {"code": 401, "title": "Unauthorized",
                                         "message": "The request you have made requires authentication."}}
    assert response.headers["www-authenticate"] == 'Keystone uri="http://sim.test/keystone/v3"'


async def test_a_token_for_another_service_is_refused(sim_client, sim_context):
    arm = sim_context.tokens.issue("arm", "someone").value
    response = await sim_client.get("/glance/v2/images", headers={"X-Auth-Token": arm})
    assert response.status_code == 401


async def test_expired_token_is_refused(sim_client, sim_context, auth):
    assert (await sim_client.get("/glance/v2/images", headers=auth)).status_code == 200
    sim_context.tokens.expire_all()
    assert (await sim_client.get("/glance/v2/images", headers=auth)).status_code == 401


# -- listing and paging ----------------------------------------------------------------


async def test_default_list_is_the_callers_images_and_public_ones_newest_first(sim_client, auth, sim_context):
    response = await sim_client.get("/glance/v2/images", headers=auth)
    body = response.json()
    assert response.status_code == 200
    assert body["first"] == "/v2/images" and body["schema"] == "/v2/schemas/images"
    project = sim_context.demo.keystone_project_id
    assert all(i["visibility"] == "public" or i["owner"] == project for i in body["images"])
    created = [i["created_at"] for i in body["images"]]
    assert created == sorted(created, reverse=True)
    # hidden images stay out of the default list
    assert "debian-12-with-gpu-drivers" not in {i["name"] for i in body["images"]}
    hidden = (await sim_client.get("/glance/v2/images?os_hidden=true", headers=auth)).json()["images"]
    assert [i["name"] for i in hidden] == ["debian-12-with-gpu-drivers"]


async def test_spec_sample_image_is_served_field_for_field(sim_client, auth):
    response = await sim_client.get(f"/glance/v2/images/{CIRROS_SAMPLE_ID}", headers=auth)
    image = response.json()
    sample = {
        "status": "active", "name": "cirros-0.3.2-x86_64-disk", "tags": [], "container_format": "bare",
        "disk_format": "qcow2", "visibility": "public", "self": f"/v2/images/{CIRROS_SAMPLE_ID}",
        "min_disk": 0, "protected": False, "id": CIRROS_SAMPLE_ID, "file": f"/v2/images/{CIRROS_SAMPLE_ID}/file",
        "checksum": "64d7c1cd2b6f60c92c14662941cb7913", "os_hash_algo": "sha512", "os_hidden": False,
        "owner": "5ef70662f8b34079a6eddb8da9d75fe8", "size": 13167616, "min_ram": 0,
        "schema": "/v2/schemas/image", "virtual_size": None,
    }
    assert {k: image[k] for k in sample} == sample


async def test_paging_follows_relative_next_links_to_an_empty_page(sim_client, auth):
    seen, pages = [], 0
    url = "/v2/images?limit=4"
    while url:
        response = await sim_client.get("/glance" + url, headers=auth)
        assert response.status_code == 200
        body = response.json()
        pages += 1
        seen += [i["id"] for i in body["images"]]
        url = body.get("next")
        if url:
            assert url.startswith("/v2/images?") and len(body["images"]) == 4
            assert parse_qs(urlsplit(url).query)["limit"] == ["4"]
    everything = (await sim_client.get("/glance/v2/images?limit=1000", headers=auth)).json()["images"]
    assert seen == [i["id"] for i in everything]
    assert len(set(seen)) == len(seen) and pages == len(seen) // 4 + 1


async def test_marker_after_the_last_image_gives_an_empty_page(sim_client, auth):
    everything = (await sim_client.get("/glance/v2/images", headers=auth)).json()["images"]
    last = everything[-1]["id"]
    response = await sim_client.get(f"/glance/v2/images?marker={last}", headers=auth)
    assert response.status_code == 200
    assert response.json()["images"] == [] and "next" not in response.json()


@pytest.mark.parametrize("query, message", [
    ("marker=00000000-0000-0000-0000-000000000000", "No image found with ID 00000000-0000-0000-0000-000000000000"),
    ("limit=-1", "limit param must be positive"),
    ("limit=abc", "limit param must be an integer"),
    ("sort_key=bogus", "Invalid sort key: bogus. It must be one of the following: name, status, "
                       "container_format, disk_format, size, id, created_at, updated_at."),
    ("sort_key=name&sort_dir=up", "Invalid sort direction: up"),
    ("sort=name&sort_key=name", "Old and new sorting syntax cannot be combined"),
    ("sort_key=name&sort_dir=asc&sort_dir=desc", "Number of sort dirs does not match the number of sort keys"),
    ("visibility=bogus", "Invalid visibility value: bogus"),
    ("member_status=bogus", "Invalid status: bogus"),
    ("protected=maybe", "Invalid value 'maybe' for 'protected' filter. Valid values are 'true' or 'false'."),
    ("size_min=abc", "Unable to filter on a range with a non-numeric value."),
    ("created_at=xx:2020-01-01T00:00:00Z", "Unable to filter on a unknown operator."),
    ("created_at=gt:bogus", 'Bad "created_at" query filter format. Use ISO 8601 DateTime notation.'),
    ("changes-since=x", 'The "changes-since" filter is no longer available on v2.'),
])
async def test_bad_list_queries_are_400_with_glances_message(sim_client, auth, query, message):
    response = await sim_client.get(f"/glance/v2/images?{query}", headers=auth)
    assert response.status_code == 400
    assert response.json() == {"message": f"{message}<br /><br />\n\n\n", "code": "400 Bad Request",
                               "title": "Bad Request"}


async def test_limit_zero_is_an_empty_page_and_limits_cap_at_1000(sim_config):
    sim_config.seed_images = 1200
    ctx = SimContext(sim_config)
    app = build_app(context=ctx)
    token = ctx.tokens.issue("keystone", "demo", project_id=ctx.demo.keystone_project_id).value
    headers = {"X-Auth-Token": token}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
        assert (await client.get("/glance/v2/images?limit=0", headers=headers)).json()["images"] == []
        big = (await client.get("/glance/v2/images?limit=5000", headers=headers)).json()
        assert len(big["images"]) == 1000 and "limit=5000" in big["next"]
        default = (await client.get("/glance/v2/images", headers=headers)).json()
        assert len(default["images"]) == 25 and default["next"].startswith("/v2/images?marker=")


async def test_filters_name_in_tag_status_visibility_owner_and_custom_property(sim_client, auth, sim_context):
    async def names(query: str) -> list[str]:
        response = await sim_client.get(f"/glance/v2/images?{query}", headers=auth)
        assert response.status_code == 200, response.text
        return sorted(i["name"] for i in response.json()["images"])

    assert await names("name=debian-12-genericcloud-amd64") == ["debian-12-genericcloud-amd64"]
    assert await names("name=in:F17-x86_64-cfntools,cirros-0.3.2-x86_64-disk") == [
        "F17-x86_64-cfntools", "cirros-0.3.2-x86_64-disk"]
    assert await names("tag=ubuntu&tag=lts") == ["ubuntu-22.04-server-cloudimg-amd64",
                                                 "ubuntu-24.04-server-cloudimg-amd64"]
    assert await names("status=queued") == ["staging-upload-pending"]
    assert await names("status=in:queued,saving") == ["staging-upload-pending"]
    assert await names("visibility=community") == ["legacy-win2016-protected"]
    assert await names("visibility=shared") == ["ubuntu-22.04-hardened-cis"]
    assert await names("os_distro=windows&visibility=all") == [
        "Windows Server 2022 Standard Evaluation", "legacy-win2016-protected"]
    assert await names(f"owner={sim_context.demo.keystone_project_id}&protected=true") == [
        "legacy-win2016-protected"]
    assert await names("size_min=3000000000&size_max=6000000000") == [
        "build-agent-snapshot", "ubuntu-22.04-hardened-cis"]
    assert await names("created_at=lt:2014-11-01T00:00:00Z") == ["F17-x86_64-cfntools"]
    # community images of the caller show in its default list, not others'
    assert "legacy-win2016-protected" in await names("")


async def test_sorting_by_key_and_by_sort_syntax_pages_stably(sim_client, auth):
    names = [i["name"] for i in (await sim_client.get("/glance/v2/images?sort=name:asc&limit=100",
                                                       headers=auth)).json()["images"]]
    assert names == sorted(names)
    classic = [i["name"] for i in (await sim_client.get("/glance/v2/images?sort_key=name&sort_dir=asc&limit=100",
                                                         headers=auth)).json()["images"]]
    assert classic == names
    paged, url = [], "/v2/images?sort_key=name&sort_dir=asc&limit=3"
    while url:
        body = (await sim_client.get("/glance" + url, headers=auth)).json()
        paged += [i["name"] for i in body["images"]]
        url = body.get("next")
    assert paged == names
    by_size = [i["size"] for i in (await sim_client.get("/glance/v2/images?sort=size:desc,name:asc",
                                                         headers=auth)).json()["images"]]
    assert by_size[: by_size.index(None)] == sorted([s for s in by_size if s is not None], reverse=True)


async def test_first_and_next_keep_the_query_like_glance(sim_client, auth):
    body = (await sim_client.get("/glance/v2/images?limit=2&tag=ubuntu&tag=lts&sort=name:asc", headers=auth)).json()
    assert body["first"] == "/v2/images?limit=2&tag=lts&sort=name%3Aasc"
    assert body["next"].startswith("/v2/images?limit=2&tag=lts&sort=name%3Aasc&marker=")


def test_seeding_100000_images_pages_in_order():
    state = GlanceState("glance", SimContext(SimConfig()))
    # How fast this is lives in benchmarks/ (the figures); here: that it is right.
    seed_bulk(state, 100_000, "0b1e494e2660441a957313163095fe5c")
    assert len(state.images) == 100_000

    from workbench.sim.glance import Caller

    caller = Caller("0b1e494e2660441a957313163095fe5c")
    page, marker = state.page(caller, ListQuery([("limit", "1000")]))
    page2, _ = state.page(caller, ListQuery([("limit", "1000"), ("marker", marker)]))
    assert len(page) == len(page2) == 1000 and page[-1]["created_at"] >= page2[0]["created_at"]
    assert not {i["id"] for i in page} & {i["id"] for i in page2}


# -- show, create, delete ------------------------------------------------------------------


async def test_create_is_201_queued_with_absolute_location(sim_client, auth, sim_context):
    response = await sim_client.post("/glance/v2/images", headers=auth, json={
        "name": "made-here", "disk_format": "raw", "container_format": "bare", "tags": ["a", "a", "b"],
        "build": "42"})
    assert response.status_code == 201
    image = response.json()
    assert response.headers["location"] == f"http://sim.test/glance/v2/images/{image['id']}"
    assert image["status"] == "queued" and image["visibility"] == "shared"
    assert image["owner"] == sim_context.demo.keystone_project_id
    assert image["tags"] == ["a", "b"] and image["build"] == "42"
    assert image["size"] is None and image["checksum"] is None
    assert list(image)[0] == "build"  # custom properties come first, as Glance orders them
    shown = await sim_client.get(f"/glance/v2/images/{image['id']}", headers=auth)
    assert shown.json() == image


@pytest.mark.parametrize("body, status, message", [
    ({"status": "active"}, 403, "Attribute 'status' is read-only.<br /><br />\n\n\n"),
    ({"os_glance_x": "y"}, 403, "Access was denied to this resource.<br /><br />\nAttribute 'os_glance_x' is reserved.\n\n"),
    ({"locations": []}, 403, "Access was denied to this resource.<br /><br />\nAttribute 'locations' is reserved.\n\n"),
    ({"min_ram": -1}, 400, "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value<br /><br />\n\n\n"),
    ({"visibility": "public"}, 403, "You are not authorized to complete publicize_image action.<br /><br />\n\n\n"),
    ({"owner": "someone-else"}, 403, "You are not permitted to create images owned by 'someone-else'.<br /><br />\n\n\n"),
])
async def test_create_rejections(sim_client, auth, body, status, message):
    response = await sim_client.post("/glance/v2/images", headers=auth, json={"name": "x", **body})
    assert response.status_code == status
    assert response.json()["message"] == message


async def test_create_schema_errors_name_the_property(sim_client, auth):
    response = await sim_client.post("/glance/v2/images", headers=auth, json={"name": "x", "disk_format": "bogus"})
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith("Provided object does not match schema 'image': 'bogus' is not one of [None, 'ami'")
    assert "Failed validating 'enum' in schema['properties']['disk_format']" in message
    custom = await sim_client.post("/glance/v2/images", headers=auth, json={"name": "x", "build": 5})
    assert custom.json()["message"].startswith(
        "Provided object does not match schema 'image': 5 is not of type 'string'\n\n"
        "Failed validating 'type' in schema['additionalProperties']")


async def test_create_with_an_existing_id_is_409(sim_client, auth):
    image_id = "7d5fc9c8-4a52-4d33-9ff8-3a0f4f3a1b11"
    await create(sim_client, auth, id=image_id, name="one")
    again = await sim_client.post("/glance/v2/images", headers=auth, json={"id": image_id})
    assert again.status_code == 409
    assert again.json()["message"] == f"Image ID {image_id} already exists!<br /><br />\n\n\n"


async def test_create_needs_a_json_body(sim_client, auth):
    empty = await sim_client.post("/glance/v2/images", headers=auth, content=b"")
    assert (empty.status_code, empty.json()["message"]) == (400, "Body expected in request.<br /><br />\n\n\n")
    bad = await sim_client.post("/glance/v2/images", headers=auth, content=b"{bad")
    assert (bad.status_code, bad.json()["message"]) == (400, "Malformed JSON in request body.<br /><br />\n\n\n")


async def test_delete_is_204_then_404_and_protected_is_403(sim_client, auth):
    image = await create(sim_client, auth, name="to-delete", protected=True)
    url = f"/glance/v2/images/{image['id']}"
    refused = await sim_client.delete(url, headers=auth)
    assert refused.status_code == 403
    assert refused.json()["message"] == f"Image {image['id']} is protected and cannot be deleted.<br /><br />\n\n\n"
    unprotect = await sim_client.patch(url, headers={**auth, "Content-Type": "application/openstack-images-v2.1-json-patch"},
                                       json=[{"op": "replace", "path": "/protected", "value": False}])
    assert unprotect.status_code == 200
    deleted = await sim_client.delete(url, headers=auth)
    assert deleted.status_code == 204 and deleted.content == b""
    again = await sim_client.delete(url, headers=auth)
    assert again.status_code == 404
    assert again.json()["message"] == f"Failed to find image {image['id']} to delete<br /><br />\n\n\n"
    assert (await sim_client.get(url, headers=auth)).status_code == 404


async def test_other_projects_public_images_are_read_only(sim_client, auth):
    url = f"/glance/v2/images/{CIRROS_SAMPLE_ID}"
    assert (await sim_client.get(url, headers=auth)).status_code == 200
    response = await sim_client.delete(url, headers=auth)
    assert response.status_code == 403
    assert response.json()["message"].startswith("You are not authorized to complete delete_image action.")


async def test_unknown_method_is_405_with_allow(sim_client, auth):
    response = await sim_client.put("/glance/v2/images", headers=auth)
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert response.json()["message"] == "The method PUT is not allowed for this resource. <br /><br />\n"


# -- image data -----------------------------------------------------------------------------


async def test_upload_moves_queued_to_active_with_checksums(sim_client, auth):
    image = await create(sim_client, auth, name="data", disk_format="raw", container_format="bare")
    url = f"/glance/v2/images/{image['id']}"
    assert (await sim_client.get(url + "/file", headers=auth)).status_code == 204
    data = b"hello world" * 1000
    response = await sim_client.put(url + "/file", headers={**auth, "Content-Type": "application/octet-stream"},
                                    content=data)
    assert response.status_code == 204
    shown = (await sim_client.get(url, headers=auth)).json()
    assert shown["status"] == "active" and shown["size"] == len(data) == shown["virtual_size"]
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert shown["os_hash_algo"] == "sha512" and shown["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert shown["stores"] == "fs"
    download = await sim_client.get(url + "/file", headers=auth)
    assert download.content == data and download.headers["content-md5"] == shown["checksum"]
    second = await sim_client.put(url + "/file", headers={**auth, "Content-Type": "application/octet-stream"},
                                  content=data)
    assert second.status_code == 409
    assert second.json()["message"] == "Image status transition from active to saving is not allowed<br /><br />\n\n\n"


async def test_an_injected_failed_upload_is_a_full_store_and_the_image_stays_queued(sim_client, sim_context, auth):
    image = await create(sim_client, auth, name="unlucky", disk_format="raw", container_format="bare")
    url = f"/glance/v2/images/{image['id']}"
    octet = {**auth, "Content-Type": "application/octet-stream"}
    sim_context.faults.update({"rate": 1.0, "kinds": ["fail_operation"]})
    failed = await sim_client.put(url + "/file", headers=octet, content=b"data" * 100)
    assert failed.status_code == 413
    assert failed.json()["message"].startswith("Image storage media is full: There is not enough disk space")
    shown = (await sim_client.get(url, headers=auth)).json()
    assert (shown["status"], shown["size"]) == ("queued", None)
    sim_context.faults.update({"rate": 0.0})
    again = await sim_client.put(url + "/file", headers=octet, content=b"data" * 100)  # queued: may try again
    assert again.status_code == 204
    assert (await sim_client.get(url, headers=auth)).json()["status"] == "active"


async def test_upload_inspects_qcow2_and_rejects_a_format_mismatch(sim_client, auth):
    good = await create(sim_client, auth, name="q", disk_format="qcow2", container_format="bare")
    octet = {**auth, "Content-Type": "application/octet-stream"}
    response = await sim_client.put(f"/glance/v2/images/{good['id']}/file", headers=octet, content=tiny_qcow2())
    assert response.status_code == 204
    shown = (await sim_client.get(f"/glance/v2/images/{good['id']}", headers=auth)).json()
    assert shown["virtual_size"] == 1 << 30 and shown["size"] == len(tiny_qcow2())
    bad = await create(sim_client, auth, name="v", disk_format="vhd", container_format="bare")
    mismatch = await sim_client.put(f"/glance/v2/images/{bad['id']}/file", headers=octet, content=b"\x01" * 4096)
    assert mismatch.status_code == 415
    assert mismatch.json()["message"].endswith("Image disk_format vhd does not match stream data raw")
    assert (await sim_client.get(f"/glance/v2/images/{bad['id']}", headers=auth)).json()["status"] == "queued"


async def test_upload_preconditions(sim_client, auth):
    image = await create(sim_client, auth, name="no-format")
    url = f"/glance/v2/images/{image['id']}/file"
    no_type = await sim_client.put(url, headers=auth, content=b"abc")
    assert no_type.status_code == 415
    assert no_type.json()["message"] == ("The request media type ${CONTENT_TYPE} is not supported by this server."
                                         "\n<br /><br />\nInvalid content type None")
    no_format = await sim_client.put(url, headers={**auth, "Content-Type": "application/octet-stream"}, content=b"abc")
    assert no_format.status_code == 400
    assert no_format.json()["message"].startswith("Properties disk_format, container_format must be set")


def test_inspect_disk_reads_real_headers():
    assert inspect_disk(tiny_qcow2(5 << 20)) == ("qcow2", 5 << 20)
    assert inspect_disk(b"abc") == ("raw", 3)
    assert inspect_disk(b"") == ("raw", None)


# -- tags ------------------------------------------------------------------------------------


async def test_tags_can_be_added_and_removed_one_by_one(sim_client, auth):
    image = await create(sim_client, auth, name="tagged")
    url = f"/glance/v2/images/{image['id']}/tags"
    assert (await sim_client.put(f"{url}/blue", headers=auth)).status_code == 204
    assert (await sim_client.put(f"{url}/blue", headers=auth)).status_code == 204
    shown = (await sim_client.get(f"/glance/v2/images/{image['id']}", headers=auth)).json()
    assert shown["tags"] == ["blue"]
    assert (await sim_client.delete(f"{url}/blue", headers=auth)).status_code == 204
    assert (await sim_client.delete(f"{url}/blue", headers=auth)).status_code == 404


# -- errors follow Accept ------------------------------------------------------------------------


async def test_error_bodies_follow_accept(sim_client, token):
    url = "/glance/v2/images/00000000-0000-0000-0000-000000000000"
    text = "No image found with ID 00000000-0000-0000-0000-000000000000"
    as_json = await sim_client.get(url, headers={"X-Auth-Token": token, "Accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json() == {"message": f"{text}<br /><br />\n\n\n", "code": "404 Not Found", "title": "Not Found"}
    as_html = await sim_client.get(url, headers={"X-Auth-Token": token, "Accept": "*/*"})
    assert as_html.headers["content-type"] == "text/html; charset=UTF-8"
    assert as_html.text == ("<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n"
                            f"  <h1>404 Not Found</h1>\n  {text}<br /><br />\n\n\n\n </body>\n</html>")
    # an empty Accept header is fine: webob falls back to plain text
    plain = await sim_client.get(url, headers={"X-Auth-Token": token, "Accept": ""})
    assert plain.headers["content-type"] == "text/plain; charset=UTF-8"
    assert plain.text == f"404 Not Found\n\n{text}\n\n   "
    preferred = await sim_client.get(url, headers={"X-Auth-Token": token, "Accept": "application/json;q=0.5, text/html"})
    assert preferred.headers["content-type"].startswith("text/html")


async def test_every_answer_has_a_request_id(sim_client, auth):
    for response in (await sim_client.get("/glance/"), await sim_client.get("/glance/v2/images", headers=auth),
                     await sim_client.get("/glance/v2/nowhere", headers=auth)):
        assert response.headers["x-openstack-request-id"].startswith("req-")


# -- schemas ----------------------------------------------------------------------------------------


async def test_schemas_are_glances(sim_client, auth):
    image = (await sim_client.get("/glance/v2/schemas/image", headers=auth)).json()
    assert image["name"] == "image" and image["additionalProperties"] == {"type": "string"}
    assert image["properties"]["visibility"]["enum"] == ["community", "public", "private", "shared"]
    assert image["properties"]["status"]["readOnly"] is True
    images = (await sim_client.get("/glance/v2/schemas/images", headers=auth)).json()
    assert images["properties"]["images"]["items"] == image
    assert [link["rel"] for link in images["links"]] == ["first", "next", "describedby"]
    ims = (await sim_client.get("/ims/v2/schemas/image", headers=auth)).json()
    assert "zvhd2" in ims["properties"]["disk_format"]["enum"]


# -- IMS flavour -------------------------------------------------------------------------------------


async def test_ims_serves_the_seed_example_attribute_for_attribute(sim_client, auth, sim_context):
    response = await sim_client.get(f"/ims/v2/images/{IMS_EXAMPLE_ID}", headers=auth)
    image = response.json()
    assert response.status_code == 200
    assert image["__os_version"] == "Ubuntu 14.04 server 64bit" and image["__data_origin"] is None
    assert image["owner"] == sim_context.demo.keystone_project_id
    for absent in ("os_hidden", "os_hash_algo", "os_hash_value"):
        assert absent not in image  # IMS runs an older Glance


async def test_ims_and_glance_have_separate_state(sim_client, auth):
    made = await create(sim_client, auth, prefix="/ims", name="ims-only", disk_format="zvhd2",
                        container_format="bare", __os_type="Linux")
    assert made["__imagetype"] == "private" and made["virtual_env_type"] == "FusionCompute"
    assert (await sim_client.get(f"/ims/v2/images/{made['id']}", headers=auth)).status_code == 200
    assert (await sim_client.get(f"/glance/v2/images/{made['id']}", headers=auth)).status_code == 404
    assert (await sim_client.get(f"/glance/v2/images/{IMS_EXAMPLE_ID}", headers=auth)).status_code == 404


async def test_ims_public_images_are_gold(sim_client, auth):
    body = (await sim_client.get("/ims/v2/images?visibility=public&limit=100", headers=auth)).json()
    assert body["images"] and {i["__imagetype"] for i in body["images"]} == {"gold"}


# -- over real HTTP -------------------------------------------------------------------------------------


def test_glance_over_loopback(sim_server):
    endpoints = sim_server.endpoints
    headers = {"X-Auth-Token": endpoints["tokens"]["glance"], "Accept": "application/json"}
    with httpx.Client(base_url=endpoints["glance"], headers=headers) as client:
        created = client.post("/v2/images", json={"name": "over-http", "disk_format": "raw",
                                                  "container_format": "bare"})
        assert created.status_code == 201
        assert created.headers["location"] == f"{endpoints['glance']}/v2/images/{created.json()['id']}"
        upload = client.put(f"/v2/images/{created.json()['id']}/file", content=iter([b"ab", b"cd"]),
                            headers={"Content-Type": "application/octet-stream"})
        assert upload.status_code == 204
        shown = client.get(f"/v2/images/{created.json()['id']}").json()
        assert shown["size"] == 4 and shown["status"] == "active"
        page = client.get("/v2/images", params={"limit": 2}).json()
        # next is relative to the service root, as with real Glance
        following = client.get(page["next"])
        assert following.status_code == 200 and following.json()["images"][0]["id"] != page["images"][0]["id"]


# -- faults, concurrency, the saving state ------------------------------------------------------------


async def test_injected_faults_use_glances_error_shape(sim_config, sim_context):
    sim_config.fault_rate = 1.0
    sim_config.fault_kinds = ("throttle",)
    sim_config.fault_retry_after = 2
    app = build_app(context=sim_context)
    token = sim_context.tokens.issue("keystone", "demo", project_id=sim_context.demo.keystone_project_id).value
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sim.test") as client:
        response = await client.get("/glance/v2/images", headers={"X-Auth-Token": token, "Accept": "application/json"})
        assert response.status_code == 429 and response.headers["retry-after"] == "2"
        body = response.json()
        assert body["code"] == "429 Too Many Requests" and body["title"] == "Too Many Requests"
        assert body["message"].startswith("Too many requests")
        # the token endpoint is not subject to faults
        issued = await client.post("/keystone/v3/auth/tokens", json={"auth": {"identity": {
            "methods": ["application_credential"], "application_credential": {
                "id": sim_context.demo.keystone_app_credential_id,
                "secret": sim_context.demo.keystone_app_credential_secret}}}})
        assert issued.status_code == 201


def test_concurrent_patches_lose_nothing(sim_server):
    from concurrent.futures import ThreadPoolExecutor

    endpoints = sim_server.endpoints
    headers = {"X-Auth-Token": endpoints["tokens"]["glance"], "Accept": "application/json"}
    with httpx.Client(base_url=endpoints["glance"], headers=headers) as client:
        image = client.post("/v2/images", json={"name": "contended"}).json()

        def add(n: int) -> int:
            return client.patch(f"/v2/images/{image['id']}", json=[{"op": "add", "path": f"/p{n}", "value": str(n)}],
                                headers={"Content-Type": "application/openstack-images-v2.1-json-patch"}).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(add, range(40))) == {200}
        final = client.get(f"/v2/images/{image['id']}").json()
        assert all(final[f"p{n}"] == str(n) for n in range(40))


async def test_status_is_saving_while_the_data_streams_in(sim_client, auth):
    import asyncio

    image = await create(sim_client, auth, name="slow", disk_format="raw", container_format="bare")
    url = f"/glance/v2/images/{image['id']}"
    gate = asyncio.Event()

    async def body():
        yield b"first half "
        await gate.wait()
        yield b"second half"

    upload = asyncio.create_task(sim_client.put(url + "/file", content=body(),
                                                headers={**auth, "Content-Type": "application/octet-stream"}))
    deadline = time.monotonic() + 5
    status = "queued"
    while status != "saving" and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
        status = (await sim_client.get(url, headers=auth)).json()["status"]
    assert status == "saving"
    gate.set()
    assert (await upload).status_code == 204
    shown = (await sim_client.get(url, headers=auth)).json()
    assert shown["status"] == "active" and shown["size"] == len(b"first half second half")
