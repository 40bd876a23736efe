"""PATCH /v2/images/{id}: Glance's rules in the simulator, and the same rules client-side in the models."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from workbench.providers.glance.models import (
    MEDIA_TYPE_BY_DIALECT,
    PATCH_V20_MEDIA_TYPE,
    PATCH_V21_MEDIA_TYPE,
    READ_ONLY_ATTRIBUTES,
    Image,
    ImagePatch,
    ImsImage,
    ImagesList,
    ImageCreate,
    PatchOperation,
    decode_pointer,
    encode_pointer,
    to_dialect,
)

V21 = PATCH_V21_MEDIA_TYPE
V20 = PATCH_V20_MEDIA_TYPE
IMS_EXAMPLE_ID = "33ad552d-1149-471c-8190-ff6776174a00"
ACCEPT_PATCH = f"{V20}, {V21}"


@pytest.fixture
def auth(sim_endpoints) -> dict[str, str]:
    return {"X-Auth-Token": sim_endpoints["tokens"]["glance"], "Accept": "application/json"}


@pytest.fixture
async def image(sim_client, auth) -> dict:
    response = await sim_client.post("/glance/v2/images", headers=auth, json={
        "name": "patch-me", "disk_format": "raw", "container_format": "bare", "my_prop": "v1"})
    assert response.status_code == 201
    return response.json()


async def patch(client, auth, image_id, body, media_type=V21, prefix="/glance"):
    headers = {**auth}
    if media_type is not None:
        headers["Content-Type"] = media_type
    # raw bytes: httpx adds no Content-Type of its own
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return await client.patch(f"{prefix}/v2/images/{image_id}", headers=headers, content=content)


def detail(response) -> str:
    """The specific words of a Glance error: webob's detail, else its explanation."""
    explanation, _, rest = response.json()["message"].partition("<br /><br />")
    return rest.strip() or explanation.strip()


# -- success in both dialects --------------------------------------------------------------


async def test_v21_replace_add_remove_in_one_request(sim_client, auth, image):
    ops = [{"op": "replace", "path": "/name", "value": "renamed"},
           {"op": "add", "path": "/my_prop2", "value": "x"},
           {"op": "remove", "path": "/my_prop"}]
    response = await patch(sim_client, auth, image["id"], ops)
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "renamed" and body["my_prop2"] == "x" and "my_prop" not in body
    assert body["id"] == image["id"] and body["self"] == image["self"]  # the full image comes back
    assert body["updated_at"] >= image["updated_at"]


async def test_v20_body_with_the_v20_media_type(sim_client, auth, image):
    response = await patch(sim_client, auth, image["id"], [{"replace": "/name", "value": "v20"},
                                                            {"add": "/fresh", "value": "1"},
                                                            {"remove": "/my_prop"}], V20)
    assert response.status_code == 200
    assert response.json()["name"] == "v20" and response.json()["fresh"] == "1"


async def test_add_of_an_existing_property_overwrites_in_v21_but_conflicts_in_v20(sim_client, auth, image):
    v21 = await patch(sim_client, auth, image["id"], [{"op": "add", "path": "/my_prop", "value": "v2"}])
    assert v21.status_code == 200 and v21.json()["my_prop"] == "v2"
    v20 = await patch(sim_client, auth, image["id"], [{"add": "/my_prop", "value": "v3"}], V20)
    assert v20.status_code == 409
    assert v20.json()["message"] == ("There was a conflict when trying to complete your request.<br /><br />\n"
                                     "Property my_prop already present.\n\n")
    core = await patch(sim_client, auth, image["id"], [{"add": "/name", "value": "x"}], V20)
    assert core.status_code == 409 and detail(core) == "Property name already present."


async def test_an_empty_patch_changes_nothing(sim_client, auth, image):
    response = await patch(sim_client, auth, image["id"], [])
    assert response.status_code == 200 and response.json()["updated_at"] == image["updated_at"]


async def test_escaped_pointers_name_odd_properties(sim_client, auth, image):
    response = await patch(sim_client, auth, image["id"], [{"op": "add", "path": "/a~1b", "value": "slash"},
                                                            {"op": "add", "path": "/c~0d", "value": "tilde"}])
    assert response.status_code == 200
    assert response.json()["a/b"] == "slash" and response.json()["c~d"] == "tilde"


async def test_tags_are_replaced_as_a_whole_and_deduplicated(sim_client, auth, image):
    response = await patch(sim_client, auth, image["id"], [{"op": "replace", "path": "/tags", "value": ["b", "a", "b"]}])
    assert response.status_code == 200 and response.json()["tags"] == ["b", "a"]


