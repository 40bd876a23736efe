"""`EditorScreen`: the host of a provider's editor widget.

The host implements the send flow of the editor contract
(``workbench/tui/editors/base.py``): the live preview of the exact request,
confirmation of destructive or costly requests, sending in a worker, the
operation handed to the tracker, and errors shown inline with the edit kept.

The send runs as a worker of the *app*, not of this screen: a request that
reached the cloud must have its answer handled (its operation tracked) even
if the screen is gone by then. Esc does not close the screen while a send is
in flight, and asks before discarding an edit with changes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.tui.editors import EditorWidget, FieldError, editor_for, field_errors

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.core.images import ImageSummary
    from workbench.core.preview import RequestPreview
    from workbench.providers.base import ApiRequest, Driver

__all__ = ["EditorScreen", "error_text", "find_editor", "preview_text"]


def find_editor(provider: str, driver: Driver, image: ImageSummary | None) -> EditorWidget | str:
    """The provider's editor from ``workbench.tui.editors.editor_for``, or why there is none."""
    editor = editor_for(provider, driver, image)
    if editor is None:
        what = f"image {image.name}" if image is not None else "a new image"
        return f"The {provider} editor has nothing to edit for {what}."
    return editor


def preview_text(preview: RequestPreview, summary: str = "") -> Text:
    """A masked preview as text: request line, headers, body (JSON indented)."""
    masked = preview.masked()
    text = Text()
    if summary:
        text.append(summary + "\n\n", style="italic")
    text.append(f"{masked.method} ", style="bold")
    text.append(masked.url + "\n")
    for name, value in masked.headers:
        text.append(f"{name}: ", style="bold")
        text.append(value + "\n")
    if masked.body is not None:
        text.append("\n")
        body = masked.json
        if body is not None:
            text.append(json.dumps(body, indent=2, ensure_ascii=False))
        else:
            text.append(masked.text if masked.text is not None else f"<{len(masked.body)} bytes of binary data>")
    return text


def error_text(error: BaseException) -> Text:
    """A failed send for the error panel: what the provider said first, then where."""
    from workbench.core.errors import ApiError

    text = Text()
    if isinstance(error, ApiError):
        text.append(f"Failed: {error.provider} answered HTTP {error.status}", style="bold")
        if error.code:
            text.append(f" {error.code}", style="bold")
        if error.message:
            text.append(f"\n{error.message}")
        if extra := error.details_text():
            text.append(f"\n{extra}")
        if error.request is not None:
            text.append(f"\n{error.request.method} {error.request.url}", style="italic")
        if error.request_id:
            text.append(f"\nrequest id {error.request_id}", style="italic")
    else:
        label = "Not sent: " if isinstance(error, ValueError) else "Failed: "
        text.append(label, style="bold")
        text.append(str(error) or type(error).__name__)
    text.append("\nThe edit is kept: fix it and press ctrl+s again.", style="italic")
    return text


