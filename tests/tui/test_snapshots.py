"""Snapshot tests of the main screens (pytest-textual-snapshot).

The data is deterministic: a fresh in-process simulator (its Kusto catalog is
fixed), operations built with fixed times and a pinned clock, and request-log
entries recorded with fixed times. Update the snapshots after a deliberate
change with ``pytest tests/tui/test_snapshots.py --snapshot-update`` and look
at the report before committing them.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.tui.helpers import KustoRenameEditor, make_workspace, wait_for
from workbench.core.operations import Operation, OperationStatus
from workbench.tui.app import WorkbenchApp
from workbench.tui.screens.editor import EditorScreen
from workbench.tui.screens.help import HelpScreen
from workbench.tui.screens.inspector import InspectorScreen
from workbench.tui.screens.profile_form import ProfileFormScreen

#: 2024-05-01T12:00:00Z: "now" for every time shown.
NOW = 1_714_564_800.0


def fixed_operations() -> list[Operation]:
    running = Operation(
        id="op-running", provider="kusto", kind="create", target="torchInference2",
        status=OperationStatus.RUNNING, progress=0.4, started=NOW - 75, updated=NOW - 5, last_poll=NOW - 5,
        polls=3, profile="demo-kusto", description="Create or update sandbox custom image torchInference2",
    )
    done = Operation(
        id="op-done", provider="yandex", kind="create", target="fd8snapshotimage0001",
        status=OperationStatus.SUCCEEDED, progress=1.0, started=NOW - 300, updated=NOW - 280,
        last_poll=NOW - 280, polls=2, profile="demo-yandex", description="Create image web-2 from disk",
    )
    failed = Operation(
        id="op-failed", provider="glance", kind="upload", target="c0ffee00-0000-4000-8000-000000000001",
        status=OperationStatus.FAILED, started=NOW - 600, updated=NOW - 560, last_poll=NOW - 560, polls=4,
        profile="demo-glance", error="the upload or import failed (status killed)",
    )
    return [running, done, failed]


def app_on(tmp_path: Path, **kwargs) -> tuple[WorkbenchApp, object]:
    sim = make_workspace(tmp_path / "home")
    app = WorkbenchApp(sim.workspace, open_first=False, close_workspace=True, operations_clock=lambda: NOW,
                       **kwargs)
    return app, sim


async def open_kusto(pilot, app: WorkbenchApp) -> None:
    await wait_for(pilot, app.ready.is_set, "the workspace")
    app.open_profile("demo-kusto")
    await wait_for(pilot, lambda: app.images.stream is not None and app.images.stream.done, "the Kusto images")
    for op in fixed_operations():
        app.operations.upsert(op)
    app.images.image_list.focus()
    await pilot.pause()


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
def test_main_screen(snap_compare, tmp_path: Path, theme: str) -> None:
    app, _sim = app_on(tmp_path)

    async def run_before(pilot) -> None:
        app.theme = theme
        await open_kusto(pilot, app)

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_main_screen_at_80x24(snap_compare, tmp_path: Path) -> None:
    app, _sim = app_on(tmp_path)

    async def run_before(pilot) -> None:
        await open_kusto(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=run_before)


def test_filtered_list(snap_compare, tmp_path: Path) -> None:
    app, _sim = app_on(tmp_path)

    async def run_before(pilot) -> None:
        await open_kusto(pilot, app)
        await pilot.press("slash", *"custom")

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_help_screen(snap_compare, tmp_path: Path) -> None:
    app, _sim = app_on(tmp_path)

    async def run_before(pilot) -> None:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        await app.push_screen(HelpScreen())

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_inspector_screen(snap_compare, tmp_path: Path) -> None:
    app, sim = app_on(tmp_path)
    log = sim.workspace.request_log
    token = httpx.Request(
        "POST", "http://sim.test/entra/72f988bf-0000-4000-8000-00000000d3e0/oauth2/v2.0/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        content=b"grant_type=client_credentials&client_id=a1b2c3d4&client_secret=demo-entra-client-secret",
    )
    log.record("kusto", token, response=httpx.Response(200, headers={"Content-Type": "application/json"}),
               response_body=b'{"token_type":"Bearer","expires_in":3599,"access_token":"eyJhbGciOi.secret.sig"}',
               started=NOW - 2, duration=0.012, secrets=["demo-entra-client-secret"])
    listing = httpx.Request(
        "GET", "http://sim.test/kusto/subscriptions/12345678-1234-1234-1234-123456789098/resourceGroups/"
        "kustorptest/providers/Microsoft.Kusto/clusters/kustoCluster/sandboxCustomImages?api-version=2024-04-13",
        headers={"Authorization": "Bearer eyJhbGciOi.secret.sig", "Accept": "application/json"},
    )
    log.record("kusto", listing, response=httpx.Response(200, headers={"x-ms-request-id": "0f3c-demo"}),
               response_body=b'{"value":[{"name":"kustoCluster/customImage1","properties":{"language":"Python"}}]}',
               started=NOW - 1, duration=0.034)

    async def run_before(pilot) -> None:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        await app.push_screen(InspectorScreen(log))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_editor_screen_with_a_field_error(snap_compare, tmp_path: Path) -> None:
    app, sim = app_on(tmp_path)

    async def run_before(pilot) -> None:
        await open_kusto(pilot, app)
        driver = app.images.driver
        screen = EditorScreen(sim.workspace, "demo-kusto", "kusto", driver, None,
                              editor=KustoRenameEditor(driver, None))
        await app.push_screen(screen)
        # An empty name: the field error is shown and nothing is sent (the
        # server's errors carry random request ids: test_app covers those).
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: screen.error is not None, "the field error")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


def test_profile_form(snap_compare, tmp_path: Path) -> None:
    app, sim = app_on(tmp_path)

    async def run_before(pilot) -> None:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        await app.push_screen(ProfileFormScreen(sim.workspace, provider="yandex"))
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
