"""The whole benchmark suite in one command: every figure of issue 7 beside its target.

    .venv/bin/python benchmarks/run_all.py                    # everything, targets checked (< 10 min on 2 cores)
    .venv/bin/python benchmarks/run_all.py --write-results    # ... and write benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run_all.py --quick            # CI's smoke check: small sizes, no targets (< 1 min)
    .venv/bin/python benchmarks/run_all.py --only cli_memory,operation_tracking

Each benchmark is its own script (run alone for details, `--profile` where it
has one) and runs here as its own process with `--json`; the figures it
reports are gathered into one table of figure, value, target and whether it
was met. The full run runs them one after another, so none measures while
another loads the machine; the quick run runs two at a time (its figures are
not compared with targets). The exit status is 1 when a benchmark fails or,
in a full run, when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULTS = HERE / "RESULTS.md"
FULL_BUDGET_S = 600
QUICK_BUDGET_S = 60

Figure = dict[str, Any]


# --------------------------------------------------------------------------- figures of the two
# scripts that report in their own JSON shape
def image_list_figures(doc: dict[str, Any], quick: bool) -> list[Figure]:
    ours, table = doc["image_list"], doc["data_table"]

    def met(ok: bool) -> bool | None:
        return None if quick else ok

    per_row_ours = ours["type_median_ms"] / ours["rows"]
    per_row_table = table["type_median_ms"] / table["rows"]
    return [
        {"name": f"keystroke to frame, median ({ours['rows']:,} images)", "value": round(ours["type_median_ms"], 1),
         "unit": "ms", "target": "<= 50", "met": met(ours["type_median_ms"] <= 50)},
        {"name": f"peak RSS ({ours['rows']:,} images)", "value": round(ours["peak_rss_mb"]), "unit": "MB",
         "target": "< 400", "met": met(ours["peak_rss_mb"] < 400)},
        {"name": f"DataTable keystroke, median ({table['rows']:,} rows)", "value": round(table["type_median_ms"], 1),
         "unit": "ms"},
        {"name": "keystroke cost per row: DataTable / ours", "value": round(per_row_table / per_row_ours), "unit": "x"},
    ]


def app_start_figures(doc: dict[str, Any], quick: bool) -> list[Figure]:
    return [
        {"name": "workbench --demo first frame / bare Textual app", "value": round(doc["ratio"], 2), "unit": "x",
         "target": f"<= {doc.get('target_ratio', 1.5)}",
         "met": None if quick else doc["ratio"] <= doc.get("target_ratio", 1.5)},
        {"name": "bare Textual app start (median)", "value": round(doc["hello_median_s"] * 1000), "unit": "ms"},
        {"name": "workbench --demo first frame (median)", "value": round(doc["workbench_first_frame_median_s"] * 1000),
         "unit": "ms"},
        {"name": "CPU: workbench / bare app", "value": round(doc["cpu_ratio"], 2), "unit": "x"},
    ]


def own_figures(doc: dict[str, Any], quick: bool) -> list[Figure]:
    return doc["figures"]


@dataclass
class Benchmark:
    key: str
    title: str
    figures_of: Callable[[dict[str, Any], bool], list[Figure]] = own_figures
    #: How many figures it must report (a smaller number means one went missing).
    min_figures: int = 1

    @property
    def script(self) -> Path:
        return HERE / f"{self.key}.py"


BENCHMARKS = [
    Benchmark("cli_vs_glance", "1. CLI against a real Glance (2,000 images)", min_figures=8),
    Benchmark("listing_throughput", "2. Listing throughput (100,000 images per provider)", min_figures=11),
    Benchmark("app_start", "3. App start to first frame", app_start_figures, min_figures=4),
    Benchmark("image_list", "4. Image list at scale (100,000 images)", image_list_figures, min_figures=4),
    Benchmark("operation_tracking", "5. Operation tracking (1,000 concurrent operations)", min_figures=7),
    Benchmark("cli_memory", "6. CLI memory, --json streaming (100,000 images)", min_figures=3),
]


@dataclass
class Outcome:
    benchmark: Benchmark
    seconds: float
    exit: int
    report: str
    stderr: str
    figures: list[Figure] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# --------------------------------------------------------------------------- running
def parse_json_output(stdout: str) -> dict[str, Any]:
    """The JSON a script printed with --json: its last line, or an indented document at the end."""
    lines = stdout.rstrip().splitlines()
    if lines:
        try:
            return json.loads(lines[-1])
        except ValueError:
            pass
    for index, line in enumerate(lines):
        if line == "{":
            return json.loads("\n".join(lines[index:]))
    raise ValueError("no JSON document in its output")


def human_part(stdout: str) -> str:
    lines = stdout.rstrip().splitlines()
    if lines and lines[-1].startswith("{"):
        return "\n".join(lines[:-1])
    if "{" in lines:
        return "\n".join(lines[: lines.index("{")])
    return stdout.rstrip()


def run(benchmark: Benchmark, quick: bool, capture_stderr: bool) -> Outcome:
    command = [sys.executable, str(benchmark.script), "--json", *(["--quick"] if quick else [])]
    started = time.perf_counter()
    try:
        completed = subprocess.run(command, cwd=REPO, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE if capture_stderr else None, text=True,
                                   timeout=180 if quick else FULL_BUDGET_S, check=False)
    except subprocess.TimeoutExpired as exc:
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        return Outcome(benchmark, time.perf_counter() - started, -1, stdout, "", error=f"timed out after {exc.timeout} s")
    seconds = time.perf_counter() - started
    outcome = Outcome(benchmark, seconds, completed.returncode, completed.stdout, completed.stderr or "")
    try:
        outcome.figures = benchmark.figures_of(parse_json_output(completed.stdout), quick)
        # A script that prints only JSON with --json (app_start) is reported by its figures.
        outcome.report = human_part(completed.stdout) or "\n".join(
            f"  {f['name']}: {value_text(f)}" + (f" (target {f['target']}: {met_text(f)})" if "target" in f else "")
            for f in outcome.figures)
    except (ValueError, KeyError, TypeError) as exc:
        outcome.error = f"exit {completed.returncode}, no figures ({type(exc).__name__}: {exc})"
        return outcome
    if len(outcome.figures) < benchmark.min_figures:
        outcome.error = f"reported {len(outcome.figures)} figures, expected at least {benchmark.min_figures}"
    elif completed.returncode != 0 and not any(f.get("met") is False for f in outcome.figures):
        outcome.error = f"exit {completed.returncode} without a missed target"
    return outcome


def run_suite(benchmarks: list[Benchmark], quick: bool) -> list[Outcome]:
    def announce(outcome: Outcome) -> None:
        status = "ok" if outcome.ok else f"FAILED: {outcome.error}"
        print(f"\n== {outcome.benchmark.title}: {outcome.seconds:.0f} s, {status}", flush=True)
        if outcome.report:
            print(outcome.report, flush=True)
        if not outcome.ok and outcome.stderr:
            print(outcome.stderr[-3000:], file=sys.stderr, flush=True)

    if not quick:  # one at a time: nothing else loads the machine while a benchmark measures
        outcomes = []
        for benchmark in benchmarks:
            print(f"\n-- running {benchmark.script.name} ...", flush=True)
            outcomes.append(run(benchmark, quick, capture_stderr=False))
            announce(outcomes[-1])
        return outcomes
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(run, benchmark, quick, True) for benchmark in benchmarks]
        outcomes = []
        for future in futures:
            outcomes.append(future.result())
            announce(outcomes[-1])
    return outcomes


# --------------------------------------------------------------------------- the table
def met_text(figure: Figure) -> str:
    if "target" not in figure:
        return ""
    met = figure.get("met")
    return "-" if met is None else ("met" if met else "MISSED")


def value_text(figure: Figure) -> str:
    value = figure["value"]
    if isinstance(value, float):
        value = f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    unit = figure.get("unit") or ""
    return f"{value} {unit}".strip()


def table_rows(outcomes: list[Outcome]) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for outcome in outcomes:
        number = outcome.benchmark.title.split(".", 1)[0]
        if not outcome.ok and not outcome.figures:
            rows.append((number, f"{outcome.benchmark.key}: {outcome.error}", "", "", "FAILED"))
            continue
        for figure in outcome.figures:
            rows.append((number, figure["name"], value_text(figure), figure.get("target", ""), met_text(figure)))
    return rows


def print_table(outcomes: list[Outcome]) -> None:
    rows = table_rows(outcomes)
    widths = [max(len(row[i]) for row in rows + [("#", "figure", "value", "target", "met")]) for i in range(5)]
    header = ("#", "figure", "value", "target", "met")
    print()
    print("  ".join(text.ljust(widths[i]) if i != 2 else text.rjust(widths[i]) for i, text in enumerate(header)))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print("  ".join(text.ljust(widths[i]) if i != 2 else text.rjust(widths[i]) for i, text in enumerate(row)))


# --------------------------------------------------------------------------- RESULTS.md
def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024**2:.0f} GB RAM"
    except (OSError, ValueError, IndexError):
        pass
    packages = ", ".join(f"{name} {version(name)}" for name in ("httpx", "httpcore", "pydantic", "textual"))
    return {
        "cpu": f"{cpu}, {os.cpu_count()} CPUs" + (f", {memory}" if memory else ""),
        "system": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}; {packages}",
    }


def write_results(outcomes: list[Outcome], quick: bool, total_s: float, load: tuple[float, float, float],
                  command: str) -> None:
    info = machine()
    rows = table_rows(outcomes)
    lines = [
        "# Benchmark results",
        "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- Command: `{command}` ({total_s / 60:.1f} minutes{', quick mode: no targets' if quick else ''})",
        f"- Machine: {info['cpu']}; {info['system']}",
        f"- Software: {info['python']}",
        (f"- Load average when the run started: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
         "(a shared machine: absolute times drift, so every figure is a ratio or a count measured in the same "
         "run as its reference)"),
        "",
        "| # | figure | value | target | met |",
        "|---|---|---:|---|---|",
        *(f"| {' | '.join(cell.replace('|', '/') for cell in row)} |" for row in rows),
        "",
        ("Each benchmark's own report (run one alone with `python benchmarks/<name>.py`; see "
         "[README.md](README.md)):"),
        "",
    ]
    for outcome in outcomes:
        lines += [f"## {outcome.benchmark.title}", "", f"`benchmarks/{outcome.benchmark.script.name}`, "
                  f"{outcome.seconds:.0f} s" + ("" if outcome.ok else f", FAILED: {outcome.error}"), "",
                  "```", outcome.report.strip("\n") or "(no report)", "```", ""]
    RESULTS.write_text("\n".join(lines))
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, no targets checked (CI's smoke check)")
    parser.add_argument("--write-results", action="store_true", help=f"write {RESULTS.name} beside this script")
    parser.add_argument("--only", default="", help="comma-separated benchmark names "
                        f"({', '.join(b.key for b in BENCHMARKS)})")
    parser.add_argument("--json", action="store_true", help="print every figure as one JSON line at the end")
    args = parser.parse_args()

    chosen = [b for b in BENCHMARKS if not args.only or b.key in args.only.split(",")]
    unknown = set(filter(None, args.only.split(","))) - {b.key for b in BENCHMARKS}
    if unknown:
        parser.error(f"--only: unknown benchmark(s) {', '.join(sorted(unknown))}")
    load = os.getloadavg()
    command = "python benchmarks/run_all.py" + (" --quick" if args.quick else "") + \
        (f" --only {args.only}" if args.only else "")
    print(f"Benchmarks ({'quick: small sizes, targets not checked' if args.quick else 'full, targets checked'}): "
          f"{', '.join(b.key for b in chosen)}; load average {load[0]:.1f}", flush=True)
    started = time.perf_counter()
    outcomes = run_suite(chosen, args.quick)
    total = time.perf_counter() - started
    print_table(outcomes)
    budget = QUICK_BUDGET_S if args.quick else FULL_BUDGET_S
    missed = [f for o in outcomes for f in o.figures if f.get("met") is False]
    failed = [o for o in outcomes if not o.ok]
    print(f"\n{len(outcomes)} benchmark(s) in {total:.0f} s (budget {budget} s{'' if total <= budget else ': OVER'}); "
          f"{len(failed)} failed; "
          + ("targets not checked (quick)" if args.quick else f"{len(missed)} target(s) missed"))
    if args.write_results:
        write_results(outcomes, args.quick, total, load, command)
    if args.json:
        print(json.dumps({
            "quick": args.quick,
            "seconds": total,
            "benchmarks": [{"key": o.benchmark.key, "ok": o.ok, "error": o.error, "seconds": o.seconds,
                            "figures": o.figures} for o in outcomes],
        }))
    return 1 if failed or missed else 0


if __name__ == "__main__":
    sys.exit(main())
