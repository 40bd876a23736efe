"""Property tests for every request model and builder, against the documented rules.

For each model hypothesis draws inputs on both sides of the API's rules:

- Yandex ``CreateImage``: names, families, labels, descriptions, minDiskSize and
  the one-of source (image, disk, snapshot, Object Storage uri), judged by an
  oracle written here from the documented patterns and limits;
- Glance/IMS ``PatchImage``: one JSON-patch operation (any op, any path, any
  value type, both dialects, both flavours) judged by the simulator, which
  mirrors a real Glance 33 and has its own patch code; and computed patches
  (``edit_request`` from before/after) that must turn "before" into "after";
- Kusto ``CreateOrUpdateImage`` bodies: languageVersion, baseImageName,
  requirements, exactly one base;
- Batch OData ``$filter``: expressions from the builder (the server's answer must
  be exactly the local predicate's), and arbitrary text (client and server
  must agree on what is valid);
- profile files: TOML documents mutated from a valid one of every provider and
  auth method.

Invalid input must raise a validation error that names the field and the
rule; valid input must render a request the in-process simulator accepts.
``max_examples``: 150 per model in CI, 10,000 in the nightly-size run.
"""

from __future__ import annotations

import asyncio
import json
import re
import string
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workbench.core.errors import ApiError
from workbench.profiles import Profile, ProfileError
from workbench.providers.batch import odata
from workbench.sim.app import build_app, endpoints_document
from workbench.sim.config import SimConfig
from workbench.sim.context import SimContext

from .conftest import scaled

EXAMPLES = scaled(150, 10_000)
PROPERTY_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                                    HealthCheck.filter_too_much])
BASE = "http://sim.test"


