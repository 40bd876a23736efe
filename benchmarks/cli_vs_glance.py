"""Benchmark: `workbench images list --json` against a real Glance, beside three other clients (issue 7, target 1).

A real OpenStack Glance 33 (noauth, sqlite, one gunicorn thread) is started
with `../shared/real-glance/start-glance.sh` in a cache directory outside the
repository (its venv is installed once, about 40 s) and stopped afterwards. It
holds 2,000 images, seeded with concurrent POSTs the first time and kept for
the next runs (`--reseed` starts afresh).

Four clients list every image, each as a whole process (interpreter start,
imports, requests, output), in rounds (one of each per round, so drift on a
shared machine hits all of them alike), after one unmeasured warm-up run each:

- workbench: `workbench images list -p <profile> --json` (a saved static-token
  profile in a temporary WORKBENCH_HOME, its secret in WORKBENCH_SECRET_*);
- openstack: `openstack image list -f json --max-items 2000`
  (python-openstackclient, in the benchmark's own venv: `--limit 2000` would
  silently return 1,000, the server's largest page);
- glance: `glance image-list --page-size 1000` (python-glanceclient, same venv);
- floor: a minimal httpx script that follows `next` with `limit=1000` and
  prints the images as JSON: the least a Python client can do.

Wall time and CPU (user + system, from the kernel's rusage of each process)
are medians of the rounds. The server's own share is the median time of the
same two page requests sent over a warm connection. CPU seconds drift with
the machine's load, so workbench and the floor are also run once each under
`valgrind --tool=callgrind` (when valgrind is installed) and their executed
instructions compared: the same ratio, without the noise.

    .venv/bin/python benchmarks/cli_vs_glance.py             # 2,000 images, 5 rounds, targets checked
    .venv/bin/python benchmarks/cli_vs_glance.py --quick     # smoke check, no targets (see below)
    .venv/bin/python benchmarks/cli_vs_glance.py --profile   # pyinstrument of one workbench run

Targets: workbench >= 3x faster than openstack, faster than glance, within
1.25x of the floor's wall time and 1.5x of its CPU.

Quick mode (CI's smoke check) installs nothing and starts no real Glance: the
workbench and the floor list the embedded simulator's Glance (`workbench sim
--seed-images 200`) once each; the openstack and glance figures are reported
as not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_memory import CACHE, bench_env, run_measured, workbench_command

REPO = Path(__file__).resolve().parent.parent
REAL_GLANCE = REPO.parent / "shared" / "real-glance"
GLANCE_DIR = CACHE / "glance"
BENCH_VENV = CACHE / "venv"
BENCH_PACKAGES = ("python-openstackclient", "python-glanceclient")
PROFILE = "bench-real-glance"
TARGETS = {"openstack_speedup": 3.0, "floor_wall": 1.25, "floor_cpu": 1.5}

FLOOR = """
import json, sys
import httpx
endpoint = sys.argv[1]
headers = {"X-Auth-Token": sys.argv[2]} if len(sys.argv) > 2 else {}
out = sys.stdout
out.write("[")
first = True
with httpx.Client(headers=headers) as client:
    url = endpoint + "/v2/images?limit=1000"
    while url:
        page = client.get(url).raise_for_status().json()
        for image in page["images"]:
            out.write(("\\n" if first else ",\\n") + json.dumps(image))
            first = False
        url = endpoint + page["next"] if page.get("next") else None
