"""Azure Batch Shared Key authentication.

``Authorization: SharedKey {account}:{signature}``, where the signature is the
base64 HMAC-SHA256, keyed with the base64-decoded account key, of this string
(the Batch service's "Authenticate requests" reference, which the service
verifies, and the azure-batch SDK's ``BatchSharedKeyAuthPolicy`` computes)::

    VERB\n
    Content-Encoding\n Content-Language\n Content-Length\n Content-MD5\n
    Content-Type\n Date\n If-Modified-Since\n If-Match\n If-None-Match\n
    If-Unmodified-Since\n Range\n
    ocp-* headers: "name:value\n" each, names lower-cased, sorted, values trimmed
    /{account}{encoded path}
    "\n{name}:{value}" per query parameter: names lower-cased and sorted,
    values URL-decoded, several values of one name sorted and comma-joined

The ``Date`` line is empty because every request carries ``ocp-date``
(set afresh for every attempt, so a retry after a long wait is still inside
the service's 15-minute window). Headers that are absent sign as empty lines.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from urllib.parse import parse_qsl

import httpx

from workbench.core.auth import Auth
from workbench.core.masking import MASK

#: The standard headers of the string to sign, in the order they are signed.
SIGNED_HEADERS = (
    "content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
    "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range",
)


def ocp_date(now: float | None = None) -> str:
    """An RFC 1123 date in GMT, as ``ocp-date`` carries it."""
    return formatdate(time.time() if now is None else now, usegmt=True)


def string_to_sign(request: httpx.Request, account_name: str) -> str:
    """The canonical string of ``request`` that the signature covers."""
    headers = request.headers
    lines = [request.method.upper()]
    ocp_date_set = bool(headers.get("ocp-date"))
    for name in SIGNED_HEADERS:
        # "If you set ocp-date, construct the signature with an empty value for the Date header."
        lines.append("" if name == "date" and ocp_date_set else headers.get(name, ""))
    text = "\n".join(lines) + "\n"
    ocp = sorted((name.lower(), value.strip()) for name, value in headers.items()
                 if name.lower().startswith("ocp-") and value.strip())
    text += "".join(f"{name}:{value}\n" for name, value in ocp)
    raw_path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
    text += f"/{account_name}{raw_path}"
    grouped: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True):
        grouped.setdefault(name.lower(), []).append(value)
    for name in sorted(grouped):
        values = sorted(value for value in grouped[name] if value)
        if values:  # a parameter without a value is not signed
            text += f"\n{name}:{','.join(values)}"
    return text


class BatchSharedKey(Auth):
    """Signs every attempt of every request with the account key.

    ``account_key`` is the base64 key from the portal (``az batch account
    keys list``); a key that is not base64 is refused at once.
    """

    def __init__(self, account_name: str, account_key: str, *, clock: Callable[[], float] = time.time) -> None:
        if not account_name or not account_name.strip():
            raise ValueError("account_name: required for Shared Key authentication")
        if not account_key or not account_key.strip():
            raise ValueError("account_key: required for Shared Key authentication")
        try:
            self._key = base64.b64decode(account_key.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("account_key: not a base64 Batch account key (copy the primary or secondary key "
                             "as shown by the portal)") from None
        self.account_name = account_name.strip()
        self._account_key = account_key
        self._clock = clock
        # Signatures are valid for 15 minutes for the request they sign: the
        # service echoes them in 403 messages, so recent ones are scrubbed too.
        self._recent: deque[str] = deque(maxlen=32)

    def sign(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode("utf-8"), hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    async def apply(self, request: httpx.Request) -> None:
        request.headers["ocp-date"] = ocp_date(self._clock())
        signature = self.sign(string_to_sign(request, self.account_name))
        self._recent.append(signature)
        request.headers["Authorization"] = f"SharedKey {self.account_name}:{signature}"

    def secrets(self) -> list[str]:
        return [self._account_key, *self._recent]

    def preview_headers(self) -> dict[str, str]:
        return {"Authorization": f"SharedKey {self.account_name}:{MASK}"}

    def __repr__(self) -> str:
        return f"BatchSharedKey(account_name={self.account_name!r})"


__all__ = ["BatchSharedKey", "SIGNED_HEADERS", "ocp_date", "string_to_sign"]
