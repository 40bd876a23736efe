"""When to send a request again, and how long to wait first.

The rules:
- only throttling and gateway failures (429, 502, 503, 504) and connection
  errors or timeouts are retried;
- only requests that are safe to repeat: idempotent methods, or requests that
  carry an idempotency key the server de-duplicates on. A request that never
  reached the server (connection refused, connect timeout) is safe whatever
  its method, so it is retried too;
- the wait is exponential backoff with full jitter, capped; when the server
  says how long to wait (``Retry-After`` in seconds or as an HTTP date,
  ``retry-after-ms``, ``x-ms-retry-after-ms``) we never wait less than that.
  A server asking for more than ``max_retry_after`` ends the retries instead.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

#: Methods that RFC 9110 defines as idempotent (POST and PATCH are not).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})
#: Headers by which a client makes a non-idempotent request safe to repeat.
IDEMPOTENCY_HEADERS = ("idempotency-key", "x-idempotency-key")
#: Statuses worth another try: throttled, or a gateway/backend hiccup.
RETRY_STATUSES = frozenset({429, 502, 503, 504})

#: Transport errors raised before the request left this machine.
_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def parse_retry_after(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait, or None if it did not say.

    When several headers are present the longest wait wins, so that we never
    come back earlier than any of them allows. Unparseable values are ignored;
    a date in the past means "now" (0).
    """
    waits: list[float] = []
    value = headers.get("retry-after")
    if value:
        value = value.strip()
        try:
            waits.append(max(0.0, float(value)))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                when = None
            if when is not None:
                waits.append(max(0.0, when.timestamp() - now()))
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                waits.append(max(0.0, float(value.strip()) / 1000.0))
            except ValueError:
                pass
    return max(waits) if waits else None


def has_idempotency_key(request: httpx.Request) -> bool:
    return any(request.headers.get(name) for name in IDEMPOTENCY_HEADERS)


@dataclass
class RetryPolicy:
    """How many times and how patiently to retry; ``sleep`` is injectable so
    tests can record the waits instead of waiting."""

    #: Total attempts, the first included (1 = never retry).
    max_attempts: int = 4
    #: First backoff ceiling in seconds; doubles every attempt.
    backoff_base: float = 0.5
    #: Our own backoff never exceeds this.
    backoff_max: float = 20.0
    #: A server asking to wait longer than this ends the retries (the error
    #: carries its Retry-After so the caller can decide).
    max_retry_after: float = 120.0
    retry_statuses: frozenset[int] = RETRY_STATUSES
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    #: Returns a float in [0, 1): the jitter source.
    random: Callable[[], float] = field(default=random.random)
    #: Wall clock (epoch seconds), for Retry-After given as an HTTP date.
    now: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts: must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base/backoff_max: must not be negative")

    @classmethod
    def never(cls) -> RetryPolicy:
        return cls(max_attempts=1)

    # -- decisions -------------------------------------------------------------
    def is_replayable(self, request: httpx.Request, idempotent: bool | None = None) -> bool:
        """Whether sending ``request`` twice is safe: ``idempotent`` overrides
        the method; an idempotency-key header makes any method safe."""
        if has_idempotency_key(request):
            return True
        if idempotent is not None:
            return idempotent
        return request.method.upper() in IDEMPOTENT_METHODS

    def retries_status(self, status: int) -> bool:
        return status in self.retry_statuses

    def retries_error(self, error: Exception, request: httpx.Request, idempotent: bool | None = None) -> bool:
        """Whether a transport error deserves another attempt."""
        if isinstance(error, _NOT_SENT_ERRORS):
            return True  # the server never saw it
        if isinstance(error, (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)):
            return self.is_replayable(request, idempotent)
        return False

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** max(0, attempt - 1)))
        return self.random() * ceiling

    def wait_before_retry(self, attempt: int, headers: Mapping[str, str] | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to stop.

        Honours the server's wait when it gave one (never less), otherwise
        backs off with jitter.
        """
        if attempt >= self.max_attempts:
            return None
        asked = parse_retry_after(headers, now=self.now) if headers is not None else None
        if asked is None:
            return self.backoff(attempt)
        if asked > self.max_retry_after:
            return None
        return asked


__all__ = [
    "IDEMPOTENT_METHODS",
    "IDEMPOTENCY_HEADERS",
    "RETRY_STATUSES",
    "RetryPolicy",
    "has_idempotency_key",
    "parse_retry_after",
]
