"""The notebook API against the embedded simulator (over loopback HTTP).

Sync calls, async calls (also a plain call made while an event loop runs, as
in Jupyter), rich display with escaping, exports, and an operation's live
progress through IPython's display machinery (a real ``InteractiveShell`` with
a display publisher that records what it is asked to publish).
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import workbench.notebook as wb
from workbench.core.errors import ApiError
from workbench.core.format import format_duration
from workbench.core.images import ImageSummary
from workbench.notebook.progress import ipython_shell
from workbench.sim.config import SimConfig

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def bench():
    # Operations finish after two polls; Retry-After 0 keeps them quick.
    bench = wb.demo(config=SimConfig(operation_polls=2, operation_retry_after=0))
    yield bench
    bench.close()


@pytest.fixture
def ipython(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A real IPython shell whose display publisher records every publish call."""
    pytest.importorskip("IPython")
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class RecordingPublisher(DisplayPublisher):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.calls: list[dict[str, Any]] = []

        def publish(self, data, metadata=None, source=None, *, transient=None, update=False) -> None:
            self.calls.append({"data": data, "transient": transient or {}, "update": update})

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    saved = sys.displayhook, sys.excepthook
    shell = InteractiveShell.instance(display_pub_class=RecordingPublisher)
    try:
        yield shell
    finally:
        InteractiveShell.clear_instance()
        sys.displayhook, sys.excepthook = saved


def summary(**fields: Any) -> ImageSummary:
    values = {"provider": "glance", "id": "i-1", "name": "one", "status": "active"} | fields
    return ImageSummary(**values)


# =========================================================================== reading
def test_images_and_image_sync(bench: wb.Workbench) -> None:
    yandex = bench.open("demo-yandex")
    assert (yandex.name, yandex.provider) == ("demo-yandex", "yandex")
    table = yandex.images(limit=3)
    assert isinstance(table, wb.ImageTable) and len(table) == 3
    assert table.maybe_more and table.limit == 3
    assert all(isinstance(image, wb.Image) and image.provider == "yandex" for image in table)
    everything = yandex.images(limit=None)
    assert len(everything) > 3 and not everything.maybe_more
    assert [image.id for image in everything[:3]] == [image.id for image in table]

    one = yandex.image(table[1].id)
    assert one.id == table[1].id and one.name == table[1].name
    assert one.raw is not None and one.raw.id == one.id  # the provider's full model
    assert one.to_dict()["raw"]["id"] == one.id


def test_filters_go_to_the_driver(bench: wb.Workbench) -> None:
    from workbench.providers.batch import odata

    batch = bench.open("demo-batch")
    windows = batch.images(limit=None, filter=odata.os_type.eq("windows"))
    everything = batch.images(limit=None)
    assert 0 < len(windows) < len(everything)
    assert {image.extras["osType"] for image in windows} == {"windows"}
    assert "filter=osType eq 'windows'" in repr(windows)
    with pytest.raises(ValueError, match="shape"):
        batch.images(shape="round")


def test_api_errors_and_unsupported_actions(bench: wb.Workbench) -> None:
    kusto = bench.open("demo-kusto")
    with pytest.raises(ApiError) as caught:
        kusto.image("noSuchImage")
    assert caught.value.status == 404
    with pytest.raises(wb.UnsupportedAction, match="patch is for Glance/IMS profiles; profile 'demo-kusto' is kusto"):
        kusto.patch("x", [])
    with pytest.raises(wb.UnsupportedAction, match="create_image is for Yandex"):
        bench.open("demo-batch").create_image(name="x")


async def test_async_calls_and_plain_calls_inside_a_running_loop(bench: wb.Workbench) -> None:
    yandex, kusto = bench.open("demo-yandex"), bench.open("demo-kusto")
    # Two awaits at once, on the caller's loop.
    first, second = await asyncio.gather(yandex.images_async(limit=4), kusto.images_async(limit=None))
    assert len(first) == 4 and {i.provider for i in first} == {"yandex"}
    assert len(second) > 0 and {i.provider for i in second} == {"kusto"}
    # A plain call while this loop is running (what a Jupyter cell does) works too.
    again = yandex.images(limit=4)
    assert [i.id for i in again] == [i.id for i in first]
    image = await yandex.image_async(first[0].id)
    assert image.id == first[0].id


