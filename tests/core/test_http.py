"""HttpCore: retries, Retry-After, idempotency, auth refresh, guards, paging."""

from __future__ import annotations

import asyncio
import email.utils
import json

import httpx
import pytest

from tests.waits import Waits
from workbench.core.auth import AccessToken, NoAuth, StaticToken, TokenAuth
from workbench.core.errors import ApiError, AuthError, InvalidResponse, TransportError
from workbench.core.http import HttpCore, check_same_origin
from workbench.core.requestlog import RequestLog
from workbench.core.retry import RetryPolicy, parse_retry_after

BASE = "https://api.test"


def core(handler, *, waits: Waits | None = None, log: RequestLog | None = None, **retry) -> HttpCore:
    policy = RetryPolicy(sleep=waits or Waits(), **retry)
    return HttpCore(base_url=BASE, transport=httpx.MockTransport(handler), retry=policy, log=log)


def throttled_then_ok(status: int, headers: dict[str, str], failures: int = 2):
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) <= failures:
            return httpx.Response(status, headers=headers, json={"error": {"code": "Throttled", "message": "slow"}})
        return httpx.Response(200, json={"ok": True})

    return handler, calls


# -- Retry-After ---------------------------------------------------------------


async def test_retry_after_seconds_is_waited_exactly_not_less():
    handler, calls = throttled_then_ok(429, {"Retry-After": "3"})
    waits = Waits()
    async with core(handler, waits=waits, random=lambda: 0.999) as http:
        response = await http.request("GET", "/images", provider="t")
    assert response.json() == {"ok": True}
    assert len(calls) == 3
    assert waits.waits == [3.0, 3.0]


async def test_retry_after_http_date_is_converted_against_the_clock():
    now = 1_700_000_000.0
    when = email.utils.formatdate(now + 7, usegmt=True)
    handler, calls = throttled_then_ok(503, {"Retry-After": when}, failures=1)
    waits = Waits()
    async with core(handler, waits=waits, now=lambda: now) as http:
        await http.request("GET", "/images", provider="t")
    assert waits.waits == [7.0]
    assert len(calls) == 2


async def test_retry_after_ms_headers_and_the_longest_wins():
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "1500"})) == 1.5
    assert parse_retry_after(httpx.Headers({"x-ms-retry-after-ms": "250"})) == 0.25
    # never come back earlier than any header allows
    assert parse_retry_after(httpx.Headers({"Retry-After": "1", "retry-after-ms": "2500"})) == 2.5
    assert parse_retry_after(httpx.Headers({"Retry-After": "soon"})) is None
    past = email.utils.formatdate(1_000, usegmt=True)
    assert parse_retry_after(httpx.Headers({"Retry-After": past}), now=lambda: 2_000.0) == 0.0
    assert parse_retry_after(httpx.Headers({})) is None


async def test_backoff_with_full_jitter_is_capped_when_no_retry_after():
    handler, calls = throttled_then_ok(502, {}, failures=3)
    waits = Waits()
    async with core(handler, waits=waits, random=lambda: 0.5, backoff_base=1, backoff_max=3) as http:
        await http.request("GET", "/images", provider="t")
    assert waits.waits == [0.5, 1.0, 1.5]  # 0.5 x min(3, 1, 2, 4)


async def test_retries_stop_after_max_attempts_with_the_last_error():
    handler, calls = throttled_then_ok(503, {"Retry-After": "0"}, failures=99)
    async with core(handler, max_attempts=3) as http:
        with pytest.raises(ApiError) as info:
            await http.request("GET", "/images", provider="t")
    assert len(calls) == 3
    assert info.value.status == 503 and info.value.retry_after == 0


async def test_a_server_asking_too_long_a_wait_ends_the_retries():
    handler, calls = throttled_then_ok(429, {"Retry-After": "3600"})
    waits = Waits()
    async with core(handler, waits=waits, max_retry_after=60) as http:
        with pytest.raises(ApiError) as info:
            await http.request("GET", "/images", provider="t")
    assert len(calls) == 1 and waits.waits == []
    assert info.value.retry_after == 3600


async def test_other_statuses_are_not_retried():
    handler, calls = throttled_then_ok(500, {}, failures=1)
    async with core(handler) as http:
        with pytest.raises(ApiError):
            await http.request("GET", "/images", provider="t")
    assert len(calls) == 1


# -- idempotency ---------------------------------------------------------------


async def test_post_without_idempotency_key_is_not_retried():
    handler, calls = throttled_then_ok(503, {"Retry-After": "0"})
    async with core(handler) as http:
        with pytest.raises(ApiError) as info:
            await http.request("POST", "/images", provider="t", json={"name": "x"})
    assert len(calls) == 1
    assert info.value.status == 503


