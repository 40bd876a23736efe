"""The editor contract: what a provider's editor widget is, and what its host does.

An *editor* is the per-provider form in which a user builds one request (a Glance
JSON patch, a Yandex image create, a Kusto image put, a Batch list filter). The app
shows it inside ``EditorScreen`` (``workbench/tui/screens/editor.py``), *the host*,
which owns everything around the form: the live request preview, sending,
confirmation, errors, and handing operations to the tracker. An editor never talks
HTTP and never sends anything itself.

Finding an editor
-----------------
``workbench/tui/editors/__init__.py`` exposes::

    def editor_for(provider: str, driver: Driver, image: ImageSummary | None) -> EditorWidget | None

``provider`` is the profile's provider ("glance", "ims", "yandex", "kusto",
"batch"); ``driver`` the profile's open driver; ``image`` the image highlighted in
the images pane (None: the user asked for a *new* image, or the list was empty).
It returns a new, unmounted editor, or None when the provider has no editor for
that case. The host shows a clear placeholder when the module or the function is
missing, or when it returns None.

Writing an editor
-----------------
Subclass ``EditorWidget`` and implement ``build_request``::

    class KustoEditor(EditorWidget):
        title = "Kusto image"

        def compose(self) -> ComposeResult:
            yield Input(self.image.name if self.image else "", id="name")
            ...

        def on_input_changed(self) -> None:
            self.request_changed()             # the host refreshes the preview

        def build_request(self) -> ApiRequest:
            name = self.query_one("#name", Input).value
            if not name:
                raise FieldError("name", "required: 1-64 letters, digits, '-' or '_'")
            return self.driver.create_or_update(name, language_version=...)

The rules, which the host relies on:

1. **Construction.** ``EditorWidget(driver, image, *, name=None, id=None,
   classes=None)``; the editor reads ``self.driver`` and ``self.image`` and fills
   its fields from ``image`` (an edit) or defaults (a create). It may ask the
   driver for more (``await self.driver.get_image(...)``) in its own workers.
2. **build_request() -> ApiRequest** builds the typed request from the fields,
   without side effects and without I/O (it is called on every change, for the
   preview). When a field is wrong it raises ``FieldError(field, message)``
   naming the field (the editor's own field name, e.g. ``"family"``, or a
   JSON-patch row such as ``"operations[2].path"``) and the rule it breaks. A
   pydantic ``ValidationError`` raised by the request model is accepted too:
   the host turns each of its errors into a ``FieldError`` with
   ``field_errors()``.
3. **RequestChanged.** Post it (``self.request_changed()``) whenever a field
   changes. The host then calls ``build_request()`` and shows either the exact
   HTTP request (``driver.preview(request)``: method, URL, headers with secrets
   masked, body) or the field error, and calls ``show_field_errors`` with what it
   found (an empty list once the request is valid again).
4. **Sending** is the host's: on ``ctrl+s`` (or its Send button) it calls
   ``build_request()``; a ``FieldError`` stops there and is shown. A request with
   ``destructive`` or ``costly`` set is confirmed in a dialog first (its
   ``summary()`` and the preview). Then ``result = await driver.send(request)``
   runs in a worker, so the UI never blocks:

   - an ``Operation`` goes to ``Workspace.track`` and shows up in the operations
     pane at once; when it finishes the image in the list is refreshed;
   - an ``ImageSummary`` (a synchronous edit such as a Glance patch) replaces the
     image in the list (``ImageList.update_image``);
   - anything else is reported with a notification.

   The host then calls ``sent(result)`` on the editor and closes the screen
   (unless the editor's ``close_after_send`` is False).
5. **Failure keeps the edit.** When ``send`` raises (an ``ApiError`` with the
   provider's code and message, a transport error, a validation error), the
   host shows the error in its error panel, calls ``show_send_error(error)``,
   keeps the screen open and never touches the editor's fields: nothing typed is
   lost, and the user can fix and send again.
6. **Browsing editors.** An editor whose ``mode`` is ``"browse"`` (the Batch
   filter builder) builds a *list* request: its preview is shown as usual, but
   "send" becomes "apply": the host closes the screen and reloads the images pane
   with ``driver.list_images(**editor.list_filters())``.
7. **Keys.** The host binds ``ctrl+s`` (send / apply) and ``escape`` (close).
   Editors must not bind those two; everything else is theirs.
8. **Closing.** Esc while a request is being sent does not close the editor
   (the send itself runs on the app, so its operation is tracked whatever
   happens to the screen). Esc on an edit with changes asks before discarding
   them: ``changed`` compares the values of the editor's controls with those
   it had when the host called ``mark_unchanged()`` (after mounting, and after
   each successful send). An editor that fills its fields itself later (say,
   from the image as the API now returns it) calls ``mark_unchanged()`` then,
   unless the user has already typed something.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from textual.message import Message
from textual.widget import Widget

if TYPE_CHECKING:
    from workbench.core.images import ImageSummary
    from workbench.providers.base import ApiRequest, Driver

__all__ = ["EditorWidget", "FieldError", "field_errors"]


class FieldError(ValueError):
    """A field of the editor breaks a rule; ``field`` names it, ``message`` says the rule."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}" if field else message)


