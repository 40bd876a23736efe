"""The images pane: the selected profile's images, streamed page by page.

The pane holds one ``ImageStream`` per listing: the driver's ``list_images``
async iterator, pulled in a Textual worker until the images wanted are loaded
(a first thousand, a thousand more on "load more", everything on "load all").
Images reach the ``ImageList`` in batches, so 100,000 of them stream in while
the user keeps filtering and scrolling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import TYPE_CHECKING, Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Static

from workbench.core.format import format_size
from workbench.core.images import ImageSummary
from workbench.tui.widgets.image_list import ImageList, mark_end_of_life

if TYPE_CHECKING:
    from textual.worker import Worker

    from workbench.providers.base import Driver

__all__ = ["PAGE", "FilterInput", "ImageDetails", "ImageStream", "ImagesPane"]

#: Images fetched on opening a profile, and by each "load more".
PAGE = 1000
#: Longest time images wait in a batch before they are shown (seconds).
_BATCH_SECONDS = 0.05
#: Most images in one batch.
_BATCH_SIZE = 5000


class ImageStream:
    """One listing of one profile: the driver's iterator and how far it got."""

    def __init__(self, profile: str, provider: str, driver: Driver, filters: dict[str, Any] | None = None) -> None:
        self.profile = profile
        self.provider = provider
        self.driver = driver
        self.filters = dict(filters or {})
        self.loaded = 0
        self.done = False
        self.error: BaseException | None = None
        self._iterator: AsyncIterator[ImageSummary] | None = None

    def iterator(self) -> AsyncIterator[ImageSummary]:
        if self._iterator is None:
            self._iterator = aiter(self.driver.list_images(**self.filters))
        return self._iterator

    async def aclose(self) -> None:
        closer = getattr(self._iterator, "aclose", None)
        if closer is not None:
            with suppress(Exception):
                await closer()


