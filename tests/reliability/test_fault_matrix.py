"""Every driver operation under injected faults, at 10 % and 30 % of requests.

One loopback simulator serves the whole matrix. Each cell is one driver (opened
from a profile exactly as the app and the command line open it: the simulator's
profiles, real token flows), one fault kind and one rate:

- ``latency`` (a slow answer), ``throttle`` (429 + Retry-After), ``unavailable``
  (503 + Retry-After), ``drop`` (the request is processed, then the connection
  is cut before the answer), ``fail_operation`` (long-running operations end
  Failed), set through the simulator's admin API ``/_sim/faults``;
- ``token_expiry``: every issued token expires just before a request (with
  the cell's probability, at most once per three requests: a fresh token does
  not expire again at once), so drivers must refresh mid-session.

With the faults on, each cell lists every image across many pages, reads a
few, and makes the provider's changes (tracking their operations to the end).
The rules:

- a listing is exactly the listing made with faults off: same images, same
  order, none twice, none missing, however many pages were retried;
- a change either succeeds, and its effect is there exactly once, or fails
  with a typed error (``WorkbenchError``), and its effect is there at most once;
  a Yandex create (Idempotency-Key) makes exactly one image even when its
  answer was dropped;
- every 429/503 retried was waited for at least its Retry-After.

The counts of every cell go to the reliability report.
"""

from __future__ import annotations

import inspect
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.waits import Waits
from workbench.connect import open_driver
from workbench.core.errors import ApiError, WorkbenchError
from workbench.core.operations import Operation, OperationStatus, OperationTracker
from workbench.core.requestlog import RequestLog
from workbench.core.retry import RetryPolicy
from workbench.profiles import SecretStore
from workbench.profiles.importers import from_simulator
from workbench.providers.base import Driver
from workbench.sim.config import SimConfig
from workbench.sim.server import SimServer

from .conftest import scaled

KINDS = ("latency", "throttle", "unavailable", "drop", "fail_operation", "token_expiry")
RATES = (0.1, 0.3)
PROVIDERS = ("kusto", "glance", "ims", "batch", "yandex")
#: Extra images per provider (on top of the catalog) and the page size: several pages each.
SEED_IMAGES = scaled(400, 3_000)
PAGE = 100
#: Changes of each kind per cell.
ROUNDS = scaled(2, 10)


# ============================================================================ the simulator
@pytest.fixture(scope="module")
def server():
    config = SimConfig(seed_images=SEED_IMAGES, operation_polls=1, operation_retry_after=0,
                       fault_retry_after=1, random_seed=20261123, extra={"kusto_page_size": PAGE})
    with SimServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def profiles(server):
    secrets = SecretStore(environ={})
    found = {}
    for candidate in from_simulator(server.endpoints, prefix="matrix-"):
        found[candidate.profile.provider] = candidate.use_for_session(secrets)
    return found, secrets


async def set_faults(server: SimServer, **settings: Any) -> None:
    """Through the admin API, as a tester would at run time."""
    async with httpx.AsyncClient() as client:
        response = await client.put(server.base_url + "/_sim/faults", json=settings)
        assert response.status_code == 200, response.text