class Sim:
    """The simulator in-process, the demo's drivers on it, and a loop to drive them from sync tests."""

    def __init__(self) -> None:
        self.context = SimContext(SimConfig(operation_polls=1, operation_retry_after=0))
        self.app = build_app(context=self.context)
        self.endpoints = endpoints_document(BASE, self.context)
        self.loop = asyncio.new_event_loop()
        self.transport = httpx.ASGITransport(app=self.app)
        self.client = httpx.AsyncClient(transport=self.transport, base_url=BASE)
        self._drivers: dict[str, Any] = {}
        self.counts: dict[str, list[int]] = {}

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)

    def driver(self, provider: str):
        if provider not in self._drivers:
            from workbench.connect import open_driver
            from workbench.profiles import SecretStore
            from workbench.profiles.importers import from_simulator

            secrets = SecretStore(environ={})
            candidate = next(c for c in from_simulator(self.endpoints, prefix="prop-")
                             if c.profile.provider == provider)
            self._drivers[provider] = open_driver(candidate.use_for_session(secrets), secrets,
                                                  transport=self.transport)
        return self._drivers[provider]

    def count(self, model: str, valid: bool) -> None:
        self.counts.setdefault(model, [0, 0])[0 if valid else 1] += 1

    def close(self) -> None:
        for driver in self._drivers.values():
            self.run(driver.aclose())
        self.run(self.client.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def sim(report):
    sim = Sim()
    yield sim
    for model, (valid, invalid) in sorted(sim.counts.items()):
        report.add("property tests (generated cases per model)",
                   f"{model}: {valid + invalid} cases ({valid} valid, sent to the simulator; {invalid} invalid, "
                   "refused naming field and rule)")
    sim.close()


def messages(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "\n".join(str(e.get("msg", "")) + " @ " + ".".join(map(str, e.get("loc", ()))) for e in exc.errors())
    return str(exc)


# ============================================================================ Yandex
NAME_RE = re.compile(r"|[a-z]([-_a-z0-9]{0,61}[a-z0-9])?")
FAMILY_RE = re.compile(r"|[a-z][-a-z0-9]{1,61}[a-z0-9]")
# The API documents these as proto strings ("[-_./\\\\@0-9a-z]*"): the regex escapes '@', no backslash allowed.
LABEL_KEY_RE = re.compile(r"[a-z][-_./\@0-9a-z]*")
LABEL_VALUE_RE = re.compile(r"[-_./\@0-9a-z]*")
MIN_DISK = (4 * 1024 ** 2, 4 * 1024 ** 4)
_ASCII = st.text(string.ascii_letters + string.digits + "-_./@\\ éЖ", max_size=70)


def _maybe_valid(pattern: str, max_size: int = 70) -> st.SearchStrategy[str]:
    """Mostly text matching ``pattern`` (4 in 5), else anything: so whole requests are often valid."""
    valid = st.from_regex(re.compile(pattern), fullmatch=True).filter(lambda s: len(s) <= max_size)
    return st.one_of(valid, valid, valid, valid, _ASCII)


@st.composite
def yandex_creates(draw: st.DrawFn, disks: tuple[str, ...], snapshots: tuple[str, ...],
                   images: tuple[str, ...]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Fields for CreateImage, and the (field, rule) problems the documented rules find in them."""
    fields: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    name = draw(_maybe_valid(r"[a-z]([-_a-z0-9]{0,61}[a-z0-9])?"))
    fields["name"] = name
    if not NAME_RE.fullmatch(name):
        problems.append(("name", "regular expression"))
    if draw(st.booleans()):
        family = draw(_maybe_valid(r"[a-z][-a-z0-9]{1,61}[a-z0-9]"))
        fields["family"] = family
        if not FAMILY_RE.fullmatch(family):
            problems.append(("family", "regular expression"))
    if draw(st.booleans()):
        description = draw(st.one_of(st.text(max_size=256), st.text(max_size=256), st.text(min_size=250, max_size=300)))
        fields["description"] = description
        if len(description) > 256:
            problems.append(("description", "256"))
    if draw(st.booleans()):
        labels = draw(st.dictionaries(_maybe_valid(r"[a-z][-_./@0-9a-z]{0,62}"),
                                      _maybe_valid(r"[-_./@0-9a-z]{0,63}"), max_size=4))
        fields["labels"] = labels
        for key, value in labels.items():
            if not 1 <= len(key) <= 63 or not LABEL_KEY_RE.fullmatch(key):
                problems.append(("labels", "key"))
            elif len(value) > 63 or not LABEL_VALUE_RE.fullmatch(value):
                problems.append(("labels", "value"))
    if draw(st.booleans()):
        # Valid sizes from 64 GiB: the server also wants at least the source's size, which the client
        # cannot know (answered INVALID_ARGUMENT naming minDiskSize; allowed below).
        size = draw(st.one_of(st.integers(64 * 1024 ** 3, MIN_DISK[1]), st.integers(64 * 1024 ** 3, MIN_DISK[1]),
                              st.integers(-(2 ** 63), 2 ** 63 - 1)))
        fields["min_disk_size"] = size
        if size != 0 and not MIN_DISK[0] <= size <= MIN_DISK[1]:
            problems.append(("minDiskSize", "between"))
    sources = draw(st.lists(st.sampled_from(["image_id", "disk_id", "snapshot_id", "uri"]), max_size=2, unique=True,
                            min_size=draw(st.sampled_from([0, 1, 1, 1, 1, 2]))))
    for source in sources:
        if source == "uri":
            uri = draw(st.one_of(
                st.builds(lambda b, k, e: f"https://storage.yandexcloud.net/{b}/{k}{e}",
                          st.from_regex(r"[a-z0-9]{3,10}", fullmatch=True),
                          st.from_regex(r"[a-z0-9/]{1,20}", fullmatch=True).filter(lambda k: not k.endswith("/")),
                          st.sampled_from([".qcow2", ".qcow", ".vmdk", ".vhd", ".raw", ".img", ".iso", ".zip", ""])),
                st.sampled_from(["http://storage.yandexcloud.net/b/k.qcow2", "https://example.com/b/k.qcow2",
                                 "https://storage.yandexcloud.net/", "ftp://x"]),
            ))
            fields["uri"] = uri
            # An https link into Object Storage naming a Qcow2, VMDK, VHD or RAW (.img) file.
            if not re.fullmatch(r"https://storage\.yandexcloud\.net/[a-z0-9]+/[a-z0-9/]*\.(qcow2?|vmdk|vhd|raw|img)",
                                uri):
                problems.append(("uri", "uri"))
        else:
            pool = {"image_id": images, "disk_id": disks, "snapshot_id": snapshots}[source]
            fields[source] = draw(st.one_of(*[st.sampled_from(pool)] * 4, st.just("x" * 51)))
            if len(fields[source]) > 50:
                problems.append((source.replace("_id", "Id"), "50"))
    if len(sources) != 1:
        problems.append(("source", "exactly one" if not sources else "only one"))
    return fields, problems


@PROPERTY_SETTINGS
@given(data=st.data())
def test_yandex_create_image_requests(sim, data):
    from workbench.providers.yandex.requests import CreateImage

    ids = sim.endpoints["yandex_ids"]
    images = tuple(list(sim.context.states["yandex"].images)[:5])
    fields, problems = data.draw(yandex_creates(tuple(ids["disk_ids"]), tuple(ids["snapshot_ids"]), images))
    try:
        request = CreateImage(folder_id=ids["folder_id"], **fields)
    except ValidationError as exc:
        text = messages(exc)
        assert problems, f"refused valid input {fields}: {text}"
        # The first rule broken is named with its field (pydantic reports field errors before the one-of).
        assert any(f"{field}" in text and rule.lower() in text.lower() for field, rule in problems), \
            f"error does not name the field and rule: {text!r} for {problems}"
        sim.count("yandex CreateImage", False)
        return
    assert not problems, f"accepted invalid input {fields}: {problems}"
    if fields.get("name") and fields["name"] in {i.get("name") for i in sim.context.states["yandex"].images.values()}:
        return  # names are unique per folder: ALREADY_EXISTS is the server's right answer
    try:
        op = sim.run(sim.driver("yandex").send(request))
    except ApiError as exc:
        # The one rule the client cannot check: minDiskSize against the source's own size.
        assert exc.status == 400 and "minDiskSize: must be at least the size of the source" in exc.message, exc
        sim.count("yandex CreateImage", True)
        return
    assert op.id and op.kind == "create", op
    sim.count("yandex CreateImage", True)


@PROPERTY_SETTINGS
@given(name=_maybe_valid(r"[a-z]([-_a-z0-9]{0,61}[a-z0-9])?"),
       labels=st.dictionaries(_maybe_valid(r"[a-z][-_./@0-9a-z]{0,62}"), _maybe_valid(r"[-_./@0-9a-z]{0,63}"),
                              max_size=3),
       description=st.one_of(st.text(max_size=256), st.text(max_size=300)),
       min_disk_size=st.one_of(st.integers(64 * 1024 ** 3, MIN_DISK[1]), st.integers(-1, 2 ** 45)))
def test_yandex_update_image_requests(sim, name, labels, description, min_disk_size):
    from workbench.providers.yandex.requests import UpdateImage

    image_id = next(iter(sim.context.states["yandex"].images))
    valid = bool(NAME_RE.fullmatch(name)) and len(description) <= 256 and (
        MIN_DISK[0] <= min_disk_size <= MIN_DISK[1]) and all(
        1 <= len(k) <= 63 and LABEL_KEY_RE.fullmatch(k) and len(v) <= 63 and LABEL_VALUE_RE.fullmatch(v)
        for k, v in labels.items())
    if min_disk_size == 0:
        return  # in an update mask, 0 is a real value (below any image's size): only the server knows that
    try:
        request = UpdateImage(image_id=image_id, name=name, labels=labels, description=description,
                              min_disk_size=min_disk_size)
    except ValidationError as exc:
        assert not valid, messages(exc)
        assert re.search(r"(name|labels|description|minDiskSize): ", messages(exc)), messages(exc)
        sim.count("yandex UpdateImage", False)
        return
    assert valid, (name, labels, description, min_disk_size)
    names = {i.get("name") for i in sim.context.states["yandex"].images.values()}
    if name and name in names and sim.context.states["yandex"].images[image_id].get("name") != name:
        return  # names are unique per folder
    try:
        op = sim.run(sim.driver("yandex").send(request))
    except ApiError as exc:
        assert exc.status == 400 and "minDiskSize: must be at least the image size" in exc.message, exc
        sim.count("yandex UpdateImage", True)
        return
    assert op.kind == "update"
    sim.count("yandex UpdateImage", True)


# ============================================================================ Glance / IMS
#: Writable paths (several times: most operations should be meaningful), then every kind of wrong one.
WRITABLE = ["/name", "/existing", "/custom_k", "/__description", "/min_disk", "/tags", "/visibility"]
PATHS = WRITABLE * 4 + ["/name", "/min_disk", "/min_ram", "/tags", "/visibility", "/protected", "/os_hidden", "/disk_format",
         "/container_format", "/owner", "/existing", "/custom_k", "/__description", "/id", "/status", "/size",
         "/checksum", "/os_glance_x", "/locations", "/deleted", "/a/b", "name", "/", "/tags/-", "/~1x", "/~0x",
         "/~2x", "/x~", "/__os_version", "/hw_firmware_type"]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 2 ** 40), st.text(max_size=10),
                   st.sampled_from(["qcow2", "raw", "zvhd2", "bare", "private", "public", "shared", "community",
                                    "x" * 256, ""]),
                   st.lists(st.text(max_size=5), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                               max_size=2))


#: Values of the right type for a path (drawn 3 times in 5), so many operations are valid.
RIGHT_VALUES = {"/name": st.text(max_size=20), "/existing": st.text(max_size=20), "/custom_k": st.text(max_size=20),
                "/__description": st.text(max_size=20), "/min_disk": st.integers(0, 500),
                "/tags": st.lists(st.text(max_size=8), max_size=3), "/visibility": st.sampled_from(
                    ["private", "shared", "community"])}


@st.composite
def patch_operations(draw: st.DrawFn) -> dict[str, Any]:
    op = draw(st.sampled_from(["add", "replace", "remove"] * 3 + ["test", "copy", "move", "Add"]))
    path = draw(st.sampled_from(PATHS))
    operation: dict[str, Any] = {"op": op, "path": path}
    if op == "remove":
        if draw(st.integers(0, 4)) == 0:
            operation["value"] = draw(VALUES)
    elif draw(st.integers(0, 5)):
        right = RIGHT_VALUES.get(path)
        operation["value"] = draw(right if right is not None and draw(st.integers(0, 4)) < 3 else VALUES)
    return operation


def _fresh_image(sim: Sim, flavour: str) -> dict[str, Any]:
    token = sim.endpoints["tokens"][flavour]
    body = {"name": "prop", "disk_format": "qcow2", "container_format": "bare", "existing": "v"}
    response = sim.run(sim.client.post(f"/{flavour}/v2/images", json=body, headers={"X-Auth-Token": token}))
    assert response.status_code == 201, response.text
    return response.json()


@PROPERTY_SETTINGS
@given(operation=patch_operations(), dialect=st.sampled_from(["v2.1", "v2.0"]),
       flavour=st.sampled_from(["glance", "ims"]))
def test_glance_patch_operations_client_and_server_agree(sim, operation, dialect, flavour):
    """One operation: the client's verdict (model + check against the image) is the server's."""
    from workbench.providers.glance.models import MEDIA_TYPE_BY_DIALECT
    from workbench.providers.glance.requests import PatchImage

    if operation["path"] == "/" and operation["op"] in ("add", "replace") and "value" in operation:
        return  # pinned by test_glance_path_slash_alone_client_and_server_disagree
    if operation["op"] == "remove" and "value" in operation:
        return  # pinned by test_a_remove_with_a_value_is_a_valid_json_patch
    if operation["path"] == "/locations" and operation["op"] != "remove":
        return  # pinned by test_a_locations_patch_is_refused_like_the_server_does
    image = _fresh_image(sim, flavour)
    try:
        request = PatchImage(image_id=image["id"], operations=[operation], dialect=dialect, flavour=flavour)
        request.check_against(image)
        client_error = None
    except (ValidationError, ValueError) as exc:
        client_error = messages(exc)
        # Named: which operation and which member/path, then the rule.
        assert "operations[0]" in client_error or "operations" in client_error, client_error
    # The server sees the same operation in the dialect's own shape.
    if dialect == "v2.1":
        raw = operation
    else:
        raw = {operation["op"]: operation["path"], **({"value": operation["value"]} if "value" in operation else {})}
    response = sim.run(sim.client.patch(
        f"/{flavour}/v2/images/{image['id']}", content=json.dumps([raw]),
        headers={"X-Auth-Token": sim.endpoints["tokens"][flavour], "Content-Type": MEDIA_TYPE_BY_DIALECT[dialect]}))
    if client_error is None and response.status_code == 403 and (
            operation["path"] == "/owner" or operation.get("value") == "public"):
        # Policy, not schema: who may change an owner or publicize an image depends on the
        # cloud's policy file (admin-only by default), which a client cannot see.
        sim.count(f"glance PatchImage ({flavour})", True)
        return
    if client_error is None:
        assert response.status_code == 200, f"client accepted {raw} ({dialect}, {flavour}); server said " \
                                            f"{response.status_code}: {response.text[:300]}"
        # ... and what the client rendered is what was sent.
        assert request.json_body() == [raw] if operation["op"] != "remove" or "value" not in operation else True
    else:
        assert 400 <= response.status_code < 500, f"client refused {raw} ({dialect}, {flavour}) with " \
                                                  f"{client_error!r}; server accepted it"
    sim.count(f"glance PatchImage ({flavour})", client_error is None)


def test_glance_path_slash_alone_is_the_empty_attribute_on_both_sides(sim):
    # Real Glance 33 answers 200 to add/replace/remove of '/' (checked against it: the
    # pointer decodes to the attribute named ''), in both patch dialects.
    from workbench.providers.glance.models import PATCH_V21_MEDIA_TYPE
    from workbench.providers.glance.requests import PatchImage

    image = _fresh_image(sim, "glance")
    operation = {"op": "add", "path": "/", "value": "x"}
    response = sim.run(sim.client.patch(
        f"/glance/v2/images/{image['id']}", content=json.dumps([operation]),
        headers={"X-Auth-Token": sim.endpoints["tokens"]["glance"], "Content-Type": PATCH_V21_MEDIA_TYPE}))
    assert response.status_code == 200 and response.json()[""] == "x"
    request = PatchImage(image_id=image["id"], operations=[operation, {"op": "remove", "path": "/"}])
    assert request.json_body() == [operation, {"op": "remove", "path": "/"}]


def test_a_remove_with_a_value_is_a_valid_json_patch(sim):
    from workbench.providers.glance.requests import PatchImage

    image = _fresh_image(sim, "glance")
    request = PatchImage(image_id=image["id"], operations=[{"op": "remove", "path": "/existing", "value": None}])
    assert request.json_body() == [{"op": "remove", "path": "/existing"}]


@pytest.mark.parametrize("value", [None, [{"url": "http://x/y", "metadata": {}}]])
def test_a_locations_patch_is_refused_like_the_server_does(sim, value):
    from workbench.providers.glance.models import PATCH_V21_MEDIA_TYPE
    from workbench.providers.glance.requests import PatchImage

    image = _fresh_image(sim, "glance")
    operation = {"op": "add", "path": "/locations", "value": value}
    response = sim.run(sim.client.patch(
        f"/glance/v2/images/{image['id']}", content=json.dumps([operation]),
        headers={"X-Auth-Token": sim.endpoints["tokens"]["glance"], "Content-Type": PATCH_V21_MEDIA_TYPE}))
    assert response.status_code == 400
    with pytest.raises((ValidationError, ValueError), match="locations"):
        PatchImage(image_id=image["id"], operations=[operation])


@st.composite
def edited_images(draw: st.DrawFn) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if draw(st.booleans()):
        changes["name"] = draw(st.one_of(st.none(), st.text(max_size=40)))
    if draw(st.booleans()):
        changes["min_disk"] = draw(st.integers(0, 500))
    if draw(st.booleans()):
        changes["tags"] = draw(st.lists(st.text(max_size=12), max_size=4, unique=True))
    if draw(st.booleans()):
        changes["visibility"] = draw(st.sampled_from(["private", "shared", "community"]))
    custom = draw(st.dictionaries(st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
                                  .filter(lambda k: not k.startswith("os_glance")), st.text(max_size=20), max_size=3))
    changes.update(custom)
    changes["__remove_existing"] = draw(st.booleans())
    return changes


@PROPERTY_SETTINGS
@given(changes=edited_images(), dialect=st.sampled_from(["v2.1", "v2.0"]))
def test_glance_computed_patch_turns_before_into_after(sim, changes, dialect):
    from workbench.providers.glance.models import CORE_ATTRIBUTES, READ_ONLY_ATTRIBUTES

    before = _fresh_image(sim, "glance")
    after = dict(before)
    if changes.pop("__remove_existing"):
        after.pop("existing")
    reserved = READ_ONLY_ATTRIBUTES | {"location", "deleted", "deleted_at", "locations", "stores"}
    changes = {k: v for k, v in changes.items() if k not in reserved and (k in CORE_ATTRIBUTES or k not in before)}
    after.update(changes)
    driver = sim.driver("glance")
    request = driver.edit_request(before, after, dialect=dialect)
    if not request.operations:
        return
    edited = sim.run(driver.send(request))
    got = edited.raw.to_api() if hasattr(edited.raw, "to_api") else dict(edited.raw)
    for key in set(after) | set(got):
        if key in reserved or key in ("updated_at", "created_at"):
            continue
        if key == "tags":
            assert sorted(got.get(key) or []) == sorted(after.get(key) or []), key
        else:
            assert got.get(key) == after.get(key), (key, got.get(key), after.get(key), request.json_body())
    sim.count("glance computed patch", True)


# ============================================================================ Kusto
@PROPERTY_SETTINGS
@given(name=st.one_of(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,20}", fullmatch=True), st.text(max_size=12)),
       version=st.one_of(st.none(), st.from_regex(r"\d{1,2}\.\d{1,2}(\.\d{1,2})?", fullmatch=True), st.text(max_size=8)),
       base=st.one_of(st.none(), st.sampled_from(["Python3_10_8", "Python3_11_7", "customImage1", " ", ""])),
       requirements=st.one_of(st.none(), st.text(max_size=200)))
def test_kusto_create_or_update_bodies(sim, name, version, base, requirements):
    driver = sim.driver("kusto")
    name_ok = bool(name.strip()) and "/" not in name and name not in (".", "..")
    version_ok = version is None or re.fullmatch(r"\d+\.\d+(\.\d+)?", version) is not None
    base_ok = base is None or bool(base.strip())
    one_base = (version is None) != (base is None)
    valid = name_ok and version_ok and base_ok and one_base
    try:
        request = driver.create_or_update(name, language_version=version, base_image_name=base,
                                          requirements=requirements)
    except (ValidationError, ValueError) as exc:
        text = messages(exc)
        assert not valid, f"refused valid input: {text}"
        broken = [rule for rule, ok in (("image_name", name_ok), ("languageVersion", version_ok),
                                        ("baseImageName", base_ok),
                                        ("exactly one of languageVersion and baseImageName", one_base)) if not ok]
        assert any(rule in text for rule in broken), f"{text!r} names none of {broken}"
        sim.count("kusto CreateOrUpdateImage", False)
        return
    assert valid, (name, version, base)
    # A valid name: the server's image names are letters and digits (ARM resource names); keep to those.
    assume(re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,20}", name))
    op = sim.run(driver.send(request))
    assert op.kind in ("create", "update"), op
    sim.count("kusto CreateOrUpdateImage", True)


# ============================================================================ Batch OData
PROPERTIES = list(odata.Property)
_ENUM = {odata.Property.OS_TYPE: ["linux", "windows"], odata.Property.VERIFICATION_TYPE: ["verified", "unverified"]}


@st.composite
def filters(draw: st.DrawFn, depth: int = 0) -> odata.Expr:
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        prop = draw(st.sampled_from(PROPERTIES))
        value = draw(st.sampled_from(_ENUM[prop])) if prop in _ENUM else draw(st.one_of(
            st.sampled_from(["Canonical", "MicrosoftWindowsServer", "batch.node.ubuntu 22.04", "O'Brien", "22_04-lts"]),
            st.text(max_size=12)))
        field = odata.field(prop)
        return field.eq(value) if draw(st.booleans()) else field.ne(value)
    parts = draw(st.lists(filters(depth + 1), min_size=2, max_size=3))
    return odata.all_of(*parts) if draw(st.booleans()) else odata.any_of(*parts)


@pytest.fixture(scope="module")
def batch_images(sim):
    return sim.run(_all_batch(sim))


async def _all_batch(sim: Sim) -> list[Any]:
    return [image async for image in sim.driver("batch").list_images()]


@PROPERTY_SETTINGS
@given(expression=filters())
def test_batch_filters_from_the_builder_select_exactly_what_they_say(sim, batch_images, expression):
    text = odata.render(expression)
    assert odata.render(odata.parse_filter(text)) == text  # round trip through the parser
    listed = sim.run(_list_ids(sim, expression))
    expected = [image.id for image in batch_images if odata.matches(expression, image.raw)]
    assert listed == expected, text
    sim.count("batch OData $filter (builder)", True)


async def _list_ids(sim: Sim, expression) -> list[str]:
    return [image.id async for image in sim.driver("batch").list_images(filter=expression)]


@st.composite
def filter_texts(draw: st.DrawFn) -> str:
    """A valid filter's words, then 0-2 edits (insert, delete or replace a word)."""
    words = odata.render(draw(filters())).split(" ")
    for _ in range(draw(st.integers(0, 2))):
        position = draw(st.integers(0, len(words)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        if edit == "insert" or not words:
            words.insert(position, draw(st.sampled_from(_FILTER_WORDS)))
        elif edit == "delete":
            del words[min(position, len(words) - 1)]
        else:
            words[min(position, len(words) - 1)] = draw(st.sampled_from(_FILTER_WORDS))
    return " ".join(words)


_FILTER_WORDS = ["osType", "verificationType", "nodeAgentSKUId", "imageReference/publisher", "imageReference/offer",
                 "imageReference/sku", "eq", "ne", "and", "or", "not", "gt", "(", ")", "'linux'", "'windows'",
                 "'x'", "'O''Brien'", "'unterminated", "startswith(osType,'l')", "osTypo", "1", "null", "''"]


@PROPERTY_SETTINGS
@given(text=st.one_of(filter_texts(), st.lists(st.sampled_from(_FILTER_WORDS), min_size=1, max_size=9).map(" ".join)))
def test_batch_filter_text_client_and_server_agree(sim, text):
    from workbench.providers.batch.requests import ListSupportedImages

    try:
        ListSupportedImages.build(filter=text)
        client_error = None
    except (ValidationError, ValueError) as exc:
        client_error = messages(exc)
        assert "$filter" in client_error, client_error
    token = sim.endpoints["tokens"]["batch"]
    from workbench.providers.batch.models import API_VERSION

    response = sim.run(sim.client.get("/batch/supportedimages", params={"api-version": API_VERSION, "$filter": text},
                                      headers={"Authorization": f"Bearer {token}"}))
    if client_error is None:
        assert response.status_code == 200, (text, response.text[:300])
    else:
        assert response.status_code == 400, (text, client_error, response.text[:300])
        assert response.json()["code"] in ("InvalidQueryParameterValue", "InvalidODataFilter", "InvalidFilter") or \
            "filter" in response.text.lower()
    sim.count("batch OData $filter (text)", client_error is None)


# ============================================================================ profile files
def _samples() -> list[tuple[str, dict[str, Any]]]:
    from tests.profiles.samples import CASES

    documents = []
    for (provider, method), settings_ in CASES.items():
        profile = Profile.build("prod", provider, settings_)
        documents.append((f"{provider}/{method}", profile.to_toml_dict()))
    return documents


SAMPLES = _samples()


def _leaves(document: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            found.extend(_leaves(value, path + "."))
        else:
            found.append((path, value))
    return found


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copied = json.loads(json.dumps(document))
    *parents, last = path.split(".")
    node = copied
    for part in parents:
        node = node[part]
    if value is _DELETE:
        node.pop(last, None)
    else:
        node[last] = value
    return copied


_DELETE = object()
TOML_VALUES = st.one_of(st.text(max_size=30), st.integers(-10, 10 ** 6), st.floats(allow_nan=False, allow_infinity=False),
                        st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=4),
                                                                                         st.integers(), max_size=2),
                        st.just(_DELETE), st.sampled_from(["https://x.example.com", "http://127.0.0.1:1", "", "v2.0",
                                                           "password", "12345678-1234-1234-1234-123456789098"]))


@PROPERTY_SETTINGS
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_profile_documents_validate_or_name_the_field(sim, tmp_path_factory, sample, data):
    from workbench.profiles import ProfileStore, SecretStore

    label, document = sample
    leaves = _leaves(document)
    mutations = data.draw(st.lists(st.tuples(st.sampled_from([p for p, _ in leaves] + ["colour", "tls.verify",
                                                                                       "timeouts.read"]),
                                             TOML_VALUES), min_size=1, max_size=3))
    for path, value in mutations:
        if "." in path and path.split(".")[0] not in document:
            continue
        try:
            document = _set(document, path, value)
        except (KeyError, TypeError):
            continue
    try:
        profile = Profile.from_toml_dict(document, name="prod")
    except ProfileError as exc:
        # Every problem names a field and a rule; no other exception type ever escapes.
        assert exc.problems, str(exc)
        for problem in exc.problems:
            assert problem.message.strip(), str(exc)
        assert all(line.startswith("profile 'prod': ") or "profile 'prod'" in line for line in str(exc).splitlines())
        sim.count("profile documents", False)
        return
    # Valid: stored and read back to the same profile (TOML, 0600, atomic).
    store = ProfileStore(tmp_path_factory.mktemp("profiles"), secrets=SecretStore(environ={}))
    store.save(profile)
    loaded = store.load("prod")
    assert loaded.to_toml_dict() == profile.to_toml_dict()
    sim.count("profile documents", True)


@PROPERTY_SETTINGS
@given(sample=st.sampled_from(SAMPLES), data=st.data())
def test_a_wrongly_typed_profile_value_is_refused_naming_its_field(sim, sample, data):
    label, document = sample
    path, value = data.draw(st.sampled_from([(p, v) for p, v in _leaves(document) if p not in ("provider",)]))
    wrong = data.draw(st.sampled_from([w for w in ([], {"x": 1}, 3.5) if type(w) is not type(value)]))
    if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(wrong, float):
        wrong = "soon"
    with pytest.raises(ProfileError) as caught:
        Profile.from_toml_dict(_set(document, path, wrong), name="prod")
    fields = [p.field for p in caught.value.problems]
    assert any(field == path or path.startswith(field + ".") or field.startswith(path) for field in fields), \
        f"{label}: {path} = {wrong!r} gave {caught.value}"
    sim.count("profile documents (wrong types)", False)
