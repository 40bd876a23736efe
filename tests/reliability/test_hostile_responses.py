"""Drivers against servers that answer badly, or maliciously.

A small Starlette app on loopback plays each provider's list and read
endpoints and answers, per test, with: JSON that does not parse, an HTML error
page (with terminal escape sequences in it), a body far over the size limit,
a body that trickles in forever, missing members, members of the wrong type,
``next`` links that loop (to the same page, or A -> B -> A), and links or
operation URLs pointing at a second loopback server that records whether it
was contacted and with which headers, plus a redirect to it.

Every driver must end with a typed error (``WorkbenchError``) in bounded time
and memory, never hang, never crash with anything else, never print escape
sequences, and never send the profile's credentials to another host.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from workbench.core.errors import InvalidResponse, TransportError, WorkbenchError
from workbench.core.retry import RetryPolicy

from .conftest import is_long

CANARY = "canary-token-7f3a9c"
ACCOUNT_KEY = base64.b64encode(b"k" * 64).decode()
PROVIDERS = ("kusto", "glance", "batch", "yandex")


# ============================================================================ loopback servers
class Loopback:
    """An ASGI app on a free loopback port, in a thread (stopped by ``close``)."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error", lifespan="off",
                                timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "loopback server did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class Elsewhere:
    """The other host: records every request that reaches it."""

    contacts: list[dict[str, str]] = field(default_factory=list)

    def app(self) -> Starlette:
        async def record(request: Request) -> Response:
            self.contacts.append({k.lower(): v for k, v in request.headers.items()})
            return JSONResponse({"value": [], "images": []})

        return Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])


@dataclass
class Hostile:
    """The provider's server, answering per ``mode``; ``sent`` counts body bytes it streamed."""

    mode: str = "ok"
    elsewhere_url: str = ""
    sent: int = 0
    requests: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])])

    async def handle(self, request: Request) -> Response:
        self.requests += 1
        provider = _provider_of(request.url.path)
        mode = self.mode
        if mode == "malformed":
            return Response(b'{"value": [{"name": "x",', media_type="application/json")
        if mode == "html_200":
            return Response(_HTML_PAGE, media_type="text/html")
        if mode == "html_502":
            return Response(_HTML_PAGE, status_code=502, media_type="text/html")
        if mode == "empty":
            return Response(b"", media_type="application/json")
        if mode == "huge":
            return StreamingResponse(self._stream(200 * 1024 * 1024), media_type="application/json")
        if mode == "huge_declared":
            return Response(b"{}", headers={"content-length": str(10 ** 12)}, media_type="application/json")
        if mode == "trickle":
            return StreamingResponse(self._trickle(), media_type="application/json")
        if mode == "missing":
            return JSONResponse({"something": "else"})
        if mode == "wrong_types":
            return JSONResponse({"value": "not a list", "images": {"a": 1}, "nextLink": 42, "next": ["x"],
                                 "odata.nextLink": {"u": 1}, "nextPageToken": 7})
        if mode == "wrong_item_types":
            return JSONResponse({"value": ["x", 1, None, [1]], "images": ["x", 1, None, {"id": 5, "name": ["n"]}]})
        if mode == "deep":
            return Response(b"[" * 200_000 + b"]" * 200_000, media_type="application/json")
        if mode == "loop_self":
            return JSONResponse(_page(provider, str(request.url), "same"))
        if mode == "loop_pair":
            other = "b" if request.query_params.get("p") != "b" else "a"
            return JSONResponse(_page(provider, str(request.url.include_query_params(p=other)), "t" + other,
                                      marker=other))
        if mode == "offhost":
            return JSONResponse(_page(provider, self.elsewhere_url + "/next?page=2", None))
        if mode == "redirect":
            return Response(status_code=302, headers={"Location": self.elsewhere_url + request.url.path})
        raise AssertionError(mode)

    async def _stream(self, total: int):
        chunk = b" " * 65536
        yield b'{"value": ['
        while self.sent < total:
            self.sent += len(chunk)
            yield chunk
            await asyncio.sleep(0)

    async def _trickle(self):
        yield b'{"value": ['
        for _ in range(100_000):
            self.sent += 1
            yield b" "
            await asyncio.sleep(0.05)