class FilterInput(Input):
    """The type-to-filter box: Enter keeps the filter, Esc clears it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "clear_filter", "Clear filter"),
        Binding("down", "done", "To the list", show=False),
    ]

    def action_clear_filter(self) -> None:
        self.value = ""
        self.post_message(ImagesPane.FilterDone(self, cleared=True))

    def action_done(self) -> None:
        self.post_message(ImagesPane.FilterDone(self, cleared=False))


class ImageDetails(VerticalScroll):
    """The side view: every field of the highlighted image."""

    def compose(self) -> ComposeResult:
        yield Static("", id="image-details-body")

    def show(self, summary: ImageSummary | None) -> None:
        body = self.query_one("#image-details-body", Static)
        if summary is None:
            body.update(Text("No image highlighted", style="italic"))
            return
        table = Table.grid(padding=(0, 1))
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        rows: list[tuple[str, str]] = [
            ("Name", summary.name),
            ("ID", summary.id),
            ("Status", summary.status),
        ]
        if summary.os:
            rows.append(("OS", summary.os))
        if summary.size is not None:
            rows.append(("Size", f"{format_size(summary.size)} ({summary.size:,} B)"))
        if summary.created:
            rows.append(("Created", summary.created))
        for key, value in summary.extras.items():
            text = "" if value is None else str(value)
            if text:
                rows.append((key, text))
        for label, value in rows:
            table.add_row(label, Text(value))
        parts: list[Any] = []
        mark = mark_end_of_life(summary)
        if mark is not None:
            end = summary.extras.get("batchSupportEndOfLife", "")
            parts.append(Text(f"⚠ Batch support ended {end}: {mark.reason}", style="bold reverse"))
        parts.append(table)
        from rich.console import Group

        body.update(Group(*parts))


class ImagesPane(Vertical):
    """The centre pane: title, filter box, the list and the details view."""

    class Loaded(Message):
        """A batch of images arrived (``done``: the listing reached its end)."""

        def __init__(self, profile: str, loaded: int, done: bool) -> None:
            self.profile = profile
            self.loaded = loaded
            self.done = done
            super().__init__()

    class LoadFailed(Message):
        """Listing failed; ``error`` is the typed error (``AuthError``, ``ApiError``...)."""

        def __init__(self, profile: str, error: BaseException) -> None:
            self.profile = profile
            self.error = error
            super().__init__()

    class FilterDone(Message):
        def __init__(self, input: FilterInput, cleared: bool) -> None:
            self.input = input
            self.cleared = cleared
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.stream: ImageStream | None = None
        self._target: int | None = 0
        self._worker: Worker | None = None
        self._state = ""

    def compose(self) -> ComposeResult:
        # The filter box is mounted on the first "/": the first frame does not pay for Input.
        yield Static("Images", classes="pane-title", id="images-title")
        with Horizontal(id="images-body"):
            yield ImageList(id="image-list")
            yield ImageDetails(id="image-details")

    def on_mount(self) -> None:
        self.details.show(None)
        self._update_title()

    # -- parts ---------------------------------------------------------------
    @property
    def image_list(self) -> ImageList:
        return self.query_one(ImageList)

    @property
    def details(self) -> ImageDetails:
        return self.query_one(ImageDetails)

    @property
    def filter_input(self) -> FilterInput | None:
        """The filter box, once "/" has opened it."""
        found = self.query(FilterInput)
        return found.first() if found else None

    @property
    def profile(self) -> str | None:
        return self.stream.profile if self.stream is not None else None

    @property
    def driver(self) -> Driver | None:
        return self.stream.driver if self.stream is not None else None

    @property
    def loading(self) -> bool:
        return self._worker is not None and not self._worker.is_finished

    # -- listing -------------------------------------------------------------
    def show_profile(self, profile: str, provider: str, driver: Driver, filters: dict[str, Any] | None = None,
                     *, wanted: int | None = PAGE) -> None:
        """Start listing ``profile``'s images afresh (the filter text stays)."""
        self._stop()
        self.stream = ImageStream(profile, provider, driver, filters)
        image_list = self.image_list
        image_list.provider = provider
        image_list.clear()
        self._want(wanted)

    def refresh_images(self) -> None:
        """List the same profile again from the start, as many images as before (at least a page)."""
        stream = self.stream
        if stream is None:
            return
        wanted = None if self._target is None else max(PAGE, stream.loaded)
        self.show_profile(stream.profile, stream.provider, stream.driver, stream.filters, wanted=wanted)

    def load_more(self, count: int = PAGE) -> None:
        stream = self.stream
        if stream is None or stream.done or self._target is None:
            return
        self._want(max(self._target, stream.loaded) + count)

    def load_all(self) -> None:
        if self.stream is not None and not self.stream.done:
            self._want(None)

    def clear(self, message: str = "") -> None:
        """Show no profile."""
        self._stop()
        self.stream = None
        self.image_list.clear()
        self._state = message
        self._update_title()

    def _stop(self) -> None:
        """Stop the current listing: its worker closes the iterator when cancelled,
        and an iterator paused between pages (a page loaded, more to come) is closed here."""
        if self._worker is not None and not self._worker.is_finished:
            self._worker.cancel()
        elif self.stream is not None and not self.stream.done:
            self.run_worker(self.stream.aclose(), group="images-close", exit_on_error=False)
        self._worker = None

    def _want(self, target: int | None) -> None:
        self._target = target
        if not self.loading and self.stream is not None:
            self._worker = self.run_worker(self._pull(self.stream), group="images", exit_on_error=False,
                                           name=f"list images of {self.stream.profile}")
        self._update_title()

    async def _pull(self, stream: ImageStream) -> None:
        batch: list[ImageSummary] = []
        last_flush = time.monotonic()
        try:
            iterator = stream.iterator()
            while self._target is None or stream.loaded < self._target:
                try:
                    image = await anext(iterator)
                except StopAsyncIteration:
                    stream.done = True
                    break
                batch.append(image)
                stream.loaded += 1
                now = time.monotonic()
                if len(batch) >= _BATCH_SIZE or now - last_flush >= _BATCH_SECONDS:
                    self._deliver(stream, batch)
                    batch = []
                    last_flush = now
                    await asyncio.sleep(0)  # let the screen update between batches
        except asyncio.CancelledError:
            await stream.aclose()
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is shown, typed
            stream.error = exc
            if batch and stream is self.stream:
                self.image_list.append_images(batch)  # what arrived before the failure stays
            batch = []
            if stream is self.stream:
                self.post_message(self.LoadFailed(stream.profile, exc))
        finally:
            if batch:
                self._deliver(stream, batch)
        if stream is self.stream:
            if stream.done:
                await stream.aclose()
            self._worker = None
            self._update_title()
            if stream.error is None:
                self.post_message(self.Loaded(stream.profile, stream.loaded, stream.done))

    def _deliver(self, stream: ImageStream, batch: list[ImageSummary]) -> None:
        if stream is not self.stream or not batch:
            return
        self.image_list.append_images(batch)
        self._update_title()
        self.post_message(self.Loaded(stream.profile, stream.loaded, False))

    # -- filter --------------------------------------------------------------
    async def open_filter(self) -> None:
        box = self.filter_input
        if box is None:
            box = FilterInput(placeholder="Filter: name, id or any column · Enter keeps it · Esc clears it",
                              id="image-filter", compact=True)
            await self.mount(box, before="#images-body")
        box.display = True
        # Focus now, not on the next message: keys typed right after "/" are
        # already queued, and they belong in the box.
        self.screen.set_focus(box)

    def clear_filter(self) -> None:
        self.image_list.filter("")
        box = self.filter_input
        if box is not None:
            box.value = ""
            box.display = False

    def on_input_changed(self, event: Input.Changed) -> None:
        if isinstance(event.input, FilterInput):
            event.stop()
            self.image_list.filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if isinstance(event.input, FilterInput):
            event.stop()
            self._filter_done(cleared=False)

    def on_images_pane_filter_done(self, event: FilterDone) -> None:
        event.stop()
        self._filter_done(event.cleared)

    def _filter_done(self, cleared: bool) -> None:
        box = self.filter_input
        if cleared or box is None or not box.value:
            self.clear_filter()
        self.image_list.focus()

    # -- list events ---------------------------------------------------------
    def on_image_list_highlighted(self, event: ImageList.Highlighted) -> None:
        self.details.show(event.summary)

    def on_image_list_count_changed(self, event: ImageList.CountChanged) -> None:
        self._update_title()

    # -- title ---------------------------------------------------------------
    def _update_title(self) -> None:
        if not self.is_mounted:
            return
        title = self.query_one("#images-title", Static)
        stream = self.stream
        if stream is None:
            title.update(Text(f"Images · {self._state}" if self._state else "Images"))
            return
        if self.loading:
            state = "loading…"
        elif stream.error is not None:
            state = "listing failed (r retries)"
        elif stream.done:
            state = "all loaded"
        else:
            state = "more: m · all: M"
        counts = self.image_list.count_text
        title.update(Text(f"{stream.profile} · {counts} · {state}"))
