"""The operations pane lists the finished operations of earlier sessions, below this session's."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.tui.helpers import make_workspace, plain, wait_for
from workbench.connect import Workspace
from workbench.core.operations import Operation, OperationStatus
from workbench.core.opstate import history_path
from workbench.profiles.importers import from_simulator
from workbench.sim.config import SimConfig
from workbench.tui.app import WorkbenchApp

SIZE = (120, 40)


async def test_earlier_sessions_finished_operations_are_listed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = make_workspace(home, SimConfig(operation_polls=1, operation_retry_after=0))
    driver = first.workspace.driver("demo-kusto")
    done = await driver.send(driver.create_or_update("made-before", language_version="3.10.8"))
    first.workspace.track(done)
    await first.workspace.tracker.wait(done.id, timeout=30)
    failed = Operation(id="failed-before", provider="kusto", kind="delete", target="gone-before",
                       status=OperationStatus.FAILED, error="Conflict: in use", profile="demo-kusto",
                       started=time.time() - 60, updated=time.time() - 30)
    first.workspace.tracker.track(failed)
    await first.workspace.aclose()  # saves: both are finished, so both go to the history
    assert history_path(first.workspace.operations_path).exists()

    later = Workspace(home, transport=httpx.ASGITransport(app=first.asgi), on_warning=first.warnings.append)
    for candidate in from_simulator(first.endpoints):
        candidate.use_for_session(later.secrets)
    app = WorkbenchApp(later)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        pane = app.operations
        await wait_for(pilot, lambda: len(pane.earlier) == 2, "the earlier sessions' operations")
        assert pane.operations == {}  # none of this session yet
        # Newest first; final status and finish time shown.
        assert pane.table.row_ids() == [done.id, "failed-before"]
        succeeded_row = pane.table.row_text(done.id)
        assert succeeded_row[:4] == ["kusto", "create", done.target, "succeeded"]
        failed_row = pane.table.row_text("failed-before")
        assert failed_row[3] == "failed"
        assert failed_row[5] == time.strftime("%H:%M:%S", time.localtime(failed.updated))
        assert "2 earlier" in plain(pane.query_one("#operations-title"))
        pane.table.focus()
        await pilot.pause()
        assert pane.highlighted is not None and pane.highlighted.id == done.id
        assert "earlier session · succeeded" in plain(pane.query_one("#operation-detail"))
        await pilot.press("down")
        assert "Conflict: in use" in plain(pane.query_one("#operation-detail"))

        # This session's operation goes above the earlier ones and updates live; the cursor stays put.
        driver = later.driver("demo-kusto")
        op = await driver.send(driver.create_or_update("made-now", language_version="3.10.8"))
        later.track(op)
        await wait_for(pilot, lambda: op.id in pane.operations, "this session's operation")
        assert pane.table.row_ids() == [op.id, done.id, "failed-before"]
        assert pane.highlighted is not None and pane.highlighted.id == "failed-before"
        await wait_for(pilot, lambda: pane.operations[op.id].status is OperationStatus.SUCCEEDED,
                       "this session's operation to finish", timeout=30)
        assert op.id not in pane.earlier
    await later.aclose()
    # And it is in the history for the next session, newest last.
    history = later.tracker.history()
    assert [entry.id for entry in history][-1] == op.id


async def test_a_damaged_history_does_not_stop_the_app(tmp_path: Path) -> None:
    sim = make_workspace(tmp_path / "home")
    damaged = history_path(sim.workspace.operations_path)
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_text("[not json")
    app = WorkbenchApp(sim.workspace)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app.ready.is_set, "the workspace")
        assert app.operations.earlier == {}
        assert "none yet" in plain(app.operations.query_one("#operations-title"))
    assert not damaged.exists()
    assert damaged.with_suffix(".damaged.json").read_text() == "[not json"
    assert any("moved it aside" in warning for warning in sim.warnings)
    await sim.workspace.aclose()