out.write("\\n]\\n")
"""


# --------------------------------------------------------------------------- environments
def log(message: str) -> None:
    print(f"cli_vs_glance: {message}", file=sys.stderr, flush=True)


def ensure_bench_venv() -> Path:
    """The benchmark's own venv with the two OpenStack command-line clients."""
    stamp = BENCH_VENV / ".workbench-bench"
    wanted = " ".join(BENCH_PACKAGES)
    if (BENCH_VENV / "bin" / "openstack").exists() and (BENCH_VENV / "bin" / "glance").exists() \
            and stamp.exists() and stamp.read_text() == wanted:
        return BENCH_VENV
    log(f"installing {wanted} into {BENCH_VENV} (once; about a minute)")
    shutil.rmtree(BENCH_VENV, ignore_errors=True)
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(BENCH_VENV)], check=True)
    completed = subprocess.run([str(BENCH_VENV / "bin" / "pip"), "install", "--disable-pip-version-check", "-q",
                                *BENCH_PACKAGES], capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"pip install {wanted} failed:\n{completed.stdout[-2000:]}{completed.stderr[-2000:]}")
    stamp.write_text(wanted)
    return BENCH_VENV


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def real_glance(reset: bool) -> Iterator[str]:
    """A real Glance on a free loopback port, stopped on the way out; yields its endpoint."""
    # A server left running by an interrupted run (the script checks the pid is gunicorn's).
    subprocess.run([str(REAL_GLANCE / "stop-glance.sh"), str(GLANCE_DIR)], capture_output=True, check=False)
    if reset:
        (GLANCE_DIR / "glance.sqlite").unlink(missing_ok=True)
        shutil.rmtree(GLANCE_DIR / "data", ignore_errors=True)
    if not (GLANCE_DIR / "venv" / "bin" / "gunicorn").exists():
        log(f"installing Glance into {GLANCE_DIR / 'venv'} (once; about 40 s)")
    started = time.perf_counter()
    completed = subprocess.run([str(REAL_GLANCE / "start-glance.sh"), str(GLANCE_DIR), str(free_port())],
                               capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"start-glance.sh failed:\n{completed.stderr[-3000:]}")
    values = dict(line.split("=", 1) for line in completed.stdout.split() if "=" in line)
    log(f"Glance up at {values['GLANCE_ENDPOINT']} in {time.perf_counter() - started:.1f} s")
    try:
        yield values["GLANCE_ENDPOINT"]
    finally:
        subprocess.run([str(REAL_GLANCE / "stop-glance.sh"), str(GLANCE_DIR)], capture_output=True, check=False)


# --------------------------------------------------------------------------- seeding
DISTROS = ("ubuntu", "debian", "centos", "rocky", "fedora", "windows", "alma", "suse")


def image_body(n: int) -> dict[str, Any]:
    distro = DISTROS[n % len(DISTROS)]
    return {
        "name": f"bench-{distro}-{20 + n % 5}.{n % 12:02d}-{n:05d}",
        "disk_format": ("qcow2", "raw", "vmdk", "iso")[n % 4],
        "container_format": "bare",
        # Not "community": Glance leaves those out of a listing unless asked for them.
        "visibility": ("public", "private", "shared")[n % 3],
        "min_disk": n % 40,
        "min_ram": (n % 8) * 512,
        "tags": [distro, f"batch-{n // 250}"],
        "os_distro": distro,
        "os_version": f"{20 + n % 5}.{n % 12:02d}",
        "architecture": "x86_64" if n % 3 else "aarch64",
        "hw_disk_bus": "virtio",
        "owner_team": f"team-{n % 17}",
    }


def auth_headers(token: str | None) -> dict[str, str]:
    return {"X-Auth-Token": token} if token else {}


async def count_images(endpoint: str, token: str | None = None) -> int:
    import httpx

    count, url = 0, f"{endpoint}/v2/images?limit=1000"
    async with httpx.AsyncClient(timeout=60, headers=auth_headers(token)) as client:
        while url:
            page = (await client.get(url)).raise_for_status().json()
            count += len(page["images"])
            url = endpoint + page["next"] if page.get("next") else None
    return count


async def seed(endpoint: str, wanted: int, concurrency: int = 8) -> float:
    """POST images until the server holds ``wanted`` (the server serialises them: one thread)."""
    import httpx

    have = await count_images(endpoint)
    if have >= wanted:
        return 0.0
    log(f"seeding {wanted - have} images (about a minute for 2,000)")
    started = time.perf_counter()
    queue = list(range(have, wanted))
    async with httpx.AsyncClient(timeout=120) as client:
        async def worker() -> None:
            while queue:
                n = queue.pop()
                for attempt in range(5):
                    response = await client.post(f"{endpoint}/v2/images", json=image_body(n))
                    if response.status_code == 201:
                        break
                    if response.status_code < 500 or attempt == 4:
                        raise SystemExit(f"seeding image {n}: HTTP {response.status_code} {response.text[:300]}")

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def server_time(endpoint: str, rounds: int, token: str | None = None) -> float:
    """Median time of the listing's page requests over a warm connection: the server's share."""
    import httpx

    samples = []
    with httpx.Client(timeout=60, headers=auth_headers(token)) as client:
        client.get(f"{endpoint}/v2/images?limit=1")
        for _ in range(rounds):
            started = time.perf_counter()
            url = f"{endpoint}/v2/images?limit=1000"
            while url:
                page = client.get(url).raise_for_status().json()
                url = endpoint + page["next"] if page.get("next") else None
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


