"""Request and response bodies of Kusto (ARM) sandbox custom images, api-version 2024-04-13.

Python attributes are snake_case; JSON is camelCase, as ARM sends it. Dump with
``model.to_json_dict()`` (or ``model_dump(by_alias=True, exclude_none=True)``).

Response models accept unknown enum values (the spec marks the enums
``modelAsString``: the service may add values), while the request models enforce
the documented rules so a bad edit is caught before anything is sent.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

API_VERSION = "2024-04-13"

#: The ``type`` of a sandbox custom image, exactly as the service spells it.
RESOURCE_TYPE = "Microsoft.Kusto/Clusters/SandboxCustomImages"

#: The ``type`` a check-name request names (SandboxCustomImageType).
CHECK_NAME_TYPE = "Microsoft.Kusto/clusters/sandboxCustomImages"


class Language(str, Enum):
    PYTHON = "Python"


class ProvisioningState(str, Enum):
    ACCEPTED = "Accepted"
    CREATING = "Creating"
    DELETING = "Deleting"
    FAILED = "Failed"
    MOVING = "Moving"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    CANCELED = "Canceled"


#: States after which nothing more happens to the resource on its own.
TERMINAL_PROVISIONING_STATES = frozenset(
    {ProvisioningState.SUCCEEDED, ProvisioningState.FAILED, ProvisioningState.CANCELED}
)


class OperationStatus(str, Enum):
    """Status of an async operation (Azure-AsyncOperation resource)."""

    IN_PROGRESS = "InProgress"
    # Kusto's own Status enum says Running where ARM's generic one says InProgress.
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"


TERMINAL_OPERATION_STATUSES = frozenset(
    {OperationStatus.SUCCEEDED, OperationStatus.FAILED, OperationStatus.CANCELED}
)


class CheckNameReason(str, Enum):
    INVALID = "Invalid"
    ALREADY_EXISTS = "AlreadyExists"


#: Every LanguageExtensionImageName of the 2024-04-13 spec.
LANGUAGE_EXTENSION_IMAGE_NAMES: tuple[str, ...] = (
    "R",
    "Python3_6_5",
    "Python3_10_8",
    "Python3_10_8_DL",
    "PythonCustomImage",
    "Python3_11_7",
    "Python3_11_7_DL",
)

#: The managed Python images a custom image can be built on (``baseImageName``).
#: "R" is not Python, and "PythonCustomImage" is a marker for "use a custom
#: image", not an image.
MANAGED_BASE_IMAGE_NAMES: tuple[str, ...] = (
    "Python3_6_5",
    "Python3_10_8",
    "Python3_10_8_DL",
    "Python3_11_7",
    "Python3_11_7_DL",
)

#: An enum the service may extend (``modelAsString``): known values become the
#: enum member, unknown ones stay strings instead of failing validation.
OpenLanguage = Annotated[Language | str, Field(union_mode="left_to_right")]
OpenProvisioningState = Annotated[ProvisioningState | str, Field(union_mode="left_to_right")]
OpenOperationStatus = Annotated[OperationStatus | str, Field(union_mode="left_to_right")]
OpenCheckNameReason = Annotated[CheckNameReason | str, Field(union_mode="left_to_right")]

_LANGUAGE_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")


def is_managed_base_image(name: str) -> bool:
    return name in MANAGED_BASE_IMAGE_NAMES


def _check_language(value: Any) -> Any:
    if isinstance(value, Language) or value is None:
        return value
    if value != Language.PYTHON.value:
        raise ValueError(f"language must be 'Python' (the only language sandbox custom images support), got {value!r}")
    return value


def _check_language_version(value: str | None) -> str | None:
    if value is not None and not _LANGUAGE_VERSION.match(value):
        raise ValueError(f"languageVersion must be a Python version of digits and dots such as '3.10.8', got {value!r}")
    return value


def _check_base_image_name(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("baseImageName must not be empty: name a managed image such as 'Python3_10_8' or a custom image")
    return value


class ArmModel(BaseModel):
    """Base of every model here: snake_case in Python, camelCase on the wire."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON body as ARM writes it: camelCase, no null members."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# -- errors (common-types v3) ------------------------------------------------


