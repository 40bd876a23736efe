"""The Azure Batch supported-images filter builder (a *browsing* editor).

The supported-images API is read-only, so this editor builds a list request:
its preview is the ``GET /supportedimages`` call, and "send" applies the filter
to the images pane (``mode = "browse"``, ``list_filters()``).

The builder's fields (OS type, verification, node agent SKU, publisher, offer,
SKU) become an OData ``$filter`` of ``eq`` comparisons joined with ``and``,
shown as it is built. Switching to raw mode makes that text editable (any
filter of the supported subset: ``ne``, ``or``, parentheses); switching back
fills the builder from the text when the builder can express it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import ValidationError
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Input, Select, Switch

from workbench.providers.batch import odata
from workbench.providers.batch.odata import ENUM_VALUES, And, Comparison, Expr, Operator, Property
from workbench.providers.batch.requests import MAX_RESULTS, ListSupportedImages
from workbench.tui.editors.base import FieldError
from workbench.tui.editors.fields import (
    FormEditor,
    FormField,
    parse_int,
    problems_from_validation,
    raise_problems,
    select_value,
)

if TYPE_CHECKING:
    from workbench.core.images import ImageSummary
    from workbench.providers.batch.driver import BatchDriver

__all__ = ["BUILDER_FIELDS", "BatchEditor", "builder_values"]

#: The builder's fields: (editor field, label, property compared, placeholder).
BUILDER_FIELDS: tuple[tuple[str, str, Property, str], ...] = (
    ("osType", "OS type", Property.OS_TYPE, ""),
    ("verificationType", "Verification", Property.VERIFICATION_TYPE, ""),
    ("nodeAgentSKUId", "Node agent SKU", Property.NODE_AGENT_SKU_ID, "e.g. batch.node.ubuntu 22.04"),
    ("publisher", "Publisher", Property.PUBLISHER, "e.g. Canonical (exact case)"),
    ("offer", "Offer", Property.OFFER, "e.g. 0001-com-ubuntu-server-jammy"),
    ("sku", "SKU", Property.SKU, "e.g. 22_04-lts"),
)
_SELECTS = {"osType", "verificationType"}
_FIELD_OF_PROPERTY = {prop: field for field, _, prop, _ in BUILDER_FIELDS}

#: The request model's names -> the editor's fields.
FIELDS: dict[str, str] = {"$filter": "filter", "filter": "filter", "maxresults": "maxresults",
                          "max_results": "maxresults"}


def builder_values(expr: Expr) -> dict[str, str] | None:
    """The builder's field values for ``expr``, or None when the builder cannot
    express it (it builds ``eq`` comparisons of distinct properties joined by ``and``)."""
    comparisons = expr.operands if isinstance(expr, And) else (expr,)
    values: dict[str, str] = {}
    for comparison in comparisons:
        if not isinstance(comparison, Comparison) or comparison.op is not Operator.EQ:
            return None
        field = _FIELD_OF_PROPERTY[comparison.property]
        if field in values:
            return None
        values[field] = comparison.value
    return values


class BatchEditor(FormEditor):
    """Filter the Batch account's supported images."""

    title: ClassVar[str] = "Batch supported images filter"
    mode: ClassVar[str] = "browse"  # type: ignore[assignment]

    def __init__(self, driver: BatchDriver, image: ImageSummary | None, **kwargs: Any) -> None:
        super().__init__(driver, image, **kwargs)
        self.driver: BatchDriver = driver

    def compose_form(self) -> ComposeResult:
        for field, label, prop, placeholder in BUILDER_FIELDS:
            if field in _SELECTS:
                control: Widget = Select([(value, value) for value in ENUM_VALUES[prop]], prompt="(any)",
                                         id=field, compact=True, classes="builder")
            else:
                control = Input(id=field, placeholder=placeholder, compact=True, classes="builder")
            yield FormField(field, label, control)
        yield FormField("raw", "Edit the $filter by hand (ne, or, parentheses)", Switch(False, id="raw"))
        yield FormField("filter", "$filter (OData)", Input(id="filter", compact=True, disabled=True,
                                                          placeholder="(no filter: every supported image)"))
        yield FormField("maxresults", "Page size (maxresults)", Input(
            id="maxresults", compact=True, placeholder=f"1-{MAX_RESULTS} (blank: {MAX_RESULTS})"))

    def on_mount(self) -> None:
        self._show_built_filter()

    # -- builder <-> raw text -------------------------------------------------------
    @property
    def raw(self) -> bool:
        return self.query_one("#raw", Switch).value

    def _builder_text(self, values: dict[str, str]) -> str:
        clauses = [odata.field(prop).eq(values[field]) for field, _, prop, _ in BUILDER_FIELDS if values.get(field)]
        return odata.render(odata.all_of(*clauses)) if clauses else ""

    def _builder_inputs(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for field, *_ in BUILDER_FIELDS:
            if field in _SELECTS:
                values[field] = select_value(self.query_one(f"#{field}", Select)) or ""
            else:
                values[field] = self.query_one(f"#{field}", Input).value.strip()
        return values

    def _show_built_filter(self) -> None:
        box = self.query_one("#filter", Input)
        with self.prevent(Input.Changed):
            box.value = self._builder_text(self._builder_inputs())

    def _fill_builder(self, values: dict[str, str]) -> None:
        with self.prevent(Input.Changed, Select.Changed):
            for field, *_ in BUILDER_FIELDS:
                value = values.get(field, "")
                if field in _SELECTS:
                    select = self.query_one(f"#{field}", Select)
                    if value:
                        select.value = value
                    else:
                        select.clear()
                else:
                    self.query_one(f"#{field}", Input).value = value

    def _set_raw(self, raw: bool) -> None:
        for control in self.query(".builder"):
            control.disabled = raw
        self.query_one("#filter", Input).disabled = not raw

    def field_changed(self, control: Widget) -> None:
        if control.id == "raw":
            if not self.raw:
                # Back to the builder: it takes over the text if it can express it.
                text = self.query_one("#filter", Input).value.strip()
                try:
                    values = builder_values(odata.parse_filter(text)) if text else {}
                except ValueError:
                    values = None
                if values is None:
                    with self.prevent(Switch.Changed):
                        self.query_one("#raw", Switch).value = True
                    self.query_one("#field-raw", FormField).set_hint(
                        "the builder cannot show this filter (it only builds 'eq' comparisons joined by 'and'): "
                        "clear it or simplify it first")
                    return
                self._fill_builder(values)
            self.query_one("#field-raw", FormField).set_hint("")
            self._set_raw(self.raw)
        elif control.has_class("builder"):
            self._show_built_filter()
        super().field_changed(control)

    # -- the request ---------------------------------------------------------------
    def _filter_text(self) -> str:
        if self.raw:
            return self.query_one("#filter", Input).value.strip()
        return self._builder_text(self._builder_inputs())

    def list_filters(self) -> dict[str, Any]:
        """``filter`` ($filter text) and ``maxresults`` for ``driver.list_images``."""
        request = self.build_request()
        filters: dict[str, Any] = {}
        if request.options.filter is not None:
            filters["filter"] = request.options.filter
        if request.options.max_results is not None:
            filters["maxresults"] = request.options.max_results
        return filters

    def build_request(self) -> ListSupportedImages:
        problems: list[FieldError] = []
        maxresults: int | None = None
        try:
            maxresults = parse_int(self.query_one("#maxresults", Input).value, "maxresults", low=1, high=MAX_RESULTS)
        except FieldError as problem:
            problems.append(problem)
        request: ListSupportedImages | None = None
        try:
            request = self.driver.list_request(filter=self._filter_text() or None, maxresults=maxresults)
        except ValidationError as error:
            problems += problems_from_validation(error, FIELDS, default="filter")
        raise_problems(problems)
        assert request is not None
        return request
