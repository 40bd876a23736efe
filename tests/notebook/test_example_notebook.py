"""``examples/workbench-tour.ipynb``, executed end to end on a real Jupyter kernel.

nbclient runs every cell on an ipykernel started from this virtualenv's Python
(a kernelspec written for the test, so no other ``python3`` kernel is picked);
the test then reads the outputs each cell produced, and the live messages the
kernel sent while an operation ran (``update_display_data`` in place).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat", reason="the notebook tests need nbformat, nbclient and ipykernel")
nbclient = pytest.importorskip("nbclient", reason="the notebook tests need nbclient (pip install nbclient)")
pytest.importorskip("ipykernel", reason="the notebook tests need ipykernel (pip install ipykernel)")

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "workbench-tour.ipynb"
KERNEL = "workbench-test"
CELL_TIMEOUT = 120


class RecordingClient(nbclient.NotebookClient):
    """A NotebookClient that also keeps every display message, with the cell it belongs to."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.displays: list[tuple[str, str, dict[str, Any]]] = []

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        if msg["msg_type"] in ("display_data", "update_display_data"):
            self.displays.append((cell.get("id", ""), msg["msg_type"], msg["content"]))
        return super().process_message(msg, cell, cell_index)


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, RecordingClient, Path]:
    work = tmp_path_factory.mktemp("tour")
    kernels = work / "jupyter" / "kernels" / KERNEL
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "workbench (test)",
        "language": "python",
    }))
    patch = pytest.MonkeyPatch()
    patch.setenv("JUPYTER_PATH", str(work / "jupyter"))
    patch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    patch.setenv("IPYTHONDIR", str(work / "ipython"))
    patch.setenv("WORKBENCH_HOME", str(work / "home"))  # the demo must not need (or touch) any profile
    try:
        notebook = nbformat.read(NOTEBOOK, as_version=4)
        client = RecordingClient(notebook, timeout=CELL_TIMEOUT, kernel_name=KERNEL,
                                 resources={"metadata": {"path": str(work)}})
        client.execute()
    finally:
        patch.undo()
    return notebook, client, work


def cell(notebook: Any, cell_id: str) -> Any:
    return next(c for c in notebook.cells if c.get("id") == cell_id)


def result(notebook: Any, cell_id: str) -> dict[str, Any]:
    """The data of the cell's ``execute_result``."""
    outputs = [o for o in cell(notebook, cell_id).outputs if o.output_type == "execute_result"]
    assert len(outputs) == 1, f"{cell_id}: {cell(notebook, cell_id).outputs}"
    return outputs[0].data


def test_the_notebook_is_stored_without_outputs() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_every_cell_ran_without_error(executed: tuple[Any, RecordingClient, Path]) -> None:
    notebook, _, _ = executed
    for c in notebook.cells:
        if c.cell_type == "code":
            assert c.execution_count is not None, c.id
            assert not [o for o in c.outputs if o.output_type == "error"], c.id


def test_lists_filters_and_an_image_display_richly(executed: tuple[Any, RecordingClient, Path]) -> None:
    notebook, _, _ = executed
    start = result(notebook, "start")
    assert "demo on the embedded simulator" in start["text/plain"] and "<td>demo-yandex</td>" in start["text/html"]

    listing = result(notebook, "glance-list")
    assert listing["text/plain"].startswith("10 images (demo-glance · glance)")
    assert "<table" in listing["text/html"] and listing["text/html"].count("<tr>") == 11  # header + 10

    mine = result(notebook, "glance-filter")["text/plain"].splitlines()
    assert mine[0].endswith("(demo-glance · glance) where visibility='private', status='active', sort='name:asc'")
    header, rows = mine[1].split(), [line.split() for line in mine[2:]]
    assert header[:3] == ["ID", "NAME", "STATUS"] and rows
    assert all(row[2] == "active" for row in rows)
    assert [row[1] for row in rows] == sorted(row[1] for row in rows)
    assert mine[0].startswith(f"{len(rows)} image")

    image = result(notebook, "glance-show")
    assert "Full model (Image)" in image["text/html"] and image["text/plain"].startswith("provider")


def test_a_request_is_previewed_then_sent(executed: tuple[Any, RecordingClient, Path]) -> None:
    notebook, _, _ = executed
    preview = result(notebook, "glance-preview")
    assert "PATCH http://127.0.0.1:" in preview["text/plain"]
    assert "application/openstack-images-v2.1-json-patch" in preview["text/plain"]
    assert "X-Auth-Token: ***" in preview["text/plain"]
    assert "as curl" in preview["text/html"]
    assert result(notebook, "glance-patch")["text/plain"] == "(30, 'platform')"
    edit = result(notebook, "glance-edit")["text/plain"]
    assert "/min_disk" in edit and "40" in edit and "owner_team" not in edit  # the minimal patch

    yandex = result(notebook, "yandex-preview")["text/plain"]
    assert "POST http://127.0.0.1:" in yandex and "Idempotency-Key: " in yandex and "Bearer ***" in yandex
    assert "\"name\": \"tour-web-1\"" in yandex


def _live(client: RecordingClient, cell_id: str) -> list[tuple[str, dict[str, Any]]]:
    return [(kind, content) for cid, kind, content in client.displays if cid == cell_id]


@pytest.mark.parametrize(("cell_id", "target"), [("yandex-create", "create "), ("kusto-put", "create tourImage")])
def test_operations_show_live_progress_and_end_with_their_state(executed: tuple[Any, RecordingClient, Path],
                                                               cell_id: str, target: str) -> None:
    notebook, client, _ = executed
    messages = _live(client, cell_id)
    kinds = [kind for kind, _ in messages]
    assert kinds[0] == "display_data" and kinds.count("display_data") == 1
    assert kinds.count("update_display_data") >= 2  # at least one poll while running, then the end
    ids = {content["transient"]["display_id"] for _, content in messages}
    assert len(ids) == 1  # one display, updated in place
    first, last = messages[0][1]["data"], messages[-1][1]["data"]
    assert target in first["text/plain"] and ": running" in first["text/plain"]
    assert ": succeeded" in last["text/plain"] and 'class="wb-succeeded"' in last["text/html"]
    # What the saved notebook keeps is the final state, once (the statement has no result).
    outputs = cell(notebook, cell_id).outputs
    assert [o.output_type for o in outputs] == ["display_data"]
    assert ": succeeded" in outputs[0].data["text/plain"]

    assert result(notebook, "yandex-result")["text/plain"] == "('succeeded', 'tour-web-1', 'READY')"
    assert result(notebook, "kusto-show")["text/plain"] == "'Succeeded'"


def test_batch_filter_and_csv_export(executed: tuple[Any, RecordingClient, Path]) -> None:
    notebook, _, work = executed
    listing = result(notebook, "batch-filter")
    assert "where filter=osType eq 'linux' and verificationType eq 'verified'" in listing["text/plain"]
    with (work / "batch-linux-verified.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and all(r["osType"] == "linux" and r["verificationType"] == "verified" for r in rows)
    assert listing["text/plain"].startswith("8 images")  # the first 8 of them, shown
    printed = "".join(o.text for o in cell(notebook, "batch-csv").outputs if o.output_type == "stream")
    assert printed.startswith("provider,id,name,status,os,size,created,nodeAgentSKUId")
    records = result(notebook, "batch-records")["text/plain"]
    assert "'provider': 'batch'" in records and "'osType': 'linux'" in records
