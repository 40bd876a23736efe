"""The same PATCH, list and paging cases against the simulator AND a real Glance.

The real server is the one ``shared/real-glance/start-glance.sh`` starts
(noauth, Glance 33); CI exports its URL as ``GLANCE_ENDPOINT``. Without it
those parameters skip with the reason. Every image made here is named
``sim-conformance-...`` and deleted afterwards.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

import httpx
import pytest

from tests.real_glance import real_glance_endpoint
from workbench.sim.config import SimConfig
from workbench.sim.server import SimServer

V21 = "application/openstack-images-v2.1-json-patch"
V20 = "application/openstack-images-v2.0-json-patch"
ACCEPT_PATCH = f"{V20}, {V21}"


@dataclass
class Target:
    name: str
    root: str
    client: httpx.Client
    created: list[str] = field(default_factory=list)

    def create(self, **body) -> dict:
        body.setdefault("name", f"sim-conformance-{uuid.uuid4().hex[:8]}")
        response = self.client.post("/v2/images", json=body)
        assert response.status_code == 201, response.text
        self.created.append(response.json()["id"])
        return response.json()

    def patch(self, image_id: str, body, media_type: str | None = V21, accept: str | None = "application/json"):
        headers = {}
        if media_type is not None:
            headers["Content-Type"] = media_type
        if accept is not None:
            headers["Accept"] = accept
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.patch(f"/v2/images/{image_id}", content=content, headers=headers)

    def cleanup(self) -> None:
        for image_id in self.created:
            self.client.patch(f"/v2/images/{image_id}", content=b'[{"op": "replace", "path": "/protected", "value": false}]',
                              headers={"Content-Type": V21})
            self.client.delete(f"/v2/images/{image_id}")


@pytest.fixture(scope="module")
def simulator():
    with SimServer(SimConfig(operation_polls=0)) as server:
        endpoints = server.endpoints
        client = httpx.Client(base_url=endpoints["glance"], headers={"X-Auth-Token": endpoints["tokens"]["glance"],
                                                                     "Accept": "application/json"}, timeout=30)
        target = Target("simulator", endpoints["glance"], client)
        yield target
        client.close()


@pytest.fixture(scope="module")
def real():
    endpoint, reason = real_glance_endpoint()
    if endpoint is None:
        pytest.skip(reason)
    client = httpx.Client(base_url=endpoint, headers={"Accept": "application/json"}, timeout=30)
    target = Target("real", endpoint, client)
    yield target
    target.cleanup()
    client.close()


@pytest.fixture(params=["simulator", pytest.param("real", marks=pytest.mark.real_glance)])
def glance(request) -> Target:
    return request.getfixturevalue(request.param)


def message(response) -> str:
    return response.json()["message"]


# -- PATCH ---------------------------------------------------------------------------------

ERROR_CASES = [
    pytest.param([{"op": "remove", "path": "/nope"}], V21, 409, id="remove-missing"),
    pytest.param([{"op": "replace", "path": "/nope", "value": "y"}], V21, 409, id="replace-missing"),
    pytest.param([{"replace": "/nope", "value": "y"}], V20, 409, id="v20-replace-missing"),
    pytest.param([{"add": "/name", "value": "x"}], V20, 409, id="v20-add-existing-core"),
    pytest.param([{"op": "replace", "path": "/status", "value": "active"}], V21, 403, id="read-only-status"),
    pytest.param([{"op": "replace", "path": "/id", "value": "x"}], V21, 403, id="read-only-id"),
    pytest.param([{"op": "remove", "path": "/size"}], V21, 403, id="read-only-remove"),
    pytest.param([{"op": "remove", "path": "/name"}], V21, 403, id="remove-core"),
    pytest.param([{"op": "add", "path": "/os_glance_foo", "value": "x"}], V21, 403, id="reserved-namespace"),
    pytest.param([{"op": "add", "path": "/deleted", "value": "x"}], V21, 403, id="reserved-name"),
    pytest.param([{"op": "move", "from": "/a", "path": "/b"}], V21, 400, id="op-move"),
    pytest.param([{"op": "copy", "from": "/a", "path": "/b"}], V21, 400, id="op-copy"),
    pytest.param([{"replace": "/name", "value": "q"}], V21, 400, id="v20-body-v21-type"),
    pytest.param([{"op": "replace", "path": "/name", "value": "q"}], V20, 400, id="v21-body-v20-type"),
    pytest.param([{"op": "replace", "value": "q"}], V21, 400, id="no-path"),
    pytest.param([{"op": "replace", "path": "name", "value": "q"}], V21, 400, id="path-without-slash"),
    pytest.param([{"op": "replace", "path": "/a/b", "value": "q"}], V21, 400, id="nested-path"),
    pytest.param([{"op": "add", "path": "/tags/-", "value": "q"}], V21, 400, id="tags-append"),
    pytest.param([{"op": "add", "path": "/a~2", "value": "q"}], V21, 400, id="bad-escape"),
    pytest.param([{"op": "replace", "path": "/name"}], V21, 400, id="no-value"),
    pytest.param([{"op": "replace", "path": "/min_ram", "value": -5}], V21, 400, id="negative-min-ram"),
    pytest.param([1], V21, 400, id="op-not-object"),
    pytest.param({"op": "replace", "path": "/name", "value": "q"}, V21, 400, id="body-not-list"),
    pytest.param(b"{not json", V21, 400, id="invalid-json"),
    pytest.param([{"op": "replace", "path": "/name", "value": "q"}], "application/json-patch+json", 415, id="json-patch"),
    pytest.param([{"op": "replace", "path": "/name", "value": "q"}], "application/json", 415, id="json"),
    pytest.param([{"op": "replace", "path": "/name", "value": "q"}], None, 415, id="no-content-type"),
]


@pytest.mark.parametrize("body, media_type, status", ERROR_CASES)
def test_patch_errors(glance, body, media_type, status):
    image = glance.create(my_prop="v1")
    response = glance.patch(image["id"], body, media_type)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"].startswith(str(status))
    if status == 415:
        assert response.headers["accept-patch"] == ACCEPT_PATCH
        assert message(response).endswith(f"Image PATCH expects Content-Type one of: {ACCEPT_PATCH}")
    after = glance.client.get(f"/v2/images/{image['id']}").json()
    assert after == image  # nothing applied


@pytest.mark.parametrize("path, value, first_line", [
    ("/my_prop", 5, "5 is not of type 'string'"),
    ("/min_ram", "5", "'5' is not of type 'integer'"),
    ("/disk_format", "foo", "'foo' is not one of [None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', "
                            "'qcow2', 'vdi', 'iso', 'ploop']"),
    ("/visibility", "bogus", "'bogus' is not one of ['community', 'public', 'private', 'shared']"),
])
def test_patch_schema_errors(glance, path, value, first_line):
    image = glance.create(my_prop="v1")
    response = glance.patch(image["id"], [{"op": "replace", "path": path, "value": value}])
    assert response.status_code == 400
    assert message(response).split("\n")[0] == f"Provided object does not match schema 'image': {first_line}"


def test_patch_success_in_both_dialects(glance):
    image = glance.create(my_prop="v1", disk_format="raw", container_format="bare")
    v21 = glance.patch(image["id"], [{"op": "replace", "path": "/name", "value": "sim-conformance-renamed"},
                                     {"op": "add", "path": "/my_prop", "value": "v2"},
                                     {"op": "add", "path": "/extra", "value": "e"},
                                     {"op": "remove", "path": "/extra"}])
    assert v21.status_code == 200
    body = v21.json()
    assert (body["name"], body["my_prop"], "extra" in body) == ("sim-conformance-renamed", "v2", False)
    v20 = glance.patch(image["id"], [{"replace": "/name", "value": "sim-conformance-v20"},
                                     {"add": "/fresh", "value": "1"}], V20)
    assert v20.status_code == 200 and (v20.json()["name"], v20.json()["fresh"]) == ("sim-conformance-v20", "1")
    conflict = glance.patch(image["id"], [{"add": "/fresh", "value": "2"}], V20)
    assert conflict.status_code == 409
    assert message(conflict) == ("There was a conflict when trying to complete your request.<br /><br />\n"
                                 "Property fresh already present.\n\n")


def test_slash_alone_is_the_attribute_with_the_empty_name(glance):
    image = glance.create()
    added = glance.patch(image["id"], [{"op": "add", "path": "/", "value": "x"}])
    assert added.status_code == 200 and added.json()[""] == "x"
    replaced = glance.patch(image["id"], [{"replace": "/", "value": "y"}], V20)
    assert replaced.status_code == 200 and replaced.json()[""] == "y"
    removed = glance.patch(image["id"], [{"op": "remove", "path": "/"}])
    assert removed.status_code == 200 and "" not in removed.json()


def test_patch_is_atomic(glance):
    image = glance.create(my_prop="v1")
    response = glance.patch(image["id"], [{"op": "replace", "path": "/name", "value": "sim-conformance-half"},
                                          {"op": "remove", "path": "/nope"}])
    assert response.status_code == 409
    assert glance.client.get(f"/v2/images/{image['id']}").json()["name"] == image["name"]


@pytest.mark.parametrize("accept, content_type", [
    ("application/json", "application/json"),
    ("*/*", "text/html; charset=UTF-8"),
    ("text/html", "text/html; charset=UTF-8"),
    ("text/plain", "text/plain; charset=UTF-8"),
    (None, "text/plain; charset=UTF-8"),
])
def test_error_bodies_follow_accept(glance, accept, content_type):
    image = glance.create()
    headers = {"Content-Type": V21}
    if accept is not None:
        headers["Accept"] = accept
    request = glance.client.build_request("PATCH", f"/v2/images/{image['id']}",
                                          content=b'[{"op": "remove", "path": "/nope"}]', headers=headers)
    if accept is None:
        del request.headers["Accept"]
    response = glance.client.send(request)
    assert response.status_code == 409
    assert response.headers["content-type"] == content_type
    assert "Property nope does not exist." in response.text


# -- listing and paging ------------------------------------------------------------------------


@pytest.fixture
def run_images(glance) -> tuple[Target, str, list[dict]]:
    run = uuid.uuid4().hex
    images = [glance.create(name=f"sim-conformance-page-{n}", sim_conformance_run=run) for n in range(5)]
    return glance, run, images


def test_paging_with_limit_and_relative_next(run_images):
    glance, run, images = run_images
    pages, url = [], f"/v2/images?sim_conformance_run={run}&limit=2"
    while url:
        response = glance.client.get(url)
        assert response.status_code == 200
        body = response.json()
        pages.append([image["name"] for image in body["images"]])
        url = body.get("next")
        if url:
            last = body["images"][-1]["id"]
            assert url == f"/v2/images?sim_conformance_run={run}&limit=2&marker={last}"
        assert body["first"] == f"/v2/images?sim_conformance_run={run}&limit=2"
    newest_first = [image["name"] for image in reversed(images)]
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5]]


def test_a_full_last_page_still_has_next_and_then_an_empty_page(run_images):
    glance, run, images = run_images
    body = glance.client.get(f"/v2/images?sim_conformance_run={run}&limit=5").json()
    assert len(body["images"]) == 5 and "next" in body
    following = glance.client.get(body["next"]).json()
    assert following["images"] == [] and "next" not in following


def test_marker_rules(run_images):
    glance, run, images = run_images
    after_last = glance.client.get(f"/v2/images?sim_conformance_run={run}&marker={images[0]['id']}")
    assert after_last.status_code == 200 and after_last.json()["images"] == []
    missing = "00000000-0000-0000-0000-000000000000"
    unknown = glance.client.get(f"/v2/images?marker={missing}")
    assert unknown.status_code == 400
    assert message(unknown) == f"No image found with ID {missing}<br /><br />\n\n\n"


@pytest.mark.parametrize("query, status, text", [
    ("limit=-1", 400, "limit param must be positive"),
    ("limit=abc", 400, "limit param must be an integer"),
    ("sort_key=bogus", 400, "Invalid sort key: bogus. It must be one of the following: name, status, "
                            "container_format, disk_format, size, id, created_at, updated_at."),
    ("sort_dir=up", 400, "Invalid sort direction: up"),
    ("sort=name&sort_key=name", 400, "Old and new sorting syntax cannot be combined"),
    ("visibility=bogus", 400, "Invalid visibility value: bogus"),
])
def test_list_query_errors(glance, query, status, text):
    response = glance.client.get(f"/v2/images?{query}")
    assert response.status_code == status
    assert message(response) == f"{text}<br /><br />\n\n\n"


def test_sorting_and_limit_zero(run_images):
    glance, run, images = run_images
    ascending = glance.client.get(f"/v2/images?sim_conformance_run={run}&sort_key=name&sort_dir=asc").json()
    assert [i["name"] for i in ascending["images"]] == [f"sim-conformance-page-{n}" for n in range(5)]
    descending = glance.client.get(f"/v2/images?sim_conformance_run={run}&sort=name:desc&limit=2").json()
    assert [i["name"] for i in descending["images"]] == ["sim-conformance-page-4", "sim-conformance-page-3"]
    assert descending["first"] == f"/v2/images?sim_conformance_run={run}&sort=name%3Adesc&limit=2"
    tagged = glance.client.get(f"/v2/images?sim_conformance_run={run}&name=in:sim-conformance-page-1,"
                               "sim-conformance-page-3").json()
    assert sorted(i["name"] for i in tagged["images"]) == ["sim-conformance-page-1", "sim-conformance-page-3"]
    empty = glance.client.get(f"/v2/images?sim_conformance_run={run}&limit=0").json()
    assert empty["images"] == [] and "next" not in empty


# -- create, upload, delete ------------------------------------------------------------------------


def test_create_answers_201_queued_with_location(glance):
    response = glance.client.post("/v2/images", json={"name": "sim-conformance-create", "disk_format": "raw",
                                                      "container_format": "bare", "custom": "c", "tags": ["t", "t"]})
    assert response.status_code == 201
    image = response.json()
    glance.created.append(image["id"])
    assert response.headers["location"] == f"{glance.root}/v2/images/{image['id']}"
    assert (image["status"], image["visibility"], image["custom"], image["tags"]) == ("queued", "shared", "c", ["t"])
    assert {k: image[k] for k in ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value")} == dict.fromkeys(
        ("size", "virtual_size", "checksum", "os_hash_algo", "os_hash_value"))
    assert image["self"] == f"/v2/images/{image['id']}" and image["schema"] == "/v2/schemas/image"


def test_upload_then_second_upload_conflicts(glance):
    import hashlib

    image = glance.create(disk_format="raw", container_format="bare")
    data = b"hello world" * 1000
    octet = {"Content-Type": "application/octet-stream"}
    upload = glance.client.put(f"/v2/images/{image['id']}/file", content=data, headers=octet)
    assert upload.status_code == 204
    shown = glance.client.get(f"/v2/images/{image['id']}").json()
    assert (shown["status"], shown["size"], shown["virtual_size"]) == ("active", len(data), len(data))
    assert shown["checksum"] == hashlib.md5(data).hexdigest()
    assert (shown["os_hash_algo"], shown["os_hash_value"]) == ("sha512", hashlib.sha512(data).hexdigest())
    again = glance.client.put(f"/v2/images/{image['id']}/file", content=data, headers=octet)
    assert again.status_code == 409
    assert message(again) == "Image status transition from active to saving is not allowed<br /><br />\n\n\n"


def test_upload_format_mismatch_is_415(glance):
    image = glance.create(disk_format="vhd", container_format="bare")
    response = glance.client.put(f"/v2/images/{image['id']}/file", content=b"\x01" * 4096,
                                 headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 415
    assert message(response).endswith("Image disk_format vhd does not match stream data raw")


def test_delete_protected_then_unprotected(glance):
    image = glance.create(protected=True)
    refused = glance.client.delete(f"/v2/images/{image['id']}")
    assert refused.status_code == 403
    assert message(refused) == f"Image {image['id']} is protected and cannot be deleted.<br /><br />\n\n\n"
    glance.patch(image["id"], [{"op": "replace", "path": "/protected", "value": False}])
    assert glance.client.delete(f"/v2/images/{image['id']}").status_code == 204
    gone = glance.client.get(f"/v2/images/{image['id']}")
    assert gone.status_code == 404 and message(gone) == f"No image found with ID {image['id']}<br /><br />\n\n\n"


def test_version_discovery(glance):
    root = glance.client.get("/")
    assert root.status_code == 300
    versions = root.json()["versions"]
    assert {v["links"][0]["href"] for v in versions} == {f"{glance.root}/v2/"}
    assert [v["id"] for v in versions if v["status"] == "CURRENT"] == ["v2.17"]
    assert glance.client.get("/versions").status_code == 200


# -- side by side: the two servers' own words ---------------------------------------------------------


@pytest.mark.real_glance
def test_simulator_and_real_glance_answer_patches_alike(simulator, real):
    def answers(target: Target) -> list[tuple]:
        image = target.create(my_prop="v1")
        out = []
        for case in ERROR_CASES:
            body, media_type, _ = case.values
            response = target.patch(image["id"], body, media_type)
            out.append((case.id, response.status_code, response.headers.get("content-type"),
                        response.headers.get("accept-patch"), response.json()["message"].split("\n\nFailed")[0]))
        return out

    assert answers(simulator) == answers(real)


@pytest.mark.real_glance
def test_simulator_and_real_glance_shape_images_alike(simulator, real):
    varying = {"id", "created_at", "updated_at", "owner", "self", "file"}

    def lifecycle(target: Target) -> list:
        image = target.create(name="sim-conformance-shape", disk_format="raw", container_format="bare", custom="c")
        upload = target.client.put(f"/v2/images/{image['id']}/file", content=b"abc",
                                   headers={"Content-Type": "application/octet-stream"})
        active = target.client.get(f"/v2/images/{image['id']}").json()
        return [list(image), {k: v for k, v in image.items() if k not in varying},
                upload.status_code, upload.headers.get("content-type"),
                list(active), {k: v for k, v in active.items() if k not in varying}]

    assert lifecycle(simulator) == lifecycle(real)


@pytest.mark.real_glance
@pytest.mark.parametrize("accept", ["application/json", "*/*", "text/plain", ""])
def test_simulator_and_real_glance_render_errors_alike(simulator, real, accept):
    def rendered(target: Target) -> tuple:
        image = target.create()
        response = target.patch(image["id"], [{"op": "remove", "path": "/nope"}], accept=accept)
        missing = target.client.get("/v2/images?limit=-1", headers={"Accept": accept})
        return (response.status_code, response.headers["content-type"], response.text,
                missing.status_code, missing.headers["content-type"], missing.text)

    assert rendered(simulator) == rendered(real)
