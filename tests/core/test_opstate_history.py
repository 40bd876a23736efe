"""The history of finished operations kept beside the shared state file."""

from __future__ import annotations

import json
import stat

from workbench.core.operations import Operation, OperationStatus, Poller, PollOutcome, read_state_file
from workbench.core.opstate import HISTORY_LIMIT, SharedStateTracker, history_path


class FinishingPoller(Poller):
    """Succeeds on the first poll, with a large answer body (which history must not keep)."""

    provider = "kusto"

    async def poll(self, op: Operation) -> PollOutcome:
        return PollOutcome(OperationStatus.SUCCEEDED, progress=1.0, raw={"blob": "x" * 10_000})


def finished_op(number: int, at: float) -> Operation:
    return Operation(id=f"op-{number:04d}", provider="kusto", kind="create", target=f"image-{number}",
                     status=OperationStatus.SUCCEEDED, started=at - 5, updated=at, raw={"big": "y" * 1000})


async def test_a_finished_operation_leaves_the_state_file_for_the_history(tmp_path):
    state = tmp_path / "state" / "operations.json"
    tracker = SharedStateTracker(state, pollers={"kusto": FinishingPoller()}, min_interval=0.0, autosave_delay=60)
    op = tracker.track(Operation(id="op-1", provider="kusto", kind="create", target="img", profile="p"))
    tracker.save()
    assert [record["id"] for record in read_state_file(state)] == ["op-1"]
    assert not history_path(state).exists()  # nothing finished yet

    await tracker.wait(op.id, timeout=10)
    tracker.save()
    assert read_state_file(state) == []
    history_file = tmp_path / "state" / "operations-history.json"
    assert history_path(state) == history_file
    assert stat.S_IMODE(history_file.stat().st_mode) == 0o600
    records = read_state_file(history_file)
    assert [(r["id"], r["status"], r["profile"]) for r in records] == [("op-1", "succeeded", "p")]
    assert records[0]["raw"] is None and records[0]["poll_log"] == []
    assert "xxxx" not in history_file.read_text()

    # Saving again does not add it twice; a new session reads it back.
    tracker.save()
    assert len(read_state_file(history_file)) == 1
    await tracker.aclose()
    later = SharedStateTracker(state)
    [earlier] = later.history()
    assert (earlier.id, earlier.status, earlier.target) == ("op-1", OperationStatus.SUCCEEDED, "img")


async def test_a_forgotten_finished_operation_still_reaches_the_history(tmp_path):
    state = tmp_path / "operations.json"
    tracker = SharedStateTracker(state, autosave_delay=60)
    tracker.track(finished_op(1, 1000.0))
    tracker.forget("op-0001")
    tracker.save()
    assert [op.id for op in tracker.history()] == ["op-0001"]


async def test_the_history_keeps_only_the_newest(tmp_path):
    state = tmp_path / "operations.json"
    first = SharedStateTracker(state, autosave_delay=60)
    for number in range(HISTORY_LIMIT + 5):
        first.track(finished_op(number, 1000.0 + number))
    first.save()
    kept = first.history()
    assert len(kept) == HISTORY_LIMIT
    assert kept[0].id == "op-0005" and kept[-1].id == f"op-{HISTORY_LIMIT + 4:04d}"

    # Another session's finished operation pushes the oldest one out.
    second = SharedStateTracker(state, autosave_delay=60)
    second.track(finished_op(9999, 5000.0))
    second.save()
    kept = second.history()
    assert len(kept) == HISTORY_LIMIT
    assert kept[0].id == "op-0006" and kept[-1].id == "op-9999"


async def test_a_damaged_history_is_moved_aside_and_does_not_stop_anything(tmp_path):
    state = tmp_path / "operations.json"
    damaged = history_path(state)
    damaged.write_text("{not json")
    warnings: list[str] = []
    tracker = SharedStateTracker(state, warn=warnings.append, autosave_delay=60)
    assert tracker.history() == []
    assert len(warnings) == 1 and "moved it aside" in warnings[0]
    aside = tmp_path / "operations-history.damaged.json"
    assert aside.read_text() == "{not json" and not damaged.exists()

    # A damaged history found while saving is moved aside too, and the history starts afresh.
    damaged.write_text(json.dumps({"version": 1, "operations": [{"id": "no-provider"}]}))
    tracker.track(finished_op(1, 1000.0))
    tracker.save()
    assert [op.id for op in tracker.history()] == ["op-0001"]
    assert (tmp_path / "operations-history.damaged-2.json").exists()
    assert len(warnings) == 2
