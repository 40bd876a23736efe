"""Benchmark: peak RSS of `workbench images list --json` at 100,000 images (issue 7, target 6).

`workbench sim --seed-images 100000` runs in its own process; saved profiles
for it live in a temporary WORKBENCH_HOME (secrets in WORKBENCH_SECRET_*
variables). For each provider the real console script runs twice, as its own
process, with its output going to a file:

- `workbench images list -p P --json` (every image, about 100,000);
- `workbench images list -p P --json --limit 1000` (the same process listing 1,000).

Peak RSS and CPU come from the kernel's accounting of that one process
(`os.wait4` in a small launcher: see `LAUNCHER`). A listing that streams holds
one page at a time, so its peak does not grow with the count: the ratio of the
two peaks is the figure. The output is checked to be one valid JSON array with
every image in it.

For scale, a reference that does not stream: a plain httpx script that
collects every Glance page into one list and then prints it.

    .venv/bin/python benchmarks/cli_memory.py             # 100,000 images, target checked
    .venv/bin/python benchmarks/cli_memory.py --quick     # 5,000 images, glance only, no target

Target: peak RSS listing 100,000 <= 1.25x the peak listing 1,000 (it does not grow with the count).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from listing_throughput import simulator

REPO = Path(__file__).resolve().parent.parent
PROVIDERS = ("glance", "kusto", "batch", "yandex")
TARGET_GROWTH = 1.25
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench-bench"


# --------------------------------------------------------------------------- whole processes
def bench_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of measured processes: bytecode cached (in a directory of
    the benchmark's, not beside the sources) as in an installed program, even
    where the calling shell sets PYTHONDONTWRITEBYTECODE."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(CACHE / "pycache")
    env.update(extra or {})
    return env


def workbench_command() -> list[str]:
    """The installed console script beside this interpreter (what a user runs)."""
    script = Path(sys.executable).with_name("workbench")
    return [str(script)] if script.exists() else [sys.executable, "-m", "workbench"]


#: Runs one command and reports its rusage. It exists because Linux carries a
#: process's peak RSS across exec: a child forked from this (large) process
#: would report our peak as its own. Forked from this small launcher, the
#: command's ru_maxrss is its own.
LAUNCHER = """
import json, os, sys, time
command, report_fd = json.loads(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.close(report_fd)
    try:
        os.execvpe(command[0], command, os.environ)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - started
os.write(report_fd, json.dumps({"exit": os.waitstatus_to_exitcode(status), "wall_s": wall,
    "user_s": usage.ru_utime, "sys_s": usage.ru_stime, "maxrss": usage.ru_maxrss}).encode())
"""


def run_measured(command: list[str], *, env: dict[str, str], stdout: IO[bytes] | int = subprocess.DEVNULL,
                 cwd: str | Path | None = None) -> dict[str, Any]:
    """Run ``command`` to its end; its own wall time (fork to exit), CPU (user +
    system) and peak RSS, from the kernel's rusage of that one process."""
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, json.dumps(command), str(write_fd)],
                                   stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=cwd, pass_fds=(write_fd,))
        os.close(write_fd)
        write_fd = -1
        _, stderr = process.communicate()
        with os.fdopen(read_fd, "rb") as fh:
            read_fd = -1
            reported = fh.read()
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
    if process.returncode != 0 or not reported:
        raise RuntimeError(f"the launcher failed ({process.returncode}): {stderr.decode('utf-8', 'replace')[-2000:]}")
    usage = json.loads(reported)
    scale = 1 if sys.platform == "darwin" else 1024
    return {
        "exit": usage["exit"],
        "wall_s": usage["wall_s"],
        "cpu_s": usage["user_s"] + usage["sys_s"],
        "user_s": usage["user_s"],
        "sys_s": usage["sys_s"],
        "peak_rss_mb": usage["maxrss"] * scale / 1024**2,
        "stderr": stderr.decode("utf-8", "replace"),
    }


# --------------------------------------------------------------------------- profiles for the simulator
@contextmanager
def simulator_home(endpoints: dict[str, Any]) -> Iterator[tuple[Path, dict[str, str]]]:
    """A WORKBENCH_HOME with `bench-<provider>` profiles of the simulator, and
    the environment variables that hold their secrets."""
    from workbench.profiles.importers import from_simulator
    from workbench.profiles.secrets import SecretStore, env_var_name
    from workbench.profiles.store import ProfileStore

    with tempfile.TemporaryDirectory(prefix="wb-bench-home-") as home:
        store = ProfileStore(home, secrets=SecretStore(environ={}))
        secrets_env: dict[str, str] = {"WORKBENCH_HOME": home}
        for candidate in from_simulator(endpoints, prefix="bench-"):
            store.save(candidate.profile)
            for field, value in candidate.secrets.items():
                secrets_env[env_var_name(candidate.profile.name, field)] = value
        yield Path(home), secrets_env


COLLECT_ALL = """
import json, sys, httpx
endpoint, token = sys.argv[1], sys.argv[2]
images, url = [], endpoint + "/v2/images?limit=1000"
with httpx.Client(headers={"X-Auth-Token": token}) as client:
    while url:
        page = client.get(url).raise_for_status().json()
        images += page["images"]
        url = endpoint + page["next"] if page.get("next") else None
json.dump(images, sys.stdout)
"""


