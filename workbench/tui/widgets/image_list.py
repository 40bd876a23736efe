"""`ImageList`: the images pane's table, built on Textual's line API.

A profile can hold 100,000 images. Textual's DataTable measures every cell when
rows are added, which takes seconds at that size, so this widget keeps the
images in plain lists and works on lists of indices instead:

- a search key per image is computed once, when the image is inserted;
- filtering scans those keys at C speed, and a filter that extends the previous
  one scans only the previous matches;
- sorting sorts indices by a list of per-image sort values;
- only the rows on screen are rendered, each into a cached `Strip`.

Columns are data (`Column`): the provider decides which ones are shown, and
they are fitted to the widget's width, the least important dropped first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import compress, repeat
from typing import Any, ClassVar, Literal

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.core.format import format_size
from workbench.core.images import ImageSummary

__all__ = [
    "Column",
    "ImageList",
    "PROVIDER_COLUMNS",
    "RowMark",
    "columns_for",
    "fit_columns",
    "format_date",
    "mark_end_of_life",
]


# -- Columns ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the image list, described as data."""

    #: Identifies the column for `ImageList.sort_by`.
    key: str
    #: Shown in the header.
    title: str
    #: The text of the cell for an image.
    value: Callable[[ImageSummary], str]
    #: Orders images by this column; defaults to the cell text, case-folded.
    sort_key: Callable[[ImageSummary], Any] | None = None
    #: Cells never get narrower than this (unless the column is the only one).
    min_width: int = 8
    #: Share of the spare width this column takes; 0 keeps it at `min_width`.
    ratio: int = 0
    #: When the widget is too narrow, columns with the highest number go first.
    priority: int = 1
    align: Literal["left", "right"] = "left"

    def sort_value(self, summary: ImageSummary) -> Any:
        if self.sort_key is not None:
            return self.sort_key(summary)
        return self.value(summary).casefold()


def _extra(*names: str) -> Callable[[ImageSummary], str]:
    """Read the first non-empty `extras` entry among `names`.

    Several spellings are accepted because drivers keep the API's own field
    names (``disk_format`` for Glance, ``minDiskSize`` for Yandex, ...).
    """

    def get(summary: ImageSummary) -> str:
        extras = summary.extras
        for name in names:
            value = extras.get(name)
            if value not in (None, ""):
                return value if isinstance(value, str) else str(value)
        return ""

    return get


def _first(*getters: Callable[[ImageSummary], str]) -> Callable[[ImageSummary], str]:
    def get(summary: ImageSummary) -> str:
        for getter in getters:
            if value := getter(summary):
                return value
        return ""

    return get


def format_date(value: str) -> str:
    """The date part of an RFC 3339 time; anything else is shown as it is."""
    if len(value) >= 10 and value[4] == "-" and value[7] == "-":
        return value[:10]
    return value


def parse_time(value: str) -> datetime | None:
    """An RFC 3339 time (``Z`` or an offset; a bare date means midnight UTC)."""
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _int_or(value: str, default: int = -1) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _size_key(summary: ImageSummary) -> int:
    return -1 if summary.size is None else summary.size


_name = Column("name", "Name", lambda s: s.name, min_width=14, ratio=4, priority=0)
_status = Column("status", "Status", lambda s: s.status, min_width=8, ratio=1)
_created = Column(
    "created",
    "Created",
    lambda s: format_date(s.created),
    sort_key=lambda s: s.created,
    min_width=10,
    priority=3,
)
_size = Column(
    "size",
    "Size",
    lambda s: format_size(s.size),
    sort_key=_size_key,
    min_width=8,
    priority=2,
    align="right",
)

_glance_updated = _first(_extra("updated_at", "updatedAt"), lambda s: s.created)
_min_disk = _extra("minDiskSize", "min_disk_size")
_language = _first(lambda s: s.os, _extra("language"))
_batch_eol = _extra("batchSupportEndOfLife")
_batch_image_reference = _first(
    lambda s: "/".join(
        part for part in (_extra(k)(s) for k in ("publisher", "offer", "sku")) if part
    ),
    lambda s: s.name,
)

