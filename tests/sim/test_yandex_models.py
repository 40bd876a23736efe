"""Yandex Compute models: proto3 JSON shape and every documented request rule.

The ``.proto`` files in ``../shared/specs/yandex`` are the reference: the
helpers here parse their messages and fields, and ``assert_proto_json`` checks
a JSON body against them (also used by the simulator tests).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import pytest
from pydantic import ValidationError

from workbench.providers.yandex import models as ym
from workbench.providers.yandex.models import (
    Code,
    CreateIamTokenRequest,
    CreateImageMetadata,
    CreateImageRequest,
    GetImageLatestByFamilyRequest,
    Image,
    ImageStatus,
    ListImagesRequest,
    Operation,
    OsType,
    Status,
    UpdateImageRequest,
)

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs" / "yandex"
RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z")
# messages the specs import from googleapis, by field: json name -> type
WELL_KNOWN = {
    "google.rpc.Status": {"code": "int32", "message": "string", "details": "repeated google.protobuf.Any"},
    "google.rpc.RequestInfo": {"requestId": "string", "servingData": "string"},
    "google.rpc.BadRequest": {"fieldViolations": "repeated google.rpc.BadRequest.FieldViolation"},
    "google.rpc.BadRequest.FieldViolation": {"field": "string", "description": "string"},
    "google.protobuf.Empty": {},
}


# -- reading the .proto files ---------------------------------------------------------------
def json_name(field: str) -> str:
    """protoc's lowerCamelCase JSON name of a field."""
    head, *rest = field.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def proto_messages() -> dict[str, dict[str, str]]:
    """Full message name -> {json field name: type} for every message in the specs."""
    return _read_protos()[0]


def proto_enums() -> set[str]:
    return _read_protos()[1]


@lru_cache
def _read_protos() -> tuple[dict[str, dict[str, str]], set[str]]:
    if not SPECS.is_dir():
        pytest.skip(f"the Yandex .proto specs are not at {SPECS}")
    messages: dict[str, dict[str, str]] = {}
    enums: set[str] = set()
    field_re = re.compile(r"^\s*(repeated\s+)?(map<[^>]+>|[\w.]+)\s+(\w+)\s*=\s*\d+")
    for path in sorted(SPECS.glob("*.proto")):
        text = re.sub(r"//[^\n]*", "", path.read_text())
        package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)
        stack: list[tuple[str, str]] = []  # (kind, full name)
        for line in text.splitlines():
            opened = re.match(r"\s*(message|enum|oneof|service|extend)\s+([\w.]+)\s*\{", line)
            if opened:
                kind, name = opened.groups()
                outer = next((n for k, n in reversed(stack) if k == "message"), package)
                stack.append((kind, f"{outer}.{name}" if kind in ("message", "enum") else name))
                if kind == "message":
                    messages.setdefault(stack[-1][1], {})
                elif kind == "enum":
                    enums.add(stack[-1][1])
            elif stack and stack[-1][0] in ("message", "oneof"):
                match = field_re.match(line)
                if match and not line.strip().startswith(("option", "reserved", "rpc")):
                    repeated, type_name, name = match.groups()
                    owner = next(n for k, n in reversed(stack) if k == "message")
                    messages[owner][json_name(name)] = ("repeated " if repeated else "") + type_name
            if "{" in line and not opened:
                stack.append(("block", ""))
            if "}" in line and stack:
                stack.pop()
    return messages, enums


def _resolve(type_name: str, scope: str = "") -> str | None:
    """The full name of a message or enum type as protoc resolves it from ``scope``."""
    known = {**proto_messages(), **WELL_KNOWN}
    parts = scope.split(".") if scope else []
    for depth in range(len(parts), -1, -1):  # innermost scope first
        candidate = ".".join([*parts[:depth], type_name])
        if candidate in known or candidate in proto_enums():
            return candidate
    # a relative name into a sibling package, e.g. operation.Operation from compute.v1
    for name in [*known, *proto_enums()]:
        if name.endswith("." + type_name):
            return name
    return None


