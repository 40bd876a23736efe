"""The simulator shell: the `workbench sim` command, the admin API and fault injection."""

from __future__ import annotations

import json
import select
import subprocess
import sys

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from workbench.sim.config import SimConfig
from workbench.sim.faults import FaultInjector

ENDPOINT_KEYS = {"kusto", "glance", "batch", "yandex_compute", "yandex_operation", "entra", "keystone", "yandex_iam"}


def _read_first_line(proc: subprocess.Popen, deadline_s: float) -> str:
    """The first line the process prints, waiting at most ``deadline_s``."""
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], deadline_s)
    if not ready:
        raise TimeoutError("workbench sim printed nothing in time")
    return proc.stdout.readline()


def test_workbench_sim_prints_one_json_line_with_every_endpoint(tmp_path):
    endpoints_file = tmp_path / "endpoints.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "sim", "--port", "0", "--endpoints-file", str(endpoints_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = _read_first_line(proc, 30)
        doc = json.loads(line)
        assert ENDPOINT_KEYS <= set(doc)
        for key in ENDPOINT_KEYS:
            assert doc[key].startswith("http://127.0.0.1:"), key
        assert set(doc["tokens"]) >= {"kusto", "batch", "glance", "yandex"}
        assert doc["kusto_ids"]["subscription_id"]
        assert doc["batch_account"]["key"]
        assert doc["yandex_ids"]["disk_ids"] and doc["yandex_ids"]["snapshot_ids"]
        assert json.loads(endpoints_file.read_text()) == doc
        # The server really listens there: the admin health answers.
        health = httpx.get(doc["admin"] + "/health", timeout=10)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_workbench_sim_rejects_a_bad_fault_rate():
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "sim", "--port", "0", "--fault-rate", "2"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "fault_rate" in result.stderr and "between 0 and 1" in result.stderr


def test_sim_server_binds_loopback_by_default(sim_server):
    assert sim_server.base_url.startswith("http://127.0.0.1:")
    assert sim_server.endpoints["glance"].startswith(sim_server.base_url)


async def test_admin_faults_can_be_read_and_changed(sim_client):
    before = (await sim_client.get("/_sim/faults")).json()
    assert before["rate"] == 0.0
    changed = await sim_client.put("/_sim/faults", json={"rate": 0.3, "kinds": ["throttle"]})
    assert changed.status_code == 200
    assert changed.json()["rate"] == 0.3
    bad = await sim_client.put("/_sim/faults", json={"kinds": ["meteor"]})
    assert bad.status_code == 400
    assert "fault_kinds" in bad.json()["error"]


async def test_admin_can_expire_every_token(sim_client, sim_context):
    token = sim_context.tokens.issue("yandex", "someone")
    assert sim_context.tokens.check("yandex", token.value) is not None
    answer = await sim_client.post("/_sim/tokens/expire")
    assert answer.json()["expired"] >= 1
    assert sim_context.tokens.check("yandex", token.value) is None


def _service_with_faults(config: SimConfig) -> tuple[Starlette, list[int]]:
    calls: list[int] = []

    async def handler(request: Request) -> JSONResponse:
        calls.append(1)
        return JSONResponse({"ok": True})

    def render_error(request: Request, status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    injector = FaultInjector(config)
    inner = Starlette(routes=[Route("/thing", handler, methods=["GET", "POST"])])
    return injector.wrap(inner, render_error), calls


@pytest.mark.parametrize("kind,status", [("throttle", 429), ("unavailable", 503)])
async def test_injected_errors_use_the_service_shape_and_retry_after(kind, status):
    app, calls = _service_with_faults(SimConfig(fault_rate=1.0, fault_kinds=(kind,), fault_retry_after=1))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/thing")
    assert response.status_code == status
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"]["code"] in ("TooManyRequests", "ServiceUnavailable")
    assert calls == []  # the request never reached the service


async def test_a_dropped_connection_happens_after_the_request_took_effect():
    app, calls = _service_with_faults(SimConfig(fault_rate=1.0, fault_kinds=("drop",)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        with pytest.raises(httpx.TransportError):
            await client.post("/thing")
    assert calls == [1]


def test_a_dropped_connection_over_real_http_is_a_transport_error():
    from workbench.sim.server import SimServer

    with SimServer(SimConfig(fault_rate=1.0, fault_kinds=("drop",))) as server:
        with pytest.raises(httpx.TransportError):
            httpx.get(server.endpoints["admin"].replace("/_sim", "/yandex/compute/compute/v1/images"),
                      params={"folderId": "x"}, timeout=10)


def test_fault_rate_zero_injects_nothing():
    injector = FaultInjector(SimConfig(fault_rate=0.0, fault_kinds=("throttle",)))
    assert all(injector._roll() is None for _ in range(1000))
    assert not injector.operation_should_fail()


def test_fault_rate_is_respected_statistically():
    injector = FaultInjector(SimConfig(fault_rate=0.3, fault_kinds=("throttle",), random_seed=7))
    hits = sum(injector._roll() is not None for _ in range(10_000))
    assert 2700 < hits < 3300