# --------------------------------------------------------------------------- the clients
def save_profile(home: Path, endpoint: str, token: str) -> dict[str, str]:
    from workbench.profiles.model import Profile
    from workbench.profiles.secrets import SecretStore, env_var_name
    from workbench.profiles.store import ProfileStore

    profile = Profile.from_toml_dict({
        "provider": "glance",
        "description": "the benchmark's real Glance (noauth: the token is not checked)",
        "glance": {"image_endpoint": endpoint, "auth": {"method": "static_token"}},
    }, name=PROFILE)
    ProfileStore(home, secrets=SecretStore(environ={})).save(profile)
    return {"WORKBENCH_HOME": str(home), env_var_name(PROFILE, "token"): token}


def contenders(endpoint: str, venv: Path | None, images: int, token: str | None) -> dict[str, list[str]]:
    """The four commands (two without ``venv``: quick mode), each listing every image."""
    commands = {"workbench": [*workbench_command(), "images", "list", "-p", PROFILE, "--json"]}
    if venv is not None:
        bin_dir = venv / "bin"
        commands["openstack"] = [str(bin_dir / "openstack"), "--os-auth-type", "none", "--os-endpoint", endpoint,
                                 "image", "list", "-f", "json", "--max-items", str(images)]
        commands["glance"] = [str(bin_dir / "glance"), "--os-image-url", endpoint, "--os-auth-token", "noauth",
                              "image-list", "--page-size", "1000"]
    commands["floor"] = [sys.executable, "-c", FLOOR, endpoint, *([token] if token else [])]
    return commands


def count_output(name: str, text: str) -> int:
    if name == "glance":  # a table: one row per image between the rules
        return sum(1 for line in text.splitlines() if line.startswith("| ") and not line.startswith("| ID "))
    return len(json.loads(text))


def run_rounds(commands: dict[str, list[str]], env: dict[str, str], rounds: int, images: int,
               tmp: Path) -> dict[str, list[dict[str, Any]]]:
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    for round_no in range(rounds + 1):  # round 0 is the warm-up
        for name, command in commands.items():
            out = tmp / f"{name}.out"
            with out.open("wb") as fh:
                result = run_measured(command, env=env, stdout=fh, cwd=tmp)
            if result["exit"] != 0:
                raise SystemExit(f"{name} failed ({result['exit']}): {result['stderr'][-2000:]}")
            if round_no == 0:
                listed = count_output(name, out.read_text())
                if listed != images:
                    raise SystemExit(f"{name} listed {listed} images, not the {images} the server holds")
                continue
            result.pop("stderr")
            samples[name].append(result)
    return samples


def profile_workbench(command: list[str], env: dict[str, str], tmp: Path) -> None:
    script = ["-m", "pyinstrument", "--interval", "0.0005", "-m", "workbench", *command[1:]]
    with (tmp / "profiled.out").open("wb") as fh:
        completed = subprocess.run([sys.executable, *script], stdout=fh, stderr=subprocess.PIPE, env=env, cwd=tmp,
                                   check=False)
    sys.stderr.write(completed.stderr.decode("utf-8", "replace"))


