"""The per-provider request editors, hosted as the app hosts them.

Every test runs the real ``WorkbenchApp`` on a ``Workspace`` whose drivers talk to
the simulator in-process (``httpx.ASGITransport``), opens the editor the way the
user does (``l`` then ``e`` on the highlighted image, or ``n``), fills it through a
Pilot (keys where typing itself matters, values elsewhere: each key is a round
trip through the host's live preview), and checks the previewed request, the
inline errors, and what the simulator ends up with after ``ctrl+s``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, RadioButton, Select, Switch, TextArea

from tests.tui.helpers import HeldResponses, SimWorkspace, wait_for
from workbench.connect import Workspace
from workbench.core.images import ImageSummary
from workbench.core.operations import Operation, OperationStatus
from workbench.profiles.importers import from_simulator
from workbench.tui.app import WorkbenchApp
from workbench.tui.editors import editor_for
from workbench.tui.editors.base import FieldError
from workbench.tui.editors.batch import BatchEditor
from workbench.tui.editors.fields import FormEditor, parse_labels, parse_size, raise_problems
from workbench.tui.editors.glance import GlanceEditor, PatchRow
from workbench.tui.editors.kusto import KustoEditor
from workbench.tui.editors.yandex import YandexEditor
from workbench.tui.screens.editor import EditorScreen

GiB = 1024**3
SIZE = (120, 40)


# -- fixtures ----------------------------------------------------------------------
@pytest.fixture
async def workspace(tmp_path: Path, sim_app, sim_endpoints) -> Workspace:
    """A workspace with the simulator's demo profiles, its drivers in-process."""
    ws = Workspace(tmp_path / "home", transport=httpx.ASGITransport(app=sim_app), on_warning=lambda text: None)
    for candidate in from_simulator(sim_endpoints):
        ws.profiles.save(candidate.profile)
        candidate.use_for_session(ws.secrets)
    yield ws
    await ws.aclose()


@pytest.fixture
def app(workspace: Workspace) -> WorkbenchApp:
    return WorkbenchApp(workspace=workspace, close_workspace=False)


async def open_profile(app: WorkbenchApp, pilot: Pilot, profile: str) -> None:
    await wait_for(pilot, app.ready.is_set, "the workspace")
    app.open_profile(profile)
    await wait_for(pilot, lambda: app.images.profile == profile and not app.images.loading
                and app.images.image_list.shown_count > 0, f"{profile}'s images")


async def open_editor(app: WorkbenchApp, pilot: Pilot, profile: str, *, new: bool = False,
                      which: Callable[[ImageSummary], bool] | None = None) -> EditorScreen:
    """Open ``profile``'s images and the editor on the first image ``which``
    accepts (the first one when None), or a new image's editor, with the app's keys."""
    await open_profile(app, pilot, profile)
    images = app.images.image_list
    if which is not None:
        images.move_cursor(next(i for i, image in enumerate(images.shown_images) if which(image)))
    await pilot.press("l", "n" if new else "e")
    screen = await wait_for(pilot, lambda: isinstance(app.screen, EditorScreen) and app.screen, "the editor")
    assert screen.editor is not None, screen.placeholder
    await pilot.pause()
    return screen


async def type_into(pilot: Pilot, widget: Widget, text: str, *, keys: bool = False) -> None:
    """Focus ``widget`` and enter ``text``: as key presses with ``keys`` (each one
    a round trip through the app and the host's preview), else as the value."""
    widget.focus()
    await pilot.pause()
    if isinstance(widget, Input):
        widget.value = "" if keys else text
    elif isinstance(widget, TextArea):
        widget.clear() if keys else widget.load_text(text)
    if keys:
        for char in text:
            await pilot.press("enter" if char == "\n" else char)
    await pilot.pause()


def text_of(widget: Widget) -> str:
    """The plain text a Static shows (its content may be a rich Group of Texts)."""
    content = widget.content
    parts = getattr(content, "renderables", [content])
    return "\n".join(getattr(part, "plain", str(part)) for part in parts)


def preview_of(screen: EditorScreen) -> Any:
    """The exact HTTP request the host previews (masked), and the text it shows."""
    request = screen.refresh_preview()
    assert request is not None, str(screen.query_one("#request-preview").content)
    return screen.driver.preview(request).masked(), str(screen.query_one("#request-preview").content)


def problems_shown(screen: EditorScreen) -> str:
    return str(screen.query_one("#request-preview").content)


