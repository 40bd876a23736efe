"""Image Workbench from Jupyter (or any Python program): the notebook face.

    import workbench.notebook as wb

    bench = wb.demo()                          # the embedded simulator and its demo profiles
    glance = bench.open("demo-glance")         # wb.open("prod") opens one of your saved profiles
    images = glance.images(limit=20, visibility="private", status="active")
    images                                     # an HTML table in Jupyter, plain text elsewhere
    images.to_csv("images.csv")                # also to_records(), to_json(), to_dataframe()

    request = glance.patch(images[0].id, [{"op": "replace", "path": "/min_disk", "value": 20}])
    request                                    # the exact HTTP request and its curl, secrets masked
    request.send()

    yandex = bench.open("demo-yandex")
    op = yandex.create_image(name="web-3", disk_id="fhm...").send()   # live progress until it ends

Sync and async
--------------
Every call that talks to a cloud has two spellings: the plain one (``images``,
``image``, ``send``, ``wait``, ``cancel``) returns the result, and the one ending
in ``_async`` is a coroutine for ``await`` (top-level ``await`` in Jupyter, or any
asyncio program)::

    images = glance.images(limit=10)
    images = await glance.images_async(limit=10)

Both run the work on one private event loop in a background thread that the
``Workbench`` owns (its drivers, HTTP clients and operation tracker live there).
So a plain call works inside Jupyter, where an event loop is already running,
without ``asyncio.run`` or nest_asyncio, and an ``await`` never blocks the
caller's loop. Request builders and previews send nothing and have no async twin.

Live progress
-------------
``send`` (and ``Operation.wait``) of a request that starts a long-running
operation tracks it and, while it waits, shows its progress in place: in a
Jupyter kernel through IPython's display machinery (``display(..., display_id=True)``
then ``DisplayHandle.update``), on a terminal as one rewritten line on stderr,
otherwise not at all. IPython is never imported here: it is used only when the
program already runs under it. The display ends with the final state or the
error; a failed operation raises ``OperationFailed`` unless ``check=False``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import csv
import html
import io
import json
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from workbench.core.format import format_size, to_jsonable

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.core.images import ImageSummary
    from workbench.core.operations import Operation as CoreOperation
    from workbench.core.operations import OperationEvent
    from workbench.core.preview import RequestPreview
    from workbench.providers.base import ApiRequest, Driver

__all__ = [
    "Cloud",
    "Image",
    "ImageTable",
    "Operation",
    "OperationFailed",
    "Request",
    "RequestView",
    "UnsupportedAction",
    "Workbench",
    "WorkbenchWarning",
    "demo",
    "open",
]

T = TypeVar("T")

#: Rows an HTML table shows before it says "... and N more".
HTML_ROWS = 100
#: Rows the plain-text table shows.
TEXT_ROWS = 20
#: How often a waiting call refreshes the progress display when nothing happened (seconds).
REFRESH_INTERVAL = 1.0
_CELL_WIDTH = 40


class WorkbenchWarning(UserWarning):
    """A profile warning (TLS verification off, plain http, ...) shown where the call was made."""


class UnsupportedAction(ValueError):
    """The profile's cloud has no such action (a JSON patch on Kusto, a create on Batch, ...)."""


class OperationFailed(RuntimeError):
    """An operation ended failed or canceled (or its deadline passed). ``operation`` has it all."""

    def __init__(self, operation: Operation) -> None:
        op = operation.operation
        super().__init__(f"{op.kind} {op.target or op.id} ({op.provider}) {op.status.value}: "
                         f"{op.error or 'no reason given'}")
        self.operation = operation


# =========================================================================== small helpers
def _esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def _clip(text: str, width: int = _CELL_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


_STYLE = """<style>
.wb-card{font-family:var(--jp-ui-font-family,sans-serif);font-size:13px;line-height:1.4}
.wb-card table.wb-table{border-collapse:collapse;margin:4px 0}
.wb-card .wb-table th,.wb-card .wb-table td{border-bottom:1px solid #ddd;padding:2px 8px;text-align:left;
vertical-align:top;white-space:nowrap;max-width:36em;overflow:hidden;text-overflow:ellipsis}
.wb-card .wb-table th{background:rgba(127,127,127,.12)}
.wb-card pre{font-family:var(--jp-code-font-family,monospace);font-size:12px;margin:4px 0;padding:6px;background:rgba(127,127,127,.08);white-space:pre-wrap;word-break:break-all}
.wb-card .wb-note{color:#777}
.wb-card .wb-running{color:#b57600;font-weight:bold}.wb-card .wb-succeeded{color:#197a31;font-weight:bold}
.wb-card .wb-failed,.wb-card .wb-canceled,.wb-card .wb-error{color:#b3261e;font-weight:bold}
.wb-card progress{width:22em;vertical-align:middle}
</style>"""


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="wb-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _card(inner: str) -> str:
    return f'{_STYLE}<div class="wb-card">{inner}</div>'


def _json_text(value: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False, indent=2, default=str)


def _filter_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_filter_text(v) for v in value) + "]"
    return str(value)  # numbers, and filter expressions (Batch OData) as their text


def _ipython_shell() -> Any:
    """The running IPython shell, or None (IPython is not imported if the program did not)."""
    module = sys.modules.get("IPython")
    if module is None:
        return None
    try:
        return module.get_ipython()
    except Exception:  # noqa: BLE001 - a broken IPython install is no IPython
        return None