# -- errors, with Glance's statuses and messages ----------------------------------------------------

CASES = [
    # (body, media type, status, message text)
    ([{"op": "remove", "path": "/nope"}], V21, 409, "Property nope does not exist."),
    ([{"op": "replace", "path": "/nope", "value": "y"}], V21, 409, "Property nope does not exist."),
    ([{"replace": "/nope", "value": "y"}], V20, 409, "Property nope does not exist."),
    ([{"op": "replace", "path": "/status", "value": "active"}], V21, 403, "Attribute 'status' is read-only."),
    ([{"op": "add", "path": "/id", "value": "x"}], V21, 403, "Attribute 'id' is read-only."),
    ([{"op": "remove", "path": "/checksum"}], V21, 403, "Attribute 'checksum' is read-only."),
    ([{"op": "remove", "path": "/name"}], V21, 403, "Property name may not be removed."),
    ([{"op": "remove", "path": "/visibility"}], V21, 403, "Property visibility may not be removed."),
    ([{"op": "add", "path": "/os_glance_foo", "value": "x"}], V21, 403, "Attribute 'os_glance_foo' is reserved."),
    ([{"op": "add", "path": "/deleted_at", "value": "x"}], V21, 403, "Attribute 'deleted_at' is reserved."),
    ([{"op": "move", "from": "/a", "path": "/b"}], V21, 400,
     "Invalid operation: `move`. It must be one of the following: add, remove, replace."),
    ([{"op": "test", "path": "/b", "value": "x"}], V21, 400,
     "Invalid operation: `test`. It must be one of the following: add, remove, replace."),
    ([{"replace": "/name", "value": "q"}], V21, 400,
     "Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace."),
    ([{"op": "replace", "path": "/name", "value": "q"}], V20, 400,
     'Operation objects must contain exactly one member named "add", "remove", or "replace".'),
    ([{"add": "/a", "replace": "/b", "value": "x"}], V20, 400,
     'Operation objects must contain only one member named "add", "remove", or "replace".'),
    ([{"op": "replace", "value": "x"}], V21, 400, "Unable to find 'path' in JSON Schema change"),
    ([{"op": "replace", "path": "name", "value": "q"}], V21, 400, 'Pointer `name` does not start with "/".'),
    ([{"op": "replace", "path": "/a/b", "value": "q"}], V21, 400, "Invalid JSON pointer for this resource: '/a/b'"),
    ([{"op": "add", "path": "/tags/-", "value": "q"}], V21, 400, "Invalid JSON pointer for this resource: '/tags/-'"),
    ([{"op": "add", "path": "/a/", "value": "q"}], V21, 400, 'Pointer `/a/` end with "/".'),
    ([{"op": "add", "path": "/a~2b", "value": "q"}], V21, 400,
     'Pointer `/a~2b` contains "~" not part of a recognized escape sequence.'),
    ([{"op": "replace", "path": "/name"}], V21, 400, 'Operation "replace" requires a member named "value".'),
    ([{"replace": "/name"}], V20, 400, 'Operation "replace" requires a member named "value".'),
    ([1], V21, 400, "Operations must be JSON objects."),
    ({"op": "replace", "path": "/name", "value": "q"}, V21, 400,
     "Request body must be a JSON array of operation objects."),
    (b"{not json", V21, 400, "Malformed JSON in request body."),
    ([{"op": "replace", "path": "/min_ram", "value": -5}], V21, 400,
     "Invalid value '-5' for parameter 'min_ram': Cannot be a negative value"),
    ([{"op": "replace", "path": "/owner", "value": "other"}], V21, 403, "Owner can't be updated by non admin."),
    ([{"op": "replace", "path": "/visibility", "value": "public"}], V21, 403,
     "You are not authorized to complete publicize_image action."),
    ([{"op": "add", "path": "/locations/-", "value": {"url": "http://x/y", "metadata": {}}}], V21, 403,
     "It's not allowed to add locations if locations are invisible."),
    ([{"op": "replace", "path": "/locations", "value": []}], V21, 403, "Cannot set locations to empty list."),
]


@pytest.mark.parametrize("body, media_type, status, text", CASES)
async def test_patch_errors_match_glance(sim_client, auth, image, body, media_type, status, text):
    response = await patch(sim_client, auth, image["id"], body, media_type)
    assert response.status_code == status, response.text
    assert text in response.json()["message"]
    assert response.json()["code"].startswith(str(status))


