"""The simulator under load: 50 concurrent clients on real loopback HTTP.

Each client loops until a shared deadline (4 s in CI, 30 s in the nightly-size
run), drawing its next call from a realistic mix over all four services:
lists (Glance, IMS, Yandex, Kusto, Batch), reads, and changes whose effect it
remembers (Glance create / rename by JSON patch / delete, Yandex creates with
an Idempotency-Key, each polled to done). Every answer must be the expected
success status. Afterwards the simulator's state must be exactly what the
clients did (every image they kept, with its final name; none they deleted;
one Yandex image per create), and p50/p99 latency goes to the report.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from workbench.sim.config import SimConfig
from workbench.sim.server import SimServer

from .conftest import is_long

CLIENTS = 50
DURATION = 30.0 if is_long() else 4.0
PATCH_V21 = "application/openstack-images-v2.1-json-patch"


@dataclass
class ClientRecord:
    number: int
    #: Glance image id -> its final name (kept) ; ids deleted
    glance_kept: dict[str, str] = field(default_factory=dict)
    glance_deleted: set[str] = field(default_factory=set)
    yandex_created: dict[str, str] = field(default_factory=dict)  # image id -> name
    calls: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Load:
    def __init__(self, server: SimServer) -> None:
        doc = server.endpoints
        self.doc = doc
        self.tokens = doc["tokens"]
        kusto = doc["kusto_ids"]
        self.kusto_list = (f"{doc['kusto']}/subscriptions/{kusto['subscription_id']}/resourceGroups/"
                           f"{kusto['resource_group']}/providers/Microsoft.Kusto/clusters/{kusto['cluster']}"
                           "/sandboxCustomImages?api-version=2024-04-13")
        from workbench.providers.batch.models import API_VERSION

        self.batch_list = f"{doc['batch']}/supportedimages?api-version={API_VERSION}&maxresults=50"
        self.folder = doc["yandex_ids"]["folder_id"]
        self.disk = doc["yandex_ids"]["disk_ids"][0]

    async def call(self, client: httpx.AsyncClient, record: ClientRecord, what: str, method: str, url: str,
                   expect: tuple[int, ...] = (200,), **kwargs) -> httpx.Response | None:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            record.errors.append(f"{what}: {type(exc).__name__}: {exc}")
            return None
        record.latencies.append(time.perf_counter() - started)
        record.calls[what] += 1
        if response.status_code not in expect:
            record.errors.append(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
            return None
        return response

    async def run_client(self, client: httpx.AsyncClient, record: ClientRecord, deadline: float) -> None:
        rng = random.Random(record.number)
        glance = {"X-Auth-Token": self.tokens["glance"]}
        yandex = {"Authorization": f"Bearer {self.tokens['yandex']}"}
        async with client:
            n = 0
            while time.monotonic() < deadline:
                n += 1
                roll = rng.random()
                if roll < 0.15:
                    await self.call(client, record, "glance list", "GET", f"{self.doc['glance']}/v2/images?limit=25",
                                    headers=glance)
                elif roll < 0.25:
                    await self.call(client, record, "ims list", "GET", f"{self.doc['ims']}/v2/images?limit=25",
                                    headers=glance)
                elif roll < 0.35:
                    await self.call(client, record, "yandex list", "GET",
                                    f"{self.doc['yandex_compute']}/compute/v1/images?folderId={self.folder}&pageSize=50",
                                    headers=yandex)
                elif roll < 0.45:
                    await self.call(client, record, "kusto list", "GET", self.kusto_list,
                                    headers={"Authorization": f"Bearer {self.tokens['kusto']}"})
                elif roll < 0.55:
                    await self.call(client, record, "batch list", "GET", self.batch_list,
                                    headers={"Authorization": f"Bearer {self.tokens['batch']}"})
                elif roll < 0.80:
                    await self.glance_cycle(client, record, glance, n, rng)
                else:
                    await self.yandex_create(client, record, yandex, n)

    async def glance_cycle(self, client, record: ClientRecord, headers: dict, n: int, rng: random.Random) -> None:
        name = f"load-{record.number}-{n}"
        created = await self.call(client, record, "glance create", "POST", f"{self.doc['glance']}/v2/images",
                                  (201,), headers=headers,
                                  json={"name": name, "disk_format": "qcow2", "container_format": "bare"})
        if created is None:
            return
        image_id = created.json()["id"]
        record.glance_kept[image_id] = name
        renamed = f"{name}-renamed"
        patch = [{"op": "replace", "path": "/name", "value": renamed}]
        patched = await self.call(client, record, "glance patch", "PATCH", f"{self.doc['glance']}/v2/images/{image_id}",
                                  headers={**headers, "Content-Type": PATCH_V21}, content=json.dumps(patch))
        if patched is None:
            return
        record.glance_kept[image_id] = renamed
        shown = await self.call(client, record, "glance get", "GET", f"{self.doc['glance']}/v2/images/{image_id}",
                                headers=headers)
        if shown is not None and shown.json().get("name") != renamed:
            record.errors.append(f"glance get: {image_id} is named {shown.json().get('name')!r}, not {renamed!r}")
        if rng.random() < 0.5:
            deleted = await self.call(client, record, "glance delete", "DELETE",
                                      f"{self.doc['glance']}/v2/images/{image_id}", (204,), headers=headers)
            if deleted is not None:
                del record.glance_kept[image_id]
                record.glance_deleted.add(image_id)

    async def yandex_create(self, client, record: ClientRecord, headers: dict, n: int) -> None:
        name = f"load-{record.number}-{n}"
        body = {"folderId": self.folder, "name": name, "diskId": self.disk}
        started = await self.call(client, record, "yandex create", "POST",
                                  f"{self.doc['yandex_compute']}/compute/v1/images",
                                  headers={**headers, "Idempotency-Key": str(uuid.uuid4())}, json=body)
        if started is None:
            return
        operation = started.json()
        record.yandex_created[operation["metadata"]["imageId"]] = name
        for _ in range(20):  # operation_polls=1: done on the first or second poll
            if operation.get("done"):
                break
            polled = await self.call(client, record, "yandex operation", "GET",
                                     f"{self.doc['yandex_operation']}/operations/{operation['id']}", headers=headers)
            if polled is None:
                return
            operation = polled.json()
        if not operation.get("done") or "error" in operation:
            record.errors.append(f"yandex create {name}: operation did not end well: {operation}")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def test_fifty_concurrent_clients_get_no_errors_and_leave_consistent_state(report):
    config = SimConfig(operation_polls=1, operation_retry_after=0)
    with SimServer(config) as server:
        glance_state = server.context.states["glance"]
        yandex_state = server.context.states["yandex"]
        glance_before = set(glance_state.images)
        yandex_before = set(yandex_state.images)
        load = Load(server)
        records = [ClientRecord(number) for number in range(CLIENTS)]
        # Made before the clock starts (building a client costs CPU that would stall the others'
        # first requests); plain http on loopback, so no CA bundle is loaded.
        clients = [httpx.AsyncClient(timeout=30, verify=False) for _ in records]
        deadline = time.monotonic() + DURATION
        started = time.monotonic()
        # Bounded: every client stops at the deadline; the whole run may not overrun it by much.
        await asyncio.wait_for(asyncio.gather(*(load.run_client(c, r, deadline) for c, r in zip(clients, records))),
                               timeout=DURATION + 60)
        elapsed = time.monotonic() - started

        errors = [error for r in records for error in r.errors]
        calls = sum((r.calls for r in records), Counter())
        latencies = [lat for r in records for lat in r.latencies]
        total = sum(calls.values())
        report.add("simulator load", f"{CLIENTS} clients for {elapsed:.1f} s on loopback: {total} requests "
                                     f"({total / elapsed:.0f}/s), {len(errors)} errors")
        if latencies:
            report.add("simulator load", f"latency p50 {statistics.median(latencies) * 1000:.1f} ms, "
                                         f"p99 {_percentile(latencies, 0.99) * 1000:.1f} ms, "
                                         f"max {max(latencies) * 1000:.1f} ms")
        report.add("simulator load", "calls: " + ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
        assert not errors, f"{len(errors)} errors, first: {errors[:5]}"
        assert total > CLIENTS * 5 and calls["glance create"] and calls["yandex create"]

        # The state is exactly what the clients did.
        kept = {image_id: name for r in records for image_id, name in r.glance_kept.items()}
        deleted = {image_id for r in records for image_id in r.glance_deleted}
        with glance_state.lock:
            after = {image_id: image["name"] for image_id, image in glance_state.images.items()
                     if image.get("status") != "deleted"}
        assert set(after) == glance_before | set(kept), "Glance images missing or left over"
        assert all(after[image_id] == name for image_id, name in kept.items()), "a Glance rename was lost"
        assert not deleted & set(after)
        created = {image_id: name for r in records for image_id, name in r.yandex_created.items()}
        with yandex_state.lock:
            new_images = {image_id: image["name"] for image_id, image in yandex_state.images.items()
                          if image_id not in yandex_before}
        assert new_images == created, "Yandex: not exactly one image per create"
        # ... and what the API says agrees with the state.
        async with httpx.AsyncClient(timeout=30) as client:
            listed: set[str] = set()
            url = f"{server.endpoints['glance']}/v2/images?limit=1000"
            while url:
                page = (await client.get(url, headers={"X-Auth-Token": load.tokens["glance"]})).json()
                listed.update(image["id"] for image in page["images"])
                url = server.endpoints["glance"] + page["next"] if page.get("next") else ""
            assert set(kept) <= listed and not deleted & listed and listed <= set(after)
