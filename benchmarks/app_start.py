"""Benchmark: ``workbench --demo`` to its first rendered frame, beside a bare Textual app.

Both programs are started the same way, as whole processes in a pseudo-terminal
of 120x40 (so Textual's real Linux driver runs, as in a terminal), and both
leave right after their first frame is painted: the bare app calls
``self.call_after_refresh(self.exit)`` in ``on_mount``; the workbench does the
same when ``WORKBENCH_EXIT_AFTER=first-frame`` is set (``workbench/tui/app.py``).
``call_after_refresh`` runs once the screen has been composed, rendered and
written to the terminal, so "exited" is an honest "first frame on screen",
measured from the spawn to the process's end (interpreter start, imports,
mount, first paint, shutdown) and interleaved run by run.

The workbench paints its first frame before it opens the workspace: starting
the simulator and reading profiles happen in a thread worker after mounting.
The script also reports, for information, the time until the demo is *ready*
(``WORKBENCH_EXIT_AFTER=ready``: simulator up, profiles listed).

    .venv/bin/python benchmarks/app_start.py            # 9 runs each, target checked
    .venv/bin/python benchmarks/app_start.py --quick    # 3 runs each, no target
    .venv/bin/python benchmarks/app_start.py --profile  # python -X importtime of the workbench's start

Target (issue 7, target 3): median(workbench) / median(hello) <= 1.5.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import pty
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from importlib.metadata import version
from pathlib import Path

TARGET_RATIO = 1.5
SIZE = (120, 40)

HELLO_APP = '''
from textual.app import App, ComposeResult
from textual.widgets import Static


class Hello(App):
    def compose(self) -> ComposeResult:
        yield Static("Hello, world")

    def on_mount(self) -> None:
        self.call_after_refresh(self.exit)


if __name__ == "__main__":
    Hello().run()
'''


def workbench_command() -> list[str]:
    script = Path(sys.executable).with_name("workbench")
    return [str(script), "--demo"] if script.exists() else [sys.executable, "-m", "workbench", "--demo"]


def run_in_pty(command: list[str], env: dict[str, str], timeout: float = 60.0) -> tuple[float, float]:
    """``(wall, cpu)`` seconds of ``command`` run in a 120x40 pty, from spawn to exit.

    A thread drains the pty with blocking reads, as a terminal emulator does,
    so the program never waits for its reader; the CPU time (user + system)
    comes from ``wait4``, and is steadier than the wall time on a busy machine.
    """
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    output = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the program has gone: EIO
                return
            if not chunk:
                return
            output.extend(chunk)

    started = time.perf_counter()
    process = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
                               start_new_session=True)
    os.close(slave)
    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        _pid, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
    finally:
        watchdog.cancel()
    reader.join(5)
    os.close(master)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {code}:\n{output.decode('utf-8', 'replace')[-2000:]}")
    if len(output) < 200:
        raise RuntimeError(f"{' '.join(command)} wrote almost nothing: no frame was painted")
    return elapsed, usage.ru_utime + usage.ru_stime


def base_env(home: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("COLUMNS", "LINES")}
    env.update({"TERM": "xterm-256color", "COLORTERM": "truecolor", "WORKBENCH_HOME": home})
    env.pop("TEXTUAL", None)
    return env


def measure(runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="workbench-start-") as home:
        hello = Path(home) / "hello.py"
        hello.write_text(HELLO_APP)
        env = base_env(home)
        first_frame_env = {**env, "WORKBENCH_EXIT_AFTER": "first-frame"}
        ready_env = {**env, "WORKBENCH_EXIT_AFTER": "ready"}
        command = workbench_command()
        # One warm-up each: the first start after an install or an edit pays for .pyc files.
        run_in_pty([sys.executable, str(hello)], env)
        run_in_pty(command, first_frame_env)
        hello, first_frame, ready = [], [], []
        for _ in range(runs):  # interleaved, so drift on a shared machine hits both alike
            hello.append(run_in_pty([sys.executable, str(Path(home) / "hello.py")], env))
            first_frame.append(run_in_pty(command, first_frame_env))
            ready.append(run_in_pty(command, ready_env))

    def median(samples: list[tuple[float, float]], which: int) -> float:
        return statistics.median(sample[which] for sample in samples)

    return {
        "runs": runs,
        "hello_wall_s": [wall for wall, _cpu in hello],
        "workbench_first_frame_wall_s": [wall for wall, _cpu in first_frame],
        "workbench_ready_wall_s": [wall for wall, _cpu in ready],
        "hello_median_s": median(hello, 0),
        "workbench_first_frame_median_s": median(first_frame, 0),
        "workbench_ready_median_s": median(ready, 0),
        "ratio": median(first_frame, 0) / median(hello, 0),
        "hello_cpu_median_s": median(hello, 1),
        "workbench_first_frame_cpu_median_s": median(first_frame, 1),
        "cpu_ratio": median(first_frame, 1) / median(hello, 1),
    }


def profile_imports() -> None:
    """Where the workbench's imports go (``-X importtime``): the 15 costliest.

    Textual paints on stderr, where ``-X importtime`` also writes, so this
    imports what ``workbench --demo`` imports before its first frame (the
    command line's module, which goes to the app without building its parser,
    and the app module) without running the app.
    """
    code = "import workbench.cli; import workbench.tui.app"
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                            check=True)
    rows = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|", 2)
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()))
    for cumulative, name in sorted(rows, reverse=True)[:15]:
        print(f"{cumulative / 1000:8.1f} ms {name}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs each, no target asserted")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--profile", action="store_true", help="show the costliest imports of the start")
    args = parser.parse_args()
    if args.profile:
        profile_imports()
        return 0
    runs = args.runs or (3 if args.quick else 9)
    figures = measure(runs)
    figures.update({
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, {platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "textual": version("textual"),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "target_ratio": TARGET_RATIO,
    })
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"App start to first frame, whole process in a {SIZE[0]}x{SIZE[1]} pty, median of {runs} runs "
              f"(Textual {figures['textual']}, Python {figures['python']}, {figures['machine']})")
        print(f"  bare Textual hello app      {figures['hello_median_s'] * 1000:7.0f} ms")
        print(f"  workbench --demo            {figures['workbench_first_frame_median_s'] * 1000:7.0f} ms"
              f"   ratio {figures['ratio']:.2f}x (target <= {TARGET_RATIO}x)")
        print(f"  workbench --demo, ready     {figures['workbench_ready_median_s'] * 1000:7.0f} ms"
              "   (simulator started, profiles listed; for information)")
        print(f"  CPU (user+system): hello {figures['hello_cpu_median_s'] * 1000:.0f} ms, workbench "
              f"{figures['workbench_first_frame_cpu_median_s'] * 1000:.0f} ms, ratio {figures['cpu_ratio']:.2f}x")
    if not args.quick and figures["ratio"] > TARGET_RATIO:
        print(f"MISSED: {figures['ratio']:.2f}x > {TARGET_RATIO}x", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