# =========================================================================== the private loop
class _LoopThread:
    """One event loop in a daemon thread; coroutines are submitted from any thread."""

    def __init__(self, name: str = "workbench-notebook") -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()
        self._ready.wait()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    @property
    def on_loop_thread(self) -> bool:
        return threading.get_ident() == self.thread.ident

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the loop and wait for it here (never from the loop itself)."""
        if self.on_loop_thread:
            coro.close()
            raise RuntimeError("a plain (blocking) workbench call was made on the workbench's own event loop; "
                               "use the *_async variant there")
        if not self.thread.is_alive():
            coro.close()
            raise RuntimeError("this Workbench is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()  # Ctrl+C in a notebook, a timeout: stop the work too
            raise

    async def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Await ``coro`` on the loop from any other loop (or directly, on this one)."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            return await coro
        if not self.thread.is_alive():
            coro.close()
            raise RuntimeError("this Workbench is closed")
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def stop(self, timeout: float = 10.0) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            if not self.on_loop_thread:
                self.thread.join(timeout)


class _Changes:
    """A version counter that waiters in any thread, or on any loop, can block on."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.version = 0
        self._futures: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def notify(self) -> None:
        with self._cond:
            self.version += 1
            self._cond.notify_all()
            futures, self._futures = self._futures, []
        for loop, future in futures:
            with contextlib.suppress(RuntimeError):  # that waiter's loop is closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)

    def wait(self, seen: int, timeout: float) -> int:
        with self._cond:
            self._cond.wait_for(lambda: self.version != seen, timeout)
            return self.version

    async def wait_async(self, seen: int, timeout: float) -> int:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self.version != seen:
                return self.version
            self._futures.append((loop, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            with self._cond:
                if (loop, future) in self._futures:
                    self._futures.remove((loop, future))
        return self.version


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# =========================================================================== images
class Image:
    """One image: the common summary's fields as attributes, and ``raw``, the provider's full model."""

    __slots__ = ("summary", "profile")

    def __init__(self, summary: ImageSummary, profile: str = "") -> None:
        self.summary = summary
        self.profile = profile

    def __getattr__(self, name: str) -> Any:
        # provider, id, name, status, os, size, created, extras, raw
        if name in ("provider", "id", "name", "status", "os", "size", "created", "extras", "raw"):
            return getattr(self.summary, name)
        raise AttributeError(f"'Image' object has no attribute {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Image) and (self.summary.provider, self.summary.id, self.profile) == (
            other.summary.provider, other.summary.id, other.profile)

    def __hash__(self) -> int:
        return hash((self.summary.provider, self.summary.id, self.profile))

    def to_dict(self, *, raw: bool = True) -> dict[str, Any]:
        """The summary as plain data, with the full model under ``raw`` (unless ``raw=False``)."""
        data = self.summary.as_dict()
        if raw:
            data["raw"] = to_jsonable(self.summary.raw)
        return data

    def _fields(self) -> list[tuple[str, str]]:
        pairs = []
        for key, value in self.summary.as_dict().items():
            if value in (None, ""):
                continue
            if key == "size":
                value = f"{format_size(value)} ({value} bytes)"
            pairs.append((key, str(value)))
        return pairs

    def __repr__(self) -> str:
        s = self.summary
        return f"<Image {s.provider} {s.id!r} name={s.name!r} status={s.status!r}>"

    def __str__(self) -> str:
        width = max((len(k) for k, _ in self._fields()), default=0)
        lines = [f"{key.ljust(width)}  {value}" for key, value in self._fields()]
        if self.summary.raw is not None:
            lines += ["", _json_text(self.summary.raw)]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        s = self.summary
        title = (f"<b>{_esc(s.name or s.id)}</b> <span class=\"wb-note\">{_esc(s.provider)}"
                 + (f" · {_esc(self.profile)}" if self.profile else "") + "</span>")
        rows = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in self._fields())
        inner = f'<div>{title}</div><table class="wb-table">{rows}</table>'
        if s.raw is not None:
            inner += (f"<details><summary>Full model ({_esc(type(s.raw).__name__)})</summary>"
                      f"<pre>{_esc(_json_text(s.raw))}</pre></details>")
        return _card(inner)


class ImageTable(Sequence[Image]):
    """A list of images: index it, iterate it, display it, export it.

    ``limit`` is the limit the list was read with (None: everything); when the
    table holds exactly that many, more images may exist.
    """

    def __init__(self, images: Iterable[Image], *, profile: str = "", provider: str = "",
                 limit: int | None = None, filters: Mapping[str, Any] | None = None) -> None:
        self._images = list(images)
        self.profile = profile
        self.provider = provider
        self.limit = limit
        self.filters = dict(filters or {})

    @overload
    def __getitem__(self, index: int) -> Image: ...
    @overload
    def __getitem__(self, index: slice) -> ImageTable: ...

    def __getitem__(self, index: int | slice) -> Image | ImageTable:
        if isinstance(index, slice):
            return ImageTable(self._images[index], profile=self.profile, provider=self.provider,
                              filters=self.filters)
        return self._images[index]

    def __len__(self) -> int:
        return len(self._images)

    def __iter__(self) -> Iterator[Image]:
        return iter(self._images)

    @property
    def maybe_more(self) -> bool:
        """True when the list stopped at its limit (more images may exist)."""
        return self.limit is not None and len(self._images) >= self.limit

    def by_id(self, image_id: str) -> Image:
        for image in self._images:
            if image.id == image_id:
                return image
        raise KeyError(f"no image with id {image_id!r} in this list")

    # -- export ---------------------------------------------------------------
    def columns(self) -> list[str]:
        """Every column of ``to_records()``, in first-seen order."""
        seen: dict[str, None] = {}
        for image in self._images:
            for key in image.summary.as_dict():
                seen.setdefault(key, None)
        if not seen:
            seen = dict.fromkeys(("provider", "id", "name", "status", "os", "size", "created"))
        return list(seen)

    def to_records(self, *, raw: bool = False) -> list[dict[str, Any]]:
        """A list of dicts (the common summary and the provider's extra columns; ``raw=True``
        adds each full model under ``raw``)."""
        return [image.to_dict(raw=raw) for image in self._images]

    def to_json(self, path: str | Path | None = None, *, raw: bool = False, indent: int | None = 2) -> str:
        """The records as a JSON array; also written to ``path`` if given."""
        text = json.dumps(self.to_records(raw=raw), ensure_ascii=False, indent=indent, default=str)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text

    def to_csv(self, path: str | Path | None = None) -> str:
        """The records as CSV with a header row (unknown values empty); also written to ``path``."""
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=self.columns(), restval="", extrasaction="ignore")
        writer.writeheader()
        for record in self.to_records():
            writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
        text = buffer.getvalue()
        if path is not None:
            with Path(path).open("w", encoding="utf-8", newline="") as handle:
                handle.write(text)
        return text

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of the records (pandas must be installed; it is not a dependency)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("ImageTable.to_dataframe() needs pandas, which is not installed "
                              "(pip install pandas); to_records(), to_json() and to_csv() need nothing") from None
        return pandas.DataFrame.from_records(self.to_records(), columns=self.columns())

    # -- display --------------------------------------------------------------
    def _title(self) -> str:
        where = " · ".join(part for part in (self.profile, self.provider) if part)
        count = f"{len(self)} image{'s' if len(self) != 1 else ''}"
        text = f"{count} ({where})" if where else count
        if self.filters:
            text += " where " + ", ".join(f"{k}={_filter_text(v)}" for k, v in self.filters.items())
        return text

    def _more_note(self, shown: int) -> str:
        notes = []
        if shown < len(self):
            notes.append(f"… and {len(self) - shown} more (export them with to_csv / to_json / to_records)")
        if self.maybe_more:
            notes.append(f"the list stopped at limit={self.limit}; pass limit=None for every image")
        return "; ".join(notes)

    def _text_rows(self, headers: list[str], images: Sequence[Image]) -> list[list[str]]:
        rows = []
        for image in images:
            record = image.summary.as_dict()
            rows.append([_clip(format_size(record[h]) if h == "size" else str(record.get(h) or ""))
                         for h in headers])
        return rows

    def __repr__(self) -> str:
        shown = self._images[:TEXT_ROWS]
        base = ["id", "name", "status", "os", "size", "created"]
        headers = [h for h in base if any(getattr(i.summary, h) not in (None, "") for i in shown)] or ["id"]
        lines = [self._title()]
        if shown:
            lines.append(_text_table(headers, self._text_rows(headers, shown)))
        note = self._more_note(len(shown))
        if note:
            lines.append(note)
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(f"<ImageTable of {len(self)}>" if cycle else repr(self))

    def _repr_html_(self) -> str:
        shown = self._images[:HTML_ROWS]
        headers = self.columns()
        rows = []
        for image in shown:
            record = image.summary.as_dict()
            rows.append([format_size(record.get(h)) if h == "size" else record.get(h, "") for h in headers])
        inner = f"<div><b>{_esc(self._title())}</b></div>" + _html_table(headers, rows)
        note = self._more_note(len(shown))
        if note:
            inner += f'<div class="wb-note">{_esc(note)}</div>'
        return _card(inner)


