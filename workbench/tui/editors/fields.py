"""Pieces every provider editor shares: labelled fields with inline errors, a form
base class, and parsers for what people type (sizes with units, ``k=v`` labels, lists).

A form is a column of ``FormField``s (a label, one or more controls, a hint and
an error line). ``FormEditor`` routes every control's change message to
``field_changed`` (the host then rebuilds the request) and puts each problem the
host reports next to the field it names; problems that name no field go to a
box at the top of the form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from pydantic import ValidationError
from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, RadioSet, Select, Static, Switch, TextArea

from workbench.tui.editors.base import EditorWidget, FieldError

__all__ = [
    "FormEditor",
    "FormField",
    "NothingToSend",
    "format_bytes",
    "parse_int",
    "parse_labels",
    "parse_list",
    "parse_size",
    "problems_from_validation",
    "raise_problems",
    "select_value",
]

KiB, MiB, GiB, TiB = 1024, 1024**2, 1024**3, 1024**4

#: Size units people type. Binary (IEC) units and the bare letters count in
#: powers of 1024; kB, MB, GB and TB are the SI powers of 1000.
SIZE_UNITS: dict[str, int] = {
    "": 1, "b": 1, "byte": 1, "bytes": 1,
    "k": KiB, "kib": KiB, "kb": 1000,
    "m": MiB, "mib": MiB, "mb": 1000**2,
    "g": GiB, "gib": GiB, "gb": 1000**3,
    "t": TiB, "tib": TiB, "tb": 1000**4,
}
_SIZE = re.compile(r"^\s*(?P<number>\d[\d_,]*(?:\.\d+)?)\s*(?P<unit>[A-Za-z]*)\s*$")


# -- parsers -------------------------------------------------------------------
def parse_size(text: str, field: str) -> int:
    """Bytes from ``"20 GiB"``, ``"512MiB"``, ``"20G"``, ``"10 GB"`` or plain bytes; 0 when blank."""
    if not text.strip():
        return 0
    match = _SIZE.match(text)
    unit = match.group("unit").lower() if match else ""
    if match is None or unit not in SIZE_UNITS:
        raise FieldError(field, f"{text.strip()!r} is not a size: give a number and a unit such as '20 GiB', "
                                "'512 MiB' or a number of bytes (units: B, KiB, MiB, GiB, TiB; kB, MB, GB, TB "
                                "are powers of 1000)")
    try:
        number = Decimal(match.group("number").replace("_", "").replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only lets digits through
        raise FieldError(field, f"{text.strip()!r} is not a number") from None
    value = number * SIZE_UNITS[unit]
    if value != value.to_integral_value():
        raise FieldError(field, f"{text.strip()!r} is not a whole number of bytes ({value} bytes)")
    return int(value)


def format_bytes(value: int) -> str:
    """``21474836480`` -> ``"21,474,836,480 bytes (20 GiB)"``."""
    for unit, size in (("TiB", TiB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if value >= size:
            amount = value / size
            shown = f"{amount:.0f}" if amount == int(amount) else f"{amount:.2f}"
            return f"{value:,} bytes ({shown} {unit})"
    return f"{value:,} bytes"


def parse_int(text: str, field: str, *, low: int | None = None, high: int | None = None) -> int | None:
    """An integer, or None when blank; the field and the range in the error."""
    stripped = text.strip().replace("_", "")
    if not stripped:
        return None
    try:
        value = int(stripped)
    except ValueError:
        raise FieldError(field, f"must be a whole number, got {text.strip()!r}") from None
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"between {low} and {high}" if low is not None and high is not None else (
            f"at least {low}" if low is not None else f"at most {high}")
        raise FieldError(field, f"must be {bounds}, got {value}")
    return value


def parse_labels(text: str, field: str = "labels", *, commas: bool = True) -> dict[str, str]:
    """``key=value`` pairs, one per line or (``commas``) separated by commas;
    blank entries are skipped. Without ``commas`` a value may hold commas."""
    labels: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for entry in line.split(",") if commas else [line]:
            entry = entry.strip()
            if not entry:
                continue
            key, sep, value = entry.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key:
                raise FieldError(field, f"line {number}: expected key=value, got {entry!r}")
            if key in labels:
                raise FieldError(field, f"line {number}: key {key!r} is given twice")
            labels[key] = value
    return labels


def parse_list(text: str) -> list[str]:
    """Items separated by commas, spaces or new lines (empty ones dropped)."""
    return [item for item in re.split(r"[\s,]+", text) if item]


def select_value(select: Select[Any]) -> Any:
    """A Select's value, None for no selection."""
    return None if select.is_blank() else select.value


