"""The Glance v2 (and Huawei IMS) requests a driver sends, as typed objects.

Each renders to the exact HTTP request (see ``ApiRequest``), so the editor can
show it and the command line can print it before anything is sent:

- ``ListImages`` (``GET /v2/images`` with limit, marker and filters);
- ``GetImage``, ``CreateImage``, ``DeleteImage``;
- ``UploadImageData`` (``PUT /v2/images/{id}/file``);
- ``PatchImage``: a list of JSON-patch operations, as v2.1
  ``[{"op", "path", "value"}]`` or v2.0 ``[{"replace": "/path", "value"}]``,
  each with its own ``Content-Type``.

``patch_between(before, after)`` computes the operations that turn one image
into another with the ``jsonpatch`` library, mapped to what Glance accepts:
one operation per changed top-level attribute (a change inside ``tags`` is a
``replace`` of the whole list), ``move``/``copy`` turned into remove/add, core
attributes always ``replace``d (a v2.0 ``add`` of one is a 409).

The checks mirror the server's (read-only attributes, the reserved
``os_glance_*`` namespace, a value for add/replace, IMS's rule that only
custom attributes, ``name`` and ``__description`` change) and raise before
sending, naming the operation's path and the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from workbench.providers.base import ApiRequest, path_segment
from workbench.providers.glance.models import (
    CORE_ATTRIBUTES,
    DISK_FORMATS,
    IMAGE_STATUSES,
    IMS_DISK_FORMATS,
    MEDIA_TYPE_BY_DIALECT,
    READ_ONLY_ATTRIBUTES,
    SORT_KEYS,
    VISIBILITIES,
    Flavour,
    Image,
    ImageCreate,
    ImagePatch,
    PatchDialect,
    PatchOperation,
    decode_pointer,
    encode_pointer,
)

#: Glance's ``api_limit_max``: the largest page a server answers by default.
MAX_PAGE = 1000
MEMBER_STATUSES = ("pending", "accepted", "rejected", "all")
#: ``GET /v2/images`` filters this module knows (the API's own names).
LIST_FILTERS = ("name", "status", "visibility", "tag", "owner", "sort", "disk_format", "container_format",
                "member_status", "os_hidden", "protected")


class GlanceRequest(ApiRequest):
    """A Glance request; ``returns`` tells the driver what the answer is:
    "image", "page", "nothing" or "upload" (an image whose status to track)."""

    # Schemas are built on first use, not at import: listing needs only
    # ListImages, and building every request's validator cost the command
    # line ~10 ms at each start.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    returns: ClassVar[str] = "image"


# -- reading -------------------------------------------------------------------------------------
class ListImages(GlanceRequest):
    """``GET /v2/images``: one page (the driver follows ``next``)."""

    returns: ClassVar[str] = "page"

    limit: int | None = Field(None, ge=0, description="page size; the server caps it (1000 by default)")
    marker: str | None = None
    name: str | None = None
    status: str | None = None
    visibility: str | None = None
    tag: list[str] = Field(default_factory=list)
    owner: str | None = None
    #: ``key[:asc|desc],...`` (Glance's "new" sort syntax).
    sort: str | None = None
    disk_format: str | None = None
    container_format: str | None = None
    member_status: str | None = None
    os_hidden: bool | None = None
    protected: bool | None = None

    @field_validator("tag", mode="before")
    @classmethod
    def _tags(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("status")
    @classmethod
    def _status(cls, value: str | None) -> str | None:
        if value is None:
            return value
        words = value[3:].split(",") if value.startswith("in:") else [value]
        for word in words:
            if word.strip() not in IMAGE_STATUSES:
                raise ValueError(f"{word.strip()!r} is not an image status: use one of {', '.join(IMAGE_STATUSES)} "
                                 "(or 'in:a,b')")
        return value

    @field_validator("visibility")
    @classmethod
    def _visibility(cls, value: str | None) -> str | None:
        if value is not None and value not in (*VISIBILITIES, "all"):
            raise ValueError(f"must be one of {', '.join(VISIBILITIES)}, all; got {value!r}")
        return value

    @field_validator("member_status")
    @classmethod
    def _member_status(cls, value: str | None) -> str | None:
        if value is not None and value not in MEMBER_STATUSES:
            raise ValueError(f"must be one of {', '.join(MEMBER_STATUSES)}; got {value!r}")
        return value

    @field_validator("sort", mode="before")
    @classmethod
    def _sort(cls, value: Any) -> Any:
        if value is None:
            return value
        parts = list(value) if isinstance(value, (list, tuple)) else str(value).split(",")
        for part in parts:
            key, _, direction = str(part).strip().partition(":")
            if key not in SORT_KEYS:
                raise ValueError(f"sort key {key!r} is not one of {', '.join(SORT_KEYS)}")
            if direction and direction not in ("asc", "desc"):
                raise ValueError(f"sort direction {direction!r} (of {key!r}) must be asc or desc")
        return ",".join(str(part).strip() for part in parts)

    def path(self) -> str:
        return "/v2/images"

    def query(self) -> Mapping[str, Any]:
        params: dict[str, Any] = {}
        for name in ("limit", "marker", "name", "status", "visibility", "owner", "sort", "disk_format",
                     "container_format", "member_status"):
            value = getattr(self, name)
            if value is not None:
                params[name] = value
        if self.tag:
            params["tag"] = list(self.tag)  # repeated: images with every tag
        for name in ("os_hidden", "protected"):
            value = getattr(self, name)
            if value is not None:
                params[name] = "true" if value else "false"
        return params

    def summary(self) -> str:
        return "List images"


class GetImage(GlanceRequest):
    image_id: str

    def path(self) -> str:
        return f"/v2/images/{path_segment(self.image_id, field='image_id')}"

    def summary(self) -> str:
        return f"Show image {self.image_id}"


# -- creating and deleting ------------------------------------------------------------------------
class CreateImage(GlanceRequest, ImageCreate):
    """``POST /v2/images``: an image record (status ``queued``; upload its data next)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)

    method: ClassVar[str] = "POST"
    expect: ClassVar[tuple[int, ...]] = (201,)

    flavour: Flavour = "glance"

    @field_validator("disk_format")
    @classmethod
    def _disk_format(cls, value: str | None) -> str | None:
        # Overrides ImageCreate's check: the list depends on the flavour (below).
        if value is not None and value not in IMS_DISK_FORMATS:
            raise ValueError(f"must be one of {', '.join(DISK_FORMATS)} (IMS also: zvhd, zvhd2)")
        return value

    @model_validator(mode="after")
    def _flavour_formats(self) -> CreateImage:
        if self.flavour == "glance" and self.disk_format is not None and self.disk_format not in DISK_FORMATS:
            raise ValueError(f"disk_format: {self.disk_format!r} is an IMS format; Glance takes one of "
                             f"{', '.join(DISK_FORMATS)}")
        return self

    def path(self) -> str:
        return "/v2/images"

    def json_body(self) -> Any:
        body = self.body()
        body.pop("flavour", None)
        return body

    def summary(self) -> str:
        return f"Create image {self.name!r}" if self.name else "Create an image"


