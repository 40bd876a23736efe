"""`InspectorScreen`: the session's request/response log, masked, with "copy as curl".

Entries come from the workspace's ``RequestLog``, which masks every exchange
when it records it (auth headers, tokens, secret body fields), so nothing
shown or copied here can hold a secret.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from workbench.core.requestlog import LogEntry, RequestLog

__all__ = ["InspectorScreen", "body_cut_in_log", "entry_curl", "entry_text", "sent_body_size"]


#: What ``clean_text`` appends to an excerpt it cut, and what ``RequestLog`` logs for a binary body.
_CUT_MARKER = re.compile(r"… \((\d+) more characters\)\Z")
_BINARY_PLACEHOLDER = re.compile(r"<\d+ bytes of binary data>\Z")


def sent_body_size(entry: LogEntry) -> int | None:
    """The size in bytes of the request body as sent (its Content-Length), if known."""
    for name, value in entry.request_headers:
        if name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def body_cut_in_log(entry: LogEntry, excerpt_limit: int | None = None) -> bool:
    """True when the logged request body is not the whole body sent.

    The log keeps an excerpt: cut after ``excerpt_limit`` characters (it then ends
    with "… (N more characters)"), after ``4 * excerpt_limit`` bytes before that,
    or replaced by a placeholder when binary.
    """
    body = entry.request_body
    if not body:
        return False
    if _CUT_MARKER.search(body) or _BINARY_PLACEHOLDER.match(body):
        return True
    size = sent_body_size(entry)
    return excerpt_limit is not None and size is not None and size > 4 * excerpt_limit


def entry_curl(entry: LogEntry, excerpt_limit: int | None = None) -> str:
    """The entry's request as a curl command line (already masked when logged).

    A body the log kept only part of would make an invalid command: the command
    is then given without it, under a comment that says so.
    """
    from workbench.core.preview import RequestPreview

    cut = body_cut_in_log(entry, excerpt_limit)
    preview = RequestPreview(
        method=entry.method,
        url=entry.url,
        headers=entry.request_headers,
        body=entry.request_body.encode("utf-8") if entry.request_body and not cut else None,
    )
    command = preview.to_curl(multiline=True)
    if not cut:
        return command
    return f"# body truncated in the log ({_body_size_text(entry)}): see the editor's preview\n{command}"


def _body_size_text(entry: LogEntry) -> str:
    size = sent_body_size(entry)
    if size is not None:
        return f"{size:,} bytes"
    match = _CUT_MARKER.search(entry.request_body)
    if match:
        return f"{match.start() + int(match.group(1)):,} characters"
    return "binary data"


def _status_style(entry: LogEntry) -> str:
    if entry.status is None:
        return "bold red"
    if entry.status >= 400:
        return "bold red" if entry.status >= 500 or entry.status in (401, 403) else "bold yellow"
    return "bold green"


def entry_label(entry: LogEntry) -> Text:
    when = datetime.fromtimestamp(entry.time).strftime("%H:%M:%S")
    status = str(entry.status) if entry.status is not None else "ERR"
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{when} ")
    text.append(f"{status:>3}", style=_status_style(entry))
    text.append(f" {entry.method:<6} {entry.provider:<6} ")
    text.append(entry.url)
    return text


def entry_text(entry: LogEntry) -> Group:
    """The whole exchange, for the detail view (plain text: no markup is read)."""
    head = Text()
    head.append(f"{entry.method} {entry.url}\n", style="bold")
    outcome = str(entry.status) if entry.status is not None else (entry.error or "no answer")
    head.append("→ ")
    head.append(outcome, style=_status_style(entry))
    head.append(f" in {entry.duration * 1000:.0f} ms")
    if entry.attempt > 1:
        head.append(f" (attempt {entry.attempt})")
    if entry.request_id:
        head.append(f"\nrequest id {entry.request_id}")
    if entry.client_request_id:
        head.append(f"\nclient request id {entry.client_request_id}")
    if entry.error:
        head.append(f"\n{entry.error}", style="bold red")
    parts: list[Text] = [head]

    def section(title: str, headers: tuple[tuple[str, str], ...], body: str) -> None:
        parts.append(Text(f"\n{title}", style="bold underline"))
        if headers:
            parts.append(Text("\n".join(f"{name}: {value}" for name, value in headers)))
        if body:
            parts.append(Text(""))
            parts.append(Text(body))

    section("Request", entry.request_headers, entry.request_body)
    if entry.status is not None:
        section("Response", entry.response_headers, entry.response_body)
    return Group(*parts)


class InspectorScreen(Screen[None]):
    """Every exchange of this session, newest last; live while it is open."""

    DEFAULT_CSS = """
    InspectorScreen {
        & .pane-title { height: 1; padding: 0 1; background: $panel; text-style: bold; }
        & #inspector-body { height: 1fr; }
        & #log-entries { height: 40%; min-height: 5; border: none; }
        & #entry-detail { height: 1fr; padding: 0 1; background: $boost; }
        & #entry-curl { height: auto; max-height: 8; padding: 0 1; border-top: hkey $panel-lighten-2; }
    }
    """

    COMMAND_SCOPE: ClassVar[str] = "inspector"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,i", "close", "Close"),
        Binding("c", "copy_curl", "Copy as curl"),
        Binding("x", "clear_log", "Clear log"),
    ]

    def __init__(self, request_log: RequestLog) -> None:
        super().__init__()
        self.request_log = request_log
        self.entries: list[LogEntry] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._thread_id = threading.get_ident()
        #: The last curl command copied (also on the clipboard).
        self.copied: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Inspector · requests and responses of this session (secrets masked)",
                     classes="pane-title", id="inspector-title")
        with Vertical(id="inspector-body"):
            yield OptionList(id="log-entries")
            with VerticalScroll(id="entry-detail"):
                yield Static("", id="entry-text")
            yield Static("", id="entry-curl")
        yield Footer()

    def on_mount(self) -> None:
        self._thread_id = threading.get_ident()
        entries = self.request_log.entries()
        self._add(entries)
        self._unsubscribe = self.request_log.subscribe(self._on_entry)
        option_list = self.query_one(OptionList)
        if self.entries:
            option_list.highlighted = len(self.entries) - 1
        else:
            self._show(None)
        option_list.focus()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_entry(self, entry: LogEntry) -> None:
        if threading.get_ident() != self._thread_id:
            self.app.call_from_thread(self._add, [entry])
        else:
            self._add([entry])

    def _add(self, entries: list[LogEntry]) -> None:
        if not entries:
            return
        start = len(self.entries)
        self.entries.extend(entries)
        self.query_one(OptionList).add_options(
            Option(entry_label(entry), id=str(start + offset)) for offset, entry in enumerate(entries)
        )
        self._update_title()

    def _update_title(self) -> None:
        self.query_one("#inspector-title", Static).update(
            Text(f"Inspector · {len(self.entries)} exchanges of this session (secrets masked)")
        )

    @property
    def highlighted(self) -> LogEntry | None:
        index = self.query_one(OptionList).highlighted
        if index is None or not 0 <= index < len(self.entries):
            return None
        return self.entries[index]

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self._show(self.highlighted)

    def _show(self, entry: LogEntry | None) -> None:
        body = self.query_one("#entry-text", Static)
        curl = self.query_one("#entry-curl", Static)
        if entry is None:
            body.update(Text("No requests yet: open a profile to list its images.", style="italic"))
            curl.update("")
            return
        body.update(entry_text(entry))
        curl.update(Group(Text("curl (c copies it):", style="bold"), Text(self._curl(entry))))

    def _curl(self, entry: LogEntry) -> str:
        return entry_curl(entry, self.request_log.body_excerpt)

    # -- actions ---------------------------------------------------------------
    def action_copy_curl(self) -> None:
        entry = self.highlighted
        if entry is None:
            self.notify("No request to copy", severity="warning")
            return
        command = self._curl(entry)
        self.app.copy_to_clipboard(command)
        self.copied = command
        if body_cut_in_log(entry, self.request_log.body_excerpt):
            self.notify(f"The request body was truncated in the log ({_body_size_text(entry)}): the curl was "
                        "copied without it. The editor's preview shows the whole request.",
                        title="Copy as curl", severity="warning", timeout=10)
            return
        self.notify("Copied the request as curl (secrets masked)", title="Copy as curl")

    def action_clear_log(self) -> None:
        self.request_log.clear()
        self.entries.clear()
        self.query_one(OptionList).clear_options()
        self._update_title()
        self._show(None)

    def action_close(self) -> None:
        self.dismiss(None)
