"""The pieces every display is made of: HTML cards and tables, plain-text tables, JSON."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from typing import Any

from workbench.core.format import to_jsonable

_CELL_WIDTH = 40


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def clip(text: str, width: int = _CELL_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
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


def html_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="wb-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def card(inner: str) -> str:
    return f'{_STYLE}<div class="wb-card">{inner}</div>'


def json_text(value: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False, indent=2, default=str)