# ============================================================================ one cell
@dataclass
class Cell:
    server: SimServer
    provider: str
    kind: str
    rate: float
    driver: Driver
    waits: Waits
    log: RequestLog
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    #: Tokens expired on purpose (the token_expiry kind).
    expiries: int = 0
    _expiring: bool = False
    #: How many times the current change's effect is in the state (set per change).
    _effect: Callable[[], int] = field(default=lambda: 0, repr=False)

    @property
    def label(self) -> str:
        return f"{self.provider:6} {self.kind:14} {int(self.rate * 100):2d}%"

    async def faults_on(self) -> None:
        if self.kind == "token_expiry":
            self._install_expiry()
        else:
            await set_faults(self.server, rate=self.rate, kinds=[self.kind], latency_ms=0)

    async def faults_off(self) -> None:
        self._expiring = False
        await set_faults(self.server, rate=0.0, kinds=["throttle", "unavailable", "drop"])

    def _install_expiry(self) -> None:
        rng = random.Random(f"{self.provider}-{self.rate}")
        self._expiring = True
        since = [99]

        async def maybe_expire(request: httpx.Request) -> None:
            since[0] += 1
            if self._expiring and since[0] >= 3 and rng.random() < self.rate:
                self.server.context.tokens.expire_all()  # what POST /_sim/tokens/expire does
                self.expiries += 1
                since[0] = 0

        self.driver.http.client.event_hooks["request"].append(maybe_expire)

    async def change(self, what: str, action: Callable[[], Awaitable[Any]], count_effect: Callable[[], int]) -> Any:
        """Run one change (and track its operation to the end).

        ``count_effect()`` says how many times the change's effect is in the
        simulator's state: exactly 1 after a success, at most 1 after a typed
        failure (the answer of a change that was applied may have been lost).
        """
        self._effect = count_effect
        try:
            result = await action()
        except WorkbenchError as exc:
            self.outcomes["typed failure"] += 1
            status = f" {exc.status}" if isinstance(exc, ApiError) else ""
            self.outcomes[f"typed failure: {type(exc).__name__}{status}"] += 1
            self._at_most_once(what, exc)
            return None
        if isinstance(result, Operation):
            result = await self.track(result)
            if result.status is not OperationStatus.SUCCEEDED:
                self._at_most_once(what, result.error)
                return result
        effect = count_effect()
        if effect != 1:
            self.problems.append(f"{what}: succeeded, but its effect is there {effect} times")
        self.outcomes["succeeded"] += 1
        return result

    def _at_most_once(self, what: str, why: Any) -> None:
        effect = self._effect()
        if effect > 1:
            self.problems.append(f"{what}: failed ({why}) yet its effect is there {effect} times")
        elif effect == 1:
            self.outcomes["failed, effect present (answer lost or op Failed)"] += 1

    async def track(self, op: Operation) -> Operation:
        async with OperationTracker({op.provider: self.driver.poller()}, backoff_initial=0.02, backoff_max=0.1,
                                    min_interval=0.01) as tracker:
            tracker.track(op, deadline=60)
            await tracker.wait(op.id, timeout=90)
        if op.status is OperationStatus.FAILED:
            self.outcomes["operation failed (typed)"] += 1
            if not op.error:
                self.problems.append(f"operation {op.id} failed without an error message")
        elif op.status is OperationStatus.SUCCEEDED:
            self.outcomes["operation succeeded"] += 1
        else:
            self.problems.append(f"operation {op.id} ended {op.status}")
        return op

    def check_waits(self) -> int:
        """Every retry after a 429/503 waited at least its Retry-After (1 s here); returns how many were retried."""
        entries = self.log.entries()
        retried = 0
        for index, entry in enumerate(entries):
            if entry.status in (429, 503):
                later = [e for e in entries[index + 1:] if e.url == entry.url and e.method == entry.method]
                if later and later[0].attempt == entry.attempt + 1:
                    retried += 1
        honoured = sum(1 for wait in self.waits.waits if wait >= 1.0)
        if honoured < retried:
            self.problems.append(f"{retried} retries after 429/503 but only {honoured} waits of >= Retry-After")
        return retried


# ============================================================================ the scenarios
def image_names(server: SimServer, provider: str, name: str) -> int:
    """How many images called ``name`` the simulator holds for ``provider``."""
    states = server.context.states
    if provider in ("glance", "ims"):
        state = states[provider]
        with state.lock:
            return sum(1 for image in state.images.values() if image.get("name") == name
                       and image.get("status") != "deleted")
    if provider == "yandex":
        state = states["yandex"]
        with state.lock:
            return sum(1 for image in state.images.values() if image.get("name") == name)
    if provider == "kusto":
        state = states["kusto"]
        with state.lock:
            return sum(1 for cluster in state.clusters.values() for key in cluster.images if key == name.lower())
    raise ValueError(provider)


async def listing(cell: Cell, expected: list[str]) -> None:
    try:
        listed = [image.id async for image in cell.driver.list_images(page_size=PAGE)
                  ] if cell.provider in ("glance", "ims", "yandex") else (
            [image.id async for image in cell.driver.list_images(maxresults=PAGE)] if cell.provider == "batch"
            else [image.id async for image in cell.driver.list_images()])
    except WorkbenchError as exc:
        cell.outcomes["listing failed (typed)"] += 1
        cell.outcomes[f"listing failed: {type(exc).__name__}"] += 1
        return
    cell.outcomes["listing complete"] += 1
    if listed != expected:
        duplicates = [i for i, n in Counter(listed).items() if n > 1]
        missing = set(expected) - set(listed)
        cell.problems.append(f"listing differs: {len(listed)} vs {len(expected)} images, "
                             f"{len(duplicates)} duplicates, {len(missing)} missing")


async def reads(cell: Cell, ids: list[str]) -> None:
    for image_id in ids:
        try:
            image = await cell.driver.get_image(image_id)
        except WorkbenchError:
            cell.outcomes["read failed (typed)"] += 1
            continue
        cell.outcomes["read"] += 1
        if image.id != image_id:
            cell.problems.append(f"get_image({image_id!r}) returned {image.id!r}")


