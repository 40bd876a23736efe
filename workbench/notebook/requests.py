"""A request built for one profile, not sent yet, and the exact HTTP it would send."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from workbench.notebook.render import card, esc

if TYPE_CHECKING:
    from workbench.core.preview import RequestPreview
    from workbench.notebook.cloud import Cloud
    from workbench.providers.base import ApiRequest


class RequestView:
    """The exact HTTP request a ``Request`` would send, secrets masked: method, URL,
    headers, body, and the same as a ``curl`` command line."""

    def __init__(self, preview: RequestPreview, summary: str = "") -> None:
        self.preview = preview.masked()
        self.summary = summary

    @property
    def method(self) -> str:
        return self.preview.method

    @property
    def url(self) -> str:
        return self.preview.url

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.preview.headers)

    @property
    def body(self) -> Any:
        """The body: parsed JSON, else text, else None."""
        data = self.preview.json
        return data if data is not None else self.preview.text

    def curl(self, *, multiline: bool = True) -> str:
        return self.preview.to_curl(multiline=multiline)

    def to_dict(self) -> dict[str, Any]:
        return {"summary": self.summary, **self.preview.to_dict(), "curl": self.curl(multiline=False)}

    def _http_text(self) -> str:
        p = self.preview
        lines = [f"{p.method} {p.url}", *(f"{name}: {value}" for name, value in p.headers)]
        if p.body is not None:
            data = p.json
            lines += ["", json.dumps(data, ensure_ascii=False, indent=2) if data is not None
                      else (p.text if p.text is not None else f"<{len(p.body)} bytes of binary data>")]
        return "\n".join(lines)

    def __str__(self) -> str:
        head = [self.summary, ""] if self.summary else []
        return "\n".join([*head, self._http_text(), "", "# as curl:", self.curl()])

    def __repr__(self) -> str:
        return f"<RequestView {self.method} {self.url}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))

    def _repr_html_(self) -> str:
        head = f"<div><b>{esc(self.summary)}</b></div>" if self.summary else ""
        return card(f"{head}<pre>{esc(self._http_text())}</pre>"
                     f"<details><summary>as curl</summary><pre>{esc(self.curl())}</pre></details>")


class Request:
    """A typed request built for one profile, not sent yet.

    Displaying it shows the exact HTTP request (``preview()``); ``curl()`` gives
    it as a command line; ``send()`` / ``await send_async()`` send it.
    ``api_request`` is the provider's pydantic request model.
    """

    def __init__(self, cloud: Cloud, api_request: ApiRequest) -> None:
        self.cloud = cloud
        self.api_request = api_request

    @property
    def summary(self) -> str:
        return self.api_request.summary()

    @property
    def destructive(self) -> bool:
        return bool(getattr(self.api_request, "destructive", False))

    def preview(self) -> RequestView:
        return self.cloud.preview(self)

    def curl(self, *, multiline: bool = True) -> str:
        return self.preview().curl(multiline=multiline)

    def send(self, *, wait: bool = True, timeout: float | None = None, display: bool | None = None,
             check: bool = True) -> Any:
        """Send it: see ``Cloud.send``."""
        return self.cloud.send(self, wait=wait, timeout=timeout, display=display, check=check)

    async def send_async(self, *, wait: bool = True, timeout: float | None = None, display: bool | None = None,
                         check: bool = True) -> Any:
        return await self.cloud.send_async(self, wait=wait, timeout=timeout, display=display, check=check)

    def __repr__(self) -> str:
        return f"<Request {self.cloud.name}: {self.summary}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self.preview()))

    def _repr_html_(self) -> str:
        return self.preview()._repr_html_()
