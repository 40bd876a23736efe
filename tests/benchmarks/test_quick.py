"""The benchmark suite's quick mode, as CI runs it: it completes and prints every figure.

Targets are not asserted here (a smoke check on a shared machine must not be
timed); `python benchmarks/run_all.py` checks them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCHMARKS = ("cli_vs_glance", "listing_throughput", "app_start", "image_list", "operation_tracking", "cli_memory")


def test_quick_suite_completes_and_prints_every_figure():
    completed = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run_all.py"), "--quick", "--json"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    assert summary["quick"] is True
    assert [b["key"] for b in summary["benchmarks"]] == list(BENCHMARKS)
    table = completed.stdout[: completed.stdout.rindex("\n{")]
    for benchmark in summary["benchmarks"]:
        assert benchmark["ok"], (benchmark["key"], benchmark["error"])
        assert benchmark["figures"], benchmark["key"]
        for figure in benchmark["figures"]:
            assert figure["value"] is not None and figure["value"] != "", (benchmark["key"], figure)
            # quick mode never judges a target...
            assert figure.get("met") is None, (benchmark["key"], figure)
            # ...but every figure is in the printed table, with its target where it has one
            row = next((line for line in table.splitlines() if f"  {figure['name']}  " in line), None)
            assert row is not None, f"{figure['name']!r} is not in the table"
            if "target" in figure:
                assert figure["target"] in row
    # the headline figures of each target are among them
    names = {figure["name"] for b in summary["benchmarks"] for figure in b["figures"]}
    for expected in ("workbench CPU / httpx floor CPU", "glance driver CPU / openstacksdk CPU (per image)",
                     "workbench --demo first frame / bare Textual app", "early polls, server side",
                     "early polls, client side (poll_log)"):
        assert expected in names, expected
    for prefix in ("keystroke to frame, median", "glance: peak RSS growth"):
        assert any(name.startswith(prefix) for name in names), prefix
