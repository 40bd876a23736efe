"""OpenStack Glance v2 (and Huawei IMS) request and response bodies.

The rules mirror what a real Glance 33 server enforces (probed, not only read
from the docs), so a user sees a problem before anything is sent:

- an image is a flat JSON object: the core attributes of the image schema plus
  custom properties, whose values are strings;
- ``PATCH /v2/images/{id}`` takes a list of JSON-patch operations in one of two
  media types: v2.1 ``{"op", "path", "value"}`` (RFC 6902 subset) or the
  deprecated v2.0 ``{"add" | "remove" | "replace": "/path", "value"}``;
- a path is a restricted JSON pointer with exactly one reference token
  (``~0`` and ``~1`` escape ``~`` and ``/``); ``/tags/-`` is *not* accepted by
  Glance (400 "Invalid JSON pointer"), tags are replaced as a whole list;
- read-only attributes (403), reserved names and the ``os_glance`` namespace
  (403), core attributes cannot be removed (403);
- Huawei IMS only lets ``name``, ``__description`` and custom attributes change.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Iterable, Literal
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

# -- media types and dialects -------------------------------------------------

PATCH_V21_MEDIA_TYPE = "application/openstack-images-v2.1-json-patch"
PATCH_V20_MEDIA_TYPE = "application/openstack-images-v2.0-json-patch"
#: Every media type a Glance PATCH accepts (the server's ``Accept-Patch`` value, sorted).
PATCH_MEDIA_TYPES: tuple[str, ...] = (PATCH_V20_MEDIA_TYPE, PATCH_V21_MEDIA_TYPE)

PatchDialect = Literal["v2.1", "v2.0"]
MEDIA_TYPE_BY_DIALECT: dict[str, str] = {"v2.1": PATCH_V21_MEDIA_TYPE, "v2.0": PATCH_V20_MEDIA_TYPE}

Flavour = Literal["glance", "ims"]

# -- attribute classes (as Glance's request deserializer defines them) ---------

#: Attributes only the Image service sets: changing them in a PATCH gives 403.
READ_ONLY_ATTRIBUTES: frozenset[str] = frozenset({
    "created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value",
    "size", "virtual_size", "direct_url", "self", "file", "schema", "id",
})
#: Names Glance reserves for itself (403 "is reserved").
RESERVED_ATTRIBUTES: frozenset[str] = frozenset({"location", "deleted", "deleted_at"})
#: Every property whose name starts with this is reserved (403).
RESERVED_NAMESPACE = "os_glance"
#: Writable attributes every image always has: they can be replaced (and, in
#: v2.1, "added") but never removed, and a v2.0 ``add`` of them is a 409.
CORE_ATTRIBUTES: frozenset[str] = frozenset({
    "name", "visibility", "protected", "os_hidden", "owner", "disk_format",
    "container_format", "min_ram", "min_disk", "tags",
})

DISK_FORMATS: tuple[str, ...] = ("ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
#: Huawei IMS adds its own compressed VHD variants.
IMS_DISK_FORMATS: tuple[str, ...] = DISK_FORMATS + ("zvhd", "zvhd2")
CONTAINER_FORMATS: tuple[str, ...] = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed")
VISIBILITIES: tuple[str, ...] = ("community", "public", "private", "shared")
IMAGE_STATUSES: tuple[str, ...] = (
    "queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated",
)
#: ``sort_key`` values Glance accepts on ``GET /v2/images``.
SORT_KEYS: tuple[str, ...] = ("name", "status", "container_format", "disk_format", "size", "id", "created_at", "updated_at")

UUID_PATTERN = r"^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"

# -- Huawei IMS ----------------------------------------------------------------

#: The image description on IMS is this custom-looking attribute.
IMS_DESCRIPTION = "__description"
#: Attributes IMS manages itself (the documented response attributes of the
#: native API): they are not "custom attributes", so a PATCH may not touch them.
IMS_SYSTEM_ATTRIBUTES: frozenset[str] = frozenset({
    "__os_bit", "__os_version", "__isregistered", "__platform", "__os_type", "__system__cmkid",
    "virtual_env_type", "__image_source_type", "__imagetype", "__originalimagename", "__backup_id",
    "__productcode", "__image_size", "__data_origin", "__root_origin", "__lazyloading", "active_at",
    "__os_feature_list", "__account_code", "hw_firmware_type", "hw_vif_multiqueue_enabled",
    "__support_kvm", "__support_xen", "__support_largememory", "__support_diskintensive",
    "__support_highperformance", "__support_xen_gpu_type", "__support_kvm_gpu_type",
    "__support_xen_hana", "__support_kvm_infiniband", "__is_offshelved", "enterprise_project_id",
    "__sequence_num", "__support_fc_inject", "__image_location", "__is_config_init", "__support_amd",
    "__support_agent_list", "max_ram",
})


def ims_may_change(attribute: str) -> bool:
    """Whether IMS's native PATCH lets this attribute change (name, description, custom)."""
    if attribute in ("name", IMS_DESCRIPTION):
        return True
    if attribute in READ_ONLY_ATTRIBUTES or attribute in CORE_ATTRIBUTES or attribute in IMS_SYSTEM_ATTRIBUTES:
        return False
    # Every other double-underscore attribute is an IMS system attribute too.
    return not attribute.startswith("__")