def assert_proto_json(value: dict, message: str, path: str = "$", *, done_always: bool = True) -> None:
    """``value`` is canonical proto3 JSON of ``message``: known names, typed values, no defaults."""
    known = {**proto_messages(), **WELL_KNOWN}
    fields = known[message]
    for key, item in value.items():
        where = f"{path}.{key}"
        assert key in fields, f"{where}: {message} has no field {key!r} (fields: {sorted(fields)})"
        type_name = fields[key]
        repeated = type_name.startswith("repeated ")
        type_name = type_name.removeprefix("repeated ")
        if repeated:
            assert isinstance(item, list) and item, f"{where}: a repeated field is a non-empty list when present"
            for index, element in enumerate(item):
                _assert_value(element, type_name, f"{where}[{index}]", message)
        else:
            is_done = message == "yandex.cloud.operation.Operation" and key == "done"
            resolved = _resolve(type_name, message)
            is_message = resolved is not None and resolved not in proto_enums()  # a set empty message is {}
            if not (is_done and done_always) and not is_message:
                assert item not in ("", "0", 0, False, None), f"{where}: default value {item!r} must be left out"
            _assert_value(item, type_name, where, message)


def _assert_value(item, type_name: str, where: str, scope: str) -> None:
    if type_name.startswith("map<"):
        assert isinstance(item, dict) and all(isinstance(v, str) for v in item.values()), where
    elif type_name in ("int64", "uint64", "fixed64", "sint64"):
        assert isinstance(item, str) and re.fullmatch(r"-?\d+", item), f"{where}: int64 must be a string, got {item!r}"
    elif type_name in ("int32", "uint32"):
        assert isinstance(item, int) and not isinstance(item, bool), where
    elif type_name == "string":
        assert isinstance(item, str), where
    elif type_name == "bool":
        assert isinstance(item, bool), where
    elif type_name == "google.protobuf.Timestamp":
        assert isinstance(item, str) and RFC3339_UTC.fullmatch(item), f"{where}: not RFC 3339 UTC: {item!r}"
    elif type_name == "google.protobuf.Any":
        assert isinstance(item, dict) and item.get("@type", "").startswith("type.googleapis.com/"), where
        inner = _resolve(item["@type"].removeprefix("type.googleapis.com/"))
        assert inner is not None, f"{where}: unknown @type {item['@type']}"
        assert_proto_json({k: v for k, v in item.items() if k != "@type"}, inner, where)
    else:
        resolved = _resolve(type_name, scope)
        assert resolved is not None, f"{where}: unknown type {type_name}"
        if resolved in proto_enums():
            assert isinstance(item, str) and item.isupper(), f"{where}: enum by name, got {item!r}"
        else:
            assert isinstance(item, dict), f"{where}: {type_name} is a message"
            assert_proto_json(item, resolved, where)


# -- the parsed protos themselves --------------------------------------------------------------
def test_the_proto_parser_reads_image_and_operation():
    image = proto_messages()["yandex.cloud.compute.v1.Image"]
    assert set(image) == {
        "id", "folderId", "createdAt", "name", "description", "labels", "family", "size", "storageSize",
        "minDiskSize", "productIds", "status", "os", "pooled", "hardwareGeneration", "kmsKey",
    }
    assert image["size"] == "int64" and image["productIds"] == "repeated string"
    operation = proto_messages()["yandex.cloud.operation.Operation"]
    assert set(operation) == {"id", "description", "createdAt", "createdBy", "modifiedAt", "done", "metadata",
                              "error", "response"}


@pytest.mark.parametrize("model", [
    ym.Image, ym.Os, ym.Nvidia, ym.HardwareGeneration, ym.LegacyHardwareFeatures, ym.KMSKey,
    ym.CreateImageRequest, ym.UpdateImageRequest, ym.ListImagesRequest, ym.ListImagesResponse,
    ym.GetImageLatestByFamilyRequest, ym.ListImageOperationsRequest, ym.ListImageOperationsResponse,
    ym.CreateImageMetadata, ym.UpdateImageMetadata, ym.DeleteImageMetadata, ym.Operation,
])
def test_models_have_exactly_the_proto_fields(model):
    aliases = {info.alias for info in model.model_fields.values()}
    assert aliases == set(proto_messages()[model.PROTO_NAME]), model.__name__