_HTML_PAGE = (b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1>"
              b"<p>\x1b[31mred alert\x1b[0m \x1b]0;pwned\x07 upstream error</p></body></html>")


def _provider_of(path: str) -> str:
    if "/compute/" in path or "/operations" in path:
        return "yandex"
    if "supportedimages" in path:
        return "batch"
    if "/v2/images" in path:
        return "glance"
    return "kusto"


def _page(provider: str, link: str, token: str | None, marker: str = "") -> dict[str, Any]:
    """One list page of ``provider`` with one image and a link (or token) to the next."""
    if provider == "kusto":
        body: dict[str, Any] = {"value": [{"name": f"c/img{marker}", "properties": {"language": "Python"}}]}
        if link:
            body["nextLink"] = link
    elif provider == "batch":
        body = {"value": [{"nodeAgentSKUId": f"a{marker}", "osType": "linux", "verificationType": "verified",
                           "imageReference": {"publisher": "p", "offer": "o", "sku": "s", "version": "latest"}}]}
        if link:
            body["odata.nextLink"] = link
    elif provider == "glance":
        body = {"images": [{"id": f"id{marker}", "name": "x", "status": "active"}]}
        if link:
            # Glance's own links are relative to the service root; one to another host stays absolute.
            own = "/glance/" in link
            body["next"] = httpx.URL(link).raw_path.decode().split("/glance", 1)[1] if own else link
    else:
        body = {"images": [{"id": f"fd8{marker}", "name": "x", "status": "READY"}]}
        if token:
            body["nextPageToken"] = token
    return body


# ============================================================================ the drivers
def make_driver(provider: str, base: str):
    retry = RetryPolicy(max_attempts=2, backoff_base=0.0)
    if provider == "kusto":
        from workbench.providers.azure_auth import AzureCredential
        from workbench.providers.kusto.driver import KustoDriver

        return KustoDriver.connect(subscription_id="12345678-1234-1234-1234-123456789098", resource_group="rg",
                                   cluster="c", base_url=base + "/kusto",
                                   credential=AzureCredential("static", token=CANARY), retry=retry, timeout=5)
    if provider == "glance":
        from workbench.providers.glance.driver import GlanceDriver

        return GlanceDriver.connect(image_endpoint=base + "/glance", token=CANARY, retry=retry, timeout=5)
    if provider == "batch":
        from workbench.providers.batch.driver import BatchDriver

        return BatchDriver.connect(account_url=base + "/batch", account_name="acct", account_key=ACCOUNT_KEY,
                                   retry=retry, timeout=5)
    from workbench.providers.yandex.driver import YandexDriver

    return YandexDriver.connect(folder_id="b1gfolder", compute_endpoint=base + "/yc",
                                operation_endpoint=base + "/yc-op", iam_token=CANARY, retry=retry, timeout=5)


@pytest.fixture(scope="module")
def servers():
    elsewhere = Elsewhere()
    other = Loopback(elsewhere.app())
    hostile = Hostile(elsewhere_url=other.url)
    main = Loopback(hostile.app())
    yield hostile, main, elsewhere, other
    main.close()
    other.close()


@pytest.fixture(scope="module")
def counts(report):
    seen: dict[str, set[str]] = {}
    yield seen
    for mode, outcomes in sorted(seen.items()):
        report.add("hostile responses (mode: outcome per driver)", f"{mode}: {', '.join(sorted(outcomes))}")


async def drain(provider: str, base: str, *, total_timeout: float | None = None, max_body: int | None = None,
                read: str = "list") -> tuple[Any, Any]:
    """Run the driver's listing (or a read); returns (result, error)."""
    driver = make_driver(provider, base)
    if total_timeout is not None:
        driver.http.total_timeout = total_timeout
    if max_body is not None:
        driver.http.max_body_bytes = max_body
    try:
        if read == "list":
            return [image async for image in driver.list_images()], None
        image_id = {"kusto": "img", "glance": "id1", "yandex": "fd8x",
                    "batch": "a|p:o:s:latest"}[provider]
        return await driver.get_image(image_id), None
    except WorkbenchError as exc:
        return None, exc
    finally:
        await driver.aclose()


# ============================================================================ the tests
TYPED_MODES = ["malformed", "html_200", "html_502", "empty", "missing", "wrong_types", "deep", "loop_self",
               "loop_pair", "huge_declared"]