def check_listing(path: Path, expected_at_least: int) -> int:
    with path.open("rb") as fh:
        items = json.load(fh)
    if not isinstance(items, list) or len(items) < expected_at_least:
        raise SystemExit(f"{path.name}: expected a JSON array of at least {expected_at_least} images")
    return len(items)


def run_listing(provider: str, limit: int | None, env: dict[str, str], tmp: Path, images: int) -> dict[str, Any]:
    command = [*workbench_command(), "images", "list", "-p", f"bench-{provider}", "--json"]
    if limit:
        command += ["--limit", str(limit)]
    out = tmp / f"{provider}-{limit or 'all'}.json"
    with out.open("wb") as fh:
        result = run_measured(command, env=env, stdout=fh, cwd=REPO)
    if result["exit"] != 0:
        raise SystemExit(f"{' '.join(command[-6:])} failed ({result['exit']}): {result['stderr'][-2000:]}")
    result["count"] = check_listing(out, limit or images)
    result["output_mb"] = out.stat().st_size / 1024**2
    out.unlink()
    return result


# --------------------------------------------------------------------------- the report
def report(results: dict[str, dict[str, Any]], reference: dict[str, Any], images: int,
           quick: bool) -> list[dict[str, Any]]:
    print(f"CLI memory, {time.strftime('%Y-%m-%d %H:%M')}: {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  reproduce: python benchmarks/cli_memory.py{' --quick' if quick else ''}")
    print(f"  workbench sim --seed-images {images:,} in its own process; each listing is its own process "
          "(peak RSS from os.wait4)")
    print(f"  {'profile':<14}{'images':>9}{'JSON MB':>9}{'peak RSS MB':>13}{'at 1,000':>10}{'growth':>8}"
          f"{'wall s':>8}{'CPU s':>7}")
    rows = []
    for provider, r in results.items():
        full, small = r["all"], r["1000"]
        growth = full["peak_rss_mb"] / small["peak_rss_mb"]
        print(f"  bench-{provider:<8}{full['count']:>9,}{full['output_mb']:>9.1f}{full['peak_rss_mb']:>13.1f}"
              f"{small['peak_rss_mb']:>10.1f}{growth:>7.2f}x{full['wall_s']:>8.2f}{full['cpu_s']:>7.2f}")
        rows.append({"name": f"{provider}: peak RSS listing {full['count']:,} (--json)",
                     "value": round(full["peak_rss_mb"], 1), "unit": "MB"})
        rows.append({"name": f"{provider}: peak RSS growth, {full['count']:,} vs 1,000 images",
                     "value": round(growth, 2), "unit": "x", "target": f"<= {TARGET_GROWTH}",
                     "met": None if quick else growth <= TARGET_GROWTH})
    print(f"  reference (does not stream): an httpx script collecting every Glance page in a list, then "
          f"printing it: peak RSS {reference['peak_rss_mb']:.1f} MB "
          f"({reference['peak_rss_mb'] / results['glance']['all']['peak_rss_mb']:.1f}x the CLI's)")
    rows.append({"name": "reference: collect-all httpx script, peak RSS", "value": round(reference["peak_rss_mb"], 1),
                 "unit": "MB"})
    if quick:
        print("  quick mode: targets not checked")
    else:
        for row in rows:
            if "target" in row:
                print(f"  target {row['name']} {row['target']}: {'met' if row['met'] else 'MISSED'}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000, help="images seeded per provider")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated providers")
    parser.add_argument("--quick", action="store_true", help="5,000 images, glance only, target not checked")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line at the end")
    args = parser.parse_args()

    images = 5_000 if args.quick else args.images
    providers = ["glance"] if args.quick else [p for p in args.providers.split(",") if p]
    if "glance" not in providers:
        providers.insert(0, "glance")
    results: dict[str, dict[str, Any]] = {}
    with simulator(images) as endpoints, simulator_home(endpoints) as (_home, secrets_env), \
            tempfile.TemporaryDirectory(prefix="wb-bench-out-") as tmp:
        env = bench_env(secrets_env)
        # Warm-up (not measured): bytecode compiled into the cache, the simulator's pages touched once.
        run_listing("glance", 1000, env, Path(tmp), images)
        for provider in providers:
            results[provider] = {
                "all": run_listing(provider, None, env, Path(tmp), images),
                "1000": run_listing(provider, 1000, env, Path(tmp), images),
            }
        out = Path(tmp) / "reference.json"
        with out.open("wb") as fh:
            reference = run_measured([sys.executable, "-c", COLLECT_ALL, endpoints["glance"],
                                      endpoints["tokens"]["glance"]], env=env, stdout=fh)
        if reference["exit"] != 0:
            raise SystemExit(f"the reference script failed: {reference['stderr'][-2000:]}")
        reference["count"] = check_listing(out, images)
    for r in results.values():
        for run in r.values():
            run.pop("stderr", None)
    reference.pop("stderr", None)
    rows = report(results, reference, images, args.quick)
    if args.json:
        print(json.dumps({"benchmark": "cli_memory", "figures": rows,
                          "results": {"cli": results, "reference": reference}}))
    if not args.quick and any(row.get("met") is False for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