def test_a_plain_call_on_the_workbench_loop_is_refused(bench: wb.Workbench) -> None:
    yandex = bench.open("demo-yandex")

    async def inside() -> Any:
        return yandex.images(limit=1)

    with pytest.raises(RuntimeError, match="use the \\*_async variant"):
        bench.run(inside())

    async def inside_async() -> int:
        return len(await yandex.images_async(limit=2))

    assert bench.run(inside_async()) == 2


# =========================================================================== display
def test_image_table_html_is_escaped() -> None:
    table = wb.ImageTable([wb.Image(summary(name=HOSTILE, extras={"os_distro": '"quoted" & <marquee>'}), "p<1>")],
                          profile="p<1>", provider="glance")
    page = table._repr_html_()
    assert "<script>" not in page and "<img" not in page and "<marquee>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in page
    assert "&quot;quoted&quot; &amp; &lt;marquee&gt;" in page and "p&lt;1&gt;" in page
    single = table[0]._repr_html_()
    assert "<script>" not in single and "&lt;script&gt;" in single
    # The plain-text forms keep the text as it is.
    assert "<script>" in repr(table) and "<script>" in str(table[0])


def test_text_and_html_tables_say_when_rows_are_left_out() -> None:
    images = [wb.Image(summary(id=f"i-{n:03}", name=f"image {n}", size=1536)) for n in range(150)]
    table = wb.ImageTable(images, profile="p", provider="glance", limit=150)
    text = repr(table)
    assert text.splitlines()[0] == "150 images (p · glance)"
    assert "i-019" in text and "i-020" not in text and "1.5 KiB" in text
    assert "… and 130 more" in text and "limit=150" in text
    page = table._repr_html_()
    assert "i-099" in page and "i-100" not in page and "… and 50 more" in page


def test_request_preview_is_the_exact_masked_request_and_sends_nothing(bench: wb.Workbench) -> None:
    kusto = bench.open("demo-kusto")
    request = kusto.put_image("previewOnly", language_version="3.10.8", requirements=f"numpy\n# {HOSTILE}\n")
    view = request.preview()
    assert view.method == "PUT"
    assert "/sandboxCustomImages/previewOnly" in view.url and "api-version=" in view.url
    assert view.headers["Authorization"] == "Bearer ***"
    assert view.body["properties"]["languageVersion"] == "3.10.8"
    assert view.body["properties"]["requirementsFileContent"].startswith("numpy\n")
    curl = request.curl(multiline=False)
    assert curl.startswith("curl -X PUT ") and "Bearer ***" in curl
    page = request._repr_html_()
    assert "&lt;script&gt;" in page and "<script>" not in page and "as curl" in page
    assert "PUT " in str(view) and "# as curl:" in str(view)
    with pytest.raises(ApiError) as caught:  # previewing sent nothing
        kusto.image("previewOnly")
    assert caught.value.status == 404


# =========================================================================== exports
def test_exports(bench: wb.Workbench, tmp_path: Path) -> None:
    table = bench.open("demo-batch").images(limit=5)
    records = table.to_records()
    assert records == [image.summary.as_dict() for image in table]
    assert "raw" not in records[0] and "raw" in table.to_records(raw=True)[0]
    assert json.loads(table.to_json()) == records
    target = tmp_path / "images.json"
    table.to_json(target)
    assert json.loads(target.read_text()) == records

    text = table.to_csv(tmp_path / "images.csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["id"] for row in rows] == [image.id for image in table]
    assert list(rows[0]) == table.columns() and "nodeAgentSKUId" in rows[0]
    assert rows[0]["size"] == ""  # unknown, not "None"
    assert (tmp_path / "images.csv").read_bytes().decode("utf-8") == text


def test_to_dataframe(bench: wb.Workbench) -> None:
    table = bench.open("demo-kusto").images(limit=3)
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="needs pandas"):
            table.to_dataframe()
    else:
        frame = table.to_dataframe()
        assert list(frame["id"]) == [image.id for image in table]
        assert list(frame.columns) == table.columns()


# =========================================================================== operations
def _operation_displays(shell: Any) -> list[dict[str, Any]]:
    return [call for call in shell.display_pub.calls if "display_id" in call["transient"]]


