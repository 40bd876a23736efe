"""A command's process ends without the interpreter's teardown, and loses nothing by it.

``workbench.cli._leave_command_process`` runs exit handlers, flushes stdout and
stderr and leaves with the command's status; with another thread alive it
returns, and the interpreter ends the usual way (waiting for that thread).
"""

from __future__ import annotations

import json
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


# The console script's own path (main() with the real command line), with os._exit watched.
CONSOLE_SCRIPT = """
import os, sys
real_exit = os._exit
def watched_exit(status):
    sys.stderr.write(f"fast exit {status}\\n")
    sys.stderr.flush()
    real_exit(status)
os._exit = watched_exit
sys.argv = ["workbench", *sys.argv[1:]]
from workbench.cli import main
sys.exit(main())
"""


def _console_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT, *args], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path,
                          env={"WORKBENCH_HOME": str(tmp_path / "home"), "HOME": str(tmp_path),
                               "PATH": "/usr/bin:/bin"})


def test_a_listing_leaves_by_the_fast_exit_with_all_of_its_output(tmp_path: Path) -> None:
    completed = _console_script(tmp_path, "--demo", "images", "list", "-p", "demo-glance", "--json")
    assert completed.returncode == 0, completed.stderr
    images = json.loads(completed.stdout)  # the whole array, closed
    assert images and all(image["provider"] == "glance" for image in images)
    assert f"{len(images)} image(s)" in completed.stderr
    assert completed.stderr.endswith("fast exit 0\n")


def test_a_failing_command_leaves_by_the_fast_exit_with_its_status_and_message(tmp_path: Path) -> None:
    completed = _console_script(tmp_path, "images", "list", "-p", "no-such-profile")
    assert completed.returncode not in (0, None)
    assert "no-such-profile" in completed.stderr
    assert completed.stderr.endswith(f"fast exit {completed.returncode}\n")