# =========================================================================== requests
class RequestView:
    """The exact HTTP request a ``Request`` would send, secrets masked: method, URL,
    headers, body, and the same as a ``curl`` command line."""

    def __init__(self, preview: RequestPreview, summary: str = "") -> None:
        self.preview = preview.masked()
        self.summary = summary

    @property
    def method(self) -> str:
        return self.preview.method

    @property
    def url(self) -> str:
        return self.preview.url

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.preview.headers)

    @property
    def body(self) -> Any:
        """The body: parsed JSON, else text, else None."""
        data = self.preview.json
        return data if data is not None else self.preview.text

    def curl(self, *, multiline: bool = True) -> str:
        return self.preview.to_curl(multiline=multiline)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, **self.preview.to_dict(), "curl": self.curl(multiline=False)}

    def _http_text(self) -> str:
        p = self.preview
        lines = [f"{p.method} {p.url}", *(f"{name}: {value}" for name, value in p.headers)]
        if p.body is not None:
            data = p.json
            lines += ["", json.dumps(data, ensure_ascii=False, indent=2) if data is not None
                      else (p.text if p.text is not None else f"<{len(p.body)} bytes of binary data>")]
        return "\n".join(lines)

    def __str__(self) -> str:
        head = [self.summary, ""] if self.summary else []
        return "\n".join([*head, self._http_text(), "", "# as curl:", self.curl()])

    def __repr__(self) -> str:
        return f"<RequestView {self.method} {self.url}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        head = f"<div><b>{_esc(self.summary)}</b></div>" if self.summary else ""
        return _card(f"{head}<pre>{_esc(self._http_text())}</pre>"
                     f"<details><summary>as curl</summary><pre>{_esc(self.curl())}</pre></details>")


