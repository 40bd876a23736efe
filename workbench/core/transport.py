"""httpx's own transport, with TLS set up on the first https request.

Loading the CA bundle into an SSL context costs about 40 ms of CPU, an
eighth of a short command's whole run, and httpx does it when a client is made. A
profile on plain http (a lab cloud on loopback, the simulator) never needs
it; so requests go by scheme to one of two ``httpx.AsyncHTTPTransport``s,
and the https one, with its context, is made when the first https request
is sent. Verification is exactly httpx's default (certifi's roots, or
``SSL_CERT_FILE``/``SSL_CERT_DIR`` when set).

``HttpCore`` uses it only where it changes nothing else: verification on
with no CA file of the profile's, and no proxy in the environment (httpx
ignores environment proxies when given a transport). An ``SSL_CERT_FILE``
that names no file still fails when the client is made, as with httpx, not
at the first https request (perhaps a poll of a resumed operation); one that
does not load fails that request as a connection error.
"""

from __future__ import annotations

import errno
import os
import ssl
import urllib.request

import httpx


def environment_proxies() -> bool:
    """Whether the environment names a proxy (``HTTPS_PROXY``, ``ALL_PROXY``, ...),
    as httpx reads it."""
    return bool(urllib.request.getproxies())


def check_ca_environment() -> None:
    """Raise now, as httpx does when it makes a client, if ``SSL_CERT_FILE``
    names no file. (A missing ``SSL_CERT_DIR`` fails no earlier than a
    handshake, with httpx as here.)"""
    cafile = os.environ.get("SSL_CERT_FILE")
    if cafile and not os.path.isfile(cafile):
        raise FileNotFoundError(errno.ENOENT, f"{os.strerror(errno.ENOENT)} (SSL_CERT_FILE)", cafile)


class LazyTLSTransport(httpx.AsyncBaseTransport):
    """Plain http through a pool made at once; https through a second pool,
    made (with a verifying SSL context) on the first https request."""

    def __init__(self, *, limits: httpx.Limits) -> None:
        check_ca_environment()
        self._limits = limits
        # Never used for TLS (https goes to the other pool). Should a TLS
        # handshake ever reach it, a context with no trusted roots fails closed.
        self._plain = httpx.AsyncHTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), limits=limits)
        self._tls: httpx.AsyncHTTPTransport | None = None

    @property
    def tls_ready(self) -> bool:
        """Whether the https pool (and its SSL context) exists yet."""
        return self._tls is not None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "https":
            if self._tls is None:
                try:
                    self._tls = httpx.AsyncHTTPTransport(verify=True, limits=self._limits)
                except OSError as exc:  # ssl.SSLError too: an SSL_CERT_FILE/DIR that does not load
                    raise httpx.ConnectError(f"TLS set-up failed: {exc}", request=request) from exc
            return await self._tls.handle_async_request(request)
        return await self._plain.handle_async_request(request)

    async def aclose(self) -> None:
        await self._plain.aclose()
        if self._tls is not None:
            await self._tls.aclose()
