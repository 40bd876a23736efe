"""The operation tracker and the built-in pollers against a fake cloud (ASGI)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time

import httpx
import pytest

from tests.core.fakecloud import TOKEN, FakeCloud
from workbench.core.auth import StaticToken
from workbench.core.errors import InvalidResponse
from workbench.core.http import HttpCore
from workbench.core.operations import (
    ArmAsyncPoller,
    CancelNotSupported,
    GlanceStatusPoller,
    Operation,
    OperationStatus,
    OperationTracker,
    Poller,
    PollOutcome,
    YandexOperationPoller,
)
from workbench.core.retry import RetryPolicy

BASE = "http://cloud.test"
AUTH = StaticToken.bearer(TOKEN)


def make_http(cloud: FakeCloud) -> HttpCore:
    return HttpCore(base_url=BASE, transport=httpx.ASGITransport(app=cloud.app),
                    retry=RetryPolicy(max_attempts=1))


async def arm_create(http: HttpCore, poller: ArmAsyncPoller, name: str) -> Operation:
    response = await http.request("PUT", f"{BASE}/arm/images/{name}", provider="kusto", auth=AUTH,
                                  json={"properties": {"language": "Python"}}, expect=(200, 201))
    return poller.start(response, kind="create", target=name)


async def yandex_create(http: HttpCore, poller: YandexOperationPoller, name: str, polls: int | None = None
                        ) -> Operation:
    response = await http.request("POST", f"{BASE}/compute/images", provider="yandex", auth=AUTH,
                                  json={"name": name, "polls": polls}, headers={"Idempotency-Key": name})
    return poller.start(response, kind="create", target=name)


class FakeTime:
    """A clock and a sleep for one task at a time: sleeping advances the clock."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


# -- 200 concurrent operations -------------------------------------------------


async def test_200_concurrent_arm_and_yandex_operations_finish_with_no_early_poll():
    cloud = FakeCloud(polls_needed=2, retry_after=1)
    async with make_http(cloud) as http:
        arm = ArmAsyncPoller(http, AUTH, provider="kusto")
        yandex = YandexOperationPoller(http, AUTH, BASE, provider="yandex")
        async with OperationTracker({"kusto": arm, "yandex": yandex}, min_interval=0) as tracker:
            events: list = []
            tracker.subscribe(events.append)
            ops = await asyncio.gather(
                *[arm_create(http, arm, f"img{i}") for i in range(100)],
                *[yandex_create(http, yandex, f"y{i}") for i in range(100)],
            )
            for op in ops:
                tracker.track(op)
            # Concurrent: one after the other, 200 operations x two 1 s waits would take 400 s.
            done = await tracker.wait_all(timeout=30)

    assert len(done) == 200
    assert all(op.status is OperationStatus.SUCCEEDED for op in done), [op.error for op in done if op.error]
    # Retry-After: 1 before each of the two polls, and no poll came before the server allowed it
    # (by the fake cloud's own clock and by the tracker's record of each poll).
    assert cloud.early == 0
    assert sum(op.early_polls for op in done) == 0
    assert all(op.polls == 2 for op in done)
    # each poll's Retry-After is recorded for benchmarks
    assert all(op.poll_log[0].retry_after == 1 for op in done)
    # the final state was fetched as the SDKs do: ARM GETs the resource, Yandex uses `response`
    arm_results = [op.result for op in done if op.provider == "kusto"]
    assert all(r["properties"]["provisioningState"] == "Succeeded" for r in arm_results)
    yandex_results = [op.result for op in done if op.provider == "yandex"]
    assert all(r["status"] == "READY" and r["id"].startswith("img-op") for r in yandex_results)
    finished = [e for e in events if e.kind == "finished"]
    assert len(finished) == 200
    # progress from percentComplete reached subscribers along the way
    assert any(e.operation.progress == 0.5 for e in events if e.operation.provider == "kusto")


async def test_failed_operations_carry_the_providers_error():
    cloud = FakeCloud(polls_needed=1, retry_after=0)
    async with make_http(cloud) as http:
        arm = ArmAsyncPoller(http, AUTH)
        yandex = YandexOperationPoller(http, AUTH, BASE)
        async with OperationTracker({"kusto": arm, "yandex": yandex}, min_interval=0) as tracker:
            a = tracker.track(await arm_create(http, arm, "fail-arm"))
            y = tracker.track(await yandex_create(http, yandex, "fail-yandex"))
            await tracker.wait_all(timeout=10)
    assert a.status is OperationStatus.FAILED
    assert a.error == "ImageBuildFailed: pip install failed"
    assert a.result is None
    assert y.status is OperationStatus.FAILED
    assert y.error == "FAILED_PRECONDITION: Source disk is not ready"