class Request:
    """A typed request built for one profile, not sent yet.

    Displaying it shows the exact HTTP request (``preview()``); ``curl()`` gives
    it as a command line; ``send()`` / ``await send_async()`` send it.
    ``api_request`` is the provider's pydantic request model.
    """

    def __init__(self, cloud: Cloud, api_request: ApiRequest) -> None:
        self.cloud = cloud
        self.api_request = api_request

    @property
    def summary(self) -> str:
        return self.api_request.summary()

    @property
    def destructive(self) -> bool:
        return bool(getattr(self.api_request, "destructive", False))

    def preview(self) -> RequestView:
        return self.cloud.preview(self)

    def curl(self, *, multiline: bool = True) -> str:
        return self.preview().curl(multiline=multiline)

    def send(self, *, wait: bool = True, timeout: float | None = None, display: bool | None = None,
             check: bool = True) -> Any:
        """Send it: see ``Cloud.send``."""
        return self.cloud.send(self, wait=wait, timeout=timeout, display=display, check=check)

    async def send_async(self, *, wait: bool = True, timeout: float | None = None, display: bool | None = None,
                         check: bool = True) -> Any:
        return await self.cloud.send_async(self, wait=wait, timeout=timeout, display=display, check=check)

    def __repr__(self) -> str:
        return f"<Request {self.cloud.name}: {self.summary}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self.preview()))

    def _repr_html_(self) -> str:
        return self.preview()._repr_html_()


