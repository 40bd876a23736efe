"""TLS against a real HTTPS server on loopback: verification is on, and set up lazily.

``HttpCore`` makes its SSL context (loading the CA bundle, ~40 ms of CPU) on
the first https request, through ``LazyTLSTransport``. These tests check that
doing so changed nothing a user relies on: a certificate nobody vouches for is
refused, a profile's CA file and ``SSL_CERT_FILE`` are honoured (a wrong one
still fails at once), plain http never builds the context, and a proxy in the
environment is still used.
"""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from workbench.core.errors import TransportError
from workbench.core.http import HttpCore
from workbench.core.transport import LazyTLSTransport


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 signed by itself (its own CA): (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "workbench test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        body = b'{"hello": "world"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _serve(tls: ssl.SSLContext | None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def default_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy and no CA settings from the machine running the tests."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _self_signed(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_url(certificate: tuple[Path, Path]) -> Iterator[str]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    yield from _serve(context)


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    yield from _serve(None)


async def test_a_certificate_nobody_vouches_for_is_refused(https_url: str) -> None:
    async with HttpCore() as http:
        assert isinstance(http.client._transport, LazyTLSTransport)
        with pytest.raises(TransportError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
            await http.get_json(https_url + "/", provider="t")
        assert http.client._transport.tls_ready


async def test_the_profiles_ca_bundle_is_trusted(https_url: str, certificate: tuple[Path, Path]) -> None:
    async with HttpCore(ca_bundle=str(certificate[0])) as http:
        assert await http.get_json(https_url + "/", provider="t") == {"hello": "world"}


async def test_ssl_cert_file_is_honoured_as_httpx_does(https_url: str, certificate: tuple[Path, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    async with HttpCore() as http:
        assert isinstance(http.client._transport, LazyTLSTransport)
        assert await http.get_json(https_url + "/", provider="t") == {"hello": "world"}


async def test_an_ssl_cert_file_that_does_not_load_fails_the_first_https_request_as_a_transport_error(
        https_url: str, http_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    garbage = tmp_path / "not-a-certificate.pem"
    garbage.write_text("hello\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(garbage))
    async with HttpCore() as http:
        assert await http.get_json(http_url + "/", provider="t") == {"hello": "world"}  # plain http: unaffected
        with pytest.raises(TransportError, match="TLS set-up failed"):
            await http.get_json(https_url + "/", provider="t")


def test_a_wrong_ssl_cert_file_fails_when_the_client_is_made_as_with_httpx(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Not later, at the first https request (which might be a poll of a resumed operation).
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(FileNotFoundError, match="missing.pem"):
        HttpCore()
    with pytest.raises(FileNotFoundError):
        httpx.AsyncClient()  # what it stands for (httpx's message does not name the file)


async def test_plain_http_never_builds_the_ssl_context(http_url: str) -> None:
    async with HttpCore() as http:
        transport = http.client._transport
        assert await http.get_json(http_url + "/", provider="t") == {"hello": "world"}
        assert isinstance(transport, LazyTLSTransport) and not transport.tls_ready


async def test_verification_off_is_still_off(https_url: str) -> None:
    async with HttpCore(verify=False) as http:
        assert await http.get_json(https_url + "/", provider="t") == {"hello": "world"}


async def test_a_proxy_in_the_environment_keeps_httpx_own_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    # httpx reads proxies from the environment only when it makes the transport itself.
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    async with HttpCore() as http:
        assert isinstance(http.client._transport, httpx.AsyncHTTPTransport)
        assert any(transport is not None for transport in http.client._mounts.values())