async def test_arm_location_polling_for_a_delete():
    cloud = FakeCloud(polls_needed=2, retry_after=0)
    async with make_http(cloud) as http:
        arm = ArmAsyncPoller(http, AUTH)
        response = await http.request("DELETE", f"{BASE}/arm/images/old", provider="kusto", auth=AUTH,
                                      expect=(200, 202, 204))
        op = arm.start(response, kind="delete", target="old")
        assert op.poll_state["mode"] == "location"
        async with OperationTracker({"kusto": arm}, min_interval=0) as tracker:
            tracker.track(op)
            await tracker.wait(op.id, timeout=10)
    assert op.status is OperationStatus.SUCCEEDED
    assert op.polls == 2
    assert op.result is None  # a 204: nothing left


async def test_arm_provisioning_state_polling_when_no_header():
    # A PUT answered 201 without Azure-AsyncOperation/Location: poll the resource.
    cloud = FakeCloud(polls_needed=3, retry_after=0, async_header=False)
    async with make_http(cloud) as http:
        arm = ArmAsyncPoller(http, AUTH)
        op = await arm_create(http, arm, "body-polled")
        assert op.poll_state["mode"] == "body"
        assert op.status is OperationStatus.RUNNING  # 201 with provisioningState Creating
        async with OperationTracker({"kusto": arm}, min_interval=0) as tracker:
            tracker.track(op)
            await tracker.wait(op.id, timeout=10)
    assert op.status is OperationStatus.SUCCEEDED
    assert op.polls == 3 and cloud.early == 0
    assert op.raw["properties"]["provisioningState"] == "Succeeded"


async def test_arm_refuses_an_operation_url_on_another_host():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"properties": {"provisioningState": "Creating"}},
                              headers={"Azure-AsyncOperation": "https://evil.test/steal?x=1"})

    async with HttpCore(base_url=BASE, transport=httpx.MockTransport(handler)) as http:
        arm = ArmAsyncPoller(http, AUTH)
        response = await http.request("PUT", f"{BASE}/arm/images/x", provider="kusto", auth=AUTH,
                                      expect=(201,))
        with pytest.raises(InvalidResponse, match="evil.test"):
            arm.start(response, kind="create", target="x")


# -- schedule ------------------------------------------------------------------


async def test_backoff_without_retry_after_doubles_up_to_the_cap():
    cloud = FakeCloud(retry_after=None)
    fake = FakeTime()
    async with make_http(cloud) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE, clock=fake.clock)
        tracker = OperationTracker({"yandex": yandex}, clock=fake.clock, sleep=fake.sleep,
                                   backoff_initial=1, backoff_max=8)
        op = tracker.track(await yandex_create(http, yandex, "slow", polls=7))
        await tracker.wait(op.id, timeout=10)
    assert op.status is OperationStatus.SUCCEEDED
    # first poll after 1 s, then 1, 2, 4, 8 (cap), 8, 8 between the 7 polls
    assert fake.waits == [1, 1, 2, 4, 8, 8, 8]
    times = [r.at for r in op.poll_log]
    assert [round(b - a, 6) for a, b in zip(times, times[1:], strict=False)] == [1, 2, 4, 8, 8, 8]


async def test_retry_after_is_honoured_and_zero_never_busy_loops():
    cloud = FakeCloud(polls_needed=3, retry_after=0)
    fake = FakeTime()
    async with make_http(cloud) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE, clock=fake.clock)
        tracker = OperationTracker({"yandex": yandex}, clock=fake.clock, sleep=fake.sleep, min_interval=0.25)
        op = tracker.track(await yandex_create(http, yandex, "fast"))
        await tracker.wait(op.id, timeout=10)
    # Retry-After: 0 on the create answer -> first poll at once; then the 0.25 s floor
    assert fake.waits == [0.25, 0.25]
    assert op.polls == 3 and op.early_polls == 0


async def test_deadline_stops_watching():
    cloud = FakeCloud(polls_needed=1000, retry_after=0)
    async with make_http(cloud) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE)
        async with OperationTracker({"yandex": yandex}, min_interval=0.02) as tracker:
            op = tracker.track(await yandex_create(http, yandex, "forever"), deadline=0.3)
            await tracker.wait(op.id, timeout=10)
    assert op.status is OperationStatus.FAILED
    assert op.timed_out
    assert "deadline" in op.error
    assert 1 <= op.polls < 100  # polled at its pace, not in a busy loop