async def test_post_with_idempotency_key_is_retried_with_the_same_key_and_body():
    handler, calls = throttled_then_ok(503, {"Retry-After": "0"})
    async with core(handler) as http:
        await http.request("POST", "/images", provider="t", json={"name": "x"},
                           headers={"Idempotency-Key": "b1f0c0de"})
    assert len(calls) == 3
    assert {c.headers["idempotency-key"] for c in calls} == {"b1f0c0de"}
    assert {c.content for c in calls} == {b'{"name":"x"}'}


async def test_idempotent_flag_overrides_the_method():
    handler, calls = throttled_then_ok(503, {"Retry-After": "0"})
    async with core(handler) as http:
        with pytest.raises(ApiError):
            await http.request("PUT", "/images/x", provider="t", idempotent=False)
    assert len(calls) == 1


async def test_connection_errors_retry_only_when_safe():
    attempts: list[str] = []

    def refused(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        raise httpx.ConnectError("connection refused", request=request)

    # never reached the server: safe to retry even a POST
    async with core(refused, max_attempts=3) as http:
        with pytest.raises(TransportError, match="could not connect") as info:
            await http.request("POST", "/images", provider="t", json={})
    assert attempts == ["POST"] * 3
    assert info.value.request.method == "POST"

    attempts.clear()

    def dropped(request: httpx.Request) -> httpx.Response:
        attempts.append(request.method)
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    # the server may have acted on it: a POST is not repeated, a GET is
    async with core(dropped, max_attempts=3) as http:
        with pytest.raises(TransportError):
            await http.request("POST", "/images", provider="t", json={})
        assert attempts == ["POST"]
        with pytest.raises(TransportError):
            await http.request("GET", "/images", provider="t")
    assert attempts == ["POST", "GET", "GET", "GET"]


async def test_total_timeout_turns_a_trickling_answer_into_a_transport_error():
    async def never_ends(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            await asyncio.sleep(0.01)

    http = HttpCore(base_url=BASE, transport=httpx.ASGITransport(app=never_ends), total_timeout=0.2,
                    retry=RetryPolicy(max_attempts=1))
    async with http:
        with pytest.raises(TransportError, match="no complete answer within 0.2 s") as info:
            await http.request("GET", "/slow", provider="t")
    assert info.value.timeout


# -- auth ----------------------------------------------------------------------


async def test_401_refreshes_the_token_once_then_succeeds():
    fetched: list[str] = []

    async def fetch() -> AccessToken:
        fetched.append(f"tok-{len(fetched) + 1}")
        return AccessToken(fetched[-1], expires_at=None)

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] != "Bearer tok-2":
            return httpx.Response(401, json={"error": {"code": "ExpiredAuthenticationToken", "message": "expired"}})
        return httpx.Response(200, json={"ok": True})

    log = RequestLog()
    auth = TokenAuth(fetch)
    async with core(handler, log=log) as http:
        response = await http.request("GET", "/images", provider="t", auth=auth)
    assert response.status_code == 200
    assert fetched == ["tok-1", "tok-2"]
    assert [e.status for e in log] == [401, 200]
    assert [e.attempt for e in log] == [1, 2]


async def test_401_after_refresh_is_an_auth_error_without_a_loop():
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": {"code": "InvalidAuthenticationToken", "message": "bad token"}})

    async def fetch() -> AccessToken:
        return AccessToken("always-rejected-token")

    async with core(handler) as http:
        with pytest.raises(AuthError, match="InvalidAuthenticationToken"):
            await http.request("GET", "/images", provider="t", auth=TokenAuth(fetch))
        assert len(calls) == 2
        # a static token has nothing to refresh: one request only
        with pytest.raises(AuthError):
            await http.request("GET", "/images", provider="t", auth=StaticToken.bearer("static-token-1"))
    assert len(calls) == 3


async def test_token_cache_under_200_concurrent_requests_fetches_once():
    fetches = 0

    async def fetch() -> AccessToken:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.02)  # a real token endpoint takes a while
        return AccessToken(f"token-{fetches}", expires_at=None)

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer token-1"
        return httpx.Response(200, json={})

    auth = TokenAuth(fetch)
    async with core(handler) as http:
        await asyncio.gather(*[http.request("GET", f"/images/{i}", provider="t", auth=auth) for i in range(200)])
    assert fetches == 1 and auth.cache.fetches == 1


async def test_200_concurrent_401s_cause_one_refresh():
    fetches = 0

    async def fetch() -> AccessToken:
        nonlocal fetches
        fetches += 1
        await asyncio.sleep(0.01)
        return AccessToken(f"token-{fetches}")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["authorization"] == "Bearer token-1":  # revoked server-side
            return httpx.Response(401, json={"error": {"code": "Unauthorized", "message": "revoked"}})
        return httpx.Response(200, json={})

    auth = TokenAuth(fetch)
    async with core(handler) as http:
        await asyncio.gather(*[http.request("GET", f"/x/{i}", provider="t", auth=auth) for i in range(200)])
    assert fetches == 2


