"""``HttpCore``: the one road every request of one profile travels.

One ``httpx.AsyncClient`` per profile, and around each request, in order:
auth (``Auth.apply``), the request log, retries (``RetryPolicy``), one auth
refresh on 401, typed errors (``parse_error``) and guards against answers we
must not trust: bodies over a size limit, JSON that does not parse, answers
that never finish, paging links to other hosts or in a loop.

Redirects are never followed: a redirect to another host would carry the
profile's credentials (``X-Auth-Token`` is not stripped by httpx) to it.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any, TypeVar

import httpx

from workbench import __version__
from workbench.core.auth import Auth, NoAuth
from workbench.core.errors import InvalidResponse, TransportError, clean_text, parse_error
from workbench.core.masking import mask_text
from workbench.core.preview import RequestPreview
from workbench.core.requestlog import RequestLog
from workbench.core.retry import RetryPolicy, parse_retry_after
from workbench.core.transport import LazyTLSTransport, environment_proxies

T = TypeVar("T")

USER_AGENT = f"image-workbench/{__version__} httpx/{httpx.__version__}"
#: Largest answer read into memory unless a call says otherwise.
DEFAULT_MAX_BODY = 64 * 1024 * 1024
#: 30 s per read/write/pool wait, 10 s to connect.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str | httpx.URL) -> tuple[str, str, int]:
    """(scheme, host, port) with the scheme's default port filled in."""
    return _origin_of_text(str(url))


@lru_cache(maxsize=1024)
def _origin_of_text(url: str) -> tuple[str, str, int]:
    # Cached: every next link and operation link is checked against the
    # profile's few allowed origins, and parsing a URL costs ~50 us.
    parsed = httpx.URL(url)
    scheme = parsed.scheme.lower()
    return scheme, parsed.host.lower(), parsed.port or _DEFAULT_PORTS.get(scheme, 0)


