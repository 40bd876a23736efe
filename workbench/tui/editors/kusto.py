"""The Kusto sandbox custom image editor: create an image or replace its definition (PUT).

An image is Python plus exactly one of a language version or a base image; the
base image is a managed one (``MANAGED_BASE_IMAGE_NAMES``) or another custom
image of the cluster, listed in a worker when the editor opens. Requirements
are typed in a text area or loaded into it from a local file (read in a worker:
``build_request`` never does I/O).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Button, Input, RadioButton, RadioSet, Select, TextArea

from workbench.providers.kusto.models import MANAGED_BASE_IMAGE_NAMES
from workbench.providers.kusto.requests import CreateOrUpdateImage, read_requirements_file
from workbench.tui.editors.base import FieldError
from workbench.tui.editors.fields import (
    FormEditor,
    FormField,
    problems_from_validation,
    raise_problems,
    select_value,
)

if TYPE_CHECKING:
    from workbench.core.images import ImageSummary
    from workbench.providers.kusto.driver import KustoDriver

__all__ = ["KustoEditor"]

#: Python versions of the managed images, offered as a hint.
KNOWN_VERSIONS = ("3.6.5", "3.10.8", "3.11.7")
#: The most images listed for the base image choice.
MAX_LISTED_IMAGES = 5000

#: The request models' names -> the editor's fields.
FIELDS: dict[str, str] = {
    "image_name": "name", "imageName": "name", "name": "name",
    "language": "language",
    "language_version": "languageVersion", "languageVersion": "languageVersion",
    "base_image_name": "baseImageName", "baseImageName": "baseImageName",
    "requirements_file_content": "requirements", "requirementsFileContent": "requirements",
    "requirements": "requirements", "requirements_file": "requirementsFile",
}


def _properties(image: ImageSummary | None) -> dict[str, Any]:
    """The image's ARM ``properties`` (camelCase), whatever ``raw`` holds."""
    if image is None:
        return {}
    raw = image.raw
    if isinstance(raw, BaseModel):
        raw = raw.model_dump(mode="json", by_alias=True, exclude_none=True)
    props = raw.get("properties") if isinstance(raw, Mapping) else None
    if isinstance(props, Mapping):
        return dict(props)
    return {key: value for key, value in image.extras.items() if value}