# -- JSON pointers ----------------------------------------------------------------

_BAD_TILDE = re.compile(r"~[^01]")


def decode_pointer(pointer: str) -> str:
    """The attribute a restricted JSON pointer (``/name``, ``/a~1b``) designates.

    Raises ValueError naming the rule when the pointer is not a single-level
    pointer Glance accepts.
    """
    if not isinstance(pointer, str):
        raise ValueError(f"must be a string JSON pointer such as '/name', got {type(pointer).__name__}")
    if not pointer.startswith("/"):
        raise ValueError(f"{pointer!r} must start with '/' (a JSON pointer such as '/name')")
    if _BAD_TILDE.search(pointer) or pointer.endswith("~"):
        raise ValueError(f"{pointer!r} contains '~' that is not an escape ('~0' for '~', '~1' for '/')")
    # '/' alone names the attribute whose name is empty: Glance 33 accepts it
    # (and so must we, or such a property could never be removed).
    token = pointer[1:]
    if "/" in token:
        raise ValueError(
            f"{pointer!r} has more than one reference token: Glance patches top-level attributes only "
            "(replace '/tags' as a whole list; escape '/' inside a name as '~1')"
        )
    return token.replace("~1", "/").replace("~0", "~")


def encode_pointer(attribute: str) -> str:
    """The JSON pointer of a top-level attribute (escaping ``~`` and ``/``)."""
    return "/" + attribute.replace("~", "~0").replace("/", "~1")


# -- images ------------------------------------------------------------------------


class Image(BaseModel):
    """A Glance v2 image: the core attributes plus custom properties (extra fields).

    Custom properties stay top-level, exactly as the API returns them; read them
    through ``properties``.
    """

    # defer_build (here and below): the validator is built on first use, so
    # starting the command line to list images does not pay for it.
    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    id: str
    name: str | None = None
    status: str
    visibility: str = "shared"
    protected: bool = False
    os_hidden: bool = False
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    owner: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    container_format: str | None = None
    disk_format: str | None = None
    created_at: str
    updated_at: str
    tags: list[str] = Field(default_factory=list)
    min_ram: int = 0
    min_disk: int = 0
    direct_url: str | None = None
    locations: list[dict[str, Any]] | None = None
    stores: str | None = None
    self_link: str = Field(alias="self")
    file: str
    schema_link: str = Field(alias="schema")

    @field_validator("status")
    @classmethod
    def _known_status(cls, value: str) -> str:
        if value not in IMAGE_STATUSES:
            raise ValueError(f"must be one of {', '.join(IMAGE_STATUSES)}")
        return value

    @model_validator(mode="after")
    def _custom_properties_are_strings(self) -> "Image":
        for key, value in (self.model_extra or {}).items():
            if not self._custom_value_ok(value):
                raise ValueError(f"custom property {key!r} must be a string, got {type(value).__name__}")
        return self

    @staticmethod
    def _custom_value_ok(value: Any) -> bool:
        return isinstance(value, str)

    @property
    def properties(self) -> dict[str, Any]:
        """The custom properties (everything that is not a core attribute)."""
        return dict(self.model_extra or {})

    #: Attributes the API leaves out rather than sending null.
    OMIT_WHEN_NONE: ClassVar[tuple[str, ...]] = ("direct_url", "locations", "stores")

    def to_api(self) -> dict[str, Any]:
        """The image as the API spells it (``self``/``schema`` keys, custom properties top-level)."""
        body = self.model_dump(by_alias=True)
        for key in self.OMIT_WHEN_NONE:
            if body.get(key) is None:
                body.pop(key, None)
        return body