@pytest.mark.parametrize("path, value, first_line", [
    ("/my_prop", 5, "5 is not of type 'string'"),
    ("/my_prop", None, "None is not of type 'string'"),
    ("/min_ram", "5", "'5' is not of type 'integer'"),
    ("/min_ram", True, "True is not of type 'integer'"),
    ("/protected", "true", "'true' is not of type 'boolean'"),
    ("/visibility", "bogus", "'bogus' is not one of ['community', 'public', 'private', 'shared']"),
    ("/name", "x" * 256, f"'{'x' * 256}' is too long"),
    ("/tags", [1], "1 is not of type 'string'"),
])
async def test_schema_violations_are_400_naming_the_property(sim_client, auth, image, path, value, first_line):
    response = await patch(sim_client, auth, image["id"], [{"op": "replace", "path": path, "value": value}])
    assert response.status_code == 400
    message = response.json()["message"]
    assert message.startswith(f"Provided object does not match schema 'image': {first_line}\n\nFailed validating")


@pytest.mark.parametrize("content_type, shown", [
    ("application/json-patch+json", "application/json-patch+json"),
    ("application/json", "application/json"),
    (None, "${CONTENT_TYPE}"),
])
async def test_other_media_types_are_415_with_accept_patch(sim_client, auth, image, content_type, shown):
    response = await patch(sim_client, auth, image["id"], [{"op": "replace", "path": "/name", "value": "q"}],
                           content_type)
    assert response.status_code == 415
    assert response.headers["accept-patch"] == ACCEPT_PATCH
    assert response.json()["message"] == (
        f"The request media type {shown} is not supported by this server.\n<br /><br />\n"
        f"Image PATCH expects Content-Type one of: {ACCEPT_PATCH}")


async def test_media_type_parameters_are_ignored(sim_client, auth, image):
    response = await patch(sim_client, auth, image["id"], [{"op": "replace", "path": "/name", "value": "cs"}],
                           f"{V21}; charset=UTF-8")
    assert response.status_code == 200 and response.json()["name"] == "cs"


@pytest.mark.parametrize("ops", [
    [{"op": "replace", "path": "/name", "value": "ok"}, {"op": "remove", "path": "/nope"}],
    [{"op": "add", "path": "/fresh", "value": "1"}, {"op": "replace", "path": "/status", "value": "x"}],
    [{"op": "replace", "path": "/name", "value": "ok"}, {"op": "replace", "path": "/min_ram", "value": -1}],
])
async def test_patches_are_atomic(sim_client, auth, image, ops):
    response = await patch(sim_client, auth, image["id"], ops)
    assert response.status_code in (400, 403, 409)
    after = (await sim_client.get(f"/glance/v2/images/{image['id']}", headers=auth)).json()
    assert after == image


async def test_deserializer_errors_win_over_apply_errors(sim_client, auth, image):
    # Glance validates every op before applying any: the read-only op fails first.
    response = await patch(sim_client, auth, image["id"], [{"op": "remove", "path": "/nope"},
                                                            {"op": "replace", "path": "/status", "value": "x"}])
    assert response.status_code == 403