class KustoEditor(FormEditor):
    """Create or replace a sandbox custom image of the driver's cluster."""

    title: ClassVar[str] = "Kusto sandbox image"

    def __init__(self, driver: KustoDriver, image: ImageSummary | None, **kwargs: Any) -> None:
        super().__init__(driver, image, **kwargs)
        self.driver: KustoDriver = driver
        self._props = _properties(image)
        #: The file whose content is in the requirements area ("" for none).
        self.loaded_path = ""
        #: Custom images of the cluster, once listed.
        self.cluster_images: list[str] = []

    @property
    def uses_base_image(self) -> bool:
        return self.query_one("#base", RadioSet).pressed_index == 1

    def compose_form(self) -> ComposeResult:
        props = self._props
        yield FormField("name", "Name", Input(self.image.name if self.image else "", id="name", compact=True,
                                              placeholder="e.g. ml-runtime"),
                        hint="an existing name replaces that image's definition (it is rebuilt)")
        yield FormField("language", "Language", Select([("Python", "Python")], value="Python", allow_blank=False,
                                                       id="language", compact=True))
        base = props.get("baseImageName")
        yield FormField("base", "Built on", RadioSet(
            RadioButton("A Python version", value=not base, id="base-version"),
            RadioButton("A base image (managed or custom)", value=bool(base), id="base-image"),
            id="base", compact=True))
        yield FormField("languageVersion", "Python version", Input(
            props.get("languageVersion") or ("" if base else "3.10.8"), id="languageVersion", compact=True,
            placeholder="e.g. 3.10.8"), hint=f"managed versions: {', '.join(KNOWN_VERSIONS)}")
        yield FormField("baseImageName", "Base image", Select(
            self._base_options([base] if base and base not in MANAGED_BASE_IMAGE_NAMES else []),
            value=base or Select.NULL, prompt="(choose a base image)", id="baseImageName", compact=True),
            hint="listing the cluster's custom images…")
        yield FormField("requirements", "Requirements (pip requirements.txt)", TextArea(
            props.get("requirementsFileContent") or "", id="requirements", placeholder="numpy==1.26.4"))
        yield FormField("requirementsFile", "…or load them from a file", Horizontal(
            Input(id="requirementsFile", placeholder="path/to/requirements.txt", compact=True, name="path"),
            Button("Load", id="load-requirements", compact=True), classes="form-row"))

    def _base_options(self, custom: list[str]) -> list[tuple[str, str]]:
        own = self.image.name if self.image else ""
        options = [(f"{name} (managed)", name) for name in MANAGED_BASE_IMAGE_NAMES]
        options += [(f"{name} (custom)", name) for name in custom if name != own and name not in MANAGED_BASE_IMAGE_NAMES]
        return options

    def on_mount(self) -> None:
        self._show_base()
        self.run_worker(self._list_cluster_images(), group="base-images", exit_on_error=False)

    async def _list_cluster_images(self) -> None:
        """List the cluster's custom images for the base image choice."""
        field = self.query_one("#field-baseImageName", FormField)
        names: list[str] = []
        try:
            async for image in self.driver.list_images(limit=MAX_LISTED_IMAGES):
                names.append(image.name)
        except Exception as exc:  # noqa: BLE001 - the managed images are still there to pick
            field.set_hint(f"could not list the cluster's images: {exc}")
            return
        self.cluster_images = sorted(names, key=str.lower)
        select = self.query_one("#baseImageName", Select)
        current = select_value(select)
        with self.prevent(Select.Changed):
            names = list(dict.fromkeys(self.cluster_images + ([current] if current else [])))
            select.set_options(self._base_options(names))
            if current is not None:
                select.value = current
        custom = len([n for n in self.cluster_images if n != (self.image.name if self.image else "")])
        field.set_hint(f"{len(MANAGED_BASE_IMAGE_NAMES)} managed images, {custom} custom images of cluster "
                       f"{self.driver.scope.cluster}")

    def _show_base(self) -> None:
        on_image = self.uses_base_image
        self.query_one("#field-languageVersion").display = not on_image
        self.query_one("#field-baseImageName").display = on_image

    def field_changed(self, control: Widget) -> None:
        if control.id == "base":
            self._show_base()
        super().field_changed(control)

    # -- loading a requirements file -----------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "load-requirements":
            event.stop()
            self.load_requirements()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "requirementsFile":
            event.stop()
            self.load_requirements()

    def load_requirements(self) -> None:
        """Read the file named in the path field into the requirements area (in a worker)."""
        path = self.query_one("#requirementsFile", Input).value.strip()
        if path:
            self.run_worker(self._load(path), group="requirements", exclusive=True, exit_on_error=False)

    async def _load(self, path: str) -> None:
        field = self.query_one("#field-requirementsFile", FormField)
        try:
            text = await asyncio.to_thread(read_requirements_file, path)
        except ValueError as exc:
            self.loaded_path = ""
            field.set_error(str(exc).removeprefix("requirements_file: "))
            return
        self.query_one("#requirements", TextArea).load_text(text)
        self.loaded_path = path
        field.set_error(None)
        field.set_hint(f"loaded {len(text.splitlines())} lines from {path}")
        self.request_changed()

    # -- the request ---------------------------------------------------------------------
    def build_request(self) -> CreateOrUpdateImage:
        problems: list[FieldError] = []
        name = self.query_one("#name", Input).value.strip()
        if not name:
            problems.append(FieldError("name", "required: the image's name"))
        values: dict[str, Any] = {"language": select_value(self.query_one("#language", Select)) or "Python"}
        if self.uses_base_image:
            base = select_value(self.query_one("#baseImageName", Select))
            if not base:
                problems.append(FieldError("baseImageName", "required: choose a managed or custom image to build on"))
            values["base_image_name"] = base
        else:
            version = self.query_one("#languageVersion", Input).value.strip()
            if not version:
                problems.append(FieldError("languageVersion", "required: a Python version such as 3.10.8"))
            values["language_version"] = version or None
        requirements = self.query_one("#requirements", TextArea).text
        values["requirements"] = requirements if requirements.strip() else None
        path = self.query_one("#requirementsFile", Input).value.strip()
        if path and path != self.loaded_path:
            problems.append(FieldError("requirementsFile", "not loaded: press Enter or Load to read the file "
                                                           "(its content is sent, not its path)"))
        request: CreateOrUpdateImage | None = None
        if not any(p.field in ("baseImageName", "languageVersion") for p in problems):
            try:
                request = self.driver.create_or_update(name or "probe", **values)
            except ValidationError as error:
                problems += problems_from_validation(error, FIELDS, default="base")
        raise_problems(problems)
        assert request is not None
        return request

    def target_field(self, target: str) -> str | None:
        return FIELDS.get(target.removeprefix("properties."))