# -- proto3 JSON ------------------------------------------------------------------------------
def _image_wire() -> dict:
    return {
        "id": "fd8abcdefghijklmnopq", "folderId": "b1gfolder", "createdAt": "2024-09-16T10:52:46.123456789Z",
        "name": "ubuntu-22-04-lts-v20240916", "labels": {"env": "prod"}, "family": "ubuntu-2204-lts",
        "size": "4099785472", "storageSize": "3575497472", "minDiskSize": "8589934592",
        "productIds": ["f2ezlerhgt9efijwvlk4"], "status": "READY",
        "os": {"type": "LINUX", "nvidia": {"driver": "535.104.12"}}, "pooled": True,
        "hardwareGeneration": {"generation2Features": {}}, "kmsKey": {"keyId": "abj", "versionId": "v1"},
    }


def test_image_reads_proto3_json_into_python_types():
    image = Image.model_validate(_image_wire())
    assert image.size == 4099785472 and isinstance(image.min_disk_size, int)
    assert image.created_at == datetime(2024, 9, 16, 10, 52, 46, 123456, tzinfo=timezone.utc)
    assert image.status is ImageStatus.READY and image.os.type is OsType.LINUX
    assert image.hardware_generation.generation2_features is not None
    assert image.kms_key.version_id == "v1"


def test_image_renders_canonical_proto3_json():
    wire = Image.model_validate(_image_wire()).to_wire()
    assert wire["size"] == "4099785472" and wire["minDiskSize"] == "8589934592"
    assert wire["createdAt"] == "2024-09-16T10:52:46.123456Z"
    assert wire["hardwareGeneration"] == {"generation2Features": {}}  # a set empty message stays
    assert_proto_json(wire, Image.PROTO_NAME)


def test_default_values_are_left_out():
    wire = Image(id="fd8x", status=ImageStatus.CREATING, pooled=False, description="", size=0).to_wire()
    assert wire == {"id": "fd8x", "status": "CREATING"}


def test_parsers_accept_numbers_for_int64_and_enums_and_null_for_defaults():
    image = Image.model_validate({"id": "fd8x", "size": 5, "status": 2, "os": {"type": 2}, "description": None})
    assert image.size == 5 and image.status is ImageStatus.READY and image.os.type is OsType.WINDOWS
    assert image.description == ""


@pytest.mark.parametrize("bad", [{"size": True}, {"size": "12x"}, {"size": 1.5}, {"size": str(2**63)},
                                 {"status": "GONE"}, {"createdAt": 1700000000}, {"createdAt": "2024-01-01"},
                                 {"createdAt": "2024-01-01T00:00:00"}, {"pooled": "true"}])
def test_wrongly_typed_values_are_refused(bad):
    with pytest.raises(ValidationError):
        Image.model_validate({"id": "fd8x", **bad})


def test_responses_ignore_unknown_fields_but_requests_refuse_them():
    assert Image.model_validate({"id": "fd8x", "brandNew": 1}).id == "fd8x"
    with pytest.raises(ValidationError) as caught:
        CreateImageRequest.model_validate({"folderId": "b1g", "diskId": "fhm1", "brandNew": 1})
    assert ("brandNew", "unknown field") in ym.field_violations(caught.value)


def test_timestamps_format_with_0_3_or_6_fraction_digits():
    assert ym.format_timestamp(datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)) == "2024-01-02T03:04:05Z"
    assert ym.format_timestamp(datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=timezone.utc)) == "2024-01-02T03:04:05.120Z"
    assert ym.format_timestamp(datetime(2024, 1, 2, 3, 4, 5, 7, tzinfo=timezone.utc)) == "2024-01-02T03:04:05.000007Z"
    moscow = Image.model_validate({"createdAt": "2024-01-02T06:04:05+03:00"})
    assert moscow.to_wire()["createdAt"] == "2024-01-02T03:04:05Z"


# -- CreateImageRequest rules ------------------------------------------------------------------
VALID = {"folderId": "b1gdemofolder0000000", "diskId": "fhmdemodisk000000001"}


