"""What the command line prints: tables for people, JSON for scripts, a live progress line.

Everything here streams: a listing of 100,000 images is printed as it arrives,
never held in memory whole. A table therefore sizes its columns from the first
rows (``sample``) and truncates longer values later on with an ellipsis.

Secrets never reach this module: every value printed comes from a profile (which
holds none), a masked request preview, or an API answer.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from workbench.core.format import format_duration, format_size, to_jsonable

__all__ = [
    "Column",
    "JsonArrayWriter",
    "JsonLinesWriter",
    "Output",
    "ProgressLine",
    "TableWriter",
    "format_duration",
    "format_size",
    "format_time",
    "to_jsonable",
]

ELLIPSIS = "…"


# --------------------------------------------------------------------------- values
def format_time(epoch: float | None) -> str:
    """Epoch seconds as a local ``YYYY-MM-DD HH:MM:SS``; None -> ``""``."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = value if isinstance(value, str) else str(value)
    # One row per line: a newline or tab from a server must not break the table.
    if "\n" in text or "\t" in text or "\r" in text:
        text = " ".join(text.split())
    return text


def _fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text.ljust(width)
    return text[: max(0, width - 1)] + ELLIPSIS


# --------------------------------------------------------------------------- tables
@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    #: Never wider than this (longer values end in an ellipsis).
    max_width: int = 48
    #: Right-align (numbers, sizes).
    right: bool = False


class TableWriter:
    """A plain-text table printed as rows arrive.

    The first ``sample`` rows are buffered to size the columns, then printed;
    every later row is printed at once with those widths. ``close()`` prints
    what is still buffered (a short listing) and returns the row count.
    """

    def __init__(self, columns: Sequence[Column], out: TextIO, *, sample: int = 200, gap: str = "  ") -> None:
        self.columns = list(columns)
        self.out = out
        self.sample = sample
        self.gap = gap
        self._buffer: list[list[str]] = []
        self._widths: list[int] | None = None
        self.count = 0

    def add(self, row: Mapping[str, Any]) -> None:
        cells = [_cell(row.get(column.key)) for column in self.columns]
        self.count += 1
        if self._widths is None:
            self._buffer.append(cells)
            if len(self._buffer) >= self.sample:
                self._flush_buffer()
        else:
            self._print(cells)

    def add_all(self, rows: Iterable[Mapping[str, Any]]) -> int:
        for row in rows:
            self.add(row)
        return self.close()

    def _flush_buffer(self) -> None:
        widths = []
        for index, column in enumerate(self.columns):
            longest = max([len(column.header), *(len(cells[index]) for cells in self._buffer)])
            widths.append(min(column.max_width, longest))
        self._widths = widths
        self._print([column.header for column in self.columns])
        for cells in self._buffer:
            self._print(cells)
        self._buffer = []

    def _print(self, cells: list[str]) -> None:
        assert self._widths is not None
        parts = []
        last = len(self.columns) - 1
        for index, (column, text, width) in enumerate(zip(self.columns, cells, self._widths, strict=True)):
            fitted = _fit(text, width)
            if column.right:
                fitted = fitted.strip().rjust(width) if len(text) <= width else fitted
            parts.append(fitted.rstrip() if index == last else fitted)
        self.out.write(self.gap.join(parts).rstrip() + "\n")

    def close(self) -> int:
        if self._widths is None:
            self._flush_buffer()
        self.out.flush()
        return self.count


def print_fields(pairs: Iterable[tuple[str, Any]], out: TextIO) -> None:
    """``key: value`` lines, keys aligned (for one object shown to a person)."""
    items = [(key, _cell(value)) for key, value in pairs]
    if not items:
        return
    width = max(len(key) for key, _ in items)
    for key, value in items:
        out.write(f"{key.ljust(width)}  {value}".rstrip() + "\n")