def count_instructions(commands: dict[str, list[str]], env: dict[str, str], tmp: Path) -> dict[str, int]:
    """Instructions each of ``workbench`` and ``floor`` executes for one listing,
    under ``valgrind --tool=callgrind``: unlike CPU seconds they do not drift
    with the machine's load. Empty when valgrind is not installed."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        log("valgrind not found: no instruction counts (apt-get install valgrind)")
        return {}
    counts = {}
    for name in ("workbench", "floor"):
        completed = subprocess.run(
            [valgrind, "--tool=callgrind", f"--callgrind-out-file={tmp / ('callgrind.' + name)}", *commands[name]],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp, check=False)
        found = re.search(r"Collected : (\d+)", completed.stderr)
        if completed.returncode != 0 or found is None:
            # The timed rounds still stand: report them without this figure.
            log(f"{name} under valgrind failed ({completed.returncode}), no instruction counts:\n"
                f"{completed.stderr[-2000:]}")
            return {}
        counts[name] = int(found.group(1))
    return counts


# --------------------------------------------------------------------------- the report
def summarise(samples: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float]]:
    return {name: {"wall_s": statistics.median(r["wall_s"] for r in runs),
                   "cpu_s": statistics.median(r["cpu_s"] for r in runs),
                   "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in runs),
                   "wall_min_s": min(r["wall_s"] for r in runs), "wall_max_s": max(r["wall_s"] for r in runs)}
            for name, runs in samples.items()}


def figures(m: dict[str, dict[str, float]], quick: bool) -> list[dict[str, Any]]:
    ours, floor = m["workbench"], m["floor"]

    def ratio_row(name: str, value: float | None, target: str, ok: bool | None) -> dict[str, Any]:
        if value is None:  # quick mode: that client did not run
            return {"name": name, "value": "n/a (quick)", "unit": "", "target": target, "met": None}
        return {"name": name, "value": round(value, 2), "unit": "x", "target": target,
                "met": None if quick else ok}

    speedup = m["openstack"]["wall_s"] / ours["wall_s"] if "openstack" in m else None
    glance_ratio = m["glance"]["wall_s"] / ours["wall_s"] if "glance" in m else None
    wall_ratio = ours["wall_s"] / floor["wall_s"]
    cpu_ratio = ours["cpu_s"] / floor["cpu_s"]
    return [
        ratio_row("openstack wall / workbench wall", speedup, f">= {TARGETS['openstack_speedup']}",
                  speedup is not None and speedup >= TARGETS["openstack_speedup"]),
        ratio_row("glance wall / workbench wall", glance_ratio, "> 1", glance_ratio is not None and glance_ratio > 1),
        ratio_row("workbench wall / httpx floor wall", wall_ratio, f"<= {TARGETS['floor_wall']}",
                  wall_ratio <= TARGETS["floor_wall"]),
        ratio_row("workbench CPU / httpx floor CPU", cpu_ratio, f"<= {TARGETS['floor_cpu']}",
                  cpu_ratio <= TARGETS["floor_cpu"]),
        # What the server's own time leaves to win: even the floor is only this much faster than openstack.
        {"name": "openstack wall / floor wall (the best any client could show)",
         "value": round(m["openstack"]["wall_s"] / floor["wall_s"], 2) if "openstack" in m else "n/a (quick)",
         "unit": "x" if "openstack" in m else ""},
        {"name": "workbench wall (median)", "value": round(ours["wall_s"], 3), "unit": "s"},
        {"name": "workbench CPU (median)", "value": round(ours["cpu_s"], 3), "unit": "s"},
    ]


def report(m: dict[str, dict[str, float]], server_s: float, images: int, rounds: int, server: str,
           versions: dict[str, str], quick: bool, instructions: dict[str, int]) -> list[dict[str, Any]]:
    print(f"CLI listing Glance images, beside openstack, glance and an httpx floor, "
          f"{time.strftime('%Y-%m-%d %H:%M')}: {platform.python_implementation()} {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  reproduce: python benchmarks/cli_vs_glance.py{' --quick' if quick else ''}")
    print(f"  server: {server}, listing {images:,} images")
    print(f"  clients: {', '.join(f'{k} {v}' for k, v in versions.items())}")
    print(f"  whole process, median of {rounds} round(s) after a warm-up; CPU = user + system of the process")
    print(f"  {'client':<11}{'wall s':>8}{'(min-max)':>15}{'CPU s':>8}{'RSS MB':>8}{'wall vs ours':>14}")
    for name, r in m.items():
        spread = f"{r['wall_min_s']:.2f}-{r['wall_max_s']:.2f}"
        print(f"  {name:<11}{r['wall_s']:>8.3f}{spread:>15}{r['cpu_s']:>8.3f}{r['peak_rss_mb']:>8.0f}"
              f"{r['wall_s'] / m['workbench']['wall_s']:>13.2f}x")
    print(f"  the server's share: the listing's page requests over a warm connection take {server_s:.3f} s (median)")
    rows = figures(m, quick)
    rows.append({"name": "server time for the listing's pages (median)", "value": round(server_s, 3), "unit": "s"})
    if instructions:
        print(f"  instructions (valgrind callgrind, one run each): workbench {instructions['workbench'] / 1e9:.3f} G, "
              f"floor {instructions['floor'] / 1e9:.3f} G")
        rows.append({"name": "workbench / floor in instructions (load-independent CPU)",
                     "value": round(instructions["workbench"] / instructions["floor"], 2), "unit": "x"})
    if quick:
        print("  quick mode: the simulator instead of a real Glance, openstack and glance not run, targets not "
              "checked")
    else:
        for row in rows:
            if "target" in row:
                print(f"  target {row['name']} {row['target']}: {row['value']}x: {'met' if row['met'] else 'MISSED'}")
    return rows


def tool_versions(venv: Path | None) -> dict[str, str]:
    from importlib.metadata import version

    found = {"httpx": version("httpx")}
    for package in BENCH_PACKAGES if venv is not None else ():
        completed = subprocess.run([str(venv / "bin" / "python"), "-c",
                                    f"from importlib.metadata import version; print(version({package!r}))"],
                                   capture_output=True, text=True, check=False)
        found[package] = completed.stdout.strip() or "?"
    return found


def measure(endpoint: str, token: str | None, venv: Path | None, images: int, rounds: int,
            profile: bool, count: bool) -> tuple[dict[str, list[dict[str, Any]]], float, dict[str, int]]:
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        env = bench_env(save_profile(Path(tmp), endpoint, token or "noauth-glance-ignores-tokens"))
        commands = contenders(endpoint, venv, images, token)
        if profile:
            profile_workbench(commands["workbench"], env, Path(tmp))
        samples = run_rounds(commands, env, rounds, images, Path(tmp))
        instructions = count_instructions(commands, env, Path(tmp)) if count else {}
    return samples, server_time(endpoint, max(rounds, 3), token), instructions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="images the server holds")
    parser.add_argument("--rounds", type=int, default=5, help="measured runs of each client (median)")
    parser.add_argument("--quick", action="store_true", help="the simulator, 1 round, no targets")
    parser.add_argument("--reseed", action="store_true", help="start from an empty Glance database")
    parser.add_argument("--profile", action="store_true", help="pyinstrument of one workbench run")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line at the end")
    parser.add_argument("--no-instructions", action="store_true",
                        help="skip counting instructions under valgrind (about 30 s)")
    args = parser.parse_args()

    if args.quick:
        from listing_throughput import simulator

        with simulator(200) as endpoints:
            endpoint, token = endpoints["glance"], endpoints["tokens"]["glance"]
            images = asyncio.run(count_images(endpoint, token))
            samples, server_s, instructions = measure(endpoint, token, None, images, 1, args.profile, count=False)
        venv, rounds, server = None, 1, "the embedded simulator (workbench sim --seed-images 200)"
    else:
        venv, images, rounds = ensure_bench_venv(), args.images, args.rounds
        with real_glance(reset=args.reseed) as endpoint:
            have = asyncio.run(count_images(endpoint))
            if have > images:
                raise SystemExit(f"the benchmark's Glance holds {have} images, more than {images}: "
                                 f"rerun with --reseed (or --images {have})")
            seeded_s = asyncio.run(seed(endpoint, images))
            samples, server_s, instructions = measure(endpoint, None, venv, images, rounds, args.profile,
                                                      count=not args.no_instructions)
        server = ("Glance 33.0.0 (noauth, sqlite, 1 gunicorn thread; "
                  + (f"seeded in {seeded_s:.0f} s)" if seeded_s else "seeded by an earlier run)"))
    measured = summarise(samples)
    rows = report(measured, server_s, images, rounds, server, tool_versions(venv), args.quick, instructions)
    if args.json:
        print(json.dumps({"benchmark": "cli_vs_glance", "figures": rows,
                          "results": {"medians": measured, "server_s": server_s, "samples": samples}}))
    if not args.quick and any(row.get("met") is False for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