async def test_token_cache_refreshes_shortly_before_expiry():
    now = [1000.0]
    values = iter(["first", "second"])

    async def fetch() -> AccessToken:
        return AccessToken(next(values), expires_at=now[0] + 3600)

    auth = TokenAuth(fetch, refresh_margin=300, clock=lambda: now[0])
    request = httpx.Request("GET", BASE)
    await auth.apply(request)
    assert request.headers["authorization"] == "Bearer first"
    now[0] += 3600 - 301
    await auth.apply(request)
    assert request.headers["authorization"] == "Bearer first"
    now[0] += 2  # within 300 s of expiry
    await auth.apply(request)
    assert request.headers["authorization"] == "Bearer second"
    assert auth.secrets() == ["first", "second"]


async def test_a_failed_fetch_is_shared_by_the_waiters_then_retried_later():
    calls = 0

    async def fetch() -> AccessToken:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise RuntimeError("token endpoint down")
        return AccessToken("ok-token")

    auth = TokenAuth(fetch)
    results = await asyncio.gather(*[auth.cache.get() for _ in range(50)], return_exceptions=True)
    assert calls == 1 and all(isinstance(r, RuntimeError) for r in results)
    assert (await auth.cache.get()).value == "ok-token"
    assert calls == 2


# -- guards against hostile answers --------------------------------------------


async def test_answers_over_the_size_limit_are_refused():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 10_000)

    async with core(handler) as http:
        with pytest.raises(InvalidResponse, match="larger than the 1000-byte limit"):
            await http.request("GET", "/big", provider="t", max_body_bytes=1000)
        # a server that does not declare Content-Length is counted as it streams
        def streamed(request: httpx.Request) -> httpx.Response:
            return httpx.Response(200, stream=httpx.ByteStream(b"y" * 5000))

    async with core(streamed) as http:
        http.max_body_bytes = 4096
        with pytest.raises(InvalidResponse):
            await http.get_json("/big", provider="t")


async def test_json_that_does_not_parse_is_an_invalid_response():
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/html":
            return httpx.Response(200, text="<html>maintenance</html>", headers={"content-type": "text/html"})
        if request.url.path == "/deep":
            return httpx.Response(200, text="[" * 100_000)
        return httpx.Response(200, content=b"")

    async with core(handler) as http:
        with pytest.raises(InvalidResponse, match="text/html") as info:
            await http.get_json("/html", provider="t")
        assert "maintenance" in info.value.excerpt
        with pytest.raises(InvalidResponse):
            await http.get_json("/deep", provider="t")
        with pytest.raises(InvalidResponse, match="empty"):
            await http.get_json("/empty", provider="t")


async def test_redirects_are_not_followed():
    hosts = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(302, headers={"Location": "https://evil.test/collect"})

    async with core(handler) as http:
        with pytest.raises(ApiError) as info:
            await http.request("GET", "/images", provider="t", auth=StaticToken("X-Auth-Token", "gAAAAA-secret"))
    assert hosts == ["api.test"]
    assert info.value.status == 302


async def test_a_ca_bundle_needs_verification(tmp_path):
    # That verification is on by default is checked against a real TLS server in test_transport.py.
    with pytest.raises(ValueError, match="ca_bundle"):
        HttpCore(verify=False, ca_bundle=str(tmp_path / "ca.pem"))


# -- paging --------------------------------------------------------------------


def pages_handler(pages: dict[str, dict], seen_hosts: list[str]):
    def handler(request: httpx.Request) -> httpx.Response:
        seen_hosts.append(request.url.host)
        key = request.url.path + ("?" + request.url.query.decode() if request.url.query else "")
        return httpx.Response(200, json=pages[key])

    return handler


async def test_follow_pages_reads_every_page_and_honours_the_limit():
    pages = {f"/items?page={i}": {"value": [i * 10 + j for j in range(10)],
                                  "nextLink": f"{BASE}/items?page={i + 1}" if i < 4 else None}
             for i in range(5)}
    hosts: list[str] = []
    async with core(pages_handler(pages, hosts)) as http:
        items = [i async for i in http.follow_pages("/items", provider="t", params={"page": 0},
                                                    next_of=lambda p: p.get("nextLink"),
                                                    items_of=lambda p: p["value"])]
        assert items == list(range(50))
        hosts.clear()
        first = [i async for i in http.follow_pages("/items?page=0", provider="t",
                                                    next_of=lambda p: p.get("nextLink"),
                                                    items_of=lambda p: p["value"], limit=15)]
    assert first == list(range(15))
    assert len(hosts) == 2  # no page fetched beyond the limit


