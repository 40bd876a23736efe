"""The Glance / Huawei IMS image editor: a JSON patch, as operations or as fields.

Two ways to say what changes, one request (``PatchImage``):

- **operations**: a list of JSON-patch operations (op, path, value) to add,
  edit, reorder and remove; each row's problems are shown under it, named as
  ``operations[2].path``;
- **fields**: name, description, visibility, minimum disk and RAM and the
  custom properties of the image; the driver computes the minimal patch from
  the image as it was to the image as edited (``driver.edit_request``, with
  ``jsonpatch``).

The dialect switch picks the v2.1 or the deprecated v2.0 body. Before anything
is sent the editor applies Glance's rules (read-only and reserved attributes, a
value for add/replace, core attributes that cannot be removed, IMS's rule that
only name, ``__description`` and custom attributes change) and checks each
operation against the image as the operations before it leave it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from itertools import count
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ValidationError
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widget import Widget
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select, TextArea

from workbench.providers.glance.models import (
    CORE_ATTRIBUTES,
    IMS_DESCRIPTION,
    READ_ONLY_ATTRIBUTES,
    RESERVED_ATTRIBUTES,
    RESERVED_NAMESPACE,
    VISIBILITIES,
    ImagePatch,
    PatchOperation,
    decode_pointer,
    ims_may_change,
)
from workbench.providers.glance.requests import PatchImage
from workbench.tui.editors.base import FieldError
from workbench.tui.editors.fields import (
    FormEditor,
    FormField,
    NothingToSend,
    parse_int,
    parse_labels,
    parse_list,
    raise_problems,
    select_value,
)

if TYPE_CHECKING:
    from workbench.core.images import ImageSummary
    from workbench.providers.glance.driver import GlanceDriver

__all__ = ["GlanceEditor", "PatchRow", "parse_patch_value"]

OPS = ("add", "replace", "remove")
DIALECTS = ("v2.1", "v2.0")
#: Attributes an image carries that are neither core nor custom properties.
_NOT_PROPERTIES = frozenset({"locations", "self", "file", "schema", "tags"})
_NULLABLE = frozenset({"name", "owner", "disk_format", "container_format"})
_ROW_PREFIX = re.compile(r"^operations\[\d+\](?:\.(?:path|value|op))?:? ?(?:/\S*: )?")
_POINTER_PROBLEM = re.compile(r"^(?:operations\[\d+\] )?(?P<pointer>/\S*): (?P<rule>.+)$", re.DOTALL)


def parse_patch_value(attribute: str, text: str) -> Any:
    """The JSON value typed for ``attribute``: integers for ``min_ram`` and
    ``min_disk``, booleans for ``protected`` and ``os_hidden``, a list for
    ``tags`` (JSON or comma separated), ``null`` for the nullable core
    attributes, JSON for ``locations``; a string for everything else (custom
    properties are strings)."""
    stripped = text.strip()
    if attribute in ("min_ram", "min_disk"):
        try:
            return int(stripped)
        except ValueError:
            raise ValueError(f"{attribute} is a whole number ({'MiB' if attribute == 'min_ram' else 'GiB'}), "
                             f"got {stripped!r}") from None
    if attribute in ("protected", "os_hidden"):
        words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
        if stripped.lower() not in words:
            raise ValueError(f"{attribute} is true or false, got {stripped!r}")
        return words[stripped.lower()]
    if attribute == "tags":
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except ValueError as exc:
                raise ValueError(f"tags: not a JSON list ({exc.args[0]})") from None
            return value
        return parse_list(stripped.replace(",", " ")) if "," in stripped else ([stripped] if stripped else [])
    if attribute == "locations":
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise ValueError(f"locations: not JSON ({exc.args[0]})") from None
    if attribute in _NULLABLE and stripped == "null":
        return None
    return text


def _image_dict(image: Any) -> dict[str, Any]:
    if isinstance(image, BaseModel):
        to_api = getattr(image, "to_api", None)
        return dict(to_api()) if callable(to_api) else image.model_dump(by_alias=True)
    return dict(image) if isinstance(image, Mapping) else {}


_serial = count(1)


class PatchRow(FormField):
    """One JSON-patch operation: op, path, value, and move/remove buttons."""

    DEFAULT_CSS = """
    PatchRow {
        margin: 0 0 1 0;
        padding: 0 0 0 1;
        border-left: outer $panel-lighten-2;
    }
    PatchRow > .form-row > .patch-op {
        width: 13;
    }
    PatchRow > .form-row > .patch-path {
        width: 1fr;
    }
    PatchRow > .form-row > Button {
        width: 3;
        min-width: 3;
    }
    """

    def __init__(self, op: str = "replace", path: str = "", value: str = "") -> None:
        self.op_select: Select[str] = Select([(o, o) for o in OPS], value=op, allow_blank=False, compact=True,
                                             name="op", classes="patch-op")
        self.path_input = Input(path, placeholder="/name", compact=True, name="path", classes="patch-path")
        self.value_input = Input(value, placeholder="value", compact=True, name="value", classes="patch-value")
        buttons = (Button("↑", classes="move-up", compact=True, tooltip="move up (alt+up)"),
                   Button("↓", classes="move-down", compact=True, tooltip="move down (alt+down)"),
                   Button("✕", classes="remove-row", compact=True, tooltip="remove this operation"))
        super().__init__("operations[0]", "#1",
                         Horizontal(self.op_select, self.path_input, *buttons, classes="form-row"),
                         self.value_input, id=f"patch-row-{next(_serial)}")

    def on_mount(self) -> None:
        self.show_op()

    def number(self, index: int) -> None:
        """This row is operation ``index`` of the patch."""
        self.field = f"operations[{index}]"
        self.label = f"#{index + 1}"
        if self.is_mounted:
            self.query_one(".editor-label", Label).update(self.label)

    def show_op(self) -> None:
        """A remove has no value."""
        self.value_input.disabled = self.op == "remove"

    @property
    def op(self) -> str:
        return str(select_value(self.op_select) or "replace")

    @property
    def path(self) -> str:
        return self.path_input.value.strip()

    @property
    def value_text(self) -> str:
        return self.value_input.value

    def mark_controls(self, invalid: bool, part: str | None) -> None:
        parts = {"op": self.op_select, "path": self.path_input, "value": self.value_input}
        for name, control in parts.items():
            control.set_class(invalid and (part == name or (part not in parts and name == "path")), "-invalid")


class GlanceEditor(FormEditor):
    """Patch a Glance (or IMS) image."""

    title: ClassVar[str] = "Glance image patch"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "add_operation", "Add operation"),
        Binding("alt+up", "move(-1)", "Move up"),
        Binding("alt+down", "move(1)", "Move down"),
    ]

    DEFAULT_CSS = """
    GlanceEditor #patch-operations, GlanceEditor #patch-operations-mode, GlanceEditor #patch-fields-mode {
        height: auto;
    }
    GlanceEditor #add-operation {
        margin: 0 0 1 0;
    }
    GlanceEditor #properties {
        height: 6;
    }
    """

    def __init__(self, driver: GlanceDriver, image: ImageSummary, **kwargs: Any) -> None:
        super().__init__(driver, image, **kwargs)
        self.driver: GlanceDriver = driver
        self.image: ImageSummary = image
        #: The image as it stands on the server (refreshed when the editor opens).
        self.current: dict[str, Any] = _image_dict(image.raw) or {"id": image.id, "name": image.name}
        self.current.setdefault("id", image.id)
        self._fields_touched = False
        if self.ims:
            self.title = "IMS image patch"

    @property
    def ims(self) -> bool:
        return self.driver.flavour == "ims"

    @property
    def description_attribute(self) -> str:
        """IMS keeps the description in ``__description``; Glance clients (Horizon) in ``description``."""
        return IMS_DESCRIPTION if self.ims else "description"

    def is_property(self, attribute: str) -> bool:
        """A custom property the fields mode lists (changeable on this cloud)."""
        if (attribute in READ_ONLY_ATTRIBUTES or attribute in CORE_ATTRIBUTES or attribute in RESERVED_ATTRIBUTES
                or attribute.startswith(RESERVED_NAMESPACE) or attribute in _NOT_PROPERTIES
                or attribute == self.description_attribute):
            return False
        return ims_may_change(attribute) if self.ims else True

    # -- layout --------------------------------------------------------------------
    @property
    def fields_mode(self) -> bool:
        return self.query_one("#mode", RadioSet).pressed_index == 1

    @property
    def dialect(self) -> str:
        index = self.query_one("#dialect", RadioSet).pressed_index
        return DIALECTS[index if index in (0, 1) else 0]

    def compose_form(self) -> ComposeResult:
        yield FormField("mode", "Edit as", RadioSet(
            RadioButton("JSON-patch operations", id="mode-operations"),
            RadioButton("Fields (the patch is computed)", value=True, id="mode-fields"),
            id="mode", compact=True))
        default = self.driver.patch_dialect
        yield FormField("dialect", "Patch dialect", RadioSet(
            RadioButton("v2.1 (op, path, value)", value=default == "v2.1", id="dialect-v21"),
            RadioButton("v2.0 (deprecated: {op: path, value})", value=default == "v2.0", id="dialect-v20"),
            id="dialect", compact=True))
        with Vertical(id="patch-operations-mode"):
            yield Vertical(id="patch-operations")
            yield Button("+ Add operation (ctrl+n)", id="add-operation", compact=True)
        with Vertical(id="patch-fields-mode"):
            yield from self._compose_fields()

    def _compose_fields(self) -> ComposeResult:
        c = self.current
        yield FormField("name", "Name", Input(str(c.get("name") or ""), id="name", compact=True))
        description = "Description" + (" (__description)" if self.ims else " (the 'description' property)")
        yield FormField("description", description, Input(str(c.get(self.description_attribute) or ""),
                                                          id="description", compact=True))
        visibility = c.get("visibility")
        # IMS lets only name, __description and custom attributes change: the rest is shown, fixed.
        fixed = "fixed on Huawei IMS (only name, __description and custom attributes change)" if self.ims else ""
        yield FormField("visibility", "Visibility", Select(
            [(v, v) for v in VISIBILITIES], value=visibility if visibility in VISIBILITIES else Select.NULL,
            prompt="(unchanged)", id="visibility", compact=True, disabled=self.ims), hint=fixed)
        yield FormField("min_disk", "Minimum disk (GiB)", Input(str(c.get("min_disk") or 0), id="min_disk",
                                                                compact=True, disabled=self.ims), hint=fixed)
        yield FormField("min_ram", "Minimum RAM (MiB)", Input(str(c.get("min_ram") or 0), id="min_ram",
                                                              compact=True, disabled=self.ims), hint=fixed)
        yield FormField("properties", "Custom properties (key=value, one per line; delete a line to remove it)",
                        TextArea(self._properties_text(), id="properties", compact=True))

    def _properties_text(self) -> str:
        return "\n".join(f"{key}={value}" for key, value in sorted(self.current.items())
                         if self.is_property(key) and isinstance(value, str))

    def on_mount(self) -> None:
        self._show_mode()
        self.run_worker(self._refresh_image(), group="glance-image", exit_on_error=False)

    async def _refresh_image(self) -> None:
        """Read the image as it stands now (this also finds the endpoint in the catalog)."""
        try:
            summary = await self.driver.get_image(self.image.id)
        except Exception as exc:  # noqa: BLE001 - the listed image is still a fine starting point
            self.notify(f"Could not read image {self.image.id} as it stands now: {exc}. The patch is checked "
                        "against the listed copy.", title="Glance", severity="warning", timeout=10)
            self.request_changed()
            return
        self.current = _image_dict(summary.raw) or self.current
        if not self._fields_touched:
            self._fill_fields()
            self.mark_unchanged()  # filled from the API, not typed: nothing to lose yet
        self.request_changed()

    def _fill_fields(self) -> None:
        c = self.current
        with self.prevent(Input.Changed, Select.Changed, TextArea.Changed):
            self.query_one("#name", Input).value = "" if c.get("name") is None else str(c["name"])
            self.query_one("#description", Input).value = str(c.get(self.description_attribute) or "")
            visibility = self.query_one("#visibility", Select)
            if c.get("visibility") in VISIBILITIES:
                visibility.value = c["visibility"]
            self.query_one("#min_disk", Input).value = str(c.get("min_disk") or 0)
            self.query_one("#min_ram", Input).value = str(c.get("min_ram") or 0)
            self.query_one("#properties", TextArea).load_text(self._properties_text())

    def _show_mode(self) -> None:
        fields = self.fields_mode
        self.query_one("#patch-fields-mode").display = fields
        self.query_one("#patch-operations-mode").display = not fields

    def field_changed(self, control: Widget) -> None:
        if control.id == "mode":
            self._show_mode()
        elif isinstance(control, Select) and control.has_class("patch-op"):
            row = self._row_of(control)
            if row is not None:
                row.show_op()
        elif control.id in ("name", "description", "visibility", "min_disk", "min_ram", "properties"):
            self._fields_touched = True
        super().field_changed(control)

    # -- the operations list -------------------------------------------------------------
    @property
    def rows(self) -> list[PatchRow]:
        return list(self.query_one("#patch-operations", Vertical).query_children(PatchRow))

    async def add_operation(self, op: str = "replace", path: str = "", value: str = "") -> PatchRow:
        """Append an operation row (and focus its path)."""
        row = PatchRow(op, path, value)
        await self.query_one("#patch-operations", Vertical).mount(row)
        self._renumber()
        row.path_input.focus()
        self.request_changed()
        return row

    def _renumber(self) -> None:
        for index, row in enumerate(self.rows):
            row.number(index)

    def _row_of(self, widget: Widget | None) -> PatchRow | None:
        while widget is not None and not isinstance(widget, PatchRow):
            widget = widget.parent if isinstance(widget.parent, Widget) else None
        return widget

    def move_row(self, row: PatchRow, step: int) -> None:
        """Move ``row`` up (-1) or down (+1) in the patch."""
        rows = self.rows
        index = rows.index(row)
        target = index + step
        if not 0 <= target < len(rows):
            return
        container = self.query_one("#patch-operations", Vertical)
        if step < 0:
            container.move_child(row, before=rows[target])
        else:
            container.move_child(row, after=rows[target])
        self._renumber()
        self.request_changed()

    async def remove_row(self, row: PatchRow) -> None:
        index = self.rows.index(row)
        await row.remove()
        self._renumber()
        rows = self.rows
        # Keep the keyboard in the list: on the row that took its place, else on "add".
        (rows[min(index, len(rows) - 1)].path_input if rows else self.query_one("#add-operation")).focus()
        self.request_changed()

    async def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button
        if button.id == "add-operation":
            await self.add_operation()
            return
        row = self._row_of(button)
        if row is None:
            return
        if button.has_class("move-up"):
            self.move_row(row, -1)
        elif button.has_class("move-down"):
            self.move_row(row, 1)
        elif button.has_class("remove-row"):
            await self.remove_row(row)

    async def action_add_operation(self) -> None:
        if self.fields_mode:
            self.query_one("#mode-operations", RadioButton).value = True
        await self.add_operation()

    def action_move(self, step: int) -> None:
        row = self._row_of(self.screen.focused)
        if row is not None:
            self.move_row(row, step)

    # -- the request ---------------------------------------------------------------------
    def build_request(self) -> PatchImage:
        if self.fields_mode:
            return self._computed_patch()
        return self._operations_patch()

    def _operations_patch(self) -> PatchImage:
        rows = self.rows
        if not rows:
            raise NothingToSend("no operations yet: add one (ctrl+n), or edit as fields")
        problems: list[FieldError] = []
        operations: list[PatchOperation] = []
        working = dict(self.current)  # the image as the operations so far leave it
        for index, row in enumerate(rows):
            where = f"operations[{index}]"
            operation = self._row_operation(index, row, problems)
            if operation is None:
                continue
            try:
                ImagePatch(operations=[operation], dialect=self.dialect, flavour=self.driver.flavour)
                PatchImage(image_id=self.image.id, operations=[operation], dialect=self.dialect,
                           flavour=self.driver.flavour).check_against(working)
            except (ValidationError, ValueError) as error:
                rule = _rule_text(error)
                problems.append(FieldError(f"{where}.{'value' if rule.startswith('value for') else 'path'}", rule))
                continue
            operations.append(operation)
            _apply(working, operation)
        raise_problems(problems)
        return self.driver.patch_request(self.image.id, operations, dialect=self.dialect)  # type: ignore[arg-type]

    def _row_operation(self, index: int, row: PatchRow, problems: list[FieldError]) -> PatchOperation | None:
        where = f"operations[{index}]"
        if not row.path:
            problems.append(FieldError(f"{where}.path", "required: a JSON pointer to an attribute, such as /name"))
            return None
        try:
            attribute = decode_pointer(row.path)
        except ValueError as error:
            problems.append(FieldError(f"{where}.path", str(error)))
            return None
        data: dict[str, Any] = {"op": row.op, "path": row.path}
        if row.op != "remove":
            try:
                data["value"] = parse_patch_value(attribute, row.value_text)
            except ValueError as error:
                problems.append(FieldError(f"{where}.value", str(error)))
                return None
        try:
            return PatchOperation.model_validate(data)
        except ValidationError as error:
            for item in error.errors(include_url=False):
                message = str(item.get("msg", "")).removeprefix("Value error, ")
                part = "path" if "path" in item.get("loc", ()) else (
                    "op" if "removed" in message or row.op == "remove" else "value")
                problems.append(FieldError(f"{where}.{part}", message))
            return None

    def _computed_patch(self) -> PatchImage:
        problems: list[FieldError] = []
        after = dict(self.current)
        name = self.query_one("#name", Input).value
        if name or after.get("name") is not None:
            after["name"] = name  # an image without a name keeps none until one is typed
        description = self.query_one("#description", Input).value
        if description or self.description_attribute in after:
            after[self.description_attribute] = description
        visibility = select_value(self.query_one("#visibility", Select))
        if visibility:
            after["visibility"] = visibility
        for attribute in ("min_disk", "min_ram"):
            try:
                value = parse_int(self.query_one(f"#{attribute}", Input).value, attribute, low=0)
                after[attribute] = value if value is not None else 0
            except FieldError as problem:
                problems.append(problem)
        try:
            properties = parse_labels(self.query_one("#properties", TextArea).text, "properties", commas=False)
        except FieldError as problem:
            problems.append(problem)
        else:
            for key in [k for k in after if self.is_property(k)]:
                if key not in properties:
                    del after[key]  # the line was deleted: remove the property
            for key, value in properties.items():
                if key in CORE_ATTRIBUTES or key in READ_ONLY_ATTRIBUTES or key == self.description_attribute:
                    problems.append(FieldError("properties", f"{key!r} is not a custom property: edit it in its "
                                                             "own field (or as an operation)"))
                after[key] = value
        raise_problems(problems)
        try:
            request = self.driver.edit_request(self.current, after, dialect=self.dialect)  # type: ignore[arg-type]
        except (ValidationError, ValueError) as error:
            raise_problems(self._field_problems(error))
            raise
        if not request.operations:
            raise NothingToSend("no changes yet: edit a field and the patch is computed from your changes")
        return request

    def _field_problems(self, error: Exception) -> list[FieldError]:
        """The fields a computed patch's problems are about (by the pointer they name)."""
        fields = {"name": "name", "visibility": "visibility", "min_disk": "min_disk", "min_ram": "min_ram",
                  self.description_attribute: "description"}
        problems = []
        for text in _rule_text(error, keep_pointer=True).split("; "):
            match = _POINTER_PROBLEM.match(text)
            if match is None:
                problems.append(FieldError("", text))
                continue
            try:
                attribute = decode_pointer(match.group("pointer"))
            except ValueError:
                attribute = ""
            problems.append(FieldError(fields.get(attribute, "properties"),
                                       f"{attribute}: {match.group('rule')}" if attribute not in fields
                                       else match.group("rule")))
        return problems


def _rule_text(error: Exception, *, keep_pointer: bool = False) -> str:
    """The rule a validation error states, without the row prefix the models add."""
    if isinstance(error, ValidationError):
        text = "; ".join(str(item.get("msg", "")).removeprefix("Value error, ")
                         for item in error.errors(include_url=False))
    else:
        text = str(error)
    if keep_pointer:
        return text
    return "; ".join(_ROW_PREFIX.sub("", part, count=1) for part in text.split("; "))


def _apply(image: dict[str, Any], operation: PatchOperation) -> None:
    """``operation`` applied to ``image`` (top-level attributes only, as Glance patches)."""
    attribute = operation.attribute
    if operation.op == "remove":
        image.pop(attribute, None)
    else:
        image[attribute] = operation.value
