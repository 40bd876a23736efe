"""Switches and shared helpers for the reliability tests.

CI runs a small slice of every test. The nightly-size run scales the counts up:

    WORKBENCH_LONG=1 .venv/bin/pytest tests/reliability -s      (or: pytest tests/reliability --long -s)

Every test adds its counts to one report (``reliability-report.txt`` in the
session's temporary directory), echoed in pytest's terminal summary.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

LONG_ENV = "WORKBENCH_LONG"


def is_long() -> bool:
    """Whether this is the nightly-size run (``WORKBENCH_LONG=1`` or ``--long``)."""
    return os.environ.get(LONG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def scaled(ci: int, long: int) -> int:
    """``long`` in the nightly-size run, else ``ci``."""
    return long if is_long() else ci


def pytest_addoption(parser: pytest.Parser) -> None:
    # Only registered when pytest starts in (or below) tests/reliability; the
    # environment variable works from anywhere.
    parser.addoption("--long", action="store_true", default=False,
                     help="reliability tests: run the nightly sizes (same as WORKBENCH_LONG=1)")


def pytest_configure(config: pytest.Config) -> None:
    # Before the test modules are imported: their hypothesis settings read it.
    if config.getoption("--long", default=False):
        os.environ[LONG_ENV] = "1"


# ---------------------------------------------------------------------- the report
class Report:
    """Lines per section, written to ``reliability-report.txt`` at the end."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sections: dict[str, list[str]] = {}
        self.path: Path | None = None

    def add(self, section: str, line: str) -> None:
        with self._lock:
            self.sections.setdefault(section, []).append(line)

    def text(self) -> str:
        mode = "nightly-size run (WORKBENCH_LONG=1)" if is_long() else "CI slice (set WORKBENCH_LONG=1 for nightly sizes)"
        lines = [f"reliability report: {mode}"]
        for section, entries in self.sections.items():
            lines.append(f"== {section}")
            lines.extend(f"   {entry}" for entry in entries)
        return "\n".join(lines) + "\n"


_REPORT = Report()


@pytest.fixture(scope="session")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Report]:
    _REPORT.path = tmp_path_factory.getbasetemp() / "reliability-report.txt"
    yield _REPORT
    _REPORT.path.write_text(_REPORT.text(), encoding="utf-8")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if not _REPORT.sections:
        return
    terminalreporter.section("reliability report")
    for line in _REPORT.text().splitlines():
        terminalreporter.write_line(line)
    if _REPORT.path is not None:
        terminalreporter.write_line(f"(written to {_REPORT.path})")


# ---------------------------------------------------------------------- helpers
async def wait_until(predicate, *, timeout: float = 10.0, interval: float = 0.01, what: str = "the condition"):
    """Poll ``predicate()`` until it is true; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(interval)
