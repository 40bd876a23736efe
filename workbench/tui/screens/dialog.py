"""``DialogScreen``: the frame the modal dialogs share, a bordered box in the middle.

A dialog composes a container with the ``dialog`` class and, inside it, uses
``dialog-title``, ``dialog-hint`` and ``dialog-buttons``; its own rules (an id's
border, a body's height) go in its own ``DEFAULT_CSS``.
"""

from __future__ import annotations

from textual.screen import ModalScreen, ScreenResultType

__all__ = ["DialogScreen"]


class DialogScreen(ModalScreen[ScreenResultType]):
    DEFAULT_CSS = """
    DialogScreen {
        align: center middle;
        & .dialog {
            width: 80%;
            max-width: 100;
            height: auto;
            max-height: 90%;
            padding: 0 1;
            background: $surface;
            border: thick $primary;
        }
        & .dialog-title { text-style: bold; padding: 1 0; }
        & .dialog-hint { color: $text-muted; padding: 1 0 0 0; }
        & .dialog-buttons { height: auto; padding: 1 0 0 0; }
        & .dialog-buttons Button { margin: 0 1 0 0; }
    }
    """
