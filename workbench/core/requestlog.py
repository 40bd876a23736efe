"""A bounded log of HTTP exchanges for the app's inspector.

The HTTP core records every attempt (retries and token fetches included).
Entries are masked when they are made, from the raw request and response, so
no secret is ever stored; the log keeps the newest entries within a count and
a byte budget, and tells subscribers about each new entry.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

import httpx

from workbench.core.errors import clean_text, request_id_of
from workbench.core.masking import mask_body, mask_header, mask_text, mask_url
from workbench.core.preview import header_pairs

logger = logging.getLogger(__name__)

#: Headers in which a client names its request for the server's logs.
CLIENT_REQUEST_ID_HEADERS = ("client-request-id", "x-ms-client-request-id", "x-client-request-id")


@dataclass(frozen=True, slots=True)
class LogEntry:
    id: int
    #: When the request was sent (epoch seconds).
    time: float
    provider: str
    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    #: Masked excerpt of the request body ("" when none).
    request_body: str
    #: None when no answer arrived (see ``error``).
    status: int | None
    response_headers: tuple[tuple[str, str], ...]
    response_body: str
    #: Seconds from sending to the full answer (or to the failure).
    duration: float
    #: 1 for the first attempt, 2 for the first retry, ...
    attempt: int
    client_request_id: str | None
    request_id: str | None
    #: Transport failure ("ConnectError: ...") when there was no answer.
    error: str | None
    #: Approximate memory this entry holds, for the byte budget.
    size: int

    def as_dict(self) -> dict:
        data = asdict(self)
        data["request_headers"] = [list(pair) for pair in self.request_headers]
        data["response_headers"] = [list(pair) for pair in self.response_headers]
        return data

    @property
    def summary(self) -> str:
        outcome = str(self.status) if self.status is not None else (self.error or "no answer")
        retry = f" (attempt {self.attempt})" if self.attempt > 1 else ""
        return f"{self.method} {self.url} -> {outcome} in {self.duration * 1000:.0f} ms{retry}"


Subscriber = Callable[[LogEntry], None]


def _excerpt(body: bytes | None, content_type: str, secrets: list[str], limit: int) -> str:
    if not body:
        return ""
    # Only the excerpt is kept, so only a little more than it is masked: parsing
    # every 1,000-image page in full would triple the cost of a big listing.
    # A cut body does not parse and is masked as text (mask_json_text).
    if len(body) > limit * 4:
        body = body[: limit * 4]
    masked = mask_body(body, content_type, secrets) or b""
    try:
        text = masked.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(body)} bytes of binary data>"
    text = clean_text(text, limit)
    return text


class RequestLog:
    """Newest-last log of exchanges, bounded by ``max_entries`` and ``max_bytes``.

    Thread-safe: the app may read it from another thread than the one sending.
    """

    def __init__(self, max_entries: int = 1000, max_bytes: int = 4_000_000, body_excerpt: int = 4096) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("max_entries and max_bytes must be positive")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.body_excerpt = body_excerpt
        self._entries: deque[LogEntry] = deque()
        self._bytes = 0
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._subscribers: list[Subscriber] = []

    # -- recording -------------------------------------------------------------
    def record(
        self,
        provider: str,
        request: httpx.Request,
        *,
        response: httpx.Response | None = None,
        response_body: bytes | None = None,
        started: float | None = None,
        duration: float = 0.0,
        attempt: int = 1,
        error: BaseException | str | None = None,
        secrets: Iterable[str] = (),
    ) -> LogEntry:
        """Mask and store one exchange; ``response_body`` is what was read of
        the answer (the core reads bodies itself, within its size limit)."""
        secrets = list(secrets)
        limit = self.body_excerpt
        request_headers = tuple(
            (name, mask_text(mask_header(name, value), secrets)) for name, value in header_pairs(request.headers)
        )
        try:
            request_bytes = request.content
        except httpx.RequestNotRead:
            request_bytes = None
        request_body = _excerpt(request_bytes, request.headers.get("content-type", ""), secrets, limit)
        status = None
        response_headers: tuple[tuple[str, str], ...] = ()
        body_text = ""
        request_id = None
        if response is not None:
            status = response.status_code
            response_headers = tuple(
                (name, mask_text(mask_header(name, value), secrets))
                for name, value in header_pairs(response.headers)
            )
            body_text = _excerpt(response_body, response.headers.get("content-type", ""), secrets, limit)
            request_id = request_id_of(response.headers)
        client_request_id = next(
            (request.headers[name] for name in CLIENT_REQUEST_ID_HEADERS if name in request.headers), None
        )
        error_text = None
        if error is not None:
            error_text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
            error_text = clean_text(mask_text(error_text, secrets), 1000)
        url = mask_text(mask_url(str(request.url)), secrets)
        size = (
            200
            + len(url)
            + len(request_body)
            + len(body_text)
            + sum(len(n) + len(v) for n, v in request_headers + response_headers)
            + len(error_text or "")
        )
        entry = LogEntry(
            id=next(self._ids),
            time=started if started is not None else time.time(),
            provider=provider,
            method=request.method,
            url=url,
            request_headers=request_headers,
            request_body=request_body,
            status=status,
            response_headers=response_headers,
            response_body=body_text,
            duration=duration,
            attempt=attempt,
            client_request_id=client_request_id,
            request_id=request_id,
            error=error_text,
            size=size,
        )
        with self._lock:
            self._entries.append(entry)
            self._bytes += size
            while len(self._entries) > self.max_entries or (self._bytes > self.max_bytes and len(self._entries) > 1):
                self._bytes -= self._entries.popleft().size
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(entry)
            except Exception:  # a broken viewer must not break the request
                logger.exception("request log subscriber failed")
        return entry

    # -- reading ---------------------------------------------------------------
    def entries(self, provider: str | None = None) -> list[LogEntry]:
        with self._lock:
            entries = list(self._entries)
        return [e for e in entries if provider is None or e.provider == provider]

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self.entries())

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def total_bytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    # -- subscriptions ---------------------------------------------------------
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(entry)`` for each new entry; returns an unsubscriber."""
        with self._lock:
            self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Subscriber) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)


__all__ = ["LogEntry", "RequestLog", "CLIENT_REQUEST_ID_HEADERS"]