def check_http_url(field: str, url: str, *, what: str = "") -> httpx.URL:
    """``url`` parsed, if it is an absolute http(s) URL; else ``ValueError``
    naming ``field`` (and ``what`` it should be, if given): for the endpoints a
    driver is given, where ``check_same_origin`` is for the links a server sends."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValueError(f"{field}: not a URL ({exc})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{field}: must be an absolute http(s) URL{f' ({what})' if what else ''}, got {url!r}")
    return parsed


def check_same_origin(url: str | httpx.URL, allowed: Iterable[str | httpx.URL], *, provider: str = "http",
                      base: str | httpx.URL | None = None) -> httpx.URL:
    """``url`` (resolved against ``base`` when relative) if its scheme, host and
    port match one of the ``allowed`` URLs, else ``InvalidResponse``.

    Used for every link a server hands us (next pages, operation status URLs)
    so that credentials never leave the profile's hosts.
    """
    try:
        target = httpx.URL(str(base)).join(str(url)) if base is not None else httpx.URL(str(url))
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidResponse(provider, f"the server sent a malformed link {clean_text(str(url), 200)!r}: {exc}") \
            from None
    if target.scheme not in ("http", "https") or not target.host:
        raise InvalidResponse(provider, f"the server sent a link that is not an absolute http(s) URL: "
                                        f"{clean_text(str(target), 200)!r}")
    origins = {origin_of(a) for a in allowed}
    if origin_of(target) not in origins:
        scheme, host, port = origin_of(target)
        raise InvalidResponse(
            provider,
            f"refusing to follow a link to {scheme}://{host}:{port}, which is not one of this profile's hosts "
            f"({', '.join(sorted(f'{s}://{h}:{p}' for s, h, p in origins))}); credentials stay on the profile's hosts",
        )
    return target


def decode_json(response: httpx.Response, provider: str, *, request: RequestPreview | None = None) -> Any:
    """The JSON body of ``response``, or ``InvalidResponse`` saying what came instead."""
    content = response.content
    if not content.strip():
        raise InvalidResponse(provider, f"expected a JSON body, got an empty one (HTTP {response.status_code})",
                              request, status=response.status_code)
    try:
        return json.loads(content)
    except (ValueError, RecursionError) as exc:
        excerpt = clean_text(content[:500].decode("utf-8", "replace"), 500)
        ctype = response.headers.get("content-type", "no content type")
        raise InvalidResponse(
            provider,
            f"expected JSON, got {ctype} that does not parse ({type(exc).__name__}): {excerpt!r}",
            request,
            status=response.status_code,
            excerpt=excerpt,
        ) from None


class _BodyTooLarge(Exception):
    pass


class HttpCore:
    """The HTTP client of one profile.

    ``transport`` replaces the network (``httpx.ASGITransport`` for the
    in-process simulator, ``httpx.MockTransport`` in tests). ``verify`` is on
    by default; ``ca_bundle`` is a CA file trusted instead of the usual roots
    (a private cloud's). Without either, the TLS context is made on the first
    https request (``LazyTLSTransport``).
    """

    def __init__(
        self,
        *,
        base_url: str = "",
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        total_timeout: float | None = 300.0,
        verify: bool = True,
        ca_bundle: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        log: RequestLog | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        max_concurrency: int = 32,
        headers: Mapping[str, str] | None = None,
        allowed_origins: Iterable[str] = (),
    ) -> None:
        verify_arg: bool | ssl.SSLContext = verify
        if ca_bundle:
            if not verify:
                raise ValueError("ca_bundle: given with verify=False; a CA bundle only makes sense with verification")
            verify_arg = ssl.create_default_context(cafile=ca_bundle)
        default_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        default_headers.update(headers or {})
        # Streamed responses hold a connection after their slot is released:
        # a little headroom above max_concurrency.
        limits = httpx.Limits(max_connections=max_concurrency + 8, max_keepalive_connections=max_concurrency + 8,
                              keepalive_expiry=30.0)
        if transport is None and verify_arg is True and not environment_proxies():
            transport = LazyTLSTransport(limits=limits)  # no CA bundle loaded until an https request
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            verify=verify_arg,
            transport=transport,
            follow_redirects=False,
            limits=limits,
            headers=default_headers,
        )
        self.retry = retry or RetryPolicy()
        self.log = log if log is not None else RequestLog()
        self.max_body_bytes = max_body_bytes
        #: Bound on one attempt, reading the body included (a server trickling
        #: bytes forever never trips httpx's per-read timeout).
        self.total_timeout = total_timeout
        # Requests in flight at once. Hundreds of concurrent polls share these
        # keep-alive connections: httpcore's pool schedules in O(connections x
        # waiting requests), so 200 polls through 32 connections finish several
        # times faster than through 200 (measured on loopback).
        self._slots = asyncio.Semaphore(max_concurrency)
        self.allowed_origins: set[str] = set(allowed_origins)
        if base_url:
            self.allowed_origins.add(base_url)
        self._secrets: set[str] = set()

    # -- configuration ---------------------------------------------------------
    def allow_origin(self, url: str) -> None:
        """Trust links to ``url``'s origin (a second endpoint of the profile)."""
        self.allowed_origins.add(url)

    def add_secret(self, value: str | None) -> None:
        """Scrub ``value`` from everything logged or raised (a password, a key)."""
        if value:
            self._secrets.add(value)

    def secrets(self, auth: Auth | None = None) -> list[str]:
        return list(self._secrets) + (auth.secrets() if auth is not None else [])

    # -- building --------------------------------------------------------------
    def build_request(self, method: str, url: str | httpx.URL, **kwargs: Any) -> httpx.Request:
        """An ``httpx.Request`` with the client's base URL and default headers."""
        return self.client.build_request(method, url, **kwargs)

    def preview(self, request: httpx.Request, auth: Auth | None = None) -> RequestPreview:
        """What ``send`` would put on the wire, masked, without sending (and
        without fetching a token: the auth header is shown as ``Bearer ***``)."""
        merged = self.client.build_request(
            request.method, request.url, headers=request.headers, content=_content_of(request)
        )
        for name, value in (auth.preview_headers() if auth else {}).items():
            merged.headers[name] = value
        return RequestPreview.from_httpx(merged).masked(self.secrets(auth))

    # -- sending ---------------------------------------------------------------
    async def send(
        self,
        request: httpx.Request,
        *,
        provider: str,
        auth: Auth | None = None,
        idempotent: bool | None = None,
        expect: Collection[int] = (200,),
        stream: bool = False,
        max_body_bytes: int | None = None,
        auth_error: bool = False,
    ) -> httpx.Response:
        """Send ``request`` and return the response if its status is in ``expect``.

        Retries per the retry policy (only when replaying is safe: see
        ``RetryPolicy.is_replayable``; ``idempotent`` overrides the method's
        own answer), refreshes ``auth`` once on a 401, raises ``ApiError``
        (``AuthError`` for 401 or when ``auth_error``: a token endpoint) for
        other statuses, ``TransportError`` when no answer came and
        ``InvalidResponse`` for a body over ``max_body_bytes``.

        With ``stream=True`` a successful response is returned unread; the
        caller must read it (``aiter_bytes``) and ``aclose()`` it.
        """
        auth = auth or NoAuth()
        limit = self.max_body_bytes if max_body_bytes is None else max_body_bytes
        body = _content_of(request)
        replayable = body is not None or not _has_stream(request)
        attempt = 0  # every attempt, for the log
        refreshed = False  # a 401 refresh is not a failure: it does not use up the retry budget
        while True:
            attempt += 1
            tries = attempt - 1 if refreshed else attempt
            current = self._copy(request, body) if replayable else request
            self._add_default_headers(current)
            await auth.apply(current)
            secrets = self.secrets(auth)
            started = time.time()
            t0 = time.monotonic()
            response: httpx.Response | None = None
            try:
                # (auth.apply ran before taking a slot: a token fetch needs one too)
                async with self._slots, asyncio.timeout(self.total_timeout):
                    started, t0 = time.time(), time.monotonic()  # waiting for a slot is not the server's time
                    response = await self.client.send(current, stream=True)
                    if stream and response.status_code in expect:
                        self.log.record(provider, current, response=response, started=started,
                                        duration=time.monotonic() - t0, attempt=attempt, secrets=secrets)
                        return response
                    content = await _read_bounded(response, limit)
            except asyncio.CancelledError:
                if response is not None:
                    await response.aclose()  # give the connection back to the pool
                raise
            except _BodyTooLarge:
                if response is not None:
                    await response.aclose()
                self.log.record(provider, current, response=response, started=started,
                                duration=time.monotonic() - t0, attempt=attempt,
                                error=f"answer larger than {limit} bytes: not read", secrets=secrets)
                raise InvalidResponse(provider, f"the answer is larger than the {limit}-byte limit",
                                      RequestPreview.from_httpx(current).masked(secrets),
                                      status=response.status_code if response is not None else None) from None
            except (httpx.TransportError, TimeoutError) as exc:
                if response is not None:
                    await response.aclose()
                self.log.record(provider, current, started=started, duration=time.monotonic() - t0,
                                attempt=attempt, error=_describe(exc, self.total_timeout), secrets=secrets)
                error: Exception = exc if isinstance(exc, httpx.TransportError) else httpx.ReadTimeout(str(exc))
                if replayable and self.retry.retries_error(error, current, idempotent):
                    wait = self.retry.wait_before_retry(tries)
                    if wait is not None:
                        await self.retry.sleep(wait)
                        continue
                raise TransportError(
                    provider,
                    mask_text(_describe(exc, self.total_timeout), secrets),
                    RequestPreview.from_httpx(current).masked(secrets),
                    timeout=isinstance(exc, (httpx.TimeoutException, TimeoutError)),
                ) from None
            self.log.record(provider, current, response=response, response_body=content, started=started,
                            duration=time.monotonic() - t0, attempt=attempt, secrets=secrets)
            status = response.status_code
            if status == 401 and not refreshed and replayable and not auth_error:
                refreshed = True
                if await auth.refresh(current):
                    continue
            if status in expect:
                return response
            if replayable and self.retry.retries_status(status) and self.retry.is_replayable(current, idempotent):
                wait = self.retry.wait_before_retry(tries, response.headers)
                if wait is not None:
                    await self.retry.sleep(wait)
                    continue
            raise parse_error(
                provider,
                response,
                request=RequestPreview.from_httpx(current),
                secrets=secrets,
                auth=auth_error,
                retry_after=parse_retry_after(response.headers, now=self.retry.now),
            )

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        provider: str,
        auth: Auth | None = None,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, Any] | None = None,
        expect: Collection[int] = (200,),
        idempotent: bool | None = None,
        auth_error: bool = False,
        max_body_bytes: int | None = None,
    ) -> httpx.Response:
        """Build and ``send`` a request in one call."""
        request = self.build_request(method, url, params=params, headers=headers, json=json, content=content,
                                     data=data)
        return await self.send(request, provider=provider, auth=auth, expect=expect, idempotent=idempotent,
                               auth_error=auth_error, max_body_bytes=max_body_bytes)

    async def get_json(
        self,
        url: str | httpx.URL,
        params: Any = None,
        *,
        provider: str,
        auth: Auth | None = None,
        headers: Mapping[str, str] | None = None,
        expect: Collection[int] = (200,),
    ) -> Any:
        """GET ``url`` and decode its JSON body (``InvalidResponse`` if it is not JSON)."""
        response = await self.request("GET", url, provider=provider, auth=auth, params=params, headers=headers,
                                      expect=expect)
        try:
            return decode_json(response, provider)
        except InvalidResponse as exc:
            exc.request = RequestPreview.from_httpx(response.request).masked(self.secrets(auth))
            raise

    # -- paging ----------------------------------------------------------------
    async def follow_pages(
        self,
        first_url: str | httpx.URL,
        *,
        provider: str,
        next_of: Callable[[Any], str | httpx.URL | None],
        items_of: Callable[[Any], Iterable[T]],
        auth: Auth | None = None,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        headers_for: Callable[[], Mapping[str, str]] | None = None,
        limit: int | None = None,
        max_pages: int = 10_000,
    ) -> AsyncIterator[T]:
        """Items from ``first_url`` and every page after it, up to ``limit`` items.

        ``next_of(page)`` returns the next page's URL (absolute, or relative to
        the page it came from) or None at the end; ``items_of(page)`` the
        page's items. ``params`` apply to the first request only: next links
        carry their own. ``headers`` go with every page. ``headers_for()`` is
        called once per page for headers that must differ from page to page
        (a request id); they replace fixed ones of the same name, and a retry
        of a page resends them unchanged. A link to a host outside
        ``allowed_origins``, a link seen before (a loop) or more than
        ``max_pages`` pages raise ``InvalidResponse``.
        """
        if limit is not None and limit <= 0:
            return
        # The base URL and the first page's params applied, as send() will.
        url = self.build_request("GET", first_url, params=params).url
        seen: set[str] = set()
        yielded = 0
        pages = 0
        while True:
            key = str(url)
            if key in seen:
                raise InvalidResponse(provider, f"paging loops: the server linked back to a page already read "
                                                f"({mask_text(key)}) after {pages} pages")
            seen.add(key)
            pages += 1
            if pages > max_pages:
                raise InvalidResponse(provider, f"more than {max_pages} pages: stopped (raise max_pages to read on)")
            page_headers = headers
            if headers_for is not None:
                merged = httpx.Headers(headers)
                merged.update(headers_for())  # case-insensitive: the page's own value replaces a fixed one
                page_headers = merged
            page = await self.get_json(url, provider=provider, auth=auth, headers=page_headers)
            for item in items_of(page):
                yield item
                yielded += 1
                if limit is not None and yielded >= limit:
                    return
            link = next_of(page)
            if not link:
                return
            # Let this page go before the next one is read: two pages in memory
            # at once were most of a streamed listing's peak RSS.
            page = item = None
            allowed = self.allowed_origins or {str(url)}
            url = check_same_origin(link, allowed, provider=provider, base=url)

    # -- internals -------------------------------------------------------------
    def _add_default_headers(self, request: httpx.Request) -> None:
        # client.send() sends a request as built; one built outside the client
        # (ApiRequest.to_httpx) still gets the profile's default headers.
        for name, value in self.client.headers.items():
            if name not in request.headers:
                request.headers[name] = value

    @staticmethod
    def _copy(request: httpx.Request, body: bytes | None) -> httpx.Request:
        """A fresh request per attempt, so auth headers never pile up."""
        return httpx.Request(
            request.method,
            request.url,
            headers=request.headers.copy(),
            content=body,
            extensions=dict(request.extensions),
        )

    # -- lifecycle -------------------------------------------------------------
    async def aclose(self) -> None:
        await self.client.aclose()

    async def __aenter__(self) -> HttpCore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _content_of(request: httpx.Request) -> bytes | None:
    try:
        return request.content
    except httpx.RequestNotRead:
        return None