_GLANCE_COLUMNS = (
    _name,
    _status,
    Column("visibility", "Visibility", _extra("visibility"), min_width=10, priority=4),
    Column("disk_format", "Format", _extra("disk_format", "diskFormat"), min_width=6, priority=5),
    _size,
    Column(
        "updated",
        "Updated",
        lambda s: format_date(_glance_updated(s)),
        sort_key=_glance_updated,
        min_width=10,
        priority=3,
    ),
)

#: The columns of each provider, in display order.
PROVIDER_COLUMNS: dict[str, tuple[Column, ...]] = {
    "glance": _GLANCE_COLUMNS,
    "ims": _GLANCE_COLUMNS,
    "yandex": (
        _name,
        Column("family", "Family", _extra("family"), min_width=10, ratio=2, priority=2),
        _status,
        Column(
            "min_disk",
            "Min disk",
            lambda s: format_size(_int_or(_min_disk(s))),
            sort_key=lambda s: _int_or(_min_disk(s)),
            min_width=8,
            priority=4,
            align="right",
        ),
        _created,
    ),
    "kusto": (
        _name,
        Column("language", "Language", _language, min_width=8, priority=2),
        Column(
            "version",
            "Version / base image",
            _extra("languageVersion", "language_version", "baseImageName", "base_image_name"),
            min_width=12,
            ratio=2,
            priority=3,
        ),
        Column(
            "state",
            "State",
            _first(_extra("provisioningState", "provisioning_state"), lambda s: s.status),
            min_width=9,
            priority=1,
        ),
    ),
    "batch": (
        Column(
            "node_agent",
            "Node agent SKU",
            _extra("nodeAgentSKUId", "node_agent_sku_id"),
            min_width=14,
            ratio=2,
            priority=1,
        ),
        Column(
            "image",
            "Publisher/offer/sku",
            _batch_image_reference,
            min_width=16,
            ratio=4,
            priority=0,
        ),
        Column(
            "os", "OS", _first(lambda s: s.os, _extra("osType", "os_type")), min_width=7, priority=3
        ),
        Column(
            "verification",
            "Verification",
            _first(_extra("verificationType", "verification_type"), lambda s: s.status),
            min_width=12,
            priority=4,
        ),
        Column(
            "end_of_life",
            "End of life",
            lambda s: format_date(_batch_eol(s)),
            sort_key=_batch_eol,
            min_width=11,
            priority=2,
        ),
    ),
}

_GENERIC_COLUMNS = (_name, _status, Column("os", "OS", lambda s: s.os, priority=3), _size, _created)


def columns_for(provider: str | None) -> tuple[Column, ...]:
    """The columns for a provider's images (a generic set for unknown ones)."""
    return PROVIDER_COLUMNS.get(provider or "", _GENERIC_COLUMNS)


#: Cells in front of each row, holding the row's marker.
_GUTTER = 1
_SEPARATOR = " "


def fit_columns(columns: Sequence[Column], width: int) -> list[tuple[Column, int]]:
    """Choose the columns that fit in `width` cells and the width of each."""
    available = width - _GUTTER
    shown = list(columns)

    def needed(cols: list[Column]) -> int:
        return sum(column.min_width for column in cols) + len(cols) - 1

    while len(shown) > 1 and needed(shown) > available:
        # Among equal priorities, the rightmost column goes first.
        shown.remove(max(reversed(shown), key=lambda column: column.priority))
    widths = [column.min_width for column in shown]
    spare = available - needed(shown)
    if spare < 0:
        widths[0] = max(1, widths[0] + spare)
    elif spare and (total_ratio := sum(column.ratio for column in shown)):
        given = 0
        for index, column in enumerate(shown):
            share = spare * column.ratio // total_ratio
            widths[index] += share
            given += share
        first_flexible = next(i for i, column in enumerate(shown) if column.ratio)
        widths[first_flexible] += spare - given
    return list(zip(shown, widths))


def fit_cell(text: str, width: int, align: Literal["left", "right"] = "left") -> str:
    """`text` cropped (with an ellipsis) or padded to exactly `width` cells."""
    if not text.isprintable():
        text = "".join(char if char.isprintable() else " " for char in text)
    if text.isascii():
        if len(text) > width:
            return text[: width - 1] + "…" if width > 1 else text[:width]
        return text.rjust(width) if align == "right" else text.ljust(width)
    cells = cell_len(text)
    if cells > width:
        return set_cell_size(text, width - 1) + "…" if width > 1 else set_cell_size(text, width)
    padding = " " * (width - cells)
    return padding + text if align == "right" else text + padding


