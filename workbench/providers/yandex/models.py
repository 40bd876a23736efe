"""Yandex Cloud Compute images, operations, IAM tokens and errors as pydantic models.

The REST API speaks canonical proto3 JSON: lowerCamelCase names, int64 values as
strings, RFC 3339 timestamps in UTC, enums by name, default values left out and
``google.protobuf.Any`` as an object carrying an ``@type``. Attributes here are
snake_case (the proto field names, which proto3 JSON parsers accept as well);
``to_wire()`` renders canonical JSON and ``model_validate`` reads it.

Request models enforce every rule the protos (yandex-cloud/cloudapi) and the REST
reference document, so a bad request fails here, naming the field and the rule,
before anything is sent. Where the two texts disagree the newer proto wins: an
image name may contain ``_`` and a ``uri`` may point at a RAW image too.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from enum import Enum, IntEnum
from typing import Annotated, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

# -- documented limits --------------------------------------------------------
ID_MAX_LENGTH = 50
DESCRIPTION_MAX_LENGTH = 256
LABELS_MAX_COUNT = 64
LABEL_KEY_LENGTH = (1, 63)
LABEL_VALUE_MAX_LENGTH = 63
MIN_DISK_SIZE_RANGE = (4_194_304, 4_398_046_511_104)  # 4 MiB .. 4 TiB
PAGE_SIZE_MAX = 1000
PAGE_SIZE_DEFAULT = 100  # api-design-guide, "Pagination"
PAGE_TOKEN_MAX_LENGTH = 100
FILTER_MAX_LENGTH = 1000
ORDER_BY_MAX_LENGTH = 100

NAME_PATTERN = "|[a-z]([-_a-z0-9]{0,61}[a-z0-9])?"
FAMILY_PATTERN = "|[a-z][-a-z0-9]{1,61}[a-z0-9]"
LABEL_KEY_PATTERN = r"[a-z][-_./\@0-9a-z]*"
LABEL_VALUE_PATTERN = r"[-_./\@0-9a-z]*"
_NAME_RE = re.compile(NAME_PATTERN)
_FAMILY_RE = re.compile(FAMILY_PATTERN)
_LABEL_KEY_RE = re.compile(LABEL_KEY_PATTERN)
_LABEL_VALUE_RE = re.compile(LABEL_VALUE_PATTERN)

#: Object Storage endpoints an image ``uri`` may point at (path or virtual-hosted style)
OBJECT_STORAGE_HOSTS = ("storage.yandexcloud.net", "storage.cloud.yandex.net")
#: File extensions of the image formats Compute imports (Qcow2, VMDK, VHD, RAW)
IMAGE_FILE_EXTENSIONS = (".qcow2", ".qcow", ".vmdk", ".vhd", ".raw", ".img")

#: The audience a service-account JWT must name (IAM token exchange)
IAM_TOKEN_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
#: A service-account JWT may live at most this long (exp - iat), in seconds
JWT_MAX_LIFETIME = 3600

ANY_TYPE_PREFIX = "type.googleapis.com/"


# -- gRPC status codes and their HTTP mapping ----------------------------------
class Code(IntEnum):
    """google.rpc.Code"""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


#: gRPC code -> HTTP status, the table of the API design guide ("Handling errors")
HTTP_STATUS_BY_CODE: dict[Code, int] = {
    Code.OK: 200,
    Code.CANCELLED: 499,
    Code.UNKNOWN: 500,
    Code.INVALID_ARGUMENT: 400,
    Code.DEADLINE_EXCEEDED: 504,
    Code.NOT_FOUND: 404,
    Code.ALREADY_EXISTS: 409,
    Code.PERMISSION_DENIED: 403,
    Code.RESOURCE_EXHAUSTED: 429,
    Code.FAILED_PRECONDITION: 400,
    Code.ABORTED: 409,
    Code.OUT_OF_RANGE: 400,
    Code.UNIMPLEMENTED: 501,
    Code.INTERNAL: 500,
    Code.UNAVAILABLE: 503,
    Code.DATA_LOSS: 500,
    Code.UNAUTHENTICATED: 401,
}

# HTTP status -> the code a client should assume when a body carries none
_CODE_BY_HTTP_STATUS: dict[int, Code] = {
    400: Code.INVALID_ARGUMENT,
    401: Code.UNAUTHENTICATED,
    403: Code.PERMISSION_DENIED,
    404: Code.NOT_FOUND,
    405: Code.UNIMPLEMENTED,
    409: Code.ABORTED,
    429: Code.RESOURCE_EXHAUSTED,
    499: Code.CANCELLED,
    501: Code.UNIMPLEMENTED,
    503: Code.UNAVAILABLE,
    504: Code.DEADLINE_EXCEEDED,
}


def http_status_for(code: int) -> int:
    """The HTTP status the REST API answers with for a gRPC code."""
    try:
        return HTTP_STATUS_BY_CODE[Code(code)]
    except ValueError:
        return 500


def code_for_http_status(status: int) -> Code:
    """The gRPC code matching an HTTP status (for bodies that carry no code)."""
    if status in _CODE_BY_HTTP_STATUS:
        return _CODE_BY_HTTP_STATUS[status]
    if status < 400:
        return Code.OK
    return Code.INTERNAL if status >= 500 else Code.UNKNOWN


# -- proto3 JSON scalar types --------------------------------------------------
def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with ``Z`` and 0, 3 or 6 fractional digits, as proto3 JSON does."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    micros = value.microsecond
    if micros:
        text += f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"
    return text + "Z"


def _parse_timestamp(value: Any) -> Any:
    # proto3 JSON timestamps are strings; pydantic alone would also take numbers
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("timestamp", "must be an RFC 3339 timestamp string")
    if not re.fullmatch(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)", value):
        raise PydanticCustomError("timestamp", "must be an RFC 3339 timestamp such as 2024-01-31T12:00:00Z")
    # datetime keeps microseconds: drop nanosecond digits beyond six
    return re.sub(r"(\.\d{6})\d+", r"\1", value)


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise PydanticCustomError("timestamp", "must carry a time zone (Z or an offset)")
    return value.astimezone(timezone.utc)


def _parse_int64(value: Any) -> int:
    # proto3 JSON parsers take int64 as a string or as a number
    if isinstance(value, bool):
        raise PydanticCustomError("int64", "must be an int64 (a string or an integer), not a boolean")
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        number = int(value)
    else:
        raise PydanticCustomError(
            "int64", "must be an int64 (a string or an integer), got {value}", {"value": repr(value)}
        )
    if not -(2**63) <= number < 2**63:
        raise PydanticCustomError("int64", "is out of the int64 range")
    return number


Int64 = Annotated[int, BeforeValidator(_parse_int64), PlainSerializer(str, return_type=str, when_used="json")]
Timestamp = Annotated[
    datetime,
    BeforeValidator(_parse_timestamp),
    AfterValidator(_utc),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
]


class ProtoEnum(str, Enum):
    """A proto enum: by name on the wire; parsers also take the number."""

    @classmethod
    def parse(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            members = list(cls)  # these protos number their values 0, 1, 2, ...
            if 0 <= value < len(members):
                return members[value]
        if isinstance(value, str) and value not in cls.__members__:
            names = ", ".join(cls.__members__)
            raise PydanticCustomError(
                "enum", "unknown value {value}; expected one of {names}", {"value": repr(value), "names": names}
            )
        return value


class ImageStatus(ProtoEnum):
    STATUS_UNSPECIFIED = "STATUS_UNSPECIFIED"
    CREATING = "CREATING"
    READY = "READY"
    ERROR = "ERROR"
    DELETING = "DELETING"


class OsType(ProtoEnum):
    TYPE_UNSPECIFIED = "TYPE_UNSPECIFIED"
    LINUX = "LINUX"
    WINDOWS = "WINDOWS"


class PCITopology(ProtoEnum):
    PCI_TOPOLOGY_UNSPECIFIED = "PCI_TOPOLOGY_UNSPECIFIED"
    PCI_TOPOLOGY_V1 = "PCI_TOPOLOGY_V1"
    PCI_TOPOLOGY_V2 = "PCI_TOPOLOGY_V2"


# enum-typed fields: read by name or number
ImageStatusValue = Annotated[ImageStatus, BeforeValidator(ImageStatus.parse)]
OsTypeValue = Annotated[OsType, BeforeValidator(OsType.parse)]
PCITopologyValue = Annotated[PCITopology, BeforeValidator(PCITopology.parse)]


# -- base ------------------------------------------------------------------------
class ProtoModel(BaseModel):
    """A proto3 message: camelCase on the wire, snake_case in Python.

    Response models ignore fields they do not know, so a client keeps working
    when the API grows; request models (``RequestModel``) refuse them, as the
    REST gateway does.
    """

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")

    #: Full proto name, for ``google.protobuf.Any`` packing
    PROTO_NAME: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _null_means_default(cls, data: Any) -> Any:
        # proto3 JSON: a null value stands for the field's default
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data

    def to_wire(self) -> dict[str, Any]:
        """Canonical proto3 JSON: camelCase, int64 as strings, defaults left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)

    def to_any(self) -> dict[str, Any]:
        """This message packed as a ``google.protobuf.Any``."""
        return {"@type": ANY_TYPE_PREFIX + self.PROTO_NAME, **self.to_wire()}


