"""Azure Batch "list supported images" (data plane, api-version 2023-11-01.18.0).

Attributes are snake_case; the wire names (camelCase, ``odata.nextLink``,
``$filter``, ``client-request-id``...) are the aliases, so
``Model.model_validate(json)`` reads an answer and ``to_wire()`` writes one.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from email.utils import format_datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from workbench.providers.batch.odata import FilterSyntaxError, parse_filter, render

#: The Batch data-plane API version these models describe.
API_VERSION = "2023-11-01.18.0"
#: The media type of Batch request and response bodies.
MEDIA_TYPE = "application/json; odata=minimalmetadata"


class OSType(str, Enum):
    LINUX = "linux"
    WINDOWS = "windows"


class VerificationType(str, Enum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"


class _WireModel(BaseModel):
    # Newer service versions add fields; an answer with them still reads.
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON body, with wire names and without unset (null) fields."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


# An Azure Compute Gallery image (or one version of it), as Batch accepts it.
_GALLERY_IMAGE_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.Compute/galleries/[^/]+"
    r"/images/[^/]+(/versions/[^/]+)?$",
    re.IGNORECASE,
)


class ImageReference(_WireModel):
    """A Marketplace image (publisher/offer/sku/version) or a Compute Gallery image."""

    publisher: str | None = None
    offer: str | None = None
    sku: str | None = None
    version: str | None = None
    virtual_machine_image_id: str | None = Field(default=None, alias="virtualMachineImageId")
    #: Read-only: the version actually used when ``version`` was "latest".
    exact_version: str | None = Field(default=None, alias="exactVersion")

    @field_validator("virtual_machine_image_id")
    @classmethod
    def _gallery_image_id(cls, value: str | None) -> str | None:
        if value is not None and not _GALLERY_IMAGE_ID.match(value):
            raise ValueError(
                "virtualMachineImageId must be an ARM id of the form /subscriptions/{subscriptionId}/resourceGroups/"
                "{resourceGroup}/providers/Microsoft.Compute/galleries/{galleryName}/images/{imageDefinitionName}"
                "[/versions/{versionId}]"
            )
        return value

    @model_validator(mode="after")
    def _one_kind_of_image(self) -> "ImageReference":
        marketplace = {"publisher": self.publisher, "offer": self.offer, "sku": self.sku, "version": self.version}
        if self.virtual_machine_image_id is not None:
            given = [name for name, value in marketplace.items() if value is not None]
            if given:
                raise ValueError(f"virtualMachineImageId is mutually exclusive with {', '.join(given)}")
            return self
        missing = [name for name in ("publisher", "offer", "sku") if marketplace[name] in (None, "")]
        if missing:
            raise ValueError(
                f"a Marketplace image reference needs publisher, offer and sku (missing: {', '.join(missing)}), "
                "or give virtualMachineImageId instead"
            )
        return self


class ImageInformation(_WireModel):
    """One supported image and the Compute Node agent SKU that runs it."""

    node_agent_sku_id: str = Field(alias="nodeAgentSKUId", min_length=1)
    image_reference: ImageReference = Field(alias="imageReference")
    os_type: OSType = Field(alias="osType")
    capabilities: list[str] | None = None
    batch_support_end_of_life: datetime | None = Field(default=None, alias="batchSupportEndOfLife")
    verification_type: VerificationType = Field(alias="verificationType")


class AccountListSupportedImagesResult(_WireModel):
    """One page of the list; follow ``odata_next_link`` as-is for the next one."""

    odata_metadata: str | None = Field(default=None, alias="odata.metadata")
    value: list[ImageInformation] = Field(default_factory=list)
    odata_next_link: str | None = Field(default=None, alias="odata.nextLink")


class ErrorMessage(_WireModel):
    lang: str | None = None
    value: str | None = None


class BatchErrorDetail(_WireModel):
    key: str | None = None
    value: str | None = None


class BatchError(_WireModel):
    """The error body of every failed Batch request."""

    odata_metadata: str | None = Field(default=None, alias="odata.metadata")
    code: str | None = None
    message: ErrorMessage | None = None
    values: list[BatchErrorDetail] | None = None

    def detail(self, key: str) -> str | None:
        """The value of one ``values`` entry (e.g. "QueryParameterName"), if present."""
        for item in self.values or ():
            if item.key == key:
                return item.value
        return None

    def __str__(self) -> str:
        text = (self.message.value if self.message else None) or ""
        # The service appends "\nRequestId:...\nTime:..." to the message.
        first_line = text.split("\n", 1)[0]
        details = "; ".join(f"{d.key}: {d.value}" for d in self.values or ())
        return f"{self.code}: {first_line}" + (f" ({details})" if details else "")


class AccountListSupportedImagesOptions(BaseModel):
    """The optional parameters of "list supported images", checked before sending.

    ``filter`` takes the ``$filter`` text or an expression built with
    ``workbench.providers.batch.odata``; either way it must be in the supported
    subset, so a typo is reported here, with its position, not by the service.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    filter: str | None = Field(default=None, alias="$filter")
    max_results: Annotated[int, Field(strict=True, ge=1, le=1000)] | None = Field(default=None, alias="maxresults")
    #: Seconds the service may spend; the service uses 30 for anything larger.
    timeout: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)] | None = None
    client_request_id: UUID | None = Field(default=None, alias="client-request-id")
    return_client_request_id: bool | None = Field(default=None, alias="return-client-request-id")
    ocp_date: datetime | None = Field(default=None, alias="ocp-date")

    @field_validator("filter", mode="before")
    @classmethod
    def _filter_text(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        try:
            return render(value)  # an odata expression
        except TypeError:
            raise ValueError("$filter must be a string or an odata filter expression") from None

    @field_validator("filter")
    @classmethod
    def _filter_in_subset(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("$filter must not be blank (leave it out to list every image)")
        try:
            parse_filter(value)
        except FilterSyntaxError as exc:
            raise ValueError(str(exc).removeprefix("$filter: ")) from None
        return value

    @field_validator("ocp_date")
    @classmethod
    def _aware_date(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("ocp-date must be timezone-aware (for example datetime.now(timezone.utc))")
        return value

    def query_params(self, api_version: str = API_VERSION) -> dict[str, str]:
        """The query string parameters, in the order the REST reference lists them."""
        params = {"api-version": api_version}
        if self.filter is not None:
            params["$filter"] = self.filter
        if self.max_results is not None:
            params["maxresults"] = str(self.max_results)
        if self.timeout is not None:
            params["timeout"] = str(self.timeout)
        return params

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.client_request_id is not None:
            headers["client-request-id"] = str(self.client_request_id)
        if self.return_client_request_id is not None:
            headers["return-client-request-id"] = "true" if self.return_client_request_id else "false"
        if self.ocp_date is not None:
            headers["ocp-date"] = format_datetime(self.ocp_date.astimezone(timezone.utc), usegmt=True)
        return headers


__all__ = [
    "API_VERSION", "MEDIA_TYPE", "OSType", "VerificationType", "ImageReference", "ImageInformation",
    "AccountListSupportedImagesResult", "ErrorMessage", "BatchErrorDetail", "BatchError",
    "AccountListSupportedImagesOptions",
]
