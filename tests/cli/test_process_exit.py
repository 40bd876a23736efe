"""A command's process ends without the interpreter's teardown, and loses nothing by it.

``workbench.cli._leave_command_process`` runs exit handlers, flushes stdout and
stderr and leaves with the command's status; with another thread alive it
returns, and the interpreter ends the usual way (waiting for that thread).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def _run(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


def test_exit_handlers_run_streams_flush_and_the_status_is_kept(tmp_path: Path) -> None:
    marker = tmp_path / "atexit-ran"
    completed = _run(f"""
        import atexit, logging, sys
        from workbench.cli import _leave_command_process

        atexit.register(lambda: open({str(marker)!r}, "w").write("ran"))
        handler = logging.FileHandler({str(tmp_path / "log.txt")!r}, delay=True)
        logging.getLogger("probe").addHandler(handler)
        logging.getLogger("probe").warning("logged before leaving")
        sys.stdout.write("out without a newline")   # still in the buffer
        sys.stderr.write("err without a newline")
        _leave_command_process(3)
        print("not reached")
    """, tmp_path)
    assert completed.returncode == 3
    assert completed.stdout == "out without a newline"
    assert completed.stderr == "err without a newline"
    assert marker.read_text() == "ran"
    assert (tmp_path / "log.txt").read_text() == "logged before leaving\n"


def test_with_another_thread_alive_the_interpreter_ends_as_usual(tmp_path: Path) -> None:
    completed = _run("""
        import sys, threading
        from workbench.cli import _leave_command_process

        release = threading.Event()
        worker = threading.Thread(target=lambda: (release.wait(30), print("worker finished")))
        worker.start()
        _leave_command_process(3)
        print("returned")
        release.set()
    """, tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["returned", "worker finished"]


def test_the_console_script_path_keeps_a_failing_commands_status_and_message(tmp_path: Path) -> None:
    completed = subprocess.run([sys.executable, "-m", "workbench", "images", "list", "-p", "no-such-profile"],
                               capture_output=True, text=True, timeout=60, cwd=tmp_path,
                               env={"WORKBENCH_HOME": str(tmp_path / "home"), "HOME": str(tmp_path),
                                    "PATH": "/usr/bin:/bin"})
    assert completed.returncode != 0
    assert "no-such-profile" in completed.stderr
    assert completed.stderr.endswith("\n")