# -- problems ------------------------------------------------------------------
class NothingToSend(FieldError):
    """Every field is fine, but the form does not ask for anything yet (no
    change, no operation): shown as a note, not as an error."""

    def __init__(self, message: str) -> None:
        super().__init__("", message)


_NAMED = re.compile(r"^(?P<field>[A-Za-z$][\w$.\[\]/-]*): (?P<rule>.+)$", re.DOTALL)


def problems_from_validation(error: ValidationError, fields: Mapping[str, str], default: str = "") -> list[FieldError]:
    """A model's ``ValidationError`` as problems named after the editor's fields.

    ``fields`` maps the model's names (attribute names, wire aliases, or the
    name a rule's message starts with, such as ``"minDiskSize: ..."``) to the
    editor's field names. A problem whose field is not in ``fields`` keeps the
    model's name, or gets ``default``.
    """
    problems: list[FieldError] = []
    for item in error.errors(include_url=False):
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        location = [str(part) for part in item.get("loc", ())]
        field = ""
        for part in reversed(location):
            if part in fields:
                field = fields[part]
                break
        named = _NAMED.match(message)
        if named and named.group("field") in fields:
            if not field:
                field = fields[named.group("field")]
            message = named.group("rule")
        elif named and location and named.group("field") == location[-1]:
            message = named.group("rule")
        if not field:
            field = default or ".".join(location)
        problems.append(FieldError(field, message))
    return problems


def raise_problems(problems: list[FieldError]) -> NoReturn | None:
    """Raise the problems found (nothing when there are none).

    One problem is raised as itself; several as one ``ValidationError`` with
    one entry per field, which the host lists and hands back to
    ``show_field_errors`` one by one (``base.field_errors``).
    """
    if not problems:
        return None
    if len(problems) == 1:
        raise problems[0]
    raise ValidationError.from_exception_data(
        "editor",
        [{"type": "value_error", "loc": (p.field,), "input": None, "ctx": {"error": ValueError(p.message)}}
         for p in problems],
    )


# -- widgets -------------------------------------------------------------------
class FormField(Widget):
    """A labelled field: label, controls, an optional hint and an error line.

    ``field`` is the name problems use for it (``"family"``); a control's
    ``name`` is the part a problem may add (``"operations[2].path"`` marks the
    control named ``path`` of the field ``operations[2]``).
    """

    DEFAULT_CSS = """
    FormField {
        height: auto;
        margin: 0 0 1 0;
    }
    FormField > .editor-label {
        width: 100%;
        color: $text-muted;
        text-style: bold;
    }
    FormField > .editor-hint {
        color: $text-muted;
        display: none;
    }
    FormField.-has-hint > .editor-hint {
        display: block;
    }
    FormField > .editor-error {
        color: $text-error;
        display: none;
    }
    FormField.-has-error > .editor-error {
        display: block;
    }
    FormField.-has-error > .editor-label {
        color: $text-error;
    }
    FormField TextArea.-invalid, FormField Select.-invalid > SelectCurrent {
        border: tall $error 60%;
    }
    """

    def __init__(self, field: str, label: str, *controls: Widget, hint: str = "", id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id or f"field-{_css_id(field)}", classes=classes)
        self.field = field
        self.label = label
        self.controls = controls
        self.hint = hint
        self.set_class(bool(hint), "-has-hint")

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="editor-label", markup=False)
        yield from self.controls
        yield Static(Text(self.hint), classes="editor-hint")
        yield Static("", classes="editor-error", markup=False)

    def set_hint(self, hint: str) -> None:
        self.hint = hint
        self.set_class(bool(hint), "-has-hint")
        if self.is_mounted:
            self.query_one(".editor-hint", Static).update(Text(hint))

    @property
    def error(self) -> str:
        """The error shown now ("" for none)."""
        return str(self.query_one(".editor-error", Static).content) if self.has_class("-has-error") else ""

    def set_error(self, message: str | None, part: str | None = None) -> None:
        """Show ``message`` under the field and mark its control ``part`` (else every
        control); None clears."""
        self.set_class(bool(message), "-has-error")
        self.query_one(".editor-error", Static).update(message or "")
        self.mark_controls(bool(message), part)

    def mark_controls(self, invalid: bool, part: str | None) -> None:
        """Set ``-invalid`` on the control named ``part`` (on every control when none is)."""
        named = any(control.name == part for control in self.controls)
        for control in self.controls:
            control.set_class(invalid and (not named or control.name == part), "-invalid")