async def glance_changes(cell: Cell, tag: str) -> None:
    from workbench.providers.glance.requests import DeleteImage

    driver, server, provider = cell.driver, cell.server, cell.provider
    fields = {"name": f"{tag}-new", "disk_format": "raw", "container_format": "bare"}  # raw: the uploaded bytes
    created = await cell.change("create", lambda: driver.send(driver.create_request(**fields)),
                                lambda: image_names(server, provider, f"{tag}-new"))
    if created is None:
        return
    image_id = created.id
    await cell.change("rename", lambda: driver.update(image_id, [{"op": "replace", "path": "/name",
                                                                   "value": f"{tag}-renamed"}]),
                      lambda: image_names(server, provider, f"{tag}-renamed"))
    await cell.change("add property", lambda: driver.update(image_id, [{"op": "add", "path": "/custom_note",
                                                                         "value": tag}]),
                      lambda: int(server.context.states[provider].images.get(image_id, {}).get("custom_note") == tag))
    if provider == "glance":  # IMS takes its data through its own import API, and deletes elsewhere
        from workbench.providers.glance.requests import UploadImageData

        # An upload is an Operation, tracked until the image is active.
        await cell.change("upload", lambda: driver.send(UploadImageData(image_id=image_id, data=b"\0" * 4096)),
                          lambda: int(server.context.states[provider].images.get(image_id, {}).get("status")
                                      == "active"))
        await cell.change("delete", lambda: driver.send(DeleteImage(image_id=image_id)),
                          lambda: int(image_id not in server.context.states[provider].images))


async def kusto_changes(cell: Cell, tag: str) -> None:
    driver, server = cell.driver, cell.server
    name = f"{tag}-img"
    await cell.change("create", lambda: driver.send(driver.create_or_update(name, language_version="3.10.8")),
                      lambda: image_names(server, "kusto", name))
    if not image_names(server, "kusto", name):
        return
    await cell.change("update", lambda: driver.send(driver.update(name, requirements_file_content="numpy\n")),
                      lambda: int(_kusto_image(server, name).get("properties", {}).get("requirementsFileContent")
                                  == "numpy\n"))
    await cell.change("delete", lambda: driver.send(driver.delete(name)),
                      lambda: 1 - image_names(server, "kusto", name))


def _kusto_image(server: SimServer, name: str) -> dict:
    state = server.context.states["kusto"]
    with state.lock:
        for cluster in state.clusters.values():
            if name.lower() in cluster.images:
                return cluster.images[name.lower()]
    return {}


async def yandex_changes(cell: Cell, tag: str) -> None:
    from workbench.providers.yandex.requests import DeleteImage, UpdateImage

    driver, server = cell.driver, cell.server
    images = server.context.states["yandex"].images
    disk = server.endpoints["yandex_ids"]["disk_ids"][0]
    request = driver.create_image_request(name=f"{tag}-y", disk_id=disk)
    # Exactly one image, also when the create's answer was dropped and it was retried (Idempotency-Key).
    op = await cell.change("create", lambda: driver.send(request), lambda: image_names(server, "yandex", f"{tag}-y"))
    if not isinstance(op, Operation) or op.status is not OperationStatus.SUCCEEDED:
        return
    image_id = op.poll_state.get("image_id") or op.target
    await cell.change("rename", lambda: driver.send(UpdateImage(image_id=image_id, name=f"{tag}-z")),
                      lambda: image_names(server, "yandex", f"{tag}-z"))
    await cell.change("delete", lambda: driver.send(DeleteImage(image_id=image_id)),
                      lambda: int(image_id not in images))


CHANGES = {"glance": glance_changes, "ims": glance_changes, "kusto": kusto_changes, "yandex": yandex_changes}


# ============================================================================ the matrix
@pytest.fixture(scope="module")
def matrix_counts(report):
    counts: dict[str, str] = {}
    yield counts
    for line in counts.values():
        report.add("fault matrix (provider, fault, rate: outcomes)", line)


