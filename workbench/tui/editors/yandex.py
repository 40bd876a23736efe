"""The Yandex Compute image editor: create an image (from an image, a disk, a
snapshot or an Object Storage URI), or update an existing one.

Every documented field of ``CreateImageRequest`` has a control; the request
model's rules (``workbench.providers.yandex.models``) are the ones shown inline.
The source selector shows only the chosen source's field (the others keep what
was typed in them). The request's ``Idempotency-Key`` stays the same while the
body does, so sending an unchanged request again after a failure is a safe
retry, never a second image.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Input, RadioButton, RadioSet, Select, Switch, TextArea

from workbench.providers.yandex import models as ym
from workbench.providers.yandex.requests import MutatingRequest, UpdateImage, new_idempotency_key
from workbench.tui.editors.base import FieldError
from workbench.tui.editors.fields import (
    GiB,
    FormEditor,
    FormField,
    NothingToSend,
    format_bytes,
    parse_labels,
    parse_list,
    parse_size,
    problems_from_validation,
    raise_problems,
    select_value,
)

if TYPE_CHECKING:
    from workbench.core.images import ImageSummary
    from workbench.providers.yandex.driver import YandexDriver

__all__ = ["SOURCES", "YandexEditor"]

#: The source kinds: (editor field = API field, radio label, what to type).
SOURCES: tuple[tuple[str, str, str], ...] = (
    ("imageId", "Image", "id of the image to copy (fd8...)"),
    ("diskId", "Disk", "id of the disk to image (fhm...)"),
    ("snapshotId", "Snapshot", "id of the disk snapshot (fd8...)"),
    ("uri", "URI", "https://storage.yandexcloud.net/<bucket>/<file>.qcow2"),
)
_SOURCE_ATTRIBUTES = {"imageId": "image_id", "diskId": "disk_id", "snapshotId": "snapshot_id", "uri": "uri"}

#: Hardware generation choices: label -> the API's HardwareGeneration message.
HARDWARE_GENERATIONS: dict[str, dict[str, Any]] = {
    "legacy-v1": {"legacyFeatures": {"pciTopology": "PCI_TOPOLOGY_V1"}},
    "legacy-v2": {"legacyFeatures": {"pciTopology": "PCI_TOPOLOGY_V2"}},
    "gen2": {"generation2Features": {}},
}

#: The request models' names (attributes, wire names, message prefixes) -> the editor's fields.
FIELDS: dict[str, str] = {
    **{name: name for name in ("name", "family", "description", "labels", "uri", "os", "pooled", "source")},
    "folder_id": "folderId", "folderId": "folderId",
    "min_disk_size": "minDiskSize", "minDiskSize": "minDiskSize",
    "product_ids": "productIds", "productIds": "productIds",
    "image_id": "imageId", "imageId": "imageId",
    "disk_id": "diskId", "diskId": "diskId",
    "snapshot_id": "snapshotId", "snapshotId": "snapshotId",
    "hardware_generation": "hardwareGeneration", "hardwareGeneration": "hardwareGeneration",
    "update_mask": "action", "updateMask": "action",
}


def _image_fields(image: ImageSummary | None) -> dict[str, Any]:
    """The image's proto3 JSON fields, whatever ``raw`` holds (dict or model)."""
    if image is None:
        return {}
    raw = image.raw
    if isinstance(raw, BaseModel):
        return raw.model_dump(mode="json", by_alias=True)
    return dict(raw) if isinstance(raw, Mapping) else {}


def _size_text(value: Any) -> str:
    try:
        size = int(value or 0)
    except (TypeError, ValueError):
        return ""
    if not size:
        return ""
    return f"{size // GiB} GiB" if size % GiB == 0 else str(size)


