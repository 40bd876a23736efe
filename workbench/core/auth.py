"""The base every provider's authentication plugs into.

An ``Auth`` does three things for the HTTP core:
- ``apply(request)`` sets the credential on a request about to be sent (a
  header, or a signature computed over the request);
- ``refresh(failed)`` is called once when the server answers 401, and says
  whether retrying with a new credential makes sense;
- ``secrets()`` lists the values that must never appear in a log or an error.

Token-based flows (Entra, Keystone, Yandex IAM, Azure CLI) only write a
``fetch`` coroutine that returns an ``AccessToken`` and hand it to
``TokenAuth``; ``TokenCache`` takes care of expiry and of letting exactly one
fetch run when many requests need a token at once.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from workbench.core.masking import MASK, mask_header


class Auth(ABC):
    """How requests to one provider account are authenticated."""

    @abstractmethod
    async def apply(self, request: httpx.Request) -> None:
        """Put the credential on ``request`` (called before every attempt)."""

    async def refresh(self, failed: httpx.Request | None = None) -> bool:
        """Get a new credential after ``failed`` was answered 401.

        Return True when a retry can succeed (a new token was obtained, or
        another request already obtained one), False when there is nothing to
        refresh (a static token, a signature).
        """
        return False

    def secrets(self) -> list[str]:
        """Secret values this auth knows (tokens, keys, passwords), to scrub."""
        return []

    def preview_headers(self) -> dict[str, str]:
        """The headers ``apply`` will set, masked, for a request preview that
        must not fetch a token (``{"Authorization": "Bearer ***"}``)."""
        return {}


class NoAuth(Auth):
    """Unauthenticated requests (token endpoints, version discovery)."""

    async def apply(self, request: httpx.Request) -> None:
        return None


class StaticToken(Auth):
    """A fixed header value: ``StaticToken("X-Auth-Token", token)`` or
    ``StaticToken("Authorization", "Bearer " + token)``."""

    def __init__(self, header: str, value: str) -> None:
        if not header or not value:
            raise ValueError("StaticToken: header and value must not be empty")
        self.header = header
        self.value = value

    @classmethod
    def bearer(cls, token: str) -> StaticToken:
        return cls("Authorization", f"Bearer {token}")

    async def apply(self, request: httpx.Request) -> None:
        request.headers[self.header] = self.value

    def secrets(self) -> list[str]:
        scheme, sep, credential = self.value.partition(" ")
        return [self.value, credential] if sep and credential else [self.value]

    def preview_headers(self) -> dict[str, str]:
        return {self.header: mask_header(self.header, self.value) if self.header.lower() == "authorization"
                else MASK}


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A token and when it stops working (epoch seconds; None: unknown)."""

    value: str
    expires_at: float | None = None
    #: Anything else the flow learned with the token (Keystone's catalog, ...).
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    def __repr__(self) -> str:  # never print the value
        return f"AccessToken(value={MASK!r}, expires_at={self.expires_at!r})"