class ErrorAdditionalInfo(ArmModel):
    type: str | None = None
    info: dict[str, Any] | None = None


class ErrorDetail(ArmModel):
    code: str | None = None
    message: str | None = None
    target: str | None = None
    details: list[ErrorDetail] | None = None
    additional_info: list[ErrorAdditionalInfo] | None = None


class ErrorResponse(ArmModel):
    error: ErrorDetail | None = None


# -- the resource ------------------------------------------------------------


class SandboxCustomImageProperties(ArmModel):
    """Properties of an image as the service returns them."""

    language: OpenLanguage | None = None
    language_version: str | None = None
    base_image_name: str | None = None
    requirements_file_content: str | None = None
    provisioning_state: OpenProvisioningState | None = None


class SandboxCustomImage(ArmModel):
    """A sandbox custom image (a proxy resource of a Kusto cluster)."""

    id: str | None = None
    #: "{clusterName}/{imageName}"
    name: str | None = None
    type: str | None = None
    properties: SandboxCustomImageProperties = Field(default_factory=SandboxCustomImageProperties)

    @property
    def image_name(self) -> str:
        """The image's own name, without the cluster part of ``name``."""
        return (self.name or "").rsplit("/", 1)[-1]

    @property
    def cluster_name(self) -> str:
        name = self.name or ""
        return name.rsplit("/", 1)[0] if "/" in name else ""


class SandboxCustomImagesListResult(ArmModel):
    value: list[SandboxCustomImage] = Field(default_factory=list)
    next_link: str | None = None


# -- request bodies ------------------------------------------------------------


class CreateOrUpdateSandboxCustomImageProperties(ArmModel):
    """What a PUT may set. Read-only members (provisioningState) are ignored."""

    model_config = ConfigDict(extra="ignore")

    language: Language = Field(description="The language; required, and only 'Python' is allowed.")
    language_version: str | None = Field(
        default=None, description="Python version such as '3.10.8'; exactly one of this and baseImageName."
    )
    base_image_name: str | None = Field(
        default=None,
        description="A managed image (e.g. 'Python3_10_8') or an existing custom image of the same cluster; "
        "exactly one of this and languageVersion.",
    )
    requirements_file_content: str | None = None

    _only_python = field_validator("language", mode="before")(_check_language)
    _version_shape = field_validator("language_version")(_check_language_version)
    _base_not_blank = field_validator("base_image_name")(_check_base_image_name)

    @model_validator(mode="after")
    def _exactly_one_base(self) -> CreateOrUpdateSandboxCustomImageProperties:
        given = [n for n, v in (("languageVersion", self.language_version), ("baseImageName", self.base_image_name)) if v is not None]
        if len(given) != 1:
            got = "both" if given else "neither"
            raise ValueError(f"exactly one of languageVersion and baseImageName must be specified, got {got}")
        return self


class CreateOrUpdateSandboxCustomImage(ArmModel):
    """The PUT body: ``{"properties": {...}}``."""

    model_config = ConfigDict(extra="ignore")

    properties: CreateOrUpdateSandboxCustomImageProperties

    @classmethod
    def build(
        cls,
        *,
        language_version: str | None = None,
        base_image_name: str | None = None,
        requirements_file_content: str | None = None,
        language: str = "Python",
    ) -> CreateOrUpdateSandboxCustomImage:
        """Convenience constructor with the flat arguments a form collects."""
        return cls(
            properties=CreateOrUpdateSandboxCustomImageProperties(
                language=language,
                language_version=language_version,
                base_image_name=base_image_name,
                requirements_file_content=requirements_file_content,
            )
        )