def violations(body: dict) -> list[tuple[str, str]]:
    with pytest.raises(ValidationError) as caught:
        CreateImageRequest.model_validate(body)
    return ym.field_violations(caught.value)


@pytest.mark.parametrize("changes", [
    {"name": ""}, {"name": "a"}, {"name": "my-image-01"}, {"name": "my_image"}, {"name": "a" * 63},
    {"description": "d" * 256}, {"labels": {f"k{i}": "v" for i in range(64)}},
    {"labels": {"a": "", "k" + "x" * 62: "v" * 63, "team@corp.dept/x_y-z": "a.b/c@d_e-f"}},
    {"family": ""}, {"family": "abc"}, {"family": "a" + "b" * 61 + "c"},
    {"minDiskSize": "4194304"}, {"minDiskSize": 4398046511104}, {"minDiskSize": "0"},
    {"productIds": ["p" * 50]}, {"os": {"type": "WINDOWS"}}, {"os": {"type": "LINUX", "nvidia": {"driver": "535"}}},
    {"pooled": True}, {"hardwareGeneration": {"legacyFeatures": {"pciTopology": "PCI_TOPOLOGY_V2"}}},
    {"hardwareGeneration": {"generation2Features": {}}},
])
def test_valid_create_requests_pass(changes):
    request = CreateImageRequest.model_validate({**VALID, **changes})
    assert request.source == ("diskId", "fhmdemodisk000000001")


@pytest.mark.parametrize("changes, field, rule", [
    ({"folderId": ""}, "folderId", "required"),
    ({"folderId": "f" * 51}, "folderId", "at most 50"),
    ({"name": "Upper"}, "name", "regular expression"),
    ({"name": "1abc"}, "name", "regular expression"),
    ({"name": "ends-with-"}, "name", "regular expression"),
    ({"name": "a" * 64}, "name", "regular expression"),
    ({"description": "d" * 257}, "description", "at most 256"),
    ({"labels": {f"k{i}": "v" for i in range(65)}}, "labels", "at most 64"),
    ({"labels": {"": "v"}}, "labels", "1-63 characters"),
    ({"labels": {"k" * 64: "v"}}, "labels", "1-63 characters"),
    ({"labels": {"Env": "v"}}, "labels", "regular expression"),
    ({"labels": {"9env": "v"}}, "labels", "regular expression"),
    ({"labels": {"env": "v" * 64}}, "labels", "at most 63"),
    ({"labels": {"env": "Prod"}}, "labels", "regular expression"),
    ({"labels": {"env": "a b"}}, "labels", "regular expression"),
    ({"family": "ab"}, "family", "regular expression"),
    ({"family": "a_b"}, "family", "regular expression"),
    ({"family": "abc-"}, "family", "regular expression"),
    ({"minDiskSize": "4194303"}, "minDiskSize", "between 4194304 and 4398046511104"),
    ({"minDiskSize": 4398046511105}, "minDiskSize", "between 4194304 and 4398046511104"),
    ({"minDiskSize": "-1"}, "minDiskSize", "between"),
    ({"productIds": ["ok", "p" * 51]}, "productIds[1]", "at most 50"),
    ({"os": {"type": "MACOS"}}, "os.type", "LINUX, WINDOWS"),
    ({"hardwareGeneration": {"legacyFeatures": {}, "generation2Features": {}}}, "hardwareGeneration", "only one"),
    ({"pooled": "yes"}, "pooled", "boolean"),
])
def test_each_create_rule_names_the_field_and_the_rule(changes, field, rule):
    found = violations({**VALID, **changes})
    assert any(f == field and rule in r for f, r in found), found


@pytest.mark.parametrize("source", [
    {"imageId": "i" * 51}, {"diskId": "d" * 51}, {"snapshotId": "s" * 51},
])
def test_source_ids_are_at_most_50_characters(source):
    field = next(iter(source))
    found = violations({"folderId": "b1g", **source})
    assert any(f == field and "at most 50" in r for f, r in found), found


def test_exactly_one_source_is_required():
    assert violations({"folderId": "b1g"}) == [("source", "exactly one of imageId, diskId, snapshotId, uri must be set")]
    assert violations({"folderId": "b1g", "diskId": ""})[0][0] == "source"
    both = violations({"folderId": "b1g", "diskId": "fhm1", "snapshotId": "fd8s"})
    assert both[0][0] == "source" and "diskId, snapshotId" in both[0][1]