#: (provider, mode, read) -> the bug that makes the case fail today (kept as strict xfails).
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


def _cases():
    for read in ("list", "get"):
        for provider in PROVIDERS:
            for mode in TYPED_MODES:
                if read == "get" and mode in ("loop_self", "loop_pair"):
                    continue  # a single read has no next link
                bug = KNOWN_BUGS.get((provider, mode, read))
                marks = [pytest.mark.xfail(strict=True, reason=bug)] if bug else []
                yield pytest.param(provider, mode, read, marks=marks, id=f"{read}-{provider}-{mode}")


@pytest.mark.parametrize(("provider", "mode", "read"), list(_cases()))
async def test_bad_answers_end_in_a_typed_error(servers, counts, provider, mode, read):
    hostile, main, elsewhere, _ = servers
    hostile.mode = mode
    started = time.monotonic()
    result, error = await asyncio.wait_for(drain(provider, main.url, read=read), timeout=30)
    elapsed = time.monotonic() - started
    assert elapsed < 20
    if provider == "yandex" and mode == "missing" and read == "list" and result == []:
        # proto3 JSON leaves out empty lists: {"something": "else"} is an empty page (unknown members ignored).
        counts.setdefault(mode, set()).add("yandex/list: an empty page (proto3 JSON)")
        return
    assert error is not None, f"{provider} {mode} {read}: no error, got {result!r}"[:500]
    text = str(error)
    assert "\x1b" not in text and "\x07" not in text, f"escape sequences reach the user: {text!r}"
    assert CANARY not in text and ACCOUNT_KEY not in text
    counts.setdefault(mode, set()).add(f"{provider}/{read}: {type(error).__name__}")
    if mode in ("loop_self", "loop_pair"):
        assert isinstance(error, InvalidResponse) and "loop" in error.message