class UpdateSandboxCustomImageProperties(ArmModel):
    """What a PATCH may change; the result of the merge must still be a valid image.

    Members left unset are not sent; a member set to None is sent as null,
    which removes it (JSON merge patch), e.g. ``language_version=None`` to
    switch an image to ``base_image_name``.
    """

    model_config = ConfigDict(extra="ignore")

    language: Language | None = None
    language_version: str | None = None
    base_image_name: str | None = None
    requirements_file_content: str | None = None

    _only_python = field_validator("language", mode="before")(_check_language)
    _version_shape = field_validator("language_version")(_check_language_version)
    _base_not_blank = field_validator("base_image_name")(_check_base_image_name)

    @model_validator(mode="after")
    def _not_both_bases(self) -> UpdateSandboxCustomImageProperties:
        if self.language_version is not None and self.base_image_name is not None:
            raise ValueError("exactly one of languageVersion and baseImageName must be specified, got both")
        return self


class UpdateSandboxCustomImage(ArmModel):
    """The PATCH body (JSON merge patch)."""

    model_config = ConfigDict(extra="ignore")

    properties: UpdateSandboxCustomImageProperties = Field(default_factory=UpdateSandboxCustomImageProperties)

    def to_json_dict(self) -> dict[str, Any]:
        """Only the members that were set; explicit None becomes null (removal)."""
        body = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        body.setdefault("properties", {})
        return body


# -- check name ----------------------------------------------------------------


class CheckNameRequest(ArmModel):
    """SandboxCustomImagesCheckNameRequest."""

    name: str
    type: str = CHECK_NAME_TYPE

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value.lower() != CHECK_NAME_TYPE.lower():
            raise ValueError(f"type must be {CHECK_NAME_TYPE!r}, got {value!r}")
        return value


class CheckNameResult(ArmModel):
    name_available: bool | None = None
    name: str | None = None
    message: str | None = None
    reason: OpenCheckNameReason | None = None


# -- long-running operations -------------------------------------------------


class OperationResultProperties(ArmModel):
    operation_kind: str | None = None
    provisioning_state: OpenProvisioningState | None = None
    operation_state: str | None = None


class OperationResult(ArmModel):
    """The status resource an ``Azure-AsyncOperation`` URL answers with.

    Kusto's OperationResult and ARM's common OperationStatusResult share these
    members; ``error`` is present when the operation failed or was canceled.
    """

    id: str | None = None
    name: str | None = None
    status: OpenOperationStatus
    start_time: datetime | None = None
    end_time: datetime | None = None
    percent_complete: float | None = Field(default=None, ge=0, le=100)
    properties: OperationResultProperties | None = None
    error: ErrorDetail | None = None

    @property
    def done(self) -> bool:
        status = self.status.value if isinstance(self.status, OperationStatus) else self.status
        return status.lower() in {s.value.lower() for s in TERMINAL_OPERATION_STATUSES}


#: ARM's common-types name for the same resource.
OperationStatusResult = OperationResult


__all__ = [
    "API_VERSION",
    "CHECK_NAME_TYPE",
    "RESOURCE_TYPE",
    "LANGUAGE_EXTENSION_IMAGE_NAMES",
    "MANAGED_BASE_IMAGE_NAMES",
    "TERMINAL_OPERATION_STATUSES",
    "TERMINAL_PROVISIONING_STATES",
    "ArmModel",
    "CheckNameReason",
    "CheckNameRequest",
    "CheckNameResult",
    "CreateOrUpdateSandboxCustomImage",
    "CreateOrUpdateSandboxCustomImageProperties",
    "ErrorAdditionalInfo",
    "ErrorDetail",
    "ErrorResponse",
    "Language",
    "OperationResult",
    "OperationResultProperties",
    "OperationStatus",
    "OperationStatusResult",
    "ProvisioningState",
    "SandboxCustomImage",
    "SandboxCustomImageProperties",
    "SandboxCustomImagesListResult",
    "UpdateSandboxCustomImage",
    "UpdateSandboxCustomImageProperties",
    "is_managed_base_image",
]
