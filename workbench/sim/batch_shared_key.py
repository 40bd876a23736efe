"""Batch's Shared Key scheme: the canonical string a request's signature
covers, and the signature (HMAC-SHA256 with the base64 account key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

# The standard headers of the string to sign, in order (Batch's Shared Key scheme).
SIGNED_HEADERS = (
    "content-encoding", "content-language", "content-length", "content-md5", "content-type", "date",
    "if-modified-since", "if-match", "if-none-match", "if-unmodified-since", "range",
)


def string_to_sign(method: str, headers: dict[str, str], path: str, query: Sequence[tuple[str, str]],
                   account: str, *, lowercase_names: bool = True) -> str:
    """The canonical string a Shared Key signature covers.

    ``headers`` has lower-case names. ``query`` holds the URL-decoded parameters.
    With ``lowercase_names`` the request is canonicalised as the Batch
    authentication reference says (parameter names lower-cased and sorted,
    repeated values sorted and comma-joined, Date blank when ocp-date is set);
    without, names are kept as sent and the first value is used, which is what
    the azure-batch SDKs sign (15.x sends ``timeOut``).
    """
    lines = [method.upper()]
    # The reference: "If you set ocp-date, construct the signature with an empty
    # value for the Date header." (The SDKs sign whatever headers they send.)
    blank_date = lowercase_names and "ocp-date" in headers
    lines.extend("" if name == "date" and blank_date else headers.get(name, "") for name in SIGNED_HEADERS)
    ocp = sorted((name, value.strip()) for name, value in headers.items() if name.startswith("ocp-") and value)
    text = "\n".join(lines) + "\n" + "".join(f"{name}:{value}\n" for name, value in ocp)
    text += f"/{account}{path}"
    grouped: dict[str, list[str]] = {}
    for name, value in query:
        grouped.setdefault(name.lower() if lowercase_names else name, []).append(value)
    for name in sorted(grouped):
        values = [v for v in grouped[name] if v]
        if not values:
            continue
        text += f"\n{name}:" + (",".join(sorted(values)) if lowercase_names else values[0])
    return text


def sign(key: str, text: str) -> str:
    """Base64 of HMAC-SHA256 over ``text`` with the (base64) account key."""
    digest = hmac.new(base64.b64decode(key), text.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


__all__ = ["SIGNED_HEADERS", "sign", "string_to_sign"]
