"""The request log: bounded by count and bytes, subscribable, masked."""

from __future__ import annotations

import httpx
import pytest

from workbench.core.requestlog import RequestLog


def exchange(i: int, body: bytes = b"") -> tuple[httpx.Request, httpx.Response]:
    request = httpx.Request("GET", f"https://h.test/items/{i}", headers={"Authorization": "Bearer tok-abcdef-123"})
    response = httpx.Response(200, content=body, headers={"content-type": "application/json"}, request=request)
    return request, response


def test_bounded_by_count():
    log = RequestLog(max_entries=3)
    for i in range(10):
        request, response = exchange(i)
        log.record("t", request, response=response)
    assert [e.url for e in log] == [f"https://h.test/items/{i}" for i in (7, 8, 9)]
    assert [e.id for e in log] == [8, 9, 10]


def test_bounded_by_bytes_and_body_excerpts():
    log = RequestLog(max_bytes=20_000, body_excerpt=1000)
    big = b'{"items": [' + b",".join(b'"%d"' % i for i in range(50_000)) + b"]}"
    for i in range(50):
        request, response = exchange(i, big)
        entry = log.record("t", request, response=response, response_body=big)
        assert len(entry.response_body) <= 1100  # an excerpt, not the 300 KB body
    assert log.total_bytes <= 20_000
    assert 1 < len(log) < 50
    assert sum(e.size for e in log) == log.total_bytes


def test_subscribe_and_unsubscribe():
    log = RequestLog()
    seen = []
    unsubscribe = log.subscribe(seen.append)

    def broken(entry):
        raise RuntimeError("viewer bug")

    log.subscribe(broken)  # must not break recording
    request, response = exchange(1)
    log.record("t", request, response=response, duration=0.25, attempt=2)
    unsubscribe()
    log.record("t", request, response=response)
    assert len(seen) == 1
    assert seen[0].summary == "GET https://h.test/items/1 -> 200 in 250 ms (attempt 2)"
    assert len(log) == 2
    log.clear()
    assert len(log) == 0 and log.total_bytes == 0


def test_transport_failures_and_masking():
    log = RequestLog()
    request = httpx.Request("POST", "https://login.test/tenant/oauth2/v2.0/token",
                            headers={"Content-Type": "application/x-www-form-urlencoded"},
                            content=b"grant_type=client_credentials&client_id=app&client_secret=hunter2-long")
    entry = log.record("entra", request, error=httpx.ConnectError("refused hunter2-long"),
                       secrets=["hunter2-long"])
    assert entry.status is None
    assert entry.error == "ConnectError: refused ***"
    assert "client_secret=***" in entry.request_body and "hunter2" not in entry.request_body
    assert entry.summary.endswith("-> ConnectError: refused *** in 0 ms")


def test_invalid_bounds():
    with pytest.raises(ValueError):
        RequestLog(max_entries=0)
