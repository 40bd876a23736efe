"""Typed requests of the Yandex Compute image API and the Operation service.

Each request is the API's own request model (``workbench.providers.yandex.models``,
which enforces every documented rule and names the field that breaks one)
combined with ``ApiRequest``, which renders it to the exact HTTP request::

    request = CreateImage(folder_id="b1g...", name="web-3", disk_id="fhm...")
    driver.curl(request)          # what will be sent, secrets masked
    op = await driver.send(request)

State-changing requests carry an ``Idempotency-Key`` (a fresh UUID4 made
with the request and kept on it): the HTTP core may then retry them after a
dropped connection, and sending the same request object again returns the
operation it started the first time instead of starting a second one. To
send a *new* request with the same fields, use ``renewed()``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from workbench.providers.base import ApiRequest, path_segment
from workbench.providers.yandex import models as ym

#: Where a request goes: the Compute API or the Operation service (another host).
COMPUTE = "compute"
OPERATION = "operation"

#: Fields an image list can be filtered by (the API's filter grammar).
FILTER_FIELDS = ("id", "name", "family", "status")


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def _required_id(field: str, value: str) -> str:
    if not value:
        raise PydanticCustomError("required", "{field}: required field is missing", {"field": field})
    if len(value) > ym.ID_MAX_LENGTH:
        raise PydanticCustomError(
            "max_length", "{field}: length must be at most {maximum} characters, got {length}",
            {"field": field, "maximum": ym.ID_MAX_LENGTH, "length": len(value)},
        )
    return value


class YandexRequest(ApiRequest):
    """A request to Yandex Cloud; ``service`` picks the base URL."""

    service: ClassVar[str] = COMPUTE
    #: What the answer is: "operation", "image", "images" (a list page) or "operations".
    returns: ClassVar[str] = "json"


class MutatingRequest(YandexRequest):
    """A state-changing call: an ``Idempotency-Key`` makes it safe to retry."""

    returns: ClassVar[str] = "operation"
    #: Operation kind, for the tracker ("create", "update", "delete").
    kind: ClassVar[str] = ""

    idempotency_key: str = Field(default_factory=new_idempotency_key, exclude=True)

    @field_validator("idempotency_key")
    @classmethod
    def _uuid_key(cls, value: str) -> str:
        try:
            uuid.UUID(value)
        except (ValueError, TypeError, AttributeError):
            raise PydanticCustomError(
                "uuid", "Idempotency-Key: must be a UUID (the API requires one), got {value}", {"value": repr(value)}
            ) from None
        return value

    def headers(self) -> Mapping[str, str]:
        return {"Idempotency-Key": self.idempotency_key}

    def renewed(self) -> MutatingRequest:
        """A copy with a fresh Idempotency-Key: a new request, not a retry."""
        return self.model_copy(update={"idempotency_key": new_idempotency_key()})


# -- images ------------------------------------------------------------------------------
class CreateImage(MutatingRequest, ym.CreateImageRequest):
    """``POST /compute/v1/images``: a new image from exactly one of an image,
    a disk, a snapshot or an Object Storage ``uri``; returns an Operation
    (metadata ``CreateImageMetadata``, response the ``Image``)."""

    method: ClassVar[str] = "POST"
    costly: ClassVar[bool] = True
    kind: ClassVar[str] = "create"

    def path(self) -> str:
        return "/compute/v1/images"

    def json_body(self) -> Any:
        return self.to_wire()

    def summary(self) -> str:
        source, value = self.source
        noun = {"imageId": "image", "diskId": "disk", "snapshotId": "snapshot", "uri": "uri"}.get(source, source)
        name = self.name or "(unnamed)"
        return f"Create image {name} in folder {self.folder_id} from {noun} {value}"


class UpdateImage(MutatingRequest, ym.UpdateImageRequest):
    """``PATCH /compute/v1/images/{imageId}``: name, description, minDiskSize,
    labels (labels are replaced as a whole). ``update_mask`` defaults to the
    fields given, so setting ``description=""`` clears the description."""

    method: ClassVar[str] = "PATCH"
    kind: ClassVar[str] = "update"

    @field_validator("image_id")
    @classmethod
    def _image_id_required(cls, value: str) -> str:
        return _required_id("imageId", value)

    @model_validator(mode="after")
    def _default_mask(self) -> UpdateImage:
        if not self.update_mask.strip():
            given = [to_camel(name) for name in ("name", "description", "min_disk_size", "labels")
                     if name in self.model_fields_set]
            if not given:
                raise PydanticCustomError(
                    "field_mask", "updateMask: nothing to update; give at least one of name, description, "
                                  "minDiskSize, labels (or an updateMask naming them)",
                )
            self.update_mask = ",".join(given)
        return self

    def path(self) -> str:
        return f"/compute/v1/images/{path_segment(self.image_id, field='imageId')}"

    def json_body(self) -> Any:
        body = self.to_wire()
        body.pop("imageId", None)  # it is in the path
        return body

    def summary(self) -> str:
        return f"Update image {self.image_id} ({self.update_mask})"


class DeleteImage(MutatingRequest):
    """``DELETE /compute/v1/images/{imageId}``; returns an Operation."""

    method: ClassVar[str] = "DELETE"
    destructive: ClassVar[bool] = True
    kind: ClassVar[str] = "delete"

    image_id: str

    @field_validator("image_id")
    @classmethod
    def _image_id_required(cls, value: str) -> str:
        return _required_id("imageId", value)

    def path(self) -> str:
        return f"/compute/v1/images/{path_segment(self.image_id, field='imageId')}"

    def summary(self) -> str:
        return f"Delete image {self.image_id}"


class GetImage(YandexRequest):
    """``GET /compute/v1/images/{imageId}``."""

    returns: ClassVar[str] = "image"
    image_id: str

    @field_validator("image_id")
    @classmethod
    def _image_id_required(cls, value: str) -> str:
        return _required_id("imageId", value)

    def path(self) -> str:
        return f"/compute/v1/images/{path_segment(self.image_id, field='imageId')}"

    def summary(self) -> str:
        return f"Get image {self.image_id}"


class GetImageLatestByFamily(YandexRequest, ym.GetImageLatestByFamilyRequest):
    """``GET /compute/v1/images:latestByFamily?folderId=&family=``: the newest
    READY image of a family."""

    returns: ClassVar[str] = "image"

    @field_validator("family")
    @classmethod
    def _family_required(cls, value: str) -> str:
        if not value:
            raise PydanticCustomError("required", "family: required field is missing")
        return value

    def path(self) -> str:
        return "/compute/v1/images:latestByFamily"

    def query(self) -> Mapping[str, Any]:
        return {"folderId": self.folder_id, "family": self.family}

    def summary(self) -> str:
        return f"Get the latest image of family {self.family} in folder {self.folder_id}"


class ListImages(YandexRequest, ym.ListImagesRequest):
    """``GET /compute/v1/images``: one page of a folder's images."""

    returns: ClassVar[str] = "images"

    def path(self) -> str:
        return "/compute/v1/images"

    def query(self) -> Mapping[str, Any]:
        return {key: value for key, value in self.to_wire().items()}

    def summary(self) -> str:
        where = f" matching {self.filter}" if self.filter else ""
        return f"List images in folder {self.folder_id}{where}"