async def test_formats_change_only_while_queued(sim_client, auth, image):
    changed = await patch(sim_client, auth, image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert changed.status_code == 200
    back = await patch(sim_client, auth, image["id"], [{"op": "replace", "path": "/disk_format", "value": "raw"}])
    assert back.status_code == 200
    upload = await sim_client.put(f"/glance/v2/images/{image['id']}/file", content=b"abc",
                                  headers={**auth, "Content-Type": "application/octet-stream"})
    assert upload.status_code == 204
    late = await patch(sim_client, auth, image["id"], [{"op": "replace", "path": "/disk_format", "value": "qcow2"}])
    assert late.status_code == 403
    assert detail(late) == "Attribute disk_format can be only replaced for a queued image."


async def test_patch_of_a_missing_image_is_404_after_body_checks(sim_client, auth):
    missing = "00000000-0000-0000-0000-000000000000"
    assert (await patch(sim_client, auth, missing, [])).status_code == 404
    assert (await patch(sim_client, auth, missing, b"[{bad")).status_code == 400
    assert (await patch(sim_client, auth, missing, [], "application/json")).status_code == 415


# -- the IMS flavour ------------------------------------------------------------------------------


async def test_ims_patch_of_the_seed_example_renames_it(sim_client, auth):
    before = (await sim_client.get(f"/ims/v2/images/{IMS_EXAMPLE_ID}", headers=auth)).json()
    response = await patch(sim_client, auth, IMS_EXAMPLE_ID, [{"op": "replace", "path": "/name", "value": "test01"}],
                           prefix="/ims")
    assert response.status_code == 200
    after = response.json()
    assert after["name"] == "test01"
    assert set(after) == set(before)  # field for field, as in the documented answer
    v20 = await patch(sim_client, auth, IMS_EXAMPLE_ID, [{"replace": "/name", "value": "test02"}], V20, prefix="/ims")
    assert v20.status_code == 200 and v20.json()["name"] == "test02"


@pytest.mark.parametrize("ops", [
    [{"op": "replace", "path": "/__description", "value": "new words"}],
    [{"op": "add", "path": "/owner_team", "value": "web"}],
    [{"op": "remove", "path": "/__description"}],
])
async def test_ims_lets_name_description_and_custom_attributes_change(sim_client, auth, ops):
    response = await patch(sim_client, auth, IMS_EXAMPLE_ID, ops, prefix="/ims")
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("path", ["/min_ram", "/visibility", "/protected", "/__os_version", "/__platform",
                                  "/hw_firmware_type", "/virtual_env_type", "/tags"])
async def test_ims_refuses_everything_else(sim_client, auth, path):
    response = await patch(sim_client, auth, IMS_EXAMPLE_ID, [{"op": "replace", "path": path, "value": "x"}],
                           prefix="/ims")
    if path in ("/min_ram", "/protected", "/tags", "/visibility"):
        # a value of the wrong type fails Glance's schema check first
        assert response.status_code in (400, 403)
    else:
        assert response.status_code == 403
        assert f"Attribute '{path[1:]}' cannot be modified" in response.json()["message"]
    after = (await sim_client.get(f"/ims/v2/images/{IMS_EXAMPLE_ID}", headers=auth)).json()
    assert after[path[1:]] != "x"


async def test_ims_read_only_attributes_keep_glances_message(sim_client, auth):
    response = await patch(sim_client, auth, IMS_EXAMPLE_ID, [{"op": "replace", "path": "/status", "value": "x"}],
                           prefix="/ims")
    assert response.status_code == 403 and detail(response) == "Attribute 'status' is read-only."


async def test_ims_min_ram_with_a_valid_value_is_refused_by_the_ims_rule(sim_client, auth):
    response = await patch(sim_client, auth, IMS_EXAMPLE_ID, [{"op": "replace", "path": "/min_ram", "value": 1024}],
                           prefix="/ims")
    assert response.status_code == 403
    assert "only lets custom attributes, name and __description change" in response.json()["message"]


# -- client-side models: the same rules before sending --------------------------------------------


def test_to_dialect_renders_each_documented_body():
    ops = [PatchOperation.replace("name", "test01"), PatchOperation.add("a/b", "x"), PatchOperation.remove("old")]
    assert to_dialect(ops, "v2.1") == [{"op": "replace", "path": "/name", "value": "test01"},
                                       {"op": "add", "path": "/a~1b", "value": "x"},
                                       {"op": "remove", "path": "/old"}]
    assert to_dialect(ops, "v2.0") == [{"replace": "/name", "value": "test01"}, {"add": "/a~1b", "value": "x"},
                                       {"remove": "/old"}]
    assert to_dialect([{"op": "replace", "path": "/name", "value": None}], "v2.0") == [{"replace": "/name", "value": None}]
    with pytest.raises(ValueError, match="dialect"):
        to_dialect(ops, "v3")
    assert MEDIA_TYPE_BY_DIALECT == {"v2.1": V21, "v2.0": V20}


@pytest.mark.parametrize("raw, needle", [
    ({"op": "move", "path": "/a"}, "op"),
    ({"op": "replace", "path": "/status", "value": "x"}, "'status' is read-only"),
    ({"op": "add", "path": "/os_glance_x", "value": "x"}, "reserved"),
    ({"op": "add", "path": "/location", "value": "x"}, "reserved"),
    ({"op": "add", "path": "/tags/-", "value": "x"}, "more than one reference token"),
    ({"op": "add", "path": "name", "value": "x"}, "must start with '/'"),
    ({"op": "add", "path": "/a~2", "value": "x"}, "escape"),
    ({"op": "add", "path": "/x"}, "'value' is required for 'add'"),
    ({"op": "add", "path": "/locations", "value": []}, "Invalid JSON pointer for this resource: '/locations'"),
    ({"op": "remove", "path": "/name"}, "'name' is a core attribute"),
    ({"op": "add", "path": "/p", "value": 5}, "custom property 'p' must be a string"),
    ({"op": "replace", "path": "/min_ram", "value": -1}, "must not be negative"),
    ({"op": "replace", "path": "/visibility", "value": "everyone"}, "must be one of community, public"),
    ({"op": "replace", "path": "/name", "value": "x" * 256}, "at most 255"),
    ({"op": "replace", "path": "/tags", "value": "a"}, "list of strings"),
])
def test_client_side_rules_name_the_field_and_rule(raw, needle):
    with pytest.raises(ValidationError) as caught:
        PatchOperation.model_validate(raw)
    assert needle in str(caught.value)


def test_a_value_on_a_remove_is_ignored_as_rfc_6902_says():
    operation = PatchOperation.model_validate({"op": "remove", "path": "/x", "value": "1"})
    assert operation.render("v2.1") == {"op": "remove", "path": "/x"}
    assert operation.render("v2.0") == {"remove": "/x"}


def test_every_read_only_attribute_is_refused_client_side():
    for attribute in READ_ONLY_ATTRIBUTES:
        with pytest.raises(ValidationError):
            PatchOperation.replace(attribute, "x")


def test_v20_operations_parse_into_the_canonical_shape():
    op = PatchOperation.from_v20({"replace": "/name", "value": "n"})
    assert (op.op, op.path, op.value) == ("replace", "/name", "n")
    assert PatchOperation.from_v20({"remove": "/x"}).render("v2.1") == {"op": "remove", "path": "/x"}
    with pytest.raises(ValueError, match="exactly one member"):
        PatchOperation.from_v20({"add": "/a", "remove": "/b"})
    with pytest.raises(ValueError, match="exactly one member"):
        PatchOperation.from_v20({"op": "add", "path": "/a", "value": "1"})


def test_image_patch_applies_the_ims_restriction():
    ok = ImagePatch(operations=[PatchOperation.replace("name", "n"), PatchOperation.add("__description", "d"),
                                PatchOperation.add("team", "web")], flavour="ims", dialect="v2.0")
    assert ok.media_type == V20 and ok.body()[0] == {"replace": "/name", "value": "n"}
    for attribute, value in (("min_ram", 1), ("__os_version", "x"), ("hw_firmware_type", "uefi"), ("__anything", "x")):
        with pytest.raises(ValidationError, match="cannot change on Huawei IMS"):
            ImagePatch(operations=[{"op": "replace", "path": f"/{attribute}", "value": value}], flavour="ims")
    # the same operation is fine on plain Glance
    assert ImagePatch(operations=[{"op": "replace", "path": "/min_ram", "value": 1}]).body()
    # IMS's own disk formats are not Glance's
    with pytest.raises(ValidationError, match="must be null or one of"):
        ImagePatch(operations=[{"op": "replace", "path": "/disk_format", "value": "zvhd2"}])


def test_pointers_round_trip():
    for name in ("plain", "a/b", "c~d", "~/.ssh/"):
        assert decode_pointer(encode_pointer(name)) == name
    assert encode_pointer("~/.ssh/") == "/~0~1.ssh~1"


async def test_models_read_what_the_simulator_answers(sim_client, auth, image):
    listed = (await sim_client.get("/glance/v2/images?limit=3", headers=auth)).json()
    page = ImagesList.model_validate(listed)
    assert len(page.images) == 3 and page.next_marker == listed["images"][-1]["id"]
    model = Image.model_validate(image)
    assert model.properties == {"my_prop": "v1"} and model.to_api() == image
    ims = (await sim_client.get(f"/ims/v2/images/{IMS_EXAMPLE_ID}", headers=auth)).json()
    ims_model = ImsImage.model_validate(ims)
    assert ims_model.os_version == "Ubuntu 14.04 server 64bit" and ims_model.to_api() == ims
    with pytest.raises(ValidationError, match="custom property 'n' must be a string"):
        Image.model_validate({**image, "n": 5})


def test_image_create_renders_custom_properties_top_level():
    create = ImageCreate(name="x", disk_format="raw", container_format="bare", properties={"os_distro": "ubuntu"})
    assert create.body() == {"name": "x", "disk_format": "raw", "container_format": "bare", "os_distro": "ubuntu"}
    with pytest.raises(ValidationError, match="read-only"):
        ImageCreate(properties={"status": "active"})
    with pytest.raises(ValidationError, match="must be one of"):
        ImageCreate(disk_format="zvhd2")
    assert ImageCreate.model_validate({"disk_format": "zvhd2"}, context={"flavour": "ims"}).disk_format == "zvhd2"