class EditorScreen(Screen[None]):
    """One editor, its live request preview, and the send flow."""

    DEFAULT_CSS = """
    EditorScreen {
        & .pane-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
        & #editor-body { height: 1fr; }
        & #editor-pane { width: 1fr; padding: 0 1; }
        & #editor-side { width: 1fr; border-left: vkey $panel-lighten-2; }
        & #preview-scroll { height: 1fr; padding: 0 1; background: $boost; }
        & #send-error {
            height: auto;
            max-height: 12;
            padding: 0 1;
            color: $text-error;
            background: $error-muted;
        }
        & #editor-placeholder { padding: 1; color: $text-muted; }
        &.-narrow #editor-body { layout: vertical; }
        &.-narrow #editor-side {
            width: 1fr;
            height: 1fr;
            border-left: none;
            border-top: hkey $panel-lighten-2;
        }
    }
    """

    COMMAND_SCOPE: ClassVar[str] = "editor"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "send", "Send", priority=True),
        Binding("escape", "close", "Close"),
    ]

    class Sent(Message):
        """A request was sent and answered (posted to the app)."""

        def __init__(self, profile: str, request: ApiRequest, result: Any) -> None:
            self.profile = profile
            self.request = request
            self.result = result
            super().__init__()

    class Browse(Message):
        """A browsing editor asks for the images list with these filters (posted to the app)."""

        def __init__(self, profile: str, filters: dict[str, Any]) -> None:
            self.profile = profile
            self.filters = filters
            super().__init__()

    def __init__(
        self,
        workspace: Workspace,
        profile: str,
        provider: str,
        driver: Driver,
        image: ImageSummary | None,
        *,
        editor: EditorWidget | None = None,
    ) -> None:
        super().__init__()
        self.workspace = workspace
        self.profile = profile
        self.provider = provider
        self.driver = driver
        self.image = image
        found = editor if editor is not None else find_editor(provider, driver, image)
        self.editor: EditorWidget | None = found if isinstance(found, EditorWidget) else None
        self.placeholder = found if isinstance(found, str) else ""
        #: The last send's error, shown in the error panel (None after a success).
        self.error: BaseException | None = None
        self.sending = False

    def compose(self) -> ComposeResult:
        what = self.image.name if self.image is not None else "new image"
        title = self.editor.title if self.editor is not None else "Editor"
        yield Static(Text(f"{title} · {self.profile} · {what}"), classes="pane-title", id="editor-title")
        with Horizontal(id="editor-body"):
            with VerticalScroll(id="editor-pane"):
                if self.editor is not None:
                    yield self.editor
                else:
                    yield Static(Text(self.placeholder), id="editor-placeholder")
            with Vertical(id="editor-side"):
                yield Static("Request preview · ctrl+s sends", classes="pane-title", id="preview-title")
                with VerticalScroll(id="preview-scroll"):
                    yield Static("", id="request-preview")
                yield Static("", id="send-error")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#send-error", Static).display = False
        self.refresh_preview()
        if self.editor is not None:
            for widget in (self.editor, *self.editor.query("*")):
                if widget.focusable:
                    widget.focus()
                    break
            # Once the editor's own on_mount has filled its fields: the starting point.
            self.call_after_refresh(self.editor.mark_unchanged)

    # -- preview ---------------------------------------------------------------
    def on_editor_widget_request_changed(self, event: EditorWidget.RequestChanged) -> None:
        event.stop()
        self.refresh_preview()

    def refresh_preview(self) -> ApiRequest | None:
        """Rebuild the request and show it (or what is wrong); returns it when valid."""
        box = self.query_one("#request-preview", Static)
        if self.editor is None:
            box.update(Text("Nothing to preview.", style="italic"))
            return None
        try:
            request = self.editor.build_request()
            preview = self.driver.preview(request)
        except Exception as exc:  # noqa: BLE001 - a validation error is shown, not raised
            problems = field_errors(exc)
            self.editor.show_field_errors(problems)
            text = Text("Not ready to send:\n", style="bold")
            for problem in problems:
                text.append(f"• {problem}\n")
            box.update(text)
            return None
        self.editor.show_field_errors([])
        notes = []
        if request.destructive:
            notes.append("destructive: asks before sending")
        elif request.costly:
            notes.append("costly: asks before sending")
        summary = request.summary() + (f" ({'; '.join(notes)})" if notes else "")
        box.update(preview_text(preview, summary))
        return request

    # -- sending -----------------------------------------------------------------
    def action_send(self) -> None:
        if self.editor is None:
            self.notify(self.placeholder or "No editor", severity="warning")
            return
        if self.sending:
            self.notify("Already sending…")
            return
        try:
            request = self.editor.build_request()
        except Exception as exc:  # noqa: BLE001
            problems = field_errors(exc)
            self.editor.show_field_errors(problems)
            self._show_error(FieldError(problems[0].field, problems[0].message) if len(problems) == 1 else exc)
            return
        if self.editor.mode == "browse":
            try:
                filters = self.editor.list_filters()
            except Exception as exc:  # noqa: BLE001
                self._show_error(exc)
                return
            self.app.post_message(self.Browse(self.profile, filters))
            self.dismiss(None)
            return
        if request.destructive or request.costly:
            from workbench.tui.screens.confirm import ConfirmScreen

            kind = "destructive" if request.destructive else "costly"
            detail = preview_text(self.driver.preview(request)).plain

            def answered(confirmed: bool | None) -> None:
                if confirmed:
                    self._start_send(request)

            self.app.push_screen(ConfirmScreen(f"{request.summary()}? This request is {kind}.", detail,
                                               confirm_label="Send"), answered)
            return
        self._start_send(request)

    def _start_send(self, request: ApiRequest) -> None:
        self.sending = True
        self.query_one("#preview-title", Static).update("Request preview · sending…")
        # The app's worker, not the screen's: closing the screen must not cancel a
        # request the cloud may already be acting on.
        self.app.run_worker(self._send(request), group="send", exit_on_error=False, name=request.summary())

    async def _send(self, request: ApiRequest) -> None:
        from workbench.core.operations import Operation

        app = self.app
        try:
            result = await self.driver.send(request)
            if isinstance(result, Operation):
                result = self.workspace.track(result, profile=self.profile)
        except Exception as exc:  # noqa: BLE001 - shown inline; the edit stays as typed
            self.sending = False
            if self._is_shown(app):
                self._send_failed(exc)
            else:
                app.notify(error_text(exc).plain.rsplit("\n", 1)[0], title=f"{request.summary()} failed",
                           severity="error", timeout=20)
            return
        self.sending = False
        app.post_message(self.Sent(self.profile, request, result))
        if self._is_shown(app):
            self._send_succeeded(result)

    def _is_shown(self, app: Any) -> bool:
        """Still on the app's screen stack (perhaps under a dialog)?"""
        return self in app.screen_stack

    def _send_failed(self, error: BaseException) -> None:
        self.query_one("#preview-title", Static).update("Request preview · ctrl+s sends")
        self._show_error(error)
        if self.editor is not None:
            self.editor.show_send_error(error)

    def _send_succeeded(self, result: Any) -> None:
        self.error = None
        self.query_one("#send-error", Static).display = False
        self.query_one("#preview-title", Static).update("Request preview · ctrl+s sends")
        if self.editor is not None:
            self.editor.sent(result)
            self.editor.mark_unchanged()  # sent: nothing typed is lost by closing now
            if self.editor.close_after_send:
                self.dismiss(None)

    def _show_error(self, error: BaseException) -> None:
        self.error = error
        box = self.query_one("#send-error", Static)
        box.update(Group(error_text(error)))
        box.display = True

    def action_close(self) -> None:
        if self.sending:
            self.notify("Still sending the request: wait for its answer before closing the editor.",
                        title="Still sending", severity="warning")
            return
        if self.editor is None or not self.editor.changed:
            self.dismiss(None)
            return
        from workbench.tui.screens.confirm import ConfirmScreen

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmScreen("Discard the changes to this edit?",
                                           "What you typed here has not been sent and is lost when the editor "
                                           "closes.", confirm_label="Discard", cancel_label="Keep editing"),
                             answered)
