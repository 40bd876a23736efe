"""The exact HTTP request an action will send, for people to read and copy.

A ``RequestPreview`` is an immutable snapshot of an ``httpx.Request``: method,
URL, headers in order, and the body bytes. ``masked()`` hides every secret
(see ``masking``) and ``to_curl()`` renders a command line that can be pasted
into a POSIX shell.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

from workbench.core.masking import mask_body, mask_header, mask_text, mask_url

#: Headers a curl command line leaves out: curl sets them itself, and copying
#: them verbatim (a stale Content-Length, a compressed Accept-Encoding) breaks
#: the command.
_CURL_SKIPPED_HEADERS = frozenset({"host", "content-length", "accept-encoding", "connection"})


def header_pairs(headers: httpx.Headers) -> tuple[tuple[str, str], ...]:
    """Header pairs as sent: names in their original case, order kept."""
    encoding = headers.encoding
    return tuple((name.decode(encoding), value.decode(encoding)) for name, value in headers.raw)


@dataclass(frozen=True, slots=True)
class RequestPreview:
    method: str
    url: str
    #: Header pairs in the order they are sent; duplicates are kept.
    headers: tuple[tuple[str, str], ...] = ()
    #: The body as sent, None when there is none (or it is a stream not read yet).
    body: bytes | None = None
    #: True once secrets have been masked (``masked()`` is then a no-op).
    is_masked: bool = field(default=False, compare=False)

    # -- construction ----------------------------------------------------------
    @classmethod
    def from_httpx(cls, request: httpx.Request) -> RequestPreview:
        """A snapshot of ``request`` (not masked: call ``masked()`` before showing it)."""
        try:
            body = request.content or None
        except httpx.RequestNotRead:
            body = None  # a streamed upload: its bytes are not ours to read
        headers = header_pairs(request.headers)
        return cls(method=request.method, url=str(request.url), headers=headers, body=body)

    # -- views -----------------------------------------------------------------
    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), else None."""
        lower = name.lower()
        for key, value in self.headers:
            if key.lower() == lower:
                return value
        return None

    @property
    def content_type(self) -> str:
        return self.header("content-type") or ""

    @property
    def text(self) -> str | None:
        """The body as text, None when there is no body or it is binary."""
        if self.body is None:
            return None
        try:
            return self.body.decode("utf-8")
        except UnicodeDecodeError:
            return None

    @property
    def json(self) -> Any:
        """The body parsed as JSON, None when there is no body or it is not JSON."""
        text = self.text
        if text is None:
            return None
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return None

    # -- masking and export ----------------------------------------------------
    def masked(self, secrets: Iterable[str] = ()) -> RequestPreview:
        """A copy with every credential masked: auth headers, secret query
        parameters, secret body fields and any of ``secrets`` found by value."""
        if self.is_masked:
            return self
        secrets = list(secrets)
        headers = tuple((name, mask_text(mask_header(name, value), secrets)) for name, value in self.headers)
        return replace(
            self,
            url=mask_text(mask_url(self.url), secrets),
            headers=headers,
            body=mask_body(self.body, self.content_type, secrets),
            is_masked=True,
        )

    def to_curl(self, *, secrets: Iterable[str] = (), multiline: bool = False) -> str:
        """A ``curl`` command line for this request, secrets masked.

        Every argument is quoted with ``shlex.quote`` so the command survives
        any character in the URL, headers or body. A binary body cannot be
        written on a command line: it is referenced as ``@body.bin``.
        """
        preview = self.masked(secrets)
        args = ["curl"]
        has_body = preview.body is not None
        if preview.method == "HEAD":
            args.append("--head")
        elif preview.method != "GET" or has_body:
            args += ["-X", preview.method]
        if any(c in preview.url for c in "[]{}"):
            args.append("--globoff")
        args.append(preview.url)
        host = httpx.URL(preview.url).netloc.decode("ascii", "replace") if "://" in preview.url else ""
        for name, value in preview.headers:
            lower = name.lower()
            if lower in _CURL_SKIPPED_HEADERS and not (lower == "host" and value != host):
                continue
            args += ["-H", f"{name}: {value}"]
        note = ""
        if has_body:
            text = preview.text
            if text is None:
                args += ["--data-binary", "@body.bin"]
                note = f"  # the body is {len(preview.body or b'')} bytes of binary data: save them as body.bin"
            else:
                args += ["--data-raw", text]
        quoted = [shlex.quote(arg) for arg in args]
        if multiline:
            # one option (with its value) per line
            lines: list[str] = [" ".join(quoted[:1])]
            i = 1
            while i < len(quoted):
                if args[i].startswith("-") and args[i] not in ("--head", "--globoff") and i + 1 < len(quoted):
                    lines.append(f"{quoted[i]} {quoted[i + 1]}")
                    i += 2
                else:
                    lines.append(quoted[i])
                    i += 1
            return " \\\n  ".join(lines) + note
        return " ".join(quoted) + note

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for ``--dry-run --json`` and the inspector), masked."""
        preview = self.masked()
        body: Any = None
        if preview.body is not None:
            body = preview.json if preview.json is not None else preview.text
            if body is None:
                body = f"<{len(preview.body)} bytes of binary data>"
        return {
            "method": preview.method,
            "url": preview.url,
            "headers": [list(pair) for pair in preview.headers],
            "body": body,
        }

    def __str__(self) -> str:
        preview = self.masked()
        lines = [f"{preview.method} {preview.url}"]
        lines += [f"{name}: {value}" for name, value in preview.headers]
        if preview.body is not None:
            lines.append("")
            lines.append(preview.text if preview.text is not None else f"<{len(preview.body)} bytes of binary data>")
        return "\n".join(lines)


__all__ = ["RequestPreview", "header_pairs"]