async def test_deadline_before_the_next_poll_ends_at_the_deadline_not_later():
    cloud = FakeCloud(polls_needed=5, retry_after=100)
    fake = FakeTime()
    async with make_http(cloud) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE, clock=fake.clock)
        tracker = OperationTracker({"yandex": yandex}, clock=fake.clock, sleep=fake.sleep)
        op = tracker.track(await yandex_create(http, yandex, "patient"), deadline=30)
        await tracker.wait(op.id, timeout=10)
    assert op.timed_out and op.polls == 0  # the server asked for 100 s: no poll before the 30 s deadline
    assert sum(fake.waits) == pytest.approx(30)


# -- cancel --------------------------------------------------------------------


async def test_cancel_a_yandex_operation():
    cloud = FakeCloud(polls_needed=1000, retry_after=0)
    async with make_http(cloud) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE)
        async with OperationTracker({"yandex": yandex}, min_interval=0.05) as tracker:
            stream = tracker.events()
            op = tracker.track(await yandex_create(http, yandex, "unwanted"))
            deadline = time.monotonic() + 5
            while op.polls < 2 and time.monotonic() < deadline:  # running, polled at least twice
                await asyncio.sleep(0.02)
            assert op.polls >= 2 and op.status is OperationStatus.RUNNING
            result = await tracker.cancel(op.id)
            await tracker.wait(op.id, timeout=5)
            kinds = []
            async with stream:
                async for event in stream:
                    kinds.append(event.kind)
                    if event.kind == "finished":
                        break
    assert result is op
    assert op.status is OperationStatus.CANCELED
    assert op.cancel_requested
    assert op.error.startswith("CANCELLED")
    assert next(iter(cloud.ops.values())).canceled
    assert kinds[0] == "tracked" and kinds[-1] == "finished"


async def test_cancel_where_the_api_cannot_says_so():
    cloud = FakeCloud(polls_needed=1000, retry_after=1)
    async with make_http(cloud) as http:
        arm = ArmAsyncPoller(http, AUTH)
        async with OperationTracker({"kusto": arm}) as tracker:
            op = tracker.track(await arm_create(http, arm, "keeps-going"))
            with pytest.raises(CancelNotSupported, match="kusto"):
                await tracker.cancel(op.id)
            assert op.status is OperationStatus.RUNNING
            tracker.forget(op.id)
            assert tracker.operations == []


# -- save and resume -----------------------------------------------------------


async def test_save_and_resume_after_a_restart(tmp_path):
    cloud = FakeCloud(polls_needed=3, retry_after=1)
    path = tmp_path / "state" / "operations.json"
    async with make_http(cloud) as http:
        arm = ArmAsyncPoller(http, AUTH)
        yandex = YandexOperationPoller(http, AUTH, BASE)
        first = OperationTracker({"kusto": arm, "yandex": yandex}, min_interval=0)
        a = first.track(await arm_create(http, arm, "resumed-arm"), deadline=60)
        y = first.track(await yandex_create(http, yandex, "resumed-y"))
        # wait until each has been polled once, then "quit"
        deadline = time.monotonic() + 10
        while (a.polls < 1 or y.polls < 1) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert a.polls >= 1 and y.polls >= 1
        first.save(path)
        await first.aclose()
        assert not path.with_suffix(".json.tmp").exists()
        saved = json.loads(path.read_text())
        assert {o["id"] for o in saved["operations"]} == {a.id, y.id}

        # a new process: pollers re-created, operations loaded and resumed
        second = OperationTracker(min_interval=0)
        second.register("kusto", ArmAsyncPoller(http, AUTH))
        second.register("yandex", YandexOperationPoller(http, AUTH, BASE))
        loaded = second.load(path)
        assert {op.id for op in loaded} == {a.id, y.id}
        resumed = second.resume()
        assert len(resumed) == 2
        await second.wait_all(timeout=20)
        await second.aclose()
    ops = {op.id: op for op in second.operations}
    assert all(op.status is OperationStatus.SUCCEEDED for op in ops.values())
    assert ops[a.id].deadline == pytest.approx(a.deadline)
    assert ops[a.id].polls == 3 and ops[y.id].polls == 3
    assert cloud.early == 0  # the saved Retry-After schedule survived the restart
    assert ops[a.id].result["name"] == "resumed-arm"