# =========================================================================== operations
class _LiveDisplay:
    """Where a waiting call shows an operation's progress: IPython, a terminal line, or nowhere."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._handle: Any = None
        self._last_line = ""

    @classmethod
    def choose(cls, wanted: bool | None) -> _LiveDisplay:
        if wanted is False:
            return cls("none")
        shell = _ipython_shell()
        # A terminal IPython cannot update a display in place: it would print every update.
        if shell is not None and type(shell).__name__ != "TerminalInteractiveShell":
            return cls("ipython")
        if wanted or sys.stderr.isatty():
            return cls("text")
        return cls("none")

    def show(self, op: Operation) -> None:
        if self.mode == "ipython":
            from IPython.display import display  # present: the shell is running

            self._handle = display(op._mimebundle(), raw=True, display_id=True)
            op._shown_in = _execution_count()
        elif self.mode == "text":
            self._write(op)

    def update(self, op: Operation) -> None:
        if self.mode == "ipython" and self._handle is not None:
            self._handle.update(op._mimebundle(), raw=True)
        elif self.mode == "text":
            self._write(op)

    def close(self, op: Operation) -> None:
        self.update(op)
        if self.mode == "text":
            sys.stderr.write("\n")
            sys.stderr.flush()

    def _write(self, op: Operation) -> None:
        line = op._line()
        if line != self._last_line:
            pad = max(0, len(self._last_line) - len(line))
            sys.stderr.write("\r" + line + " " * pad)
            sys.stderr.flush()
            self._last_line = line


def _execution_count() -> int | None:
    shell = _ipython_shell()
    return getattr(shell, "execution_count", None) if shell is not None else None


class Operation:
    """A long-running operation the workbench tracks (a Kusto build, a Yandex create, ...).

    ``operation`` is its latest state (``workbench.core.operations.Operation``);
    ``status``, ``progress``, ``error``, ``result`` and ``done`` read from it.
    ``wait()`` / ``await wait_async()`` show live progress until it ends.
    """

    def __init__(self, bench: Workbench, op_id: str) -> None:
        self._bench = bench
        self.id = op_id
        #: The IPython execution count of the cell whose live display shows this
        #: operation: that cell's result is not displayed a second time.
        self._shown_in: int | None = None

    @property
    def operation(self) -> CoreOperation:
        return self._bench._latest[self.id]

    @property
    def status(self) -> str:
        return self.operation.status.value

    @property
    def done(self) -> bool:
        return self.operation.done

    @property
    def progress(self) -> float | None:
        return self.operation.progress

    @property
    def error(self) -> str | None:
        return self.operation.error

    @property
    def result(self) -> Any:
        """The final resource once it succeeded (fetched from the API as the SDKs do)."""
        return self.operation.result

    @property
    def failed(self) -> bool:
        return self.done and self.status != "succeeded"

    # -- waiting ----------------------------------------------------------------
    def wait(self, timeout: float | None = None, *, display: bool | None = None, check: bool = True) -> Operation:
        """Block until the operation ends, showing its progress (``display``: None
        picks IPython or a terminal, False shows nothing). ``TimeoutError`` after
        ``timeout`` seconds (the operation goes on); ``OperationFailed`` if it
        fails and ``check``."""
        live = _LiveDisplay.choose(display)
        live.show(self)
        changes = self._bench._changes
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = changes.version
        try:
            while not self.done:
                seen = changes.wait(seen, self._next_wait(deadline, timeout))
                live.update(self)
        finally:
            live.close(self)
        if check and self.failed:
            raise OperationFailed(self)
        return self

    async def wait_async(self, timeout: float | None = None, *, display: bool | None = None,
                         check: bool = True) -> Operation:
        """``wait`` for ``await``: the caller's loop runs on while the operation is polled."""
        live = _LiveDisplay.choose(display)
        live.show(self)
        changes = self._bench._changes
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = changes.version
        try:
            while not self.done:
                seen = await changes.wait_async(seen, self._next_wait(deadline, timeout))
                live.update(self)
        finally:
            live.close(self)
        if check and self.failed:
            raise OperationFailed(self)
        return self

    def _next_wait(self, deadline: float | None, timeout: float | None) -> float:
        """How long to wait for the next change (the display refreshes at least this often)."""
        if deadline is None:
            return REFRESH_INTERVAL
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"operation {self.id} still {self.status} after {timeout} s "
                               "(it goes on: wait again, or cancel it)")
        return min(REFRESH_INTERVAL, remaining)

    def cancel(self) -> Operation:
        """Ask the cloud to cancel (``CancelNotSupported`` where its API cannot)."""
        self._bench._run(self._bench._workspace.tracker.cancel(self.id))
        return self

    async def cancel_async(self) -> Operation:
        await self._bench._run_async(self._bench._workspace.tracker.cancel(self.id))
        return self

    # -- display ------------------------------------------------------------------
    def _elapsed(self) -> float:
        op = self.operation
        return (op.updated if op.done else time.time()) - op.started

    def _line(self) -> str:
        op = self.operation
        percent = f" {op.progress:.0%}" if op.progress is not None else ""
        text = (f"{op.kind} {op.target or op.id} [{op.provider}{' · ' + op.profile if op.profile else ''}]: "
                f"{op.status.value}{percent} · {op.polls} poll{'s' if op.polls != 1 else ''} · "
                f"{_format_duration(self._elapsed())}")
        if op.error:
            text += f" · {op.error}"
        return text

    def __repr__(self) -> str:
        return f"<Operation {self.id} {self._line()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        op = self.operation
        status = op.status.value
        if op.done:
            value = 1 if status == "succeeded" else (op.progress or 0)
            bar = f'<progress max="1" value="{value:.3f}"></progress>'
        elif op.progress is not None:
            bar = f'<progress max="1" value="{op.progress:.3f}"></progress> {op.progress:.0%}'
        else:
            bar = "<progress></progress>"  # indeterminate: the API reports no percentage
        head = (f"<b>{_esc(op.kind)}</b> {_esc(op.target or op.id)} "
                f'<span class="wb-note">{_esc(op.provider)}{" · " + _esc(op.profile) if op.profile else ""}</span>'
                f' — <span class="wb-{_esc(status)}">{_esc(status)}</span>')
        facts = (f'<div class="wb-note">operation {_esc(op.id)} · {op.polls} poll{"s" if op.polls != 1 else ""}'
                 f" · {_esc(_format_duration(self._elapsed()))}</div>")
        inner = f"<div>{head}</div><div>{bar}</div>{facts}"
        if op.description:
            inner += f'<div class="wb-note">{_esc(op.description)}</div>'
        if op.error:
            css = "wb-error" if op.done else "wb-note"
            inner += f'<div class="{css}">{_esc(op.error)}</div>'
        if op.done and op.result is not None:
            inner += f"<details><summary>result</summary><pre>{_esc(_json_text(op.result))}</pre></details>"
        return _card(inner)

    def _mimebundle(self) -> dict[str, str]:
        return {"text/plain": repr(self), "text/html": self._repr_html_()}

    def _ipython_display_(self) -> None:
        # The live display of this cell already shows it: do not show it twice.
        if self._shown_in is not None and self._shown_in == _execution_count():
            return
        from IPython.display import display

        display(self._mimebundle(), raw=True)


