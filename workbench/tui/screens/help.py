"""`HelpScreen`: every key and command of the workbench, from the one list of commands."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Static

from workbench.tui.commands import APP_COMMANDS
from workbench.tui.screens.dialog import DialogScreen

__all__ = ["HelpScreen"]

INTRODUCTION = (
    "Pick a profile on the left (Enter) to list its images. Type / to filter them, "
    "e to edit the highlighted image, n to create one. Requests are previewed exactly "
    "as they will be sent, secrets masked; long-running operations are followed in "
    "the operations pane while you keep working. Ctrl+P opens the command palette."
)


def _key_label(key: str) -> str:
    return {"escape": "Esc", "enter": "Enter", "delete": "Del"}.get(key, key.replace("ctrl+", "Ctrl+"))


class HelpScreen(DialogScreen[None]):
    """The keys and commands, grouped as the panes are."""

    DEFAULT_CSS = """
    HelpScreen {
        & #help-body { height: auto; max-height: 30; }
        & #help-intro { padding: 0 0 1 0; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static("Image Workbench — keys and commands", classes="dialog-title")
            with VerticalScroll(id="help-body"):
                yield Static(Text(INTRODUCTION), id="help-intro")
                yield Static(self._table(), id="help-keys")
            yield Static("Esc closes this help", classes="dialog-hint")

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(no_wrap=True, style="bold")
        table.add_column(no_wrap=True)
        table.add_column()
        group = None
        for command in APP_COMMANDS:
            if command.group != group:
                group = command.group
                if table.row_count:
                    table.add_row("", "", "")
                table.add_row(Text(group, style="bold underline"), "", "")
            table.add_row(_key_label(command.key), command.name, Text(command.help, style="dim"))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