class YandexEditor(FormEditor):
    """Create a Yandex Compute image, or update the image given."""

    title: ClassVar[str] = "Yandex image"

    def __init__(self, driver: YandexDriver, image: ImageSummary | None, **kwargs: Any) -> None:
        super().__init__(driver, image, **kwargs)
        self.driver: YandexDriver = driver
        self._fields = _image_fields(image)
        #: One Idempotency-Key per request body: resending the same body is a retry.
        self._key = new_idempotency_key()
        self._keyed_body = ""

    # -- layout ------------------------------------------------------------------
    @property
    def updating(self) -> bool:
        """True when the form updates the given image (else it creates one)."""
        if self.image is None:
            return False
        return self.query_one("#action", RadioSet).pressed_index == 0

    @property
    def source(self) -> str:
        """The chosen source field: "imageId", "diskId", "snapshotId" or "uri"."""
        index = self.query_one("#source", RadioSet).pressed_index
        return SOURCES[index if 0 <= index < len(SOURCES) else 0][0]

    def compose_form(self) -> ComposeResult:
        f = self._fields
        if self.image is not None:
            yield FormField("action", "Action", RadioSet(
                RadioButton(f"Update {self.image.name or self.image.id}", value=True, id="action-update"),
                RadioButton("Create a new image from it", id="action-create"),
                id="action", compact=True))
        yield FormField("folderId", "Folder id", Input(self.driver.folder_id, id="folderId", compact=True),
                        classes="create-only")
        # The first source, an image, is preset to the image given: "a new image from it".
        yield FormField("source", "Source (exactly one)", RadioSet(
            *(RadioButton(label, value=index == 0, id=f"source-{field}")
              for index, (field, label, _) in enumerate(SOURCES)),
            id="source", compact=True), classes="create-only")
        for field, label, placeholder in SOURCES:
            value = self.image.id if (field == "imageId" and self.image is not None) else ""
            yield FormField(field, f"Source {label.lower()}" + (" id" if field != "uri" else ""),
                            Input(value, placeholder=placeholder, id=field, compact=True),
                            classes="create-only source-field")
        yield FormField("name", "Name", Input(f.get("name", ""), id="name",
                                              placeholder="lowercase letters, digits, '-', '_' (optional)",
                                              compact=True))
        yield FormField("family", "Family", Input(f.get("family", ""), id="family", compact=True,
                                                  placeholder="e.g. web-server (optional)"), classes="create-only")
        yield FormField("description", "Description", Input(f.get("description", ""), id="description",
                                                            compact=True, placeholder="up to 256 characters"))
        labels = "\n".join(f"{k}={v}" for k, v in (f.get("labels") or {}).items())
        yield FormField("labels", "Labels (key=value, one per line)", TextArea(labels, id="labels", compact=True))
        yield FormField("minDiskSize", "Minimum disk size", Input(
            _size_text(f.get("minDiskSize")), id="minDiskSize", compact=True,
            placeholder="e.g. 20 GiB (blank: the source's size)"))
        os_type = ((f.get("os") or {}).get("type") or "") if isinstance(f.get("os"), Mapping) else ""
        yield FormField("os", "OS type", Select(
            [("LINUX", "LINUX"), ("WINDOWS", "WINDOWS")], value=os_type if os_type in ("LINUX", "WINDOWS")
            else Select.NULL, prompt="(inherited from the source)", id="os", compact=True), classes="create-only")
        yield FormField("pooled", "Pooled (kept ready for fast disk creation)",
                        Switch(False, id="pooled"), classes="create-only")
        yield FormField("productIds", "Product ids (license ids, comma separated)",
                        Input("", id="productIds", compact=True,
                              placeholder="optional"), classes="create-only")
        yield FormField("hardwareGeneration", "Hardware generation", Select(
            [("Legacy, PCI topology v1", "legacy-v1"), ("Legacy, PCI topology v2", "legacy-v2"),
             ("Generation 2", "gen2")], prompt="(inherited from the source)", id="hardwareGeneration",
            compact=True), classes="create-only")

    def on_mount(self) -> None:
        self._show_mode()

    def _show_mode(self) -> None:
        creating = not self.updating
        for field in self.query(".create-only"):
            field.display = creating
        chosen = self.source
        for field in self.query(".source-field").results(FormField):
            field.display = creating and field.field == chosen
        self._show_size_hint()

    def _show_size_hint(self) -> None:
        field = self.query_one("#field-minDiskSize", FormField)
        try:
            size = parse_size(self.query_one("#minDiskSize", Input).value, "minDiskSize")
        except FieldError:
            size = 0
        field.set_hint(f"= {format_bytes(size)}" if size else "")

    def field_changed(self, control: Widget) -> None:
        if control.id in ("action", "source"):
            self._show_mode()
        elif control.id == "minDiskSize":
            self._show_size_hint()
        super().field_changed(control)

    # -- the request -------------------------------------------------------------------
    def _value(self, id: str) -> str:
        return self.query_one(f"#{id}", Input).value.strip()

    def _common(self, problems: list[FieldError]) -> dict[str, Any]:
        """name, description, labels and minDiskSize (parsed; problems collected)."""
        values: dict[str, Any] = {
            "name": self._value("name"),
            "description": self.query_one("#description", Input).value,
        }
        try:
            values["labels"] = parse_labels(self.query_one("#labels", TextArea).text)
        except FieldError as problem:
            problems.append(problem)
        try:
            values["min_disk_size"] = parse_size(self._value("minDiskSize"), "minDiskSize")
        except FieldError as problem:
            problems.append(problem)
        return values

    def build_request(self) -> MutatingRequest:
        problems: list[FieldError] = []
        request: MutatingRequest | None = None
        try:
            request = self._update(problems) if self.updating else self._create(problems)
        except ValidationError as error:
            problems += problems_from_validation(error, FIELDS)
        raise_problems(problems)
        assert request is not None
        return self._keyed(request)

    def _create(self, problems: list[FieldError]) -> MutatingRequest | None:
        values = self._common(problems)
        if self.image is not None and values["name"] and values["name"] == self.image.name:
            # Names are unique in a folder: the API would answer ALREADY_EXISTS.
            problems.append(FieldError("name", f"{values['name']!r} is the name of the image this one is made "
                                               "from: a new image needs a name of its own (or none)"))
        values["folder_id"] = self._value("folderId")
        values["family"] = self._value("family")
        values["product_ids"] = parse_list(self._value("productIds"))
        source = self.source
        source_value = self._value(source)
        if not source_value:
            noun = dict((field, label.lower()) for field, label, _ in SOURCES)[source]
            what = "the Object Storage link" if source == "uri" else f"the id of the {noun}"
            problems.append(FieldError(source, f"required: {what} to create the image from"))
        os_type = select_value(self.query_one("#os", Select))
        if os_type:
            values["os"] = {"type": os_type}
        values["pooled"] = self.query_one("#pooled", Switch).value
        generation = select_value(self.query_one("#hardwareGeneration", Select))
        if generation:
            values["hardware_generation"] = HARDWARE_GENERATIONS[generation]
        # The model checks every field it got, so all problems show at once
        # (a stand-in source while the real one is missing).
        values[_SOURCE_ATTRIBUTES[source] if source_value else "disk_id"] = source_value or "missing"
        try:
            ym.CreateImageRequest.model_validate(values)
        except ValidationError as error:
            problems += problems_from_validation(error, FIELDS)
        if problems:
            return None
        return self.driver.create_image_request(**values)

    def _update(self, problems: list[FieldError]) -> MutatingRequest | None:
        assert self.image is not None
        values = self._common(problems)
        if problems:
            return None
        before = {
            "name": self._fields.get("name", ""),
            "description": self._fields.get("description", ""),
            "labels": dict(self._fields.get("labels") or {}),
            "min_disk_size": int(self._fields.get("minDiskSize") or 0),
        }
        changed = {key: value for key, value in values.items() if value != before[key]}
        if not changed:
            problems.append(NothingToSend("nothing to update yet: change the name, description, labels or "
                                          "minimum disk size (or create a new image from it)"))
            return None
        return UpdateImage(image_id=self.image.id, **changed)

    def _keyed(self, request: MutatingRequest) -> MutatingRequest:
        """``request`` with the editor's key, renewed whenever the body changes."""
        body = json.dumps([request.method, request.path(), request.json_body()], sort_keys=True)
        if body != self._keyed_body:
            self._key = new_idempotency_key()
            self._keyed_body = body
        return request.model_copy(update={"idempotency_key": self._key})

    # -- outcomes ------------------------------------------------------------------
    def send_problems(self, error: BaseException) -> list[FieldError]:
        problems = super().send_problems(error)
        if getattr(error, "code", "") == "ALREADY_EXISTS" and not problems:
            problems.append(FieldError("name", str(getattr(error, "message", error))))
        return problems

    def sent(self, result: Any) -> None:
        self._keyed_body = ""  # the next request is a new one