# =========================================================================== one profile
class Cloud:
    """One profile's cloud: list and read images, build, preview and send requests.

    Builders return a ``Request`` (nothing is sent until ``send``); which exist
    depends on the provider: ``patch`` and ``edit`` (Glance/IMS), ``create_image`` and
    ``update_image`` (Yandex), ``put_image`` and ``update_image`` (Kusto),
    ``delete_image`` (all but Batch), ``list_request`` (Batch: preview the
    supported-images request). ``request(api_request)`` wraps any request model
    built by hand.
    """

    def __init__(self, bench: Workbench, name: str, provider: str) -> None:
        self._bench = bench
        self.name = name
        self.provider = provider

    @property
    def driver(self) -> Driver:
        """The profile's driver (advanced). It lives on the workbench's loop: run its
        coroutines with ``workbench.run(...)`` / ``await workbench.run_async(...)``."""
        return self._bench._call(self._bench._workspace.driver, self.name)

    # -- reading ------------------------------------------------------------------
    async def _list(self, limit: int | None, filters: dict[str, Any]) -> ImageTable:
        driver = self._bench._workspace.driver(self.name)
        images = [Image(summary, self.name) async for summary in driver.list_images(limit=limit, **filters)]
        return ImageTable(images, profile=self.name, provider=self.provider, limit=limit, filters=filters)

    def images(self, limit: int | None = 100, **filters: Any) -> ImageTable:
        """Images (following the cloud's paging) up to ``limit`` (None: all). ``filters``
        are the driver's: ``status="active"`` (Glance), ``family="web"`` (Yandex),
        ``filter=odata.os_type.eq("linux")`` (Batch), ..."""
        return self._bench._run(self._list(limit, filters))

    async def images_async(self, limit: int | None = 100, **filters: Any) -> ImageTable:
        return await self._bench._run_async(self._list(limit, filters))

    async def _get(self, image_id: str) -> Image:
        driver = self._bench._workspace.driver(self.name)
        return Image(await driver.get_image(image_id), self.name)

    def image(self, image_id: str) -> Image:
        """One image, with the provider's full model as ``raw``."""
        return self._bench._run(self._get(image_id))

    async def image_async(self, image_id: str) -> Image:
        return await self._bench._run_async(self._get(image_id))

    # -- building -------------------------------------------------------------------
    def _need(self, action: str, *providers: str) -> None:
        if self.provider not in providers:
            names = "/".join("IMS" if p == "ims" else p.capitalize() for p in providers)
            raise UnsupportedAction(f"{action} is for {names} profiles; profile '{self.name}' is {self.provider}")

    def _build(self, make: Callable[[Any], ApiRequest]) -> Request:
        def build() -> ApiRequest:
            return make(self._bench._workspace.driver(self.name))

        return Request(self, self._bench._call(build))

    def request(self, api_request: ApiRequest) -> Request:
        """Wrap a request model built by hand (any ``ApiRequest`` of this provider)."""
        return Request(self, api_request)

    def patch(self, image_id: str, operations: Sequence[Mapping[str, Any]], *, dialect: str | None = None) -> Request:
        """A Glance/IMS JSON patch: ``[{"op": "replace", "path": "/min_disk", "value": 20}, ...]``,
        sent as ``dialect`` v2.1 (default: the profile's) or v2.0."""
        self._need("patch", "glance", "ims")
        options = {"dialect": dialect} if dialect else {}
        return self._build(lambda d: d.patch_request(image_id, [dict(op) for op in operations], **options))

    async def _edit(self, image: Image | str, changes: dict[str, Any], dialect: str | None) -> Request:
        driver = self._bench._workspace.driver(self.name)
        if isinstance(image, str):
            image = Image(await driver.get_image(image), self.name)
        before = image.raw
        if before is None:
            raise ValueError("image: has no full model to edit (read it with cloud.image(id))")
        after = before.to_api() if hasattr(before, "to_api") else dict(to_jsonable(before))
        after.update(changes)
        options = {"dialect": dialect} if dialect else {}
        return Request(self, driver.edit_request(before, after, **options))

    def edit(self, image: Image | str, changes: Mapping[str, Any] | None = None, *, dialect: str | None = None,
             **more: Any) -> Request:
        """The minimal Glance/IMS JSON patch that sets ``changes`` (and keyword changes) on
        ``image`` (an ``Image`` from ``image()``, or an id: then it is read first). A value
        of None removes a custom property. Read-only attributes are refused here."""
        self._need("edit", "glance", "ims")
        return self._bench._run(self._edit(image, {**(changes or {}), **more}, dialect))

    async def edit_async(self, image: Image | str, changes: Mapping[str, Any] | None = None, *,
                         dialect: str | None = None, **more: Any) -> Request:
        self._need("edit", "glance", "ims")
        return await self._bench._run_async(self._edit(image, {**(changes or {}), **more}, dialect))

    def create_image(self, **fields: Any) -> Request:
        """A Yandex image create: ``name`` and exactly one source (``image_id``, ``disk_id``,
        ``snapshot_id`` or ``uri``), plus ``family``, ``labels``, ``min_disk_size``, ``os``, ..."""
        self._need("create_image", "yandex")
        return self._build(lambda d: d.create_image_request(**fields))

    def put_image(self, name: str, *, language_version: str | None = None, base_image_name: str | None = None,
                  requirements: str | None = None, requirements_file: str | Path | None = None,
                  language: str = "Python") -> Request:
        """A Kusto sandbox image create-or-update: exactly one of ``language_version`` and
        ``base_image_name``; requirements as text or read from ``requirements_file``."""
        self._need("put_image", "kusto")
        return self._build(lambda d: d.create_or_update(
            name, language_version=language_version, base_image_name=base_image_name, requirements=requirements,
            requirements_file=requirements_file, language=language))

    def update_image(self, image_id: str, **fields: Any) -> Request:
        """A Yandex image update (name, description, min_disk_size, labels) or a Kusto PATCH."""
        self._need("update_image", "yandex", "kusto")
        if self.provider == "kusto":
            return self._build(lambda d: d.update(image_id, **fields))
        from workbench.providers.yandex.requests import UpdateImage

        return Request(self, UpdateImage(image_id=image_id, **fields))

    def delete_image(self, image_id: str) -> Request:
        """A delete (Kusto: an operation; Glance/IMS: done at once; Yandex: an operation)."""
        self._need("delete_image", "kusto", "glance", "ims", "yandex")
        if self.provider == "kusto":
            return self._build(lambda d: d.delete(image_id))
        if self.provider == "yandex":
            from workbench.providers.yandex.requests import DeleteImage

            return Request(self, DeleteImage(image_id=image_id))
        from workbench.providers.glance.requests import DeleteImage as GlanceDeleteImage

        return Request(self, GlanceDeleteImage(image_id=image_id))

    def list_request(self, **filters: Any) -> Request:
        """The Batch supported-images request (``filter``, ``maxresults``, ``timeout``), to preview."""
        self._need("list_request", "batch")
        return self._build(lambda d: d.list_request(**filters))

    # -- previewing and sending ---------------------------------------------------------
    def _api_request(self, request: Request | ApiRequest) -> ApiRequest:
        if isinstance(request, Request):
            if request.cloud.name != self.name:
                raise ValueError(f"request: built for profile '{request.cloud.name}', not '{self.name}'")
            return request.api_request
        return request

    def preview(self, request: Request | ApiRequest) -> RequestView:
        """The exact HTTP request ``send`` would make, secrets masked (nothing is sent)."""
        api_request = self._api_request(request)

        async def preview() -> RequestView:
            driver = self._bench._workspace.driver(self.name)
            resolve = getattr(driver, "resolve_endpoint", None)
            if resolve is not None:  # Glance/IMS may read the endpoint from the Keystone catalog
                await resolve()
            return RequestView(driver.preview(api_request), api_request.summary())

        return self._bench._run(preview())

    async def _send(self, api_request: ApiRequest) -> Any:
        from workbench.core.images import ImageSummary
        from workbench.core.operations import Operation as CoreOperation

        workspace = self._bench._workspace
        result = await workspace.driver(self.name).send(api_request)
        if isinstance(result, CoreOperation):
            tracked = workspace.track(result, profile=self.name)
            self._bench._latest[tracked.id] = tracked.snapshot()
            return Operation(self._bench, tracked.id)
        if isinstance(result, ImageSummary):
            return Image(result, self.name)
        return result

    def send(self, request: Request | ApiRequest, *, wait: bool = True, timeout: float | None = None,
             display: bool | None = None, check: bool = True) -> Any:
        """Send ``request``. The answer: an ``Image`` for an image, an ``Operation`` for work
        that finishes later (tracked; with ``wait`` its progress shows until it ends, see
        ``Operation.wait``), else the provider's decoded answer. API failures raise
        ``workbench.core.errors.ApiError``."""
        result = self._bench._run(self._send(self._api_request(request)))
        if isinstance(result, Operation) and wait:
            result.wait(timeout, display=display, check=check)
        return result

    async def send_async(self, request: Request | ApiRequest, *, wait: bool = True, timeout: float | None = None,
                         display: bool | None = None, check: bool = True) -> Any:
        result = await self._bench._run_async(self._send(self._api_request(request)))
        if isinstance(result, Operation) and wait:
            await result.wait_async(timeout, display=display, check=check)
        return result

    def __repr__(self) -> str:
        return f"<Cloud {self.name} ({self.provider})>"


