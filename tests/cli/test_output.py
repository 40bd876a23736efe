"""Unit tests of what the command line prints: tables, JSON, progress, error messages."""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from enum import Enum

import pytest
from pydantic import BaseModel, Field

from workbench.cli.output import (
    Column,
    JsonArrayWriter,
    JsonLinesWriter,
    Output,
    ProgressLine,
    TableWriter,
    bar,
    format_duration,
    format_size,
    to_jsonable,
)


def test_table_sizes_columns_from_the_sample_and_truncates_later_rows():
    out = io.StringIO()
    table = TableWriter([Column("id", "ID", 10), Column("size", "SIZE", 8, right=True)], out, sample=2)
    table.add({"id": "a", "size": "1 B"})
    table.add({"id": "bbbb", "size": "10 B"})
    assert out.getvalue().splitlines() == ["ID    SIZE", "a      1 B", "bbbb  10 B"]  # printed once sampled
    table.add({"id": "a-much-longer-id", "size": "3"})
    assert table.close() == 3
    assert out.getvalue().splitlines()[-1] == "a-m…     3"


def test_table_caps_widths_and_keeps_rows_on_one_line():
    out = io.StringIO()
    table = TableWriter([Column("name", "NAME", 5), Column("note", "NOTE")], out)
    table.add({"name": "abcdefgh", "note": "two\nlines\tand tab"})
    table.add({"name": None, "note": True})
    table.close()
    assert out.getvalue().splitlines() == ["NAME   NOTE", "abcd…  two lines and tab", "       yes"]


def test_an_empty_table_prints_its_header():
    out = io.StringIO()
    assert TableWriter([Column("id", "ID")], out).close() == 0
    assert out.getvalue() == "ID\n"


def test_json_array_streams_valid_json():
    out = io.StringIO()
    writer = JsonArrayWriter(out)
    assert writer.close() == 0 and json.loads(out.getvalue()) == []
    out = io.StringIO()
    writer = JsonArrayWriter(out)
    for i in range(3):
        writer.add({"i": i, "text": "é"})
    writer.close()
    assert json.loads(out.getvalue()) == [{"i": 0, "text": "é"}, {"i": 1, "text": "é"}, {"i": 2, "text": "é"}]
    assert out.getvalue().splitlines()[1:4] == [json.dumps({"i": i, "text": "é"}, ensure_ascii=False) + ("," if i < 2 else "") for i in range(3)]


def test_json_lines():
    out = io.StringIO()
    writer = JsonLinesWriter(out)
    writer.add({"a": 1})
    writer.add([1, 2])
    assert writer.close() == 2
    assert [json.loads(line) for line in out.getvalue().splitlines()] == [{"a": 1}, [1, 2]]


@pytest.mark.parametrize("size, text", [(None, ""), (0, "0 B"), (1023, "1023 B"), (1536, "1.5 KiB"),
                                        (3 * 2**30, "3.0 GiB"), (2**50, "1.0 PiB")])
def test_format_size(size, text):
    assert format_size(size) == text


@pytest.mark.parametrize("seconds, text", [(0.25, "0.2s"), (12, "12s"), (75, "1m15s"), (3725, "1h02m"), (-1, "0.0s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_to_jsonable_uses_api_aliases_and_plain_values():
    class Kind(str, Enum):
        A = "a-kind"

    class Model(BaseModel):
        min_disk_size: int = Field(alias="minDiskSize")
        kind: Kind
        note: str | None = None

    when = datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    value = {"model": Model(minDiskSize=5, kind=Kind.A), "when": when, "items": (Kind.A, 1), 7: {1, 2} and [1]}
    assert to_jsonable(value) == {"model": {"minDiskSize": 5, "kind": "a-kind"}, "when": "2024-01-02T03:04:05+00:00",
                                  "items": ["a-kind", 1], "7": [1]}


def test_progress_off_a_terminal_prints_one_line_per_change():
    out = io.StringIO()
    line = ProgressLine(out, interactive=False)
    for text in ("running", "running", "50%", "50%"):
        line.update(text)
    line.finish("done")
    assert out.getvalue() == "running\n50%\ndone\n"


def test_progress_on_a_terminal_redraws_in_place_at_most_fps_times_a_second():
    now = [100.0]
    out = io.StringIO()
    line = ProgressLine(out, interactive=True, fps=10, clock=lambda: now[0])
    line.update("a long status")
    now[0] += 0.01
    line.update("skipped: too soon")
    now[0] += 0.2
    line.update("short")
    line.finish()
    assert out.getvalue() == "\ra long status" + "\rshort" + " " * 8 + "\n"


def test_bar():
    assert bar(None, width=4) == "[....]     "
    assert bar(0.5, width=4) == "[##..]  50%"
    assert bar(2.0, width=4) == "[####] 100%"


def test_output_keeps_notes_off_stdout():
    out, err = io.StringIO(), io.StringIO()
    output = Output(json_mode=True, out=out, err=err)
    output.data({"a": [1]})
    output.warn("careful")
    assert json.loads(out.getvalue()) == {"a": [1]}
    assert err.getvalue() == "warning: careful\n"
    assert output.interactive is False