async def test_relative_next_links_resolve_against_the_page():
    pages = {"/v2/images": {"images": [1], "next": "/v2/images?marker=1"},
             "/v2/images?marker=1": {"images": [2]}}
    hosts: list[str] = []
    async with core(pages_handler(pages, hosts)) as http:
        items = [i async for i in http.follow_pages("/v2/images", provider="t", next_of=lambda p: p.get("next"),
                                                    items_of=lambda p: p["images"])]
    assert items == [1, 2]


async def test_paging_loop_is_detected():
    pages = {"/items?page=0": {"value": [0], "nextLink": f"{BASE}/items?page=1"},
             "/items?page=1": {"value": [1], "nextLink": f"{BASE}/items?page=0"}}
    hosts: list[str] = []
    async with core(pages_handler(pages, hosts)) as http:
        got = []
        with pytest.raises(InvalidResponse, match="paging loops"):
            async for item in http.follow_pages("/items?page=0", provider="t", next_of=lambda p: p.get("nextLink"),
                                                items_of=lambda p: p["value"]):
                got.append(item)
    assert got == [0, 1]


async def test_next_link_to_another_host_is_refused_and_never_contacted():
    pages = {"/items": {"value": [1], "nextLink": "https://evil.test/items?page=2"}}
    hosts: list[str] = []
    async with core(pages_handler(pages, hosts)) as http:
        with pytest.raises(InvalidResponse, match="evil.test"):
            async for _ in http.follow_pages("/items", provider="t", next_of=lambda p: p.get("nextLink"),
                                             items_of=lambda p: p["value"], auth=StaticToken.bearer("tok-123456")):
                pass
    assert hosts == ["api.test"]


async def test_page_cap():
    def handler(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params.get("page", "0"))
        return httpx.Response(200, json={"value": [n], "next": f"{BASE}/items?page={n + 1}"})

    async with core(handler) as http:
        with pytest.raises(InvalidResponse, match="more than 3 pages"):
            async for _ in http.follow_pages("/items", provider="t", next_of=lambda p: p["next"],
                                             items_of=lambda p: p["value"], max_pages=3):
                pass


async def test_follow_pages_asks_headers_for_once_per_page_and_a_retry_resends_them():
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        n = int(request.url.params.get("page", "0"))
        if n == 1 and sum(1 for r in sent if r.url.params.get("page") == "1") == 1:
            return httpx.Response(503, headers={"Retry-After": "0"})  # page 1 is retried once
        return httpx.Response(200, json={"value": [n], "next": f"{BASE}/items?page={n + 1}" if n < 2 else None})

    counter = iter(range(100))
    async with core(handler) as http:
        items = [i async for i in http.follow_pages(
            "/items", provider="t", next_of=lambda p: p["next"], items_of=lambda p: p["value"],
            headers={"X-Fixed": "kept", "X-Page": "overridden"},
            headers_for=lambda: {"x-page": f"id-{next(counter)}"})]
    assert items == [0, 1, 2]
    assert [(r.url.params.get("page", "0"), r.headers.get_list("X-Page")) for r in sent] == [
        ("0", ["id-0"]), ("1", ["id-1"]), ("1", ["id-1"]), ("2", ["id-2"])]
    assert all(r.headers["X-Fixed"] == "kept" for r in sent)


def test_check_same_origin():
    allowed = ["https://api.test/base", "http://127.0.0.1:8765/kusto"]
    assert check_same_origin("https://api.test:443/other", allowed).host == "api.test"
    assert str(check_same_origin("/x", allowed, base="http://127.0.0.1:8765/kusto/y")) == "http://127.0.0.1:8765/x"
    for bad in ("http://api.test/x",  # scheme downgrade
                "https://api.test:8443/x",  # other port
                "https://api.test.evil.test/x",
                "ftp://api.test/x",
                "https://user@evil.test/x"):
        with pytest.raises(InvalidResponse):
            check_same_origin(bad, allowed)


async def test_request_log_records_every_attempt_with_client_request_id():
    handler, calls = throttled_then_ok(503, {"Retry-After": "0"}, failures=1)
    log = RequestLog()
    async with core(handler, log=log) as http:
        await http.request("GET", "/images", provider="batch", headers={"client-request-id": "9c4d50ee"},
                           auth=NoAuth())
    entries = log.entries()
    assert [(e.status, e.attempt, e.client_request_id) for e in entries] == [(503, 1, "9c4d50ee"),
                                                                              (200, 2, "9c4d50ee")]
    assert json.loads(entries[1].response_body) == {"ok": True}
    assert entries[0].provider == "batch" and entries[0].method == "GET"
    assert entries[0].url == f"{BASE}/images"
