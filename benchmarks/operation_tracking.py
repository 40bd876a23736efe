"""Benchmark: 1,000 concurrent operations, Kusto and Yandex mixed (issue 7, target 5).

The simulator runs in its own process with ``Retry-After: 1`` on every running
operation, wrapped in an audit middleware that watches every status poll from
the server's side: for each operation it remembers when its last answer left
the server and what Retry-After it carried, and counts a poll that arrives
before that moment plus the Retry-After as early. The client side counts the
same thing from the tracker's own records (``Operation.poll_log`` /
``early_polls``). Both must be 0.

The client (this process) starts 500 Kusto image builds and 500 Yandex image
creates at once, tracks all 1,000 on one ``OperationTracker`` until each has
finished (and its final resource was read, as the SDKs do), and reports:

- operations finished / succeeded, and how long tracking took;
- polls sent, early polls seen by the client and by the server, and the
  smallest margin the server saw between "allowed" and "arrived";
- client CPU (process time, user + system) per poll while tracking.

    .venv/bin/python benchmarks/operation_tracking.py            # 1,000 operations, targets checked
    .venv/bin/python benchmarks/operation_tracking.py --quick    # 100 operations, no targets
    .venv/bin/python benchmarks/operation_tracking.py --profile  # pyinstrument of the tracking

Target: all finish, 0 early polls (client and server side).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from typing import Any

REPO_SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUDIT_PATH = "/_bench/audit"
RETRY_AFTER = 1
#: Status polls an operation needs before it is done (the simulator's default is 2).
OPERATION_POLLS = 2


# =========================================================================== server side
#: Status-poll paths: ARM operationResults (Kusto) and the Yandex Operation service.
_POLL_PATH = re.compile(r"/operationResults/[^/]+/?$|/yandex/operation/operations/[^/:]+$", re.IGNORECASE)


class PollAudit:
    """ASGI middleware counting status polls that arrive before the server allowed them.

    An operation's key is its status path (lower-cased). Every answer with a
    ``Retry-After`` sets "allowed" for the keys it concerns: its own path for a
    poll, the ``Azure-AsyncOperation``/``Location`` links of an ARM answer, and
    the Operation service path of a Yandex operation in the body. The moment is
    taken just before the last byte of the answer is handed to the socket: the
    client cannot have read the answer earlier, so a client waiting Retry-After
    from its own receipt always arrives after it.
    """

    def __init__(self, app: Any, operation_prefix: str) -> None:
        self.app = app
        self.operation_prefix = operation_prefix.rstrip("/")
        self.allowed: dict[str, float] = {}
        self.polls = 0
        self.early = 0
        self.unmatched = 0
        self.min_margin: float | None = None
        self.requests = 0

    def audit(self) -> dict[str, Any]:
        return {"polls": self.polls, "early": self.early, "unmatched": self.unmatched,
                "min_margin_s": self.min_margin, "requests": self.requests, "operations": len(self.allowed)}

    def _keys_of(self, method: str, path: str, headers: dict[bytes, bytes], body: bytes) -> list[str]:
        keys = []
        if method == "GET" and _POLL_PATH.search(path):
            keys.append(path.lower())
        for name in (b"azure-asyncoperation", b"location"):
            link = headers.get(name)
            if link:
                link_path = re.sub(r"^[a-z]+://[^/]+", "", link.decode("latin-1")).split("?", 1)[0]
                keys.append(link_path.lower())
        if body and method == "POST":
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and "done" in doc and isinstance(doc.get("id"), str):
                keys.append(f"{self.operation_prefix}/operations/{doc['id']}".lower())
        return keys

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()
        path, method = scope["path"], scope["method"]
        if path == AUDIT_PATH:
            body = json.dumps(self.audit()).encode()
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        self.requests += 1
        if method == "GET" and _POLL_PATH.search(path):
            key = path.lower()
            self.polls += 1
            allowed = self.allowed.get(key)
            if allowed is None:
                self.unmatched += 1
            else:
                margin = arrived - allowed
                self.min_margin = margin if self.min_margin is None else min(self.min_margin, margin)
                if margin < 0:
                    self.early += 1

        state: dict[str, Any] = {"headers": {}, "retry_after": None, "chunks": []}

        async def audited_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = {name.lower(): value for name, value in message.get("headers", [])}
                state["headers"] = headers
                value = headers.get(b"retry-after")
                if value is not None and value.strip().isdigit():
                    state["retry_after"] = int(value)
            elif message["type"] == "http.response.body" and state["retry_after"] is not None:
                if method == "POST":
                    state["chunks"].append(message.get("body", b""))
                if not message.get("more_body", False):
                    stamp = time.monotonic()
                    body = b"".join(state["chunks"])
                    for key in self._keys_of(method, path, state["headers"], body):
                        self.allowed[key] = stamp + state["retry_after"]
            await send(message)

        await self.app(scope, receive, audited_send)


def serve(operation_polls: int) -> None:
    """The simulator with Retry-After 1 and the audit, on a free port; prints its endpoints line."""
    import uvicorn

    from workbench.sim.app import PREFIXES, build_app, endpoints_document
    from workbench.sim.config import SimConfig
    from workbench.sim.context import SimContext

    context = SimContext(SimConfig(operation_retry_after=RETRY_AFTER, operation_polls=operation_polls))
    app = PollAudit(build_app(context=context), PREFIXES["yandex_operation"])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                            lifespan="off", backlog=4096, timeout_keep_alive=60)
    server = uvicorn.Server(config)

    async def main() -> None:
        serving = asyncio.ensure_future(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
                return
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        print(json.dumps(endpoints_document(f"http://127.0.0.1:{port}", context)), flush=True)
        await serving

    asyncio.run(main())


# =========================================================================== client side
async def run_client(endpoints: dict[str, Any], operations: int, profile: bool) -> dict[str, Any]:
    import httpx

    from workbench.core.operations import OperationStatus, OperationTracker
    from workbench.providers.azure_auth import AzureCredential
    from workbench.providers.kusto.driver import KustoDriver
    from workbench.providers.yandex.driver import YandexDriver

    ids, entra = endpoints["kusto_ids"], endpoints["entra_credentials"]
    kusto = KustoDriver.connect(
        subscription_id=ids["subscription_id"], resource_group=ids["resource_group"], cluster=ids["cluster"],
        base_url=endpoints["kusto"],
        credential=AzureCredential("client_secret", tenant_id=entra["tenant_id"], client_id=entra["client_id"],
                                   client_secret=entra["client_secret"], authority=endpoints["entra"]))
    yandex = YandexDriver.connect(folder_id=endpoints["yandex_ids"]["folder_id"],
                                  oauth_token=endpoints["yandex_credentials"]["oauth_token"],
                                  compute_endpoint=endpoints["yandex_compute"],
                                  operation_endpoint=endpoints["yandex_operation"],
                                  iam_endpoint=endpoints["yandex_iam"])
    disks = endpoints["yandex_ids"]["disk_ids"]
    run_id = f"{int(time.time()) % 100000:05d}"
    async with kusto, yandex:
        # Tokens first, so the creates below measure the creates.
        await kusto.auth.apply(httpx.Request("GET", endpoints["kusto"]))
        await yandex.auth.apply(httpx.Request("GET", endpoints["yandex_compute"]))
        requests = []
        for n in range(operations):
            if n % 2 == 0:
                requests.append((kusto, kusto.create_or_update(f"bench{run_id}x{n:04d}", language_version="3.10.8")))
            else:
                requests.append((yandex, yandex.create_image_request(name=f"bench-{run_id}-{n:04d}",
                                                                     disk_id=disks[n % len(disks)])))
        wall0, cpu0 = time.perf_counter(), time.process_time()
        ops = await asyncio.gather(*(driver.send(request) for driver, request in requests))
        create_wall, create_cpu = time.perf_counter() - wall0, time.process_time() - cpu0

        profiler = None
        if profile:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.001, async_mode="enabled")
            profiler.start()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        async with OperationTracker({"kusto": kusto.poller(), "yandex": yandex.poller()}) as tracker:
            for op in ops:
                tracker.track(op)
            done = await tracker.wait_all(timeout=600)
        track_wall, track_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        if profiler:
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False), file=sys.stderr)

        async with httpx.AsyncClient() as client:
            audit = (await client.get(endpoints["admin"].rsplit("/", 1)[0] + AUDIT_PATH)).json()
        requests_sent = sum(op.polls + (op.result is not None) for op in done)
        reference = await bare_httpx_reference(kusto, yandex, endpoints["yandex_operation"], done, requests_sent)

    finished = sum(1 for op in done if op.done)
    succeeded = sum(1 for op in done if op.status is OperationStatus.SUCCEEDED)
    polls = sum(op.polls for op in done)
    failures = [f"{op.provider} {op.target}: {op.error}" for op in done
                if op.status is not OperationStatus.SUCCEEDED][:5]
    per_provider = {}
    for provider in ("kusto", "yandex"):
        mine = [op for op in done if op.provider == provider]
        per_provider[provider] = {"operations": len(mine), "polls": sum(op.polls for op in mine),
                                  "early": sum(op.early_polls for op in mine)}
    return {
        "operations": len(ops),
        "tracked": len(done),
        "finished": finished,
        "succeeded": succeeded,
        "failures": failures,
        "with_result": sum(1 for op in done if op.result is not None),
        "create_wall_s": create_wall,
        "create_cpu_s": create_cpu,
        "track_wall_s": track_wall,
        "track_cpu_s": track_cpu,
        "polls": polls,
        "early_polls_client": sum(op.early_polls for op in done),
        "server": audit,
        "per_provider": per_provider,
        "cpu_us_per_poll": track_cpu / polls * 1e6 if polls else 0.0,
        "requests_while_tracking": requests_sent,
        "cpu_us_per_request": track_cpu / requests_sent * 1e6 if requests_sent else 0.0,
        "reference": reference,
        "create_cpu_us_per_op": create_cpu / len(ops) * 1e6 if ops else 0.0,
    }


async def bare_httpx_reference(kusto: Any, yandex: Any, operation_endpoint: str, ops: list[Any],
                               count: int) -> dict[str, Any]:
    """The floor: ``count`` plain httpx GETs of the same status and resource
    URLs, all at once, through one client with our core's concurrency (32 in
    flight, 40 connections): no tracker, no log, no masking, no retries."""
    import httpx

    urls: list[tuple[str, str]] = []
    for op in ops:
        if op.provider == "kusto":
            urls += [("kusto", op.poll_state["async_url"])] * op.polls + [("kusto", op.poll_state["final_url"])]
        else:
            urls += [("yandex", f"{operation_endpoint}/operations/{op.id}")] * op.polls
            urls.append(("yandex", f"{yandex.base_url}/compute/v1/images/{op.target}"))
    urls = (urls * (count // max(1, len(urls)) + 1))[:count]
    headers = {}
    for name, driver in (("kusto", kusto), ("yandex", yandex)):
        probe = httpx.Request("GET", next(url for provider, url in urls if provider == name))
        await driver.auth.apply(probe)  # the same token the drivers used
        headers[name] = {"Authorization": probe.headers["Authorization"]}
    slots = asyncio.Semaphore(32)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=40, max_keepalive_connections=40)) as client:
        async def get(provider: str, url: str) -> None:
            async with slots:
                response = await client.get(url, headers=headers[provider])
                response.raise_for_status()
                response.json()

        wall0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(get(provider, url) for provider, url in urls))
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {"requests": len(urls), "wall_s": wall, "cpu_s": cpu, "cpu_us_per_request": cpu / len(urls) * 1e6}


def start_server(operation_polls: int) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    """The audited simulator in its own process (its log goes to a file nobody has to drain)."""
    log = tempfile.TemporaryFile()  # noqa: SIM115 - open for as long as the server runs
    process = subprocess.Popen([sys.executable, __file__, "--serve", "--operation-polls", str(operation_polls)],
                               stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO_SRC)
    assert process.stdout is not None
    line = process.stdout.readline()  # the endpoints line, once it listens
    if not line:
        process.wait(10)
        log.seek(0)
        raise SystemExit(f"the simulator did not start: {log.read().decode('utf-8', 'replace')[-2000:]}")
    return process, json.loads(line)


def stop_server(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# =========================================================================== the report
def figures(r: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    def met(ok: bool) -> bool | None:
        return None if quick else ok

    server = r["server"]
    return [
        {"name": "operations finished (succeeded)", "value": f"{r['finished']}/{r['operations']} "
                                                              f"({r['succeeded']})",
         "unit": "", "target": "all", "met": met(r["finished"] == r["operations"] == r["succeeded"])},
        {"name": "early polls, client side (poll_log)", "value": r["early_polls_client"], "unit": "",
         "target": "0", "met": met(r["early_polls_client"] == 0)},
        {"name": "early polls, server side", "value": server["early"], "unit": "", "target": "0",
         "met": met(server["early"] == 0 and server["unmatched"] == 0)},
        {"name": "polls (client / server)", "value": f"{r['polls']} / {server['polls']}", "unit": ""},
        {"name": "client CPU per poll", "value": round(r["cpu_us_per_poll"]), "unit": "us"},
        {"name": "client CPU per request / bare httpx GET", "value": round(
            r["cpu_us_per_request"] / r["reference"]["cpu_us_per_request"], 2), "unit": "x"},
        {"name": "tracking wall time", "value": round(r["track_wall_s"], 2), "unit": "s"},
    ]


def report(r: dict[str, Any], quick: bool) -> list[dict[str, Any]]:
    server = r["server"]
    print(f"Operation tracking, {time.strftime('%Y-%m-%d %H:%M')}: {platform.python_implementation()} "
          f"{platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"  reproduce: python benchmarks/operation_tracking.py{' --quick' if quick else ''}")
    print(f"  simulator in its own process: Retry-After {RETRY_AFTER} s, {OPERATION_POLLS} polls per operation")
    print(f"  operations: {r['operations']} ({r['per_provider']['kusto']['operations']} Kusto image builds, "
          f"{r['per_provider']['yandex']['operations']} Yandex image creates), started at once in "
          f"{r['create_wall_s']:.2f} s ({r['create_cpu_us_per_op']:.0f} us CPU each)")
    print(f"  finished {r['finished']}, succeeded {r['succeeded']}, final resource read for {r['with_result']}, "
          f"in {r['track_wall_s']:.2f} s of tracking")
    if r["failures"]:
        print("  failures: " + "; ".join(r["failures"]))
    print(f"  polls: {r['polls']} by the client ({r['polls'] / max(1, r['operations']):.2f} per operation), "
          f"{server['polls']} seen by the server")
    for provider, p in r["per_provider"].items():
        print(f"    {provider}: {p['polls']} polls, {p['early']} early")
    margin = server["min_margin_s"]
    print(f"  early polls: client {r['early_polls_client']}, server {server['early']} "
          f"(polls the server could not match to an answer: {server['unmatched']}; smallest margin past the "
          f"allowed moment: {'n/a' if margin is None else f'{margin * 1000:.1f} ms'})")
    ref = r["reference"]
    print(f"  client CPU while tracking: {r['track_cpu_s']:.2f} s, {r['cpu_us_per_poll']:.0f} us per poll "
          f"(final resource reads included); {r['cpu_us_per_request']:.0f} us per request sent "
          f"({r['requests_while_tracking']} polls and final reads)")
    print(f"  reference: {ref['requests']} bare httpx GETs of the same URLs, all at once, 32 in flight: "
          f"{ref['cpu_us_per_request']:.0f} us CPU each ({ref['wall_s']:.2f} s); the tracker costs "
          f"{r['cpu_us_per_request'] / ref['cpu_us_per_request']:.2f}x that per request")
    rows = figures(r, quick)
    if quick:
        print("  quick mode: targets not checked")
    else:
        for row in rows:
            if "target" in row:
                print(f"  target {row['name']}: {row['target']}: {'met' if row['met'] else 'MISSED'}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--operations", type=int, default=1000, help="operations, half Kusto, half Yandex")
    parser.add_argument("--quick", action="store_true", help="100 operations, targets not checked")
    parser.add_argument("--profile", action="store_true", help="pyinstrument of the tracking")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line at the end")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--operation-polls", type=int, default=OPERATION_POLLS, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        serve(args.operation_polls)
        return
    operations = 100 if args.quick else args.operations
    process, endpoints = start_server(args.operation_polls)
    try:
        result = asyncio.run(run_client(endpoints, operations, args.profile))
    finally:
        stop_server(process)
    rows = report(result, args.quick)
    if args.json:
        print(json.dumps({"benchmark": "operation_tracking", "figures": rows, "results": result}))
    if not args.quick and any(row.get("met") is False for row in rows):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