async def test_autosave_writes_unfinished_operations(tmp_path):
    cloud = FakeCloud(polls_needed=1000, retry_after=5)
    path = tmp_path / "ops.json"
    async with make_http(cloud) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE)
        tracker = OperationTracker({"yandex": yandex}, state_path=path, autosave_delay=0.01)
        op = tracker.track(await yandex_create(http, yandex, "autosaved"))
        deadline = time.monotonic() + 5
        while not path.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await tracker.aclose()
    saved = json.loads(path.read_text())
    assert [o["id"] for o in saved["operations"]] == [op.id]
    assert saved["operations"][0]["poll_state"] == {"operation_id": op.id}


async def test_tracking_needs_a_poller_and_a_new_deadline_wakes_the_task():
    tracker = OperationTracker()
    op = Operation(id="o1", provider="nowhere", kind="create", target="x")
    with pytest.raises(LookupError, match="nowhere"):
        tracker.track(op)
    assert tracker.operations == []
    cloud = FakeCloud(polls_needed=1000, retry_after=60)
    async with make_http(cloud) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE)
        async with OperationTracker({"yandex": yandex}) as tracker:
            op = tracker.track(await yandex_create(http, yandex, "waits-60s"))
            tracker.set_deadline(op.id, 0.05)  # shorter than the server's 60 s: ends at once
            await tracker.wait(op.id, timeout=5)
    assert op.timed_out and op.polls == 0


def test_load_rejects_a_damaged_file(tmp_path):
    path = tmp_path / "ops.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not a saved operations file"):
        OperationTracker().load(path)
    path.write_text(json.dumps({"version": 99, "operations": []}))
    with pytest.raises(ValueError, match="unsupported"):
        OperationTracker().load(path)
    assert OperationTracker().load(tmp_path / "missing.json") == []


def test_load_takes_nothing_from_a_file_with_a_damaged_record(tmp_path):
    path = tmp_path / "ops.json"
    good = Operation(id="good", provider="kusto", kind="create", target="x").to_dict()
    path.write_text(json.dumps({"version": 1, "operations": [good, {"id": "bad", "provider": "kusto"}]}))
    tracker = OperationTracker()
    with pytest.raises(ValueError, match=r"ops.json: damaged operation record #2 \(operation record: missing"):
        tracker.load(path)
    assert tracker.operations == []  # all or nothing: not the records before the damaged one


class CountingPoller(Poller):
    """Succeeds on the first poll; remembers what it polled."""

    provider = "kusto"

    def __init__(self) -> None:
        self.polled: list[str] = []

    async def poll(self, op: Operation) -> PollOutcome:
        self.polled.append(op.id)
        return PollOutcome(OperationStatus.SUCCEEDED)


async def test_resume_with_ids_starts_only_those(tmp_path):
    path = tmp_path / "ops.json"
    saved = [Operation(id=op_id, provider="kusto", kind="create", target=op_id, next_poll_at=0.0)
             for op_id in ("a", "b", "c")]
    path.write_text(json.dumps({"version": 1, "operations": [op.to_dict() for op in saved]}))
    poller = CountingPoller()
    async with OperationTracker({"kusto": poller}) as tracker:
        tracker.load(path)
        started = tracker.resume(["b", "nowhere"])
        assert [op.id for op in started] == ["b"]
        assert [op.id for op in await tracker.wait_all(timeout=10)] == ["b"]
        assert poller.polled == ["b"]
        assert [op.id for op in tracker.running()] == ["a", "c"]  # loaded, not polled
        assert all(tracker.get(i).polls == 0 for i in ("a", "c"))
        assert [op.id for op in tracker.resume()] == ["a", "c"]  # no ids: every other one
        await tracker.wait_all(timeout=10)
    assert sorted(poller.polled) == ["a", "b", "c"]


def test_save_is_private_and_durable(tmp_path, monkeypatch):
    synced: list[tuple[str, int]] = []
    real_fsync = os.fsync

    def spy(fd):
        mode = os.fstat(fd).st_mode
        synced.append(("dir" if stat.S_ISDIR(mode) else "file", stat.S_IMODE(mode)))
        return real_fsync(fd)

    tracker = OperationTracker()
    tracker._ops["o1"] = Operation(id="o1", provider="kusto", kind="create", target="x")
    monkeypatch.setattr(os, "fsync", spy)
    path = tracker.save(tmp_path / "state" / "ops.json")
    # The new bytes reach the disk before the rename, and the rename itself after it.
    assert [kind for kind, _ in synced] == ["file", "dir"]
    assert synced[0][1] == 0o600 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["ops.json"]  # no temporary file left