@pytest.mark.parametrize("rate", RATES, ids=lambda r: f"{int(r * 100)}pct")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_driver_operations_under_faults(server, profiles, matrix_counts, provider, kind, rate):
    found, secrets = profiles
    log = RequestLog()
    driver = open_driver(found[provider], secrets, request_log=log)
    waits = Waits()
    driver.http.retry = RetryPolicy(max_attempts=8, backoff_base=0.05, sleep=waits)
    cell = Cell(server, provider, kind, rate, driver, waits, log)
    injected_before = Counter(server.context.faults.counts)
    try:
        await cell.faults_off()
        if provider in ("glance", "ims"):
            expected = [image.id async for image in driver.list_images(page_size=PAGE)]
        elif provider == "batch":
            expected = [image.id async for image in driver.list_images(maxresults=PAGE)]
        else:
            expected = [image.id async for image in driver.list_images()]
        assert len(expected) > 3 * PAGE if provider != "batch" else len(expected) > PAGE
        log.clear()
        await cell.faults_on()
        await listing(cell, expected)
        await reads(cell, [expected[0], expected[len(expected) // 2], expected[-1]])
        change = CHANGES.get(provider)
        if change is not None:
            for round_number in range(ROUNDS):
                await change(cell, f"m-{kind[:5]}-{int(rate * 100)}-{round_number}")
    finally:
        await cell.faults_off()
        await driver.aclose()
    injected = Counter(server.context.faults.counts) - injected_before
    requests = len(log.entries())
    throttled = cell.check_waits()
    faults = sum(injected.values()) if kind != "token_expiry" else cell.expiries
    outcomes = ", ".join(f"{key} {value}" for key, value in sorted(cell.outcomes.items()))
    matrix_counts[cell.label] = (f"{cell.label}: {requests} requests, {faults} faults "
                                 f"({throttled} answered 429/503), {len(waits.waits)} retries; {outcomes}")
    assert not cell.problems, f"{cell.label}: " + "; ".join(cell.problems)
    # The listing must complete in nearly every cell (8 attempts per page); a typed failure is allowed.
    assert cell.outcomes["listing complete"] + cell.outcomes["listing failed (typed)"] == 1
    if kind == "token_expiry":
        # Expired tokens were refreshed, never a failure: every change and read went through.
        assert not cell.outcomes["typed failure"] and cell.outcomes["listing complete"] == 1, outcomes


# ============================================================================ lost answers, one by one
class TurnOffAfterFirstWait(Waits):
    """Turns the faults off once the first retry is about to happen: exactly one answer is lost."""

    def __init__(self, server: SimServer) -> None:
        super().__init__()
        self.server = server

    async def __call__(self, seconds: float) -> None:
        if not self.waits:
            await set_faults(self.server, rate=0.0)
        await super().__call__(seconds)


async def _glance_image(driver, server: SimServer, tag: str) -> str:
    created = await driver.send(driver.create_request(name=tag, disk_format="qcow2", container_format="bare"))
    return created.id


LOST_ANSWER_CASES = {
    # provider, change -> (prepare(driver, server, tag) -> context, act(driver, context), effect(server, context))
    ("yandex", "create"): (
        lambda d, s, tag: d.create_image_request(name=tag, disk_id=s.endpoints["yandex_ids"]["disk_ids"][0]),
        lambda d, request: d.send(request),
        lambda s, request: image_names(s, "yandex", request.name),
    ),
    ("kusto", "create (PUT)"): (
        lambda d, s, tag: tag,
        lambda d, name: d.send(d.create_or_update(name, language_version="3.10.8")),
        lambda s, name: image_names(s, "kusto", name),
    ),
    ("glance", "rename (replace)"): (
        _glance_image,
        lambda d, image_id: d.update(image_id, [{"op": "replace", "path": "/name", "value": f"{image_id}-x"}]),
        lambda s, image_id: image_names(s, "glance", f"{image_id}-x"),
    ),
    ("glance", "delete"): (
        _glance_image,
        lambda d, image_id: d.send(__import__("workbench.providers.glance.requests", fromlist=["DeleteImage"])
                                   .DeleteImage(image_id=image_id)),
        lambda s, image_id: int(image_id not in s.context.states["glance"].images),
    ),
}


@pytest.mark.parametrize("case", [
    pytest.param(("yandex", "create"), id="yandex-create"),
    pytest.param(("kusto", "create (PUT)"), id="kusto-create"),
    pytest.param(("glance", "rename (replace)"), id="glance-rename"),
    pytest.param(("glance", "delete"), id="glance-delete"),
])
async def test_a_change_whose_answer_was_lost_succeeds_exactly_once(server, profiles, case):
    provider, change = case
    prepare, act, effect = LOST_ANSWER_CASES[case]
    found, secrets = profiles
    driver = open_driver(found[provider], secrets)
    waits = TurnOffAfterFirstWait(server)
    driver.http.retry = RetryPolicy(max_attempts=3, sleep=waits)
    tag = f"lost-{provider}-{change.split()[0]}"
    try:
        await set_faults(server, rate=0.0)
        context = prepare(driver, server, tag)
        if inspect.isawaitable(context):
            context = await context
        dropped_before = server.context.faults.counts["drop"]
        await set_faults(server, rate=1.0, kinds=["drop"])
        result = await act(driver, context)
        if isinstance(result, Operation):
            async with OperationTracker({provider: driver.poller()}, backoff_initial=0.02, min_interval=0.01) as t:
                t.track(result)
                await t.wait(result.id, timeout=30)
            assert result.status is OperationStatus.SUCCEEDED, result.error
    finally:
        await set_faults(server, rate=0.0)
        await driver.aclose()
    assert server.context.faults.counts["drop"] - dropped_before == 1 and len(waits.waits) == 1
    assert effect(server, context) == 1