def field_errors(error: BaseException) -> list[FieldError]:
    """Every field problem in ``error``: itself for a ``FieldError``, one per
    pydantic error (location joined with dots) for a ``ValidationError``, else one
    unnamed problem with the error's text."""
    if isinstance(error, FieldError):
        return [error]
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        found = []
        for item in error.errors(include_url=False):
            location = ".".join(str(part) for part in item.get("loc", ()))
            message = str(item.get("msg", "invalid"))
            message = message.removeprefix("Value error, ")
            found.append(FieldError(location, message))
        if found:
            return found
    return [FieldError("", str(error) or type(error).__name__)]


class EditorWidget(Widget):
    """The base of every provider editor (see the module docstring for the contract)."""

    DEFAULT_CSS = """
    EditorWidget {
        height: auto;
    }
    """

    #: Shown in the host's title bar, e.g. "Glance image patch".
    title: ClassVar[str] = "Editor"
    #: "send": the request is sent with ``driver.send``; "browse": it filters the images list.
    mode: ClassVar[Literal["send", "browse"]] = "send"
    #: Close the host once a send succeeded.
    close_after_send: ClassVar[bool] = True

    class RequestChanged(Message):
        """A field changed: the host rebuilds the request and refreshes its preview."""

        def __init__(self, editor: EditorWidget) -> None:
            self.editor = editor
            super().__init__()

        @property
        def control(self) -> EditorWidget:
            return self.editor

    def __init__(
        self,
        driver: Driver,
        image: ImageSummary | None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.driver = driver
        self.image = image
        self._unchanged_state: tuple[tuple[Widget, object], ...] | None = None

    # -- what subclasses implement -----------------------------------------
    def build_request(self) -> ApiRequest:
        """The typed request the fields describe; ``FieldError`` (or pydantic's
        ``ValidationError``) naming the field when one is wrong. No I/O."""
        raise NotImplementedError(f"{type(self).__name__} must implement build_request()")

    def list_filters(self) -> dict[str, Any]:
        """For ``mode == "browse"``: the keyword filters for ``driver.list_images``."""
        raise NotImplementedError(f"{type(self).__name__} is not a browsing editor")

    # -- hooks the host calls (optional) -----------------------------------
    def show_field_errors(self, errors: Iterable[FieldError]) -> None:
        """Mark the fields in ``errors`` (an empty iterable clears the marks)."""

    def show_send_error(self, error: BaseException) -> None:
        """The last send failed with ``error`` (already shown by the host)."""

    def sent(self, result: Any) -> None:
        """The last send succeeded with ``result`` (an Operation, an ImageSummary, ...)."""

    # -- helpers -------------------------------------------------------------
    def request_changed(self) -> None:
        """Tell the host a field changed."""
        self.post_message(self.RequestChanged(self))

    # -- unsaved changes -----------------------------------------------------
    def edit_state(self) -> tuple[tuple[Widget, object], ...]:
        """Every control of the editor with its value (rows added or removed count too)."""
        from textual.widgets import Checkbox, Input, RadioButton, Select, Switch, TextArea

        state: list[tuple[Widget, object]] = []
        for widget in self.query("*"):
            if isinstance(widget, TextArea):
                state.append((widget, widget.text))
            elif isinstance(widget, (Input, Select, Switch, Checkbox, RadioButton)):
                state.append((widget, widget.value))
        return tuple(state)

    def mark_unchanged(self) -> None:
        """Take the controls as they are now as the edit's starting point."""
        self._unchanged_state = self.edit_state()

    @property
    def changed(self) -> bool:
        """True when a control differs from the starting point (``mark_unchanged``)."""
        return self._unchanged_state is not None and self.edit_state() != self._unchanged_state