class ImsImage(Image):
    """An image from Huawei IMS's native OpenStack API, with IMS's extension attributes.

    IMS runs an older Glance: no ``os_hidden``/``os_hash_*``; its extension
    attributes are top-level strings (``__data_origin`` may be null).
    """

    os_bit: str | None = Field(None, alias="__os_bit")
    os_version: str | None = Field(None, alias="__os_version")
    description: str | None = Field(None, alias="__description")
    isregistered: str | None = Field(None, alias="__isregistered")
    platform: str | None = Field(None, alias="__platform")
    os_type: str | None = Field(None, alias="__os_type")
    imagetype: str | None = Field(None, alias="__imagetype")
    image_source_type: str | None = Field(None, alias="__image_source_type")
    originalimagename: str | None = Field(None, alias="__originalimagename")
    backup_id: str | None = Field(None, alias="__backup_id")
    productcode: str | None = Field(None, alias="__productcode")
    image_size: str | None = Field(None, alias="__image_size")
    data_origin: str | None = Field(None, alias="__data_origin")
    virtual_env_type: str | None = None
    hw_firmware_type: str | None = None
    # Attributes of newer Glance releases that IMS does not return.
    os_hidden: bool | None = None  # type: ignore[assignment]

    OMIT_WHEN_NONE = ("os_hidden", "os_hash_algo", "os_hash_value", "direct_url", "locations", "stores")

    @staticmethod
    def _custom_value_ok(value: Any) -> bool:
        return value is None or isinstance(value, str)


class ImagesList(BaseModel):
    """``GET /v2/images``: one page; ``next`` is relative to the service root."""

    model_config = ConfigDict(populate_by_name=True, defer_build=True)

    images: list[Image]
    first: str
    next: str | None = None
    schema_link: str = Field(alias="schema")

    @property
    def next_marker(self) -> str | None:
        if not self.next:
            return None
        return parse_qs(urlsplit(self.next).query).get("marker", [None])[0]