def _css_id(field: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", field)


class FormEditor(EditorWidget):
    """An editor made of ``FormField``s (see the module docstring).

    Subclasses implement ``compose_form`` and ``build_request``, and override
    ``field_changed`` to react to a control (calling ``super()``).
    """

    DEFAULT_CSS = """
    FormEditor {
        height: auto;
        padding: 0 0 1 0;
    }
    FormEditor > #form-problems {
        color: $text-error;
        margin: 0 0 1 0;
        display: none;
    }
    FormEditor > #form-problems.-shown {
        display: block;
    }
    FormEditor > #form-problems.-nothing-yet {
        color: $text-muted;
        text-style: italic;
    }
    FormEditor .form-row {
        height: auto;
    }
    FormEditor .form-row > * {
        width: 1fr;
    }
    FormEditor .form-row > Button {
        width: auto;
        min-width: 6;
    }
    FormEditor RadioSet {
        width: 100%;
    }
    FormEditor TextArea {
        height: 8;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="form-problems", markup=False)
        yield from self.compose_form()

    def compose_form(self) -> ComposeResult:
        raise NotImplementedError(f"{type(self).__name__} must implement compose_form()")

    # -- changes -------------------------------------------------------------------
    def field_changed(self, control: Widget) -> None:
        """A control changed: tell the host (subclasses also update what is shown)."""
        self.request_changed()

    def _changed(self, event: Any) -> None:
        event.stop()  # the form's own business, not the screen's or the app's
        if self.is_mounted:
            self.field_changed(event.control)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._changed(event)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._changed(event)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self._changed(event)

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        self._changed(event)

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self._changed(event)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._changed(event)

    # -- problems ------------------------------------------------------------------
    def field_named(self, name: str) -> tuple[FormField, str | None] | None:
        """The field a problem names, and the part of it (``operations[2].path``
        -> the field ``operations[2]``, part ``path``)."""
        fields = {field.field: field for field in self.query(FormField)}
        candidate, part = name, None
        while candidate:
            if candidate in fields:
                return fields[candidate], part
            cut = max(candidate.rfind("."), candidate.rfind("["))
            if cut <= 0:
                break
            tail = candidate[cut:].lstrip(".")
            part = tail if part is None else f"{tail}.{part}"
            candidate = candidate[:cut]
        return None

    def show_field_errors(self, errors: Iterable[FieldError]) -> None:
        for field in self.query(FormField):
            field.set_error(None)
        general: list[str] = []
        shown: set[str] = set()
        errors = list(errors)
        if errors and all(isinstance(error, NothingToSend) for error in errors):
            self.show_general([error.message for error in errors], note=True)
            return
        for error in errors:
            found = self.field_named(error.field) if error.field else None
            if found is None:
                general.append(str(error))
                continue
            field, part = found
            if field.field in shown:
                continue  # one problem per field at a time: the first is the one to fix
            shown.add(field.field)
            message = error.message
            if message.startswith(f"{error.field}: "):
                message = message[len(error.field) + 2:]
            field.set_error(message, part)
        self.show_general(general)

    def show_general(self, lines: list[str], *, note: bool = False) -> None:
        """Problems that belong to no single field (or, ``note``, what the form
        still waits for), at the top of the form."""
        box = self.query_one("#form-problems", Static)
        box.update("\n".join(lines))
        box.set_class(note, "-nothing-yet")
        box.set_class(bool(lines), "-shown")

    def show_send_error(self, error: BaseException) -> None:
        """Mark the fields a provider's error names (the host shows the error itself)."""
        problems = self.send_problems(error)
        if problems:
            self.show_field_errors(problems)

    def send_problems(self, error: BaseException) -> list[FieldError]:
        """The fields a failed send's error names: an ARM ``target`` (also in its
        details), Yandex ``fieldViolations`` (editors add their provider's cases)."""
        named: list[tuple[str, str]] = []
        message = str(getattr(error, "message", "") or error)
        target = getattr(error, "target", None)
        if isinstance(target, str):
            named.append((target, message))
        for detail in getattr(error, "details", None) or ():
            if not isinstance(detail, Mapping):
                continue
            for violation in detail.get("fieldViolations") or ():
                if isinstance(violation, Mapping):
                    named.append((str(violation.get("field", "")), str(violation.get("description", ""))))
            if isinstance(detail.get("target"), str):
                named.append((detail["target"], str(detail.get("message") or message)))
        problems: list[FieldError] = []
        for name, text in named:
            field = self.target_field(name) if name else None
            if field and self.field_named(field) is not None and all(p.field != field for p in problems):
                problems.append(FieldError(field, text))
        return problems

    def target_field(self, target: str) -> str | None:
        """The editor's field for a name in a provider's error (default: the same name)."""
        return target

    def field_error(self, name: str) -> str:
        """The error shown under field ``name`` ("" for none): for tests and hosts."""
        found = self.field_named(name)
        return found[0].error if found else ""

    @property
    def general_problems(self) -> str:
        box = self.query_one("#form-problems", Static)
        return str(box.content) if box.has_class("-shown") else ""
