"""Typed requests of the Kusto sandbox custom images API (ARM, api-version 2024-04-13).

Each request names its cluster through a ``ClusterScope`` and renders to the
exact ARM call, ``api-version`` included::

    scope = ClusterScope(subscription_id="1234...", resource_group="rg", cluster="kustoCluster")
    request = CreateOrUpdateImage.build(scope, "myImage", language_version="3.10.8",
                                        requirements_file="requirements.txt")
    driver.curl(request)          # what will be sent, token masked
    op = await driver.send(request)   # an Operation for the tracker

The rules the service enforces are checked here first (by the models in
``models.py``): ``language`` is ``Python``; exactly one of ``languageVersion``
and ``baseImageName``; a resource group of 1-90 allowed characters; a
subscription id that is a GUID.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from workbench.core.errors import WorkbenchError
from workbench.providers.base import ApiRequest, path_segment
from workbench.providers.kusto.models import (
    API_VERSION,
    CHECK_NAME_TYPE,
    CreateOrUpdateSandboxCustomImage,
    UpdateSandboxCustomImage,
)

#: Requirements files are a few kilobytes of package names; a file this large
#: is the wrong file (and would make an oversized ARM request body).
MAX_REQUIREMENTS_BYTES = 1024 * 1024

_GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_RESOURCE_GROUP_CHARS = re.compile(r"^[-\w.()]+$")


class RequirementsFileError(WorkbenchError, ValueError):
    """A local requirements file that cannot be used (missing, unreadable, too large, not text)."""


def read_requirements_file(path: str | os.PathLike[str], *, limit: int = MAX_REQUIREMENTS_BYTES) -> str:
    """The text of a local requirements file, or ``RequirementsFileError`` saying why not."""
    file = Path(path).expanduser()
    where = f"requirements_file: {str(file)!r}"
    try:
        if not file.is_file():
            reason = "is a directory" if file.is_dir() else "does not exist"
            raise RequirementsFileError(f"{where} {reason}; give the path of a pip requirements file")
        size = file.stat().st_size
        if size > limit:
            raise RequirementsFileError(f"{where} is {size} bytes; a requirements file may be at most {limit} bytes")
        with file.open("rb") as handle:
            data = handle.read(limit + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise RequirementsFileError(f"{where} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise RequirementsFileError(f"{where} is over {limit} bytes; a requirements file may be at most {limit} bytes")
    try:
        return data.decode("utf-8-sig")  # a BOM from a Windows editor is not content
    except UnicodeDecodeError as exc:
        raise RequirementsFileError(f"{where} is not UTF-8 text (byte {exc.start} cannot be decoded); "
                                    "a requirements file is plain text") from None


class ClusterScope(BaseModel):
    """The cluster whose images a request reads or changes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subscription_id: str
    resource_group: str
    cluster: str

    @field_validator("subscription_id")
    @classmethod
    def _guid(cls, value: str) -> str:
        if not _GUID.match(value):
            raise ValueError(f"subscription_id must be a GUID such as 12345678-1234-1234-1234-123456789098, got {value!r}")
        return value

    @field_validator("resource_group")
    @classmethod
    def _resource_group(cls, value: str) -> str:
        if not 1 <= len(value) <= 90:
            raise ValueError(f"resource_group must be 1 to 90 characters long, got {len(value)}")
        if not _RESOURCE_GROUP_CHARS.match(value) or value.endswith("."):
            raise ValueError(f"resource_group may hold only letters, digits, '-', '_', '.', '(' and ')' and must not "
                             f"end with '.', got {value!r}")
        return value

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str) -> str:
        path_segment(value, field="cluster")
        if "/" in value:
            raise ValueError(f"cluster must be a cluster name, not a path, got {value!r}")
        return value

    def path(self) -> str:
        return (f"/subscriptions/{path_segment(self.subscription_id, field='subscription_id')}"
                f"/resourceGroups/{path_segment(self.resource_group, field='resource_group')}"
                f"/providers/Microsoft.Kusto/clusters/{path_segment(self.cluster, field='cluster')}")


class KustoRequest(ApiRequest):
    """Every Kusto request: a cluster scope and the ``api-version`` query parameter."""

    scope: ClusterScope
    api_version: str = API_VERSION

    def query(self) -> dict[str, Any]:
        return {"api-version": self.api_version}


def _check_image_name(value: str) -> str:
    path_segment(value, field="image_name")
    if "/" in value or not value.strip():
        raise ValueError(f"image_name must be a non-blank name without '/', got {value!r}")
    return value


