"""`ConfirmScreen`: a yes/no question before something that cannot be undone."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from workbench.tui.screens.dialog import DialogScreen

__all__ = ["ConfirmScreen"]


class ConfirmScreen(DialogScreen[bool]):
    """Ask a question; dismissed with True (confirm) or False (cancel).

    The detail (a request preview, say) is shown as plain text: nothing in it is
    read as markup, so a server's or user's text can never restyle the dialog.
    """

    DEFAULT_CSS = """
    ConfirmScreen {
        & #confirm-dialog { border: thick $error; }
        & #confirm-detail { height: auto; max-height: 14; background: $boost; padding: 0 1; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Yes"),
        Binding("n,escape", "cancel", "No"),
    ]

    def __init__(
        self,
        question: str,
        detail: str = "",
        *,
        confirm_label: str = "Yes",
        cancel_label: str = "Cancel",
        danger: bool = True,
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.confirm_label = confirm_label
        self.cancel_label = cancel_label
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            yield Static(Text(self.question), id="confirm-question", classes="dialog-title")
            if self.detail:
                with VerticalScroll(id="confirm-detail"):
                    yield Static(Text(self.detail), classes="preview-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    f"{self.confirm_label} (y)",
                    variant="error" if self.danger else "primary",
                    id="confirm-yes",
                )
                yield Button(f"{self.cancel_label} (n)", id="confirm-no")

    def on_mount(self) -> None:
        # Focus the safe answer: Enter on a dialog opened by accident does nothing harmful.
        self.query_one("#confirm-no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_confirm(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
