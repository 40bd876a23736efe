"""Images and lists of images: attributes, displays, and exports (records, JSON, CSV, pandas)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from workbench.core.format import format_size, to_jsonable
from workbench.notebook.render import card, clip, esc, html_table, json_text, text_table

if TYPE_CHECKING:
    from workbench.core.images import ImageSummary

#: Rows an HTML table shows before it says "... and N more".
HTML_ROWS = 100
#: Rows the plain-text table shows.
TEXT_ROWS = 20


def _filter_text(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        return "[" + ", ".join(_filter_text(v) for v in value) + "]"
    return str(value)  # numbers, and filter expressions (Batch OData) as their text


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
            lines += ["", json_text(self.summary.raw)]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        s = self.summary
        title = (f"<b>{esc(s.name or s.id)}</b> <span class=\"wb-note\">{esc(s.provider)}"
                 + (f" · {esc(self.profile)}" if self.profile else "") + "</span>")
        rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in self._fields())
        inner = f'<div>{title}</div><table class="wb-table">{rows}</table>'
        if s.raw is not None:
            inner += (f"<details><summary>Full model ({esc(type(s.raw).__name__)})</summary>"
                      f"<pre>{esc(json_text(s.raw))}</pre></details>")
        return card(inner)


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
            rows.append([clip(format_size(record[h]) if h == "size" else str(record.get(h) or ""))
                         for h in headers])
        return rows

    def __repr__(self) -> str:
        shown = self._images[:TEXT_ROWS]
        base = ["id", "name", "status", "os", "size", "created"]
        headers = [h for h in base if any(getattr(i.summary, h) not in (None, "") for i in shown)] or ["id"]
        lines = [self._title()]
        if shown:
            lines.append(text_table(headers, self._text_rows(headers, shown)))
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
        inner = f"<div><b>{esc(self._title())}</b></div>" + html_table(headers, rows)
        note = self._more_note(len(shown))
        if note:
            inner += f'<div class="wb-note">{esc(note)}</div>'
        return card(inner)
