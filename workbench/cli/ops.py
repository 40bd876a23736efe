"""``workbench ops list|watch``: long-running operations, followed across runs.

An operation started by ``images create|put|delete`` is saved (in the user
state directory; ``$WORKBENCH_HOME/state`` when set) until it ends, so a later
``workbench ops watch`` resumes polling it, even from another process.

Exit status of ``watch`` and ``--wait``: 0 when every operation succeeded, 1
when one failed (or was canceled, or its deadline passed), 3 when ``--timeout``
ran out first (the operations go on, and stay saved).
"""

from __future__ import annotations

import argparse
import time
from typing import TYPE_CHECKING, Any

from workbench.cli.output import Column, Output, ProgressLine, bar, format_duration, format_time, to_jsonable
from workbench.cli.session import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CommandError, run_in_workspace

if TYPE_CHECKING:
    from workbench.connect import Workspace
    from workbench.core.operations import Operation

__all__ = ["EXIT_STILL_RUNNING", "add_parser", "follow", "operation_document", "watch"]

#: ``--timeout`` ran out while operations were still running.
EXIT_STILL_RUNNING = 3


def add_parser(subparsers: Any) -> None:
    ops = subparsers.add_parser("ops", help="long-running operations: list them, watch or resume them",
                                description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = ops.add_subparsers(dest="ops_command", metavar="SUBCOMMAND", required=True)

    listing = commands.add_parser("list", help="the unfinished operations saved by earlier runs")
    listing.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing.set_defaults(run=run_list)

    watch_parser = commands.add_parser("watch", help="resume polling saved operations and show their progress")
    watch_parser.add_argument("ids", nargs="*", metavar="ID", help="operations to watch (default: all unfinished)")
    watch_parser.add_argument("--timeout", type=float, metavar="SECONDS",
                              help="stop watching after this long (the operations go on)")
    watch_parser.add_argument("--json", action="store_true", help="print JSON for scripts")
    watch_parser.set_defaults(run=run_watch)


# =========================================================================== presenting
def operation_document(op: Operation) -> dict[str, Any]:
    """What scripts get for an operation (its poll log and resume state left out)."""
    return {
        "id": op.id,
        "provider": op.provider,
        "profile": op.profile,
        "kind": op.kind,
        "target": op.target,
        "status": op.status.value,
        "progress": op.progress,
        "started": op.started,
        "updated": op.updated,
        "polls": op.polls,
        "error": op.error,
        "timed_out": op.timed_out,
        "description": op.description,
        "result": to_jsonable(op.result),
    }


def _label(op: Operation) -> str:
    return f"{op.kind} {op.target}"


def _status_text(op: Operation, now: float | None) -> str:
    """``op``'s state in words; with the time elapsed until ``now`` unless it is None."""
    elapsed = f" {format_duration(now - op.started)}" if now is not None else ""
    if op.done:
        text = f"{op.status.value}" + (f" after{elapsed}" if elapsed else "")
        return f"{text}: {op.error}" if op.error else text
    note = f" ({op.error})" if op.error else ""
    return f"{bar(op.progress)} running{elapsed}, {op.polls} poll(s){note}"


def _result_line(op: Operation) -> str | None:
    result = op.result
    if isinstance(result, dict):
        props = result.get("properties") if isinstance(result.get("properties"), dict) else {}
        name = str(result.get("name") or "")
        ident = str(result.get("id") or "")
        if ident.startswith("/"):  # an ARM resource id: its name says it
            ident, name = name.rsplit("/", 1)[-1], ""
        status = result.get("status") or props.get("provisioningState") or ""
        parts = [p for p in (ident, f"({name})" if name and name != ident else "", status) if p]
        return "result: image " + " ".join(parts) if parts else None
    return None


# =========================================================================== following
async def follow(workspace: Workspace, op: Operation, output: Output, *, profile: str, wait: bool) -> int:
    """Track an operation a command just started; print how to watch it, or watch it (``wait``)."""
    tracked = workspace.track(op, profile=profile)
    if not wait:
        if output.json:
            output.data({"operation": operation_document(tracked),
                         "watch": f"workbench ops watch {tracked.id}"})
        elif tracked.done:
            output.line(f"{_label(tracked)}: {tracked.status.value} (operation {tracked.id})")
        else:
            output.line(f"started {_label(tracked)} on profile '{profile}': operation {tracked.id}")
            output.note(f"watch it with: workbench ops watch {tracked.id}")
        return EXIT_OK if tracked.status.value in ("running", "succeeded") else EXIT_ERROR
    if not output.json:
        output.line(f"started {_label(tracked)} on profile '{profile}': operation {tracked.id}")
    finished = await watch(workspace, [tracked], output)
    return _exit_status(finished, output, single=True)


def _exit_status(ops: list[Operation], output: Output, *, single: bool = False) -> int:
    """Print the outcome (JSON: one document, or a list unless ``single``); the exit status."""
    if output.json:
        output.data(operation_document(ops[0]) if single else [operation_document(op) for op in ops])
    else:
        for op in ops:
            line = _result_line(op)
            if line and op.status.value == "succeeded":
                output.line(line)
    if any(not op.done for op in ops):
        return EXIT_STILL_RUNNING
    if all(op.status.value == "succeeded" for op in ops):
        return EXIT_OK
    return EXIT_ERROR


async def watch(workspace: Workspace, ops: list[Operation], output: Output, *,
                timeout: float | None = None) -> list[Operation]:
    """Show live progress until every operation in ``ops`` ends (or ``timeout`` seconds pass).

    The operations must be tracked (polled) by ``workspace.tracker``. On a
    terminal one status line is redrawn in place; elsewhere a line is printed
    per change. A finished operation gets its own line. Interrupted, it tells
    how to resume: the operations go on, and stay saved.
    """
    import asyncio

    tracker = workspace.tracker
    progress = ProgressLine(output.err, interactive=output.interactive)
    pending = {op.id: op for op in ops if not op.done}
    for op in ops:
        if op.done:
            output.note(f"{op.id}: {_label(op)}: {_status_text(op, op.updated)}")
    ends = time.monotonic() + timeout if timeout is not None else None
    waiters = {op_id: asyncio.ensure_future(tracker.wait(op_id)) for op_id in pending}
    try:
        while pending:
            now = time.time()
            # Finished once the tracker says so: it fetches the final resource after the last poll.
            for op_id in [i for i in pending if waiters[i].done()]:
                op = pending.pop(op_id)
                progress.finish()
                output.note(f"{op.id}: {_label(op)}: {_status_text(op, op.updated)}")
            if not pending:
                break
            if len(pending) == 1:
                (op,) = pending.values()
                # Off a terminal, print a line per change of state, not per tick of the clock.
                shown = _status_text(op, now if progress.interactive else None)
                progress.update(f"{op.id[:12]} {_label(op)}: {shown}")
            else:
                running = list(pending.values())
                known = [op.progress for op in running if op.progress is not None]
                overall = sum(known) / len(running) if known else None
                progress.update(f"{len(running)} operations running {bar(overall)}")
            remaining = None if ends is None else ends - time.monotonic()
            if remaining is not None and remaining <= 0:
                progress.finish()
                output.note(f"stopped watching after {timeout:g} s; still running: {', '.join(pending)} — "
                            "resume with `workbench ops watch`")
                break
            # Wake on a finish, or redraw the elapsed time a few times a second.
            step = 0.25 if remaining is None else max(0.01, min(0.25, remaining))
            await asyncio.wait([waiters[i] for i in pending], timeout=step, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        progress.finish()
        if pending:
            ids = " ".join(pending)
            output.note(f"stopped watching; the operation(s) go on: resume with `workbench ops watch {ids}`")
        raise
    finally:
        for waiter in waiters.values():
            waiter.cancel()
    progress.finish()
    return ops


# =========================================================================== commands
def run_list(args: argparse.Namespace, output: Output) -> int:
    from workbench.connect import Workspace

    workspace = Workspace(on_warning=output.warn)
    saved = workspace.saved_operations()
    if output.json:
        output.data([operation_document(op) for op in saved])
        return EXIT_OK
    if not saved:
        output.note(f"no unfinished operations (saved in {workspace.operations_path})")
        return EXIT_OK
    table = output.table([
        Column("id", "ID", 40), Column("profile", "PROFILE", 24), Column("kind", "KIND", 8),
        Column("target", "TARGET", 40), Column("status", "STATUS", 9), Column("progress", "PROGRESS", 8, right=True),
        Column("started", "STARTED", 19), Column("updated", "LAST CHANGE", 19), Column("error", "NOTE", 60),
    ])
    for op in sorted(saved, key=lambda o: o.started):
        table.add({
            "id": op.id, "profile": op.profile, "kind": op.kind, "target": op.target, "status": op.status.value,
            "progress": f"{op.progress * 100:.0f}%" if op.progress is not None else "",
            "started": format_time(op.started), "updated": format_time(op.updated), "error": op.error or "",
        })
    table.close()
    output.note("resume and watch them with: workbench ops watch [ID ...]")
    return EXIT_OK


def run_watch(args: argparse.Namespace, output: Output) -> int:
    if args.timeout is not None and args.timeout <= 0:
        raise CommandError("--timeout: must be more than 0 seconds", status=EXIT_USAGE)

    async def body(workspace: Workspace) -> int:
        saved = {op.id: op for op in workspace.saved_operations()}
        if args.ids:
            unknown = [i for i in args.ids if i not in saved]
            if unknown:
                known = ", ".join(saved) or "none"
                raise CommandError(f"no unfinished operation {', '.join(unknown)} is saved (it finished, or was "
                                   f"never started here); unfinished: {known}")
            wanted = list(dict.fromkeys(args.ids))
        else:
            wanted = list(saved)
            if not wanted:
                if output.json:
                    output.data([])
                else:
                    output.note("no unfinished operations to watch")
                return EXIT_OK
        resumed, problems = workspace.resume(wanted)
        for op_id, problem in problems.items():
            output.warn(f"{op_id}: {problem}")
        if not resumed:
            raise CommandError("none of the operations could be resumed")
        if not output.json:
            output.note(f"watching {len(resumed)} operation(s)")
        finished = await watch(workspace, resumed, output, timeout=args.timeout)
        status = _exit_status(finished, output)
        return EXIT_ERROR if problems and status == EXIT_OK else status

    return run_in_workspace(args, output, body)