async def send(pilot: Pilot, screen: EditorScreen) -> None:
    await pilot.press("ctrl+s")
    await pilot.pause()


async def confirm(pilot: Pilot, app: WorkbenchApp) -> None:
    """Answer the host's "this request is costly" question with yes."""
    await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "the confirmation")
    await pilot.press("y")


async def operation_done(pilot: Pilot, workspace: Workspace, before: set[str]) -> Operation:
    """The operation the last send started, once the tracker saw it finish."""
    op = await wait_for(pilot, lambda: next((o for o in workspace.tracker.operations if o.id not in before), None),
                     "the operation to be tracked")
    await wait_for(pilot, lambda: op.done, f"operation {op.id} to finish", timeout=20)
    return op


# -- parsers -----------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("", 0), ("4194304", 4194304), ("20 GiB", 20 * GiB), ("20GiB", 20 * GiB), ("20 G", 20 * GiB),
    ("512 MiB", 512 * 1024**2), ("1.5 GiB", 3 * GiB // 2), ("10 GB", 10 * 1000**3), ("1 TiB", 1024**4),
])
def test_sizes_with_units(text: str, expected: int) -> None:
    assert parse_size(text, "minDiskSize") == expected


@pytest.mark.parametrize("text", ["20 XB", "GiB", "-1 GiB", "1.0000000001 KiB"])
def test_bad_sizes_name_the_field(text: str) -> None:
    with pytest.raises(FieldError) as caught:
        parse_size(text, "minDiskSize")
    assert caught.value.field == "minDiskSize"


def test_labels_as_lines_or_commas() -> None:
    assert parse_labels("env=prod\nteam=web, tier = front\n\n") == {"env": "prod", "team": "web", "tier": "front"}
    with pytest.raises(FieldError, match="line 2: expected key=value"):
        parse_labels("env=prod\njunk")
    with pytest.raises(FieldError, match="given twice"):
        parse_labels("a=1,a=2")


def test_several_problems_are_raised_for_the_host_to_list() -> None:
    from workbench.tui.editors.base import field_errors

    with pytest.raises(Exception) as caught:
        raise_problems([FieldError("name", "bad name"), FieldError("operations[2].path", "read-only")])
    found = field_errors(caught.value)
    assert [(p.field, p.message) for p in found] == [("name", "bad name"), ("operations[2].path", "read-only")]


# -- Glance / IMS ----------------------------------------------------------------------------
def active_with_os_version(image: ImageSummary) -> bool:
    return isinstance(image.raw, dict) and "os_version" in image.raw and image.status == "active"