def test_operation_progress_updates_one_display_in_place(bench: wb.Workbench, ipython: Any) -> None:
    yandex = bench.open("demo-yandex")
    disk = bench.demo_ids["yandex"]["disk_ids"][0]
    op = yandex.create_image(name="notebook-progress", disk_id=disk).send()
    assert isinstance(op, wb.Operation)
    assert op.done and op.status == "succeeded" and op.result["name"] == "notebook-progress"

    calls = _operation_displays(ipython)
    assert calls[0]["update"] is False and all(call["update"] for call in calls[1:])
    assert len(calls) >= 3  # shown, at least one poll while running, the end
    assert len({call["transient"]["display_id"] for call in calls}) == 1
    assert "running" in calls[0]["data"]["text/plain"] and "<progress" in calls[0]["data"]["text/html"]
    final = calls[-1]["data"]
    assert "succeeded" in final["text/plain"] and 'class="wb-succeeded"' in final["text/html"]
    assert "2 polls" in final["text/plain"]
    # Evaluated in the same cell, the result is not shown a second time; in a later cell it is.
    ipython.display_pub.calls.clear()
    op._ipython_display_()
    assert ipython.display_pub.calls == []
    ipython.execution_count += 1
    op._ipython_display_()
    assert "succeeded" in ipython.display_pub.calls[-1]["data"]["text/plain"]
    assert bench.operations()[-1].id == op.id


async def test_operation_progress_with_await_leaves_the_loop_free(bench: wb.Workbench, ipython: Any) -> None:
    kusto = bench.open("demo-kusto")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    try:
        op = await kusto.put_image("notebookAsync", language_version="3.11.7").send_async()
    finally:
        task.cancel()
    assert op.status == "succeeded" and op.operation.kind == "create"
    assert op.result["name"].endswith("notebookAsync")
    assert ticks >= 5  # the caller's loop ran while the operation was polled
    calls = _operation_displays(ipython)
    assert calls[0]["update"] is False and len(calls) >= 3
    assert "succeeded" in calls[-1]["data"]["text/plain"]
    assert (await kusto.image_async("notebookAsync")).status == "Succeeded"


def test_without_ipython_progress_goes_to_a_terminal_line(bench: wb.Workbench, capsys: pytest.CaptureFixture[str]) -> None:
    assert ipython_shell() is None or type(ipython_shell()).__name__ == "TerminalInteractiveShell"
    op = bench.open("demo-kusto").put_image("notebookText", base_image_name="customImage1").send(display=True)
    err = capsys.readouterr().err
    assert "\rcreate notebookText [kusto · demo-kusto]: running" in err
    assert err.rstrip("\n").rsplit("\r", 1)[-1].startswith("create notebookText [kusto · demo-kusto]: succeeded")
    quiet = bench.open("demo-kusto").delete_image("notebookText").send(display=False)
    assert quiet.status == "succeeded" and capsys.readouterr().err == ""
    assert op.done


def test_wait_false_then_wait(bench: wb.Workbench) -> None:
    disk = bench.demo_ids["yandex"]["disk_ids"][0]
    op = bench.open("demo-yandex").create_image(name="notebook-later", disk_id=disk).send(wait=False)
    assert op.status == "running" and not op.done
    assert op.wait(timeout=30, display=False) is op
    assert op.status == "succeeded"


def test_a_finished_operation_shows_its_duration_as_the_app_and_command_line_do(bench: wb.Workbench) -> None:
    op = bench.open("demo-kusto").put_image("notebookTook", base_image_name="customImage1").send(display=False)
    took = format_duration(op.operation.updated - op.operation.started)
    assert repr(op).endswith(f" · {took}>")
    assert f" · {took}</div>" in op._repr_html_()


def test_a_failed_operation_ends_with_its_error() -> None:
    config = SimConfig(operation_polls=1, operation_retry_after=0, fault_rate=1.0, fault_kinds=("fail_operation",))
    with wb.demo(config=config) as failing:
        kusto = failing.open("demo-kusto")
        with pytest.raises(wb.OperationFailed) as caught:
            kusto.put_image("doomed", language_version="3.10.8").send(display=False)
        op = caught.value.operation
        assert op.status == "failed" and op.error
        assert op.error in str(caught.value)
        page = op._repr_html_()
        assert 'class="wb-error"' in page and 'class="wb-failed"' in page
        again = kusto.put_image("doomed2", language_version="3.10.8").send(display=False, check=False)
        assert again.failed and again.status == "failed"