# -- Row marks ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RowMark:
    """How a row stands out: a one-cell marker and a component class."""

    marker: str
    component: str
    reason: str


END_OF_LIFE = RowMark("!", "image-list--end-of-life", "past its end of life")


def mark_end_of_life(summary: ImageSummary) -> RowMark | None:
    """Mark Batch images whose `batchSupportEndOfLife` has passed."""
    end_of_life = summary.extras.get("batchSupportEndOfLife")
    if not end_of_life:
        return None
    when = parse_time(str(end_of_life))
    if when is not None and when <= datetime.now(timezone.utc):
        return END_OF_LIFE
    return None


def _search_key(summary: ImageSummary) -> str:
    """What the filter matches against: the words a user can see or paste."""
    fields = (summary.name, summary.id, summary.status, summary.os, *summary.extras.values())
    try:
        text = "\0".join(fields)
    except TypeError:  # a driver put a number (or None) in extras
        text = "\0".join(str(field) for field in fields if field is not None)
    return text.casefold()


# -- The widget ---------------------------------------------------------------


class ImageList(ScrollView, can_focus=True):
    """A scrolling, filterable, sortable list of `ImageSummary`, one per row.

    | Key(s) | Action |
    | :- | :- |
    | up / down | Move the cursor one row. |
    | pageup / pagedown | Move the cursor one page. |
    | home / end | Move the cursor to the first / last row. |
    | enter | Post `Selected` for the image under the cursor. |
    | s | Sort by the next column; after the last one, unsorted. |
    | S | Reverse the sort. |

    A click on a row moves the cursor there; a click on the cursor's row
    selects it. A click on a column title sorts by it, a second one reverses.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home", "cursor_first", "First", show=False),
        Binding("end", "cursor_last", "Last", show=False),
        Binding("enter", "select", "Open"),
        Binding("s", "cycle_sort", "Sort"),
        Binding("S,shift+s", "reverse_sort", "Reverse sort", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "image-list--header",
        "image-list--cursor",
        "image-list--end-of-life",
        "image-list--placeholder",
    }

    DEFAULT_CSS = """
    ImageList {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .image-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .image-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus > .image-list--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: $block-cursor-text-style;
        }
        & > .image-list--end-of-life {
            color: $text-error;
            text-style: italic;
        }
        & > .image-list--placeholder {
            color: $text-muted;
            text-style: italic;
        }
    }
    """

    class Highlighted(Message):
        """The cursor moved to another image (None when the list shows none)."""

        def __init__(self, image_list: ImageList, summary: ImageSummary | None) -> None:
            self.image_list = image_list
            self.summary = summary
            super().__init__()

        @property
        def control(self) -> ImageList:
            return self.image_list

    class Selected(Message):
        """The user chose the image under the cursor (Enter, or a click on it)."""

        def __init__(self, image_list: ImageList, summary: ImageSummary) -> None:
            self.image_list = image_list
            self.summary = summary
            super().__init__()

        @property
        def control(self) -> ImageList:
            return self.image_list

    class CountChanged(Message):
        """The number of shown or total images changed (for the pane's title)."""

        def __init__(self, image_list: ImageList, shown: int, total: int) -> None:
            self.image_list = image_list
            self.shown = shown
            self.total = total
            super().__init__()

        @property
        def control(self) -> ImageList:
            return self.image_list

    def __init__(
        self,
        images: Iterable[ImageSummary] = (),
        *,
        provider: str | None = None,
        columns: Sequence[Column] | None = None,
        row_mark: Callable[[ImageSummary], RowMark | None] = mark_end_of_life,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._provider = provider
        self._fixed_columns = tuple(columns) if columns is not None else None
        self._columns = self._fixed_columns or columns_for(provider)
        self.row_mark = row_mark
        # Parallel lists, indexed by insertion order.
        self._images: list[ImageSummary] = []
        self._search_keys: list[str] = []
        # Image indices in sort order, and the subset that matches the filter.
        self._order: list[int] = []
        self._rows: list[int] = []
        self._sort_column: Column | None = None
        self._sort_reverse = False
        self._sort_values: list[Any] = []
        self._filter_text = ""
        self._needle = ""
        # The results of the shorter filters typed on the way to the current
        # one, so that erasing a character needs no search.
        self._narrowing: list[tuple[str, list[int]]] = []
        #: How many images the last filter pass examined.
        self.scanned = 0
        self._cursor = 0
        self._highlighted_index = -1
        self._last_count: tuple[int, int] | None = None
        self._layout: list[tuple[Column, int]] = []
        self._layout_width = -1
        self._strip_cache: LRUCache[tuple[int, bool], Strip] = LRUCache(1024)
        self._header_strip: Strip | None = None
        if images := list(images):
            self.set_images(images, provider=provider)

    # -- Public state -----------------------------------------------------

    @property
    def provider(self) -> str | None:
        return self._provider

    @provider.setter
    def provider(self, provider: str | None) -> None:
        self._provider = provider
        if self._fixed_columns is None:
            self._columns = columns_for(provider)
            if self._sort_column is not None and self._sort_column not in self._columns:
                self._sort_column = None
                self._sort_reverse = False
                self._resort()
        self._invalidate(layout=True)

    @property
    def columns(self) -> tuple[Column, ...]:
        return self._columns

    @property
    def visible_columns(self) -> list[Column]:
        """The columns that fit the current width."""
        return [column for column, _ in self._fitted_layout()]

    @property
    def images(self) -> Sequence[ImageSummary]:
        """Every image, in the order they were added."""
        return self._images

    @property
    def shown_images(self) -> list[ImageSummary]:
        """The images that pass the filter, in display order."""
        images = self._images
        return [images[index] for index in self._rows]

    @property
    def shown_count(self) -> int:
        return len(self._rows)

    @property
    def total_count(self) -> int:
        return len(self._images)

    @property
    def count_text(self) -> str:
        """``shown / total`` for the pane's title, e.g. ``1,204 / 100,000``."""
        return f"{len(self._rows):,} / {len(self._images):,}"

    @property
    def sort_key(self) -> str | None:
        return None if self._sort_column is None else self._sort_column.key

    @property
    def sort_reverse(self) -> bool:
        return self._sort_reverse

    @property
    def cursor_row(self) -> int:
        """The cursor's row among the shown images."""
        return self._cursor

    @cursor_row.setter
    def cursor_row(self, row: int) -> None:
        self.move_cursor(row)

    @property
    def highlighted(self) -> ImageSummary | None:
        """The image under the cursor."""
        if self._rows:
            return self._images[self._rows[self._cursor]]
        return None

    # -- Loading ----------------------------------------------------------

    def set_images(self, images: Iterable[ImageSummary], *, provider: str | None = None) -> None:
        """Replace every image; the filter and sort stay, and so does the cursor
        if the image it was on (same id) is still shown."""
        previous = self.highlighted
        self._images = list(images)
        self._search_keys = list(map(_search_key, self._images))
        if provider is None and self._provider is None and self._images:
            provider = self._images[0].provider
        if provider is not None and provider != self._provider:
            self.provider = provider
        self._strip_cache.clear()
        self._sort_values = []
        self._resort()
        self._cursor = 0
        if previous is not None:
            images_ = self._images
            wanted = previous.id
            for row, index in enumerate(self._rows):
                if images_[index].id == wanted:
                    self._cursor = row
                    break
        self._after_rows_changed()

    def append_images(self, images: Iterable[ImageSummary]) -> None:
        """Add images (a new page, streamed results) keeping filter, sort and cursor."""
        new = list(images)
        if not new:
            return
        highlighted = self._rows[self._cursor] if self._rows else -1
        start = len(self._images)
        self._images.extend(new)
        new_keys = list(map(_search_key, new))
        self._search_keys.extend(new_keys)
        new_indices = range(start, start + len(new))
        if self._needle:
            found = map(str.__contains__, new_keys, repeat(self._needle))
            matches = list(compress(new_indices, found))
        else:
            matches = list(new_indices)
        self._order.extend(new_indices)
        self._rows.extend(matches)
        self._narrowing.clear()
        if self._sort_column is not None:
            column = self._sort_column
            self._sort_values.extend(map(column.sort_value, new))
            # Two sorted runs: Timsort merges them in linear time.
            by_value = self._sort_values.__getitem__
            self._order.sort(key=by_value, reverse=self._sort_reverse)
            self._rows.sort(key=by_value, reverse=self._sort_reverse)
        old_cursor = self._cursor
        if highlighted >= 0 and self._sort_column is not None:
            self._cursor = self._rows.index(highlighted)
            # Keep the highlighted image where it was on screen.
            self._scroll_by(self._cursor - old_cursor)
        self._after_rows_changed(scroll=False)

    def update_image(self, summary: ImageSummary) -> None:
        """Show a fresh copy of one image (same id), or add it if it is new."""
        index = self._index_of(summary.id)
        if index is None:
            self.append_images([summary])
            return
        highlighted = self._rows[self._cursor] if self._rows else -1
        self._images[index] = summary
        self._search_keys[index] = _search_key(summary)
        if self._sort_column is not None:
            self._sort_values[index] = self._sort_column.sort_value(summary)
            self._order.sort(key=self._sort_values.__getitem__, reverse=self._sort_reverse)
        # It may now pass the filter, or fail it, or sit elsewhere in the order.
        self._rows = self._matching(self._order)
        self._narrowing.clear()
        self._strip_cache.discard((index, False))
        self._strip_cache.discard((index, True))
        self._cursor = self._row_of(highlighted)
        if highlighted == index:
            self._highlighted_index = -1  # post Highlighted with the fresh copy
        self._after_rows_changed(scroll=False)

    def remove_image(self, image_id: str) -> bool:
        """Remove the image with this id; False if there is none."""
        index = self._index_of(image_id)
        if index is None:
            return False
        highlighted = self._rows[self._cursor] if self._rows else -1
        del self._images[index]
        del self._search_keys[index]
        if self._sort_column is not None:
            del self._sort_values[index]

        def without(indices: list[int]) -> list[int]:
            return [i - (i > index) for i in indices if i != index]

        self._order = without(self._order)
        self._rows = without(self._rows)
        self._narrowing.clear()
        self._strip_cache.clear()
        if highlighted == index:
            # The cursor stays in place, on the image that moved up into it.
            self._highlighted_index = -1
        elif highlighted >= 0:
            highlighted -= highlighted > index
            self._cursor = self._rows.index(highlighted)
            self._highlighted_index = highlighted
        self._after_rows_changed(scroll=False)
        return True

    def clear(self) -> None:
        """Remove every image (the filter and sort stay)."""
        self.set_images([])

    def _index_of(self, image_id: str) -> int | None:
        for index, image in enumerate(self._images):
            if image.id == image_id:
                return index
        return None

    # -- Filter and sort ---------------------------------------------------

    @property
    def filter_text(self) -> str:
        """Shown images contain this text (case-insensitive) in a visible field
        or their id."""
        return self._filter_text

    @filter_text.setter
    def filter_text(self, text: str) -> None:
        self.filter(text)

    def filter(self, text: str) -> int:
        """Show only the images matching `text`; returns how many are shown."""
        needle = text.casefold()
        self._filter_text = text
        if needle == self._needle:
            return len(self._rows)
        highlighted = self._rows[self._cursor] if self._rows else -1
        narrowing = self._narrowing
        previous, self._needle = self._needle, needle
        if previous and needle.startswith(previous):
            # Typing one more character: only the previous matches can match.
            narrowing.append((previous, self._rows))
            self._rows = self._matching(self._rows)
        else:
            while narrowing and not needle.startswith(narrowing[-1][0]):
                narrowing.pop()
            if narrowing and narrowing[-1][0] == needle:
                self._rows = narrowing.pop()[1]  # erased back to an earlier filter
                self.scanned = 0
            else:
                self._rows = self._matching(narrowing[-1][1] if narrowing else self._order)
        self._cursor = self._row_of(highlighted)
        self._after_rows_changed()
        return len(self._rows)

    def sort_by(self, column_key: str | None, reverse: bool = False) -> None:
        """Order rows by a column (None: the order images were added in)."""
        if column_key is None:
            column = None
        else:
            column = next((c for c in self._columns if c.key == column_key), None)
            if column is None:
                known = ", ".join(c.key for c in self._columns)
                raise ValueError(f"column_key: no column {column_key!r}; this list has {known}")
        highlighted = self._rows[self._cursor] if self._rows else -1
        if column is not self._sort_column:
            self._sort_values = []
        self._sort_column = column
        self._sort_reverse = reverse if column is not None else False
        self._resort()
        self._cursor = self._row_of(highlighted)
        self._header_strip = None
        self._after_rows_changed()

    def _resort(self) -> None:
        count = len(self._images)
        column = self._sort_column
        if column is None:
            self._order = list(range(count))
        else:
            if len(self._sort_values) != count:
                self._sort_values = list(map(column.sort_value, self._images))
            self._order = sorted(
                range(count), key=self._sort_values.__getitem__, reverse=self._sort_reverse
            )
        self._rows = self._matching(self._order)
        self._narrowing.clear()

    def _matching(self, candidates: list[int]) -> list[int]:
        """The candidates whose search key contains the filter text."""
        if not self._needle:
            self.scanned = 0
            return list(candidates)
        self.scanned = len(candidates)
        keys = map(self._search_keys.__getitem__, candidates)
        # Everything here runs in C: no Python bytecode per image.
        return list(compress(candidates, map(str.__contains__, keys, repeat(self._needle))))

    def _row_of(self, index: int) -> int:
        """The row showing image `index`, or 0 if it is not shown."""
        if index < 0:
            return 0
        try:
            return self._rows.index(index)
        except ValueError:
            return 0

    # -- Cursor -----------------------------------------------------------

    def move_cursor(self, row: int, *, scroll: bool = True) -> None:
        """Put the cursor on `row` (clamped to the shown rows)."""
        row = max(0, min(row, len(self._rows) - 1))
        old = self._cursor
        self._cursor = row
        if old != row:
            self._refresh_row(old)
            self._refresh_row(row)
        if scroll:
            self._scroll_cursor_into_view()
        self._post_highlighted()

    @property
    def _page_rows(self) -> int:
        """Rows visible below the header."""
        return max(1, self.scrollable_content_region.height - 1)

    def action_cursor_up(self) -> None:
        self.move_cursor(self._cursor - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self._cursor + 1)

    def action_page_up(self) -> None:
        self._scroll_by(-self._page_rows)
        self.move_cursor(self._cursor - self._page_rows)

    def action_page_down(self) -> None:
        self._scroll_by(self._page_rows)
        self.move_cursor(self._cursor + self._page_rows)

    def action_cursor_first(self) -> None:
        self.move_cursor(0)

    def action_cursor_last(self) -> None:
        self.move_cursor(len(self._rows) - 1)

    def action_select(self) -> None:
        if (summary := self.highlighted) is not None:
            self.post_message(self.Selected(self, summary))

    def action_cycle_sort(self) -> None:
        """Sort by the next column (ascending); after the last, unsorted."""
        keys = [column.key for column in self.visible_columns or self._columns]
        if self.sort_key in keys:
            position = keys.index(self.sort_key) + 1
            self.sort_by(keys[position] if position < len(keys) else None)
        else:
            self.sort_by(keys[0])

    def action_reverse_sort(self) -> None:
        key = self.sort_key or self._columns[0].key
        self.sort_by(key, reverse=not self._sort_reverse if self.sort_key else True)

    def _scroll_by(self, rows: int) -> None:
        if rows and self.is_mounted:
            self.scroll_to(y=self.scroll_offset.y + rows, animate=False, force=True)

    def _scroll_cursor_into_view(self) -> None:
        if not self.is_mounted:
            return
        top = self.scroll_offset.y
        page = self._page_rows
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + page:
            self.scroll_to(y=self._cursor - page + 1, animate=False, force=True)

    # -- Events -----------------------------------------------------------

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        event.stop()
        if offset.y == 0:
            if (column := self._column_at(offset.x)) is not None:
                if column is self._sort_column:
                    self.sort_by(column.key, reverse=not self._sort_reverse)
                else:
                    self.sort_by(column.key)
            return
        row = self.scroll_offset.y + offset.y - 1
        if 0 <= row < len(self._rows):
            if row == self._cursor:
                self.action_select()
            else:
                self.move_cursor(row)

    def _column_at(self, x: int) -> Column | None:
        left = _GUTTER
        for column, width in self._fitted_layout():
            if left <= x < left + width + len(_SEPARATOR):
                return column
            left += width + len(_SEPARATOR)
        return None

    def on_focus(self) -> None:
        self._strip_cache.clear()

    def on_blur(self) -> None:
        self._strip_cache.clear()

    def on_resize(self) -> None:
        self._invalidate(layout=True)
        self._scroll_cursor_into_view()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._invalidate()

    # -- Rendering --------------------------------------------------------

    def _invalidate(self, *, layout: bool = False) -> None:
        """Forget rendered strips (and the column layout) and repaint."""
        self._strip_cache.clear()
        self._header_strip = None
        if layout:
            self._layout_width = -1
        self.refresh()

    def _fitted_layout(self) -> list[tuple[Column, int]]:
        width = self.scrollable_content_region.width
        if width != self._layout_width:
            self._layout = fit_columns(self._columns, width) if width > 0 else []
            self._layout_width = width
            self._strip_cache.clear()
            self._header_strip = None
        return self._layout

    def _after_rows_changed(self, *, scroll: bool = True) -> None:
        self.virtual_size = Size(0, len(self._rows) + 1)
        self._cursor = max(0, min(self._cursor, len(self._rows) - 1))
        if scroll:
            self._scroll_cursor_into_view()
        self.refresh()
        self._post_highlighted()
        count = (len(self._rows), len(self._images))
        if count != self._last_count:
            self._last_count = count
            self.post_message(self.CountChanged(self, *count))

    def _post_highlighted(self) -> None:
        index = self._rows[self._cursor] if self._rows else -1
        if index != self._highlighted_index:
            self._highlighted_index = index
            self.post_message(self.Highlighted(self, self.highlighted))

    def _refresh_row(self, row: int) -> None:
        self.refresh_line(row + 1)  # the header is line 0

    def render_lines(self, crop: Region) -> list[Strip]:
        # Fit the columns once per frame: the width can change without a
        # resize (the scrollbar comes and goes), and asking the region for
        # every line costs more than rendering it from the cache.
        self._fitted_layout()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        layout = self._layout if self._layout_width >= 0 else self._fitted_layout()
        width = self._layout_width
        if y == 0:
            if self._header_strip is None:
                self._header_strip = self._render_header(layout, width)
            return self._header_strip
        row = self.scroll_offset.y + y - 1
        if row < len(self._rows):
            return self._render_row(self._rows[row], row == self._cursor, layout, width)
        if row == 0:
            return self._render_placeholder(width)
        return Strip.blank(width, self.rich_style)

    def _render_header(self, layout: list[tuple[Column, int]], width: int) -> Strip:
        titles = []
        for column, cell_width in layout:
            title = column.title
            if column is self._sort_column:
                title += " ▼" if self._sort_reverse else " ▲"
            titles.append(fit_cell(title, cell_width, column.align))
        text = " " * _GUTTER + _SEPARATOR.join(titles)
        style = self.rich_style + self.get_component_rich_style("image-list--header")
        return Strip([Segment(text, style)]).adjust_cell_length(width, style)

    def _render_row(
        self, index: int, is_cursor: bool, layout: list[tuple[Column, int]], width: int
    ) -> Strip:
        key = (index, is_cursor)
        strip = self._strip_cache.get(key)
        if strip is not None:
            return strip
        summary = self._images[index]
        mark = self.row_mark(summary)
        style = self.rich_style
        if mark is not None:
            style += self.get_component_rich_style(mark.component)
        if is_cursor:
            style += self.get_component_rich_style("image-list--cursor")
        marker = fit_cell(mark.marker if mark else "", _GUTTER)
        cells = _SEPARATOR.join(
            fit_cell(column.value(summary), cell_width, column.align)
            for column, cell_width in layout
        )
        strip = Strip([Segment(marker + cells, style)]).adjust_cell_length(width, style)
        self._strip_cache[key] = strip
        return strip

    def _render_placeholder(self, width: int) -> Strip:
        if self._images:
            text = f"No images match “{self._filter_text}”"
        else:
            text = "No images"
        style = self.rich_style + self.get_component_rich_style("image-list--placeholder")
        text = " " * _GUTTER + fit_cell(text, max(0, width - _GUTTER))
        return Strip([Segment(text, style)]).adjust_cell_length(width, style)