class ImageCreate(BaseModel):
    """``POST /v2/images``: core attributes and custom string properties."""

    model_config = ConfigDict(extra="forbid", defer_build=True)

    name: str | None = Field(None, max_length=255)
    id: str | None = Field(None, pattern=UUID_PATTERN)
    visibility: Literal["community", "public", "private", "shared"] | None = None
    protected: bool | None = None
    os_hidden: bool | None = None
    disk_format: str | None = None
    container_format: Literal["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"] | None = None
    min_ram: int | None = Field(None, ge=0)
    min_disk: int | None = Field(None, ge=0)
    tags: list[str] = Field(default_factory=list)
    properties: dict[str, str] = Field(default_factory=dict)

    @field_validator("disk_format")
    @classmethod
    def _disk_format(cls, value: str | None, info: ValidationInfo) -> str | None:
        allowed = IMS_DISK_FORMATS if (info.context or {}).get("flavour") == "ims" else DISK_FORMATS
        if value is not None and value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: list[str]) -> list[str]:
        for tag in value:
            if len(tag) > 255:
                raise ValueError(f"tag {tag[:20]!r}... is longer than 255 characters")
        return value

    @field_validator("properties")
    @classmethod
    def _properties(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            _check_writable(key, "properties")
            if key in CORE_ATTRIBUTES or key in ("id", "locations"):
                raise ValueError(f"{key!r} is a core attribute: set it as a field, not a custom property")
            if len(key) > 255:
                raise ValueError(f"property name {key[:20]!r}... is longer than 255 characters")
        return value

    def body(self) -> dict[str, Any]:
        """The exact JSON body: custom properties go top-level."""
        body = self.model_dump(exclude_none=True, exclude={"properties"})
        if not body.get("tags"):
            body.pop("tags", None)
        body.update(self.properties)
        return body


# -- JSON patch --------------------------------------------------------------------

PatchOpName = Literal["add", "remove", "replace"]


def _check_writable(attribute: str, what: str = "path") -> None:
    if attribute in READ_ONLY_ATTRIBUTES:
        raise ValueError(f"{attribute!r} is read-only: only the Image service sets it")
    if attribute in RESERVED_ATTRIBUTES or attribute.startswith(RESERVED_NAMESPACE):
        raise ValueError(f"{attribute!r} is reserved by Glance (names starting with '{RESERVED_NAMESPACE}' too)")


def _check_core_value(attribute: str, value: Any, flavour: str) -> None:
    """The image schema's rule for a value given to ``attribute``."""
    def fail(rule: str) -> None:
        raise ValueError(f"value for {attribute!r} {rule}, got {value!r}")

    if attribute == "name":
        if value is not None and not isinstance(value, str):
            fail("must be a string or null")
        if isinstance(value, str) and len(value) > 255:
            fail("must be at most 255 characters")
    elif attribute == "owner":
        if value is not None and (not isinstance(value, str) or len(value) > 255):
            fail("must be null or a string of at most 255 characters")
    elif attribute in ("protected", "os_hidden"):
        if not isinstance(value, bool):
            fail("must be a boolean")
    elif attribute in ("min_ram", "min_disk"):
        if isinstance(value, bool) or not isinstance(value, int):
            fail("must be an integer")
        if value < 0:
            fail("must not be negative")
    elif attribute == "visibility":
        if value not in VISIBILITIES:
            fail(f"must be one of {', '.join(VISIBILITIES)}")
    elif attribute == "disk_format":
        allowed = IMS_DISK_FORMATS if flavour == "ims" else DISK_FORMATS
        if value is not None and value not in allowed:
            fail(f"must be null or one of {', '.join(allowed)}")
    elif attribute == "container_format":
        if value is not None and value not in CONTAINER_FORMATS:
            fail(f"must be null or one of {', '.join(CONTAINER_FORMATS)}")
    elif attribute == "tags":
        if not isinstance(value, list) or not all(isinstance(t, str) and len(t) <= 255 for t in value):
            fail("must be a list of strings of at most 255 characters (the whole list replaces the tags)")


class PatchOperation(BaseModel):
    """One JSON-patch operation, in the canonical v2.1 shape ``{"op", "path", "value"}``.

    Whether ``value`` was given matters (``null`` is a valid value for
    ``name``), so it is tracked through ``model_fields_set``.
    """

    model_config = ConfigDict(extra="forbid", defer_build=True)

    op: PatchOpName
    path: str
    value: Any = None

    @field_validator("path")
    @classmethod
    def _restricted_pointer(cls, path: str) -> str:
        attribute = decode_pointer(path)
        if attribute == "locations":
            # Glance 33 with show_multiple_locations off (its default) refuses these.
            raise ValueError("Invalid JSON pointer for this resource: '/locations' (image locations cannot be patched)")
        _check_writable(attribute)
        return path

    @model_validator(mode="after")
    def _value_rules(self) -> "PatchOperation":
        has_value = "value" in self.model_fields_set
        if self.op in ("add", "replace") and not has_value:
            raise ValueError(f"'value' is required for {self.op!r}")
        # A 'value' on a remove is ignored, as RFC 6902 (section 4) and Glance do;
        # render() leaves it out.
        attribute = self.attribute
        if self.op == "remove" and attribute in CORE_ATTRIBUTES:
            raise ValueError(f"{attribute!r} is a core attribute: it may be replaced but not removed")
        if self.op != "remove":
            if attribute in CORE_ATTRIBUTES:
                # The widest disk-format list here; ImagePatch narrows it per flavour.
                _check_core_value(attribute, self.value, "ims")
            elif not isinstance(self.value, str):
                raise ValueError(
                    f"value for custom property {attribute!r} must be a string, got {type(self.value).__name__}"
                )
        return self

    @property
    def attribute(self) -> str:
        return decode_pointer(self.path)

    @classmethod
    def add(cls, attribute: str, value: Any) -> "PatchOperation":
        return cls(op="add", path=encode_pointer(attribute), value=value)

    @classmethod
    def replace(cls, attribute: str, value: Any) -> "PatchOperation":
        return cls(op="replace", path=encode_pointer(attribute), value=value)

    @classmethod
    def remove(cls, attribute: str) -> "PatchOperation":
        return cls(op="remove", path=encode_pointer(attribute))

    @classmethod
    def from_v20(cls, raw: dict[str, Any]) -> "PatchOperation":
        """Parse a v2.0 operation ``{"replace": "/name", "value": ...}``."""
        if not isinstance(raw, dict):
            raise ValueError(f"a v2.0 operation must be an object, got {type(raw).__name__}")
        members = [name for name in ("add", "remove", "replace") if name in raw]
        if len(members) != 1:
            raise ValueError('a v2.0 operation must contain exactly one member named "add", "remove" or "replace"')
        op = members[0]
        unknown = set(raw) - {op, "value"}
        if unknown:
            raise ValueError(f"a v2.0 operation has no member(s) {sorted(unknown)}")
        data: dict[str, Any] = {"op": op, "path": raw[op]}
        if "value" in raw:
            data["value"] = raw["value"]
        return cls.model_validate(data)

    def render(self, dialect: PatchDialect = "v2.1") -> dict[str, Any]:
        """This operation as the exact JSON object of ``dialect``."""
        if dialect == "v2.1":
            body: dict[str, Any] = {"op": self.op, "path": self.path}
        elif dialect == "v2.0":
            body = {self.op: self.path}
        else:
            raise ValueError(f"dialect: must be 'v2.1' or 'v2.0', got {dialect!r}")
        if self.op != "remove":
            body["value"] = self.value
        return body


class ImagePatch(BaseModel):
    """A whole ``PATCH /v2/images/{id}`` request: the operations, the dialect and
    the cloud flavour whose rules apply (IMS: only name, ``__description`` and
    custom attributes may change)."""

    model_config = ConfigDict(defer_build=True)

    operations: list[PatchOperation]
    dialect: PatchDialect = "v2.1"
    flavour: Flavour = "glance"

    @model_validator(mode="after")
    def _flavour_rules(self) -> "ImagePatch":
        for index, operation in enumerate(self.operations):
            attribute = operation.attribute
            if attribute == "disk_format" and operation.op != "remove":
                # IMS accepts its own formats; re-check with the flavour's list.
                _check_core_value(attribute, operation.value, self.flavour)
            if self.flavour == "ims" and not ims_may_change(attribute):
                raise ValueError(
                    f"operations[{index}].path: {attribute!r} cannot change on Huawei IMS: "
                    f"only name, {IMS_DESCRIPTION} and custom attributes may be modified"
                )
        return self

    @property
    def media_type(self) -> str:
        return MEDIA_TYPE_BY_DIALECT[self.dialect]

    def body(self) -> list[dict[str, Any]]:
        return to_dialect(self.operations, self.dialect)


def to_dialect(operations: Iterable[PatchOperation | dict[str, Any]], dialect: PatchDialect) -> list[dict[str, Any]]:
    """The exact request body of ``dialect`` for these operations.

    Plain dicts are read as v2.1 operations and validated first.
    """
    if dialect not in MEDIA_TYPE_BY_DIALECT:
        raise ValueError(f"dialect: must be 'v2.1' or 'v2.0', got {dialect!r}")
    rendered = []
    for operation in operations:
        if not isinstance(operation, PatchOperation):
            operation = PatchOperation.model_validate(operation)
        rendered.append(operation.render(dialect))
    return rendered


__all__ = [
    "CONTAINER_FORMATS", "CORE_ATTRIBUTES", "DISK_FORMATS", "IMAGE_STATUSES", "IMS_DESCRIPTION",
    "IMS_DISK_FORMATS", "IMS_SYSTEM_ATTRIBUTES", "Image", "ImageCreate", "ImagePatch", "ImagesList",
    "ImsImage", "MEDIA_TYPE_BY_DIALECT", "PATCH_MEDIA_TYPES", "PATCH_V20_MEDIA_TYPE", "PATCH_V21_MEDIA_TYPE",
    "PatchDialect", "PatchOperation", "READ_ONLY_ATTRIBUTES", "RESERVED_ATTRIBUTES", "RESERVED_NAMESPACE",
    "SORT_KEYS", "UUID_PATTERN", "VISIBILITIES", "decode_pointer", "encode_pointer", "ims_may_change",
    "to_dialect",
]