# =========================================================================== lifecycle
def test_close_stops_the_simulator_and_refuses_calls() -> None:
    bench = wb.demo()
    kusto = bench.open("demo-kusto")
    assert len(kusto.images(limit=2)) == 2
    base = bench.workspace.demo_endpoints["kusto"]
    bench.close()
    assert repr(bench) == "<Workbench (closed)>"
    with pytest.raises(RuntimeError, match="closed"):
        kusto.images()
    with pytest.raises(httpx.TransportError):
        httpx.get(base, timeout=2)
    bench.close()  # twice is fine


async def test_async_context_manager() -> None:
    async with wb.demo() as bench:
        table = await bench.open("demo-batch").images_async(limit=1)
        assert len(table) == 1
    with pytest.raises(RuntimeError, match="closed"):
        await bench.open("demo-batch").images_async()


def test_workbench_display_lists_profiles(bench: wb.Workbench) -> None:
    assert bench.profiles() == ["demo-batch", "demo-glance", "demo-ims", "demo-kusto", "demo-yandex"]
    assert "demo on the embedded simulator" in repr(bench)
    assert "<td>demo-yandex</td>" in bench._repr_html_()


# =========================================================================== Glance edits
def _own_image(bench: wb.Workbench) -> wb.Image:
    glance = bench.open("demo-glance")
    return glance.image(glance.images(visibility="private", status="active", sort="name:asc")[0].id)


def test_glance_patch_and_the_minimal_edit(bench: wb.Workbench) -> None:
    glance = bench.open("demo-glance")
    image = _own_image(bench)
    request = glance.patch(image.id, [{"op": "replace", "path": "/name", "value": HOSTILE},
                                      {"op": "add", "path": "/notebook_note", "value": "<i>hi</i>"}])
    view = request.preview()
    assert view.method == "PATCH" and view.headers["Content-Type"] == "application/openstack-images-v2.1-json-patch"
    assert view.headers["X-Auth-Token"] == "***"
    patched = request.send()
    assert isinstance(patched, wb.Image) and patched.name == HOSTILE
    assert patched.raw.properties["notebook_note"] == "<i>hi</i>"

    # What the cloud now returns is shown escaped, in the list and alone.
    listing = glance.images(visibility="private", limit=None)
    page = listing._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    single = glance.image(image.id)._repr_html_()
    assert "<i>hi</i>" not in single and "&lt;i&gt;hi&lt;/i&gt;" in single

    # edit(): the minimal patch between the image as it is and as wanted.
    edit = glance.edit(patched, min_disk=patched.raw.min_disk + 5, notebook_note=None)
    assert edit.preview().body == [{"op": "replace", "path": "/min_disk", "value": patched.raw.min_disk + 5},
                                   {"op": "remove", "path": "/notebook_note"}]
    v20 = glance.edit(patched.id, {"min_disk": 99}, dialect="v2.0")  # read first, by id
    assert v20.preview().headers["Content-Type"] == "application/openstack-images-v2.0-json-patch"
    with pytest.raises(ValueError, match="read-only"):
        glance.edit(patched, checksum="0" * 32)
    restored = glance.patch(image.id, [{"op": "replace", "path": "/name", "value": image.name},
                                       {"op": "remove", "path": "/notebook_note"}]).send()
    assert restored.name == image.name


async def test_glance_edit_async(bench: wb.Workbench) -> None:
    glance = bench.open("demo-glance")
    image = await glance.image_async((await glance.images_async(visibility="private", status="active"))[0].id)
    request = await glance.edit_async(image.id, min_disk=image.raw.min_disk + 1)
    assert request.preview().body == [{"op": "replace", "path": "/min_disk", "value": image.raw.min_disk + 1}]


# =========================================================================== cancel and timeouts
def test_cancel_a_yandex_operation_and_kusto_cannot() -> None:
    from workbench.core.operations import CancelNotSupported

    slow = SimConfig(operation_polls=100, operation_retry_after=1)
    with wb.demo(config=slow) as bench:
        disk = bench.demo_ids["yandex"]["disk_ids"][0]
        op = bench.open("demo-yandex").create_image(name="notebook-cancel", disk_id=disk).send(wait=False)
        with pytest.raises(TimeoutError, match="still running after 0.3 s"):
            op.wait(timeout=0.3, display=False)
        assert op.cancel() is op
        op.wait(timeout=30, display=False, check=False)
        assert op.status == "canceled" and op.failed
        with pytest.raises(wb.OperationFailed, match="canceled"):
            op.wait(display=False)

        put = bench.open("demo-kusto").put_image("notebookSlow", language_version="3.10.8").send(wait=False)
        with pytest.raises(CancelNotSupported):
            put.cancel()