def test_operation_round_trips_through_json():
    op = Operation(id="o1", provider="kusto", kind="create", target="img", progress=0.5,
                   poll_state={"mode": "async", "async_url": "https://x/op"}, raw={"status": "InProgress"})
    copy = Operation.from_dict(json.loads(json.dumps(op.to_dict())))
    assert copy == op
    with pytest.raises(ValueError, match="missing"):
        Operation.from_dict({"id": "x"})


# -- Glance --------------------------------------------------------------------


async def test_glance_status_poller_waits_for_active_and_reports_killed():
    statuses = {"good": ["queued", "saving", "active"], "bad": ["saving", "killed"]}
    seen: dict[str, int] = {"good": 0, "bad": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        image_id = request.url.path.rsplit("/", 1)[-1]
        if image_id == "gone":
            return httpx.Response(404, text="404 Not Found\n\nNo image found with ID gone")
        index = min(seen[image_id], len(statuses[image_id]) - 1)
        seen[image_id] += 1
        return httpx.Response(200, json={"id": image_id, "status": statuses[image_id][index]})

    async with HttpCore(base_url=BASE, transport=httpx.MockTransport(handler)) as http:
        glance = GlanceStatusPoller(http, AUTH, f"{BASE}/v2")
        async with OperationTracker({"glance": glance}, backoff_initial=0.01, backoff_max=0.02) as tracker:
            good = tracker.track(glance.start("good"))
            bad = tracker.track(glance.start("bad"))
            gone = tracker.track(glance.start("gone", kind="delete", wanted="deleted"))
            await tracker.wait_all(timeout=10)
    assert good.status is OperationStatus.SUCCEEDED and good.result["status"] == "active"
    assert bad.status is OperationStatus.FAILED and "killed" in bad.error
    assert gone.status is OperationStatus.SUCCEEDED


async def test_transient_poll_errors_are_retried_then_fail():
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        return httpx.Response(500, json={"code": 13, "message": "internal"})

    async with HttpCore(base_url=BASE, transport=httpx.MockTransport(handler),
                        retry=RetryPolicy(max_attempts=1)) as http:
        yandex = YandexOperationPoller(http, AUTH, BASE)
        async with OperationTracker({"yandex": yandex}, backoff_initial=0.01, max_poll_errors=3) as tracker:
            op = tracker.track(yandex.start({"id": "op1", "done": False}, kind="create", target="x"))
            await tracker.wait(op.id, timeout=10)
    assert op.status is OperationStatus.FAILED
    assert "INTERNAL" in op.error
    assert calls["n"] == 3 and op.polls == 3
    assert [r.status for r in op.poll_log] == ["error"] * 3


async def test_200_concurrent_operations_over_real_loopback_http():
    from tests.core.fakecloud import LoopbackServer

    cloud = FakeCloud(polls_needed=2, retry_after=1)
    with LoopbackServer(cloud.app) as server:
        async with HttpCore(base_url=server.base_url, retry=RetryPolicy(max_attempts=1)) as http:
            arm = ArmAsyncPoller(http, AUTH)
            yandex = YandexOperationPoller(http, AUTH, server.base_url)
            async with OperationTracker({"kusto": arm, "yandex": yandex}, min_interval=0) as tracker:
                arm_answers = await asyncio.gather(*[
                    http.request("PUT", f"{server.base_url}/arm/images/lb{i}", provider="kusto", auth=AUTH,
                                 json={}, expect=(201,)) for i in range(100)])
                yandex_answers = await asyncio.gather(*[
                    http.request("POST", f"{server.base_url}/compute/images", provider="yandex", auth=AUTH,
                                 json={"name": f"ly{i}"}, headers={"Idempotency-Key": f"ly{i}"})
                    for i in range(100)])
                for response in arm_answers:
                    tracker.track(arm.start(response, kind="create", target="x"))
                for response in yandex_answers:
                    tracker.track(yandex.start(response, kind="create", target="y"))
                done = await tracker.wait_all(timeout=30)
    assert len(done) == 200
    assert all(op.status is OperationStatus.SUCCEEDED for op in done), [op.error for op in done if op.error][:3]
    assert cloud.early == 0 and sum(op.early_polls for op in done) == 0
    # the async URL the server built points back at the loopback host, and was followed
    assert all(op.poll_state["async_url"].startswith(server.base_url) for op in done if op.provider == "kusto")