class ListImageOperations(YandexRequest, ym.ListImageOperationsRequest):
    """``GET /compute/v1/images/{imageId}/operations``: one page of an image's operations."""

    returns: ClassVar[str] = "operations"

    @field_validator("image_id")
    @classmethod
    def _image_id_required(cls, value: str) -> str:
        return _required_id("imageId", value)

    def path(self) -> str:
        return f"/compute/v1/images/{path_segment(self.image_id, field='imageId')}/operations"

    def query(self) -> Mapping[str, Any]:
        wire = self.to_wire()
        wire.pop("imageId", None)
        return wire


# -- operations (operation.api.cloud.yandex.net) -------------------------------------------
class GetOperation(YandexRequest):
    """``GET /operations/{operationId}`` on the Operation service."""

    service: ClassVar[str] = OPERATION
    returns: ClassVar[str] = "operation"
    operation_id: str

    @field_validator("operation_id")
    @classmethod
    def _operation_id_required(cls, value: str) -> str:
        return _required_id("operationId", value)

    def path(self) -> str:
        return f"/operations/{path_segment(self.operation_id, field='operationId')}"

    def summary(self) -> str:
        return f"Get operation {self.operation_id}"


class CancelOperation(GetOperation):
    """``GET /operations/{operationId}:cancel`` (a GET, as operation_service.proto maps it)."""

    def path(self) -> str:
        return super().path() + ":cancel"

    def summary(self) -> str:
        return f"Cancel operation {self.operation_id}"


# -- list filters ---------------------------------------------------------------------------
def _quote(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"filter {field}: values must be strings, got {type(value).__name__}")
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def filter_expression(raw: str | None = None, **conditions: str | Iterable[str]) -> str:
    """An API filter from ``field=value`` (``=``) or ``field=[values]`` (``IN``)
    conditions, joined with ``AND`` after an optional raw expression."""
    unknown = sorted(set(conditions) - set(FILTER_FIELDS))
    if unknown:
        raise ValueError(f"unknown filter(s) {', '.join(unknown)}; Yandex image lists filter by "
                         f"{', '.join(FILTER_FIELDS)} (or pass filter='<expression>')")
    parts = [raw.strip()] if raw and raw.strip() else []
    for field, value in conditions.items():
        if value is None:
            continue
        if isinstance(value, str):
            parts.append(f"{field}={_quote(value, field)}")
        else:
            values = list(value)
            if not values:
                raise ValueError(f"filter {field}: give at least one value")
            parts.append(f"{field} IN ({', '.join(_quote(v, field) for v in values)})")
    return " AND ".join(parts)


__all__ = [
    "COMPUTE",
    "OPERATION",
    "CancelOperation",
    "CreateImage",
    "DeleteImage",
    "GetImage",
    "GetImageLatestByFamily",
    "GetOperation",
    "ListImageOperations",
    "ListImages",
    "MutatingRequest",
    "UpdateImage",
    "YandexRequest",
    "filter_expression",
    "new_idempotency_key",
]