class RequestModel(ProtoModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


M = TypeVar("M", bound=ProtoModel)


def any_type_name(value: dict[str, Any] | None) -> str:
    """The full message name inside an ``Any`` (``""`` when absent)."""
    if not value:
        return ""
    return str(value.get("@type", "")).removeprefix(ANY_TYPE_PREFIX)


def unpack_any(value: dict[str, Any] | None, model: type[M]) -> M | None:
    """The message inside an ``Any`` if it is a ``model``, else None."""
    if not value or any_type_name(value) != model.PROTO_NAME:
        return None
    return model.model_validate({k: v for k, v in value.items() if k != "@type"})


def _check_any(value: Any) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("@type"), str):
        raise PydanticCustomError("any", "must be an object with an @type (google.protobuf.Any)")
    if not value["@type"].startswith(ANY_TYPE_PREFIX):
        raise PydanticCustomError("any", "@type must start with {prefix}", {"prefix": ANY_TYPE_PREFIX})
    return value


AnyMessage = Annotated[dict[str, Any], BeforeValidator(_check_any)]


# -- the Image resource (image.proto) -----------------------------------------------
class Nvidia(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.Nvidia"
    driver: StrictStr = ""


class Os(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.Os"
    type: OsTypeValue = OsType.TYPE_UNSPECIFIED
    nvidia: Nvidia | None = None


class LegacyHardwareFeatures(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.LegacyHardwareFeatures"
    pci_topology: PCITopologyValue = PCITopology.PCI_TOPOLOGY_UNSPECIFIED


class Generation2HardwareFeatures(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.Generation2HardwareFeatures"


class HardwareGeneration(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.HardwareGeneration"
    legacy_features: LegacyHardwareFeatures | None = None
    generation2_features: Generation2HardwareFeatures | None = None

    @model_validator(mode="after")
    def _one_generation(self) -> "HardwareGeneration":
        if self.legacy_features is not None and self.generation2_features is not None:
            raise PydanticCustomError(
                "oneof", "hardwareGeneration: only one of legacyFeatures, generation2Features may be set"
            )
        return self


class KMSKey(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.KMSKey"
    key_id: StrictStr = ""
    version_id: StrictStr = ""


class Image(ProtoModel):
    """An Image resource."""

    PROTO_NAME = "yandex.cloud.compute.v1.Image"
    id: StrictStr = ""
    folder_id: StrictStr = ""
    created_at: Timestamp | None = None
    name: StrictStr = ""
    description: StrictStr = ""
    labels: dict[str, str] = Field(default_factory=dict)
    family: StrictStr = ""
    #: total size of the image, bytes
    size: Int64 = 0
    #: storage size of the image, bytes
    storage_size: Int64 = 0
    #: minimum size of a disk created from this image, bytes
    min_disk_size: Int64 = 0
    product_ids: list[str] = Field(default_factory=list)
    status: ImageStatusValue = ImageStatus.STATUS_UNSPECIFIED
    os: Os | None = None
    pooled: StrictBool = False
    hardware_generation: HardwareGeneration | None = None
    kms_key: KMSKey | None = None


# -- request rules ------------------------------------------------------------------
def _check_length(field: str, value: str, maximum: int) -> str:
    if len(value) > maximum:
        raise PydanticCustomError(
            "max_length",
            "{field}: length must be at most {maximum} characters, got {length}",
            {"field": field, "maximum": maximum, "length": len(value)},
        )
    return value


def _check_pattern(field: str, value: str, regex: re.Pattern[str], pattern: str) -> str:
    if not regex.fullmatch(value):
        raise PydanticCustomError(
            "pattern",
            "{field}: value {value} does not match the regular expression {pattern}",
            {"field": field, "value": repr(value), "pattern": pattern},
        )
    return value


def check_name(value: str) -> str:
    return _check_pattern("name", value, _NAME_RE, NAME_PATTERN)


def check_family(value: str) -> str:
    return _check_pattern("family", value, _FAMILY_RE, FAMILY_PATTERN)


def check_description(value: str) -> str:
    return _check_length("description", value, DESCRIPTION_MAX_LENGTH)


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    if len(labels) > LABELS_MAX_COUNT:
        raise PydanticCustomError(
            "labels", "labels: at most {maximum} labels are allowed, got {count}",
            {"maximum": LABELS_MAX_COUNT, "count": len(labels)},
        )
    low, high = LABEL_KEY_LENGTH
    for key, value in labels.items():
        if not low <= len(key) <= high:
            raise PydanticCustomError(
                "labels", "labels: key {key} must be {low}-{high} characters long",
                {"key": repr(key), "low": low, "high": high},
            )
        if not _LABEL_KEY_RE.fullmatch(key):
            raise PydanticCustomError(
                "labels", "labels: key {key} does not match the regular expression {pattern}",
                {"key": repr(key), "pattern": LABEL_KEY_PATTERN},
            )
        if len(value) > LABEL_VALUE_MAX_LENGTH:
            raise PydanticCustomError(
                "labels", "labels: value of {key} must be at most {maximum} characters",
                {"key": repr(key), "maximum": LABEL_VALUE_MAX_LENGTH},
            )
        if not _LABEL_VALUE_RE.fullmatch(value):
            raise PydanticCustomError(
                "labels", "labels: value {value} of {key} does not match the regular expression {pattern}",
                {"key": repr(key), "value": repr(value), "pattern": LABEL_VALUE_PATTERN},
            )
    return labels


def check_min_disk_size(value: int) -> int:
    low, high = MIN_DISK_SIZE_RANGE
    if value != 0 and not low <= value <= high:  # 0: not set
        raise PydanticCustomError(
            "range", "minDiskSize: must be between {low} and {high} bytes, got {value}",
            {"low": low, "high": high, "value": value},
        )
    return value


def check_folder_id(value: str) -> str:
    if not value:
        raise PydanticCustomError("required", "folderId: required field is missing")
    return _check_length("folderId", value, ID_MAX_LENGTH)


def check_image_uri(uri: str) -> str:
    """An Object Storage link (https) to a Qcow2, VMDK, VHD or RAW image file."""
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https":
        raise PydanticCustomError("uri", "uri: must be an https:// link to Object Storage, got {uri}", {"uri": repr(uri)})
    virtual_hosted = next((h for h in OBJECT_STORAGE_HOSTS if host.endswith("." + h)), None)
    if host not in OBJECT_STORAGE_HOSTS and virtual_hosted is None:
        raise PydanticCustomError(
            "uri", "uri: only links to images stored in Object Storage ({hosts}) are supported, got host {host}",
            {"hosts": ", ".join(OBJECT_STORAGE_HOSTS), "host": repr(host)},
        )
    path = parts.path.lstrip("/")
    # path-style links name the bucket first: /<bucket>/<object key>
    key = path if virtual_hosted else path.partition("/")[2]
    if not key:
        raise PydanticCustomError("uri", "uri: must name a bucket and an object, got {uri}", {"uri": repr(uri)})
    if not key.lower().endswith(IMAGE_FILE_EXTENSIONS):
        raise PydanticCustomError(
            "uri", "uri: only Qcow2, VMDK, VHD and RAW images are supported (a file ending in {exts}), got {key}",
            {"exts": ", ".join(IMAGE_FILE_EXTENSIONS), "key": repr(key.rsplit("/", 1)[-1])},
        )
    return uri


def check_page_size(value: int) -> int:
    if not 0 <= value <= PAGE_SIZE_MAX:
        raise PydanticCustomError(
            "range", "pageSize: must be between 0 and {maximum}, got {value}", {"maximum": PAGE_SIZE_MAX, "value": value}
        )
    return value


def check_page_token(value: str) -> str:
    return _check_length("pageToken", value, PAGE_TOKEN_MAX_LENGTH)


FolderId = Annotated[StrictStr, AfterValidator(check_folder_id)]
PageSize = Annotated[Int64, AfterValidator(check_page_size)]
PageToken = Annotated[StrictStr, AfterValidator(check_page_token)]
ImageName = Annotated[StrictStr, AfterValidator(check_name)]
Description = Annotated[StrictStr, AfterValidator(check_description)]
Family = Annotated[StrictStr, AfterValidator(check_family)]
Labels = Annotated[dict[StrictStr, StrictStr], AfterValidator(check_labels)]
MinDiskSize = Annotated[Int64, AfterValidator(check_min_disk_size)]

_SOURCE_FIELDS = ("image_id", "disk_id", "snapshot_id", "uri")
_SOURCE_NAMES = "imageId, diskId, snapshotId, uri"


class CreateImageRequest(RequestModel):
    """Body of ``POST /compute/v1/images``."""

    PROTO_NAME = "yandex.cloud.compute.v1.CreateImageRequest"
    folder_id: FolderId = Field(default="", validate_default=True)
    name: ImageName = ""
    description: Description = ""
    labels: Labels = Field(default_factory=dict)
    family: Family = ""
    min_disk_size: MinDiskSize = 0
    product_ids: list[StrictStr] = Field(default_factory=list)
    # oneof source
    image_id: StrictStr = ""
    disk_id: StrictStr = ""
    snapshot_id: StrictStr = ""
    uri: StrictStr = ""
    os: Os | None = None
    pooled: StrictBool = False
    hardware_generation: HardwareGeneration | None = None

    @field_validator("product_ids")
    @classmethod
    def _product_ids(cls, value: list[str]) -> list[str]:
        for index, product_id in enumerate(value):
            _check_length(f"productIds[{index}]", product_id, ID_MAX_LENGTH)
        return value

    @field_validator("image_id", "disk_id", "snapshot_id")
    @classmethod
    def _source_id(cls, value: str, info) -> str:
        return _check_length(to_camel(info.field_name), value, ID_MAX_LENGTH)

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        return check_image_uri(value) if value else value

    @model_validator(mode="after")
    def _exactly_one_source(self) -> "CreateImageRequest":
        given = [name for name in _SOURCE_FIELDS if name in self.model_fields_set]
        if len(given) > 1:
            raise PydanticCustomError(
                "oneof", "source: only one of {names} may be set, got {given}",
                {"names": _SOURCE_NAMES, "given": ", ".join(to_camel(n) for n in given)},
            )
        if not given or not getattr(self, given[0]):
            raise PydanticCustomError("oneof", "source: exactly one of {names} must be set", {"names": _SOURCE_NAMES})
        return self

    @property
    def source(self) -> tuple[str, str]:
        """(field, value) of the one source given, e.g. ``("diskId", "fhm...")``."""
        for name in _SOURCE_FIELDS:
            if getattr(self, name):
                return to_camel(name), getattr(self, name)
        return "", ""


#: Field mask paths ``UpdateImageRequest`` can change (camelCase and proto spelling)
UPDATABLE_IMAGE_FIELDS = {
    "name": "name",
    "description": "description",
    "minDiskSize": "min_disk_size",
    "min_disk_size": "min_disk_size",
    "labels": "labels",
}


class UpdateImageRequest(RequestModel):
    """Body of ``PATCH /compute/v1/images/{imageId}``.

    ``update_mask`` is a ``google.protobuf.FieldMask``, a comma-separated list of
    camelCase paths in JSON (``"name,labels"``).
    """

    PROTO_NAME = "yandex.cloud.compute.v1.UpdateImageRequest"
    image_id: StrictStr = ""
    update_mask: StrictStr = ""
    name: ImageName = ""
    description: Description = ""
    min_disk_size: MinDiskSize = 0
    labels: Labels = Field(default_factory=dict)

    @field_validator("image_id")
    @classmethod
    def _image_id(cls, value: str) -> str:
        return _check_length("imageId", value, ID_MAX_LENGTH)

    @field_validator("update_mask")
    @classmethod
    def _mask(cls, value: str) -> str:
        for path in filter(None, (p.strip() for p in value.split(","))):
            if path not in UPDATABLE_IMAGE_FIELDS:
                raise PydanticCustomError(
                    "field_mask", "updateMask: unknown or read-only field {path}; updatable: {fields}",
                    {"path": repr(path), "fields": "name, description, minDiskSize, labels"},
                )
        return value

    def fields_to_update(self) -> list[str]:
        """Attribute names to change: the mask's, else the fields given in the body."""
        mask = [p.strip() for p in self.update_mask.split(",") if p.strip()]
        if mask:
            return list(dict.fromkeys(UPDATABLE_IMAGE_FIELDS[p] for p in mask))
        return [name for name in ("name", "description", "min_disk_size", "labels") if name in self.model_fields_set]


class ListImagesRequest(RequestModel):
    """Query of ``GET /compute/v1/images``."""

    PROTO_NAME = "yandex.cloud.compute.v1.ListImagesRequest"
    folder_id: FolderId = Field(default="", validate_default=True)
    page_size: PageSize = 0
    page_token: PageToken = ""
    filter: StrictStr = ""
    order_by: StrictStr = ""

    @field_validator("filter")
    @classmethod
    def _filter(cls, value: str) -> str:
        return _check_length("filter", value, FILTER_MAX_LENGTH)

    @field_validator("order_by")
    @classmethod
    def _order_by(cls, value: str) -> str:
        return _check_length("orderBy", value, ORDER_BY_MAX_LENGTH)

    @property
    def effective_page_size(self) -> int:
        return self.page_size or PAGE_SIZE_DEFAULT


class ListImageOperationsRequest(RequestModel):
    """Path and query of ``GET /compute/v1/images/{imageId}/operations``."""

    PROTO_NAME = "yandex.cloud.compute.v1.ListImageOperationsRequest"
    image_id: StrictStr = ""
    page_size: PageSize = 0
    page_token: PageToken = ""

    @field_validator("image_id")
    @classmethod
    def _image_id(cls, value: str) -> str:
        return _check_length("imageId", value, ID_MAX_LENGTH)

    @property
    def effective_page_size(self) -> int:
        return self.page_size or PAGE_SIZE_DEFAULT


class GetImageLatestByFamilyRequest(RequestModel):
    """Query of ``GET /compute/v1/images:latestByFamily``."""

    PROTO_NAME = "yandex.cloud.compute.v1.GetImageLatestByFamilyRequest"
    folder_id: FolderId = Field(default="", validate_default=True)
    family: Family = ""


class ListImagesResponse(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.ListImagesResponse"
    images: list[Image] = Field(default_factory=list)
    next_page_token: StrictStr = ""


class CreateImageMetadata(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.CreateImageMetadata"
    image_id: StrictStr = ""


class UpdateImageMetadata(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.UpdateImageMetadata"
    image_id: StrictStr = ""


class DeleteImageMetadata(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.DeleteImageMetadata"
    image_id: StrictStr = ""


class Empty(ProtoModel):
    PROTO_NAME = "google.protobuf.Empty"


# -- errors and operations -----------------------------------------------------------
class Status(ProtoModel):
    """google.rpc.Status: an operation's ``error`` and the REST error body.

    ``{"code": 5, "message": "Image fd8... not found", "details": [{"@type":
    "type.googleapis.com/google.rpc.RequestInfo", "requestId": "..."}]}``
    """

    PROTO_NAME = "google.rpc.Status"
    code: int = 0
    message: StrictStr = ""
    details: list[AnyMessage] = Field(default_factory=list)

    @property
    def http_status(self) -> int:
        return http_status_for(self.code)

    @property
    def code_name(self) -> str:
        try:
            return Code(self.code).name
        except ValueError:
            return str(self.code)

    @property
    def request_id(self) -> str:
        """The ``requestId`` of a ``google.rpc.RequestInfo`` detail, if any."""
        for detail in self.details:
            if any_type_name(detail) == "google.rpc.RequestInfo":
                return str(detail.get("requestId", ""))
        return ""


#: The REST API's error body is a google.rpc.Status
ErrorBody = Status


class Operation(ProtoModel):
    """An Operation resource (yandex.cloud.operation.Operation)."""

    PROTO_NAME = "yandex.cloud.operation.Operation"
    id: StrictStr = ""
    description: StrictStr = ""
    created_at: Timestamp | None = None
    created_by: StrictStr = ""
    modified_at: Timestamp | None = None
    done: StrictBool = False
    metadata: AnyMessage | None = None
    # oneof result
    error: Status | None = None
    response: AnyMessage | None = None

    @model_validator(mode="after")
    def _one_result(self) -> "Operation":
        if self.error is not None and self.response is not None:
            raise PydanticCustomError("oneof", "result: only one of error, response may be set")
        return self

    def to_wire(self) -> dict[str, Any]:
        # The REST gateway always states ``done``, false included.
        return {**super().to_wire(), "done": self.done}

    def metadata_as(self, model: type[M]) -> M | None:
        return unpack_any(self.metadata, model)

    def response_as(self, model: type[M]) -> M | None:
        return unpack_any(self.response, model)

    @property
    def failed(self) -> bool:
        return self.done and self.error is not None


class ListImageOperationsResponse(ProtoModel):
    PROTO_NAME = "yandex.cloud.compute.v1.ListImageOperationsResponse"
    operations: list[Operation] = Field(default_factory=list)
    next_page_token: StrictStr = ""


# -- IAM token exchange (iam.api.cloud.yandex.net) -------------------------------------
class CreateIamTokenRequest(RequestModel):
    """Body of ``POST /iam/v1/tokens``: exactly one of an OAuth token or a JWT."""

    PROTO_NAME = "yandex.cloud.iam.v1.CreateIamTokenRequest"
    yandex_passport_oauth_token: StrictStr = ""
    jwt: StrictStr = ""

    @model_validator(mode="after")
    def _exactly_one_identity(self) -> "CreateIamTokenRequest":
        if self.yandex_passport_oauth_token and self.jwt:
            raise PydanticCustomError("oneof", "identity: only one of yandexPassportOauthToken, jwt may be set")
        if not (self.yandex_passport_oauth_token or self.jwt):
            raise PydanticCustomError("oneof", "identity: exactly one of yandexPassportOauthToken, jwt must be set")
        return self


class CreateIamTokenResponse(ProtoModel):
    PROTO_NAME = "yandex.cloud.iam.v1.CreateIamTokenResponse"
    iam_token: StrictStr = ""
    expires_at: Timestamp | None = None


# -- turning validation errors into field violations -------------------------------------
def field_violations(error: ValidationError) -> list[tuple[str, str]]:
    """(field, description) pairs for a pydantic error, fields named as on the wire.

    Our own rules word their messages ``"<field>: <rule>"``; pydantic's own
    (wrong type, unknown field) take the field from the error's location.
    """
    violations: list[tuple[str, str]] = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        named = _NAMED_RULE_RE.fullmatch(message)
        if named:
            violations.append((named["field"], named["rule"]))
        else:
            location = ".".join(str(part) for part in item["loc"])
            violations.append((location or "body", message))
    return violations


_NAMED_RULE_RE = re.compile(r"(?P<field>[A-Za-z][\w.\[\]]*): (?P<rule>.+)", re.DOTALL)


def describe_violations(violations: list[tuple[str, str]]) -> str:
    return "; ".join(f"{field}: {rule}" for field, rule in violations)


__all__ = [
    "AnyMessage",
    "Code",
    "CreateIamTokenRequest",
    "CreateIamTokenResponse",
    "CreateImageMetadata",
    "CreateImageRequest",
    "DeleteImageMetadata",
    "Empty",
    "ErrorBody",
    "GetImageLatestByFamilyRequest",
    "Generation2HardwareFeatures",
    "HTTP_STATUS_BY_CODE",
    "HardwareGeneration",
    "Image",
    "ImageStatus",
    "Int64",
    "KMSKey",
    "LegacyHardwareFeatures",
    "ListImageOperationsRequest",
    "ListImageOperationsResponse",
    "ListImagesRequest",
    "ListImagesResponse",
    "Nvidia",
    "Operation",
    "Os",
    "OsType",
    "PCITopology",
    "Status",
    "Timestamp",
    "UpdateImageMetadata",
    "UpdateImageRequest",
    "code_for_http_status",
    "describe_violations",
    "field_violations",
    "format_timestamp",
    "http_status_for",
    "unpack_any",
]
