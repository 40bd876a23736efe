"""The unfinished-operations file that all of one user's workbench processes share.

The stock ``OperationTracker.save`` writes the tracker's own operations only: two
workbench processes (an ``images create`` and an ``ops watch``) would erase each
other's records. ``SharedStateTracker`` saves by merging under a file lock: the
operations this process tracks or resumed are written (or removed once finished
or forgotten), and every other record in the file is kept as it is there, even
if this process loaded an older copy of it.

A damaged file (not JSON, another version, a record that is not an operation) is
never used and never silently overwritten: it is moved aside to
``<name>.damaged.json`` (``<name>.damaged-2.json``, ... if that exists) with a
warning, and the file starts afresh.

Finished operations leave the state file but are kept in a bounded history beside
it (``<stem>-history.json``, the newest ``HISTORY_LIMIT``), written under the same
lock, so a later session can show what earlier ones did. History records carry no
``raw``/``result`` answer bodies and no poll log: only what the operations pane shows.
A damaged history file is moved aside like the state file.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import filelock

from workbench.core.files import write_atomic
from workbench.core.operations import (
    SAVED_POLL_RECORDS,
    STATE_VERSION,
    Operation,
    OperationTracker,
    read_state_file,
)

__all__ = ["HISTORY_LIMIT", "LOCK_TIMEOUT", "SharedStateTracker", "damaged_copy_path", "history_path",
           "history_record", "read_records"]

log = logging.getLogger(__name__)

#: Seconds to wait for another process's hold on the state file.
LOCK_TIMEOUT = 30.0

#: How many finished operations the history keeps (the newest).
HISTORY_LIMIT = 200


def history_path(state_path: Path) -> Path:
    """The history file beside ``state_path``: ``operations.json`` -> ``operations-history.json``."""
    return state_path.with_name(f"{state_path.stem}-history{state_path.suffix or '.json'}")


def history_record(op: Operation) -> dict[str, Any]:
    """``op`` as kept in the history: no answer bodies, no poll log (they can be large)."""
    record = op.to_dict()
    record["raw"] = None
    record["result"] = None
    record["poll_log"] = []
    return record


def read_records(path: Path) -> dict[str, dict[str, Any]]:
    """The records in the state file by operation id ({} if there is no file).

    Raises ``ValueError`` naming the file when it is damaged.
    """
    return {str(record["id"]): record for record in read_state_file(path)}


def damaged_copy_path(path: Path) -> Path:
    """Where a damaged ``path`` is moved: ``<stem>.damaged.json``, never over an earlier one."""
    candidate = path.with_suffix(".damaged.json")
    number = 2
    while candidate.exists():
        candidate = path.with_suffix(f".damaged-{number}.json")
        number += 1
    return candidate


class SharedStateTracker(OperationTracker):
    """An ``OperationTracker`` whose ``state_path`` is shared with the user's other processes.

    ``warn`` receives the message when a damaged file is moved aside (default: logged).
    Other keyword arguments go to ``OperationTracker``.
    """

    def __init__(self, state_path: str | os.PathLike[str], *, warn: Callable[[str], None] | None = None,
                 **options: Any) -> None:
        super().__init__(state_path=state_path, **options)
        self._warn = warn
        #: Operations this process answers for in the file.
        self._owned: set[str] = set()
        self._dropped: set[str] = set()
        #: Finished operations already written to the history by this process.
        self._historied: set[str] = set()
        #: Finished operations forgotten before a save could put them in the history.
        self._forgotten_finished: list[Operation] = []

    # -- what this process answers for
    def track(self, op: Operation, **kwargs: Any) -> Operation:
        tracked = super().track(op, **kwargs)
        self._owned.add(tracked.id)
        return tracked

    def resume(self, ids: Iterable[str] | None = None) -> list[Operation]:
        started = super().resume(ids)
        self._owned.update(op.id for op in started)
        return started

    def forget(self, op_id: str) -> None:
        op = next((candidate for candidate in self.operations if candidate.id == op_id), None)
        if op is not None and op.done and op.id in self._owned and op.id not in self._historied:
            self._forgotten_finished.append(op.snapshot())
        super().forget(op_id)
        self._dropped.add(op_id)

    # -- the file
    def _lock(self, path: Path) -> filelock.BaseFileLock:
        return filelock.FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT, mode=0o600)

    def load(self, path: str | os.PathLike[str] | None = None) -> list[Operation]:
        """Read the saved operations (not polled: see ``resume``); a damaged file is
        moved aside with a warning and counts as none."""
        source = Path(path) if path is not None else self.state_path
        if source is None or not source.exists():
            return super().load(source)
        with self._lock(source):
            try:
                return super().load(source)
            except ValueError as exc:
                self._set_aside(source, exc)
                return []

    def save(self, target: str | os.PathLike[str] | None = None, *, include_finished: bool = False) -> Path:
        destination = Path(target) if target is not None else self.state_path
        if destination is None:
            raise ValueError("save: no path given and the tracker has no state_path")
        destination.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._lock(destination):
            try:
                records = read_records(destination)
            except ValueError as exc:
                self._set_aside(destination, exc)
                records = {}
            for op in self.operations:
                if op.id not in self._owned:
                    continue
                if op.done and not include_finished:
                    records.pop(op.id, None)
                else:
                    record = op.to_dict()
                    record["poll_log"] = record["poll_log"][-SAVED_POLL_RECORDS:]
                    records[op.id] = record
            for op_id in self._dropped:
                records.pop(op_id, None)
            document = {"version": STATE_VERSION, "saved_at": self._clock(), "operations": list(records.values())}
            write_atomic(destination, json.dumps(document, ensure_ascii=False, default=str).encode("utf-8"))
            if destination == self.state_path:  # the shared state file: its finished operations go to the history
                self._append_history(destination)
        return destination

    # -- the history of finished operations
    def history(self) -> list[Operation]:
        """The finished operations kept beside the state file, oldest first ([] if none).

        A damaged history file is moved aside with a warning and counts as none.
        """
        if self.state_path is None:
            return []
        source = history_path(self.state_path)
        if not source.exists():
            return []
        with self._lock(self.state_path):
            return self._read_history(source)

    def _read_history(self, source: Path) -> list[Operation]:
        """The history's operations (call with the lock held)."""
        try:
            return [Operation.from_dict(record) for record in read_state_file(source)]
        except (ValueError, TypeError) as exc:
            self._set_aside(source, exc if isinstance(exc, ValueError) else ValueError(f"{source}: {exc}"))
            return []

    def _append_history(self, state_path: Path) -> None:
        """Add this process's newly finished operations to the history (call with the lock held)."""
        finished = [op for op in self.operations
                    if op.done and op.id in self._owned and op.id not in self._historied]
        finished += self._forgotten_finished
        if not finished:
            return
        target = history_path(state_path)
        kept = {op.id: history_record(op) for op in self._read_history(target)} if target.exists() else {}
        for op in finished:
            kept.pop(op.id, None)  # a newer copy (another process also finished it) replaces it
            kept[op.id] = history_record(op)
        records = sorted(kept.values(), key=lambda record: record["updated"] or 0)[-HISTORY_LIMIT:]
        document = {"version": STATE_VERSION, "saved_at": self._clock(), "operations": records}
        write_atomic(target, json.dumps(document, ensure_ascii=False, default=str).encode("utf-8"))
        self._historied.update(op.id for op in finished)
        self._forgotten_finished.clear()

    def _set_aside(self, path: Path, problem: ValueError) -> None:
        """Move the damaged ``path`` out of the way (call with its lock held)."""
        damaged = damaged_copy_path(path)
        try:
            os.replace(path, damaged)
        except FileNotFoundError:
            return
        except OSError as exc:
            # Neither readable nor movable: refuse to write over it.
            raise OSError(exc.errno, f"{problem}; and it could not be moved aside to {damaged}: {exc.strerror}",
                          str(path)) from None
        message = f"{problem}; moved it aside to {damaged}"
        if self._warn is not None:
            self._warn(message)
        else:
            log.warning("%s", message)