class TokenCache:
    """Caches one token and fetches a new one shortly before it expires.

    Fetches are serialised under an ``asyncio.Lock`` and counted by a
    generation number: callers that queued behind a fetch use its result
    (or see its error) instead of fetching again, so 200 concurrent requests
    with an expired token cause exactly one fetch.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[AccessToken]],
        *,
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._fetch = fetch
        self.refresh_margin = refresh_margin
        self._clock = clock
        self._token: AccessToken | None = None
        self._fetched_at = 0.0
        self._generation = 0
        self._error: BaseException | None = None
        self._lock = asyncio.Lock()
        #: Recently used token values, so logs that mention them stay masked.
        self._history: deque[str] = deque(maxlen=4)
        #: How many fetches ran (for tests and the inspector).
        self.fetches = 0

    @property
    def token(self) -> AccessToken | None:
        return self._token

    @property
    def expires_at(self) -> float | None:
        return self._token.expires_at if self._token else None

    def _is_fresh(self, token: AccessToken | None) -> bool:
        if token is None:
            return False
        if token.expires_at is None:
            return True
        lifetime = max(0.0, token.expires_at - self._fetched_at)
        # Refresh `refresh_margin` early, but never more than half the
        # lifetime early: a 60 s token must not be refetched on every call.
        margin = min(self.refresh_margin, lifetime / 2)
        return self._clock() < token.expires_at - margin

    async def get(self) -> AccessToken:
        """A token that is valid for a while yet (fetching one if needed)."""
        token = self._token
        if self._is_fresh(token):
            return token  # type: ignore[return-value]
        return await self._renew(self._generation, force=False)

    async def refresh(self, stale: str | None = None) -> AccessToken:
        """A new token, unless the current one already differs from ``stale``
        (another request refreshed it meanwhile)."""
        token = self._token
        if stale is not None and token is not None and token.value != stale and self._is_fresh(token):
            return token
        return await self._renew(self._generation, force=True)

    def invalidate(self) -> None:
        """Forget the token: the next ``get`` fetches."""
        self._token = None

    async def _renew(self, seen_generation: int, *, force: bool) -> AccessToken:
        async with self._lock:
            if self._generation != seen_generation:
                # A fetch completed while we waited for the lock: share its outcome.
                if self._error is not None:
                    raise self._error
                if self._token is not None:
                    # Even if it looks stale (a clock skewed against the issuer's),
                    # a token fetched just now is the best there is: fetching
                    # again for every waiter would not make it fresher.
                    return self._token
            elif not force and self._is_fresh(self._token):
                return self._token  # type: ignore[return-value]
            self._error = None
            try:
                self.fetches += 1
                token = await self._fetch()
            except Exception as exc:
                # Shared with the callers queued behind this fetch. A cancelled
                # fetch is not shared: those callers simply try themselves.
                self._error = exc
                raise
            else:
                self._token = token
                self._fetched_at = self._clock()
                self._history.append(token.value)
                return token
            finally:
                self._generation += 1

    def secrets(self) -> list[str]:
        return list(self._history)


class TokenAuth(Auth):
    """``<header>: <scheme> <token>`` with a token from a cached ``fetch``.

    Subclass it (or pass ``fetch``) for Entra, Keystone, Yandex IAM and the
    Azure CLI. ``extra_secrets`` are the long-lived credentials behind the
    token (client secret, password, OAuth token) so they are scrubbed too.
    """

    def __init__(
        self,
        fetch: Callable[[], Awaitable[AccessToken]] | None = None,
        *,
        header: str = "Authorization",
        scheme: str | None = "Bearer",
        refresh_margin: float = 300.0,
        clock: Callable[[], float] = time.time,
        extra_secrets: list[str] | None = None,
    ) -> None:
        self.header = header
        self.scheme = scheme
        self.cache = TokenCache(fetch or self.fetch_token, refresh_margin=refresh_margin, clock=clock)
        self._extra_secrets = [s for s in (extra_secrets or []) if s]

    async def fetch_token(self) -> AccessToken:
        """Override in a subclass (or pass ``fetch``): get a new token."""
        raise NotImplementedError(f"{type(self).__name__} must implement fetch_token() or be given fetch=")

    def _format(self, token: str) -> str:
        return f"{self.scheme} {token}" if self.scheme else token

    async def apply(self, request: httpx.Request) -> None:
        token = await self.cache.get()
        request.headers[self.header] = self._format(token.value)

    async def refresh(self, failed: httpx.Request | None = None) -> bool:
        stale = None
        if failed is not None:
            sent = failed.headers.get(self.header, "")
            stale = sent.partition(" ")[2] if self.scheme else sent
        await self.cache.refresh(stale=stale)
        return True

    def secrets(self) -> list[str]:
        return self.cache.secrets() + self._extra_secrets

    def preview_headers(self) -> dict[str, str]:
        return {self.header: f"{self.scheme} {MASK}" if self.scheme else MASK}


__all__ = ["Auth", "NoAuth", "StaticToken", "AccessToken", "TokenCache", "TokenAuth"]