async def test_glance_patch_in_both_dialects(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-glance", which=active_with_os_version)
        editor = screen.editor
        assert isinstance(editor, GlanceEditor)
        image, driver = editor.image, screen.driver
        await wait_for(pilot, lambda: editor.current.get("updated_at"), "the image as it stands")
        editor.query_one("#mode-operations", RadioButton).value = True
        await pilot.pause()
        assert "no operations yet" in problems_shown(screen)

        row = await editor.add_operation()
        await type_into(pilot, row.path_input, "/name", keys=True)
        await type_into(pilot, row.value_input, "web-renamed")
        await pilot.press("ctrl+n")  # a second row, with the key
        row = editor.rows[1]
        assert screen.focused is row.path_input
        await type_into(pilot, row.path_input, "/os_version")
        row.op_select.value = "remove"
        await pilot.pause()
        assert row.value_input.disabled
        row = await editor.add_operation("add", "/build_id", "")
        await type_into(pilot, row.value_input, "b-42")
        # Move the add above the remove (alt+up on the focused row), then remove and re-add nothing.
        row.value_input.focus()
        await pilot.press("alt+up")
        assert [r.path for r in editor.rows] == ["/name", "/build_id", "/os_version"]
        assert [r.field for r in editor.rows] == ["operations[0]", "operations[1]", "operations[2]"]

        preview, shown = preview_of(screen)
        expected_v21 = [
            {"op": "replace", "path": "/name", "value": "web-renamed"},
            {"op": "add", "path": "/build_id", "value": "b-42"},
            {"op": "remove", "path": "/os_version"},
        ]
        assert preview.method == "PATCH"
        assert preview.url.endswith(f"/v2/images/{image.id}")
        assert preview.header("Content-Type") == "application/openstack-images-v2.1-json-patch"
        assert preview.json == expected_v21
        assert json.dumps(expected_v21, indent=2) in shown
        assert "X-Auth-Token: ***" in shown or "***" in shown

        editor.query_one("#dialect-v20", RadioButton).value = True
        await pilot.pause()
        preview, shown = preview_of(screen)
        expected_v20 = [
            {"replace": "/name", "value": "web-renamed"},
            {"add": "/build_id", "value": "b-42"},
            {"remove": "/os_version"},
        ]
        assert preview.header("Content-Type") == "application/openstack-images-v2.0-json-patch"
        assert preview.json == expected_v20
        assert json.dumps(expected_v20, indent=2) in shown

        await send(pilot, screen)
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close after sending")
        # The answer (the image as patched) replaced the image in the list.
        listed = next(i for i in app.images.image_list.images if i.id == image.id)
        assert listed.name == "web-renamed"
        after = await driver.get_image(image.id)
    assert after.name == "web-renamed"
    assert after.raw.properties.get("build_id") == "b-42"
    assert "os_version" not in after.raw.properties


async def test_glance_rows_can_be_reordered_and_removed_with_buttons(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-glance")
        editor = screen.editor
        assert isinstance(editor, GlanceEditor)
        editor.query_one("#mode-operations", RadioButton).value = True
        for path, value in (("/a", "1"), ("/b", "2"), ("/c", "3")):
            await editor.add_operation("add", path, value)
        await pilot.pause()
        first = editor.rows[0]
        await pilot.click(first.query_one(".move-down"))
        assert [r.path for r in editor.rows] == ["/b", "/a", "/c"]
        await pilot.click(editor.rows[1].query_one(".remove-row"))
        await wait_for(pilot, lambda: len(editor.rows) == 2, "the row to go")
        assert [(r.field, r.path) for r in editor.rows] == [("operations[0]", "/b"), ("operations[1]", "/c")]
        preview, _ = preview_of(screen)
        assert [op["path"] for op in preview.json] == ["/b", "/c"]


async def test_glance_fields_give_a_computed_patch(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-glance", which=active_with_os_version)
        editor = screen.editor
        assert isinstance(editor, GlanceEditor) and editor.fields_mode  # the default
        image, driver, before = editor.image, screen.driver, editor.image.raw
        await wait_for(pilot, lambda: editor.current.get("updated_at"), "the image as it stands")
        assert "no changes yet" in problems_shown(screen)
        assert "no changes yet" in editor.general_problems  # a note in the form, not an error
        assert editor.query_one("#form-problems").has_class("-nothing-yet")
        assert editor.query_one("#name", Input).value == before["name"]

        await type_into(pilot, editor.query_one("#name", Input), "edited-name")
        min_ram = int(before.get("min_ram") or 0) + 512
        await type_into(pilot, editor.query_one("#min_ram", Input), str(min_ram))
        properties = editor.query_one("#properties", TextArea)
        lines = [line for line in properties.text.splitlines() if not line.startswith("os_version=")]
        lines = [line if not line.startswith("architecture=") else "architecture=aarch64" for line in lines]
        await type_into(pilot, properties, "\n".join([*lines, "owner_team=images"]))
        preview, shown = preview_of(screen)
        assert preview.header("Content-Type") == "application/openstack-images-v2.1-json-patch"
        ops = sorted(preview.json, key=lambda op: op["path"])
        assert ops == [
            {"op": "replace", "path": "/architecture", "value": "aarch64"},
            {"op": "replace", "path": "/min_ram", "value": min_ram},
            {"op": "replace", "path": "/name", "value": "edited-name"},
            {"op": "remove", "path": "/os_version"},
            {"op": "add", "path": "/owner_team", "value": "images"},
        ]
        # A bad value is caught before anything is computed, next to its field.
        await type_into(pilot, editor.query_one("#min_disk", Input), "ten")
        assert "whole number" in editor.field_error("min_disk")
        assert editor.query_one("#min_disk", Input).has_class("-invalid")
        await type_into(pilot, editor.query_one("#min_disk", Input), "10")
        assert editor.field_error("min_disk") == ""

        await send(pilot, screen)
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")
        after = (await driver.get_image(image.id)).raw.to_api()
    assert (after["name"], after["min_ram"], after["min_disk"]) == ("edited-name", min_ram, 10)
    assert after["architecture"] == "aarch64" and after["owner_team"] == "images" and "os_version" not in after


async def test_ims_restriction_and_read_only_rules_are_shown_inline(app: WorkbenchApp, workspace: Workspace) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-ims")
        editor = screen.editor
        assert isinstance(editor, GlanceEditor) and editor.title == "IMS image patch"
        await wait_for(pilot, lambda: editor.current.get("updated_at"), "the image as it stands")
        editor.query_one("#mode-operations", RadioButton).value = True
        ok = await editor.add_operation("replace", "/name", "ims-renamed")
        row = await editor.add_operation("replace", "", "40")
        await type_into(pilot, row.path_input, "/min_disk")
        third = await editor.add_operation("replace", "/status", "active")
        await pilot.pause()

        assert "cannot change on Huawei IMS" in editor.field_error("operations[1]")
        assert row.path_input.has_class("-invalid") and not ok.path_input.has_class("-invalid")
        assert "read-only" in editor.field_error("operations[2]")
        assert third.path_input.has_class("-invalid")
        assert editor.field_error("operations[0]") == ""
        shown = problems_shown(screen)
        assert "Not ready to send" in shown and "operations[1].path" in shown and "operations[2].path" in shown

        requests_before = len(workspace.request_log.entries())
        await send(pilot, screen)
        assert isinstance(app.screen, EditorScreen)  # nothing sent: the rules stop it
        assert "Not sent" in text_of(screen.query_one("#send-error"))
        assert len(workspace.request_log.entries()) == requests_before

        # Fields mode shows what IMS keeps fixed, and edits the rest.
        editor.query_one("#mode-fields", RadioButton).value = True
        await pilot.pause()
        for field in ("visibility", "min_disk", "min_ram"):
            assert editor.query_one(f"#{field}").disabled
            assert "fixed on Huawei IMS" in text_of(editor.query_one(f"#field-{field} .editor-hint"))
        assert "__description" in text_of(editor.query_one("#field-description .editor-label"))
        await type_into(pilot, editor.query_one("#description", Input), "patched on IMS")
        preview, _ = preview_of(screen)
        assert preview.json == [{"op": "replace", "path": "/__description", "value": "patched on IMS"}]


# -- Yandex ------------------------------------------------------------------------------------
SOURCES = ("imageId", "diskId", "snapshotId", "uri")


async def fill_yandex(pilot: Pilot, editor: YandexEditor, source: str, value: str, name: str) -> None:
    editor.query_one(f"#source-{source}", RadioButton).value = True
    await pilot.pause()
    for other in SOURCES:
        assert editor.query_one(f"#field-{other}").display == (other == source)
    await type_into(pilot, editor.query_one(f"#{source}", Input), value)
    await type_into(pilot, editor.query_one("#name", Input), name, keys=len(name) < 12)


async def test_yandex_create_from_each_source_kind(app: WorkbenchApp, workspace: Workspace,
                                                   sim_endpoints: dict) -> None:
    ids = sim_endpoints["yandex_ids"]
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(app, pilot, "demo-yandex")
        source_image = app.images.image_list.shown_images[0]
        values = {
            "imageId": source_image.id,
            "diskId": ids["disk_ids"][0],
            "snapshotId": ids["snapshot_ids"][0],
            "uri": "https://storage.yandexcloud.net/demo-bucket/images/web-3.qcow2",
        }
        for source in SOURCES:
            screen = await open_editor(app, pilot, "demo-yandex", new=True)
            editor = screen.editor
            assert isinstance(editor, YandexEditor)
            await fill_yandex(pilot, editor, source, values[source], f"from-{source.lower()}")
            if source == "uri":  # every other documented field, once
                await type_into(pilot, editor.query_one("#family", Input), "web-server")
                await type_into(pilot, editor.query_one("#description", Input), "built by the pipeline")
                await type_into(pilot, editor.query_one("#labels", TextArea), "env=prod\nteam=web")
                await type_into(pilot, editor.query_one("#minDiskSize", Input), "20 GiB")
                assert "21,474,836,480 bytes" in str(editor.query_one("#field-minDiskSize .editor-hint").content)
                editor.query_one("#os", Select).value = "LINUX"
                editor.query_one("#pooled", Switch).value = True
                await type_into(pilot, editor.query_one("#productIds", Input), "f2e1, f2e2")
            preview, shown = preview_of(screen)
            body = preview.json
            assert preview.method == "POST" and preview.url.endswith("/compute/v1/images")
            assert body[source] == values[source]
            assert [key for key in SOURCES if key in body] == [source]  # exactly one source
            assert body["folderId"] == ids["folder_id"] and body["name"] == f"from-{source.lower()}"
            key = preview.header("Idempotency-Key")
            assert key and key in shown
            if source == "uri":
                assert body["minDiskSize"] == str(20 * GiB)
                assert body["labels"] == {"env": "prod", "team": "web"}
                assert (body["family"], body["os"], body["pooled"]) == ("web-server", {"type": "LINUX"}, True)
                assert body["productIds"] == ["f2e1", "f2e2"]
            known = {op.id for op in workspace.tracker.operations}
            await send(pilot, screen)  # a create is costly: the host asks first
            await confirm(pilot, app)
            op = await operation_done(pilot, workspace, known)
            assert op.status is OperationStatus.SUCCEEDED, op.error
            assert op.provider == "yandex" and op.kind == "create"
            await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")
            driver = app.images.stream.driver
            created = await driver.get_image(op.poll_state["image_id"])
            assert created.name == f"from-{source.lower()}" and created.status == "READY"


async def test_yandex_update_sends_only_what_changed(app: WorkbenchApp, workspace: Workspace) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-yandex")
        editor = screen.editor
        assert isinstance(editor, YandexEditor) and editor.updating
        image = editor.image
        assert not editor.query_one("#field-source").display  # an update has no source
        assert "nothing to update yet" in problems_shown(screen)
        await type_into(pilot, editor.query_one("#description", Input), "updated from the editor")
        await type_into(pilot, editor.query_one("#labels", TextArea), "env=staging")
        preview, _ = preview_of(screen)
        assert preview.method == "PATCH" and preview.url.endswith(f"/compute/v1/images/{image.id}")
        assert preview.json == {"updateMask": "description,labels", "description": "updated from the editor",
                                "labels": {"env": "staging"}}
        # "A new image from it" turns the same form into a create from this image.
        editor.query_one("#action-create", RadioButton).value = True
        await pilot.pause()
        assert editor.query_one("#field-imageId").display
        assert editor.query_one("#imageId", Input).value == image.id
        assert "name of the image this one is made from" in editor.field_error("name")
        editor.query_one("#action-update", RadioButton).value = True
        await pilot.pause()

        known = {op.id for op in workspace.tracker.operations}
        await send(pilot, screen)  # an update is neither costly nor destructive: no question
        op = await operation_done(pilot, workspace, known)
        assert op.status is OperationStatus.SUCCEEDED and op.kind == "update"
        updated = await app.images.stream.driver.get_image(image.id)
        assert updated.raw.description == "updated from the editor" and updated.raw.labels == {"env": "staging"}


async def test_yandex_inline_validation_names_each_field(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-yandex", new=True)
        editor = screen.editor
        assert isinstance(editor, YandexEditor)
        assert "required" in editor.field_error("imageId")
        await fill_yandex(pilot, editor, "uri", "http://example.com/disk.iso", "Bad_Name")
        await type_into(pilot, editor.query_one("#family", Input), "x")
        await type_into(pilot, editor.query_one("#labels", TextArea), "Env=prod")
        await type_into(pilot, editor.query_one("#minDiskSize", Input), "20 parsecs")
        assert "does not match" in editor.field_error("name")
        assert "does not match" in editor.field_error("family")
        assert "https://" in editor.field_error("uri")
        assert "key 'Env'" in editor.field_error("labels")
        assert "not a size" in editor.field_error("minDiskSize")
        shown = problems_shown(screen)
        for field in ("name", "family", "uri", "labels", "minDiskSize"):
            assert f"• {field}: " in shown
        await type_into(pilot, editor.query_one("#minDiskSize", Input), "1 MiB")
        assert "between 4194304 and" in editor.field_error("minDiskSize")


async def test_a_failing_request_keeps_every_typed_field(app: WorkbenchApp, workspace: Workspace,
                                                         sim_endpoints: dict) -> None:
    disk = sim_endpoints["yandex_ids"]["disk_ids"][1]
    async with app.run_test(size=SIZE) as pilot:
        await open_profile(app, pilot, "demo-yandex")
        taken = next(image.name for image in app.images.image_list.shown_images if image.name)
        screen = await open_editor(app, pilot, "demo-yandex", new=True)
        editor = screen.editor
        assert isinstance(editor, YandexEditor)
        await fill_yandex(pilot, editor, "diskId", disk, taken)  # the name is in use: the API says 409
        await type_into(pilot, editor.query_one("#family", Input), "kept-family")
        await type_into(pilot, editor.query_one("#description", Input), "kept description")
        await type_into(pilot, editor.query_one("#labels", TextArea), "keep=yes")
        await type_into(pilot, editor.query_one("#minDiskSize", Input), "30 GiB")
        editor.query_one("#os", Select).value = "WINDOWS"
        await pilot.pause()
        typed = {id: editor.query_one(f"#{id}", Input).value
                 for id in ("folderId", "diskId", "name", "family", "description", "minDiskSize")}
        key = preview_of(screen)[0].header("Idempotency-Key")

        await send(pilot, screen)
        await confirm(pilot, app)
        error = await wait_for(pilot, lambda: screen.error, "the send to fail")
        assert getattr(error, "status", None) == 409 and getattr(error, "code", "") == "ALREADY_EXISTS"
        assert app.screen is screen  # still open
        panel = text_of(screen.query_one("#send-error"))
        assert "ALREADY_EXISTS" in panel and "The edit is kept" in panel
        assert "already exists" in editor.field_error("name")
        assert {id: editor.query_one(f"#{id}", Input).value for id in typed} == typed
        assert editor.query_one("#labels", TextArea).text == "keep=yes"
        assert editor.query_one("#os", Select).value == "WINDOWS"
        assert editor.source == "diskId"
        assert preview_of(screen)[0].header("Idempotency-Key") == key  # the same body: a retry, same key

        # Fix the one field and send again: a new body, so a new key, and it works.
        known = {op.id for op in workspace.tracker.operations}
        await type_into(pilot, editor.query_one("#name", Input), "a-fresh-name")
        assert editor.field_error("name") == ""
        assert preview_of(screen)[0].header("Idempotency-Key") != key
        await send(pilot, screen)
        await confirm(pilot, app)
        op = await operation_done(pilot, workspace, known)
        assert op.status is OperationStatus.SUCCEEDED, op.error


# -- closing the editor ---------------------------------------------------------------------------
def is_yandex_create(request: httpx.Request) -> bool:
    return request.method == "POST" and request.url.path.endswith("/compute/v1/images")


async def test_escape_while_sending_keeps_the_editor_and_the_send_outlives_it(tmp_path: Path) -> None:
    sim = SimWorkspace(tmp_path / "home",
                       transport=lambda inner: HeldResponses(inner, hold=is_yandex_create))
    held = sim.transport
    disk = sim.endpoints["yandex_ids"]["disk_ids"][0]
    app = WorkbenchApp(workspace=sim.workspace, close_workspace=False)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await open_editor(app, pilot, "demo-yandex", new=True)
        editor = screen.editor
        assert isinstance(editor, YandexEditor)
        await fill_yandex(pilot, editor, "diskId", disk, "sent-once")
        known = {op.id for op in sim.workspace.tracker.operations}
        await send(pilot, screen)
        await confirm(pilot, app)
        # The simulator has the create; its answer has not reached the app yet.
        await wait_for(pilot, held.held.is_set, "the create to reach the simulator")
        await pilot.press("escape")
        assert app.screen is screen and screen.sending
        assert any("still sending" in str(n.message).lower() for n in app._notifications)
        # Even with the editor gone some other way, the send goes on: it is the app's.
        app.pop_screen()
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to go")
        held.release.set()
        op = await operation_done(pilot, sim.workspace, known)
        assert op.status is OperationStatus.SUCCEEDED, op.error
        assert op.id in app.operations.operations  # the operations pane follows it
        assert any("follow it in the operations pane" in str(n.message) for n in app._notifications)
        driver = app.images.stream.driver
        created = [image async for image in driver.list_images() if image.name == "sent-once"]
        assert len(created) == 1
    await sim.workspace.aclose()


async def test_escape_asks_before_discarding_a_changed_edit(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        # An editor nothing was typed into closes at once, whatever it loaded meanwhile.
        screen = await open_editor(app, pilot, "demo-glance")
        await wait_for(pilot, lambda: screen.editor.current.get("updated_at"), "the image as it stands")
        await pilot.pause()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the untouched editor to close")
        for profile, new in (("demo-kusto", True), ("demo-kusto", False), ("demo-batch", True),
                             ("demo-yandex", False)):
            screen = await open_editor(app, pilot, profile, new=new)
            await pilot.pause()
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), f"{profile}'s editor to close")

        # Something typed: Esc asks first; "no" keeps every character.
        screen = await open_editor(app, pilot, "demo-yandex", new=True)
        editor = screen.editor
        await type_into(pilot, editor.query_one("#description", Input), "half-written")
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", "the question")
        assert "discard" in str(app.screen.question).lower()
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is screen, "the editor back")
        assert editor.query_one("#description", Input).value == "half-written"
        # Typed back to what it was: nothing to lose, so nothing to ask.
        await type_into(pilot, editor.query_one("#description", Input), "")
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")
        # "yes" discards it.
        screen = await open_editor(app, pilot, "demo-yandex", new=True)
        await type_into(pilot, screen.editor.query_one("#name", Input), "never-sent")
        await pilot.press("escape")
        await confirm(pilot, app)
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")


# -- Kusto ---------------------------------------------------------------------------------------
async def test_kusto_put_reaches_succeeded(app: WorkbenchApp, workspace: Workspace, tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy==1.26.4\npandas==2.2.2\n", encoding="utf-8")
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-kusto", new=True)
        editor = screen.editor
        assert isinstance(editor, KustoEditor)
        await wait_for(pilot, lambda: editor.cluster_images, "the cluster's images to be listed")
        select = editor.query_one("#baseImageName", Select)
        for name in ("Python3_10_8", *editor.cluster_images):  # each one can be picked
            select.value = name
        select.clear()

        await type_into(pilot, editor.query_one("#name", Input), "ml-runtime")
        await type_into(pilot, editor.query_one("#languageVersion", Input), "3.11.7")
        await type_into(pilot, editor.query_one("#requirementsFile", Input), str(tmp_path / "missing.txt"))
        assert "not loaded" in editor.field_error("requirementsFile")
        await pilot.press("enter")  # load it: it does not exist
        await wait_for(pilot, lambda: "does not exist" in editor.field_error("requirementsFile"), "the load error")
        await type_into(pilot, editor.query_one("#requirementsFile", Input), str(requirements))
        await pilot.click("#load-requirements")
        await wait_for(pilot, lambda: editor.query_one("#requirements", TextArea).text == requirements.read_text(),
                    "the file's content")

        preview, _ = preview_of(screen)
        assert preview.method == "PUT" and "/sandboxCustomImages/ml-runtime?api-version=" in preview.url
        assert preview.json == {"properties": {"language": "Python", "languageVersion": "3.11.7",
                                               "requirementsFileContent": requirements.read_text()}}

        # The base image instead of the version: exactly one of them is sent.
        editor.query_one("#base-image", RadioButton).value = True
        await pilot.pause()
        assert "required" in editor.field_error("baseImageName")
        assert not editor.query_one("#field-languageVersion").display
        base = editor.cluster_images[0]
        select.value = base
        await pilot.pause()
        preview, _ = preview_of(screen)
        assert preview.json["properties"].get("baseImageName") == base
        assert "languageVersion" not in preview.json["properties"]

        known = {op.id for op in workspace.tracker.operations}
        await send(pilot, screen)
        op = await operation_done(pilot, workspace, known)
        assert op.status is OperationStatus.SUCCEEDED, op.error
        assert op.provider == "kusto" and op.target == "ml-runtime"
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")
        listed = await wait_for(pilot, lambda: next((i for i in app.images.image_list.images if i.id == "ml-runtime"),
                                                 None), "the new image in the list")
        await wait_for(pilot, lambda: next(i for i in app.images.image_list.images if i.id == "ml-runtime").status
                    == "Succeeded", "the list to show it Succeeded")
        assert listed.extras["baseImageName"] == base


async def test_kusto_edit_starts_from_the_image(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-kusto")
        editor = screen.editor
        assert isinstance(editor, KustoEditor)
        image = editor.image
        props = image.raw["properties"]
        assert editor.query_one("#name", Input).value == image.name
        preview, _ = preview_of(screen)
        expected = {k: v for k, v in props.items() if k in ("language", "languageVersion", "baseImageName",
                                                            "requirementsFileContent")}
        assert preview.json == {"properties": expected}


# -- Batch ----------------------------------------------------------------------------------------
async def test_batch_browse_with_a_filter(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-batch", new=True)
        everything = app.images.image_list.total_count
        editor = screen.editor
        assert isinstance(editor, BatchEditor) and editor.mode == "browse"
        editor.query_one("#osType", Select).value = "linux"
        await type_into(pilot, editor.query_one("#publisher", Input), "Canonical")
        await type_into(pilot, editor.query_one("#maxresults", Input), "5")
        odata_text = "osType eq 'linux' and imageReference/publisher eq 'Canonical'"
        assert editor.query_one("#filter", Input).value == odata_text
        preview, _ = preview_of(screen)
        query = httpx.URL(preview.url).params
        assert query["$filter"] == odata_text and query["maxresults"] == "5"
        assert editor.list_filters() == {"filter": odata_text, "maxresults": 5}

        await send(pilot, screen)  # "apply": the list reloads with the filter
        await wait_for(pilot, lambda: not isinstance(app.screen, EditorScreen), "the editor to close")
        await wait_for(pilot, lambda: not app.images.loading and app.images.image_list.total_count > 0,
                    "the filtered list")
        await pilot.press("M")  # load every page of the filtered list
        await wait_for(pilot, lambda: app.images.stream is not None and app.images.stream.done, "all pages")
        shown = app.images.image_list.images
        assert 0 < len(shown) < everything
        assert all(i.extras["osType"] == "linux" and i.extras["publisher"] == "Canonical" for i in shown)


async def test_batch_raw_filter_round_trip(app: WorkbenchApp) -> None:
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_editor(app, pilot, "demo-batch", new=True)
        editor = screen.editor
        assert isinstance(editor, BatchEditor)
        raw = editor.query_one("#filter", Input)
        assert raw.disabled  # shown, not editable, while the builder builds it
        editor.query_one("#raw", Switch).value = True
        await pilot.pause()
        assert not raw.disabled and editor.query_one("#publisher", Input).disabled
        await type_into(pilot, raw, "osType eq 'windows' or osType eq")
        assert "expected" in editor.field_error("filter")
        await type_into(pilot, raw, "osType eq 'windows' or verificationType ne 'verified'")
        assert editor.field_error("filter") == ""
        preview, _ = preview_of(screen)
        assert httpx.URL(preview.url).params["$filter"] == "osType eq 'windows' or verificationType ne 'verified'"
        # The builder cannot express "or": raw mode stays on and says why.
        editor.query_one("#raw", Switch).value = False
        await pilot.pause()
        assert editor.query_one("#raw", Switch).value
        assert "cannot show this filter" in str(editor.query_one("#field-raw .editor-hint").content)
        # A filter it can express goes back into its fields.
        await type_into(pilot, raw, "verificationType eq 'verified' and imageReference/sku eq '22_04-lts'")
        editor.query_one("#raw", Switch).value = False
        await pilot.pause()
        assert editor.query_one("#verificationType", Select).value == "verified"
        assert editor.query_one("#sku", Input).value == "22_04-lts"
        assert raw.disabled


# -- small screens and the registry ----------------------------------------------------------------
async def test_editors_are_usable_at_80x24(app: WorkbenchApp) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_editor(app, pilot, "demo-yandex", new=True)
        editor = screen.editor
        assert isinstance(editor, YandexEditor)
        pane = screen.query_one("#editor-pane")
        preview = screen.query_one("#preview-scroll")
        assert pane.region.height >= 6 and preview.region.height >= 4  # both readable
        wanted = {"folderId", "source", "imageId", "name", "family", "description", "labels", "minDiskSize"}
        seen: set[str | None] = set()
        # Tab through the form: every control comes into view when focused.
        for _ in range(12):
            focused = screen.focused
            if focused is not None and editor in focused.ancestors_with_self:
                await pilot.pause()
                assert pane.region.contains_region(focused.region), f"{focused!r} is out of view at 80x24"
                seen.add(focused.id)
            if wanted <= seen:
                break
            await pilot.press("tab")
        assert wanted <= seen, seen
        await type_into(pilot, editor.query_one("#imageId", Input), "fd8abc", keys=True)
        assert "fd8abc" in problems_shown(screen)


def test_editor_for_picks_each_provider_and_none_for_a_new_glance_image() -> None:
    class Stub:  # editor_for only stores the driver
        flavour = "glance"
        patch_dialect = "v2.1"
        folder_id = "b1g"

    image = ImageSummary("glance", "id-1", "one", "active", raw={"id": "id-1", "name": "one"})
    assert isinstance(editor_for("glance", Stub(), image), GlanceEditor)
    assert isinstance(editor_for("ims", Stub(), image), GlanceEditor)
    assert editor_for("glance", Stub(), None) is None
    assert isinstance(editor_for("yandex", Stub(), None), YandexEditor)
    assert isinstance(editor_for("kusto", Stub(), None), KustoEditor)
    assert isinstance(editor_for("batch", Stub(), None), BatchEditor)
    assert editor_for("nope", Stub(), None) is None
    assert all(issubclass(cls, FormEditor) for cls in (GlanceEditor, YandexEditor, KustoEditor, BatchEditor))
    assert PatchRow is not None
