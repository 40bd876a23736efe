"""Glance's errors: webob's pages, negotiated on ``Accept`` exactly as Glance does.

JSON ``{"message", "code", "title"}`` for ``application/json``, HTML for
``*/*`` and ``text/html``, plain text when there is no ``Accept`` header.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Callable

from starlette.requests import Request
from starlette.responses import Response

#: status -> (webob title, webob explanation)
_STATUS = {
    400: ("Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."),
    401: ("Unauthorized", "This server could not verify that you are authorized to access the document you requested."),
    403: ("Forbidden", "Access was denied to this resource."),
    404: ("Not Found", "The resource could not be found."),
    405: ("Method Not Allowed", "The method is not allowed for this resource."),
    409: ("Conflict", "There was a conflict when trying to complete your request."),
    410: ("Gone", "This resource is no longer available.  No forwarding address is given."),
    413: ("Request Entity Too Large", "The request is larger than the server is willing or able to process."),
    415: ("Unsupported Media Type", "The request media type is not supported by this server."),
    429: ("Too Many Requests", "The client has sent too many requests in a given amount of time."),
    500: ("Internal Server Error", "The server has either erred or is incapable of performing the requested operation."),
    503: ("Service Unavailable", "The server is currently unavailable. Please try again at a later time."),
}


class GlanceError(Exception):
    """An HTTP error as Glance raises it: webob's ``explanation`` and ``detail``."""

    def __init__(self, status: int, explanation: str | None = None, detail: str = "",
                 headers: dict[str, str] | None = None, body: str | None = None) -> None:
        super().__init__(explanation or detail)
        self.status = status
        self.explanation = explanation if explanation is not None else _STATUS[status][1]
        self.detail = detail
        self.headers = headers or {}
        self.body = body  # a non-default webob template, already filled in (415, 405)

    def message(self, escape: Callable[[str], str]) -> str:
        if self.body is not None:
            return self.body
        return f"{escape(self.explanation)}<br /><br />\n{escape(self.detail)}\n\n"


def unsupported_media_type(content_type: str | None, detail: str, headers: dict[str, str] | None = None) -> GlanceError:
    # webob fills the media type from the environ, or leaves the template variable.
    shown = content_type or "${CONTENT_TYPE}"
    body = f"The request media type {shown} is not supported by this server.\n<br /><br />\n{detail}"
    return GlanceError(415, detail=detail, headers=headers, body=body)


def _accepted_type(accept: str | None) -> str:
    """Which page webob renders: 'html', 'json', or 'plain' (no acceptable offer)."""
    if not accept or not accept.strip():
        return "plain"
    best: dict[str, tuple[float, int]] = {}
    for raw in accept.split(","):
        parts = [p.strip() for p in raw.split(";")]
        media = parts[0].lower()
        q = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for offer in ("text/html", "application/json"):
            kind = offer.partition("/")[0]
            specificity = 3 if media == offer else 2 if media == f"{kind}/*" else 1 if media == "*/*" else 0
            if specificity and specificity > best.get(offer, (0.0, 0))[1]:
                best[offer] = (q, specificity)
    ranked = [(q, -order, offer) for order, offer in enumerate(("text/html", "application/json"))
              if (q := best.get(offer, (0.0, 0))[0]) > 0]
    if not ranked:
        return "plain"
    return {"text/html": "html", "application/json": "json"}[max(ranked)[2]]


_BR = re.compile(r"<br.*?>", re.I | re.S)
_TAG = re.compile(r"<.*?>", re.S)


def render_glance_error(request: Request, error: GlanceError) -> Response:
    title, _ = _STATUS.get(error.status, ("Error", ""))
    status_line = f"{error.status} {title}"
    kind = _accepted_type(request.headers.get("accept"))
    headers = {**error.headers, "x-openstack-request-id": request_id()}
    if kind == "json":
        body = json.dumps({"message": error.message(str), "code": status_line, "title": title})
        return Response(body, error.status, headers=headers, media_type="application/json")
    if kind == "html":
        text = (f"<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n  <h1>{status_line}</h1>\n"
                f"  {error.message(html.escape)}\n </body>\n</html>")
        return Response(text, error.status, headers=headers, media_type="text/html; charset=UTF-8")
    plain = _TAG.sub("", _BR.sub("\n", error.message(str).replace("\n", " ").replace("\r", "")))
    return Response(f"{status_line}\n\n{plain}", error.status, headers=headers, media_type="text/plain; charset=UTF-8")


def request_id() -> str:
    """A fresh ``x-openstack-request-id`` value."""
    return f"req-{uuid.uuid4()}"


__all__ = ["GlanceError", "render_glance_error", "request_id", "unsupported_media_type"]