@pytest.mark.parametrize("uri", [
    "https://storage.yandexcloud.net/my-bucket/images/ubuntu.qcow2",
    "https://storage.cloud.yandex.net/my-bucket/disk.vmdk",
    "https://my-bucket.storage.yandexcloud.net/win/disk.vhd",
    "https://storage.yandexcloud.net/b/raw-disk.raw?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600",
    "https://storage.yandexcloud.net/b/jammy-server-cloudimg-amd64.img",
])
def test_object_storage_image_links_are_accepted(uri):
    assert CreateImageRequest.model_validate({"folderId": "b1g", "uri": uri}).source == ("uri", uri)


@pytest.mark.parametrize("uri, rule", [
    ("http://storage.yandexcloud.net/b/disk.qcow2", "https://"),
    ("https://example.com/b/disk.qcow2", "Object Storage"),
    ("https://storage.yandexcloud.net.evil.com/b/disk.qcow2", "Object Storage"),
    ("https://storage.yandexcloud.net/only-bucket", "bucket and an object"),
    ("https://storage.yandexcloud.net/b/disk.iso", "Qcow2, VMDK, VHD and RAW"),
    ("https://storage.yandexcloud.net/b/disk.qcow2.zip", "Qcow2, VMDK, VHD and RAW"),
    ("storage.yandexcloud.net/b/disk.qcow2", "https://"),
])
def test_other_links_are_refused(uri, rule):
    found = violations({"folderId": "b1g", "uri": uri})
    assert found[0][0] == "uri" and rule in found[0][1], found


def test_a_create_request_renders_the_documented_body():
    request = CreateImageRequest(folder_id="b1g", name="web", min_disk_size=10 * 2**30, labels={"env": "prod"},
                                 snapshot_id="fd8snap", os=ym.Os(type=OsType.LINUX))
    assert request.to_wire() == {"folderId": "b1g", "name": "web", "labels": {"env": "prod"},
                                 "minDiskSize": "10737418240", "snapshotId": "fd8snap", "os": {"type": "LINUX"}}
    assert_proto_json(request.to_wire(), CreateImageRequest.PROTO_NAME)


# -- the other requests -------------------------------------------------------------------------
def test_update_request_rules_and_mask():
    update = UpdateImageRequest.model_validate({"updateMask": "name,minDiskSize", "name": "renamed"})
    assert update.fields_to_update() == ["name", "min_disk_size"]
    assert UpdateImageRequest.model_validate({"labels": {"a": "b"}}).fields_to_update() == ["labels"]
    for body, field in [({"updateMask": "status"}, "updateMask"), ({"name": "Bad"}, "name"),
                        ({"minDiskSize": "1"}, "minDiskSize"), ({"labels": {"A": "b"}}, "labels"),
                        ({"description": "x" * 257}, "description"), ({"folderId": "b1g"}, "folderId")]:
        with pytest.raises(ValidationError) as caught:
            UpdateImageRequest.model_validate(body)
        assert ym.field_violations(caught.value)[0][0] == field


@pytest.mark.parametrize("query, field", [
    ({}, "folderId"), ({"folderId": "f" * 51}, "folderId"), ({"folderId": "b", "pageSize": "1001"}, "pageSize"),
    ({"folderId": "b", "pageSize": "-1"}, "pageSize"), ({"folderId": "b", "pageSize": "ten"}, "pageSize"),
    ({"folderId": "b", "pageToken": "t" * 101}, "pageToken"), ({"folderId": "b", "filter": "f" * 1001}, "filter"),
    ({"folderId": "b", "orderBy": "o" * 101}, "orderBy"),
])
def test_list_request_rules(query, field):
    with pytest.raises(ValidationError) as caught:
        ListImagesRequest.model_validate(query)
    assert ym.field_violations(caught.value)[0][0] == field


def test_list_page_size_defaults_to_100_and_allows_1000():
    assert ListImagesRequest.model_validate({"folderId": "b"}).effective_page_size == 100
    assert ListImagesRequest.model_validate({"folderId": "b", "pageSize": "1000"}).effective_page_size == 1000