# --------------------------------------------------------------------------- JSON
def _dumps(value: Any, *, indent: int | None = None) -> str:
    # Plain dicts, lists and strings (every listed image) go straight to the
    # encoder, and only what it cannot encode takes the to_jsonable road: a
    # full to_jsonable walk first was a third of `images list --json`'s CPU.
    try:
        return json.dumps(value, ensure_ascii=False, indent=indent, default=to_jsonable)
    except (TypeError, ValueError):  # keys that are not str/int/float/bool/None, a cycle
        return json.dumps(to_jsonable(value), ensure_ascii=False, indent=indent)


class JsonArrayWriter:
    """One JSON array, written item by item (valid JSON once ``close()`` ran)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0
        self.out.write("[")

    def add(self, item: Any) -> None:
        self.out.write(("\n" if self.count == 0 else ",\n") + _dumps(item))
        self.count += 1

    def close(self) -> int:
        self.out.write("\n]\n" if self.count else "]\n")
        self.out.flush()
        return self.count


class JsonLinesWriter:
    """JSON Lines: one compact JSON document per line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.count = 0

    def add(self, item: Any) -> None:
        self.out.write(_dumps(item) + "\n")
        self.count += 1

    def close(self) -> int:
        self.out.flush()
        return self.count


# --------------------------------------------------------------------------- the console
class Output:
    """Where one command prints: results to ``out``, notes and errors to ``err``.

    With ``json`` set, results are JSON and notes stay on ``err``, so ``out`` is
    always parseable.
    """

    def __init__(self, *, json_mode: bool = False, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.json = json_mode
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr

    def data(self, value: Any) -> None:
        """One JSON document (pretty-printed) on ``out``."""
        self.out.write(_dumps(value, indent=2) + "\n")
        self.out.flush()

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def note(self, text: str) -> None:
        """A message for the person at the terminal (never mixed into JSON)."""
        self.err.write(text + "\n")
        self.err.flush()

    def warn(self, text: str) -> None:
        self.note(f"warning: {text}")

    def fields(self, pairs: Iterable[tuple[str, Any]]) -> None:
        print_fields(pairs, self.out)

    def table(self, columns: Sequence[Column], *, sample: int = 200) -> TableWriter:
        return TableWriter(columns, self.out, sample=sample)

    @property
    def interactive(self) -> bool:
        """True when ``err`` is a terminal (a live progress line makes sense)."""
        isatty = getattr(self.err, "isatty", None)
        return bool(isatty and isatty())


class ProgressLine:
    """A live one-line status of something running, on stderr.

    On a terminal the line is redrawn in place (at most ``fps`` times a second);
    elsewhere (a log file, CI) a line is printed only when the text changes.
    """

    def __init__(self, out: TextIO, *, interactive: bool, fps: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.out = out
        self.interactive = interactive
        self._interval = 1.0 / fps
        self._clock = clock
        self._last_text = ""
        self._last_draw = 0.0
        self._width = 0

    def update(self, text: str, *, force: bool = False) -> None:
        if text == self._last_text and not force:
            return
        now = self._clock()
        if self.interactive:
            if not force and now - self._last_draw < self._interval:
                return  # drawn on the next update (or by finish)
            padding = max(0, self._width - len(text))
            self.out.write("\r" + text + " " * padding)
            self._width = len(text)
        else:
            self.out.write(text + "\n")
        self.out.flush()
        self._last_text = text
        self._last_draw = now

    def finish(self, text: str | None = None) -> None:
        """End the live line (with ``text`` as its last state)."""
        if text is not None and text != self._last_text:
            self.update(text, force=True)
        if self.interactive and self._width:
            self.out.write("\n")
            self.out.flush()
        self._width = 0


def bar(progress: float | None, width: int = 20) -> str:
    """``[#######.............]  35%``, or an indeterminate ``[...]`` when unknown."""
    if progress is None:
        return "[" + "." * width + "]     "
    progress = min(1.0, max(0.0, progress))
    filled = round(progress * width)
    return "[" + "#" * filled + "." * (width - filled) + f"] {progress * 100:3.0f}%"