class DeleteImage(GlanceRequest):
    returns: ClassVar[str] = "nothing"
    method: ClassVar[str] = "DELETE"
    destructive: ClassVar[bool] = True
    expect: ClassVar[tuple[int, ...]] = (204,)

    image_id: str

    def path(self) -> str:
        return f"/v2/images/{path_segment(self.image_id, field='image_id')}"

    def summary(self) -> str:
        return f"Delete image {self.image_id}"


class UploadImageData(GlanceRequest):
    """``PUT /v2/images/{id}/file``: the image's data, for a ``queued`` image
    whose disk and container formats are set. Glance answers 204; the image
    then reads ``active`` (or still ``saving`` while a backend finishes)."""

    returns: ClassVar[str] = "upload"
    method: ClassVar[str] = "PUT"
    # A second PUT is refused (409: "active to saving is not allowed") once
    # the first one landed, so a lost answer must not be replayed blindly.
    idempotent: ClassVar[bool | None] = False
    costly: ClassVar[bool] = True
    expect: ClassVar[tuple[int, ...]] = (204,)

    image_id: str
    data: bytes = Field(repr=False)

    def path(self) -> str:
        return f"/v2/images/{path_segment(self.image_id, field='image_id')}/file"

    def headers(self) -> Mapping[str, str]:
        return {"Content-Type": "application/octet-stream"}

    def content(self) -> bytes | None:
        return self.data

    def summary(self) -> str:
        return f"Upload {len(self.data)} bytes to image {self.image_id}"