class ImageRequest(KustoRequest):
    """A request about one image of the cluster."""

    image_name: str

    _name = field_validator("image_name")(_check_image_name)

    def path(self) -> str:
        return f"{self.scope.path()}/sandboxCustomImages/{path_segment(self.image_name, field='image_name')}"


class ListImages(KustoRequest):
    """``GET .../sandboxCustomImages``: one page (follow ``nextLink`` for more)."""

    def path(self) -> str:
        return f"{self.scope.path()}/sandboxCustomImages"

    def summary(self) -> str:
        return f"List sandbox custom images of cluster {self.scope.cluster}"


class GetImage(ImageRequest):
    def summary(self) -> str:
        return f"Get sandbox custom image {self.image_name} of cluster {self.scope.cluster}"


class CreateOrUpdateImage(ImageRequest):
    """``PUT``: create the image, or replace its definition (the image is rebuilt).

    Answers 201 (create) or 200 (update) and runs on as an ARM async operation.
    """

    method: ClassVar[str] = "PUT"
    expect: ClassVar[tuple[int, ...]] = (200, 201)

    body: CreateOrUpdateSandboxCustomImage

    @classmethod
    def build(
        cls,
        scope: ClusterScope,
        image_name: str,
        *,
        language_version: str | None = None,
        base_image_name: str | None = None,
        requirements: str | None = None,
        requirements_file: str | os.PathLike[str] | None = None,
        language: str = "Python",
        api_version: str = API_VERSION,
    ) -> CreateOrUpdateImage:
        """From the flat values a form collects; ``requirements_file`` is read
        now (a local path), so a bad path fails before anything is sent."""
        if requirements is not None and requirements_file is not None:
            raise ValueError("requirements / requirements_file: give the requirements file content or a path to "
                             "read it from, not both")
        if requirements_file is not None:
            requirements = read_requirements_file(requirements_file)
        body = CreateOrUpdateSandboxCustomImage.build(
            language=language,
            language_version=language_version,
            base_image_name=base_image_name,
            requirements_file_content=requirements,
        )
        return cls(scope=scope, image_name=image_name, body=body, api_version=api_version)

    def json_body(self) -> Any:
        return self.body.to_json_dict()

    def summary(self) -> str:
        props = self.body.properties
        base = (f"Python {props.language_version}" if props.language_version is not None
                else f"base image {props.base_image_name}")
        return f"Create or update sandbox custom image {self.image_name} ({base}) in cluster {self.scope.cluster}"


class UpdateImage(ImageRequest):
    """``PATCH`` (JSON merge patch): change some properties; the image is rebuilt.

    Not retried: a repeated PATCH would start a second rebuild.
    """

    method: ClassVar[str] = "PATCH"
    expect: ClassVar[tuple[int, ...]] = (200, 201, 202)

    body: UpdateSandboxCustomImage = Field(default_factory=UpdateSandboxCustomImage)

    def json_body(self) -> Any:
        return self.body.to_json_dict()

    def summary(self) -> str:
        changed = ", ".join(self.json_body().get("properties", {})) or "nothing"
        return f"Update sandbox custom image {self.image_name} of cluster {self.scope.cluster} ({changed})"


class DeleteImage(ImageRequest):
    method: ClassVar[str] = "DELETE"
    destructive: ClassVar[bool] = True
    #: 204: there was no such image (ARM's "already gone").
    expect: ClassVar[tuple[int, ...]] = (200, 202, 204)

    def summary(self) -> str:
        return f"Delete sandbox custom image {self.image_name} of cluster {self.scope.cluster}"


class CheckNameAvailability(KustoRequest):
    """``POST .../sandboxCustomImagesCheckNameAvailability``: a read, safe to retry."""

    method: ClassVar[str] = "POST"
    idempotent: ClassVar[bool | None] = True

    name: str = Field(min_length=1)

    def path(self) -> str:
        return f"{self.scope.path()}/sandboxCustomImagesCheckNameAvailability"

    def json_body(self) -> Any:
        return {"name": self.name, "type": CHECK_NAME_TYPE}

    def summary(self) -> str:
        return f"Check whether the name {self.name!r} is free in cluster {self.scope.cluster}"


__all__ = [
    "MAX_REQUIREMENTS_BYTES",
    "CheckNameAvailability",
    "ClusterScope",
    "CreateOrUpdateImage",
    "DeleteImage",
    "GetImage",
    "ImageRequest",
    "KustoRequest",
    "ListImages",
    "RequirementsFileError",
    "UpdateImage",
    "read_requirements_file",
]