# =========================================================================== the workbench
class Workbench:
    """Profiles, drivers and operations of one session, on a private event loop.

    ``Workbench()`` uses your saved profiles (``$WORKBENCH_HOME`` or the user
    config directory; secrets from the OS keyring or ``WORKBENCH_SECRET_*``
    variables; ``prompt(label)`` is asked for any other, from the workbench's
    own thread, so it must not need the notebook's input box). ``demo()`` makes one on the
    embedded simulator. ``close()`` (or ``with``) ends it; so does the end of
    the program.
    """

    def __init__(self, home: str | Path | None = None, *, prompt: Callable[[str], str | None] | None = None,
                 _workspace: Workspace | None = None) -> None:
        if _workspace is None:
            from workbench.connect import Workspace

            _workspace = Workspace(home, prompt=prompt, on_warning=lambda text: None)
        self._workspace = _workspace
        self._loop = _LoopThread()
        self._changes = _Changes()
        #: The latest snapshot of every operation this session tracked, by id.
        self._latest: dict[str, CoreOperation] = {}
        self._warned = 0
        self._closed = False
        # The subscriber must not hold the Workbench: dropping the last reference closes it.
        latest, changes = self._latest, self._changes

        def on_event(event: OperationEvent) -> None:  # on the loop thread
            latest[event.operation.id] = event.operation
            changes.notify()

        self._call(self._workspace.tracker.subscribe, on_event)
        self._finalizer = weakref.finalize(self, _shutdown, self._loop, self._workspace)

    # -- running work on the loop ---------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this Workbench is closed")

    def _flush_warnings(self) -> None:
        new = self._workspace.warnings[self._warned:]
        self._warned += len(new)
        for text in new:
            warnings.warn(text, WorkbenchWarning, stacklevel=4)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            self._check_open()
        try:
            return self._loop.run(coro)
        finally:
            self._flush_warnings()

    async def _run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            self._check_open()
        try:
            return await self._loop.run_async(coro)
        finally:
            self._flush_warnings()

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """A plain function run on the loop thread (the workspace is not thread-safe)."""

        async def call() -> T:
            return function(*args)

        return self._run(call())

    def run(self, awaitable: Awaitable[T], timeout: float | None = None) -> T:
        """Run a coroutine of a driver (``cloud.driver``) on the workbench's loop and return its result."""
        self._check_open()

        async def wrapped() -> T:
            return await awaitable

        return self._loop.run(wrapped(), timeout)

    async def run_async(self, awaitable: Awaitable[T]) -> T:
        self._check_open()

        async def wrapped() -> T:
            return await awaitable

        return await self._loop.run_async(wrapped())

    # -- profiles ----------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace:
        """The underlying ``workbench.connect.Workspace`` (touch it only on the loop: ``run``)."""
        return self._workspace

    @property
    def is_demo(self) -> bool:
        return self._workspace.is_demo

    def profiles(self) -> list[str]:
        """The names of the saved profiles (the demo's, for a demo)."""
        return self._call(self._workspace.profiles.names)

    def open(self, profile: str) -> Cloud:
        """The cloud of profile ``profile`` (its driver opens on first use)."""
        self._check_open()
        loaded = self._call(self._workspace.profile, profile)
        return Cloud(self, loaded.name, loaded.provider)

    __getitem__ = open

    @property
    def demo_ids(self) -> dict[str, Any]:
        """For a demo: the simulator's identifiers to use in requests (Yandex disks and
        snapshots, the Kusto cluster, the Batch account); no secrets."""
        endpoints = self._workspace.demo_endpoints or {}
        ids: dict[str, Any] = {}
        if "yandex_ids" in endpoints:
            ids["yandex"] = dict(endpoints["yandex_ids"])
        if "kusto_ids" in endpoints:
            ids["kusto"] = dict(endpoints["kusto_ids"])
        if "batch_account" in endpoints:
            ids["batch"] = {"account_name": endpoints["batch_account"]["name"]}
        return ids

    # -- operations --------------------------------------------------------------------
    def operations(self) -> list[Operation]:
        """Every operation tracked in this session, oldest first."""
        ops = self._call(lambda: list(self._workspace.tracker.operations))
        for op in ops:
            self._latest.setdefault(op.id, op.snapshot())
        return [Operation(self, op.id) for op in sorted(ops, key=lambda o: o.started)]

    def resume(self) -> list[Operation]:
        """Poll again the unfinished operations remembered from earlier runs; the ones that
        cannot be resumed are reported as warnings."""

        async def resume() -> list[CoreOperation]:
            started, problems = self._workspace.resume()
            for op_id, why in problems.items():
                self._workspace.warnings.append(f"operation {op_id}: {why}")
            for op in started:
                self._latest[op.id] = op.snapshot()
            return started

        return [Operation(self, op.id) for op in self._run(resume())]

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop polling, save unfinished operations, close connections (and the demo simulator)."""
        if not self._closed:
            self._closed = True
            self._finalizer()

    def __enter__(self) -> Workbench:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Workbench:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if not self._closed:
            self._closed = True
            self._finalizer.detach()
            await self._loop.run_async(self._workspace.aclose())
            self._loop.stop()

    def _summary(self) -> tuple[str, list[tuple[str, str, str]]]:
        rows = []
        for name in self._call(self._workspace.profiles.names):
            try:
                profile = self._call(self._workspace.profile, name)
                rows.append((name, profile.provider, profile.description))
            except Exception as exc:  # noqa: BLE001 - a damaged profile file is listed, not fatal
                rows.append((name, "?", f"cannot be read: {exc}"))
        kind = "demo on the embedded simulator" if self.is_demo else "your saved profiles"
        return kind, rows

    def __repr__(self) -> str:
        if self._closed:
            return "<Workbench (closed)>"
        kind, rows = self._summary()
        return f"Workbench: {kind}\n" + _text_table(["profile", "provider", "description"],
                                                    [list(r) for r in rows])

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        if self._closed:
            return _card("<b>Workbench</b> (closed)")
        kind, rows = self._summary()
        return _card(f"<div><b>Workbench</b> — {_esc(kind)}</div>"
                     + _html_table(["profile", "provider", "description"], rows))


def _shutdown(loop: _LoopThread, workspace: Workspace) -> None:
    """Close ``workspace`` on ``loop``, then stop the loop (at close() or the program's end)."""
    if loop.thread.is_alive():
        try:
            loop.run(workspace.aclose(), timeout=30)
        except (Exception, concurrent.futures.CancelledError):  # noqa: BLE001 - closing is best effort
            pass
        loop.stop()


# =========================================================================== module functions
def demo(*, seed_images: int = 0, latency_ms: int = 0, operation_polls: int | None = None,
         fault_rate: float = 0.0, config: Any = None) -> Workbench:
    """A workbench on the embedded simulator (started now on a free loopback port) with
    the profiles ``demo-kusto``, ``demo-glance``, ``demo-ims``, ``demo-batch`` and
    ``demo-yandex``: no keyring, nothing saved. ``seed_images`` adds that many images per
    cloud; ``latency_ms``, ``fault_rate`` and ``operation_polls`` shape the simulator
    (or give a whole ``workbench.sim.config.SimConfig`` as ``config``)."""
    from workbench.connect import Workspace
    from workbench.sim.config import SimConfig

    if config is None:
        config = SimConfig(seed_images=seed_images, latency_ms=latency_ms, fault_rate=fault_rate)
        if operation_polls is not None:
            config.operation_polls = operation_polls
        config.validate()
    return Workbench(_workspace=Workspace.demo(config=config, on_warning=lambda text: None))


_default: Workbench | None = None
_default_lock = threading.Lock()


def open(profile: str) -> Cloud:  # noqa: A001 - ``workbench.open("prod")`` reads best
    """The cloud of your saved profile ``profile`` (one shared ``Workbench()`` per program)."""
    global _default
    with _default_lock:
        if _default is None or _default._closed:
            _default = Workbench()
        bench = _default
    return bench.open(profile)