@pytest.mark.parametrize("provider", [
    "kusto", "batch",
    "glance", "yandex",
])
async def test_items_of_the_wrong_type_never_crash_the_listing(servers, counts, provider):
    hostile, main, _, _ = servers
    hostile.mode = "wrong_item_types"
    result, error = await asyncio.wait_for(drain(provider, main.url), timeout=30)
    # A typed error, or only the well-formed items: never a TypeError/KeyError from deep inside.
    assert error is not None or all(image.provider in (provider, "ims") for image in result)
    counts.setdefault("wrong_item_types", set()).add(
        f"{provider}: {type(error).__name__ if error else f'{len(result)} items kept'}")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_huge_body_is_refused_without_reading_it_all(servers, counts, provider):
    hostile, main, _, _ = servers
    hostile.mode = "huge"
    hostile.sent = 0
    limit = 2 * 1024 * 1024
    tracemalloc.start()
    try:
        result, error = await asyncio.wait_for(drain(provider, main.url, max_body=limit), timeout=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(error, InvalidResponse) and "limit" in error.message, error
    assert peak < 8 * limit, f"{peak} bytes held for a {limit}-byte limit"
    # The server was cut off long before its 200 MiB were all sent.
    assert hostile.sent < 50 * 1024 * 1024
    counts.setdefault("huge (200 MiB, 2 MiB limit)", set()).add(
        f"{provider}: {type(error).__name__}, peak {peak // 1024} KiB")


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_body_that_never_ends_times_out(servers, counts, provider):
    hostile, main, _, _ = servers
    hostile.mode = "trickle"
    started = time.monotonic()
    result, error = await asyncio.wait_for(drain(provider, main.url, total_timeout=1.0), timeout=30)
    elapsed = time.monotonic() - started
    assert isinstance(error, TransportError) and error.timeout, error
    assert elapsed < 10  # two attempts of 1 s each, and a little
    counts.setdefault("trickle (1 byte / 50 ms, forever)", set()).add(f"{provider}: TransportError after "
                                                                    f"{elapsed:.1f} s")


@pytest.mark.parametrize("mode", ["offhost", "redirect"])
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_credentials_never_go_to_another_host(servers, counts, provider, mode):
    hostile, main, elsewhere, other = servers
    if provider == "yandex" and mode == "offhost":
        pytest.skip("Yandex pages by token, not by link: see the operation test below")
    hostile.mode = mode
    elsewhere.contacts.clear()
    result, error = await asyncio.wait_for(drain(provider, main.url), timeout=30)
    leaked = [c for c in elsewhere.contacts
              if CANARY in json.dumps(c) or "authorization" in c or "x-auth-token" in c]
    assert not leaked, f"credentials sent to {other.url}: {leaked}"
    assert not elsewhere.contacts, f"{provider} followed a {mode} to another host"
    assert isinstance(error, WorkbenchError), result
    counts.setdefault(f"{mode} to another host", set()).add(f"{provider}: {type(error).__name__}, other host "
                                                            f"contacted {len(elsewhere.contacts)}x")


async def test_an_operation_url_on_another_host_is_never_polled_with_the_token(servers, counts):
    """Kusto: a PUT answered with Azure-AsyncOperation / Location pointing elsewhere."""
    from workbench.core.operations import OperationStatus, OperationTracker

    hostile, main, elsewhere, other = servers
    elsewhere.contacts.clear()

    async def put(request: Request) -> Response:
        return JSONResponse({"name": "c/img", "properties": {"provisioningState": "Creating"}}, status_code=201,
                            headers={"Azure-AsyncOperation": other.url + "/op/1",
                                     "Location": other.url + "/op/1"})

    operation_app = Loopback(Starlette(routes=[Route("/{path:path}", put, methods=["PUT", "GET"])]))
    try:
        driver = make_driver("kusto", operation_app.url)
        try:
            try:
                op = await driver.send(driver.create_or_update("img", language_version="3.10.8"))
            except WorkbenchError as exc:  # refused at once: fine
                outcome = type(exc).__name__
            else:
                async with OperationTracker({"kusto": driver.poller()}, backoff_initial=0.01,
                                            min_interval=0.01) as tracker:
                    tracker.track(op, deadline=5)
                    await tracker.wait(op.id, timeout=15)
                assert op.status is not OperationStatus.SUCCEEDED
                outcome = f"operation {op.status.value}: {op.error}"[:120]
        finally:
            await driver.aclose()
    finally:
        operation_app.close()
    assert not elsewhere.contacts, f"polled another host: {elsewhere.contacts}"
    counts.setdefault("operation URL on another host", set()).add(f"kusto: {outcome}")


@pytest.mark.parametrize("provider", ["glance", "kusto", "batch"])
async def test_a_next_link_that_never_ends_is_stopped(servers, counts, provider, monkeypatch):
    """Distinct next links forever (no loop to detect): the page limit ends the listing.

    The drivers stop at 10,000 pages; the nightly-size run reads all of them. CI
    checks the same guard on the driver's own HTTP core with a limit of 50 pages
    (Batch: its driver's own limit, lowered to 50).
    """
    pages = [0]

    async def endless(request: Request) -> Response:
        pages[0] += 1
        number = int(request.query_params.get("n", "0")) + 1
        return JSONResponse(_page(provider, str(request.url.include_query_params(n=number)), None, marker=str(number)))

    app = Loopback(Starlette(routes=[Route("/{path:path}", endless)]))
    started = time.monotonic()
    try:
        driver = make_driver(provider, app.url)
        try:
            if is_long() or provider == "batch":  # Batch's driver sets its own limit (MAX_PAGES = 10,000)
                limit = 10_000 if is_long() else 50
                if provider == "batch":
                    monkeypatch.setattr("workbench.providers.batch.driver.MAX_PAGES", limit)
                with pytest.raises(InvalidResponse, match=f"more than {limit} pages"):
                    async for _ in driver.list_images():
                        pass
            else:
                limit = 50
                first = httpx.URL(app.url + "/first")
                with pytest.raises(InvalidResponse, match="more than 50 pages"):
                    async for _ in driver.http.follow_pages(
                            first, provider=provider, auth=driver.auth, max_pages=50,
                            next_of=lambda page: page.get("nextLink") or page.get("next"),
                            items_of=lambda page: page.get("value") or page.get("images") or []):
                        pass
        finally:
            await driver.aclose()
    finally:
        app.close()
    assert pages[0] == limit
    counts.setdefault("endless distinct next links", set()).add(
        f"{provider}: stopped after {pages[0]} pages in {time.monotonic() - started:.1f} s")
