"""End to end: the real ``workbench --demo`` in a real terminal (tmux, 120x40).

The test starts the console script in a tmux session of its own (a private
tmux server), sends keys as a user would, and reads the screen with
``capture-pane``, polling with a deadline for each expected sight.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

WIDTH, HEIGHT = 120, 40


def _tmux() -> str:
    found = shutil.which("tmux")
    if found:
        return found
    # Try once to install it (root on a Debian-like machine, as CI is).
    if shutil.which("apt-get") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-q", "tmux"], capture_output=True, timeout=300, check=False)
        found = shutil.which("tmux")
        if found:
            return found
    pytest.skip("tmux is not installed and could not be installed (apt-get install -y tmux): "
                "the end-to-end terminal test needs a real terminal multiplexer")


def _workbench_command() -> list[str]:
    script = Path(sys.executable).with_name("workbench")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "workbench"]


class TmuxSession:
    """One tmux session on a private server socket."""

    def __init__(self, tmux: str, command: list[str], env: dict[str, str]) -> None:
        self.tmux = tmux
        self.socket = f"wb-test-{uuid.uuid4().hex[:8]}"
        self.name = "workbench"
        exports = " ".join(f"{key}={shlex.quote(value)}" for key, value in env.items())
        # env -i: nothing of the test process leaks in (pytest sets COLUMNS/LINES, which Textual obeys).
        shell = f"env -i {exports} {shlex.join(command)}; echo WORKBENCH-EXITED-$?; sleep 30"
        self.run("new-session", "-d", "-s", self.name, "-x", str(WIDTH), "-y", str(HEIGHT), shell)
        # Pass Esc on at once (tmux holds it 500 ms by default to spot escape sequences).
        self.run("set-option", "-g", "escape-time", "0")

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True, timeout=30,
                              check=False)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", self.name, key)
            time.sleep(0.15)  # a person's pace: each key is handled before the next

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", self.name, "-l", text)

    def wait_for(self, *needles: str, until: Callable[[str], bool] | None = None, timeout: float = 60.0) -> str:
        """The first screen showing every needle (and, with ``until``, for which ``until(screen)`` holds)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(needle in screen for needle in needles) and (until is None or until(screen)):
                return screen
            time.sleep(0.2)
        wanted = f"{needles!r}" + (f" and {until.__doc__ or 'a condition'}" if until is not None else "")
        raise AssertionError(f"timed out after {timeout} s waiting for {wanted}; the screen was:\n{screen}")

    def close(self) -> None:
        self.run("kill-server")


@pytest.fixture
def session(tmp_path: Path):
    tmux = _tmux()
    env = {
        "WORKBENCH_HOME": str(tmp_path / "home"),
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
    }
    tmux_session = TmuxSession(tmux, [*_workbench_command(), "--demo"], env)
    try:
        yield tmux_session
    finally:
        tmux_session.close()


def test_workbench_demo_in_a_real_terminal(session: TmuxSession) -> None:
    # The demo starts the simulator, lists the profiles and opens the first one,
    # which its listing then marks ok (a repaint of its own: wait for it too).
    screen = session.wait_for("demo-kusto", "demo-yandex", "all loaded", "customImage1", "✓ demo-kusto")
    assert "Operations" in screen and "Inspector" in screen  # the footer shows the keys

    # Filter the images: only the matching ones stay.
    session.keys("l", "/")
    session.type("geo")
    def filtered_out(screen: str) -> bool:
        """customImage1 gone from the images pane's rows"""
        return "customImage1" not in screen.split("Operations")[0].split("\n", 3)[-1]

    session.wait_for("1 / 10", "geoAnalytics", until=filtered_out)
    session.keys("Escape")  # in the filter box: clears it
    session.wait_for("10 / 10")

    # Another profile, chosen with the keyboard.
    session.keys("p", "End", "Enter")
    session.wait_for("demo-yandex ·", "all loaded", "Family")  # Yandex columns

    # The inspector shows this session's requests, masked.
    session.keys("i")
    screen = session.wait_for("Inspector ·", "exchanges of this session", "/compute/v1/images")
    assert "y0_AgAAAAdemo-oauth-token" not in screen
    session.keys("Escape")
    session.wait_for("demo-yandex ·")

    # Help, then quit with q: the process ends cleanly.
    session.keys("?")
    session.wait_for("keys and commands")
    session.keys("Escape")
    session.wait_for("demo-yandex ·")  # a key right after Esc would read as Alt+key
    session.keys("q")
    session.wait_for("WORKBENCH-EXITED-0", timeout=30)