def test_latest_by_family_request_rules():
    assert GetImageLatestByFamilyRequest.model_validate({"folderId": "b", "family": "debian-12"}).family == "debian-12"
    with pytest.raises(ValidationError):
        GetImageLatestByFamilyRequest.model_validate({"folderId": "b", "family": "Debian"})


def test_iam_token_request_is_exactly_one_identity():
    assert CreateIamTokenRequest.model_validate({"jwt": "a.b.c"}).jwt == "a.b.c"
    for body in ({}, {"jwt": "a.b.c", "yandexPassportOauthToken": "y0_x"}):
        with pytest.raises(ValidationError) as caught:
            CreateIamTokenRequest.model_validate(body)
        assert ym.field_violations(caught.value)[0][0] == "identity"


# -- operations and errors ----------------------------------------------------------------------
def test_operation_unpacks_its_metadata_and_response():
    op = Operation.model_validate({
        "id": "fd8op", "description": "Create image", "createdAt": "2024-01-01T00:00:00Z", "done": True,
        "metadata": {"@type": "type.googleapis.com/yandex.cloud.compute.v1.CreateImageMetadata", "imageId": "fd8i"},
        "response": {"@type": "type.googleapis.com/yandex.cloud.compute.v1.Image", "id": "fd8i", "status": "READY"},
    })
    assert op.metadata_as(CreateImageMetadata).image_id == "fd8i"
    assert op.response_as(Image).status is ImageStatus.READY
    assert op.response_as(CreateImageMetadata) is None  # wrong @type
    assert not op.failed


def test_operation_result_is_one_of_error_or_response():
    with pytest.raises(ValidationError):
        Operation.model_validate({"done": True, "error": {"code": 13}, "response": {"@type": "type.googleapis.com/x"}})
    with pytest.raises(ValidationError):
        Operation.model_validate({"metadata": {"imageId": "no @type"}})


def test_operation_states_done_even_when_false():
    wire = Operation(id="fd8op", metadata=CreateImageMetadata(image_id="fd8i").to_any()).to_wire()
    assert wire == {"id": "fd8op", "done": False, "metadata": {
        "@type": "type.googleapis.com/yandex.cloud.compute.v1.CreateImageMetadata", "imageId": "fd8i"}}
    assert_proto_json(wire, Operation.PROTO_NAME)


def test_error_body_and_code_table():
    body = Status.model_validate({"code": 5, "message": "Image fd8x not found", "details": [
        {"@type": "type.googleapis.com/google.rpc.RequestInfo", "requestId": "e38e71c3"}]})
    assert (body.http_status, body.code_name, body.request_id) == (404, "NOT_FOUND", "e38e71c3")
    expected = {Code.INVALID_ARGUMENT: 400, Code.NOT_FOUND: 404, Code.ALREADY_EXISTS: 409,
                Code.PERMISSION_DENIED: 403, Code.UNAUTHENTICATED: 401, Code.RESOURCE_EXHAUSTED: 429,
                Code.FAILED_PRECONDITION: 400, Code.UNAVAILABLE: 503, Code.CANCELLED: 499, Code.ABORTED: 409,
                Code.UNIMPLEMENTED: 501, Code.INTERNAL: 500, Code.DEADLINE_EXCEEDED: 504}
    for code, status in expected.items():
        assert ym.http_status_for(code) == status
    assert ym.http_status_for(99) == 500
    assert ym.code_for_http_status(429) is Code.RESOURCE_EXHAUSTED
    assert ym.code_for_http_status(502) is Code.INTERNAL


@pytest.mark.parametrize("bad", [
    {"size": 5}, {"brandNew": "x"}, {"description": ""}, {"pooled": False}, {"createdAt": "2024-01-01T00:00:00+03:00"},
    {"status": 2}, {"os": {"type": "LINUX", "kernel": "6.1"}}, {"productIds": []},
])
def test_the_shape_checker_catches_what_proto3_json_forbids(bad):
    with pytest.raises(AssertionError):
        assert_proto_json({"id": "fd8x", **bad}, Image.PROTO_NAME)
