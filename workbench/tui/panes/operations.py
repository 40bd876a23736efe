"""The operations pane: every tracked operation, updated live.

It subscribes to the workspace's ``OperationTracker``: each event carries a
snapshot of the operation, which replaces its row. A timer keeps the elapsed
times and "last poll" ages current while anything runs. When an operation
finishes, the pane posts ``Finished`` so the app can refresh the image and
tell the user.

The rows are drawn on Textual's line API (``OperationsList``), like the images
list: a thousand concurrent operations update without measuring a table, and
the app's first frame does not pay for DataTable.

Below this session's rows come the finished operations of earlier sessions (the
tracker's ``history()``, newest first), dimmed, with their final status and
finish time; they are read once, when the tracker is attached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Static

from workbench.core.format import format_duration
from workbench.tui.widgets.image_list import fit_cell

if TYPE_CHECKING:
    from workbench.core.operations import Operation, OperationEvent, OperationTracker

__all__ = ["OperationsList", "OperationsPane", "format_finish"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Column:
    key: str
    title: str
    width: int  # 0: takes the spare width
    align: Literal["left", "right"] = "left"


_COLUMNS: tuple[_Column, ...] = (
    _Column("provider", "Provider", 8),
    _Column("kind", "Kind", 7),
    _Column("target", "Target", 0),
    _Column("status", "Status", 10),
    _Column("progress", "Progress", 12),
    _Column("last_poll", "Last poll", 9),
)
_GUTTER = 1
_MIN_TARGET = 12


def format_finish(when: float, now: float) -> str:
    """``14:03:27`` today, ``Mar 04`` on another day: when an earlier operation finished."""
    moment, today = time.localtime(when), time.localtime(now)
    if moment[:3] == today[:3]:
        return time.strftime("%H:%M:%S", moment)
    return time.strftime("%b %d", moment)


def operation_cells(op: Operation, now: float, *, earlier: bool = False) -> dict[str, str]:
    """The text of each column for ``op`` at time ``now`` (epoch seconds);
    ``earlier``: a finished operation of an earlier session (its last column is the finish time)."""
    status = op.status.value
    if op.timed_out:
        status = "timed out"
    elif op.cancel_requested and not op.done:
        status = "canceling"
    if op.done:
        progress = f"in {format_duration(op.updated - op.started)}"
    else:
        elapsed = format_duration(now - op.started)
        progress = f"{op.progress:.0%} · {elapsed}" if op.progress is not None else elapsed
    if earlier:
        last = format_finish(op.updated, now)
    elif not op.last_poll:
        last = "—"
    elif op.done:
        last = time.strftime("%H:%M:%S", time.localtime(op.last_poll))
    else:
        last = format_duration(now - op.last_poll) + " ago"
    return {"provider": op.provider, "kind": op.kind, "target": op.target, "status": status,
            "progress": progress, "last_poll": last}


class OperationsList(ScrollView, can_focus=True):
    """This session's operations, one per row, oldest first, then earlier sessions'
    finished ones, newest first; the cursor picks one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("home", "cursor_first", "First", show=False),
        Binding("end", "cursor_last", "Last", show=False),
        Binding("c", "app.cancel_operation", "Cancel op"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "operations-list--header",
        "operations-list--cursor",
        "operations-list--running",
        "operations-list--succeeded",
        "operations-list--failed",
        "operations-list--canceled",
        "operations-list--earlier",
    }

    DEFAULT_CSS = """
    OperationsList {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .operations-list--header { text-style: bold; background: $panel; }
        & > .operations-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:focus > .operations-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .operations-list--running { text-style: bold; }
        & > .operations-list--succeeded { color: $text-success; }
        & > .operations-list--failed { color: $text-error; }
        & > .operations-list--canceled { color: $text-warning; }
        & > .operations-list--earlier { text-style: dim; }
    }
    """

    class Highlighted(Message):
        def __init__(self, operations_list: OperationsList) -> None:
            self.operations_list = operations_list
            super().__init__()

    def __init__(self, *, clock: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        #: This session's operations.
        self.operations: dict[str, Operation] = {}
        #: Earlier sessions' finished operations (shown below, dimmed).
        self.earlier: dict[str, Operation] = {}
        self._order: list[str] = []
        self._earlier_order: list[str] = []
        self._cursor = 0

    # -- content -------------------------------------------------------------
    @property
    def row_count(self) -> int:
        return len(self._order) + len(self._earlier_order)

    def _op_at(self, row: int) -> tuple[Operation, bool]:
        """The operation of ``row`` and whether it is an earlier session's."""
        if row < len(self._order):
            return self.operations[self._order[row]], False
        return self.earlier[self._earlier_order[row - len(self._order)]], True

    @property
    def highlighted(self) -> Operation | None:
        if not self.row_count:
            return None
        return self._op_at(self._cursor)[0]

    def is_earlier(self, op_id: str) -> bool:
        return op_id in self.earlier

    def _resized(self) -> None:
        self.virtual_size = Size(0, self.row_count + 1)

    def upsert(self, op: Operation) -> None:
        new = op.id not in self.operations
        if new and op.id in self.earlier:  # tracked again in this session: one row, up here
            self._drop_earlier(op.id)
        self.operations[op.id] = op
        if new:
            if self._earlier_order and self._cursor >= len(self._order):
                self._cursor += 1  # the row inserted above keeps the cursor on its operation
            self._order.append(op.id)
            self._resized()
            if self.row_count == 1:
                self.post_message(self.Highlighted(self))
        self.refresh()

    def add_earlier(self, ops: list[Operation]) -> None:
        """Show ``ops`` (finished in earlier sessions) below this session's rows, in that order."""
        was_empty = not self.row_count
        for op in ops:
            if op.id in self.operations or op.id in self.earlier:
                continue
            self.earlier[op.id] = op
            self._earlier_order.append(op.id)
        self._resized()
        self.refresh()
        if was_empty and self.row_count:
            self.post_message(self.Highlighted(self))

    def _drop_earlier(self, op_id: str) -> None:
        row = len(self._order) + self._earlier_order.index(op_id)
        del self.earlier[op_id]
        self._earlier_order.remove(op_id)
        if self._cursor > row:
            self._cursor -= 1
        self._cursor = max(0, min(self._cursor, self.row_count - 1))

    def remove(self, op_id: str) -> None:
        if self.operations.pop(op_id, None) is None:
            return
        row = self._order.index(op_id)
        self._order.remove(op_id)
        if self._cursor > row:
            self._cursor -= 1
        self._cursor = max(0, min(self._cursor, self.row_count - 1))
        self._resized()
        self.refresh()
        self.post_message(self.Highlighted(self))

    def row_text(self, op_id: str) -> list[str]:
        """The cells of ``op_id``'s row as shown (for tests and screen readers)."""
        if op_id in self.operations:
            cells = operation_cells(self.operations[op_id], self.clock())
        else:
            cells = operation_cells(self.earlier[op_id], self.clock(), earlier=True)
        return [cells[column.key] for column in _COLUMNS]

    def row_ids(self) -> list[str]:
        """The operation ids in row order (this session's, then earlier ones)."""
        return self._order + self._earlier_order

    # -- cursor --------------------------------------------------------------
    def move_cursor(self, row: int) -> None:
        row = max(0, min(row, self.row_count - 1))
        if row == self._cursor:
            return
        self._cursor = row
        top, page = self.scroll_offset.y, max(1, self.scrollable_content_region.height - 1)
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + page:
            self.scroll_to(y=row - page + 1, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(self))

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_cursor_first(self) -> None:
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        self.move_cursor(self.row_count - 1)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and offset.y > 0:
            self.move_cursor(self.scroll_offset.y + offset.y - 1)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    # -- rendering -----------------------------------------------------------
    def _widths(self, width: int) -> list[int]:
        fixed = sum(column.width for column in _COLUMNS) + len(_COLUMNS) - 1 + _GUTTER
        return [column.width or max(_MIN_TARGET, width - fixed) for column in _COLUMNS]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        widths = self._widths(width)
        if y == 0:
            text = " " * _GUTTER + " ".join(
                fit_cell(column.title, cell, column.align) for column, cell in zip(_COLUMNS, widths))
            style = base + self.get_component_rich_style("operations-list--header")
            return Strip([Segment(text, style)]).adjust_cell_length(width, style).crop(0, width)
        row = self.scroll_offset.y + y - 1
        if row >= self.row_count:
            return Strip.blank(width, base)
        op, earlier = self._op_at(row)
        cells = operation_cells(op, self.clock(), earlier=earlier)
        style = base + self.get_component_rich_style(f"operations-list--{op.status.value}")
        if earlier:
            style += self.get_component_rich_style("operations-list--earlier")
        if row == self._cursor:
            style += self.get_component_rich_style("operations-list--cursor")
        text = " " * _GUTTER + " ".join(
            fit_cell(cells[column.key], cell, column.align) for column, cell in zip(_COLUMNS, widths))
        return Strip([Segment(text, style)]).adjust_cell_length(width, style).crop(0, width)


class OperationsPane(Vertical):
    """The bottom pane. ``attach(tracker)`` once the workspace exists."""

    class Finished(Message):
        """An operation reached a final status (a snapshot of it)."""

        def __init__(self, operation: Operation) -> None:
            self.operation = operation
            super().__init__()

    def __init__(self, *, id: str | None = None, clock: Callable[[], float] = time.time) -> None:
        super().__init__(id=id)
        #: Epoch seconds now; tests and screenshots pin it.
        self.clock = clock
        self._tracker: OperationTracker | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._thread_id = threading.get_ident()

    def compose(self) -> ComposeResult:
        yield Static("Operations", classes="pane-title", id="operations-title")
        yield OperationsList(clock=self.clock, id="operations-list")
        yield Static("", id="operation-detail")

    def on_mount(self) -> None:
        self._thread_id = threading.get_ident()
        self.set_interval(1.0, self._tick, name="operations clock")
        self._update_title()
        self._show_detail()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    @property
    def table(self) -> OperationsList:
        """The list of operations (the widget that takes the focus)."""
        return self.query_one(OperationsList)

    @property
    def operations(self) -> dict[str, Operation]:
        return self.table.operations

    @property
    def earlier(self) -> dict[str, Operation]:
        """Earlier sessions' finished operations, shown below this session's."""
        return self.table.earlier

    @property
    def highlighted(self) -> Operation | None:
        return self.table.highlighted

    # -- the tracker -----------------------------------------------------------
    def attach(self, tracker: OperationTracker) -> None:
        """Show ``tracker``'s operations, then its history (if it keeps one), and follow its events."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._tracker = tracker
        for op in tracker.operations:
            self.upsert(op.snapshot())
        history = getattr(tracker, "history", None)
        if callable(history):
            try:
                finished = history()
            except OSError as exc:  # an unreadable history must not keep the app from starting
                log.warning("could not read the operations history: %s", exc)
                finished = []
            self.table.add_earlier([op for op in reversed(finished) if op.id not in self.operations])
            self._update_title()
            self._show_detail()
        self._unsubscribe = tracker.subscribe(self._on_event)

    def _on_event(self, event: OperationEvent) -> None:
        # The tracker polls on the app's loop; a tracker driven from another
        # thread (a notebook) must not touch widgets directly.
        if threading.get_ident() != self._thread_id:
            self.app.call_from_thread(self._apply_event, event)
        else:
            self._apply_event(event)

    def _apply_event(self, event: OperationEvent) -> None:
        op = event.operation
        if event.kind == "removed":
            self.remove(op.id)
            return
        self.upsert(op)
        if event.kind == "finished":
            self.post_message(self.Finished(op))

    def can_cancel(self, op: Operation) -> bool:
        if op.done or self._tracker is None:
            return False
        poller = self._tracker.poller_for(op)
        return poller is not None and poller.can_cancel

    # -- rows ------------------------------------------------------------------
    def upsert(self, op: Operation) -> None:
        """Add or update the row of ``op``."""
        self.table.upsert(op)
        self._update_title()
        highlighted = self.highlighted
        if highlighted is not None and highlighted.id == op.id:
            self._show_detail()

    def remove(self, op_id: str) -> None:
        self.table.remove(op_id)
        self._update_title()

    def _tick(self) -> None:
        if any(not op.done for op in self.operations.values()):
            self.table.refresh()

    def _update_title(self) -> None:
        running = sum(1 for op in self.operations.values() if not op.done)
        total = len(self.operations)
        text = f"Operations · {running} running · {total} in all" if total else "Operations · none yet"
        if self.earlier:
            text += f" · {len(self.earlier)} earlier"
        self.query_one("#operations-title", Static).update(Text(text))

    def _show_detail(self) -> None:
        detail = self.query_one("#operation-detail", Static)
        op = self.highlighted
        if op is None:
            detail.update(Text("Operations started here or in earlier sessions appear here.", style="italic"))
            return
        parts = [op.description or f"{op.kind} {op.target}", f"profile {op.profile or '?'}", f"{op.polls} polls"]
        if self.table.is_earlier(op.id):
            finished = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(op.updated))
            parts.insert(0, f"earlier session · {op.status.value} {finished}")
        if not op.done:
            parts.append("c cancels" if self.can_cancel(op) else "no cancel in this API")
        text = Text(" · ".join(parts))
        if op.error:
            text.append("\n")
            text.append(op.error, style="bold red" if op.status.value == "failed" else "italic")
        detail.update(text)

    def on_operations_list_highlighted(self, event: OperationsList.Highlighted) -> None:
        event.stop()
        self._show_detail()
