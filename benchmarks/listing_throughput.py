"""Benchmark: listing throughput of the four drivers, beside openstacksdk (issue 7, target 2).

`workbench sim --seed-images N` runs as its own process on loopback, so the
server's CPU is never counted as the client's. Each case then runs in a fresh
client process that connects, lists one image (the token and the connection
are set up outside the measurement), and then lists every image of the
account, measuring:

- wall time and images per second;
- client CPU: the process's CPU time (user + system) around the listing, per image;
- peak RSS of the client process.

Cases: our drivers for Kusto (ARM pages of 200), Glance (pages of 1,000), Batch
(pages of 1,000) and Yandex (pages of 1,000), and the reference, openstacksdk's
`conn.image.images(limit=1000)` on the same simulated Glance (it builds a
resource object per image). The reference lists the first 20,000 of the
images by default (`--sdk-images`): at about 1 ms of CPU per image, all
100,000 would take two minutes of the suite's ten, and its cost per image is
flat (one page of 1,000 after another), which is the figure compared.

    .venv/bin/python benchmarks/listing_throughput.py             # 100,000 images, target checked
    .venv/bin/python benchmarks/listing_throughput.py --quick     # 2,000 images, no target
    .venv/bin/python benchmarks/listing_throughput.py --profile glance   # pyinstrument of one case

Target: our Glance driver spends at most a third of openstacksdk's client CPU per image.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DRIVER_CASES = ("kusto", "glance", "batch", "yandex")
REFERENCE_CASE = "openstacksdk"
TARGET_CPU_RATIO = 1 / 3


# --------------------------------------------------------------------------- the simulator process
@contextmanager
def simulator(seed_images: int, *, operation_polls: int | None = None) -> Iterator[dict[str, Any]]:
    """`workbench sim` in a subprocess on a free loopback port; yields its endpoints document."""
    with tempfile.TemporaryDirectory(prefix="wb-bench-sim-") as tmp:
        endpoints_file = Path(tmp) / "endpoints.json"
        command = [sys.executable, "-m", "workbench", "sim", "--port", "0", "--seed-images", str(seed_images),
                   "--endpoints-file", str(endpoints_file)]
        if operation_polls is not None:
            command += ["--operation-polls", str(operation_polls)]
        log_file = Path(tmp) / "sim.log"  # a file, not a pipe nobody reads while it runs
        with log_file.open("wb") as log:
            process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 120
            while not (endpoints_file.exists() and endpoints_file.read_text().endswith("\n")):
                if process.poll() is not None:
                    raise RuntimeError(f"workbench sim exited ({process.returncode}): {log_file.read_text()[-2000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError("workbench sim did not start within 120 s")
                time.sleep(0.05)
            yield json.loads(endpoints_file.read_text())
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def peak_rss_mb() -> float:
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 1024**2


# --------------------------------------------------------------------------- the clients
def open_driver(case: str, endpoints: dict[str, Any]) -> Any:
    """One of our drivers, authenticated as a saved profile of the simulator would be."""
    if case == "kusto":
        from workbench.providers.azure_auth import AzureCredential
        from workbench.providers.kusto.driver import KustoDriver

        ids, entra = endpoints["kusto_ids"], endpoints["entra_credentials"]
        credential = AzureCredential("client_secret", tenant_id=entra["tenant_id"], client_id=entra["client_id"],
                                     client_secret=entra["client_secret"], authority=endpoints["entra"])
        return KustoDriver.connect(subscription_id=ids["subscription_id"], resource_group=ids["resource_group"],
                                   cluster=ids["cluster"], base_url=endpoints["kusto"], credential=credential)
    if case == "glance":
        from workbench.providers.glance.driver import GlanceDriver

        return GlanceDriver.connect(token=endpoints["tokens"]["glance"], image_endpoint=endpoints["glance"])
    if case == "batch":
        from workbench.providers.batch.driver import BatchDriver

        account = endpoints["batch_account"]
        return BatchDriver.connect(account_url=endpoints["batch"], account_name=account["name"],
                                   account_key=account["key"])
    if case == "yandex":
        from workbench.providers.yandex.driver import YandexDriver

        return YandexDriver.connect(folder_id=endpoints["yandex_ids"]["folder_id"],
                                    oauth_token=endpoints["yandex_credentials"]["oauth_token"],
                                    compute_endpoint=endpoints["yandex_compute"],
                                    operation_endpoint=endpoints["yandex_operation"],
                                    iam_endpoint=endpoints["yandex_iam"])
    raise ValueError(f"unknown case {case!r}")


async def list_with_driver(case: str, endpoints: dict[str, Any], profiler: Any) -> dict[str, Any]:
    async with open_driver(case, endpoints) as driver:
        async for _ in driver.list_images(limit=1):  # token and connection, not measured
            pass
        count = 0
        if profiler:
            profiler.start()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        async for _ in driver.list_images():
            count += 1
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if profiler:
            profiler.stop()
        pages = sum(1 for entry in driver.http.log.entries() if entry.method == "GET") - 1
    return {"count": count, "wall_s": wall, "cpu_s": cpu, "pages": pages}


def list_with_openstacksdk(endpoints: dict[str, Any], profiler: Any, limit: int | None) -> dict[str, Any]:
    import warnings

    warnings.simplefilter("ignore")
    import openstack

    conn = openstack.connect(auth_type="admin_token",
                             auth={"token": endpoints["tokens"]["glance"], "endpoint": endpoints["glance"]},
                             image_endpoint_override=endpoints["glance"], region_name="RegionOne")
    next(iter(conn.image.images(limit=1)))  # discovery, session and connection, not measured
    count = 0
    if profiler:
        profiler.start()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in conn.image.images(limit=1000):
        count += 1
        if limit is not None and count >= limit:
            break
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    if profiler:
        profiler.stop()
    conn.close()
    return {"count": count, "wall_s": wall, "cpu_s": cpu, "pages": None}


def run_case(case: str, endpoints: dict[str, Any], profile: bool, sdk_images: int | None) -> dict[str, Any]:
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="disabled")
    if case == REFERENCE_CASE:
        result = list_with_openstacksdk(endpoints, profiler, sdk_images)
    else:
        result = asyncio.run(list_with_driver(case, endpoints, profiler))
    if profiler:
        print(profiler.output_text(unicode=True, color=False, show_all=False), file=sys.stderr)
    result.update(case=case, peak_rss_mb=peak_rss_mb())
    result["images_per_s"] = result["count"] / result["wall_s"] if result["wall_s"] else 0.0
    result["cpu_us_per_image"] = result["cpu_s"] / result["count"] * 1e6 if result["count"] else 0.0
    return result


def run_in_subprocess(case: str, endpoints_file: Path, profile: bool, sdk_images: int | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--case", case, "--endpoints", str(endpoints_file)]
    if sdk_images:
        command += ["--sdk-images", str(sdk_images)]
    if profile:
        command.append("--profile-case")
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPO)
    if completed.stderr:
        sys.stderr.write(completed.stderr)
    if completed.returncode != 0:
        raise SystemExit(f"case {case} failed (exit {completed.returncode})")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- the report
def figures(results: dict[str, dict[str, Any]], images: int, quick: bool) -> list[dict[str, Any]]:
    sdk = results[REFERENCE_CASE]
    glance = results["glance"]
    ratio = glance["cpu_us_per_image"] / sdk["cpu_us_per_image"]
    rows = []
    for case in (*DRIVER_CASES, REFERENCE_CASE):
        r = results[case]
        rows.append({"name": f"{case}: images/s", "value": round(r["images_per_s"]), "unit": "images/s"})
        rows.append({"name": f"{case}: client CPU per image", "value": round(r["cpu_us_per_image"], 1),
                     "unit": "us"})
    rows.append({
        "name": "glance driver CPU / openstacksdk CPU (per image)",
        "value": round(ratio, 3),
        "unit": "x",
        "target": "<= 0.333",
        "met": None if quick else ratio <= TARGET_CPU_RATIO,
    })
    return rows


def report(results: dict[str, dict[str, Any]], images: int, quick: bool) -> list[dict[str, Any]]:
    print(f"Listing throughput, {time.strftime('%Y-%m-%d %H:%M')}: {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  reproduce: python benchmarks/listing_throughput.py{' --quick' if quick else ''}")
    print(f"  workbench sim --seed-images {images:,} (its own process, loopback); one client process per case"
          + (f"; openstacksdk lists the first {results[REFERENCE_CASE]['count']:,}"
             if results[REFERENCE_CASE]["count"] < results["glance"]["count"] else ""))
    header = f"  {'case':<14}{'images':>9}{'pages':>7}{'wall s':>9}{'images/s':>10}{'CPU s':>8}" \
             f"{'CPU us/img':>11}{'RSS MB':>8}"
    print(header)
    for case in (*DRIVER_CASES, REFERENCE_CASE):
        r = results[case]
        pages = "" if r["pages"] is None else str(r["pages"])
        print(f"  {case:<14}{r['count']:>9,}{pages:>7}{r['wall_s']:>9.2f}{r['images_per_s']:>10,.0f}"
              f"{r['cpu_s']:>8.2f}{r['cpu_us_per_image']:>11.1f}{r['peak_rss_mb']:>8.0f}")
    rows = figures(results, images, quick)
    ratio_row = rows[-1]
    sdk, ours = results[REFERENCE_CASE], results["glance"]
    print(f"  glance driver: {ratio_row['value']:.3f}x openstacksdk's client CPU per image "
          f"({ours['cpu_us_per_image']:.1f} vs {sdk['cpu_us_per_image']:.1f} us), "
          f"{ours['images_per_s'] / sdk['images_per_s']:.1f}x its images/s")
    if quick:
        print("  quick mode: targets not checked")
    else:
        print(f"  target glance CPU <= 1/3 of openstacksdk's: {'met' if ratio_row['met'] else 'MISSED'}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=100_000, help="images seeded per provider")
    parser.add_argument("--sdk-images", type=int, default=20_000,
                        help="images openstacksdk lists (0: all); its CPU per image is what is compared")
    parser.add_argument("--quick", action="store_true", help="2,000 images, target not checked")
    parser.add_argument("--profile", choices=(*DRIVER_CASES, REFERENCE_CASE), help="pyinstrument of one case")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line at the end")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--endpoints", help=argparse.SUPPRESS)
    parser.add_argument("--profile-case", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:
        endpoints = json.loads(Path(args.endpoints).read_text())
        print(json.dumps(run_case(args.case, endpoints, args.profile_case, args.sdk_images or None)))
        return

    images = 2_000 if args.quick else args.images
    sdk_images = args.sdk_images if args.sdk_images and args.sdk_images < images else None
    results: dict[str, dict[str, Any]] = {}
    with simulator(images) as endpoints, tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        endpoints_file = Path(tmp) / "endpoints.json"
        endpoints_file.write_text(json.dumps(endpoints))
        for case in (*DRIVER_CASES, REFERENCE_CASE):
            results[case] = run_in_subprocess(case, endpoints_file, args.profile == case, sdk_images)
    for case, result in results.items():
        wanted = min(images, sdk_images) if case == REFERENCE_CASE and sdk_images else images
        if result["count"] < wanted:
            raise SystemExit(f"{case} listed {result['count']} images, fewer than the {wanted} wanted")
    rows = report(results, images, args.quick)
    if args.json:
        print(json.dumps({"benchmark": "listing_throughput", "figures": rows, "results": results}))
    if not args.quick and not all(row.get("met", True) is not False for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