# -- patching ----------------------------------------------------------------------------------
def _operation(index: int, raw: Any) -> PatchOperation:
    """One operation from a ``PatchOperation`` or a dict in either dialect."""
    if isinstance(raw, PatchOperation):
        return raw
    pointer = None
    if isinstance(raw, Mapping):
        pointer = raw.get("path") if "op" in raw else next(
            (raw[key] for key in ("add", "remove", "replace") if key in raw), None)
    where = f"operations[{index}]" + (f" {pointer}" if isinstance(pointer, str) else "")
    try:
        if isinstance(raw, Mapping) and "op" not in raw and any(key in raw for key in ("add", "remove", "replace")):
            return PatchOperation.from_v20(dict(raw))
        return PatchOperation.model_validate(raw)
    except ValidationError as exc:
        raise ValueError(f"{where}: {_reasons(exc)}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _reasons(error: ValidationError) -> str:
    """The rules a pydantic error reports (naming the member, unless it is
    the path already named), without pydantic's decoration."""
    reasons = []
    for item in error.errors():
        message = str(item.get("msg", "")).removeprefix("Value error, ")
        member = ".".join(str(part) for part in item.get("loc", ()))
        reasons.append(f"{member}: {message}" if member not in ("", "path") else message)
    return "; ".join(reasons)


class PatchImage(GlanceRequest):
    """``PATCH /v2/images/{id}``: JSON-patch operations in one dialect.

    ``operations`` take ``PatchOperation`` objects or dicts in either shape.
    v2.1 (the default) sends ``application/openstack-images-v2.1-json-patch``
    with ``{"op", "path", "value"}``; v2.0 sends the deprecated
    ``application/openstack-images-v2.0-json-patch`` with
    ``{"add" | "remove" | "replace": "/path", "value"}``. Glance applies the
    operations atomically and answers 200 with the whole image.
    """

    method: ClassVar[str] = "PATCH"

    image_id: str
    operations: list[PatchOperation]
    dialect: PatchDialect = "v2.1"
    flavour: Flavour = "glance"

    @field_validator("operations", mode="before")
    @classmethod
    def _operations(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of JSON-patch operations")
        return [_operation(index, raw) for index, raw in enumerate(value)]

    @model_validator(mode="after")
    def _flavour_rules(self) -> PatchImage:
        # The flavour's rules (IMS's allowed attributes, its disk formats), op by op.
        for index, operation in enumerate(self.operations):
            try:
                ImagePatch(operations=[operation], dialect=self.dialect, flavour=self.flavour)
            except ValidationError as exc:
                reason = _reasons(exc).removeprefix("operations[0].path: ")
                raise ValueError(f"operations[{index}] {operation.path}: {reason}") from None
        return self

    @property
    def media_type(self) -> str:
        return MEDIA_TYPE_BY_DIALECT[self.dialect]

    def path(self) -> str:
        return f"/v2/images/{path_segment(self.image_id, field='image_id')}"

    def headers(self) -> Mapping[str, str]:
        return {"Content-Type": self.media_type}

    def json_body(self) -> Any:
        return [operation.render(self.dialect) for operation in self.operations]

    def is_idempotent(self) -> bool:
        # Setting values is safe to repeat (the second time changes nothing);
        # a repeated remove, or a v2.0 add, is refused with 409.
        return all(op.op == "replace" or (op.op == "add" and self.dialect == "v2.1") for op in self.operations)

    def check_against(self, image: Mapping[str, Any] | Image) -> None:
        """Raise ``ValueError`` for what the server would refuse given the
        image as it stands: replacing or removing a property it does not have
        (409), a v2.0 ``add`` of one it has (409), changing the disk or
        container format of an image that is no longer queued (403)."""
        current = image.to_api() if isinstance(image, Image) else dict(image)
        problems = []
        for index, operation in enumerate(self.operations):
            attribute = operation.attribute
            exists = attribute in current or attribute in CORE_ATTRIBUTES
            where = f"operations[{index}] {operation.path}"
            if operation.op in ("replace", "remove") and not exists:
                problems.append(f"{where}: the image has no property {attribute!r} to {operation.op}")
            if operation.op == "add" and self.dialect == "v2.0" and exists:
                problems.append(f"{where}: {attribute!r} is already present, and a v2.0 'add' of it is refused: "
                                "use 'replace'")
            if (attribute in ("disk_format", "container_format") and operation.op != "remove"
                    and current.get("status") not in (None, "queued", "importing")
                    and operation.value != current.get(attribute)):
                problems.append(f"{where}: {attribute} can be changed only while the image is queued "
                                f"(it is {current.get('status')})")
        if problems:
            raise ValueError("; ".join(problems))

    def summary(self) -> str:
        if not self.operations:
            return f"Update image {self.image_id} (no changes)"
        changes = ", ".join(f"{op.op} {op.path}" for op in self.operations)
        return f"Update image {self.image_id}: {changes}"


# -- computing a patch ---------------------------------------------------------------------------
def _as_dict(image: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(image, Image):
        return image.to_api()
    if isinstance(image, BaseModel):
        return image.model_dump(by_alias=True)
    if isinstance(image, Mapping):
        return dict(image)
    raise TypeError(f"expected an image (a dict or an Image model), got {type(image).__name__}")


def _root(pointer: str) -> str:
    """The top-level attribute a (possibly nested) JSON pointer starts at."""
    first = pointer.split("/", 2)[1] if pointer.startswith("/") else pointer
    return decode_pointer("/" + first)


def _same_tags(before: Any, after: Any) -> bool:
    return isinstance(before, list) and isinstance(after, list) and set(before) == set(after)


def patch_between(before: Mapping[str, Any] | BaseModel, after: Mapping[str, Any] | BaseModel) -> list[PatchOperation]:
    """The Glance operations that turn image ``before`` into ``after``.

    ``jsonpatch`` computes the difference; each changed top-level attribute
    becomes one operation: ``replace`` when it exists (always for core
    attributes, which every image has), ``add`` when it is new, ``remove``
    when it is gone (or a custom property set to None). Tags are compared as
    a set and sent whole, without duplicates. A changed read-only attribute
    raises ``ValueError`` naming it.
    """
    import jsonpatch  # here, not at the top: it (with difflib) is only needed to edit, not to list

    old, new = _as_dict(before), _as_dict(after)
    roots: list[str] = []
    for change in jsonpatch.make_patch(old, new).patch:
        for pointer in (change.get("from"), change.get("path")):
            if isinstance(pointer, str) and pointer not in ("", "/"):
                root = _root(pointer)
                if root not in roots:
                    roots.append(root)
    operations: list[PatchOperation] = []
    for root in roots:
        where = encode_pointer(root)
        if root in READ_ONLY_ATTRIBUTES:
            raise ValueError(f"{where}: {root!r} is read-only: only the Image service sets it "
                             f"(it changed from {old.get(root)!r} to {new.get(root)!r})")
        present_before = root in old
        present_after = root in new and not (new[root] is None and root not in CORE_ATTRIBUTES)
        if root == "tags" and _same_tags(old.get(root), new.get(root)):
            continue  # Glance keeps tags as a set: a new order is no change
        try:
            if not present_after:
                if present_before and old[root] is not None:
                    operations.append(PatchOperation.remove(root))
                continue
            value = new[root]
            if root == "tags" and isinstance(value, list):
                value = list(dict.fromkeys(value))
            if present_before or root in CORE_ATTRIBUTES:
                operations.append(PatchOperation.replace(root, value))
            else:
                operations.append(PatchOperation.add(root, value))
        except ValidationError as exc:
            raise ValueError(f"{where}: {_reasons(exc)}") from None
    return operations


def edit_request(before: Mapping[str, Any] | BaseModel, after: Mapping[str, Any] | BaseModel, *,
                 dialect: PatchDialect = "v2.1", flavour: Flavour = "glance") -> PatchImage:
    """The ``PatchImage`` that turns ``before`` into ``after`` (the image's id from ``before``)."""
    old = _as_dict(before)
    image_id = old.get("id")
    if not isinstance(image_id, str) or not image_id:
        raise ValueError("id: the image as it was must carry its id")
    request = PatchImage(image_id=image_id, operations=patch_between(old, after), dialect=dialect, flavour=flavour)
    request.check_against(old)
    return request


def operations_from(raw: Iterable[Any] | Sequence[Any]) -> list[PatchOperation]:
    """``PatchOperation`` objects from dicts in either dialect (errors name the path)."""
    return [_operation(index, item) for index, item in enumerate(raw)]


__all__ = [
    "CreateImage",
    "DeleteImage",
    "GetImage",
    "GlanceRequest",
    "LIST_FILTERS",
    "ListImages",
    "MAX_PAGE",
    "PatchImage",
    "UploadImageData",
    "edit_request",
    "operations_from",
    "patch_between",
]