def _has_stream(request: httpx.Request) -> bool:
    return _content_of(request) is None


async def _read_bounded(response: httpx.Response, limit: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    # aiter_bytes yields decoded bytes, so a compression bomb is caught too.
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    content = b"".join(chunks)
    # What Response.aread() itself stores, so .content/.json() work as usual.
    response._content = content
    await response.aclose()
    # An httpx response and its stream refer to each other, so without this
    # every answer, body included, waits for the cyclic GC: a long listing
    # kept dozens of 1 MB pages alive (+15 MB peak RSS at 100,000 images).
    response.stream = httpx.ByteStream(content)
    return content


def _describe(exc: BaseException, total_timeout: float | None) -> str:
    if isinstance(exc, TimeoutError) and not isinstance(exc, httpx.TimeoutException):
        return f"no complete answer within {total_timeout} s"
    kind = {
        httpx.ConnectTimeout: "connection timed out",
        httpx.ReadTimeout: "timed out waiting for the answer",
        httpx.WriteTimeout: "timed out sending the request",
        httpx.PoolTimeout: "timed out waiting for a free connection",
        httpx.ConnectError: "could not connect",
        httpx.RemoteProtocolError: "the connection was dropped or the answer was malformed",
        httpx.ReadError: "the connection broke while reading the answer",
        httpx.WriteError: "the connection broke while sending the request",
    }.get(type(exc), "transport failure")
    detail = str(exc) or type(exc).__name__
    return f"{kind} ({type(exc).__name__}: {clean_text(detail, 300)})"


__all__ = [
    "HttpCore",
    "USER_AGENT",
    "DEFAULT_MAX_BODY",
    "check_same_origin",
    "decode_json",
    "origin_of",
]
